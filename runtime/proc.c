/*
 * proc.c - the life of a P (logical processor): made, retired, freed, and
 * the caches it carries.
 *
 * What. A P is the right to run task code, plus everything that is cheap
 * because only its owner touches it: the run queue (deque and runnext), a
 * timer heap, a trace buffer, and caches of stacks, task descriptors and
 * task ids. There are nprocs of them: WEFT_PROCS at start, then whatever
 * weft_set_procs() asks for. sched.c hands Ps from M to M; this file is
 * where they begin and end.
 *
 * Life:
 *   made     weft__p_new: zeroed, cache-line aligned, a deque of 256
 *            slots, status STOPPED. At start (weft__procs_init) every P
 *            goes idle, the last first, so that P0 is taken first.
 *            weft_set_procs makes the missing ones with the world stopped,
 *            or revives a DEAD one (its memory was kept).
 *   in use   IDLE, RUNNING, SYSCALL, STOPPED as sched.c, syscall.c and
 *            stw.c move it (enum weft__pstatus in internal.h).
 *   retired  weft_set_procs shrinking, world stopped (p_retire): its queued
 *            tasks go to the global queue, its timers to P0, its stacks to
 *            the global stack cache, its descriptors to the global free
 *            list; status DEAD. The caller's own P, if retired, is swapped
 *            for P0 on the spot.
 *   freed    weft__procs_free, at the end of weft_main() with no M left:
 *            cached stacks unmapped, deque and timer heap freed, the P too.
 *
 * The caches (owner only, no atomics), who fills them and who drains them:
 *   p->stacks   sched.c: a dead task's stack goes in, a first run takes one
 *               out, WEFT__STACK_CACHE at most (the rest go to stack.c's
 *               global cache). Drained here: to the global cache at
 *               retire, unmapped at free. Sizes are stack.h's.
 *   p->tfree    tasks.c: descriptors, half spilled to the global list past
 *               WEFT__TFREE_MAX. Drained here at retire; at free there is
 *               nothing to do, the descriptors go with tasks.c's slabs.
 *   p->id_next  tasks.c: task ids taken from the global counter in
 *               batches. A retired P's unused ids are dropped: ids must be
 *               unique, not dense.
 *   timers, tbuf, tkeys   owned by timer.c and trace.c; timer.c moves and
 *               frees the heap when called from here.
 *
 * Invariants:
 *   - S.allp[i] (i < pcount) is not freed while the runtime runs: a thief
 *     or sysmon may read any allp[i] below nprocs without a lock, and an M
 *     in a syscall still points at the P it entered with (m->oldp), which
 *     weft_set_procs may have retired meanwhile.
 *   - nprocs changes only with the world stopped, and is stored with
 *     release after the new Ps are in allp (readers load it with acquire).
 *   - A DEAD P has no M, an empty run queue, no timers and empty caches.
 *
 * Rejected:
 *   - Freeing a P when the count shrinks: the M in a syscall above, and a
 *     thief that read the old nprocs (Go's procresize keeps its Ps for the
 *     first reason: "can't free P itself because it can be referenced by
 *     an M in syscall").
 *   - Keeping a retired P's caches on it: its stacks and descriptors would
 *     sit unused until the count grows again, while the other Ps map new
 *     ones.
 *   - A static array of WEFT_MAX_PROCS Ps instead of pointers: hundreds of
 *     kilobytes for Ps that mostly never exist.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "trace_emit.h"
#include "stack.h"
#include "timer.h"

#define S weft__sched

/* A new P, stopped, with an empty deque (its cache lines aligned). */
struct weft__p *weft__p_new(int id)
{
	size_t size = (sizeof(struct weft__p) + 63) & ~(size_t)63;
	struct weft__p *p = aligned_alloc(64, size);

	if (!p)
		return NULL;
	memset(p, 0, size);
	if (weft__deque_init(&p->rq, 8) != 0) {
		free(p);
		return NULL;
	}
	p->id = id;
	atomic_store_explicit(&p->status, WEFT__P_STOPPED, memory_order_relaxed);
	return p;
}

int weft__procs_init(int nprocs)
{
	for (int i = 0; i < nprocs; i++) {
		struct weft__p *p = weft__p_new(i);
		if (!p)
			return -ENOMEM;
		S.allp[i] = p;
		S.pcount++;
	}
	atomic_store(&S.nprocs, nprocs);
	/* Ps go idle from the last so that P0 is taken first. No M exists
	 * yet; the lock is taken because pidleput's rule says so. */
	weft__sched_lock();
	for (int i = nprocs - 1; i >= 0; i--)
		weft__pidleput(S.allp[i]);
	weft__sched_unlock();
	return 0;
}

/* World stopped: give @p's queued tasks and caches to the others. */
static void p_retire(struct weft__p *p)
{
	WEFT__ASSERT(weft__world_stopped());
	weft__move_p_work_to_global(p);
	weft__timers_move(p, S.allp[0]);
	while (p->nstacks > 0) {
		struct weft__stack s = { p->stacks[--p->nstacks],
					 weft__stack_map_size(S.stack_size) };
		weft__stack_global_put(&s);
	}
	while (p->tfree) {
		struct weft__task *t = p->tfree;
		p->tfree = t->link;
		p->ntfree--;
		weft__task_free(NULL, t);
	}
	p->m = NULL;
	atomic_store(&p->status, WEFT__P_DEAD);
}

void weft__procs_free(void)
{
	for (int i = 0; i < S.pcount; i++) {
		struct weft__p *p = S.allp[i];
		if (!p)
			continue;
		while (p->nstacks > 0) {
			struct weft__stack s = { p->stacks[--p->nstacks],
						 weft__stack_map_size(S.stack_size) };
			weft__stack_unmap(&s);
		}
		weft__deque_destroy(&p->rq);
		weft__timers_free(p);
		free(p);
		S.allp[i] = NULL;
	}
	S.pcount = 0;
}

/* ---- public API ------------------------------------------------------------ */

WEFT_API int weft_procs(void)
{
	return atomic_load(&S.running) ? atomic_load(&S.nprocs) : 0;
}

WEFT_API int weft_set_procs(int n)
{
	struct weft__m *m = weft__getm();
	int old, err = 0;

	if (!m || !m->curg || n < 1 || n > WEFT_MAX_PROCS)
		return -EINVAL;
	weft__stw_forbid("weft_set_procs");
	weft_stop_the_world("set_procs");
	m = weft__getm();
	old = atomic_load(&S.nprocs);
	for (int i = old; i < n; i++) {
		struct weft__p *p = S.allp[i];
		if (!p) {
			p = weft__p_new(i);
			if (!p) {
				err = -ENOMEM;
				n = i;
				break;
			}
			S.allp[i] = p;
			S.pcount++;
		}
		atomic_store(&p->status, WEFT__P_STOPPED);
	}
	for (int i = n; i < old; i++)
		if (S.allp[i] != m->p)
			p_retire(S.allp[i]);
	if (m->p->id >= n) {
		struct weft__p *mine = m->p;
		struct weft__p *p0 = S.allp[0];
		/* The caller moves to P0: in the trace it leaves its P as if it
		 * yielded, and starts again on P0. */
		WEFT__TRACE(mine, TASK_YIELD, 1, m->curg->id, 0, 0);
		p_retire(mine);
		weft__acquirep(m, p0);
		WEFT__TRACE_START(p0, m->curg);
	}
	/* Publish the new Ps before the count (readers load it with acquire). */
	atomic_store_explicit(&S.nprocs, n, memory_order_release);
	if (atomic_load_explicit(&weft__trace_on, memory_order_relaxed))
		weft__trace_add_procs(n);
	weft_start_the_world();
	return err ? err : old;
}

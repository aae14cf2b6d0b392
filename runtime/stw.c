/*
 * stw.c - stopping the world and safepoints.
 *
 * What. weft_stop_the_world() returns once every other P is parked at a
 * scheduling point; nothing but the caller runs until
 * weft_start_the_world(). weft_set_procs() (proc.c) and the tracer's start
 * use it, as Go's GC and GOMAXPROCS changes do.
 *
 * Protocol (sched.lock orders the bookkeeping):
 *   1. The stopper wins stw_owner (one stop at a time; a second stopper
 *      parks at its safepoint until the first is over, then retries).
 *   2. Under the lock it sets WEFT__SP_STOP in weft__safepoint_pending, sets
 *      stopwait = nprocs - 1, stops every idle P and every P in a syscall
 *      (CAS SYSCALL -> STOPPED: the M in the kernel finds its P gone at
 *      weft_syscall_exit and waits for a P there).
 *   3. Every running P notices the bit at its next scheduling point (the
 *      direct switch in schedule_away falls through to g0 when the bit is
 *      set) or weft_safepoint(), marks itself STOPPED, decrements stopwait
 *      and parks its M. The last one wakes the stopper (futex stopnote).
 *      A P entering a syscall while the bit is set stops itself the same
 *      way (seq_cst on both sides: the stopper stores the bit then reads
 *      the statuses, the P stores SYSCALL then reads the bit).
 *   4. weft_start_the_world() clears the bit and gives each stopped P with
 *      queued work an M; the others go idle.
 * The time from 1 to the last stop is the "pause" the tracer reports; a
 * task computing without a safepoint makes it long, and that is the point
 * of measuring it (stw_last_wait_ns).
 *
 * Invariant: while the world is stopped, every P but the stopper's is
 * STOPPED or DEAD, no M holds one, and no thief runs (a thief needs a P).
 *
 * Misuse. The stopper must not park (a channel, a mutex, a wait group,
 * weft_sleep...): its P would be stopped under it and nothing would ever
 * run again. weft__park refuses, and so do a nested stop,
 * weft_set_procs and weft_trace_start: each is a fatal error naming the
 * call (weft__stw_forbid), never a silent hang. A marked syscall is
 * allowed - writing a snapshot of the stopped program is what a stop is
 * for - and keeps its P (syscall.c): nobody else could use it.
 *
 * Rejected: signalling threads to stop them at any instruction (Go's async
 * preemption) - C code between two instructions is not at a point where
 * its state can be inspected or its locks known.
 */
#include "config.h"

#include <string.h>

#include "internal.h"
#include "os.h"
#include "rcu.h"
#include "trace_emit.h"

#define S weft__sched

/* The task holding the world stopped: written under the sched lock, read
 * without it (relaxed) by safepoints and the misuse checks. */
static _Atomic(struct weft__task *) stw_task;

/*
 * The caller is the task holding the world stopped (from the moment it
 * set stw_task in weft_stop_the_world until weft_start_the_world). Read
 * without the lock: the stopper reads its own write; any other caller
 * reads something that is not its task either way.
 */
bool weft__world_stopped(void)
{
	struct weft__m *m = weft__getm();

	return m && m->curg && m->curg == atomic_load_explicit(&stw_task, memory_order_relaxed);
}

void weft__stw_forbid(const char *call)
{
	if (__builtin_expect(weft__world_stopped(), 0))
		weft__fatal("%s while the world is stopped (by weft_stop_the_world in this task): "
			    "it would wait for ever for a P that cannot run; call "
			    "weft_start_the_world first",
			    call);
}

/* g0 of @m, holding m->p, WEFT__SP_STOP set: stop this P and park the M. */
void weft__stw_participate(struct weft__m *m)
{
	struct weft__p *p = m->p;

	WEFT__ASSERT(m == weft__getm() && !m->curg && weft__owns(p));
	weft__sched_lock();
	if (!(atomic_load(&weft__safepoint_pending) & WEFT__SP_STOP) || atomic_load(&S.shutdown)) {
		weft__sched_unlock();
		return;
	}
	m->p = NULL;
	p->m = NULL;
	atomic_store(&p->status, WEFT__P_STOPPED);
	if (--S.stopwait == 0) {
		atomic_store(&S.stopnote, 1);
		weft__futex_wake(&S.stopnote, 1);
	}
	weft__sched_unlock();
	if (m->spinning) {
		m->spinning = false;
		atomic_fetch_sub(&S.nmspinning, 1);
	}
	weft__stopm(m);
}

WEFT_API void weft_safepoint(void)
{
	if (__builtin_expect(!atomic_load_explicit(&weft__safepoint_pending, memory_order_relaxed),
			     1))
		return;
	weft__safepoint_slow();
}

void weft__safepoint_slow(void)
{
	struct weft__m *m = weft__getm();
	struct weft__task *t;
	int pending = atomic_load(&weft__safepoint_pending);

	if (!m || !(t = m->curg))
		return;
	if (pending & WEFT__SP_STOP) {
		if (t == atomic_load_explicit(&stw_task, memory_order_relaxed))
			return; /* the stopper itself keeps running */
		if (atomic_load(&S.shutdown)) {
			/* weft_main is ending: this task is abandoned here. */
			weft__mcall(m, WEFT__A_NONE, NULL, NULL);
			weft__throw("a task abandoned at shutdown was resumed");
		}
		atomic_store_explicit(&t->status, WEFT__T_RUNNABLE, memory_order_relaxed);
		/* Preempted for the stop: it stays runnable, as after a yield. */
		WEFT__TRACE_SWITCH(m->p, TASK_YIELD, 1, t->id, 0, 0, 0);
		weft__mcall(m, WEFT__A_REQUEUE, NULL, NULL);
		return;
	}
	if (pending & WEFT__SP_RCU)
		weft__rcu_quiescent(&m->rcu); /* a trace stop waits for us (rcu.c) */
	if ((pending & WEFT__SP_PREEMPT) && m->p &&
	    atomic_load_explicit(&m->p->preempt, memory_order_relaxed))
		weft_yield();
}

WEFT_API void weft_stop_the_world(const char *reason)
{
	struct weft__m *m = weft__getm();
	struct weft__p *p, *mine;
	int64_t t0;
	int n;

	if (!m || !m->curg)
		return;
	weft__stw_forbid("weft_stop_the_world (nested)");
	for (;;) {
		int zero = 0;
		if (atomic_compare_exchange_strong(&S.stw_owner, &zero, 1))
			break;
		/* Someone else is stopping the world: be stopped, then retry. */
		weft__safepoint_slow();
		m = weft__getm();
		sched_yield();
	}
	t0 = weft__nanotime();
	/* Recorded when asked for: the pause is STW_BEGIN to STW_END, and
	 * STW_END says how much of it was spent waiting for the Ps. */
	WEFT__TRACE(weft__trace_p(m), STW_BEGIN, 1,
		    !reason ? WEFT_TRACE_STW_USER
		    : strcmp(reason, "set_procs") == 0 ? WEFT_TRACE_STW_SET_PROCS
		    : strcmp(reason, "trace") == 0 ? WEFT_TRACE_STW_TRACE : WEFT_TRACE_STW_USER, 0, 0);
	mine = m->p;
	weft__sched_lock();
	atomic_store_explicit(&stw_task, m->curg, memory_order_relaxed);
	S.stw_reason = reason ? reason : "user";
	n = atomic_load(&S.nprocs);
	S.stopwait = n - 1;
	atomic_fetch_or(&weft__safepoint_pending, WEFT__SP_STOP);
	while ((p = weft__pidleget())) {
		atomic_store(&p->status, WEFT__P_STOPPED);
		S.stopwait--;
	}
	for (int i = 0; i < n; i++) {
		int s = WEFT__P_SYSCALL;
		p = S.allp[i];
		if (p != mine && atomic_compare_exchange_strong(&p->status, &s, WEFT__P_STOPPED))
			S.stopwait--;
	}
	while (S.stopwait > 0) {
		atomic_store(&S.stopnote, 0);
		weft__sched_unlock();
		/* Offline: a P we wait for may be held by a trace stop that
		 * waits for a grace period (rcu.c). */
		weft__rcu_offline();
		weft__futex_wait(&S.stopnote, 0, -1);
		weft__rcu_online();
		weft__sched_lock();
	}
	weft__sched_unlock();
	atomic_store(&S.stw_last_wait_ns, weft__nanotime() - t0);
	atomic_fetch_add(&S.stw_count, 1);
}

WEFT_API void weft_start_the_world(void)
{
	struct weft__m *m = weft__getm();
	struct weft__p *start[WEFT_MAX_PROCS];
	int nstart = 0, n;

	if (!m || !m->curg)
		return;
	if (atomic_load_explicit(&stw_task, memory_order_relaxed) != m->curg)
		weft__fatal("weft_start_the_world called by task %llu, which did not stop it",
			    (unsigned long long)m->curg->id);
	WEFT__TRACE(weft__trace_p(m), STW_END, 1, atomic_load(&S.stw_last_wait_ns), 0, 0);
	weft__sched_lock();
	atomic_store_explicit(&stw_task, NULL, memory_order_relaxed);
	atomic_fetch_and(&weft__safepoint_pending, ~WEFT__SP_STOP);
	n = atomic_load(&S.nprocs);
	for (int i = 0; i < n; i++) {
		struct weft__p *p = S.allp[i];
		if (p == m->p || atomic_load(&p->status) != WEFT__P_STOPPED)
			continue;
		if (weft__p_has_work(p)) {
			atomic_store(&p->status, WEFT__P_RUNNING);
			start[nstart++] = p;
		} else {
			weft__pidleput(p);
		}
	}
	weft__sched_unlock();
	for (int i = 0; i < nstart; i++)
		weft__startm(start[i], false);
	atomic_store(&S.stw_owner, 0);
	weft__wakep();
}

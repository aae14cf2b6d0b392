/*
 * syscall.c - handing a P off while its task blocks in the kernel.
 *
 * weft_syscall_enter() leaves the P attached to the M but marks it
 * P_SYSCALL: from then on, anyone may take it with a CAS from SYSCALL - the
 * monitor thread when the call lasts (sysmon.c), or a stop-the-world.
 * weft_syscall_exit() tries the reverse CAS; if it wins (the common, short
 * call) nothing else happened and the task simply goes on: two stores and
 * a CAS, no lock. Nothing else, unless the P's syscall tick moved: then
 * the P was handed off and is in another task's syscall now, and the CAS
 * took it from that one (retook(), below). If it loses, the task looks for an idle P; failing that
 * it queues itself on the global run queue and its M parks.
 *
 * So a task blocked in read() costs its P only ~20 us, and a short call
 * costs no handoff at all (Go's entersyscall/exitsyscall fast paths, with
 * sysmon's retake doing the slow work).
 *
 * Shutdown: a task still in a syscall when weft_main() ends is abandoned.
 * weft_main() CASes m->sys IN -> ABANDONED and gives the M ownership of the
 * task's stack and of itself; the exit below then frees both from g0 and
 * ends the thread without touching scheduler state, which may already
 * belong to a later weft_main().
 */
#include "config.h"

#include "internal.h"
#include "os.h"
#include "rcu.h"
#include "trace_emit.h"

#define S weft__sched

/* The world is stopping or the runtime ending while we entered. */
static void enter_while_pending(struct weft__p *p)
{
	int s = WEFT__P_SYSCALL;

	if (atomic_load(&S.shutdown))
		return; /* handled once m->sys is set, below */
	weft__sched_lock();
	if ((atomic_load(&weft__safepoint_pending) & WEFT__SP_STOP) &&
	    atomic_compare_exchange_strong(&p->status, &s, WEFT__P_STOPPED)) {
		if (--S.stopwait == 0) {
			atomic_store(&S.stopnote, 1);
			weft__futex_wake(&S.stopnote, 1);
		}
	}
	weft__sched_unlock();
}

WEFT_API void weft_syscall_enter(void)
{
	weft__syscall_enter_at(__builtin_return_address(0));
}

/* weft_syscall_enter recording @site as the call site (the netpoller's
 * file reads and name lookups record their caller's). */
void weft__syscall_enter_at(const void *site)
{
	struct weft__m *m = weft__getm();
	struct weft__task *t;
	struct weft__p *p;

	if (!m || !(t = m->curg))
		return;
	p = m->p;
	WEFT__ASSERT(weft__owns(p)); /* p->syscalltick: owner only */
	WEFT__TRACE(p, SYSCALL_ENTER, 2, t->id, weft__trace_code(site), 0);
	if (__builtin_expect(weft__world_stopped(), 0)) {
		/* The stopper writing its snapshot: nobody else could run on
		 * the P, so it keeps it (stw.c, "Misuse"). */
		m->stw_syscall = true;
		return;
	}
	m->oldp = p;
	m->sys_stack = t->stack;
	m->sys_stack_size = weft__stack_map_size(S.stack_size);
	__atomic_store_n(&t->wait_reason, WEFT_TRACE_BLOCK_SYSCALL, __ATOMIC_RELAXED);
	atomic_store_explicit(&t->status, WEFT__T_SYSCALL, memory_order_relaxed);
	weft__tick(&p->syscalltick);
	m->oldp_tick = atomic_load_explicit(&p->syscalltick, memory_order_relaxed);
	atomic_store(&p->status, WEFT__P_SYSCALL); /* seq_cst: see stw.c, step 3 */
	if (atomic_load(&weft__safepoint_pending) & WEFT__SP_STOP)
		enter_while_pending(p);
	if (atomic_load_explicit(&S.sysmon_sleeping, memory_order_relaxed))
		weft__sysmon_wake();
	/* No more events on the P (weft__trace_p is NULL from the store
	 * below on): offline for the call, which may last (rcu.c). */
	weft__rcu_offline();
	/*
	 * Last: from this store on, a weft_main() that is ending may abandon
	 * this M and free the Ps, so nothing below touches the P. If it is
	 * ending already, wake it to do so (it may have looked at us before).
	 */
	atomic_store(&m->sys, WEFT__M_SYS_IN);
	if (atomic_load(&S.shutdown)) {
		atomic_fetch_add(&S.done, 1);
		weft__futex_wake(&S.done, 1);
	}
}

/*
 * The CAS from SYSCALL won, but the P is not in our syscall: while we
 * were in the kernel the monitor handed it to another M, whose task is
 * now in a syscall on it (its tick moved). The P is ours all the same -
 * that other task's exit will find it RUNNING (or see the tick moved
 * again) and take the slow path, as if the monitor had handed it off -
 * so make it so: the P's thread is this one, and the trace says the P
 * was taken from that syscall before this one ends on it (Go's
 * exitsyscallfast_reacquired does the same). Before this, the task
 * simply took the P back and the trace showed two tasks on one P.
 */
static void retook(struct weft__m *m, struct weft__p *p)
{
	p->m = m;
	weft__tick(&p->syscalltick); /* the other task's tick no longer matches */
	WEFT__TRACE(p, SYSCALL_HANDOFF, 1, p->id, 0, 0);
	WEFT__TRACE(p, PROC_START, 2, p->id, m->id, 0);
}

/* The task lost its P while in the kernel. */
static void exit_slow(struct weft__m *m, struct weft__task *t)
{
	struct weft__p *p = NULL;

	m->p = NULL;
	weft__sched_lock();
	if (!(atomic_load(&weft__safepoint_pending) & WEFT__SP_STOP))
		p = weft__pidleget();
	weft__sched_unlock();
	if (p) {
		weft__acquirep(m, p);
		atomic_store_explicit(&t->status, WEFT__T_RUNNING, memory_order_relaxed);
		WEFT__TRACE(p, SYSCALL_EXIT, 1, t->id, 0, 0);
		return;
	}
	WEFT__TRACE(NULL, SYSCALL_EXIT, 1, t->id, 0, 0);
	/* No P: queue the task (after it is off its stack) and park this M. */
	atomic_store_explicit(&t->status, WEFT__T_RUNNABLE, memory_order_relaxed);
	weft__mcall(m, WEFT__A_INJECT, NULL, NULL);
}

__attribute__((noreturn)) static void exit_abandoned(struct weft__m *m)
{
	m->curg = NULL;
	m->after = WEFT__A_ABANDON;
	weft__ctx_jump(&m->scratch, &m->g0, m, true);
	weft__throw("an abandoned task was resumed");
}

WEFT_API void weft_syscall_exit(void)
{
	struct weft__m *m = weft__getm();
	struct weft__task *t;
	struct weft__p *p;
	int s = WEFT__M_SYS_IN;

	if (!m || !(t = m->curg))
		return;
	if (__builtin_expect(m->stw_syscall, 0)) {
		m->stw_syscall = false;
		WEFT__TRACE(m->p, SYSCALL_EXIT, 1, t->id, 0, 0);
		return;
	}
	if (!atomic_compare_exchange_strong(&m->sys, &s, WEFT__M_SYS_NONE)) {
		if (s == WEFT__M_SYS_ABANDONED)
			exit_abandoned(m);
		return; /* not in a syscall: unpaired exit */
	}
	weft__rcu_online(); /* before any event on a P */
	__atomic_store_n(&t->wait_reason, WEFT_TRACE_BLOCK_NONE, __ATOMIC_RELAXED);
	p = m->oldp;
	m->oldp = NULL;
	s = WEFT__P_SYSCALL;
	if (__builtin_expect(atomic_compare_exchange_strong(&p->status, &s, WEFT__P_RUNNING), 1)) {
		if (__builtin_expect(atomic_load_explicit(&p->syscalltick, memory_order_relaxed) !=
					     m->oldp_tick,
				     0))
			retook(m, p);
		atomic_store_explicit(&t->status, WEFT__T_RUNNING, memory_order_relaxed);
		WEFT__TRACE(p, SYSCALL_EXIT, 1, t->id, 0, 0);
		return;
	}
	exit_slow(m, t);
}

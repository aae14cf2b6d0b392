/*
 * sysmon.c - the monitor thread (Go's sysmon): an OS thread without a P
 * that looks at the Ps from outside.
 *
 * Each tick it
 *  - retakes Ps whose M has been in the same syscall for a whole tick
 *    (>= 20 us) when there is work the P could do, or after 10 ms anyway,
 *    and hands them to another M (handoffp);
 *  - notices a P that has run the same task for 10 ms and asks it, through
 *    weft_safepoint(), to yield (cooperative preemption);
 *  - wakes an idle P when a timer is more than TIMER_LATE_NS overdue: its
 *    heap's owner runs a task that reaches no scheduling point, and the
 *    other Ps parked before the timer was armed, so nobody holds the
 *    sleeper role for it (timer.c) and nobody runs out of work to steal
 *    it. Go's sysmon does the same ("perhaps because there is an
 *    unpreemptible P"). Found by check_timer's test_timers_many_procs,
 *    which hung about one run in four before;
 *  - when every P is idle, sleeps until woken or 100 ms, then reruns the
 *    deadlock check (a plain thread that could have woken a task may have
 *    exited meanwhile, or the only fd waiters left are the debug server's);
 *  - stores the coarse clock that parks stamp (S.coarse_ms).
 * The tick starts at 20 us and doubles after 50 quiet ticks up to 10 ms,
 * so an idle program costs ~100 wake-ups a second and a busy one gets
 * prompt handoffs.
 *
 * Rejected: a timer signal per P (SIGURG-style): signal handlers cannot
 * safely switch C stacks, and it would interrupt every blocking call.
 */
#include "config.h"

#include <errno.h>

#include "internal.h"
#include "netpoll.h"
#include "os.h"
#include "timer.h"
#include "trace_emit.h"

#define S weft__sched

#define TICK_MIN_NS 20000
#define TICK_MAX_NS 10000000
#define PREEMPT_NS 10000000
#define IDLE_SLEEP_NS 100000000
#define TIMER_LATE_NS 1000000 /* a running owner fires its own timers sooner */

void weft__sysmon_wake(void)
{
	atomic_store(&S.sysmon_note, 1);
	weft__futex_wake(&S.sysmon_note, 1);
}

/* Returns how many Ps were retaken or asked to yield. */
static int retake(int64_t now, bool *insys)
{
	int n = atomic_load_explicit(&S.nprocs, memory_order_acquire);
	int acted = 0, preempting = 0;

	*insys = false;
	for (int i = 0; i < n; i++) {
		struct weft__p *p = S.allp[i];
		int s = atomic_load(&p->status);

		if (s == WEFT__P_SYSCALL) {
			uint32_t t = atomic_load_explicit(&p->syscalltick, memory_order_relaxed);
			*insys = true;
			if (t != p->sm_syscalltick || p->sm_when == 0) {
				p->sm_syscalltick = t;
				p->sm_when = now;
				continue;
			}
			if (now - p->sm_when < TICK_MIN_NS)
				continue;
			if (!weft__p_has_work(p) && atomic_load(&S.gq_len) == 0 &&
			    now - p->sm_when < PREEMPT_NS)
				continue;
			if (atomic_compare_exchange_strong(&p->status, &s, WEFT__P_RUNNING)) {
				WEFT__TRACE(NULL, SYSCALL_HANDOFF, 1, p->id, 0, 0);
				p->sm_when = 0;
				weft__handoffp(p);
				acted++;
			}
		} else if (s == WEFT__P_RUNNING) {
			uint32_t t = atomic_load_explicit(&p->schedtick, memory_order_relaxed);
			if (t != p->sm_schedtick || p->sm_when == 0) {
				p->sm_schedtick = t;
				p->sm_when = now;
				atomic_store_explicit(&p->preempt, 0, memory_order_relaxed);
			} else if (now - p->sm_when >= PREEMPT_NS) {
				if (!atomic_load_explicit(&p->preempt, memory_order_relaxed))
					acted++;
				atomic_store_explicit(&p->preempt, 1, memory_order_relaxed);
				preempting++;
			}
		} else {
			p->sm_when = 0;
		}
	}
	if (preempting)
		atomic_fetch_or(&weft__safepoint_pending, WEFT__SP_PREEMPT);
	else if (atomic_load_explicit(&weft__safepoint_pending, memory_order_relaxed) &
		 WEFT__SP_PREEMPT)
		atomic_fetch_and(&weft__safepoint_pending, ~WEFT__SP_PREEMPT);
	return acted;
}

static void *sysmon_main(void *arg)
{
	int64_t delay = TICK_MIN_NS;
	int quiet = 0;

	(void)arg;
	while (!atomic_load(&S.shutdown)) {
		bool insys;
		int n = atomic_load(&S.nprocs);

		atomic_store(&S.sysmon_note, 0);
		weft__coarse_tick(weft__nanotime()); /* each tick (internal.h) */
		if (atomic_load(&S.npidle) == n && atomic_load(&S.gq_len) == 0) {
			atomic_store(&S.sysmon_sleeping, 1);
			weft__futex_wait(&S.sysmon_note, 0, IDLE_SLEEP_NS);
			atomic_store(&S.sysmon_sleeping, 0);
			if (atomic_load(&S.npidle) == atomic_load(&S.nprocs)) {
				weft__sched_lock();
				weft__checkdead();
				weft__sched_unlock();
			}
			delay = TICK_MIN_NS;
			quiet = 0;
			continue;
		}
		weft__futex_wait(&S.sysmon_note, 0, delay);
		weft__netpoll_sysmon(weft__nanotime());
		/* A timer overdue on a busy P's heap: an idle P's M runs it
		 * (findrunnable -> weft__timers_steal). */
		int64_t next = weft__timers_next(), now = weft__nanotime();
		if (next && now - next > TIMER_LATE_NS && atomic_load(&S.npidle) > 0)
			weft__wakep();
		if (retake(now, &insys) > 0 || insys) {
			delay = TICK_MIN_NS;
			quiet = 0;
		} else if (++quiet > 50 && delay < TICK_MAX_NS) {
			delay *= 2;
		}
	}
	return NULL;
}

int weft__sysmon_start(void)
{
	int err;

	atomic_store(&S.sysmon_note, 0);
	atomic_store(&S.sysmon_sleeping, 0);
	err = pthread_create(&S.sysmon, NULL, sysmon_main, NULL);
	if (err)
		return -err;
	S.sysmon_started = true;
	return 0;
}

void weft__sysmon_stop(void)
{
	if (!S.sysmon_started)
		return;
	weft__sysmon_wake();
	pthread_join(S.sysmon, NULL);
	S.sysmon_started = false;
}

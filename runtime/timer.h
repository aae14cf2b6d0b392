/*
 * timer.h - timers on the Ps' heaps, and the M that sleeps until the next
 * one (internal; the design, with what was rejected, is timer.c's essay).
 *
 * What. A timer (struct weft__timer) lives in its owner's memory - a
 * sleeping task's stack, a select's frame - and sits, while armed, in the
 * 4-ary min-heap of one P (p->timers under p->tlock, ordered by deadline
 * then insertion). fn runs once, on whichever M finds it expired, without
 * any lock; @runp is the P that M owns (ready tasks there). Nobody runs a
 * timer thread: the Ps check their heaps as they schedule
 * (weft__timers_check), an idle P runs every heap's expired timers before
 * stealing (weft__timers_steal), and when every P is idle one M sleeps
 * until the earliest deadline (weft__timers_sleep).
 *
 * Invariants:
 *   - t->p != NULL exactly while @t is in t->p's heap (under t->p->tlock);
 *   - p->timer0 is the earliest deadline of p's heap, 0 when it is empty,
 *     so "anything due?" is one load;
 *   - t->firing is 1 while fn runs; weft__timer_del waits for it, so once
 *     it returns the owner may reuse or drop the memory.
 *
 * Who may call what:
 *   weft__timer_add        a task running on @p (after it is off its stack,
 *                          from weft__park's unlockf), or the world stopped
 *   weft__timer_del        the owner, any time after add (waits for a
 *                          running fn)
 *   weft__timers_check     owner of @p (its scheduling points)
 *   weft__timers_run       the M that owns @runp; @heap any P
 *   weft__timers_steal     owner of @runp, out of local work
 *   weft__timers_sleep     an M with no P, about to park (it is also the
 *                          netpoller's blocking poll, netpoll.h)
 *   weft__timers_kick      any thread
 *   weft__timers_next      any thread (sysmon)
 *   weft__timers_move      the world stopped (a P is being retired)
 *   weft__timerp_idle      pidleput (sched lock held)
 *   weft__timers_free      teardown, no M left
 *
 * Rejected (the reasons are in timer.c): one global heap under a lock, a
 * timer thread, a timer wheel, lazy deletion.
 */
#ifndef WEFT_TIMER_H
#define WEFT_TIMER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "internal.h"
#include "os.h"

struct weft__timer {
	int64_t when;                          /* deadline, weft__nanotime() clock */
	uint64_t seq;
	void (*fn)(struct weft__timer *t, struct weft__p *runp);
	void *arg;
	_Atomic(struct weft__p *) p;            /* heap holding it, NULL when not queued */
	int32_t idx;                           /* position in that heap */
	_Atomic int firing;                    /* 1 while fn runs */
};

/* Arm @t (when, fn, arg set) on @p's heap. */
void weft__timer_add(struct weft__p *p, struct weft__timer *t);
/* Disarm @t. True if it was still queued (its fn will not run); false if
 * it fired or was never armed - then its fn has returned by now. */
bool weft__timer_del(struct weft__timer *t);

#define WEFT__TIMER_BATCH 64
/* Run @heap's timers due at @now (at most @max <= WEFT__TIMER_BATCH),
 * readying tasks on @runp; @trylock: give up if @heap is busy. How many fired. */
int weft__timers_run(struct weft__p *heap, struct weft__p *runp, int64_t now, bool trylock,
		     int max);
/* The earliest deadline of all heaps, 0 if none (any thread). */
int64_t weft__timers_next(void);
/* Run every P's expired timers; true if any fired. */
bool weft__timers_steal(struct weft__p *runp);
/* Sleep until the earliest deadline if nobody else does, then take an idle
 * P (true: go round the scheduler loop); false: park as usual. */
bool weft__timers_sleep(struct weft__m *m);
/* Make the sleeping M recompute its deadline (or leave, at shutdown). */
void weft__timers_kick(void);
/* @from is being retired: its timers move to @to. */
void weft__timers_move(struct weft__p *from, struct weft__p *to);
/* Free @p's heap array (the timers belong to their owners). */
void weft__timers_free(struct weft__p *p);

/*
 * @p is going idle (pidleput, sched lock held, nobody can arm a timer on
 * it until it is taken again): with an empty heap, it leaves the mask of
 * Ps that may have timers. A stale non-zero timer0 only keeps the bit.
 */
static inline void weft__timerp_idle(struct weft__p *p)
{
	_Atomic uint64_t *w = &weft__sched.timerp[p->id / 64];
	uint64_t bit = 1ULL << (p->id % 64);

	if (atomic_load_explicit(&p->timer0, memory_order_relaxed) == 0 &&
	    (atomic_load_explicit(w, memory_order_relaxed) & bit))
		atomic_fetch_and(w, ~bit);
}

/*
 * Owner of @p: fire @p's earliest due timer, if runnext is free or @force
 * (one load when no timer is armed). See timer.c.
 */
static inline void weft__timers_check(struct weft__p *p, bool force)
{
	int64_t w = atomic_load_explicit(&p->timer0, memory_order_relaxed);

	WEFT__ASSERT(weft__owns(p));
	if (__builtin_expect(w != 0, 0) &&
	    (force || !atomic_load_explicit(&p->runnext, memory_order_relaxed))) {
		int64_t now = weft__nanotime();
		if (w <= now)
			weft__timers_run(p, p, now, false, 1);
	}
}

#endif /* WEFT_TIMER_H */

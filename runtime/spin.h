/*
 * spin.h - the spin lock of the wait queues and timer heaps (internal).
 *
 * What. A test-and-test-and-set lock on one 32-bit word: 0 free, 1 held.
 * Uncontended, lock is one CAS and unlock one store, inlined at the call
 * site. Contended, the slow path (os.c) pauses the CPU for 64 rounds and
 * then yields the thread to the OS: a holder can only be slow because its
 * thread was preempted, and yielding lets it run.
 *
 * Who holds one, and for what:
 *   - a channel's lock (chan.h): its buffer and both wait queues; select
 *     holds the locks of all its channels at once, taken in address order
 *     (select.c), so two selects cannot deadlock;
 *   - a mutex's and a wait group's lock: their wait queues (waitq.h);
 *   - a P's timer lock (p->tlock, timer.h): its timer heap. Two at once
 *     only in weft__timers_move, under a stopped world.
 *
 * Invariants and rules for holders:
 *   - Critical sections are short and never block: no park, no futex
 *     wait, no pthread lock, no call into user code, no allocation (one
 *     exception: a timer heap grows with realloc under its lock, rarely).
 *     A task that must sleep while holding one hands the unlock to
 *     weft__park (unlockf = weft__spin_unlock_fn), which runs it on the
 *     same M once the task is off its stack.
 *   - A holder may be a task or a plain thread; the lock is not tied to
 *     either (a task may resume on another M after it unlocked).
 *   - Memory orders: lock acquires (pairs with unlock's release), so what
 *     the previous holder wrote is visible to the next.
 *
 * Who may call: any thread, task or plain, at any time; no precondition.
 *
 * Rejected:
 *   - pthread_mutex_t: a futex syscall on every contended unlock, 40 bytes
 *     instead of 4 in every channel and in the fixed-size weft_wg /
 *     weft_mutex, and sleeping in the kernel for what is at most a few
 *     hundred instructions of work by the holder.
 *   - A ticket or MCS lock: fair, but these sections are too short to
 *     starve anyone, and MCS needs a queue node per acquisition.
 *   - Spinning without yielding: on an oversubscribed machine the spinner
 *     can burn the holder's time slice.
 */
#ifndef WEFT_SPIN_H
#define WEFT_SPIN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "fatal.h"

/*
 * The lock word: 0 free, non-zero held. Release builds store 1; WEFT_DEBUG
 * builds store the holder's thread id (weft__dbg_tid, never 0), so that
 * "this thread holds @l" can be asserted without growing the lock: it sits
 * in the fixed-size weft_wg and weft_mutex, which have no room for an
 * owner field (wg.c, mutex.c assert their sizes).
 */
typedef struct {
	_Atomic int32_t v;
} weft__spin;

#ifdef WEFT_DEBUG
/* os.c: the calling thread's id (gettid, cached), and the number of spin
 * locks it holds. Out of line, so that a task that moved to another thread
 * never uses a cached thread-local address (see weft__getm). A spin lock is
 * always released on the thread that took it: a task that parks hands it
 * to weft__park, whose unlockf runs on the same M (after_switch). */
int32_t weft__dbg_tid(void);
void weft__dbg_spin_count(int delta);
int weft__spin_nheld(void);
#define WEFT__SPIN_MINE() weft__dbg_tid()
/* Debug only: the calling thread holds @l. */
static inline bool weft__spin_held(weft__spin *l)
{
	return atomic_load_explicit(&l->v, memory_order_relaxed) == weft__dbg_tid();
}
#else
#define WEFT__SPIN_MINE() 1
#endif

/* os.c: the contended path (pause, then sched_yield). */
void weft__spin_lock_slow(weft__spin *l);

static inline void weft__spin_lock(weft__spin *l)
{
	int32_t z = 0;
	if (__builtin_expect(atomic_compare_exchange_weak_explicit(&l->v, &z, WEFT__SPIN_MINE(),
								   memory_order_acquire,
								   memory_order_relaxed),
			     1)) {
#ifdef WEFT_DEBUG
		weft__dbg_spin_count(1);
#endif
		return;
	}
	weft__spin_lock_slow(l);
#ifdef WEFT_DEBUG
	weft__dbg_spin_count(1);
#endif
}
static inline bool weft__spin_trylock(weft__spin *l)
{
	int32_t z = 0;
	bool ok = atomic_load_explicit(&l->v, memory_order_relaxed) == 0 &&
		  atomic_compare_exchange_strong_explicit(&l->v, &z, WEFT__SPIN_MINE(),
							  memory_order_acquire,
							  memory_order_relaxed);
#ifdef WEFT_DEBUG
	if (ok)
		weft__dbg_spin_count(1);
#endif
	return ok;
}
static inline void weft__spin_unlock(weft__spin *l)
{
#ifdef WEFT_DEBUG
	WEFT__ASSERT(weft__spin_held(l)); /* released by the thread that took it */
	weft__dbg_spin_count(-1);
#endif
	atomic_store_explicit(&l->v, 0, memory_order_release);
}

/* weft__spin_unlock as a weft__park unlockf (@l is a weft__spin *). os.c. */
void weft__spin_unlock_fn(void *l);

#endif /* WEFT_SPIN_H */

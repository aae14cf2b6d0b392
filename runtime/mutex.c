/*
 * mutex.c - a mutex that blocks the task, never the thread (Go's
 * sync.Mutex, simplified).
 *
 * State: one word, LOCKED and WAITERS bits, plus a FIFO of waiters under a
 * spin lock. Lock is a CAS 0 -> LOCKED when nobody waits; unlock a CAS
 * LOCKED -> 0. Only when WAITERS is set do they take the spin lock.
 *
 * Two modes, as Go's:
 *   normal   unlock releases the mutex and wakes the first waiter, which
 *            then competes with running tasks for it (barging: a running
 *            task that asks again gets it without a context switch, which
 *            is what makes a mutex fast under contention). A woken waiter
 *            that loses goes back to the *front* of the queue.
 *   handoff  when the first waiter has waited longer than STARVE_NS,
 *            unlock passes ownership straight to it (LOCKED stays set) so a
 *            task re-locking in a loop cannot starve it. That bounds any
 *            waiter's wait to about STARVE_NS past its turn at the head.
 * Plain threads may lock it too; they sleep on a futex.
 *
 * Invariant: WAITERS is set iff the queue is non-empty (both changed under
 * the spin lock); LOCKED is set while some owner holds it, including the
 * moment between a handoff and the woken waiter running.
 *
 * Rejected: a plain futex mutex (blocks the M, and with it every task on
 * its P); spinning before parking on one P (useless: the owner cannot run
 * while we spin on its P; a yield is what helps, and parking does that).
 */
#include "config.h"

#include <errno.h>

#include "internal.h"
#include "os.h"
#include "spin.h"
#include "trace_emit.h"
#include "waitq.h"

#define LOCKED 1u
#define WAITERS 2u
#define STARVE_NS 1000000 /* 1 ms, as Go */

struct mutex {
	_Atomic uint32_t state;
	weft__spin lock;
	struct weft__waitq q;
};

_Static_assert(sizeof(struct mutex) <= sizeof(weft_mutex), "weft_mutex too small");
_Static_assert(_Alignof(struct mutex) <= _Alignof(weft_mutex), "weft_mutex misaligned");

static bool try_acquire(struct mutex *mx)
{
	uint32_t s = atomic_load_explicit(&mx->state, memory_order_relaxed);

	while (!(s & LOCKED))
		if (atomic_compare_exchange_weak_explicit(&mx->state, &s, s | LOCKED,
							  memory_order_acquire,
							  memory_order_relaxed))
			return true;
	return false;
}

WEFT_API int weft_mutex_trylock(weft_mutex *m)
{
	return try_acquire((struct mutex *)m) ? 0 : -EBUSY;
}

WEFT_API void weft_mutex_lock(weft_mutex *m)
{
	struct mutex *mx = (struct mutex *)m;
	struct weft__waiter me;
	bool front = false;

	if (try_acquire(mx))
		return;
	WEFT__SITE();
	me.since = weft__nanotime();
	for (;;) {
		weft__spin_lock(&mx->lock);
		atomic_fetch_or(&mx->state, WAITERS);
		/* Re-check with WAITERS visible: an unlock from now on looks at
		 * the queue, so we cannot miss it. */
		if (try_acquire(mx)) {
			if (!mx->q.first)
				atomic_fetch_and(&mx->state, ~WAITERS);
			weft__spin_unlock(&mx->lock);
			return;
		}
		weft__waiter_init(&me);
		me.result = 0;
		if (front)
			weft__waitq_push_front(&mx->q, &me, &mx->lock);
		else
			weft__waitq_push(&mx->q, &me, &mx->lock);
		weft__waiter_block(&me, WEFT_TRACE_BLOCK_MUTEX, m, &mx->lock);
		if (me.result == 1)
			return; /* handed off: we own it */
		if (try_acquire(mx))
			return;
		front = true; /* lost to a barging task: wait at the head */
	}
}

WEFT_API void weft_mutex_unlock(weft_mutex *m)
{
	struct mutex *mx = (struct mutex *)m;
	struct weft__waiter *w;
	uint32_t s = LOCKED;

	if (atomic_compare_exchange_strong_explicit(&mx->state, &s, 0, memory_order_release,
						    memory_order_relaxed))
		return;
	if (!(s & LOCKED))
		weft__fatal("weft_mutex_unlock of mutex %p, which is not locked", (void *)m);
	weft__spin_lock(&mx->lock);
	w = mx->q.first;
	if (w)
		weft__waitq_remove(&mx->q, w, &mx->lock);
	if (!mx->q.first)
		atomic_fetch_and(&mx->state, ~WAITERS);
	if (w && weft__nanotime() - w->since >= STARVE_NS) {
		w->result = 1; /* handoff: LOCKED stays set, it is the waiter's */
	} else {
		atomic_fetch_and_explicit(&mx->state, ~LOCKED, memory_order_release);
		if (w)
			w->result = 0;
	}
	weft__spin_unlock(&mx->lock);
	if (w)
		weft__waiter_wake(w);
}

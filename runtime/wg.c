/*
 * wg.c - wait groups (Go's sync.WaitGroup), on the wait queue (waitq.h).
 *
 * State: one 64-bit word, counter in the high half, number of waiters in
 * the low half, so weft_wg_add is one atomic add when nobody waits (the
 * common case of a million weft_wg_done calls) and the waiter count and the
 * counter change together. The add that brings the counter to zero with
 * waiters present resets the word and wakes every queued waiter.
 *
 * Waiters. A waiter - a task or a plain thread - counts itself (CAS on the
 * low half, only while the counter is not zero) and queues itself on the
 * wait group's wait queue in one critical section of its spin lock, then
 * blocks (waitq.h: a task parks, a plain thread sleeps on a futex). The
 * add that reaches zero saw w waiters counted, so all w are queued once it
 * holds the lock: it takes the whole queue and wakes it, in FIFO order,
 * after unlocking. Nobody can count itself after that add (the counter is
 * zero) until the next weft_wg_add of a positive delta, which Go's rule
 * orders after the waits have returned.
 *
 * Rejected: a semaphore with banked tokens (this file's first version, and
 * Go's: the waiter counted itself without the lock, so a wake-up could come
 * before it queued and had to be kept as a token) - counting under the
 * lock needs no tokens, and the lock is taken only by waiters and by the
 * add that wakes them. A task-only queue through t->link: a plain thread
 * could not wait (it was a fatal misuse then).
 */
#include "config.h"

#include <stddef.h>

#include "internal.h"
#include "spin.h"
#include "trace_emit.h"
#include "waitq.h"

struct wg {
	_Atomic uint64_t state;
	weft__spin lock;        /* q, and waiters counting themselves */
	struct weft__waitq q;
};

_Static_assert(sizeof(struct wg) <= sizeof(weft_wg), "weft_wg too small");
_Static_assert(_Alignof(struct wg) <= _Alignof(weft_wg), "weft_wg misaligned");

/* The add that brought the counter to zero with waiters: wake them all. */
static void wake_all(struct wg *wg)
{
	struct weft__waiter *w, *next;

	weft__spin_lock(&wg->lock);
	w = wg->q.first;
	for (next = w; next; next = next->next)
		next->queued = false;
	wg->q.first = wg->q.last = NULL;
	weft__spin_unlock(&wg->lock);
	for (; w; w = next) {
		next = w->next; /* read before the wake: the waiter may be gone after */
		weft__waiter_wake(w);
	}
}

WEFT_API void weft_wg_add(weft_wg *wgp, int64_t delta)
{
	struct wg *wg = (struct wg *)wgp;
	uint64_t s;
	int32_t v;
	uint32_t w;

	if (delta > INT32_MAX || delta < INT32_MIN)
		weft__fatal("weft_wg_add: delta %lld out of range", (long long)delta);
	s = atomic_fetch_add(&wg->state, (uint64_t)delta << 32) + ((uint64_t)delta << 32);
	v = (int32_t)(s >> 32);
	w = (uint32_t)s;
	if (v < 0)
		weft__fatal("negative wait group counter (%d) in wait group %p", v, (void *)wgp);
	if (v > 0 || w == 0)
		return;
	atomic_store(&wg->state, 0);
	wake_all(wg);
}

WEFT_API void weft_wg_done(weft_wg *wg)
{
	weft_wg_add(wg, -1);
}

WEFT_API void weft_wg_wait(weft_wg *wgp)
{
	struct wg *wg = (struct wg *)wgp;
	struct weft__waiter me;
	uint64_t s;

	WEFT__SITE();

	s = atomic_load(&wg->state);
	if ((int32_t)(s >> 32) == 0)
		return;
	weft__spin_lock(&wg->lock);
	s = atomic_load(&wg->state);
	for (;;) {
		if ((int32_t)(s >> 32) == 0) {
			weft__spin_unlock(&wg->lock);
			return;
		}
		if (atomic_compare_exchange_weak(&wg->state, &s, s + 1))
			break;
	}
	weft__waiter_init(&me);
	weft__waitq_push(&wg->q, &me, &wg->lock);
	weft__waiter_block(&me, WEFT_TRACE_BLOCK_WG, wgp, &wg->lock);
}

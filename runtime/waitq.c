/*
 * waitq.c - blocking on a waiter and waking it (the design is in waitq.h).
 * Rejected: see waitq.h.
 */
#include "config.h"

#include "internal.h"
#include "os.h"
#include "waitq.h"

/* Wake @w after its result is set. No lock held (see waitq.h). */
void weft__waiter_wake(struct weft__waiter *w)
{
	struct weft__task *t = w->task;

	WEFT__ASSERT(weft__spin_nheld() == 0);
	if (t) {
		weft__ready(t);
		return;
	}
	/* A plain thread: after this store it may return and free @w. */
	if (w->sel) {
		struct weft__select *sel = w->sel;
		atomic_store_explicit(&sel->futex, 1, memory_order_release);
		weft__futex_wake(&sel->futex, 1);
		return;
	}
	atomic_store_explicit(&w->futex, 1, memory_order_release);
	weft__futex_wake(&w->futex, 1);
}

void weft__waiter_block(struct weft__waiter *w, int reason, const void *obj, weft__spin *lock)
{
	WEFT__ASSERT(weft__spin_held(lock) && w->queued);
	if (w->task) {
		weft__park(reason, obj, weft__spin_unlock_fn, lock);
		return;
	}
	weft__spin_unlock(lock);
	while (atomic_load_explicit(&w->futex, memory_order_acquire) == 0)
		weft__futex_wait(&w->futex, 0, -1);
}

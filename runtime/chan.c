/*
 * chan.c - channels (Go's runtime/chan.go, in weft's terms).
 *
 * What. A channel is a lock, a ring buffer of cap elements (none when
 * unbuffered), and two FIFO queues of waiters: tasks (or plain threads)
 * blocked sending and blocked receiving. A waiter (struct weft__waiter)
 * lives on the stack of the one who waits - it stays valid exactly as long
 * as it is queued, because its owner cannot return before it is woken.
 *
 * Operations, all under the channel's lock:
 *   send: a receiver waiting?  copy straight into its variable, wake it.
 *         room in the buffer?  copy into the ring.
 *         closed?              -EPIPE.
 *         else                 queue and block until a receiver takes the
 *                              value (or close, -EPIPE).
 *   recv: a sender waiting?    unbuffered: copy straight from its variable;
 *                              buffered (so the ring is full): take the
 *                              head, put the sender's value at the tail.
 *         elements buffered?   take the head.
 *         closed?              zero-fill, -EPIPE.
 *         else                 queue and block.
 *   close: mark closed; every waiter wakes with -EPIPE (receivers with a
 *         zero-filled element); the buffer can still be drained.
 * The waker does the copy, so a woken waiter has nothing left to do but
 * return its result. A woken task goes to the waker's runnext (weft__ready)
 * and inherits its time slice: a ping-pong stays on one P, in cache.
 *
 * Invariants (under the lock):
 *   - recvq non-empty => the buffer is empty; sendq non-empty => it is full
 *     (for unbuffered, "full" always): waiters exist only when the fast
 *     path could not run.
 *   - a closed channel has empty queues (close emptied them and nothing
 *     queues on a closed channel).
 *   - a waiter is in at most one queue of this channel; w->queued says so.
 *
 * Select (a later file) uses the same waiters with w->sel set: a waker must
 * win w->sel->done before it may serve such a waiter, so exactly one case
 * of a select fires; a waiter whose select already fired elsewhere is
 * dropped from the queue and skipped.
 *
 * Rejected: a lock-free ring for the buffered fast path (Go kept the lock
 * too; the waiter queues need it anyway, and an uncontended spin lock is a
 * single CAS); per-element condition variables (one wake-up per element
 * when a direct copy needs none).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fatal.h"
#include "internal.h"
#include "chan.h"
#include "trace_emit.h"
#include "waitq.h"

/* struct weft_chan is in chan.h: select locks and polls channels too. */

/* ---- wait queues (channel lock held; waitq.h) ------------------------------ */

/*
 * The first waiter that may be served: plain waiters always, select
 * waiters only if this wins their select. Waiters whose select fired
 * elsewhere are dropped on the way.
 */
static struct weft__waiter *waitq_take(struct weft_chan *c, struct weft__waitq *q)
{
	struct weft__waiter *w;

	while ((w = q->first)) {
		weft__waitq_remove(q, w, &c->lock);
		if (!w->sel)
			return w;
		int zero = 0;
		if (atomic_compare_exchange_strong(&w->sel->done, &zero, 1)) {
			w->sel->fired = w->index;
			return w;
		}
	}
	return NULL;
}

/* Block the caller on @w, queued on @q under @c's lock; unlocks. */
static inline void block(struct weft_chan *c, struct weft__waitq *q, struct weft__waiter *w,
		  int reason)
{
	WEFT__ASSERT(weft__spin_held(&c->lock));
	weft__waiter_init(w);
	weft__waitq_push(q, w, &c->lock);
	weft__waiter_block(w, reason, c, &c->lock);
}

static inline void *slot(struct weft_chan *c, size_t i)
{
	return c->buf + i * c->elem_size;
}

static inline void copy(void *dst, const void *src, size_t n)
{
	if (n && dst)
		memcpy(dst, src, n);
}

static inline void zero(void *dst, size_t n)
{
	if (n && dst)
		memset(dst, 0, n);
}

/* ---- API ------------------------------------------------------------------- */

WEFT_API weft_chan *weft_chan_make(size_t elem_size, size_t capacity)
{
	struct weft_chan *c;
	size_t bytes;

	if (elem_size && capacity > SIZE_MAX / elem_size)
		return NULL;
	bytes = elem_size * capacity;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	if (bytes && !(c->buf = malloc(bytes))) {
		free(c);
		return NULL;
	}
	c->elem_size = elem_size;
	c->cap = capacity;
	return c;
}

WEFT_API void weft_chan_free(weft_chan *c)
{
	if (!c)
		return;
	weft__spin_lock(&c->lock);
	if (c->recvq.first || c->sendq.first) {
		weft__spin_unlock(&c->lock);
		weft__fatal("weft_chan_free: channel %p freed while tasks wait on it", (void *)c);
	}
	weft__spin_unlock(&c->lock);
	free(c->buf);
	free(c);
}

int weft__chan_try_send_locked(struct weft_chan *c, const void *elem, struct weft__waiter **wake)
{
	struct weft__waiter *w;
	size_t n;

	WEFT__ASSERT(weft__spin_held(&c->lock));
	*wake = NULL;
	if (c->closed)
		return -EPIPE;
	if ((w = waitq_take(c, &c->recvq))) {
		copy(w->elem, elem, c->elem_size);
		w->result = 0;
		*wake = w;
		return 0;
	}
	n = atomic_load_explicit(&c->count, memory_order_relaxed);
	if (n < c->cap) {
		copy(slot(c, c->tail), elem, c->elem_size);
		if (++c->tail == c->cap)
			c->tail = 0;
		atomic_store_explicit(&c->count, n + 1, memory_order_relaxed);
		return 0;
	}
	return -EAGAIN;
}

int weft__chan_try_recv_locked(struct weft_chan *c, void *elem, struct weft__waiter **wake)
{
	struct weft__waiter *w;
	size_t n;

	WEFT__ASSERT(weft__spin_held(&c->lock));
	*wake = NULL;
	if ((w = waitq_take(c, &c->sendq))) {
		if (c->cap == 0) {
			copy(elem, w->elem, c->elem_size);
		} else {
			/* Full ring: the head is ours, the sender's value goes last. */
			copy(elem, slot(c, c->head), c->elem_size);
			copy(slot(c, c->tail), w->elem, c->elem_size);
			if (++c->head == c->cap)
				c->head = 0;
			c->tail = c->head;
		}
		w->result = 0;
		*wake = w;
		return 0;
	}
	n = atomic_load_explicit(&c->count, memory_order_relaxed);
	if (n > 0) {
		copy(elem, slot(c, c->head), c->elem_size);
		if (++c->head == c->cap)
			c->head = 0;
		atomic_store_explicit(&c->count, n - 1, memory_order_relaxed);
		return 0;
	}
	if (c->closed) {
		zero(elem, c->elem_size);
		return -EPIPE;
	}
	return -EAGAIN;
}

/* Returns 0, -EPIPE, or -EAGAIN when it would block and !@may_block. */
static int chan_send(struct weft_chan *c, const void *elem, bool may_block)
{
	struct weft__waiter *w, me;
	int r;

	weft__spin_lock(&c->lock);
	r = weft__chan_try_send_locked(c, elem, &w);
	if (r != -EAGAIN || !may_block) {
		weft__spin_unlock(&c->lock);
		if (w)
			weft__waiter_wake(w);
		return r;
	}
	me.elem = (void *)elem;
	me.result = -EPIPE;
	block(c, &c->sendq, &me, WEFT_TRACE_BLOCK_CHAN_SEND);
	return me.result;
}

static int chan_recv(struct weft_chan *c, void *elem, bool may_block)
{
	struct weft__waiter *w, me;
	int r;

	weft__spin_lock(&c->lock);
	r = weft__chan_try_recv_locked(c, elem, &w);
	if (r != -EAGAIN || !may_block) {
		weft__spin_unlock(&c->lock);
		if (w)
			weft__waiter_wake(w);
		return r;
	}
	me.elem = elem;
	me.result = -EPIPE;
	block(c, &c->recvq, &me, WEFT_TRACE_BLOCK_CHAN_RECV);
	return me.result;
}

static void unlock_nothing(void *arg)
{
	(void)arg;
}

void weft__block_forever(int reason)
{
	if (weft__on_task()) {
		weft__park(reason, NULL, unlock_nothing, NULL);
		weft__throw("a task blocked for ever was woken");
	}
	for (;;)
		pause();
}

/* A NULL channel is Go's nil channel: sending and receiving block for
 * ever, trying never succeeds (-EAGAIN), closing is a fatal misuse, its
 * length and capacity are 0. */

WEFT_API int weft_chan_send(weft_chan *c, const void *elem)
{
	WEFT__SITE();
	if (__builtin_expect(!c, 0))
		weft__block_forever(WEFT_TRACE_BLOCK_CHAN_SEND);
	return chan_send(c, elem, true);
}

WEFT_API int weft_chan_recv(weft_chan *c, void *elem)
{
	WEFT__SITE();
	if (__builtin_expect(!c, 0))
		weft__block_forever(WEFT_TRACE_BLOCK_CHAN_RECV);
	return chan_recv(c, elem, true);
}

WEFT_API int weft_chan_try_send(weft_chan *c, const void *elem)
{
	return c ? chan_send(c, elem, false) : -EAGAIN;
}

WEFT_API int weft_chan_try_recv(weft_chan *c, void *elem)
{
	return c ? chan_recv(c, elem, false) : -EAGAIN;
}

WEFT_API int weft_chan_close(weft_chan *c)
{
	struct weft__waiter *list = NULL, *w;

	if (!c)
		weft__fatal("weft_chan_close of a NULL channel");
	weft__spin_lock(&c->lock);
	if (c->closed) {
		weft__spin_unlock(&c->lock);
		return -EPIPE;
	}
	c->closed = 1;
	while ((w = waitq_take(c, &c->recvq))) {
		zero(w->elem, c->elem_size);
		w->result = -EPIPE;
		w->next = list;
		list = w;
	}
	while ((w = waitq_take(c, &c->sendq))) {
		w->result = -EPIPE;
		w->next = list;
		list = w;
	}
	weft__spin_unlock(&c->lock);
	while ((w = list)) {
		list = w->next; /* read before the wake: the waiter may be gone after */
		weft__waiter_wake(w);
	}
	return 0;
}

WEFT_API size_t weft_chan_len(const weft_chan *c)
{
	if (!c)
		return 0;
	return atomic_load_explicit(&((weft_chan *)c)->count, memory_order_relaxed);
}

WEFT_API size_t weft_chan_cap(const weft_chan *c)
{
	return c ? c->cap : 0;
}

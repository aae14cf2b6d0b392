/*
 * waitq.h - waiters and wait queues: how a task or a plain thread blocks
 * on a channel, a select, a mutex or a wait group (internal; Go's sudog).
 *
 * What. A waiter (struct weft__waiter) is one blocked party waiting on one
 * object. It lives on the stack of whoever waits, so blocking allocates
 * nothing, and it stays valid exactly as long as it is queued: its owner
 * cannot return before it is woken. A wait queue (struct weft__waitq) is
 * an intrusive doubly linked FIFO of waiters, protected by the spin lock
 * of the object that owns it (a channel's, a mutex's, a wait group's).
 * Who waits is either a task (w->task), which parks (weft__park) and is
 * woken with weft__ready, or a plain thread (w->task == NULL), which sleeps
 * on the futex word in its waiter and is woken by a store and a futex
 * wake: the same objects serve tasks and threads alike.
 *
 * Select. A select queues one waiter per case, each on its own channel,
 * all pointing at one select record (struct weft__select). A waker must
 * win sel->done (0 -> 1) before it may serve such a waiter, so exactly one
 * case fires; waiters of a select that already fired elsewhere are
 * skipped and dropped by whoever meets them (chan.c's waitq_take). A plain
 * thread in a select sleeps on sel->futex, not on the waiters' words.
 *
 * Invariants:
 *   - w->queued is true exactly while @w is in some queue (that queue's
 *     lock); a waiter is in at most one queue.
 *   - The waker fills in the result (w->result, the copied element) and
 *     takes the waiter off its queue, under the lock; it wakes it after
 *     unlocking. After the wake the waiter may return at once and its
 *     memory is gone: a waker reads what it needs (w->next) before.
 *   - A plain thread that waits is registered as one that may wake tasks
 *     later (weft__extern_enter, in weft__waiter_init), so the deadlock
 *     detector does not fire while it lives.
 *
 * Who may call what:
 *   weft__waiter_init             the waiting thread, before queueing @w
 *   weft__waitq_push/_push_front  the queue's lock held (passed, asserted)
 *   weft__waitq_remove            the queue's lock held (passed, asserted);
 *                                 a no-op if @w is not queued (select's
 *                                 clean-up relies on it)
 *   weft__waiter_block            the queue's lock held, @w queued; returns
 *                                 with the lock released, once woken
 *   weft__waiter_wake             NO lock held: waking a task may start an
 *                                 M (the sched lock, a pthread mutex)
 *
 * Rejected:
 *   - Queueing tasks through t->link (wait groups did until they moved
 *     here): a plain thread has no descriptor, so it could not wait.
 *   - A cache of heap-allocated waiters (Go's sudog cache, needed there
 *     because goroutine stacks move): C stacks do not move, so a waiter on
 *     the waiter's own stack is free and lives exactly as long as needed.
 *   - A condition variable per object for plain threads: a second queue
 *     and a second wake-up protocol beside the tasks' one.
 */
#ifndef WEFT_WAITQ_H
#define WEFT_WAITQ_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "internal.h"
#include "spin.h"

/* A select in progress: on the selecting party's stack (select.c). */
struct weft__select {
	_Atomic int done;       /* 0 until one case fires; the waker that sets it serves */
	int fired;              /* index of the case that fired; -1: the timeout */
	struct weft__task *task; /* who selects (NULL: a plain thread) */
	_Atomic int32_t futex;  /* a plain thread in select sleeps here */
};

/* One blocked party: on the stack of whoever waits. */
struct weft__waiter {
	struct weft__waiter *next, *prev; /* in a wait queue (its lock) */
	struct weft__task *task;           /* NULL: a plain thread, woken by futex */
	void *elem;                       /* channels: the sender's value / receiver's slot */
	int result;                       /* set by the waker (channels: 0 or -EPIPE;
					   * mutex: 1 handed off) */
	bool queued;
	_Atomic int32_t futex;            /* plain threads: 1 once woken */
	struct weft__select *sel;         /* NULL unless a select's case */
	int index;                        /* case index in sel */
	int64_t since;                    /* mutex: when it started waiting */
};

struct weft__waitq {
	struct weft__waiter *first, *last;
};

/*
 * weft__waitq_push(q, w, lock), weft__waitq_push_front(q, w, lock) and
 * weft__waitq_remove(q, w, lock) take the lock that guards @q (the
 * channel's, the mutex's, the wait group's) only so that WEFT_DEBUG builds
 * assert the caller holds it: the queue has no room to remember its lock
 * (it sits in the fixed-size weft_wg and weft_mutex). They are macros so
 * that release builds drop the argument before the compiler sees it (an
 * unused parameter of an inline function still perturbs register
 * allocation in weft_select).
 */
#ifdef WEFT_DEBUG
#define WEFT__WAITQ_LOCKED(op, q, w, lock) \
	(WEFT__ASSERT(weft__spin_held(lock)), op((q), (w)))
#else
#define WEFT__WAITQ_LOCKED(op, q, w, lock) op((q), (w))
#endif
#define weft__waitq_push(q, w, lock) WEFT__WAITQ_LOCKED(weft__waitq_push_, q, w, lock)
#define weft__waitq_push_front(q, w, lock) WEFT__WAITQ_LOCKED(weft__waitq_push_front_, q, w, lock)
#define weft__waitq_remove(q, w, lock) WEFT__WAITQ_LOCKED(weft__waitq_remove_, q, w, lock)

/* The queue's lock held: append @w. */
static inline void weft__waitq_push_(struct weft__waitq *q, struct weft__waiter *w)
{
	w->next = NULL;
	w->prev = q->last;
	if (q->last)
		q->last->next = w;
	else
		q->first = w;
	q->last = w;
	w->queued = true;
}

/* The queue's lock held: put @w first (a mutex waiter that lost a race). */
static inline void weft__waitq_push_front_(struct weft__waitq *q, struct weft__waiter *w)
{
	w->prev = NULL;
	w->next = q->first;
	if (q->first)
		q->first->prev = w;
	else
		q->last = w;
	q->first = w;
	w->queued = true;
}

/* The queue's lock held: take @w out of @q if it is queued. */
static inline void weft__waitq_remove_(struct weft__waitq *q, struct weft__waiter *w)
{
	if (!w->queued)
		return;
	if (w->prev)
		w->prev->next = w->next;
	else
		q->first = w->next;
	if (w->next)
		w->next->prev = w->prev;
	else
		q->last = w->prev;
	w->next = w->prev = NULL;
	w->queued = false;
}

/*
 * Fill in who waits: the running task, or (task == NULL) a plain thread
 * that will sleep on w->futex. The waiting thread, before queueing @w.
 */
static inline void weft__waiter_init(struct weft__waiter *w)
{
	struct weft__m *m = weft__getm();

	w->sel = NULL;
	w->task = m ? m->curg : NULL;
	atomic_init(&w->futex, 0);
	if (!w->task)
		weft__extern_enter(); /* a blocked thread may wake tasks later */
}

/*
 * Block the caller on @w, already queued under @lock; releases @lock (for
 * a task, once it is off its stack). Returns once woken. @reason and @obj
 * are what a task waits on (the deadlock report, the trace's TASK_BLOCK).
 */
void weft__waiter_block(struct weft__waiter *w, int reason, const void *obj, weft__spin *lock);

/* Wake @w after its result is set and it is off its queue. No lock held. */
void weft__waiter_wake(struct weft__waiter *w);

#endif /* WEFT_WAITQ_H */

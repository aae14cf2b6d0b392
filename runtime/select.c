/*
 * select.c - waiting on several channel operations at once (Go's select).
 *
 * Protocol:
 *   1. Order. The cases' channels are locked in address order (each once,
 *      even when several cases share a channel): any two selects, and any
 *      select and a plain operation (which takes one lock), acquire locks
 *      in one global order, so they cannot deadlock.
 *   2. Poll. With every lock held, the cases are tried in a random order
 *      (a fresh permutation per call): the first that can proceed fires.
 *      So when several are ready, each is chosen with equal probability,
 *      and no case starves another.
 *   3. Wait. If none can, the caller queues one waiter per case, all
 *      pointing at one struct weft__select, and parks; the locks are
 *      released once it is off its stack. A channel operation that finds
 *      such a waiter must win sel->done (0 -> 1) before it serves it, so
 *      exactly one case fires; the winner records the case in sel->fired,
 *      copies the data and wakes the caller.
 *   4. Clean up. Woken, the caller locks the channels again and removes
 *      its other waiters (a waiter already dropped by a channel that lost
 *      the race is no longer queued; removal checks).
 *
 * Timeouts. 0 never blocks (-EAGAIN); -1 (any negative) waits forever. A
 * positive timeout arms a timer (timer.c) once the caller is off its stack,
 * together with releasing the locks; the timer competes for sel->done like
 * a channel and, if it wins, records fired = -1 and wakes the caller, which
 * cleans up as in step 4 and returns -ETIMEDOUT. Woken by a channel, the
 * caller disarms the timer (waiting for its fn if it is running). A plain
 * thread sleeps on its futex with a deadline and claims sel->done itself
 * when the deadline passes; if a channel claimed it first, it waits for
 * that channel's wake-up (the data is being copied).
 *
 * Rejected: polling each channel under its own lock in turn (a case can
 * become ready after it was polled and before the caller is queued on it:
 * a lost wake-up); Go's heap sort of lock order is replaced by insertion
 * sort, as n is small in practice.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "internal.h"
#include "chan.h"
#include "os.h"
#include "timer.h"
#include "trace_emit.h"
#include "waitq.h"

#define SMALL 8

struct sel_state {
	struct weft_chan **locks; /* distinct channels, address order */
	size_t nlocks;
	struct weft__timer *timer; /* armed when the caller has parked, or NULL */
};

static void lock_all(struct sel_state *s)
{
	for (size_t i = 0; i < s->nlocks; i++)
		weft__spin_lock(&s->locks[i]->lock);
}

static void unlock_all(void *arg)
{
	struct sel_state *s = arg;

	for (size_t i = s->nlocks; i-- > 0;)
		weft__spin_unlock(&s->locks[i]->lock);
}

/* weft__park's unlockf: the caller is off its stack. */
static void arm_and_unlock(void *arg)
{
	struct sel_state *s = arg;

	WEFT__ASSERT(weft__in_unlockf());
	if (s->timer)
		weft__timer_add(weft__getm()->p, s->timer);
	unlock_all(s);
}

/* The timeout: wins the select unless a channel did. */
static void timeout_fire(struct weft__timer *t, struct weft__p *runp)
{
	struct weft__select *sel = t->arg;
	int zero = 0;

	if (atomic_compare_exchange_strong(&sel->done, &zero, 1)) {
		sel->fired = -1;
		weft__ready_on(runp, sel->task);
	}
}

/* A plain thread waits for a case or the deadline (0: none). */
static void thread_wait(struct weft__select *sel, int64_t deadline)
{
	WEFT__ASSERT(weft__on_plain());
	while (atomic_load_explicit(&sel->futex, memory_order_acquire) == 0) {
		int64_t left = -1;

		if (deadline) {
			left = deadline - weft__nanotime();
			if (left <= 0) {
				int zero = 0;
				if (atomic_compare_exchange_strong(&sel->done, &zero, 1)) {
					sel->fired = -1;
					return;
				}
				deadline = 0; /* a case won: wait for its wake-up */
				continue;
			}
		}
		weft__futex_wait(&sel->futex, 0, left);
	}
}

WEFT_API int weft_select(weft_case *cases, size_t n, int64_t timeout_ns)
{
	struct weft_chan *small_locks[SMALL];
	size_t small_order[SMALL];
	struct weft__waiter small_w[SMALL];
	struct weft_chan **locks = small_locks;
	size_t *order = small_order;
	struct weft__waiter *w = small_w;
	struct sel_state st;
	struct weft__select sel;
	struct weft__timer timer;
	struct weft__waiter *wake = NULL;
	size_t nactive = 0;
	int fired = -EAGAIN;
	int64_t deadline = 0;

	WEFT__SITE();
	if (timeout_ns > 0) {
		int64_t now = weft__nanotime();
		deadline = timeout_ns > INT64_MAX - now ? INT64_MAX : now + timeout_ns;
	}
	if (n > SMALL) {
		locks = malloc(n * sizeof(*locks));
		order = malloc(n * sizeof(*order));
		w = malloc(n * sizeof(*w));
		if (!locks || !order || !w) {
			free(locks);
			free(order);
			free(w);
			return -ENOMEM;
		}
	}

	/* Poll order: a random permutation of the active cases. */
	for (size_t i = 0; i < n; i++) {
		if (!cases[i].chan)
			continue;
		if (cases[i].op != WEFT_SEND && cases[i].op != WEFT_RECV) {
			fired = -EINVAL;
			goto out;
		}
		size_t j = nactive > 0 ? weft__rand() % (nactive + 1) : 0;
		order[nactive] = order[j];
		order[j] = i;
		nactive++;
	}
	/* Lock order: distinct channels by address (insertion sort). */
	st.locks = locks;
	st.nlocks = 0;
	st.timer = NULL;
	for (size_t k = 0; k < nactive; k++) {
		struct weft_chan *c = cases[order[k]].chan;
		size_t pos = st.nlocks;
		bool dup = false;

		for (size_t q = 0; q < st.nlocks; q++)
			if (locks[q] == c) {
				dup = true;
				break;
			}
		if (dup)
			continue;
		while (pos > 0 && (uintptr_t)locks[pos - 1] > (uintptr_t)c) {
			locks[pos] = locks[pos - 1];
			pos--;
		}
		locks[pos] = c;
		st.nlocks++;
	}
	if (nactive == 0 && timeout_ns > 0) {
		/* Only the timeout can fire (Go's select with just a timer). */
		weft_sleep(deadline - weft__nanotime());
		fired = -ETIMEDOUT;
		goto out;
	}
	if (nactive == 0 && timeout_ns < 0) {
		/* Nothing can ever fire: block forever, as Go's empty select
		 * (a plain thread too: weft.h allows select there). */
		weft__block_forever(WEFT_TRACE_BLOCK_SELECT);
	}

	lock_all(&st);
	for (size_t k = 0; k < nactive; k++) {
		weft_case *cs = &cases[order[k]];
		int r = cs->op == WEFT_SEND ? weft__chan_try_send_locked(cs->chan, cs->elem, &wake)
					    : weft__chan_try_recv_locked(cs->chan, cs->elem, &wake);
		if (r != -EAGAIN) {
			cs->result = r;
			fired = (int)order[k];
			break;
		}
	}
	if (fired >= 0 || timeout_ns == 0) {
		unlock_all(&st);
		if (wake)
			weft__waiter_wake(wake);
		goto out;
	}

	/* Wait on every case. */
	atomic_init(&sel.done, 0);
	atomic_init(&sel.futex, 0);
	sel.fired = -1;
	sel.task = NULL;
	for (size_t k = 0; k < nactive; k++) {
		size_t i = order[k];
		weft__waiter_init(&w[i]);
		w[i].sel = &sel;
		w[i].index = (int)i;
		w[i].elem = cases[i].elem;
		w[i].result = -EPIPE;
		weft__waitq_push(cases[i].op == WEFT_SEND ? &cases[i].chan->sendq
							  : &cases[i].chan->recvq,
				 &w[i], &cases[i].chan->lock);
	}
	if ((sel.task = w[order[0]].task)) {
		if (deadline) {
			timer.when = deadline;
			timer.fn = timeout_fire;
			timer.arg = &sel;
			atomic_init(&timer.p, NULL);
			atomic_init(&timer.firing, 0);
			st.timer = &timer;
		}
		weft__park(WEFT_TRACE_BLOCK_SELECT, cases[order[0]].chan, arm_and_unlock, &st);
		if (deadline)
			weft__timer_del(&timer);
	} else {
		unlock_all(&st);
		thread_wait(&sel, deadline);
	}
	/* One case fired; take the waiters of the others off their queues. */
	lock_all(&st);
	for (size_t k = 0; k < nactive; k++) {
		size_t i = order[k];
		weft__waitq_remove(cases[i].op == WEFT_SEND ? &cases[i].chan->sendq
							    : &cases[i].chan->recvq,
				   &w[i], &cases[i].chan->lock);
	}
	unlock_all(&st);
	fired = sel.fired;
	if (fired < 0)
		fired = -ETIMEDOUT;
	else
		cases[fired].result = w[fired].result;
out:
	if (n > SMALL) {
		free(locks);
		free(order);
		free(w);
	}
	return fired;
}

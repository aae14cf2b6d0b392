/*
 * wg.c - wait groups (Go's sync.WaitGroup), on a task semaphore.
 *
 * State: one 64-bit word, counter in the high half, number of waiters in
 * the low half, so weft_wg_add is one atomic add when nobody waits (the
 * common case of a million weft_wg_done calls) and the waiter count and the
 * counter change together. The add that brings the counter to zero with
 * waiters present resets the word and releases that many semaphore tokens.
 *
 * The semaphore (weft__sema) is a token count plus a FIFO of parked tasks
 * under a spin lock. A release that finds waiters hands each a token and
 * readies it; one that finds none banks the token, so a waiter that counted
 * itself but has not parked yet does not miss its wake-up.
 */
#include "config.h"

#include <stddef.h>

#include "internal.h"
#include "spin.h"

struct weft__sema {
	weft__spin lock;
	uint32_t count;
	struct weft_task *head, *tail;
};

struct wg {
	_Atomic uint64_t state;
	struct weft__sema sema;
};

_Static_assert(sizeof(struct wg) <= sizeof(weft_wg), "weft_wg too small");
_Static_assert(_Alignof(struct wg) <= _Alignof(weft_wg), "weft_wg misaligned");

static void sema_acquire(struct weft__sema *s, int reason, const void *obj)
{
	struct weft_m *m;

	weft__spin_lock(&s->lock);
	if (s->count > 0) {
		s->count--;
		weft__spin_unlock(&s->lock);
		return;
	}
	m = weft__getm();
	if (!m || !m->curg) {
		weft__spin_unlock(&s->lock);
		weft__fatal("%s wait called outside a task", weft__wait_reason_name(reason));
	}
	m->curg->link = NULL;
	if (s->tail)
		s->tail->link = m->curg;
	else
		s->head = m->curg;
	s->tail = m->curg;
	weft__park(reason, obj, weft__spin_unlock_fn, &s->lock);
}

static void sema_release(struct weft__sema *s, uint32_t n)
{
	struct weft_task *list = NULL, **tailp = &list, *t;

	weft__spin_lock(&s->lock);
	while (n > 0 && (t = s->head)) {
		s->head = t->link;
		if (!s->head)
			s->tail = NULL;
		t->link = NULL;
		*tailp = t;
		tailp = &t->link;
		n--;
	}
	s->count += n;
	weft__spin_unlock(&s->lock);
	while ((t = list)) {
		list = t->link;
		t->link = NULL;
		weft__ready(t);
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
	sema_release(&wg->sema, w);
}

WEFT_API void weft_wg_done(weft_wg *wg)
{
	weft_wg_add(wg, -1);
}

WEFT_API void weft_wg_wait(weft_wg *wgp)
{
	struct wg *wg = (struct wg *)wgp;
	struct weft_m *m = weft__getm();
	uint64_t s;

	WEFT__SITE();

	if (!m || !m->curg)
		weft__fatal("weft_wg_wait called outside a task (wait group %p)", (void *)wgp);
	s = atomic_load(&wg->state);
	for (;;) {
		if ((int32_t)(s >> 32) == 0)
			return;
		if (atomic_compare_exchange_weak(&wg->state, &s, s + 1)) {
			sema_acquire(&wg->sema, WEFT__W_WG, wgp);
			return;
		}
	}
}

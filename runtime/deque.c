/*
 * deque.c - the slow paths of the Chase-Lev deque (see deque.h for the
 * design, the synchronization table and the barriers).
 */
#include "config.h"

#include "deque.h"

#include <errno.h>
#include <stdlib.h>

#ifdef WEFT__TSAN_FENCE
_Atomic int weft__fence_word;
#endif

static struct weft__deque_array *array_new(int64_t size)
{
	struct weft__deque_array *a;

	a = malloc(sizeof(*a) + (size_t)size * sizeof(a->slot[0]));
	if (!a)
		return NULL;
	a->mask = size - 1;
	a->retired_next = NULL;
	return a;
}

int weft__deque_init(struct weft__deque *q, int64_t size_log2)
{
	struct weft__deque_array *a = array_new((int64_t)1 << size_log2);

	if (!a)
		return -ENOMEM;
	atomic_init(&q->top, 0);
	atomic_init(&q->bottom, 0);
	atomic_init(&q->array, a);
	q->retired = NULL;
	return 0;
}

void weft__deque_destroy(struct weft__deque *q)
{
	struct weft__deque_array *a, *n;

	free(atomic_load_explicit(&q->array, memory_order_relaxed));
	for (a = q->retired; a; a = n) {
		n = a->retired_next;
		free(a);
	}
	atomic_store_explicit(&q->array, NULL, memory_order_relaxed);
	q->retired = NULL;
}

int weft__deque_grow(struct weft__deque *q)
{
	struct weft__deque_array *old = atomic_load_explicit(&q->array, memory_order_relaxed);
	int64_t b = atomic_load_explicit(&q->bottom, memory_order_relaxed);
	int64_t t = atomic_load_explicit(&q->top, memory_order_acquire);
	struct weft__deque_array *a = array_new((old->mask + 1) * 2);
	int64_t i;

	if (!a)
		return -ENOMEM;
	for (i = t; i < b; i++)
		atomic_store_explicit(&a->slot[i & a->mask],
				      atomic_load_explicit(&old->slot[i & old->mask],
							   memory_order_relaxed),
				      memory_order_relaxed);
	/* Pairs with the acquire load of the array in steal [D4]. */
	atomic_store_explicit(&q->array, a, memory_order_release);
	old->retired_next = q->retired;
	q->retired = old;
	return 0;
}

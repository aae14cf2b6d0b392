/*
 * deque.h - the per-P run queue: a Chase-Lev work-stealing deque.
 *
 * What: an array-based deque of task pointers. The owner P pushes and pops
 * at the bottom (LIFO: the task spawned last runs first, hot in cache and,
 * for fork-join programs, depth first so that memory stays bounded); other
 * Ps steal at the top (FIFO: the oldest task, which in fork-join code is the
 * root of the largest remaining subtree). The array grows by doubling and
 * never shrinks while the P lives.
 *
 * Memory orders follow Le, Pop, Cohen and Zappa Nardelli, "Correct and
 * Efficient Work-Stealing for Weak Memory Models" (PPoPP 2013), which
 * proved the C11 version correct. Indices are signed 64-bit and only grow,
 * so there is no ABA on top.
 *
 * Synchronization table (which operations may run concurrently):
 *
 *                  | push | pop | take_top | steal | size_hint
 *   push (owner)   |  no  | no  |    no    |  yes  |  yes
 *   pop  (owner)   |  no  | no  |    no    |  yes  |  yes
 *   take_top (own.)|  no  | no  |    no    |  yes  |  yes
 *   peek_ends (own)|  no  | no  |    no    |  yes  |  yes
 *   steal (any)    |  yes | yes |    yes   |  yes  |  yes
 *
 * Barriers and what they pair with:
 *   [D1] push: release store of bottom; pairs with [D4]'s
 *        acquire load of bottom, so a thief that sees the new bottom sees
 *        the element.
 *   [D2] pop: seq_cst fence between the store of bottom-1 and the load of
 *        top; pairs with [D3]. Either the thief sees the smaller bottom and
 *        backs off, or the owner sees the thief's larger top; never both
 *        take the same (last) element.
 *   [D3] steal: seq_cst fence between the load of top and of bottom.
 *   [D4] steal: acquire load of bottom (pairs with [D1]); acquire load of
 *        the array pointer (pairs with the release store in grow).
 *   [D5] the CAS on top (seq_cst) decides every race for one element.
 *
 * Rejected:
 *  - A fixed ring with CAS on both ends (Go's runq, Tokio's local queue):
 *    every owner take pays a CAS; Chase-Lev's owner pop pays one fence and
 *    a CAS only for the last element. A fixed ring also has to spill to a
 *    global queue when it fills, which a million-task spawn would do 996
 *    thousand times; this deque grows instead.
 *  - Batch steal with one CAS on top for several elements: unsafe against
 *    an owner pop that takes an element without a CAS (the owner can pop
 *    an element the thief already counted). A thief steals half by
 *    repeating single steals, bounded by WEFT__STEAL_MAX.
 *  - Freeing a grown-out array at once: a thief may still read it. Old
 *    arrays are kept on a list until the deque is destroyed; their total
 *    is less than the live array, so this at most doubles the memory.
 */
#ifndef WEFT_DEQUE_H
#define WEFT_DEQUE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fence.h"

struct weft__task;

struct weft__deque_array {
	int64_t mask; /* size - 1, size a power of two */
	struct weft__deque_array *retired_next;
	_Atomic(struct weft__task *) slot[];
};

struct weft__deque {
	/* top and bottom on their own cache lines: thieves hammer top. */
	_Alignas(64) _Atomic int64_t top;
	_Alignas(64) _Atomic int64_t bottom;
	_Atomic(struct weft__deque_array *) array;
	struct weft__deque_array *retired;
};

#define WEFT__STEAL_MAX 128
#define WEFT__DEQUE_EMPTY ((struct weft__task *)0)
#define WEFT__DEQUE_ABORT ((struct weft__task *)1)

int weft__deque_init(struct weft__deque *q, int64_t size_log2);
void weft__deque_destroy(struct weft__deque *q);
/* Owner only: doubles the array. Returns 0 or -ENOMEM (the deque is unchanged). */
int weft__deque_grow(struct weft__deque *q);

/* push: owner only. 0, or -ENOMEM if the array had to grow and could not. */
static inline int weft__deque_push(struct weft__deque *q, struct weft__task *t)
{
	int64_t b = atomic_load_explicit(&q->bottom, memory_order_relaxed);
	int64_t top = atomic_load_explicit(&q->top, memory_order_acquire);
	struct weft__deque_array *a = atomic_load_explicit(&q->array, memory_order_relaxed);

	if (__builtin_expect(b - top > a->mask, 0)) {
		if (weft__deque_grow(q) != 0)
			return -12; /* -ENOMEM */
		a = atomic_load_explicit(&q->array, memory_order_relaxed);
	}
	atomic_store_explicit(&a->slot[b & a->mask], t, memory_order_relaxed);
	/* [D1] A release store rather than the paper's release fence plus a
	 * relaxed store: the same instructions on x86 and ARMv8, and a form
	 * ThreadSanitizer understands (it does not model fences). */
	atomic_store_explicit(&q->bottom, b + 1, memory_order_release);
	return 0;
}

/* pop: owner only; the most recently pushed task or NULL. */
static inline struct weft__task *weft__deque_pop(struct weft__deque *q)
{
	int64_t b = atomic_load_explicit(&q->bottom, memory_order_relaxed);
	int64_t t = atomic_load_explicit(&q->top, memory_order_relaxed);
	struct weft__deque_array *a;
	struct weft__task *x;

	/* Cheap emptiness test without the fence: top only grows, so a stale
	 * top can only make the deque look fuller than it is. */
	if (b <= t)
		return NULL;
	b--;
	a = atomic_load_explicit(&q->array, memory_order_relaxed);
	atomic_store_explicit(&q->bottom, b, memory_order_relaxed);
	weft__fence(); /* [D2] pairs with [D3] */
	t = atomic_load_explicit(&q->top, memory_order_relaxed);
	if (t <= b) {
		x = atomic_load_explicit(&a->slot[b & a->mask], memory_order_relaxed);
		if (t == b) {
			/* Last element: race the thieves for it. [D5] */
			if (!atomic_compare_exchange_strong_explicit(&q->top, &t, t + 1,
								     memory_order_seq_cst,
								     memory_order_relaxed))
				x = NULL;
			atomic_store_explicit(&q->bottom, b + 1, memory_order_relaxed);
		}
		return x;
	}
	atomic_store_explicit(&q->bottom, b + 1, memory_order_relaxed);
	return NULL;
}

/* steal: any thread; the oldest task, NULL if empty, ABORT if it lost a race. */
static inline struct weft__task *weft__deque_steal(struct weft__deque *q)
{
	int64_t t = atomic_load_explicit(&q->top, memory_order_acquire);
	weft__fence(); /* [D3] pairs with [D2] */
	int64_t b = atomic_load_explicit(&q->bottom, memory_order_acquire); /* [D4] */
	struct weft__deque_array *a;
	struct weft__task *x;

	if (t >= b)
		return NULL;
	a = atomic_load_explicit(&q->array, memory_order_acquire); /* [D4] */
	x = atomic_load_explicit(&a->slot[t & a->mask], memory_order_relaxed);
	if (!atomic_compare_exchange_strong_explicit(&q->top, &t, t + 1, memory_order_seq_cst,
						     memory_order_relaxed)) /* [D5] */
		return WEFT__DEQUE_ABORT;
	return x;
}

/*
 * take_top: owner only; the oldest task, NULL if empty (or lost to a
 * thief). The owner does not race itself at the bottom, so unlike steal it
 * needs no fence between reading top and bottom: the CAS on top decides
 * between it and the thieves. [D5]
 */
static inline struct weft__task *weft__deque_take_top(struct weft__deque *q)
{
	int64_t b = atomic_load_explicit(&q->bottom, memory_order_relaxed);
	int64_t t = atomic_load_explicit(&q->top, memory_order_acquire);
	struct weft__deque_array *a;
	struct weft__task *x;

	while (t < b) {
		a = atomic_load_explicit(&q->array, memory_order_relaxed);
		x = atomic_load_explicit(&a->slot[t & a->mask], memory_order_relaxed);
		if (atomic_compare_exchange_strong_explicit(&q->top, &t, t + 1,
							    memory_order_seq_cst,
							    memory_order_acquire))
			return x;
		/* t now holds the thief's new top: try the next one. */
	}
	return NULL;
}

/*
 * peek_ends: owner only; the oldest (top) and the newest (bottom) task
 * without taking either, or false when fewer than two are queued. Nothing
 * is claimed: a thief may take the oldest meanwhile, and with a stale top
 * the "oldest" may be a task that was queued here and has gone. The slot
 * holds some task pointer all the same (only the owner overwrites slots),
 * and descriptors are never unmapped (tasks.c), so the caller may read a
 * field of either as a hint; it runs a task only once take_top or pop has
 * claimed it.
 */
static inline bool weft__deque_peek_ends(struct weft__deque *q, struct weft__task **oldest,
					 struct weft__task **newest)
{
	int64_t b = atomic_load_explicit(&q->bottom, memory_order_relaxed);
	int64_t t = atomic_load_explicit(&q->top, memory_order_relaxed);
	struct weft__deque_array *a;

	if (b - t < 2)
		return false;
	a = atomic_load_explicit(&q->array, memory_order_relaxed);
	*oldest = atomic_load_explicit(&a->slot[t & a->mask], memory_order_relaxed);
	*newest = atomic_load_explicit(&a->slot[(b - 1) & a->mask], memory_order_relaxed);
	return true;
}

/* A racy estimate of the number of elements (>= 0). Any thread. */
static inline int64_t weft__deque_size_hint(struct weft__deque *q)
{
	int64_t b = atomic_load_explicit(&q->bottom, memory_order_relaxed);
	int64_t t = atomic_load_explicit(&q->top, memory_order_relaxed);
	return b > t ? b - t : 0;
}

#endif /* WEFT_DEQUE_H */

/*
 * check_deque.c - Check suite "deque": the Chase-Lev deque alone.
 *
 * Single-threaded semantics (LIFO pop, FIFO steal, growth keeps order),
 * then the race the structure exists for: the owner pushes and pops 1e7
 * items while thief threads steal; every item must be taken exactly once
 * (a lost or doubled item shows up as a count other than 1).
 */
#include "config.h"

#include "testutil.h"
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "deque.h"

/* Items are small integers disguised as task pointers (0 and 1 are taken). */
#define ITEM(i) ((struct weft__task *)(uintptr_t)((i) + 2))
#define INDEX(t) ((long)((uintptr_t)(t)-2))

START_TEST(test_lifo_fifo)
{
	struct weft__deque q;

	ck_assert_int_eq(weft__deque_init(&q, 2), 0);
	ck_assert_ptr_null(weft__deque_pop(&q));
	ck_assert_ptr_null(weft__deque_steal(&q));
	for (long i = 0; i < 100; i++) /* grows from 4 slots to 128 */
		ck_assert_int_eq(weft__deque_push(&q, ITEM(i)), 0);
	ck_assert_int_eq(weft__deque_size_hint(&q), 100);
	ck_assert_int_eq(INDEX(weft__deque_steal(&q)), 0);
	ck_assert_int_eq(INDEX(weft__deque_steal(&q)), 1);
	ck_assert_int_eq(INDEX(weft__deque_pop(&q)), 99);
	ck_assert_int_eq(INDEX(weft__deque_pop(&q)), 98);
	for (long i = 2; i < 98; i++)
		ck_assert_int_eq(INDEX(weft__deque_steal(&q)), i);
	ck_assert_ptr_null(weft__deque_pop(&q));
	ck_assert_ptr_null(weft__deque_steal(&q));
	ck_assert_int_eq(weft__deque_size_hint(&q), 0);
	weft__deque_destroy(&q);
}
END_TEST

#define NITEMS 10000000L
#define NTHIEVES 1 /* plus the owner: one thread per core here */

struct race {
	struct weft__deque q;
	_Atomic unsigned char *seen;
	_Atomic int done;
	_Atomic long stolen;
	_Atomic int bad; /* an item that was never pushed came out */
};

static void take(struct race *r, struct weft__task *t)
{
	long i = INDEX(t);

	if (i < 0 || i >= NITEMS)
		atomic_store(&r->bad, 1);
	else
		atomic_fetch_add_explicit(&r->seen[i], 1, memory_order_relaxed);
}

static void *thief(void *arg)
{
	struct race *r = arg;
	long n = 0;

	while (!atomic_load(&r->done) || weft__deque_size_hint(&r->q) > 0) {
		struct weft__task *t = weft__deque_steal(&r->q);
		if (t == WEFT__DEQUE_ABORT)
			continue;
		if (!t) {
			for (int k = 0; k < 64; k++)
				__asm__ __volatile__("" ::: "memory");
			continue;
		}
		take(r, t);
		n++;
	}
	atomic_fetch_add(&r->stolen, n);
	return NULL;
}

START_TEST(test_race)
{
	struct race r;
	pthread_t th[NTHIEVES];
	unsigned seed = 12345;
	long pushed = 0, popped = 0;

	ck_assert_int_eq(weft__deque_init(&r.q, 4), 0);
	r.seen = calloc(NITEMS, 1);
	ck_assert_ptr_nonnull(r.seen);
	atomic_init(&r.done, 0);
	atomic_init(&r.stolen, 0);
	atomic_init(&r.bad, 0);
	for (int i = 0; i < NTHIEVES; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, thief, &r), 0);
	while (pushed < NITEMS) {
		/* Bursts of pushes, then some pops: the deque size wanders, so the
		 * owner often races the thieves for the last element. */
		int burst = (int)(rand_r(&seed) % 64);
		/* (no ck_assert in this loop: each one is a message to Check's parent) */
		for (int i = 0; i < burst && pushed < NITEMS; i++)
			if (weft__deque_push(&r.q, ITEM(pushed++)) != 0)
				atomic_store(&r.bad, 1);
		int pops = (int)(rand_r(&seed) % 64);
		for (int i = 0; i < pops; i++) {
			struct weft__task *t = weft__deque_pop(&r.q);
			if (!t)
				break;
			take(&r, t);
			popped++;
		}
	}
	for (struct weft__task *t; (t = weft__deque_pop(&r.q));) {
		take(&r, t);
		popped++;
	}
	atomic_store(&r.done, 1);
	for (int i = 0; i < NTHIEVES; i++)
		pthread_join(th[i], NULL);
	ck_assert_int_eq(atomic_load(&r.bad), 0);
	ck_assert_int_eq(popped + atomic_load(&r.stolen), NITEMS);
	for (long i = 0; i < NITEMS; i++)
		if (r.seen[i] != 1)
			ck_abort_msg("item %ld taken %d times", i, (int)r.seen[i]);
	ck_assert_msg(atomic_load(&r.stolen) > 0, "thieves never stole: the race was not run");
	free((void *)r.seen);
	weft__deque_destroy(&r.q);
}
END_TEST

static Suite *deque_suite(void)
{
	Suite *s = suite_create("deque");
	TCase *tc = tcase_create("deque");

	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_lifo_fifo);
	tcase_add_test(tc, test_race);
	suite_add_tcase(s, tc);
	return s;
}

WEFT_CHECK_MAIN(deque_suite)

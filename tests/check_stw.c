/*
 * check_stw.c - Check suite "stw": stop-the-world and weft_set_procs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include "testutil.h"

/* ---- while the world is stopped, no other task runs ------------------------ */

struct stw_case {
	_Atomic long counter;
	_Atomic int stop;
	_Atomic int running; /* workers that started */
	long during[3];
	weft_wg wg;
};

static void counting_worker(void *arg)
{
	struct stw_case *c = arg;

	atomic_fetch_add(&c->running, 1);
	while (!atomic_load(&c->stop)) {
		atomic_fetch_add(&c->counter, 1);
		weft_safepoint();
	}
	weft_wg_done(&c->wg);
}

static void stw_main(void *arg)
{
	struct stw_case *c = arg;
	int nworkers = 4;

	weft_wg_add(&c->wg, nworkers);
	for (int i = 0; i < nworkers; i++)
		go_ok(counting_worker, c);
	/* Wait (yielding) until the workers are counting. */
	while (atomic_load(&c->running) < nworkers || atomic_load(&c->counter) < 100000)
		weft_yield();
	for (int round = 0; round < 3; round++) {
		long before, after;
		weft_stop_the_world("test");
		before = atomic_load(&c->counter);
		/* Long enough that any running worker would count many times. */
		for (volatile long i = 0; i < 20000000; i++)
			;
		after = atomic_load(&c->counter);
		c->during[round] = after - before;
		weft_start_the_world();
		/* And the world runs again: the counter moves. */
		while (atomic_load(&c->counter) < after + 1000)
			weft_yield();
	}
	atomic_store(&c->stop, 1);
	weft_wg_wait(&c->wg);
}

START_TEST(test_stw_stops_others)
{
	struct stw_case c;

	memset(&c, 0, sizeof(c));
	run_main(2, stw_main, &c);
	for (int i = 0; i < 3; i++)
		ck_assert_msg(c.during[i] == 0, "round %d: others counted %ld times while stopped",
			      i, c.during[i]);
}
END_TEST

/* ---- set_procs up and down while tasks run ------------------------------------ */

/* ThreadSanitizer maps a trace per fiber (task): keep its build smaller. */
#if defined(__SANITIZE_THREAD__)
#define CHURN_TASKS 2000
#else
#define CHURN_TASKS 20000
#endif

struct churn {
	_Atomic unsigned char ran[CHURN_TASKS];
	weft_wg wg;
	int procs_seen[16];
	int olds[16];
};

static struct churn churn;

static void churn_task(void *arg)
{
	long i = (long)(intptr_t)arg;

	for (int k = 0; k < 5; k++)
		weft_yield();
	atomic_fetch_add(&churn.ran[i], 1);
	weft_wg_done(&churn.wg);
}

static void churn_spawner(void *arg)
{
	long base = (long)(intptr_t)arg;

	for (long i = base; i < base + CHURN_TASKS / 4; i++)
		go_ok(churn_task, (void *)(intptr_t)i);
	weft_wg_done(&churn.wg);
}

static void churn_main(void *arg)
{
	static const int seq[] = { 4, 1, 3, 2, 8, 1, 2, 5, 2 };
	int n = (int)(sizeof(seq) / sizeof(seq[0]));

	(void)arg;
	weft_wg_add(&churn.wg, CHURN_TASKS + 4);
	for (int s = 0; s < 4; s++)
		go_ok(churn_spawner, (void *)(intptr_t)(s * (CHURN_TASKS / 4)));
	for (int i = 0; i < n; i++) {
		churn.olds[i] = weft_set_procs(seq[i]);
		churn.procs_seen[i] = weft_procs();
		for (int k = 0; k < 50; k++)
			weft_yield();
	}
	weft_wg_wait(&churn.wg);
}

START_TEST(test_set_procs_churn)
{
	static const int seq[] = { 4, 1, 3, 2, 8, 1, 2, 5, 2 };

	memset(&churn, 0, sizeof(churn));
	run_main(2, churn_main, NULL);
	for (int i = 0; i < 9; i++) {
		ck_assert_int_eq(churn.procs_seen[i], seq[i]);
		ck_assert_int_eq(churn.olds[i], i == 0 ? 2 : seq[i - 1]);
	}
	for (int i = 0; i < CHURN_TASKS; i++)
		if (churn.ran[i] != 1)
			ck_abort_msg("task %d ran %d times", i, (int)churn.ran[i]);
}
END_TEST

static void bad_procs(void *arg)
{
	int *r = arg;
	r[0] = weft_set_procs(0);
	r[1] = weft_set_procs(WEFT_MAX_PROCS + 1);
	r[2] = weft_set_procs(1);
	r[3] = weft_procs();
}

START_TEST(test_set_procs_errors)
{
	int r[4];

	ck_assert_int_eq(weft_set_procs(2), -EINVAL); /* not a task */
	run_main(2, bad_procs, r);
	ck_assert_int_eq(r[0], -EINVAL);
	ck_assert_int_eq(r[1], -EINVAL);
	ck_assert_int_eq(r[2], 2);
	ck_assert_int_eq(r[3], 1);
}
END_TEST

/* ---- two tasks stopping the world at once take turns ------------------------ */

static _Atomic int in_stw;
static _Atomic int overlap;

static void stopper(void *arg)
{
	weft_wg *wg = arg;

	for (int i = 0; i < 200; i++) {
		weft_stop_the_world("race");
		if (atomic_fetch_add(&in_stw, 1) != 0)
			atomic_store(&overlap, 1);
		atomic_fetch_sub(&in_stw, 1);
		weft_start_the_world();
		weft_yield();
	}
	weft_wg_done(wg);
}

static void stoppers_main(void *arg)
{
	weft_wg wg = WEFT_WG_INIT;

	(void)arg;
	weft_wg_add(&wg, 3);
	for (int i = 0; i < 3; i++)
		go_ok(stopper, &wg);
	weft_wg_wait(&wg);
}

START_TEST(test_concurrent_stoppers)
{
	atomic_store(&overlap, 0);
	run_main(2, stoppers_main, NULL);
	ck_assert_int_eq(atomic_load(&overlap), 0);
}
END_TEST

static Suite *stw_suite(void)
{
	Suite *s = suite_create("stw");
	TCase *tc = tcase_create("stw");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_stw_stops_others);
	tcase_add_test(tc, test_set_procs_churn);
	tcase_add_test(tc, test_set_procs_errors);
	tcase_add_test(tc, test_concurrent_stoppers);
	suite_add_tcase(s, tc);
	return s;
}

WEFT_CHECK_MAIN(stw_suite)

/*
 * check_sync.c - Check suite "sync": mutexes and wait groups.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "testutil.h"

#define TASKS 8
#define INCS 100000

struct counter {
	weft_mutex mu;
	long value; /* protected by mu; plain on purpose */
	weft_wg wg;
	int trylock_busy, trylock_free;
};

static struct counter ctr;

static void incrementer(void *arg)
{
	(void)arg;
	for (int i = 0; i < INCS; i++) {
		weft_mutex_lock(&ctr.mu);
		long v = ctr.value;
		if (i % 1000 == 0)
			weft_yield(); /* hold it across a scheduling point now and then */
		ctr.value = v + 1;
		weft_mutex_unlock(&ctr.mu);
	}
	weft_wg_done(&ctr.wg);
}

static void *thread_incrementer(void *arg)
{
	(void)arg;
	for (int i = 0; i < INCS; i++) {
		weft_mutex_lock(&ctr.mu);
		ctr.value++;
		weft_mutex_unlock(&ctr.mu);
	}
	return NULL;
}

static void counter_main(void *arg)
{
	int with_thread = *(int *)arg;
	pthread_t th;

	weft_wg_add(&ctr.wg, TASKS);
	if (with_thread)
		ck_assert_int_eq(pthread_create(&th, NULL, thread_incrementer, NULL), 0);
	for (int i = 0; i < TASKS; i++)
		go_ok(incrementer, NULL);
	weft_wg_wait(&ctr.wg);
	if (with_thread) {
		weft_syscall_enter();
		pthread_join(th, NULL);
		weft_syscall_exit();
	}
	weft_mutex_lock(&ctr.mu);
	ctr.trylock_busy = weft_mutex_trylock(&ctr.mu);
	weft_mutex_unlock(&ctr.mu);
	ctr.trylock_free = weft_mutex_trylock(&ctr.mu);
	weft_mutex_unlock(&ctr.mu);
}

static void check_counter(int procs, int with_thread)
{
	memset(&ctr, 0, sizeof(ctr));
	run_main(procs, counter_main, &with_thread);
	ck_assert_int_eq(ctr.value, (long)(TASKS + with_thread) * INCS);
	ck_assert_int_eq(ctr.trylock_busy, -EBUSY);
	ck_assert_int_eq(ctr.trylock_free, 0);
}

START_TEST(test_mutex_p1)
{
	check_counter(1, 0);
}
END_TEST

START_TEST(test_mutex_p2)
{
	check_counter(2, 0);
}
END_TEST

START_TEST(test_mutex_with_thread)
{
	check_counter(2, 1);
}
END_TEST

/* ---- no starvation: a task re-locking in a loop lets a waiter in ---------- */

struct starve {
	weft_mutex mu;
	_Atomic int waiter_got_it;
	_Atomic int hog_running;
	long hog_rounds;
	weft_wg wg;
};

static struct starve st;

static void hog(void *arg)
{
	(void)arg;
	atomic_store(&st.hog_running, 1);
	/* Re-lock until the waiter got its turn: without handoff this can
	 * go on forever (the hog always wins the barging race). */
	while (!atomic_load(&st.waiter_got_it)) {
		weft_mutex_lock(&st.mu);
		st.hog_rounds++;
		weft_mutex_unlock(&st.mu);
	}
	weft_wg_done(&st.wg);
}

static void waiter(void *arg)
{
	(void)arg;
	while (!atomic_load(&st.hog_running))
		weft_yield();
	weft_mutex_lock(&st.mu);
	atomic_store(&st.waiter_got_it, 1);
	weft_mutex_unlock(&st.mu);
	weft_wg_done(&st.wg);
}

static void starve_main(void *arg)
{
	(void)arg;
	weft_wg_add(&st.wg, 2);
	go_ok(hog, NULL);
	go_ok(waiter, NULL);
	weft_wg_wait(&st.wg);
}

START_TEST(test_mutex_no_starvation)
{
	memset(&st, 0, sizeof(st));
	run_main(2, starve_main, NULL);
	ck_assert_int_eq(atomic_load(&st.waiter_got_it), 1);
}
END_TEST

/* ---- wait group waits for exactly all ------------------------------------- */

#define WG_TASKS 1000

static _Atomic int wg_done_count;
static int wg_seen_at_wake;

static void wg_worker(void *arg)
{
	for (int i = 0; i < 3; i++)
		weft_yield();
	atomic_fetch_add(&wg_done_count, 1);
	weft_wg_done(arg);
}

static void wg_main(void *arg)
{
	weft_wg wg = WEFT_WG_INIT;

	(void)arg;
	weft_wg_add(&wg, WG_TASKS);
	for (int i = 0; i < WG_TASKS; i++)
		go_ok(wg_worker, &wg);
	weft_wg_wait(&wg);
	wg_seen_at_wake = atomic_load(&wg_done_count);
	weft_wg_wait(&wg); /* zero: returns at once */
}

START_TEST(test_wg_exact)
{
	atomic_store(&wg_done_count, 0);
	run_main(2, wg_main, NULL);
	ck_assert_int_eq(wg_seen_at_wake, WG_TASKS);
}
END_TEST

static Suite *sync_suite(void)
{
	Suite *s = suite_create("sync");
	TCase *tc = tcase_create("sync");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_mutex_p1);
	tcase_add_test(tc, test_mutex_p2);
	tcase_add_test(tc, test_mutex_with_thread);
	tcase_add_test(tc, test_mutex_no_starvation);
	tcase_add_test(tc, test_wg_exact);
	suite_add_tcase(s, tc);
	return s;
}

WEFT_CHECK_MAIN(sync_suite)

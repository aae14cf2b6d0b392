/*
 * check_sync.c - Check suite "sync": mutexes and wait groups.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

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

/* ---- wait groups serve plain threads as well as tasks ----------------------- */

#define WGM_WORKERS 200
#define WGM_MAX 8

/*
 * Round r: the main task arms the wait group (WGM_WORKERS) and opens the
 * round; every waiter - plain threads, tasks, and the main task - waits;
 * the workers finish only once every waiter is about to wait. Each waiter
 * checks, when woken, that all of the round's workers are done. The next
 * round opens once every waiter is back (Go's rule for reusing a wait
 * group).
 */
static struct {
	weft_wg wg;           /* what the waiters wait on */
	weft_wg waiters_done; /* the task waiters have returned */
	int nthreads, ntasks, rounds;
	_Atomic int open;     /* rounds opened by the main task */
	_Atomic int arrived;  /* waits begun, over all rounds */
	_Atomic int back;     /* waits returned, over all rounds */
	_Atomic int done;     /* workers finished, over all rounds */
	int seen[WGM_MAX];    /* done as each waiter saw it when woken last */
	_Atomic int early;    /* a waiter woke before its round's workers were done */
	pthread_t th[WGM_MAX];
} wgm;

static void wgm_wait(int i)
{
	for (int r = 0; r < wgm.rounds; r++) {
		int seen;

		while (atomic_load(&wgm.open) <= r)
			weft_yield(); /* sched_yield() on a plain thread */
		atomic_fetch_add(&wgm.arrived, 1);
		weft_wg_wait(&wgm.wg);
		seen = atomic_load(&wgm.done);
		if (seen < (r + 1) * WGM_WORKERS)
			atomic_store(&wgm.early, 1);
		wgm.seen[i] = seen;
		atomic_fetch_add(&wgm.back, 1);
	}
}

static void *wgm_thread(void *arg)
{
	wgm_wait((int)(intptr_t)arg);
	return NULL;
}

static void wgm_task(void *arg)
{
	wgm_wait((int)(intptr_t)arg);
	weft_wg_done(&wgm.waiters_done);
}

static void wgm_worker(void *arg)
{
	int round = (int)(intptr_t)arg;

	/* Let the waiters block first: the case under test. */
	while (atomic_load(&wgm.arrived) < (round + 1) * (wgm.nthreads + wgm.ntasks))
		weft_yield();
	for (int i = 0; i < 20; i++)
		weft_yield();
	atomic_fetch_add(&wgm.done, 1);
	weft_wg_done(&wgm.wg);
}

static void wgm_main(void *arg)
{
	int nwaiters = wgm.nthreads + wgm.ntasks;

	(void)arg;
	weft_wg_add(&wgm.waiters_done, wgm.ntasks);
	for (int i = 0; i < wgm.nthreads; i++)
		ck_assert_int_eq(pthread_create(&wgm.th[i], NULL, wgm_thread, (void *)(intptr_t)i),
				 0);
	for (int i = 0; i < wgm.ntasks; i++)
		go_ok(wgm_task, (void *)(intptr_t)(wgm.nthreads + i));
	for (int r = 0; r < wgm.rounds; r++) {
		while (atomic_load(&wgm.back) < r * nwaiters)
			weft_yield();
		weft_wg_add(&wgm.wg, WGM_WORKERS);
		atomic_store(&wgm.open, r + 1);
		for (int i = 0; i < WGM_WORKERS; i++)
			go_ok(wgm_worker, (void *)(intptr_t)r);
		weft_wg_wait(&wgm.wg); /* the main task waits among the others */
		if (atomic_load(&wgm.done) < (r + 1) * WGM_WORKERS)
			atomic_store(&wgm.early, 1);
	}
	weft_wg_wait(&wgm.waiters_done);
	weft_syscall_enter();
	for (int i = 0; i < wgm.nthreads; i++)
		pthread_join(wgm.th[i], NULL);
	weft_syscall_exit();
}

static void check_wg_mixed(int procs, int nthreads, int ntasks, int rounds)
{
	memset(&wgm, 0, sizeof(wgm));
	wgm.nthreads = nthreads;
	wgm.ntasks = ntasks;
	wgm.rounds = rounds;
	run_main(procs, wgm_main, NULL);
	ck_assert_int_eq(atomic_load(&wgm.early), 0);
	for (int i = 0; i < nthreads + ntasks; i++)
		ck_assert_int_eq(wgm.seen[i], rounds * WGM_WORKERS);
}

/* A plain thread waits on a wait group that tasks complete. */
START_TEST(test_wg_thread_waits)
{
	check_wg_mixed(2, 1, 0, 1);
}
END_TEST

/* Several plain threads and tasks wait on the same wait group, twice. */
START_TEST(test_wg_threads_and_tasks_wait)
{
	check_wg_mixed(2, 3, 3, 2);
	check_wg_mixed(1, 2, 2, 2);
}
END_TEST

/* A task waits on a wait group that plain threads complete. */
static struct {
	weft_wg wg;
	_Atomic int done;
	int seen;
	pthread_t th[2];
} wgp;

static void *wgp_thread(void *arg)
{
	struct timespec ts = { 0, 20 * 1000000L }; /* let the task block first */

	(void)arg;
	nanosleep(&ts, NULL);
	atomic_fetch_add(&wgp.done, 1);
	weft_wg_done(&wgp.wg);
	return NULL;
}

static void wgp_main(void *arg)
{
	(void)arg;
	weft_wg_add(&wgp.wg, 2);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_create(&wgp.th[i], NULL, wgp_thread, NULL), 0);
	weft_wg_wait(&wgp.wg);
	wgp.seen = atomic_load(&wgp.done);
	weft_syscall_enter();
	for (int i = 0; i < 2; i++)
		pthread_join(wgp.th[i], NULL);
	weft_syscall_exit();
}

START_TEST(test_wg_thread_done)
{
	memset(&wgp, 0, sizeof(wgp));
	run_main(2, wgp_main, NULL);
	ck_assert_int_eq(wgp.seen, 2);
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
	tcase_add_test(tc, test_wg_thread_waits);
	tcase_add_test(tc, test_wg_threads_and_tasks_wait);
	tcase_add_test(tc, test_wg_thread_done);
	suite_add_tcase(s, tc);
	return s;
}

WEFT_CHECK_MAIN(sync_suite)

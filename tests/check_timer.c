/*
 * check_timer.c - Check suite "timer": weft_now, weft_sleep and select
 * timeouts. Timing is asserted only as a lower bound (a sleep never returns
 * early); nothing here synchronises by sleeping: the order and counts are
 * what is checked.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "testutil.h"

#define MS 1000000LL
#define US 1000LL

static int procs_of(int i)
{
	return i % 2 + 1;
}

/* ---- sleep lower bound ------------------------------------------------- */

static _Atomic int early;
static weft_wg sleepers = WEFT_WG_INIT;

static void sleep_some(void *arg)
{
	int64_t ns = (int64_t)(intptr_t)arg;
	int64_t t0 = weft_now();

	weft_sleep(ns);
	if (weft_now() - t0 < ns)
		atomic_fetch_add(&early, 1);
	weft_wg_done(&sleepers);
}

static void main_lower_bound(void *arg)
{
	static const int64_t ds[] = { 1, 50 * US, 1 * MS, 3 * MS, 10 * MS };
	int64_t t0;

	(void)arg;
	/* The main task alone: every P idles, the sleeping M wakes it. */
	for (size_t i = 0; i < sizeof(ds) / sizeof(ds[0]); i++) {
		t0 = weft_now();
		weft_sleep(ds[i]);
		if (weft_now() - t0 < ds[i])
			ck_abort_msg("weft_sleep(%lld) returned after %lld ns", (long long)ds[i],
				     (long long)(weft_now() - t0));
	}
	/* Zero and negative durations return at once. */
	weft_sleep(0);
	weft_sleep(-5);
	/* Many at once, spread over the Ps. */
	weft_wg_add(&sleepers, 200);
	for (int i = 0; i < 200; i++)
		go_ok(sleep_some, (void *)(intptr_t)((i % 7) * 300 * US));
	weft_wg_wait(&sleepers);
}

START_TEST(test_sleep_lower_bound)
{
	atomic_store(&early, 0);
	run_main(procs_of(_i), main_lower_bound, NULL);
	ck_assert_int_eq(atomic_load(&early), 0);
}
END_TEST

/* ---- ordering -------------------------------------------------------------- */

#define NSLEEP 200

struct order {
	weft_wg wg;
	_Atomic int next;
	int woke[NSLEEP];     /* sleeper indices in wake order */
	int64_t late[NSLEEP]; /* now - deadline at wake (must be >= 0) */
	int64_t deadline[NSLEEP];
	int64_t armed[NSLEEP]; /* when it went to sleep */
};

static struct order ord;

static void ordered_sleeper(void *arg)
{
	int i = (int)(intptr_t)arg;
	int64_t left;

	ord.armed[i] = weft_now();
	left = ord.deadline[i] - ord.armed[i];
	weft_sleep(left);
	int k = atomic_fetch_add(&ord.next, 1);
	ord.woke[k] = i;
	ord.late[i] = weft_now() - ord.deadline[i];
	weft_wg_done(&ord.wg);
}

static void main_order(void *arg)
{
	int64_t base = weft_now() + 300 * MS; /* time for all to start, even under TSan */

	(void)arg;
	/* Deadlines in a scrambled spawn order, 200 us apart. */
	weft_wg_add(&ord.wg, NSLEEP);
	for (int k = 0; k < NSLEEP; k++) {
		int i = (k * 7) % NSLEEP; /* 7 is prime to NSLEEP */
		ord.deadline[i] = base + i * 200 * US;
		go_ok(ordered_sleeper, (void *)(intptr_t)i);
	}
	weft_wg_wait(&ord.wg);
}

/*
 * One P: one heap, so sleepers wake in deadline order. The order is owed
 * only between sleepers that were both asleep when the earlier one was due
 * (a sleeper whose task first ran after its deadline - the machine was busy
 * - has nothing to be ordered against).
 */
START_TEST(test_sleepers_wake_in_order)
{
	int pos[NSLEEP], ordered = 0;

	memset(&ord, 0, sizeof(ord));
	run_main(1, main_order, NULL);
	ck_assert_int_eq(atomic_load(&ord.next), NSLEEP);
	for (int k = 0; k < NSLEEP; k++)
		pos[ord.woke[k]] = k;
	for (int i = 0; i < NSLEEP; i++)
		for (int j = i + 1; j < NSLEEP; j++) {
			if (ord.armed[i] >= ord.deadline[i] || ord.armed[j] >= ord.deadline[i])
				continue;
			ordered++;
			if (pos[j] < pos[i])
				ck_abort_msg("sleeper %d (deadline +%lld us) woke before sleeper %d "
					     "(+%lld us)",
					     j, (long long)(ord.deadline[j] - ord.deadline[0]) / 1000, i,
					     (long long)(ord.deadline[i] - ord.deadline[0]) / 1000);
		}
	/* On a quiet machine nearly every pair counts; under load (TSan, a busy
	 * CI host) fewer, and how many is timing: only require that some did. */
	ck_assert_msg(ordered > 0, "no pair of sleepers was comparable");
	for (int i = 0; i < NSLEEP; i++)
		if (ord.late[i] < 0)
			ck_abort_msg("sleeper %d woke %lld ns early", i, (long long)-ord.late[i]);
}
END_TEST

/* Two Ps: every sleeper wakes, none early (two heaps order only per P). */
START_TEST(test_sleepers_two_procs)
{
	memset(&ord, 0, sizeof(ord));
	run_main(2, main_order, NULL);
	ck_assert_int_eq(atomic_load(&ord.next), NSLEEP);
	for (int i = 0; i < NSLEEP; i++)
		if (ord.late[i] < 0)
			ck_abort_msg("sleeper %d woke %lld ns early", i, (long long)-ord.late[i]);
}
END_TEST

/* ---- a yielding task does not starve a sleeper ------------------------------ */

static _Atomic int flag;

static void set_flag_later(void *arg)
{
	(void)arg;
	weft_sleep(2 * MS);
	atomic_store(&flag, 1);
}

static void main_yield_wait(void *arg)
{
	(void)arg;
	atomic_store(&flag, 0);
	go_ok(set_flag_later, NULL);
	/* On one P, only the timer check in weft_yield can end this loop. */
	while (!atomic_load(&flag))
		weft_yield();
}

START_TEST(test_yield_runs_timers)
{
	run_main(procs_of(_i), main_yield_wait, NULL);
	ck_assert_int_eq(atomic_load(&flag), 1);
}
END_TEST

/* ---- plain threads ------------------------------------------------------------ */

static void *thread_sleeps(void *arg)
{
	int64_t t0 = weft_now();

	(void)arg;
	weft_sleep(2 * MS);
	return (void *)(intptr_t)(weft_now() - t0 >= 2 * MS);
}

static void *thread_select_timeout(void *arg)
{
	weft_chan *c = arg;
	int v = 0;
	weft_case cs[1] = { { c, WEFT_RECV, &v, 99 } };
	int64_t t0 = weft_now();
	int r = weft_select(cs, 1, 2 * MS);

	return (void *)(intptr_t)(r == -ETIMEDOUT && weft_now() - t0 >= 2 * MS);
}

static void main_threads(void *arg)
{
	weft_chan *c = weft_chan_make(sizeof(int), 0);
	pthread_t a, b;
	void *ra, *rb;

	(void)arg;
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(pthread_create(&a, NULL, thread_sleeps, NULL), 0);
	ck_assert_int_eq(pthread_create(&b, NULL, thread_select_timeout, c), 0);
	weft_syscall_enter();
	pthread_join(a, &ra);
	pthread_join(b, &rb);
	weft_syscall_exit();
	ck_assert_int_eq((int)(intptr_t)ra, 1);
	ck_assert_int_eq((int)(intptr_t)rb, 1);
	/* The timed-out thread's waiter left the queue: nobody receives. */
	int v = 1;
	ck_assert_int_eq(weft_chan_try_send(c, &v), -EAGAIN);
	weft_chan_free(c);
}

START_TEST(test_plain_threads)
{
	run_main(2, main_threads, NULL);
}
END_TEST

/* ---- select timeouts ------------------------------------------------------------ */

static void main_select_timeout(void *arg)
{
	weft_chan *a = weft_chan_make(sizeof(int), 0);
	weft_chan *b = weft_chan_make(sizeof(int), 4);
	int va = 7, vb = 8;
	weft_case cs[3] = { { a, WEFT_RECV, &va, 99 }, { NULL, WEFT_SEND, NULL, 99 },
			    { b, WEFT_RECV, &vb, 99 } };
	int64_t t0;
	int r;

	(void)arg;
	t0 = weft_now();
	r = weft_select(cs, 3, 3 * MS);
	ck_assert_int_eq(r, -ETIMEDOUT);
	ck_assert_msg(weft_now() - t0 >= 3 * MS, "timed out after %lld ns",
		      (long long)(weft_now() - t0));
	ck_assert_int_eq(va, 7); /* untouched */
	ck_assert_int_eq(vb, 8);
	/* Its waiters are gone: nobody waits to receive on a. */
	ck_assert_int_eq(weft_chan_try_send(a, &va), -EAGAIN);
	/* A ready case still wins over a positive timeout. */
	int x = 5;
	ck_assert_int_eq(weft_chan_send(b, &x), 0);
	r = weft_select(cs, 3, 1000 * MS);
	ck_assert_int_eq(r, 2);
	ck_assert_int_eq(cs[2].result, 0);
	ck_assert_int_eq(vb, 5);
	/* No active case: the select just sleeps. */
	weft_case none[1] = { { NULL, WEFT_RECV, NULL, 99 } };
	t0 = weft_now();
	ck_assert_int_eq(weft_select(none, 1, 2 * MS), -ETIMEDOUT);
	ck_assert(weft_now() - t0 >= 2 * MS);
	/* A closed channel fires at once even with a timeout. */
	weft_chan_close(a);
	r = weft_select(cs, 1, 1000 * MS);
	ck_assert_int_eq(r, 0);
	ck_assert_int_eq(cs[0].result, -EPIPE);
	weft_chan_free(a);
	weft_chan_free(b);
}

START_TEST(test_select_timeout)
{
	run_main(procs_of(_i), main_select_timeout, NULL);
}
END_TEST

/* A sender that arrives while a select waits with a long timeout is served
 * by the channel, and the timer is disarmed. */
static void late_send(void *arg)
{
	int v = 1234;

	weft_sleep(1 * MS);
	weft_chan_send(arg, &v);
}

static void main_select_wins(void *arg)
{
	weft_chan *c = weft_chan_make(sizeof(int), 0);
	int v = 0;
	weft_case cs[1] = { { c, WEFT_RECV, &v, 99 } };

	(void)arg;
	go_ok(late_send, c);
	ck_assert_int_eq(weft_select(cs, 1, 10000 * MS), 0);
	ck_assert_int_eq(v, 1234);
	weft_chan_free(c);
}

START_TEST(test_select_channel_beats_timer)
{
	run_main(procs_of(_i), main_select_wins, NULL);
}
END_TEST

/*
 * Exactly once against the timer: a sender sends N values with pauses of
 * random length; the receiver selects with a timeout about as long, so
 * channel and timer race for many selects. Every value arrives once, in
 * order, whatever the mix of timeouts.
 */
#define RACE_N 3000

static void race_sender(void *arg)
{
	weft_chan *c = arg;
	uint32_t x = 12345;

	for (int i = 1; i <= RACE_N; i++) {
		x = x * 1103515245u + 12345u;
		if (x >> 30 == 0)
			weft_sleep((x >> 8) % (30 * US));
		else if (x >> 30 == 1)
			weft_yield();
		if (weft_chan_send(c, &i) != 0)
			ck_abort_msg("send %d failed", i);
	}
}

static void main_race(void *arg)
{
	weft_chan *c = weft_chan_make(sizeof(int), 0);
	int expect = 1, timeouts = 0;

	(void)arg;
	go_ok(race_sender, c);
	while (expect <= RACE_N) {
		int v = -1;
		weft_case cs[1] = { { c, WEFT_RECV, &v, 99 } };
		int r = weft_select(cs, 1, (expect % 5 + 1) * 5 * US);
		if (r == -ETIMEDOUT) {
			timeouts++;
			continue;
		}
		if (r != 0 || cs[0].result != 0 || v != expect)
			ck_abort_msg("select %d: result %d, value %d", r, cs[0].result, v);
		expect++;
	}
	weft_chan_free(c);
	(void)timeouts;
}

START_TEST(test_select_timeout_race)
{
	run_main(procs_of(_i), main_race, NULL);
}
END_TEST

/* ---- timers follow their P when the number of Ps changes ----------------------- */

static _Atomic int woken;
static weft_wg woken_wg = WEFT_WG_INIT;

static void sleep_then_count(void *arg)
{
	weft_sleep((int64_t)(intptr_t)arg);
	atomic_fetch_add(&woken, 1);
	weft_wg_done(&woken_wg);
}

static void main_set_procs(void *arg)
{
	(void)arg;
	atomic_store(&woken, 0);
	weft_wg_add(&woken_wg, 20 * 50);
	for (int round = 0; round < 20; round++) {
		for (int i = 0; i < 50; i++)
			go_ok(sleep_then_count, (void *)(intptr_t)((i % 10) * 200 * US));
		weft_yield();
		ck_assert_int_ge(weft_set_procs(round % 2 ? 2 : 1), 1);
	}
	weft_set_procs(2);
	weft_wg_wait(&woken_wg);
}

START_TEST(test_timers_survive_set_procs)
{
	run_main(2, main_set_procs, NULL);
	ck_assert_int_eq(atomic_load(&woken), 20 * 50);
}
END_TEST

/* ---- many Ps: the mask of Ps with timers (timer.c, "Finding the earliest") -- */

static _Atomic int busy_flag, busy_late;
static weft_wg busy_wg = WEFT_WG_INIT;

/* Spins with no scheduling point until the sleeper's flag: only another
 * M can fire a timer on this P meanwhile (its own M never looks). */
static void spin_until_flag(void *arg)
{
	int64_t give_up = weft_now() + 5000 * MS;

	(void)arg;
	while (!atomic_load(&busy_flag))
		if (weft_now() > give_up) {
			atomic_store(&busy_late, 1);
			break;
		}
	weft_wg_done(&busy_wg);
}

/* Spawns the spinner, which its P runs next while our timer sits on
 * that P's heap (unless another P steals it first: then it is the idle
 * case, also checked). */
static void sleep_beside_spinner(void *arg)
{
	(void)arg;
	go_ok(spin_until_flag, NULL);
	weft_sleep(1 * MS);
	atomic_store(&busy_flag, 1);
	weft_wg_done(&busy_wg);
}

static void main_busy_owner(void *arg)
{
	(void)arg;
	for (int round = 0; round < 20; round++) {
		atomic_store(&busy_flag, 0);
		weft_wg_add(&busy_wg, 2);
		go_ok(sleep_beside_spinner, NULL);
		weft_wg_wait(&busy_wg);
		ck_assert_int_eq(atomic_load(&busy_late), 0);
	}
}

/*
 * A timer on the heap of a P whose task never schedules fires anyway (2
 * and 64 Ps). Before sysmon looked for overdue timers, the other Ps had
 * often parked before the timer was armed, nobody held the sleeper role
 * for it, and it waited for the spinner's 5 s to run out: about one run
 * in four of this test hung (found at 130 Ps, then seen at 2).
 */
START_TEST(test_timer_on_busy_p)
{
	atomic_store(&busy_late, 0);
	run_main(_i ? 64 : 2, main_busy_owner, NULL);
	ck_assert_int_eq(atomic_load(&busy_late), 0);
}
END_TEST

static void main_many_procs(void *arg)
{
	(void)arg;
	/* Sleepers over every P, across three words of the mask, while Ps
	 * go idle with and without timers and the count changes. */
	atomic_store(&woken, 0);
	weft_wg_add(&woken_wg, 10 * 200);
	for (int round = 0; round < 10; round++) {
		for (int i = 0; i < 200; i++)
			go_ok(sleep_then_count, (void *)(intptr_t)((i % 10) * 100 * US));
		weft_sleep(300 * US);
		ck_assert_int_ge(weft_set_procs(round % 2 ? 130 : 65), 1);
	}
	weft_wg_wait(&woken_wg);
}

/* 130 Ps on a machine of a few cores: every timer fires. */
START_TEST(test_timers_many_procs)
{
	run_main(130, main_many_procs, NULL);
	ck_assert_int_eq(atomic_load(&woken), 10 * 200);
}
END_TEST

static Suite *timer_suite(void)
{
	Suite *s = suite_create("timer");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_sleep_lower_bound, 0, 2);
	tcase_add_test(tc, test_sleepers_wake_in_order);
	tcase_add_test(tc, test_sleepers_two_procs);
	tcase_add_loop_test(tc, test_yield_runs_timers, 0, 2);
	tcase_add_test(tc, test_plain_threads);
	tcase_add_loop_test(tc, test_select_timeout, 0, 2);
	tcase_add_loop_test(tc, test_select_channel_beats_timer, 0, 2);
	tcase_add_loop_test(tc, test_select_timeout_race, 0, 2);
	tcase_add_test(tc, test_timers_survive_set_procs);
	tcase_add_loop_test(tc, test_timer_on_busy_p, 0, 2);
	tcase_add_test(tc, test_timers_many_procs);
	suite_add_tcase(s, tc);
	return s;
}

WEFT_CHECK_MAIN(timer_suite)

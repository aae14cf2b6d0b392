/*
 * check_syscall.c - Check suite "syscall": a task blocked in the kernel
 * between weft_syscall_enter/exit does not hold up the others.
 *
 * With WEFT_PROCS=1, task R blocks in read() on a pipe that only task W
 * writes to, after W has made progress. If the P were not handed off
 * while R is in the kernel, W could never run and the case would hang
 * until Check's timeout fails it.
 */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

struct pipe_case {
	int fd[2];
	_Atomic long progress;
	_Atomic int reader_in_kernel;
	char got;
	ssize_t nread;
	weft_wg wg;
};

static void reader(void *arg)
{
	struct pipe_case *c = arg;

	atomic_store(&c->reader_in_kernel, 1);
	weft_syscall_enter();
	c->nread = read(c->fd[0], &c->got, 1);
	weft_syscall_exit();
	weft_wg_done(&c->wg);
}

static void writer(void *arg)
{
	struct pipe_case *c = arg;
	char x = 'x';

	/* Progress made while the reader sits in read(). */
	for (int i = 0; i < 1000; i++) {
		atomic_fetch_add(&c->progress, 1);
		weft_yield();
	}
	ck_assert_int_eq(atomic_load(&c->reader_in_kernel), 1);
	ck_assert_int_eq(write(c->fd[1], &x, 1), 1);
	weft_wg_done(&c->wg);
}

static void pipe_main(void *arg)
{
	struct pipe_case *c = arg;

	weft_wg_add(&c->wg, 2);
	go_ok(reader, c);
	weft_yield(); /* the reader goes first and blocks */
	go_ok(writer, c);
	weft_wg_wait(&c->wg);
}

START_TEST(test_handoff_p1)
{
	struct pipe_case c;

	memset(&c, 0, sizeof(c));
	ck_assert_int_eq(pipe(c.fd), 0);
	run_main(1, pipe_main, &c);
	ck_assert_int_eq(c.nread, 1);
	ck_assert_int_eq(c.got, 'x');
	ck_assert_int_eq(atomic_load(&c.progress), 1000);
	close(c.fd[0]);
	close(c.fd[1]);
}
END_TEST

/* Many short syscalls from several tasks: the fast path keeps the P. */
#define SHORT_CALLS 20000

static _Atomic long short_done;

static void short_calls(void *arg)
{
	weft_wg *wg = arg;

	for (int i = 0; i < SHORT_CALLS; i++) {
		weft_syscall_enter();
		(void)getppid();
		weft_syscall_exit();
		if (i % 64 == 0)
			weft_yield();
	}
	atomic_fetch_add(&short_done, 1);
	weft_wg_done(wg);
}

static void short_main(void *arg)
{
	weft_wg wg = WEFT_WG_INIT;

	(void)arg;
	weft_wg_add(&wg, 8);
	for (int i = 0; i < 8; i++)
		go_ok(short_calls, &wg);
	weft_wg_wait(&wg);
}

START_TEST(test_short_calls)
{
	atomic_store(&short_done, 0);
	run_main(2, short_main, NULL);
	ck_assert_int_eq(atomic_load(&short_done), 8);
}
END_TEST

/* A task left in a blocking read when weft_main ends is abandoned, and
 * weft_main returns (and can run again). */
static int stuck_fd[2];

static void stuck_reader(void *arg)
{
	char c;
	(void)arg;
	weft_syscall_enter();
	(void)read(stuck_fd[0], &c, 1);
	weft_syscall_exit();
	ck_abort_msg("an abandoned task ran after its syscall");
}

static void leave_stuck(void *arg)
{
	(void)arg;
	go_ok(stuck_reader, NULL);
	for (int i = 0; i < 100; i++)
		weft_yield();
}

START_TEST(test_abandon_in_syscall)
{
	char x = 'x';

	ck_assert_int_eq(pipe(stuck_fd), 0);
	run_main(1, leave_stuck, NULL);
	run_main(2, leave_stuck, NULL);
	/* Release the abandoned readers: their threads must exit quietly. */
	ck_assert_int_eq(write(stuck_fd[1], &x, 1), 1);
	ck_assert_int_eq(write(stuck_fd[1], &x, 1), 1);
	run_main(1, short_main, NULL);
}
END_TEST

static Suite *syscall_suite(void)
{
	Suite *s = suite_create("syscall");
	TCase *tc = tcase_create("syscall");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_handoff_p1);
	tcase_add_test(tc, test_short_calls);
	tcase_add_test(tc, test_abandon_in_syscall);
	suite_add_tcase(s, tc);
	return s;
}

WEFT_CHECK_MAIN(syscall_suite)

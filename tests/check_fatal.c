/*
 * check_fatal.c - Check suite "fatal": the runtime's fatal errors, seen
 * from outside. Each case runs a child program from tests/progs (path in
 * WEFT_TEST_PROGS), reads its stderr and checks the exit status (2) and
 * the message: deadlock with each blocked task named, stack overflow with
 * the task and the stack size (a large frame too, never a neighbour's
 * stack overwritten; a NULL write is no overflow), a negative wait-group
 * counter.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

extern char **environ;

struct child {
	int status; /* exit status, or 128 + signal */
	char out[16384];
};

static void run_child2(struct child *c, const char *prog, const char *arg, const char *arg2,
		       const char *env)
{
	const char *dir = getenv("WEFT_TEST_PROGS");
	char path[4096];
	char *argv[4];
	int pfd[2], st;
	pid_t pid;
	posix_spawn_file_actions_t fa;
	size_t len = 0;
	ssize_t n;

	ck_assert_msg(dir != NULL, "WEFT_TEST_PROGS is not set (run through make check)");
	snprintf(path, sizeof(path), "%s/%s", dir, prog);
	argv[0] = path;
	argv[1] = (char *)arg;
	argv[2] = arg ? (char *)arg2 : NULL;
	argv[3] = NULL;
	if (env)
		putenv((char *)env);
	ck_assert_int_eq(pipe(pfd), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 2);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
	posix_spawn_file_actions_addclose(&fa, pfd[0]);
	ck_assert_int_eq(posix_spawn(&pid, path, &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	close(pfd[1]);
	while ((n = read(pfd[0], c->out + len, sizeof(c->out) - 1 - len)) > 0)
		len += (size_t)n;
	c->out[len] = 0;
	close(pfd[0]);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	c->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void run_child(struct child *c, const char *prog, const char *arg, const char *env)
{
	run_child2(c, prog, arg, NULL, env);
}

/* Run a child that must die of a fatal error: exit status 2, and every one
 * of the NULL-terminated messages in its output. */
static void expect_fatal(const char *prog, const char *arg, const char *env, ...)
{
	struct child c;
	const char *msg;
	va_list ap;

	run_child(&c, prog, arg, env);
	ck_assert_msg(c.status == 2, "status %d, output:\n%s", c.status, c.out);
	va_start(ap, env);
	while ((msg = va_arg(ap, const char *)))
		if (!strstr(c.out, msg))
			ck_abort_msg("missing \"%s\" in output:\n%s", msg, c.out);
	va_end(ap);
}

START_TEST(test_deadlock_main)
{
	expect_fatal("deadlock", "wg", NULL, "weft: fatal: all tasks are asleep - deadlock!",
		     "task 1 (main_wg): blocked on wait group", NULL);
}
END_TEST

START_TEST(test_deadlock_many)
{
	struct child c;
	const char *p;
	int workers = 0;

	run_child(&c, "deadlock", "many", NULL);
	ck_assert_msg(c.status == 2, "status %d, output:\n%s", c.status, c.out);
	ck_assert_msg(strstr(c.out, "(main_many): blocked on wait group"), "output:\n%s", c.out);
	for (p = c.out; (p = strstr(p, "(stuck_worker): blocked on wait group")); p++)
		workers++;
	ck_assert_msg(workers == 3, "%d workers listed, output:\n%s", workers, c.out);
}
END_TEST

START_TEST(test_no_deadlock_with_thread)
{
	struct child c;

	run_child(&c, "deadlock", "thread", NULL);
	ck_assert_msg(c.status == 0, "status %d, output:\n%s", c.status, c.out);
	ck_assert_msg(strstr(c.out, "woken by a plain thread"), "output:\n%s", c.out);
}
END_TEST

/* Every P idles while a task sleeps or sits in a syscall: no deadlock. */
START_TEST(test_no_deadlock_sleeper)
{
	static const char *const modes[] = { "sleeper", "syscall" };
	struct child c;

	for (int i = 0; i < 2; i++) {
		run_child(&c, "deadlock", modes[i], _i ? "WEFT_PROCS=2" : "WEFT_PROCS=1");
		ck_assert_msg(c.status == 0, "%s: status %d, output:\n%s", modes[i], c.status,
			      c.out);
		ck_assert_msg(strstr(c.out, i ? "received 43" : "received 42"), "%s: output:\n%s",
			      modes[i], c.out);
	}
}
END_TEST

/* The detector still fires once the last sleeper is gone. */
START_TEST(test_deadlock_after_sleeper)
{
	expect_fatal("deadlock", "after", "WEFT_PROCS=2", "all tasks are asleep - deadlock!",
		     "task 1 (main_after): blocked on chan receive", NULL);
}
END_TEST

/* A plain thread that waits on a wait group may still wake a task: no
 * deadlock, even though it existed before weft_main(). */
START_TEST(test_no_deadlock_wg_thread)
{
	struct child c;

	run_child(&c, "deadlock", "wgthread", "WEFT_PROCS=2");
	ck_assert_msg(c.status == 0, "status %d, output:\n%s", c.status, c.out);
	ck_assert_msg(strstr(c.out, "woken by a thread that waited"), "output:\n%s", c.out);
}
END_TEST

/* ... but once it is gone, tasks waiting on a wait group are deadlocked. */
START_TEST(test_deadlock_wg_after_thread)
{
	expect_fatal("deadlock", "wgafter", "WEFT_PROCS=2", "all tasks are asleep - deadlock!",
		     "task 1 (main_wgafter): blocked on wait group", NULL);
}
END_TEST

/* An M blocked in epoll_wait for tasks that no longer wait on any fd must
 * not hold the deadlock check off for ever (it used to hang). */
START_TEST(test_deadlock_after_net_wait)
{
	expect_fatal("deadlock", "netclose", "WEFT_PROCS=2", "all tasks are asleep - deadlock!",
		     "task 1 (main_netclose): blocked on chan receive", NULL);
}
END_TEST

/* With every fd number taken, the check must still see the deadlock: it
 * opened /proc/self/stat each time, got EMFILE, and the program hung. */
START_TEST(test_deadlock_fd_table_full)
{
	expect_fatal("deadlock", "fdfull", "WEFT_PROCS=2", "all tasks are asleep - deadlock!",
		     "blocked on wait group", NULL);
}
END_TEST

START_TEST(test_deadlock_chan)
{
	expect_fatal("deadlock", "chan", "WEFT_PROCS=1", "all tasks are asleep - deadlock!",
		     "task 1 (main_chan): blocked on chan receive", NULL);
}
END_TEST

/* ---- false deadlock reports --------------------------------------------------- */

/* A thread made before weft_main may call in at any time: while it
 * exists, a blocked main task is not a deadlock (it was reported). */
START_TEST(test_no_deadlock_prethread)
{
	struct child c;

	run_child(&c, "deadlock", "prethread", "WEFT_PROCS=2");
	ck_assert_msg(c.status == 0, "status %d, output:\n%s", c.status, c.out);
	ck_assert_msg(strstr(c.out, "received 42"), "output:\n%s", c.out);
}
END_TEST

/* Signals every 50 us wake sysmon's idle wait early, at start-up too: no
 * false report (it came 9 times in 50 traced runs, listing a runnable
 * task or none). Traced and not, several runs each. */
START_TEST(test_no_deadlock_itimer)
{
	char env[300];
	struct child c;

	snprintf(env, sizeof(env), "WEFT_TRACE=%s/weft-itimer-%d.wt",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
	for (int i = 0; i < 10; i++) {
		run_child(&c, "deadlock", "itimer", _i ? env : "WEFT_PROCS=2");
		ck_assert_msg(c.status == 0, "run %d: status %d, output:\n%s", i, c.status, c.out);
	}
	unlink(strchr(env, '=') + 1);
	unsetenv("WEFT_TRACE");
}
END_TEST

/* WEFT_TRACE naming a FIFO: opening it waits for a reader, before the main
 * task exists. That wait is no deadlock, however long (sysmon checked at
 * 100 ms and reported one with no task at all). The reader comes 300 ms
 * after the child is in its open: the slowness is what is tested. */
START_TEST(test_no_deadlock_slow_trace_open)
{
	const char *dir = getenv("WEFT_TEST_PROGS");
	char fifo[256], prog[4096], buf[4096];
	char *argv[] = { prog, NULL };
	pid_t pid;
	int st;

	ck_assert_msg(dir != NULL, "WEFT_TEST_PROGS is not set (run through make check)");
	snprintf(prog, sizeof(prog), "%s/envcheck", dir);
	snprintf(fifo, sizeof(fifo), "%s/weft-fifo-%d", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
		 (int)getpid());
	unlink(fifo);
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	setenv("WEFT_TRACE", fifo, 1);
	ck_assert_int_eq(posix_spawn(&pid, prog, NULL, NULL, argv, environ), 0);
	unsetenv("WEFT_TRACE");
	struct timespec ts = { 0, 300000000 };
	nanosleep(&ts, NULL);
	/* Still waiting in its open (a false deadlock report killed it). */
	if (waitpid(pid, &st, WNOHANG) == pid) {
		unlink(fifo);
		ck_abort_msg("envcheck with WEFT_TRACE a FIFO died while opening it: status %d", st);
	}
	int fd = open(fifo, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	close(fd);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	unlink(fifo);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "envcheck with WEFT_TRACE a FIFO: status %d",
		      st);
}
END_TEST

/* A NULL channel is Go's nil channel: a send blocks for ever (here, the
 * only task: a deadlock named as such), a close is a misuse named by
 * its call (both were a bare SIGSEGV). */
START_TEST(test_nil_chan_send)
{
	expect_fatal("deadlock", "nilsend", "WEFT_PROCS=1", "all tasks are asleep - deadlock!",
		     "task 1 (main_nilsend): blocked on chan send", NULL);
}
END_TEST

START_TEST(test_nil_chan_close)
{
	expect_fatal("deadlock", "nilclose", "WEFT_PROCS=1", "weft_chan_close of a NULL channel",
		     NULL);
}
END_TEST

/* weft.h allows select on plain threads: an empty one blocks there as it
 * does in a task (it was a "blocking call outside a task" fatal). */
START_TEST(test_empty_select_thread)
{
	struct child c;

	run_child(&c, "deadlock", "selthread", "WEFT_PROCS=2");
	ck_assert_msg(c.status == 0, "status %d, output:\n%s", c.status, c.out);
	ck_assert_msg(strstr(c.out, "the thread sleeps in its empty select"), "output:\n%s", c.out);
}
END_TEST

START_TEST(test_chan_free_busy)
{
	expect_fatal("deadlock", "free", "WEFT_PROCS=1", "weft: fatal: weft_chan_free: channel",
		     "freed while tasks wait on it", NULL);
}
END_TEST

START_TEST(test_stack_overflow)
{
	expect_fatal("overflow", NULL, "WEFT_STACK=64k", "weft: fatal: task ",
		     "(runaway_recursion) overflowed its 65536-byte stack", NULL);
}
END_TEST

/* A 60 KiB frame - less than the 64 KiB that stack-clash protection may
 * leave unprobed - compiled without the protection, run off a 32 KiB
 * stack: its far end must fault in the gap below the stack and be named,
 * not land in the stack mapped below it (the victim's canary: exit 3). */
START_TEST(test_stack_frame_gap)
{
	expect_fatal("overflow-noprobe", "frame", "WEFT_STACK=32k", "weft: fatal: task ",
		     "(big_frame) overflowed its 32768-byte stack", "bytes below it", NULL);
}
END_TEST

/* A frame that jumps its own gap and the victim's stack (without writing
 * it) and faults in the gap below the victim: the stack pointer it moved
 * there names big_frame's overflow, with the advice to build with the
 * protection. */
START_TEST(test_stack_frame_jump)
{
	struct child c;

	run_child(&c, "overflow-noprobe", "jump", NULL);
	if (c.status == 77) {
		fprintf(stderr, "test_stack_frame_jump: %s", c.out);
		return;
	}
	ck_assert_msg(c.status == 2, "status %d, output:\n%s", c.status, c.out);
	ck_assert_msg(strstr(c.out, "(big_frame) overflowed its 32768-byte stack") &&
			      strstr(c.out, "build with -fstack-clash-protection"),
		      "output:\n%s", c.out);
}
END_TEST

/* A 200 KiB frame jumps any gap; built with the stack-clash protection
 * weft.pc recommends (the test programs are), its probes fault in the gap. */
START_TEST(test_stack_frame_probed)
{
	const char *sc = getenv("WEFT_STACK_CLASH_CFLAGS");

	if (!sc || !*sc) {
		fprintf(stderr, "test_stack_frame_probed: the compiler has no "
				"-fstack-clash-protection; nothing to check\n");
		return;
	}
	expect_fatal("overflow", "huge", "WEFT_STACK=64k", "weft: fatal: task ",
		     "(big_frame) overflowed its 65536-byte stack", NULL);
}
END_TEST

/*
 * Past the budget of stacks with a mapping of their own (WEFT_STACK_MAPPINGS=0:
 * none), stacks are slots of slabs (runtime/stack.c); an overflow there is
 * named too. The child checks that 2000 blocked tasks took fewer than 1000
 * mappings (exit 4 otherwise: each stack had its own two) and skips (77)
 * on kernels without guard regions.
 */
START_TEST(test_stack_overflow_slab)
{
	struct child c;

	run_child(&c, "overflow", "slab", "WEFT_STACK=64k");
	if (c.status == 77) {
		fprintf(stderr, "test_stack_overflow_slab: %s", c.out);
		return;
	}
	ck_assert_msg(c.status == 2, "status %d, output:\n%s", c.status, c.out);
	ck_assert_msg(strstr(c.out, "weft: fatal: task ") &&
			      strstr(c.out, "(runaway_recursion) overflowed its 65536-byte stack"),
		      "output:\n%s", c.out);
}
END_TEST

/* The 60 KiB frame of test_stack_frame_gap on a slab stack: its far end
 * faults in the slot's guard region, never in the slot below. */
START_TEST(test_stack_frame_gap_slab)
{
	struct child c;

	run_child(&c, "overflow-noprobe", "slabframe", NULL);
	if (c.status == 77) {
		fprintf(stderr, "test_stack_frame_gap_slab: %s", c.out);
		return;
	}
	ck_assert_msg(c.status == 2, "status %d, output:\n%s", c.status, c.out);
	ck_assert_msg(strstr(c.out, "(big_frame) overflowed its 32768-byte stack") &&
			      strstr(c.out, "bytes below it"),
		      "output:\n%s", c.out);
}
END_TEST

/* A NULL write in a task is an ordinary crash, never called an overflow. */
START_TEST(test_null_not_overflow)
{
	const char *san = getenv("WEFT_SAN_CFLAGS");
	struct child c;

	run_child(&c, "overflow", "null", NULL);
	ck_assert_msg(!strstr(c.out, "overflowed"), "a NULL write named an overflow:\n%s", c.out);
	ck_assert_msg(!strstr(c.out, "survived"), "the NULL write did not fault:\n%s", c.out);
	/* A sanitizer's SEGV handler reports it and exits 1; without one the
	 * program dies of the signal, as it would without weft. */
	if (!san || !*san)
		ck_assert_msg(c.status == 128 + SIGSEGV, "status %d, output:\n%s", c.status, c.out);
	else
		ck_assert_msg(c.status != 0 && c.status != 2, "status %d, output:\n%s", c.status,
			      c.out);
}
END_TEST

START_TEST(test_wg_negative)
{
	expect_fatal("wgneg", NULL, NULL, "weft: fatal: negative wait group counter", NULL);
}
END_TEST

START_TEST(test_mutex_unlock_unlocked)
{
	expect_fatal("wgneg", "unlock", NULL, "weft: fatal: weft_mutex_unlock of mutex",
		     "which is not locked", NULL);
}
END_TEST

/* ---- configuration errors: named, never silent ------------------------------- */

/* The README's hello world with @env set: it must exit 1 (weft_main
 * returned -EINVAL) and say each of the NULL-terminated messages. */
static void expect_config_error(const char *arg, const char *arg2, const char *env, ...)
{
	struct child c;
	const char *msg;
	va_list ap;

	run_child2(&c, "envcheck", arg, arg2, env);
	va_start(ap, env);
	while ((msg = va_arg(ap, const char *)))
		if (!strstr(c.out, msg))
			ck_abort_msg("%s: missing \"%s\" in output:\n%s", env, msg, c.out);
	va_end(ap);
}

START_TEST(test_bad_procs)
{
	static const char *bad[] = { "WEFT_PROCS=zero", "WEFT_PROCS=0", "WEFT_PROCS=-3",
				     "WEFT_PROCS=100000", "WEFT_PROCS=2x" };
	char want[64];

	snprintf(want, sizeof(want), "a whole number from 1 to %d", WEFT_MAX_PROCS);
	expect_config_error(NULL, NULL, bad[_i], bad[_i], want, "status=-22", NULL);
}
END_TEST

START_TEST(test_bad_stack)
{
	static const char *bad[] = { "WEFT_STACK=12q", "WEFT_STACK=17592186044416M",
				     "WEFT_STACK=99999999999999999999", "WEFT_STACK=-1",
				     "WEFT_STACK=1T" };

	expect_config_error(NULL, NULL, bad[_i], bad[_i], "WEFT_STACK", "status=-22", NULL);
}
END_TEST

/* Bad trace settings refuse the trace with the variable named; the
 * program runs on untraced. Good ones (a G suffix among them) work. */
START_TEST(test_bad_trace_env)
{
	static const char *bad[] = { "WEFT_TRACE_MAX_MEM=abc", "WEFT_TRACE_MAX_MEM=0",
				     "WEFT_TRACE_MAX_MEM=-1", "WEFT_TRACE_MAX_MEM=1Q",
				     "WEFT_TRACE_LEVEL=abc", "WEFT_TRACE_LEVEL=99",
				     "WEFT_TRACE_LEVEL=3x" };
	char path[256];

	snprintf(path, sizeof(path), "%s/weft-envcheck-%d.wt",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
	expect_config_error("trace", path, bad[_i], bad[_i], "trace_start=-22", "status=0", NULL);
	unlink(path);
}
END_TEST

START_TEST(test_good_trace_env)
{
	static const char *good[] = { "WEFT_TRACE_MAX_MEM=1G", "WEFT_TRACE_MAX_MEM=16M",
				      "WEFT_TRACE_LEVEL=3" };
	char path[256];

	snprintf(path, sizeof(path), "%s/weft-envcheck-%d.wt",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
	expect_config_error("trace", path, good[_i], "trace_start=0", "status=0", NULL);
	unlink(path);
}
END_TEST

/* weft_trace_start before weft_main: -EINVAL (weft.h), not a file the
 * reader cannot read ("TASK_START without a P"). */
START_TEST(test_trace_before_main)
{
	char path[256];
	struct stat st;

	snprintf(path, sizeof(path), "%s/weft-envcheck-before-%d.wt",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
	unlink(path);
	expect_config_error("before", path, "WEFT_ENVCHECK=1", "before_main=-22", "status=0",
			    NULL);
	ck_assert_msg(stat(path, &st) != 0, "weft_trace_start before weft_main created %s", path);
}
END_TEST

/* ---- calls that would wait for ever while the world is stopped ---------------- */

START_TEST(test_stw_misuse)
{
	static const char *mode[] = { "sleep", "chan", "mutex", "wg", "select",
				      "nested", "setprocs", "trace" };
	static const char *call[] = { "weft_sleep", "weft_chan_recv", "weft_mutex_lock",
				      "weft_wg_wait", "weft_select", "weft_stop_the_world (nested)",
				      "weft_set_procs", "weft_trace_start" };
	char want[128];

	snprintf(want, sizeof(want), "weft: fatal: %s while the world is stopped", call[_i]);
	expect_fatal("stwmisuse", mode[_i], "WEFT_PROCS=2", "stopped", want, NULL);
}
END_TEST

/* A marked syscall while stopped (writing a snapshot) works (it hung). */
START_TEST(test_stw_syscall)
{
	struct child c;

	run_child(&c, "stwmisuse", "syscall", "WEFT_PROCS=2");
	ck_assert_msg(c.status == 0, "status %d, output:\n%s", c.status, c.out);
	ck_assert_msg(strstr(c.out, "written while stopped") && strstr(c.out, "done"),
		      "output:\n%s", c.out);
}
END_TEST

static Suite *fatal_suite(void)
{
	Suite *s = suite_create("fatal");
	TCase *tc = tcase_create("fatal");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_deadlock_main);
	tcase_add_test(tc, test_deadlock_many);
	tcase_add_test(tc, test_no_deadlock_with_thread);
	tcase_add_test(tc, test_deadlock_chan);
	tcase_add_test(tc, test_deadlock_after_net_wait);
	tcase_add_test(tc, test_deadlock_fd_table_full);
	tcase_add_loop_test(tc, test_no_deadlock_sleeper, 0, 2);
	tcase_add_test(tc, test_deadlock_after_sleeper);
	tcase_add_test(tc, test_no_deadlock_wg_thread);
	tcase_add_test(tc, test_deadlock_wg_after_thread);
	tcase_add_test(tc, test_chan_free_busy);
	tcase_add_test(tc, test_no_deadlock_prethread);
	tcase_add_loop_test(tc, test_no_deadlock_itimer, 0, 2);
	tcase_add_test(tc, test_no_deadlock_slow_trace_open);
	tcase_add_test(tc, test_nil_chan_send);
	tcase_add_test(tc, test_nil_chan_close);
	tcase_add_test(tc, test_empty_select_thread);
	tcase_add_test(tc, test_stack_overflow);
	tcase_add_test(tc, test_stack_frame_gap);
	tcase_add_test(tc, test_stack_frame_jump);
	tcase_add_test(tc, test_stack_frame_probed);
	tcase_add_test(tc, test_null_not_overflow);
	tcase_add_test(tc, test_stack_overflow_slab);
	tcase_add_test(tc, test_stack_frame_gap_slab);
	tcase_add_test(tc, test_wg_negative);
	tcase_add_test(tc, test_mutex_unlock_unlocked);
	tcase_add_loop_test(tc, test_bad_procs, 0, 5);
	tcase_add_loop_test(tc, test_bad_stack, 0, 5);
	tcase_add_loop_test(tc, test_bad_trace_env, 0, 7);
	tcase_add_loop_test(tc, test_good_trace_env, 0, 3);
	tcase_add_test(tc, test_trace_before_main);
	tcase_add_loop_test(tc, test_stw_misuse, 0, 8);
	tcase_add_test(tc, test_stw_syscall);
	suite_add_tcase(s, tc);
	return s;
}

WEFT_CHECK_MAIN(fatal_suite)

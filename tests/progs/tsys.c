/*
 * tsys.c - a traced program whose Ps change hands: blocking syscalls that
 * the monitor hands off, stops of the world that catch a running task and
 * a task in a syscall, and a change of the number of Ps. For the tests of
 * weft-trace's exports (tests/tool_go.test), which must keep a valid
 * picture of the Ps through all of them.
 *
 *   tsys FILE
 *
 * In order, between weft_trace_start() and weft_trace_stop():
 *   1. the main task blocks in read() on a pipe that only a task spawned
 *      just before can write to: at one P that task runs only once the
 *      monitor hands the P off (SYSCALL_HANDOFF, then an exit without
 *      its P);
 *   2. a helper blocks in read() on a second pipe; the main task stops
 *      and restarts the world three times while a spinner task runs (at
 *      two Ps it is caught running), then writes the helper's byte: the
 *      stop took the helper's P, so its syscall exit finds the P gone;
 *   3. weft_set_procs(1), then back to the number of Ps it had.
 * Nothing here measures time; the order of operations makes the shape.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <weft.h>

static const char *path;
static int pa[2], pb[2];
static _Atomic int spin_stop, spin_running;
static weft_wg wg = WEFT_WG_INIT;

static void die(const char *what)
{
	fprintf(stderr, "tsys: %s\n", what);
	exit(1);
}

static void writer(void *a)
{
	if (write(*(int *)a, "x", 1) != 1)
		die("write");
}

/* Blocks in read() until the main task writes to pb. */
static void reader(void *a)
{
	char c;
	(void)a;
	weft_syscall_enter();
	ssize_t r = read(pb[0], &c, 1);
	weft_syscall_exit();
	if (r != 1)
		die("read");
	weft_wg_done(&wg);
}

static void spinner(void *a)
{
	(void)a;
	while (!atomic_load(&spin_stop)) {
		atomic_store(&spin_running, 1);
		weft_safepoint();
	}
	weft_wg_done(&wg);
}

static void main_task(void *a)
{
	char c;
	(void)a;
	if (pipe(pa) != 0 || pipe(pb) != 0)
		die("pipe");
	if (weft_trace_start(path) != 0)
		die("weft_trace_start failed");
	/* 1 */
	if (weft_go(writer, &pa[1]) != 0)
		die("weft_go");
	weft_syscall_enter();
	ssize_t r = read(pa[0], &c, 1);
	weft_syscall_exit();
	if (r != 1)
		die("read");
	/* 2 */
	weft_wg_add(&wg, 2);
	if (weft_go(reader, NULL) != 0 || weft_go(spinner, NULL) != 0)
		die("weft_go");
	for (int i = 0; i < 3; i++) {
		atomic_store(&spin_running, 0);
		while (!atomic_load(&spin_running))
			weft_safepoint(); /* at one P: lets the spinner (and reader) run */
		weft_stop_the_world(NULL);
		weft_start_the_world();
	}
	atomic_store(&spin_stop, 1);
	if (write(pb[1], "x", 1) != 1)
		die("write");
	weft_wg_wait(&wg);
	/* 3 */
	int procs = weft_procs();
	if (weft_set_procs(1) < 1 || weft_set_procs(procs) < 1)
		die("weft_set_procs");
	if (weft_trace_stop() != 0)
		die("weft_trace_stop failed");
	close(pa[0]);
	close(pa[1]);
	close(pb[0]);
	close(pb[1]);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs("usage: tsys FILE\n", stderr);
		return 2;
	}
	path = argv[1];
	return weft_main(main_task, NULL) == 0 ? 0 : 1;
}

/*
 * fib.c - nested fork-join: Cilk's classic fib(N) with a task per call and
 * a wait group per join; the weft side of bench/go/fib and bench/tbb/fib.cc
 * (issue 20's fork-join target: faster at 2 Ps than at 1, within 2x of
 * TBB's task_group at the same thread count).
 *
 *   fib       fib(N) computed by fib(N-1) and fib(N-2) in two new tasks,
 *             the parent blocked in weft_wg_wait() until both are done;
 *             fib(1) and fib(0) are leaves (no spawn). Reported per task:
 *             elapsed / (calls), and the whole time in ms.
 *
 * Usage: fib [-n N]   (default N = 30: 2,692,537 calls, 1,346,268 joins;
 * WEFT_PROCS sets the Ps). Prints "fib: X ns/op", "fib-total: X ms" and
 * "# peak-rss-kib: X".
 *
 * The work per call is nothing: what is measured is spawn, first run, the
 * join's block and wake, and where the woken parent runs. A parent that
 * blocks in its join and is woken on another P pays a cross-P wake-up; a
 * scheduler that keeps the join local (runnext) pays none.
 */
#define _POSIX_C_SOURCE 200809L

#include "bench.h"

#include <stdatomic.h>

struct fib {
	long n;
	long result;
	weft_wg *done; /* the parent's join */
};

static void fib_task(void *arg)
{
	struct fib *f = arg;

	if (f->n < 2) {
		f->result = f->n;
	} else {
		weft_wg wg = WEFT_WG_INIT;
		struct fib a = { f->n - 1, 0, &wg }, b = { f->n - 2, 0, &wg };
		int err;

		weft_wg_add(&wg, 2);
		if ((err = weft_go(fib_task, &a)) < 0 || (err = weft_go(fib_task, &b)) < 0) {
			fprintf(stderr, "fib: weft_go: %s\n", weft_strerror(err));
			exit(1);
		}
		weft_wg_wait(&wg);
		f->result = a.result + b.result;
	}
	if (f->done)
		weft_wg_done(f->done);
}

struct bench {
	long n;
	long result;
	double ns_per_call, total_ms;
};

static long calls_of(long n)
{
	long a = 1, b = 1; /* calls(0), calls(1) */

	for (long i = 2; i <= n; i++) {
		long c = a + b + 1;
		a = b;
		b = c;
	}
	return n == 0 ? a : b;
}

static void bench_main(void *arg)
{
	struct bench *b = arg;
	weft_wg wg = WEFT_WG_INIT;
	struct fib root = { b->n, 0, &wg };
	uint64_t t0;
	int err;

	bench_section_begin("fib");
	t0 = bench_now_ns();
	weft_wg_add(&wg, 1);
	if ((err = weft_go(fib_task, &root)) < 0) {
		fprintf(stderr, "fib: weft_go: %s\n", weft_strerror(err));
		exit(1);
	}
	weft_wg_wait(&wg);
	b->total_ms = (double)(bench_now_ns() - t0) / 1e6;
	b->ns_per_call = b->total_ms * 1e6 / (double)calls_of(b->n);
	bench_section_end(calls_of(b->n));
	b->result = root.result;
}

int main(int argc, char **argv)
{
	struct bench b = { .n = 30 };
	long x = 0, y = 1;

	bench_parse_n(argc, argv, &b.n);
	if (b.n > 45) {
		fprintf(stderr, "fib: -n %ld: at most 45 (a task per call)\n", b.n);
		return 2;
	}
	bench_run("fib", bench_main, &b);
	for (long i = 0; i < b.n; i++) {
		long z = x + y;
		x = y;
		y = z;
	}
	if (b.result != x) {
		fprintf(stderr, "fib: fib(%ld) = %ld, want %ld\n", b.n, b.result, x);
		return 1;
	}
	printf("# weft n=%ld calls=%ld\n", b.n, calls_of(b.n));
	printf("fib: %.1f ns/op\n", b.ns_per_call);
	printf("fib-total: %.1f ms\n", b.total_ms);
	bench_print_rss();
	return 0;
}

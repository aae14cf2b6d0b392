/*
 * spawn.c - cost of starting tasks; the weft side of bench/go/spawn.
 *
 *   spawn-seq    spawn one task and weft_wg_wait() for it, N times: one
 *                spawn + first run (stack taken) + exit + wake per op.
 *   spawn-burst  spawn N tasks that each call weft_wg_done(), then wait for
 *                all of them: per-task cost when they pile up (N stacks
 *                are not all live at once unless the scheduler lets them).
 *
 * Usage: spawn [-n N]   (default N = 1000000; WEFT_PROCS sets the Ps)
 * Prints "<name>: <value> ns/op" lines and "# peak-rss-kib: X".
 */
#define _POSIX_C_SOURCE 200809L

#include "bench.h"

struct bench {
	long n;
	double seq_ns;   /* per op, filled by bench_main */
	double burst_ns;
};

static void spawn_or_die(weft_fn fn, void *arg)
{
	int err = weft_go(fn, arg);

	if (err < 0) {
		fprintf(stderr, "spawn: weft_go: %s\n", weft_strerror(err));
		exit(1);
	}
}

static void done(void *arg)
{
	weft_wg_done(arg);
}

static void bench_main(void *arg)
{
	struct bench *b = arg;
	weft_wg wg = WEFT_WG_INIT;
	uint64_t t0;
	long i;

	bench_section_begin("spawn-seq");
	t0 = bench_now_ns();
	for (i = 0; i < b->n; i++) {
		weft_wg_add(&wg, 1);
		spawn_or_die(done, &wg);
		weft_wg_wait(&wg);
	}
	b->seq_ns = (double)(bench_now_ns() - t0) / (double)b->n;
	bench_section_end(b->n);

	bench_section_begin("spawn-burst");
	t0 = bench_now_ns();
	weft_wg_add(&wg, b->n);
	for (i = 0; i < b->n; i++)
		spawn_or_die(done, &wg);
	weft_wg_wait(&wg);
	b->burst_ns = (double)(bench_now_ns() - t0) / (double)b->n;
	bench_section_end(b->n);
}

int main(int argc, char **argv)
{
	struct bench b = { .n = 1000000 };

	bench_parse_n(argc, argv, &b.n);
	bench_run("spawn", bench_main, &b);
	printf("# weft n=%ld\n", b.n);
	printf("spawn-seq: %.1f ns/op\n", b.seq_ns);
	printf("spawn-burst: %.1f ns/op\n", b.burst_ns);
	bench_print_rss();
	return 0;
}

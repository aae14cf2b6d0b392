/*
 * yield.c - cost of weft_yield(); the weft side of bench/go/yield.
 *
 *   yield       two tasks each yield N times while the main task waits on
 *               a wait group; elapsed / (2N).
 *   yield-solo  the main task yields N times with nothing else runnable.
 *
 * Usage: yield [-n N]   (default N = 5000000; WEFT_PROCS sets the Ps)
 * Prints "<name>: <value> ns/op" lines and "# peak-rss-kib: X".
 */
#define _POSIX_C_SOURCE 200809L

#include "bench.h"

struct bench {
	long n;
	weft_wg wg;      /* the two yielders */
	double pair_ns;  /* per yield, filled by bench_main */
	double solo_ns;
};

static void yielder(void *arg)
{
	struct bench *b = arg;
	long i;

	for (i = 0; i < b->n; i++)
		weft_yield();
	weft_wg_done(&b->wg);
}

static void bench_main(void *arg)
{
	struct bench *b = arg;
	uint64_t t0;
	long i;
	int t, err;

	bench_section_begin("yield");
	t0 = bench_now_ns();
	weft_wg_add(&b->wg, 2);
	for (t = 0; t < 2; t++) {
		err = weft_go(yielder, b);
		if (err < 0) {
			fprintf(stderr, "yield: weft_go: %s\n", weft_strerror(err));
			exit(1);
		}
	}
	weft_wg_wait(&b->wg);
	b->pair_ns = (double)(bench_now_ns() - t0) / (2.0 * (double)b->n);
	bench_section_end(2 * b->n);

	bench_section_begin("yield-solo");
	t0 = bench_now_ns();
	for (i = 0; i < b->n; i++)
		weft_yield();
	b->solo_ns = (double)(bench_now_ns() - t0) / (double)b->n;
	bench_section_end(b->n);
}

int main(int argc, char **argv)
{
	struct bench b = { .n = 5000000, .wg = WEFT_WG_INIT };

	bench_parse_n(argc, argv, &b.n);
	bench_run("yield", bench_main, &b);
	printf("# weft n=%ld\n", b.n);
	printf("yield: %.1f ns/op\n", b.pair_ns);
	printf("yield-solo: %.1f ns/op\n", b.solo_ns);
	bench_print_rss();
	return 0;
}

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

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <weft.h>

struct bench {
	long n;
	double seq_ns;   /* per op, filled by bench_main */
	double burst_ns;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

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

	t0 = now_ns();
	for (i = 0; i < b->n; i++) {
		weft_wg_add(&wg, 1);
		spawn_or_die(done, &wg);
		weft_wg_wait(&wg);
	}
	b->seq_ns = (double)(now_ns() - t0) / (double)b->n;

	t0 = now_ns();
	weft_wg_add(&wg, b->n);
	for (i = 0; i < b->n; i++)
		spawn_or_die(done, &wg);
	weft_wg_wait(&wg);
	b->burst_ns = (double)(now_ns() - t0) / (double)b->n;
}

int main(int argc, char **argv)
{
	struct bench b = { .n = 1000000 };
	struct rusage ru;
	int i, err;

	for (i = 1; i < argc; i++) {
		char *end;

		if (strcmp(argv[i], "-n") == 0 && i + 1 < argc) {
			b.n = strtol(argv[++i], &end, 10);
			if (*end == '\0' && b.n >= 1)
				continue;
		}
		fprintf(stderr, "usage: %s [-n N]   (N >= 1)\n", argv[0]);
		return 2;
	}

	err = weft_main(bench_main, &b);
	if (err < 0) {
		fprintf(stderr, "spawn: weft_main: %s\n", weft_strerror(err));
		return 1;
	}
	printf("# weft n=%ld\n", b.n);
	printf("spawn-seq: %.1f ns/op\n", b.seq_ns);
	printf("spawn-burst: %.1f ns/op\n", b.burst_ns);
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		printf("# peak-rss-kib: %ld\n", ru.ru_maxrss);
	return 0;
}

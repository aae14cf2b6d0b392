/*
 * million.c - a million tasks blocked at once on a channel, then all
 * released; the weft side of bench/go/million (issue 20).
 *
 * The main task spawns N tasks; each says it started (a wait group) and
 * blocks receiving from one unbuffered channel. When all N have started,
 * they are all alive at once, each with a stack, blocked or about to
 * block. The main task then sends N values, one hand-off to a blocked
 * receiver each, and waits for all N to finish.
 *
 *   million-create  ms from the first spawn until all N started
 *   million-total   ms from the first spawn until all N finished
 *   # rss-per-task-bytes   (VmRSS with all N alive - VmRSS before) / N
 *   # pte-per-task-bytes   the same for VmPTE (page tables, not in RSS)
 *
 * Usage: million [-n N]   (default N = 1000000; WEFT_PROCS sets the Ps)
 */
#define _POSIX_C_SOURCE 200809L

#include "bench.h"

struct bench {
	long n;
	weft_chan *gate;
	weft_wg started, finished;
	double create_ms, total_ms;
	long rss0, rss1, pte0, pte1; /* KiB */
};

/* VmRSS and VmPTE of this process, in KiB (0 when unreadable). */
static void status_kib(long *rss, long *pte)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "r");

	*rss = *pte = 0;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "VmRSS:", 6))
			*rss = atol(line + 6);
		else if (!strncmp(line, "VmPTE:", 6))
			*pte = atol(line + 6);
	}
	fclose(f);
}

static void blocked(void *arg)
{
	struct bench *b = arg;
	int v;

	weft_wg_done(&b->started);
	if (weft_chan_recv(b->gate, &v) != 0) {
		fprintf(stderr, "million: weft_chan_recv failed\n");
		exit(1);
	}
	weft_wg_done(&b->finished);
}

static void bench_main(void *arg)
{
	struct bench *b = arg;
	uint64_t t0;
	int v = 1;

	b->gate = weft_chan_make(sizeof(int), 0);
	status_kib(&b->rss0, &b->pte0);
	bench_section_begin("million");
	t0 = bench_now_ns();
	weft_wg_add(&b->started, b->n);
	weft_wg_add(&b->finished, b->n);
	for (long i = 0; i < b->n; i++) {
		int err = weft_go(blocked, b);
		if (err < 0) {
			fprintf(stderr, "million: weft_go: %s\n", weft_strerror(err));
			exit(1);
		}
	}
	weft_wg_wait(&b->started);
	b->create_ms = (double)(bench_now_ns() - t0) / 1e6;
	status_kib(&b->rss1, &b->pte1);
	for (long i = 0; i < b->n; i++)
		weft_chan_send(b->gate, &v);
	weft_wg_wait(&b->finished);
	b->total_ms = (double)(bench_now_ns() - t0) / 1e6;
	bench_section_end(b->n);
	weft_chan_free(b->gate);
}

int main(int argc, char **argv)
{
	static struct bench b = { .n = 1000000, .started = WEFT_WG_INIT,
				  .finished = WEFT_WG_INIT };

	bench_parse_n(argc, argv, &b.n);
	bench_run("million", bench_main, &b);
	printf("# weft n=%ld\n", b.n);
	printf("million-create: %.1f ms\n", b.create_ms);
	printf("million-total: %.1f ms\n", b.total_ms);
	printf("# rss-per-task-bytes: %.0f\n", (double)(b.rss1 - b.rss0) * 1024.0 / (double)b.n);
	printf("# pte-per-task-bytes: %.0f\n", (double)(b.pte1 - b.pte0) * 1024.0 / (double)b.n);
	bench_print_rss();
	return 0;
}

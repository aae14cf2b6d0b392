/*
 * chan.c - cost of channel operations; the weft side of bench/go/chan.
 *
 *   chan-pingpong   two tasks bounce a value over two unbuffered channels;
 *                   ns per round trip (two sends, two receives).
 *   chan-buffered   one producer, one consumer, a channel of capacity 1024;
 *                   ns per item.
 *
 * Usage: chan [-n N]   (default N = 1000000; WEFT_PROCS sets the Ps)
 */
#define _POSIX_C_SOURCE 200809L

#include "bench.h"

struct bench {
	long n;
	double pingpong_ns, buffered_ns;
	weft_chan *a, *b;
	weft_wg wg;
};

static void ponger(void *arg)
{
	struct bench *b = arg;
	long v;

	for (long i = 0; i < b->n; i++) {
		weft_chan_recv(b->a, &v);
		weft_chan_send(b->b, &v);
	}
	weft_wg_done(&b->wg);
}

static void consumer(void *arg)
{
	struct bench *b = arg;
	long v, sum = 0;

	while (weft_chan_recv(b->a, &v) == 0)
		sum += v;
	if (sum != b->n * (b->n - 1) / 2) {
		fprintf(stderr, "chan: wrong sum\n");
		exit(1);
	}
	weft_wg_done(&b->wg);
}

static void bench_main(void *arg)
{
	struct bench *b = arg;
	uint64_t t0;
	long v;

	b->a = weft_chan_make(sizeof(long), 0);
	b->b = weft_chan_make(sizeof(long), 0);
	weft_wg_add(&b->wg, 1);
	weft_go(ponger, b);
	t0 = bench_now_ns();
	for (long i = 0; i < b->n; i++) {
		weft_chan_send(b->a, &i);
		weft_chan_recv(b->b, &v);
	}
	b->pingpong_ns = (double)(bench_now_ns() - t0) / (double)b->n;
	weft_wg_wait(&b->wg);
	weft_chan_free(b->a);
	weft_chan_free(b->b);

	b->a = weft_chan_make(sizeof(long), 1024);
	weft_wg_add(&b->wg, 1);
	weft_go(consumer, b);
	t0 = bench_now_ns();
	for (long i = 0; i < b->n; i++)
		weft_chan_send(b->a, &i);
	weft_chan_close(b->a);
	weft_wg_wait(&b->wg);
	b->buffered_ns = (double)(bench_now_ns() - t0) / (double)b->n;
	weft_chan_free(b->a);
}

int main(int argc, char **argv)
{
	struct bench b = { .n = 1000000, .wg = WEFT_WG_INIT };

	bench_parse_n(argc, argv, &b.n);
	bench_run("chan", bench_main, &b);
	printf("# weft n=%ld\n", b.n);
	printf("chan-pingpong: %.1f ns/op\n", b.pingpong_ns);
	printf("chan-buffered: %.1f ns/op\n", b.buffered_ns);
	return 0;
}

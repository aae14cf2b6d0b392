/*
 * chan.c - cost of channel operations; the weft side of bench/go/chan.
 *
 *   chan-pingpong   two tasks bounce a value over two unbuffered channels;
 *                   ns per round trip (two sends, two receives).
 *   chan-buffered   one producer, one consumer, a channel of capacity 1024;
 *                   ns per item.
 *   select-unbuf    a receiver selects over two unbuffered channels, each
 *                   fed by its own sender task; ns per select.
 *   select-buf      the same over two channels of capacity 1024.
 *
 * Usage: chan [-n N]   (default N = 1000000; WEFT_PROCS sets the Ps)
 * Prints "<name>: <value> ns/op" lines and "# peak-rss-kib: X".
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>

#include "bench.h"

struct bench {
	long n;
	double pingpong_ns, buffered_ns, select_ns[2];
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

/* Feeds b->n / 2 values into @c then closes it (a or b, by position). */
struct feeder {
	struct bench *b;
	weft_chan *c;
	long n;
};

static void feed(void *arg)
{
	struct feeder *f = arg;

	for (long i = 0; i < f->n; i++)
		weft_chan_send(f->c, &i);
	weft_chan_close(f->c);
	weft_wg_done(&f->b->wg);
}

/*
 * Select over a and b until both are closed; ns per successful select.
 * @name marks the section.
 */
static double bench_select(struct bench *b, size_t cap, const char *name)
{
	struct feeder fa = { b, NULL, b->n / 2 }, fb = { b, NULL, b->n - b->n / 2 };
	long va, vb, got = 0;
	int open = 2;
	uint64_t t0;

	b->a = fa.c = weft_chan_make(sizeof(long), cap);
	b->b = fb.c = weft_chan_make(sizeof(long), cap);
	weft_wg_add(&b->wg, 2);
	weft_go(feed, &fa);
	weft_go(feed, &fb);
	weft_case cs[2] = { { b->a, WEFT_RECV, &va, 0 }, { b->b, WEFT_RECV, &vb, 0 } };
	bench_section_begin(name);
	t0 = bench_now_ns();
	while (open > 0) {
		int r = weft_select(cs, 2, -1);
		if (r < 0) {
			fprintf(stderr, "chan: select failed: %d\n", r);
			exit(1);
		}
		if (cs[r].result == -EPIPE) {
			cs[r].chan = NULL; /* closed and drained: ignore from now on */
			open--;
			continue;
		}
		got++;
	}
	double ns = (double)(bench_now_ns() - t0) / (double)b->n;
	bench_section_end(b->n);
	if (got != b->n) {
		fprintf(stderr, "chan: select got %ld of %ld\n", got, b->n);
		exit(1);
	}
	weft_wg_wait(&b->wg);
	weft_chan_free(b->a);
	weft_chan_free(b->b);
	return ns;
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
	bench_section_begin("chan-pingpong");
	t0 = bench_now_ns();
	for (long i = 0; i < b->n; i++) {
		weft_chan_send(b->a, &i);
		weft_chan_recv(b->b, &v);
	}
	b->pingpong_ns = (double)(bench_now_ns() - t0) / (double)b->n;
	bench_section_end(b->n);
	weft_wg_wait(&b->wg);
	weft_chan_free(b->a);
	weft_chan_free(b->b);

	b->a = weft_chan_make(sizeof(long), 1024);
	weft_wg_add(&b->wg, 1);
	weft_go(consumer, b);
	bench_section_begin("chan-buffered");
	t0 = bench_now_ns();
	for (long i = 0; i < b->n; i++)
		weft_chan_send(b->a, &i);
	weft_chan_close(b->a);
	weft_wg_wait(&b->wg);
	b->buffered_ns = (double)(bench_now_ns() - t0) / (double)b->n;
	bench_section_end(b->n);
	weft_chan_free(b->a);

	b->select_ns[0] = bench_select(b, 0, "select-unbuf");
	b->select_ns[1] = bench_select(b, 1024, "select-buf");
}

int main(int argc, char **argv)
{
	struct bench b = { .n = 1000000, .wg = WEFT_WG_INIT };

	bench_parse_n(argc, argv, &b.n);
	bench_run("chan", bench_main, &b);
	printf("# weft n=%ld\n", b.n);
	printf("chan-pingpong: %.1f ns/op\n", b.pingpong_ns);
	printf("chan-buffered: %.1f ns/op\n", b.buffered_ns);
	printf("select-unbuf: %.1f ns/op\n", b.select_ns[0]);
	printf("select-buf: %.1f ns/op\n", b.select_ns[1]);
	bench_print_rss();
	return 0;
}

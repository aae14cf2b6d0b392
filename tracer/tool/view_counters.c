/*
 * view_counters.c - the counter rows of `weft-trace view`: how many tasks
 * were runnable, how many Ps ran a task, how many tasks were in a
 * syscall and how many Ps were spinning (held by a thread with no task
 * while nothing was runnable: the model's SEARCH category), over time,
 * in memory that does not grow with the trace.
 *
 * What is kept. The time from the first event is cut into buckets of
 * `res` ns, at most VC_CAP (2^16) of them; each bucket holds per counter
 * the least and the greatest value held in it for more than no time and
 * the value integrated over time (value x ns), so its mean is exact.
 * `res` starts at 64 ns; when an interval would land past the last
 * bucket, pairs of buckets merge (min of mins, max of maxes, sum of
 * sums) and res doubles, as often as needed. So a trace of duration D
 * ends with res the smallest 64 x 2^k such that D <= res x 2^16: on
 * big.wt (816 ms, 9.9 M events) res is 16.4 us (2^14 ns) and 49 800
 * buckets hold data, in 4 MB (64 bytes a bucket) whatever the number of
 * events; a one-second trace gets 16 us, a minute 1 ms. The values come
 * from the model after each event (nrunnable, nbusy, its count of Ps in
 * SEARCH) and from view_threads.c (tasks in a syscall).
 *
 * The pass. Each counter has its own value and `since`; after every
 * event each counter is compared with its value (vc_put, inline), and
 * only one that changed does work: the interval its old value held is
 * added to the bucket it began in, without a division when it ends in
 * that bucket too (the common case: big.wt has ~200 events a bucket),
 * else by a walk over the buckets it meets (vc_add1, which also halves).
 * So a pass costs a few compares an event; halvings cost O(VC_CAP) each,
 * at most log2(D / 64 ns / 2^16) of them.
 *
 * A pixel's answer: its min and max are those of the buckets it meets;
 * its mean weighs each bucket by the share of the bucket's time inside
 * the pixel, so for a pixel made of whole buckets it is exactly the
 * time-weighted mean (the property check_view tests). A pixel narrower
 * than a bucket shows the bucket's figures: the resolution is res, and
 * the page can say so (the answer carries it).
 *
 * Invariants: after vc_seal, buckets [0, n) are covered by data from 0
 * to `end` (every interval from the first event on is added); a bucket
 * whose min is UINT32_MAX holds no data (values are clamped below it);
 * res is VC_RES0 x a power of two, 1 << shift; while building, bk[j] is
 * the bucket of since[j] and bend[j] its end (0: past the last bucket).
 *
 * Rejected:
 *   - Exact change points (every time a counter changes, the new value):
 *     about 6.5 M changes on big.wt, ~50 MB a counter at 8 bytes (the
 *     server's budget is 300 MB and the runs take 279), and a query would
 *     walk millions of them for a wide window.
 *   - One `since` for the four counters, all four added at every change:
 *     most events change one counter, and the others' work (two compares
 *     and a multiply-add each) made the pass's inline part 66
 *     instructions an event against 48 (callgrind, a 450 k-event trace);
 *     the syscall counter is also put only by the events that change it.
 *   - Fixed buckets chosen from the trace's duration: the duration is
 *     known only at the end of the one pass (a trace may come from a
 *     pipe), and a second pass costs a second.
 *   - A mipmap of levels (Perfetto's counters): queries here are already
 *     O(buckets in the window) with at most 2^16 buckets; levels would
 *     double the memory for a speed no one needs.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "tool.h"
#include "view_rows.h"

const char *const vc_name[VC_N] = { "runnable", "running", "syscall", "spinning" };

static void empty(struct vcbucket *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		memset(&b[i], 0, sizeof(b[i]));
		for (int k = 0; k < VC_N; k++)
			b[i].min[k] = UINT32_MAX;
	}
}

void vc_init(struct vcounters *c)
{
	memset(c, 0, sizeof(*c));
	c->res = VC_RES0;
	c->shift = __builtin_ctzll(VC_RES0);
}

void vc_free(struct vcounters *c)
{
	free(c->b);
	memset(c, 0, sizeof(*c));
}

/* The bucket of each counter's `since`, after a halving or a slow add. */
static void rebucket(struct vcounters *c, int j)
{
	uint64_t k = c->since[j] >> c->shift;

	c->bk[j] = (uint32_t)(k < VC_CAP ? k : 0);
	c->bend[j] = k < VC_CAP ? (k + 1) << c->shift : 0;
}

/* Halve the resolution: bucket k becomes buckets 2k and 2k + 1. */
static void halve(struct vcounters *c)
{
	for (size_t i = 0; i < VC_CAP / 2; i++) {
		struct vcbucket m = c->b[2 * i];
		const struct vcbucket *o = &c->b[2 * i + 1];
		for (int k = 0; k < VC_N; k++) {
			if (o->min[k] < m.min[k])
				m.min[k] = o->min[k];
			if (o->max[k] > m.max[k])
				m.max[k] = o->max[k];
			m.sum[k] += o->sum[k];
		}
		c->b[i] = m;
	}
	empty(c->b + VC_CAP / 2, VC_CAP / 2);
	c->res *= 2;
	c->shift++;
	for (int j = 0; j < VC_N; j++)
		rebucket(c, j);
}

void vc_add1(struct vcounters *c, int j, uint64_t t)
{
	uint64_t a = c->since[j];
	uint32_t x = c->cur[j];

	if (t <= a)
		return;
	if (!c->b) {
		c->b = tool_calloc(VC_CAP, sizeof(*c->b));
		empty(c->b, VC_CAP);
	}
	while ((t - 1) >> c->shift >= VC_CAP)
		halve(c);
	for (uint64_t k = a >> c->shift; k <= (t - 1) >> c->shift; k++) {
		uint64_t lo = k << c->shift, hi = lo + c->res;
		struct vcbucket *b = &c->b[k];
		if (x < b->min[j])
			b->min[j] = x;
		if (x > b->max[j])
			b->max[j] = x;
		b->sum[j] += (uint64_t)x * ((t < hi ? t : hi) - (a > lo ? a : lo));
	}
	c->since[j] = t;
	rebucket(c, j);
}

void vc_seal(struct vcounters *c, uint64_t t)
{
	c->end = 0;
	for (int j = 0; j < VC_N; j++) {
		vc_add1(c, j, t);
		if (c->since[j] > c->end)
			c->end = c->since[j];
	}
	/* The data cover [0, end): that many buckets. */
	c->n = (size_t)((c->end + c->res - 1) >> c->shift);
	if (c->n > VC_CAP)
		c->n = VC_CAP;
	for (size_t i = 0; i < c->n; i++)
		for (int j = 0; j < VC_N; j++)
			if (c->b[i].min[j] != UINT32_MAX && c->b[i].max[j] > c->max_ever[j])
				c->max_ever[j] = c->b[i].max[j];
}

int vc_pixel(const struct vcounters *c, int k, uint64_t a, uint64_t b, uint64_t *min,
	     uint64_t *max, double *mean)
{
	uint32_t lo = UINT32_MAX, hi = 0;
	double sum = 0, wt = 0;

	if (b > c->end)
		b = c->end;
	if (a >= b || !c->b || k < 0 || k >= VC_N)
		return -1;
	for (size_t i = a / c->res; i <= (b - 1) / c->res && i < c->n; i++) {
		const struct vcbucket *x = &c->b[i];
		uint64_t s = i * c->res, e = s + c->res;
		if (e > c->end)
			e = c->end; /* the last bucket: covered up to the end */
		uint64_t ov = (b < e ? b : e) - (a > s ? a : s);
		if (x->min[k] == UINT32_MAX || e <= s)
			continue;
		if (x->min[k] < lo)
			lo = x->min[k];
		if (x->max[k] > hi)
			hi = x->max[k];
		sum += (double)x->sum[k] * ((double)ov / (double)(e - s));
		wt += (double)ov;
	}
	if (lo == UINT32_MAX || wt <= 0)
		return -1;
	*min = lo;
	*max = hi;
	*mean = sum / wt;
	return 0;
}

/*
 * hist.c - the bounded histogram of the weft-trace commands (hist.h):
 * run lengths, gaps, latencies and execution per task, however many.
 *
 * The histogram is log-linear (HdrHistogram's idea with a fixed, coarse
 * precision): 16 sub-buckets per power of two, so every quantile is
 * within 1/32 of the value and the memory is 8 KiB per histogram however
 * many values go in. Values below 16 have a bucket each; a quantile is
 * the middle of its bucket, clamped to the exact min and max. Rejected:
 * keeping the values and sorting (memory grows with the trace), t-digest
 * or a GK sketch (more code and more work per value for a precision
 * nobody reads off a scheduling trace).
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include "hist.h"

void hist_init(struct hist *h)
{
	memset(h, 0, sizeof(*h));
}

static inline unsigned hist_bucket(uint64_t v)
{
	if (v < HIST_SUB)
		return (unsigned)v;
	int e = 63 - __builtin_clzll(v); /* >= 4 */
	unsigned sub = (unsigned)(v >> (e - 4)) & (HIST_SUB - 1);
	return (unsigned)(e - 3) * HIST_SUB + sub;
}

/* The smallest value of bucket @b, and its width. */
static void hist_range(unsigned b, double *lo, double *w)
{
	if (b < HIST_SUB) {
		*lo = b;
		*w = 1;
		return;
	}
	int e = (int)(b / HIST_SUB) + 3;
	unsigned sub = b % HIST_SUB;
	*w = ldexp(1.0, e - 4);
	*lo = ldexp(1.0, e) + sub * *w;
}

void hist_add(struct hist *h, uint64_t v)
{
	if (h->n == 0 || v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
	h->n++;
	h->sum += (double)v;
	h->b[hist_bucket(v)]++;
}

uint64_t hist_quantile(const struct hist *h, double q)
{
	if (!h->n)
		return 0;
	if (q <= 0)
		return h->min;
	if (q >= 1)
		return h->max;
	uint64_t rank = (uint64_t)ceil(q * (double)h->n), acc = 0;
	if (rank < 1)
		rank = 1;
	for (unsigned b = 0; b < HIST_BUCKETS; b++) {
		acc += h->b[b];
		if (acc >= rank) {
			double lo, w;
			hist_range(b, &lo, &w);
			double v = lo + w / 2;
			if (v < (double)h->min)
				v = (double)h->min;
			if (v > (double)h->max)
				v = (double)h->max;
			return (uint64_t)v;
		}
	}
	return h->max;
}

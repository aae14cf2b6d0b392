/*
 * hist.h - a log-linear histogram of non-negative values (ns): 16 buckets
 * per power of two, so a quantile is within about 3% of the truth, in
 * 8 KiB whatever the number of values. Exact count, sum, min and max.
 * Why this shape and not another: hist.c.
 */
#ifndef WEFT_TRACE_HIST_H
#define WEFT_TRACE_HIST_H

#include <stdint.h>

#define HIST_SUB 16
#define HIST_BUCKETS (64 * HIST_SUB)
struct hist {
	uint64_t n, min, max;
	double sum;
	uint64_t b[HIST_BUCKETS];
};
void hist_init(struct hist *h);
void hist_add(struct hist *h, uint64_t v);
uint64_t hist_quantile(const struct hist *h, double q); /* 0 if empty */
static inline double hist_mean(const struct hist *h)
{
	return h->n ? h->sum / (double)h->n : 0;
}

#endif /* WEFT_TRACE_HIST_H */

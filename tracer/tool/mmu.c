/*
 * mmu.c - minimum utilisation over time windows, for `weft-trace gaps
 * --mmu`: Go's minimum mutator utilisation curve (`go tool trace`'s MMU
 * page, internal/trace's MMUCurve), with "a P runs a task" in place of
 * "the mutator runs", and the worst windows with what filled them.
 *
 * What. The utilisation of a window [x, x + w) is the P time in it spent
 * running tasks over (Ps x w). For each width w the minimum over every
 * window of the trace, and the few disjoint windows that reach the lowest
 * values, each with its P time by category (running, in the scheduler
 * while work waited, looking for work, idle while tasks were runnable,
 * idle, stopped by a stop-the-world, in a syscall). A width shows at which
 * time scale the loss concentrates: a 20 ms pause is a window of 0 at 10 ms
 * and hardly shows at 1 s; scheduler gaps show at 10 us and vanish above.
 *
 * How. The model's count of Ps in each category is piecewise constant: a
 * stretch (struct mmu_seg) starts whenever one count changes (mmu_note,
 * after every event; a stretch of zero length is overwritten). The
 * integral of running Ps over a window, as a function of its start x, is
 * piecewise linear, with its breaks where x or x + w meets the start of a
 * stretch; so its minimum is at one of those starts. One merged sweep over
 * both lists of candidates, with two cursors (one for x, one for x + w)
 * and the prefix integral at each stretch, finds it in time linear in the
 * stretches; the k disjoint worst windows are k sweeps, each skipping the
 * candidates that overlap a window already chosen.
 *
 * Memory: one stretch (24 bytes) per change of the counts, about one per
 * run start or end: tens of megabytes for a trace of millions of runs,
 * which is why it is asked for (--mmu), not always computed.
 *
 * Invariants: stretches are in time order and cover [s[0].t, end); the
 * counts of a stretch add up to the Ps then (the model's ncat).
 *
 * Rejected: fixed bins (a bin of 1 us over a 10 s trace is 10 M bins, and
 * any bin misplaces a window's edges by up to its width); Go's banded
 * lower bound with refinement (built for curves over thousands of widths
 * and for GC traces of hours; five widths are five linear sweeps); the
 * utilisation distribution (Go's MUD: its quantiles need the windows
 * sorted, and the worst windows are what a user opens in the viewer).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "mmu.h"
#include "tool.h"

const char *const mmu_cat_name[MMU_MAX] = {
	[MMU_RUN] = "running",     [MMU_SCHED] = "sched",
	[MMU_SEARCH] = "search",   [MMU_IDLE_WORK] = "idle_work_waiting",
	[MMU_IDLE] = "idle",       [MMU_STW] = "stw",
	[MMU_SYSCALL] = "syscall",
};

void mmu_init(struct mmu *u)
{
	memset(u, 0, sizeof(*u));
}

static void counts(const struct model *m, uint16_t n[MMU_MAX])
{
	memset(n, 0, MMU_MAX * sizeof(*n));
	n[MMU_RUN] = (uint16_t)m->ncat[PC_RUN];
	n[MMU_SCHED] = (uint16_t)m->ncat[PC_SCHED];
	n[MMU_SEARCH] = (uint16_t)m->ncat[PC_SEARCH];
	n[m->nrunnable > 0 ? MMU_IDLE_WORK : MMU_IDLE] = (uint16_t)m->ncat[PC_IDLE];
	n[MMU_STW] = (uint16_t)m->ncat[PC_STW];
	n[MMU_SYSCALL] = (uint16_t)m->ncat[PC_SYSCALL];
}

void mmu_note(struct mmu *u, const struct model *m)
{
	uint16_t n[MMU_MAX];
	uint64_t t = m->now - m->first_ts;

	counts(m, n);
	if (m->np > u->np)
		u->np = m->np;
	if (u->n && !memcmp(u->s[u->n - 1].n, n, sizeof(n)))
		return;
	if (u->n && u->s[u->n - 1].t >= t) { /* no time passed: this is the stretch */
		memcpy(u->s[u->n - 1].n, n, sizeof(n));
		if (u->n > 1 && !memcmp(u->s[u->n - 2].n, n, sizeof(n)))
			u->n--; /* back to the counts before it */
		return;
	}
	if (u->n == u->cap) {
		u->cap = u->cap ? 2 * u->cap : 4096;
		u->s = tool_realloc(u->s, u->cap, sizeof(*u->s));
	}
	u->s[u->n].t = t;
	memcpy(u->s[u->n].n, n, sizeof(n));
	u->n++;
}

void mmu_finish(struct mmu *u, const struct model *m)
{
	u->end = m->now > m->first_ts ? m->now - m->first_ts : 0;
	if (m->np > u->np)
		u->np = m->np;
}

/* The stretch holding @x, searching forward from *@i. */
static size_t seek(const struct mmu *u, size_t i, uint64_t x)
{
	while (i + 1 < u->n && u->s[i + 1].t <= x)
		i++;
	return i;
}

/* The running P time from the start to @x, with the stretch holding x at @i. */
static double upto(const struct mmu *u, const double *pre, size_t i, uint64_t x)
{
	return pre[i] + (double)u->s[i].n[MMU_RUN] * (double)(x - u->s[i].t);
}

/* One sweep: the window of least running time not overlapping chosen[0 .. nch). */
static bool sweep(const struct mmu *u, const double *pre, uint64_t w, const uint64_t *chosen,
		  int nch, uint64_t *best_x, double *best)
{
	size_t ia = 0, ib = 0, ix = 0, iw = 0; /* candidates from starts, from ends; cursors */
	uint64_t first = u->s[0].t, last = u->end - w; /* x in [first, last] */
	bool any = false;

	/* Candidates from ends: s[j].t - w (and end - w), in order. */
	while (ib < u->n && u->s[ib].t < first + w)
		ib++;
	for (;;) {
		uint64_t xa = ia < u->n && u->s[ia].t <= last ? u->s[ia].t : UINT64_MAX;
		uint64_t xb = ib < u->n ? u->s[ib].t - w : ib == u->n ? last : UINT64_MAX;
		uint64_t x;
		if (xa == UINT64_MAX && xb == UINT64_MAX)
			break;
		if (xa <= xb) {
			x = xa;
			ia++;
			if (xa == xb)
				ib++;
		} else {
			x = xb;
			ib++;
		}
		if (x > last)
			break;
		bool skip = false;
		for (int k = 0; k < nch && !skip; k++)
			skip = x < chosen[k] + w && chosen[k] < x + w;
		if (skip)
			continue;
		ix = seek(u, ix, x);
		iw = seek(u, iw > ix ? iw : ix, x + w);
		double v = upto(u, pre, iw, x + w) - upto(u, pre, ix, x);
		if (!any || v < *best) {
			*best = v;
			*best_x = x;
			any = true;
		}
	}
	return any;
}

int mmu_worst(const struct mmu *u, uint64_t width, struct mmu_window *out, int k)
{
	uint64_t chosen[8];
	int n = 0;

	if (!u->n || !u->np || !width || u->end < u->s[0].t + width)
		return 0;
	if (k > 8)
		k = 8;
	double *pre = tool_calloc(u->n + 1, sizeof(*pre));
	for (size_t i = 0; i < u->n; i++) {
		uint64_t t1 = i + 1 < u->n ? u->s[i + 1].t : u->end;
		pre[i + 1] = pre[i] + (double)u->s[i].n[MMU_RUN] * (double)(t1 - u->s[i].t);
	}
	for (; n < k; n++) {
		uint64_t x;
		double v;
		if (!sweep(u, pre, width, chosen, n, &x, &v))
			break;
		chosen[n] = x;
		struct mmu_window *o = &out[n];
		memset(o, 0, sizeof(*o));
		o->t0 = x;
		o->t1 = x + width;
		o->util = v / ((double)u->np * (double)width);
		/* What filled it: each stretch's overlap, by category. */
		size_t lo = 0, hi = u->n;
		while (lo + 1 < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (u->s[mid].t <= x)
				lo = mid;
			else
				hi = mid;
		}
		for (size_t i = lo; i < u->n && u->s[i].t < o->t1; i++) {
			uint64_t a = u->s[i].t > x ? u->s[i].t : x;
			uint64_t b = i + 1 < u->n ? u->s[i + 1].t : u->end;
			if (b > o->t1)
				b = o->t1;
			if (b <= a)
				continue;
			for (int c = 0; c < MMU_MAX; c++)
				o->ns[c] += (double)u->s[i].n[c] * (double)(b - a);
		}
	}
	free(pre);
	return n;
}

void mmu_free(struct mmu *u)
{
	free(u->s);
	memset(u, 0, sizeof(*u));
}

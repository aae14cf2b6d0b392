/*
 * view_match.c - highlights on the view's timeline (`hl=` on /api/procs):
 * the runs of one entry function, of one task, those that ended waiting at
 * a call site, those of a range, of the critical path's chain, or the
 * stop-the-world bands, for one P's window at w pixels.
 *
 * The merge. A highlight is drawn over the row's items, so it is merged
 * to pixels by the same rule as vindex_query's, applied to the matching
 * runs alone (the others are skipped, not merged in): a match a pixel or
 * more long is an item of its own; shorter ones that start in the same
 * pixel become one item [first start, last end) with their count. The
 * pixel is computed in integers, k = (start - t0) * w / (t1 - t0) (128
 * bits), and "a pixel or more" is (end - start) * w >= t1 - t0, so the
 * bound is exact: a long match that starts in pixel k ends at k + 1 or
 * later, so the next match starts in a later pixel and each pixel yields
 * at most a merged item and a long one; a match that starts before t0 is
 * pixel -1 (runs on a P do not overlap: at most one). So at most
 * 2 * w + 2 items, and the sum of the counts is exactly the number of
 * matching runs that intersect the window (tests/check_view.c checks both
 * against a brute-force count).
 *
 * Invariants: the index is read-only (queries run on many tasks at once);
 * a match reads a run's task only through vt (no lookup by id).
 *
 * Cost: the window's runs are walked (a match may be anywhere), except for
 * the chain (a binary search into its sorted refs, then its runs only)
 * and the bands (a few per P). At full zoom-out that is every run of the
 * trace: cmd_view.c's essay has the measured time.
 *
 * Rejected: per-function prefix counts beside busy[] (8 bytes a run per
 * function, or a second index of runs by function: the index's memory is
 * the budget the viewer is held to); merging the highlight into the row's
 * own items (the page would then have to split blocks it already drew).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "tool.h"
#include "view_match.h"

struct lod {
	uint64_t t0, span; /* the window's start and length */
	uint64_t w;
	struct vhl *it;
	size_t n, cap, room;
	bool open;         /* it[n - 1] is a merged item that may grow */
	int64_t k;         /* its pixel */
	uint64_t kt0, kt1; /* the starts in that pixel: [kt0, kt1) */
	uint64_t big;      /* a match this long or longer is a pixel or more: ceil(span / w) */
	uint64_t nmatch;
};

static void lod_emit(struct lod *l, uint64_t a, uint64_t b)
{
	if (l->n == l->room) {
		l->room = 2 * l->room < l->cap ? 2 * l->room : l->cap;
		if (l->n == l->room)
			tool_oom(); /* beyond the bound: cannot be (the essay's proof) */
		l->it = tool_realloc(l->it, l->room, sizeof(*l->it));
	}
	l->it[l->n++] = (struct vhl){ a, b, 1 };
}

/* A match that is not merged into the open item. */
static void lod_push_slow(struct lod *l, uint64_t a, uint64_t b)
{
	int64_t k;

	if (b - a >= l->big) {
		l->open = false;
		lod_emit(l, a, b);
		return;
	}
	k = a >= l->t0 ? (int64_t)((unsigned __int128)(a - l->t0) * l->w / l->span) : -1;
	if (l->open && l->k == k) {
		l->it[l->n - 1].t1 = b;
		l->it[l->n - 1].n++;
		return;
	}
	lod_emit(l, a, b);
	l->open = true;
	l->k = k;
	/* Pixel k is the starts a with k * span <= (a - t0) * w < (k + 1) * span. */
	if (k >= 0) {
		l->kt0 = l->t0 + (uint64_t)(((unsigned __int128)k * l->span + l->w - 1) / l->w);
		l->kt1 = l->t0 + (uint64_t)(((unsigned __int128)(k + 1) * l->span + l->w - 1) / l->w);
	} else {
		l->kt0 = 0;
		l->kt1 = l->t0;
	}
}

/* The match [a, b): a short one in the open item's pixel joins it (the
 * common case zoomed out: no division); anything else takes the slow path. */
static inline void lod_push(struct lod *l, uint64_t a, uint64_t b)
{
	l->nmatch++;
	if (l->open && a >= l->kt0 && a < l->kt1 && b - a < l->big) {
		l->it[l->n - 1].t1 = b;
		l->it[l->n - 1].n++;
		return;
	}
	lod_push_slow(l, a, b);
}

bool vmatch_run(const struct vindex *idx, const struct vmatch *m, int p, size_t i)
{
	const struct vproc *vp = &idx->ps[p];
	const struct vrun *r = &vp->runs[i];

	switch (m->kind) {
	case VM_FN:
		return idx->vt[r->task].fn == m->fn;
	case VM_TASK:
		return r->task == m->task;
	case VM_SITES:
		if (r->why != WHY_BLOCK && r->why != WHY_SYSCALL)
			return false;
		for (int k = 0; k < m->nsite; k++)
			if (r->reason == m->reason[k] && r->site == m->site[k])
				return true;
		return false;
	case VM_RANGE:
		return vrun_t1(vp, i) > m->r0 && r->t0 < m->r1;
	default:
		return false;
	}
}

/* The first index of the sorted @chain not below @ref. */
static size_t chain_lower(const vref *chain, size_t n, vref ref)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (chain[mid] < ref)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

long vmatch_query(const struct vindex *idx, const struct vmatch *m, int p, uint64_t t0,
		  uint64_t t1, int w, struct vhl **out, uint64_t *nmatch)
{
	const struct vproc *vp;
	struct lod l = { 0 };

	*out = NULL;
	*nmatch = 0;
	if (p < 0 || p >= idx->np || t1 <= t0 || w <= 0 || w > 100000)
		return -1;
	vp = &idx->ps[p];
	l.t0 = t0;
	l.span = t1 - t0;
	l.w = (uint64_t)w;
	l.big = (l.span + l.w - 1) / l.w; /* len * w >= span iff len >= ceil(span / w) */
	l.cap = 2 * (size_t)w + 2;
	l.room = l.cap < 64 ? l.cap : 64;
	l.it = tool_calloc(l.room, sizeof(*l.it));
	switch (m->kind) {
	case VM_NONE:
		break;
	case VM_STW:
		for (size_t k = 0; k < vp->nstw; k++)
			if (vp->stw[k].t1 > t0 && vp->stw[k].t0 < t1)
				lod_push(&l, vp->stw[k].t0, vp->stw[k].t1);
		break;
	case VM_CHAIN: {
		size_t i = vindex_first_after(vp, t0);
		for (size_t k = chain_lower(m->chain, m->nchain, VREF(p, i));
		     k < m->nchain && VREF_P(m->chain[k]) == p; k++) {
			size_t j = VREF_I(m->chain[k]);
			if (vp->runs[j].t0 >= t1)
				break;
			lod_push(&l, vp->runs[j].t0, vrun_t1(vp, j));
		}
		break;
	}
	case VM_RANGE: {
		/* Only the runs in both the window and the range. */
		uint64_t a = t0 > m->r0 ? t0 : m->r0, b = t1 < m->r1 ? t1 : m->r1;
		if (a >= b)
			break;
		for (size_t i = vindex_first_after(vp, a); i < vp->n && vp->runs[i].t0 < b; i++)
			lod_push(&l, vp->runs[i].t0, vrun_t1(vp, i));
		break;
	}
	case VM_FN: {
		/* The hot loop of a function's highlight zoomed out (every run). */
		const struct vtask *vt = idx->vt;
		const struct vrun *runs = vp->runs;
		const uint64_t *busy = vp->busy;
		uint32_t fn = m->fn;
		for (size_t i = vindex_first_after(vp, t0), n = vp->n; i < n && runs[i].t0 < t1; i++)
			if (vt[runs[i].task].fn == fn)
				lod_push(&l, runs[i].t0, runs[i].t0 + (busy[i + 1] - busy[i]));
		break;
	}
	default:
		for (size_t i = vindex_first_after(vp, t0); i < vp->n && vp->runs[i].t0 < t1; i++)
			if (vmatch_run(idx, m, p, i))
				lod_push(&l, vp->runs[i].t0, vrun_t1(vp, i));
		break;
	}
	*out = l.it;
	*nmatch = l.nmatch;
	return (long)l.n;
}

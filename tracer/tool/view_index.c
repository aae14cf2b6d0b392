/*
 * view_index.c - the index behind `weft-trace view`: one streaming pass
 * over the trace through the model (model.c), and then every zoom and pan
 * of the page is a query that costs O(width x log runs), not a re-read.
 *
 * What is kept. Every run of a task on a P (start, end, task, entry
 * function, why it ended: block reason and call site, yield, syscall, end),
 * in one array per P ordered by start, and for each run the run that
 * readied its task (the waker's run: the waker is running when it wakes,
 * so its run is the next one its P will close), and the task's previous
 * and next run, so that the page can jump along a task's life and along
 * wake-ups without a search. Beside each array, busy[i] is the run time of
 * runs [0, i): the run time of any range of runs is one subtraction, and a
 * run's end is not stored (t0 + busy[i + 1] - busy[i]): 48 bytes a run
 * plus 8 of prefix. Tasks are kept in the order they came with their
 * index in the model's task (aux2), so a run costs no lookup by id; the
 * API's lookups by id binary-search an index sorted once at the end. (A
 * hash map by id took 30% of the build and 48 MB at 2.2 M tasks.)
 * Stop-the-world bands per P. Tasks by id: entry function, creator,
 * first and last run. Per entry function, what weft-trace tasks counts:
 * tasks, runs, time running, runnable and blocked by reason, from the
 * model's intervals (exact, not inferred from the gaps between runs).
 *
 * The query (level of detail on the server). The page asks for P p's
 * window [t0, t1) at w pixels. Runs on a P never overlap and are ordered,
 * so their ends are ordered too: a binary search finds the first run that
 * ends after t0. Walking on, a run at least a pixel long is an item of its
 * own; otherwise the runs that start in the same pixel are found by a
 * second binary search (on starts) and become one merged item, except the
 * last of them if it is a pixel or more long (only the last can reach past
 * the pixel: the runs do not overlap), which is an item of its own. (A
 * short run that straddles the pixel's edge joins the block: on a P that
 * is never idle one does at every edge, and as items of their own they
 * would stripe the row with slivers between the blocks.) So each pixel
 * yields at most two items, and a merged item's busy time is
 * busy[j] - busy[i]:
 * exactly the run time of the runs it covers. This is what Perfetto's
 * per-pixel "mipmaps" and gotraceui's merging of sub-8dp spans do, with
 * the merge computed at query time from one prefix array instead of
 * stored per level. The walk reads its array through a view (struct
 * vlod: the starts at a stride, the prefix sums) so that an M's syscalls
 * and the Ps it held (view_threads.c) merge by the same rule.
 *
 * Invariants:
 *   - on each P, runs[i].t1 <= runs[i + 1].t0 (the model closes a P's run
 *     before it opens the next); a run that breaks it (a damaged trace)
 *     is clamped to start at the previous end;
 *   - busy has n + 1 entries after vindex_seal, busy[0] = 0;
 *   - a vref names a run that exists (P below np, index below its n) or
 *     is 0.
 *
 * Rejected:
 *   - A qsort of every task by id at the end (11% of the build at 2.2 M
 *     tasks, for an array in order but for the ~1,600 alive when the
 *     trace began): vindex_seal keeps the ascending tasks in place and
 *     merges the others in.
 *   - A segment tree or stored mipmap levels per P (Perfetto's): the same
 *     O(log n) per pixel, more memory, and the exact busy sum needs the
 *     prefix array anyway.
 *   - Re-reading the trace for each zoom (`go tool trace` splits big
 *     traces into pieces for this reason): 10 M events take a second to
 *     read; a query takes well under a millisecond.
 *   - Sending every run to the page and merging there: at 10 M events the
 *     page would hold hundreds of MB and each frame would walk millions of
 *     runs.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipe.h"
#include "tool.h"
#include "view_index.h"

/* ---- building ------------------------------------------------------------- */

void vindex_init(struct vindex *idx, int np)
{
	memset(idx, 0, sizeof(*idx));
	idx->np = np;
	idx->ps = tool_calloc(np > 0 ? (size_t)np : 1, sizeof(*idx->ps));
	idx->stw_p = -1;
	vrows_init(&idx->rows);
}

static void grow_ps(struct vindex *idx, int p)
{
	if (p < idx->np)
		return;
	idx->ps = tool_realloc(idx->ps, (size_t)p + 1, sizeof(*idx->ps));
	memset(idx->ps + idx->np, 0, ((size_t)p + 1 - (size_t)idx->np) * sizeof(*idx->ps));
	idx->np = p + 1;
}

void vindex_add_run(struct vindex *idx, int p, const struct vrun *r, uint64_t t1)
{
	struct vproc *vp;
	struct vrun *x;

	grow_ps(idx, p);
	vp = &idx->ps[p];
	if (vp->n == vp->cap) {
		vp->cap = vp->cap ? 2 * vp->cap : 1024;
		vp->runs = tool_realloc(vp->runs, vp->cap, sizeof(*vp->runs));
		vp->busy = tool_realloc(vp->busy, vp->cap + 1, sizeof(*vp->busy));
		if (vp->n == 0)
			vp->busy[0] = 0;
	}
	x = &vp->runs[vp->n];
	*x = *r;
	if (vp->n > 0 && x->t0 < vrun_t1(vp, vp->n - 1))
		x->t0 = vrun_t1(vp, vp->n - 1); /* a damaged trace: keep them in order */
	if (t1 < x->t0)
		t1 = x->t0;
	vp->busy[vp->n + 1] = vp->busy[vp->n] + (t1 - x->t0);
	vp->n++;
	idx->nruns++;
}

uint32_t vindex_add_task(struct vindex *idx, uint64_t id)
{
	if (idx->ntasks == idx->captasks) {
		idx->captasks = idx->captasks ? 2 * idx->captasks : 1024;
		idx->vt = tool_realloc(idx->vt, idx->captasks, sizeof(*idx->vt));
	}
	memset(&idx->vt[idx->ntasks], 0, sizeof(*idx->vt));
	idx->vt[idx->ntasks].id = id;
	return (uint32_t)idx->ntasks++;
}

static const struct vtask *sort_vt; /* qsort has no context argument */

/* By id, ties by place in vt: a total order, so any sort gives one result. */
static int by_id(const void *a, const void *b)
{
	uint32_t i = *(const uint32_t *)a, j = *(const uint32_t *)b;
	uint64_t x = sort_vt[i].id, y = sort_vt[j].id;
	return x < y ? -1 : x > y ? 1 : (i > j) - (i < j);
}

/*
 * byid: the tasks in id order. They come in the order of their creation,
 * which is the order of their ids but for those alive when the trace
 * began, met out of order. So the ascending sequence taken greedily stays
 * in place, the others (few) are sorted and merged in from the back. (A
 * qsort of all 2.2 M took 11% of the index build of the 10 M-event trace,
 * for an array in order but for a handful.)
 */
void vindex_seal(struct vindex *idx)
{
	const struct vtask *vt = idx->vt;
	size_t n = idx->ntasks, nmain = 0, nrest = 0, caprest = 0;
	uint32_t *byid, *rest = NULL;

	free(idx->byid);
	byid = idx->byid = tool_calloc(n ? n : 1, sizeof(*idx->byid));
	for (size_t i = 0; i < n; i++) {
		if (!nmain || vt[i].id >= vt[byid[nmain - 1]].id) {
			byid[nmain++] = (uint32_t)i;
			continue;
		}
		if (nrest == caprest) {
			caprest = caprest ? 2 * caprest : 256;
			rest = tool_realloc(rest, caprest, sizeof(*rest));
		}
		rest[nrest++] = (uint32_t)i;
	}
	if (!nrest)
		return;
	sort_vt = vt;
	qsort(rest, nrest, sizeof(*rest), by_id);
	/* Merge from the back: byid[0, nmain) and rest into byid[0, n). */
	for (size_t k = n, a = nmain, b = nrest; b > 0;) {
		if (a > 0 && by_id(&byid[a - 1], &rest[b - 1]) > 0)
			byid[--k] = byid[--a];
		else
			byid[--k] = rest[--b];
	}
	free(rest);
}

const struct vtask *vindex_task(const struct vindex *idx, uint64_t id)
{
	size_t lo = 0, hi = idx->ntasks;

	if (!idx->byid)
		return NULL;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (idx->vt[idx->byid[mid]].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < idx->ntasks && idx->vt[idx->byid[lo]].id == id ? &idx->vt[idx->byid[lo]] : NULL;
}

struct build {
	struct vindex *idx;
	uint64_t first;
};

/* Every task the model meets comes here first: its place in vt goes in
 * the model's aux2 (+ 1), so runs and waits need no lookup by id. */
static void h_new(void *x, struct model *m, struct mtask *t, uint64_t parent, bool created)
{
	struct build *b = x;
	uint32_t k = vindex_add_task(b->idx, t->id);

	struct mtask *pt = parent ? model_task(m, parent) : NULL;

	(void)created;
	b->idx->vt[k].creator = pt && pt->aux2 ? pt->aux2 : 0;
	t->aux = 0; /* the pending waker's run */
	t->aux2 = k + 1;
}

/* The aggregate of entry function @fn, made on first use. */
static struct vfn *fn_agg(struct vindex *idx, uint32_t fn)
{
	idx->fns = tool_grow_zero(idx->fns, &idx->capfns, fn, sizeof(*idx->fns));
	return &idx->fns[fn];
}

static void h_gone(void *x, struct model *m, struct mtask *t, bool ended)
{
	struct build *b = x;

	(void)m, (void)ended;
	fn_agg(b->idx, t->fn)->tasks++; /* its fn is known by now */
}

static void h_run(void *x, struct model *m, struct mtask *t, int p, uint64_t t0, uint64_t t1,
		  int why)
{
	struct build *b = x;
	struct vindex *idx = b->idx;
	struct vrun r = { 0 };
	struct vtask *vt;
	vref self;

	(void)m;
	if (p < 0 || p >= MODEL_MAX_P || !t->aux2)
		return;
	vt = &idx->vt[t->aux2 - 1];
	grow_ps(idx, p);
	r.t0 = t0 - b->first;
	r.task = t->aux2 - 1;
	r.why = (uint8_t)why;
	r.waker = t->aux;
	t->aux = 0;
	self = VREF(p, idx->ps[p].n);
	vt->fn = t->fn;
	r.prev = vt->last;
	if (vt->last)
		idx->ps[VREF_P(vt->last)].runs[VREF_I(vt->last)].next = self;
	else
		vt->first = self;
	vt->last = self;
	vindex_add_run(idx, p, &r, t1 - b->first);
	struct vfn *f = fn_agg(idx, t->fn);
	f->runs++;
	f->exec += t1 > t0 ? t1 - t0 : 0;
}

static void h_wait(void *x, struct model *m, struct mtask *t, int state, uint64_t t0, uint64_t t1,
		   uint64_t by)
{
	struct build *b = x;
	struct mtask *w;

	/* Per function: runnable, blocked by reason, in a syscall. */
	if (t1 > t0) {
		struct vfn *f = fn_agg(b->idx, t->fn);
		if (state == WEFT_TF_T_RUNNABLE)
			f->wait += t1 - t0;
		else if (state == WEFT_TF_T_SYSCALL)
			f->blocked[WEFT_TRACE_BLOCK_SYSCALL] += t1 - t0;
		else if (state == WEFT_TF_T_BLOCKED && t->reason < WEFT_TRACE_BLOCK_MAX)
			f->blocked[t->reason] += t1 - t0;
	}
	/* The block's reason and site are known by now (the model sets them
	 * after the run's end is reported): give them to the run it ended. */
	if ((state == WEFT_TF_T_BLOCKED || state == WEFT_TF_T_SYSCALL) && t->aux2) {
		const struct vtask *vt = &b->idx->vt[t->aux2 - 1];
		if (vt->last) {
			struct vrun *r = &b->idx->ps[VREF_P(vt->last)].runs[VREF_I(vt->last)];
			if (r->why == WHY_BLOCK || r->why == WHY_SYSCALL) {
				r->site = t->site;
				r->reason = state == WEFT_TF_T_SYSCALL ? WEFT_TRACE_BLOCK_SYSCALL
								       : t->reason;
			}
		}
	}
	if (state != WEFT_TF_T_BLOCKED || !by)
		return;
	/* The waker runs now: its run is the next its P will close. */
	w = model_task(m, by);
	if (w && w->state == WEFT_TF_T_RUNNING && w->p >= 0 && w->p < MODEL_MAX_P) {
		grow_ps(b->idx, w->p);
		t->aux = VREF(w->p, b->idx->ps[w->p].n);
	}
}

static void stw_band(struct vindex *idx, int p, uint64_t t0, uint64_t t1)
{
	struct vproc *vp;

	grow_ps(idx, p);
	vp = &idx->ps[p];
	if (vp->nstw == vp->capstw) {
		vp->capstw = vp->capstw ? 2 * vp->capstw : 64;
		vp->stw = tool_realloc(vp->stw, vp->capstw, sizeof(*vp->stw));
	}
	vp->stw[vp->nstw].t0 = t0;
	vp->stw[vp->nstw].t1 = t1;
	vp->nstw++;
}

static char *dup_name(const char *s)
{
	char *d = strdup(s ? s : "?");
	if (!d)
		tool_oom();
	return d;
}

int vindex_build(struct vindex *idx, const char *path)
{
	struct tool_trace tt;
	struct model m;
	weft_tr_event *ev;
	struct build b = { idx, 0 };
	int r;

	if (tool_open(&tt, "view", path) < 0)
		return -1;
	vindex_init(idx, tt.info.procs > 0 && tt.info.procs <= MODEL_MAX_P ? tt.info.procs : 1);
	struct model_hooks h = {
		.ctx = &b, .task_new = h_new, .run = h_run, .wait = h_wait, .task_gone = h_gone
	};
	model_init(&m, tt.t, &h);
	while ((r = tool_next(&tt, &ev)) > 0) {
		if (!b.first)
			b.first = ev->ts;
		idx->nevents++;
		if (VROWS_PRE(ev->type))
			vrows_pre(&idx->rows, idx, &m, ev, ev->ts - b.first);
		if (ev->type == WEFT_TEV_STW_BEGIN) {
			idx->in_stw = true;
			idx->stw_p = ev->p;
			idx->stw_t0 = ev->ts - b.first;
		} else if (ev->type == WEFT_TEV_STW_END && idx->in_stw) {
			for (int p = 0; p < idx->np; p++)
				if (p != idx->stw_p)
					stw_band(idx, p, idx->stw_t0, ev->ts - b.first);
			idx->in_stw = false;
		}
		model_event(&m, ev);
		if (VROWS_POST(ev->type))
			vrows_post(&idx->rows, idx, &m, ev, ev->ts - b.first);
		vrows_count(&idx->rows, &m, ev->ts - b.first);
	}
	if (r < 0 && !tool_partial(&tt)) {
		model_free(&m);
		tool_close(&tt);
		vindex_free(idx);
		return -1;
	}
	if (r < 0) {
		idx->partial = true;
		snprintf(idx->err, sizeof(idx->err), "%s", weft_tr_error(tt.t));
	}
	model_finish(&m);
	idx->first_ts = b.first;
	idx->duration = m.now > b.first ? m.now - b.first : 0;
	if (m.end_ts > m.now && b.first)
		idx->duration = m.end_ts - b.first;
	grow_ps(idx, m.np > 0 ? m.np - 1 : 0);
	/* Names outlive the reader: copy them. */
	idx->nfn = m.fns.n;
	idx->fn_names = tool_calloc(idx->nfn ? idx->nfn : 1, sizeof(char *));
	for (size_t i = 0; i < idx->nfn; i++)
		idx->fn_names[i] = dup_name(i ? names_get(&m.fns, (uint32_t)i) : "");
	idx->nsite = m.sites.n;
	idx->site_names = tool_calloc(idx->nsite ? idx->nsite : 1, sizeof(char *));
	for (size_t i = 0; i < idx->nsite; i++)
		idx->site_names[i] = dup_name(i ? names_get(&m.sites, (uint32_t)i) : "");
	idx->fns = tool_grow_zero(idx->fns, &idx->capfns, idx->nfn ? idx->nfn - 1 : 0,
				  sizeof(*idx->fns));
	vindex_seal(idx);
	vrows_seal(&idx->rows, idx, &m, idx->duration);
	model_free(&m);
	tool_close(&tt);
	return 0;
}

void vindex_free(struct vindex *idx)
{
	for (int p = 0; p < idx->np; p++) {
		free(idx->ps[p].runs);
		free(idx->ps[p].busy);
		free(idx->ps[p].stw);
	}
	free(idx->ps);
	for (size_t i = 0; i < idx->nfn; i++)
		free(idx->fn_names[i]);
	free(idx->fn_names);
	for (size_t i = 0; i < idx->nsite; i++)
		free(idx->site_names[i]);
	free(idx->site_names);
	free(idx->vt);
	free(idx->byid);
	free(idx->fns);
	vrows_free(&idx->rows);
	memset(idx, 0, sizeof(*idx));
}

/* ---- queries ---------------------------------------------------------------- */

size_t vindex_first_after(const struct vproc *vp, uint64_t t)
{
	size_t lo = 0, hi = vp->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (vrun_t1(vp, mid) > t)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/* The views of the level of detail: the runs of a P are one. */
static inline uint64_t lod_t0(const struct vlod *v, size_t i)
{
	return *(const uint64_t *)((const char *)v->t0s + i * v->stride);
}

static inline uint64_t lod_dur(const struct vlod *v, size_t i)
{
	return v->busy[i + 1] - v->busy[i];
}

/* The first index of @v whose interval ends after @t (n if none). */
static size_t lod_first_after(const struct vlod *v, uint64_t t)
{
	size_t lo = 0, hi = v->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (lod_t0(v, mid) + lod_dur(v, mid) > t)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/* The first index in [lo, n) whose interval starts at or after @t. */
static size_t first_start_at(const struct vlod *v, size_t lo, uint64_t t)
{
	size_t hi = v->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (lod_t0(v, mid) >= t)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

long vlod_query(const struct vlod *v, uint64_t t0, uint64_t t1, int w, struct vitem **out)
{
	struct vitem *it;
	size_t i, n = 0, cap, room;
	double px;

	*out = NULL;
	if (t1 <= t0 || w <= 0 || w > 100000)
		return -1;
	px = (double)(t1 - t0) / w; /* ns per pixel */
	cap = 2 * (size_t)w + 2; /* the bound; the array grows towards it */
	room = cap < 256 ? cap : 256;
	it = tool_calloc(room, sizeof(*it));
	i = lod_first_after(v, t0);
	while (i < v->n && lod_t0(v, i) < t1 && n + 2 <= cap) {
		uint64_t s = lod_t0(v, i), d = lod_dur(v, i);
		if (n + 2 > room) {
			room = 2 * room < cap ? 2 * room : cap;
			it = tool_realloc(it, room, sizeof(*it));
		}
		if ((double)d >= px) {
			it[n++] = (struct vitem){ s, s + d, d, 1, i };
			i++;
			continue;
		}
		/* The pixel it starts in, and every interval that starts in it. */
		double k = s > t0 ? (double)(s - t0) / px : 0;
		uint64_t pend = t0 + (uint64_t)(((uint64_t)k + 1) * px);
		if (pend <= s)
			pend = s + 1;
		size_t j = first_start_at(v, i + 1, pend);
		/* Only the last of them may reach past the pixel; if it is a pixel
		 * or more long it is an item of its own, else it joins the block
		 * (which then ends less than a pixel past the boundary). */
		size_t last = j - 1;
		if (last > i && (double)lod_dur(v, last) >= px)
			j = last;
		if (j - i == 1) {
			it[n++] = (struct vitem){ s, s + d, d, 1, i };
		} else {
			it[n++] = (struct vitem){ s, lod_t0(v, j - 1) + lod_dur(v, j - 1),
						  v->busy[j] - v->busy[i], j - i, i };
		}
		i = j;
	}
	*out = it;
	return (long)n;
}

long vindex_query(const struct vindex *idx, int p, uint64_t t0, uint64_t t1, int w,
		  struct vitem **out)
{
	struct vlod v;

	*out = NULL;
	if (p < 0 || p >= idx->np)
		return -1;
	v = (struct vlod){ idx->ps[p].runs, sizeof(struct vrun), idx->ps[p].busy, idx->ps[p].n };
	return vlod_query(&v, t0, t1, w, out);
}

/*
 * view_analysis.c - the analysis panel of `weft-trace view`: the gaps
 * verdicts (gaps.c), each with what it speaks of as a highlight on the
 * index (view_match.h), and the block profile by call site.
 *
 * Threads. The gaps pass runs on a pthread of its own, with a reader of
 * its own (a second tool_open of the file, made on the main thread before
 * the index's, so that a file that is not a trace is said once; quiet on a
 * file damaged part-way, which the index's reader reports). The thread
 * waits for the index (vana_index_ready: a mutex and condition variable,
 * once) before it reads, so the server starts when the index is ready, as
 * without the analysis, and /api/verdicts says {"ready":false} until the
 * analysis is done (on the 10 M-event trace, about a second after the
 * page could first paint). Then it resolves the subjects on the index (names mapped by string from the gaps
 * model's to the index's, the critical path's chain rebuilt, the ranges
 * to zoom to), frees the gaps model, and publishes: every field written,
 * then ready = 1 with a release store; the server's tasks load it with
 * acquire (vana_ready) and read the fields only after seeing 1, and nothing
 * writes them again until vana_stop, which joins the thread after the
 * server has ended.
 *
 * Yielding to the page. The analysis starts when the server does, which
 * is when a browser opens the page; its two threads on two cores took
 * the CPU from the server and the browser during the page's first paint.
 * So serving the page holds it back (vana_hold: up to 2 s), and the
 * first window's answer lets it go on 300 ms later (vana_release: time
 * to draw): tt.hold is a deadline the thread looks at before each batch
 * of events (pipe.c), and its reader thread stops once the ring is full.
 *
 * Synchronisation:
 *   field            written by              read by
 *   path, tt         main, before start      thread (tt: it alone, then closes it)
 *   idx, idx_set     main (under mu)         thread (under mu)
 *   the results      thread, before ready    server tasks, after ready
 *   ready            thread (release)        tasks (acquire), vana_stop
 *   hold_ns          tasks, vana_stop        thread (relaxed: only a deadline)
 *
 * The chain. The model keeps only the critical path's length, its hops
 * and the task it ends in (struct model: span, span_hops, span_task). The
 * gaps pass records the edges as the model takes them (gaps.h: struct
 * gaps_cnode, told from the spans the model leaves: a create, an unblock,
 * the backward edge of a channel rendezvous), so the chain is a list of
 * stretches of tasks; vana_chain_from() finds each stretch's runs on the
 * index (walking back along the task's runs, a cursor per task) and cuts
 * each run to its stretch: the run time is the model's span exactly, and
 * the per-run memory does not grow (the chain costs an array of its own
 * runs). When the recording stopped (a history longer than
 * GAPS_CHAIN_MAX_NODES), vana_chain() rebuilds it from the index alone,
 * following the waker after a block, the creator before a first run, else
 * the previous run; that misses the model's backward edges and counts each
 * waker up to the woken run's start (+1.4% on tshape chain), and the answer
 * says so ("exact": false).
 *
 * Rejected:
 *   - The gaps pass on the main thread after the index: the server would
 *     start a second later on big traces.
 *   - The two passes at once (the first version): each reader already
 *     keeps two cores busy (pipe.c decompresses on a thread of its own),
 *     so four busy threads on two cores took the index of the 10 M-event
 *     trace from 1.4 to 2.1 s; the verdicts were ready no sooner in all.
 *   - One pass feeding both the index and the gaps hooks: one model could
 *     serve both, but the two analyses together on one core are the sum of
 *     both, and gaps.c's hooks would have to share the model's aux fields
 *     with the index's.
 *   - Recording every run's chain predecessor during the pass (8 bytes a
 *     run: the index's memory is the budget); the edges alone, reference-
 *     counted, follow the live tasks instead.
 *   - Rebuilding the chain from the index alone (the first version): the
 *     index has no unblock times and no backward rendezvous edges, so the
 *     chain's run time was off by the wake-up latencies.
 *   - Locks around the results (the tasks would take one per request for
 *     data that is written once).
 *   - The analysis at the lowest priority instead of the hold (SCHED_IDLE
 *     or nice 19 on its threads): on a machine busy with other work the
 *     verdicts would wait for as long as it stays busy, and an
 *     unprivileged thread cannot take its priority back once the page is
 *     drawn.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pipe.h"
#include "tool.h"
#include "view_analysis.h"

/* ---- names: the gaps model's index to the view index's, by string ----------------------------- */

struct name_map {
	char **names; /* the index's */
	uint32_t *order; /* indices sorted by name */
	size_t n;
};

static char **sort_names; /* qsort's context (the analysis thread alone sorts) */

static int by_name(const void *a, const void *b)
{
	return strcmp(sort_names[*(const uint32_t *)a], sort_names[*(const uint32_t *)b]);
}

static void map_init(struct name_map *nm, char **names, size_t n)
{
	nm->names = names;
	nm->n = n;
	nm->order = tool_calloc(n ? n : 1, sizeof(*nm->order));
	for (size_t i = 0; i < n; i++)
		nm->order[i] = (uint32_t)i;
	sort_names = names;
	qsort(nm->order, n, sizeof(*nm->order), by_name);
}

/* The index's index of @name; @dflt if it has none. Index 0 is "none" in both. */
static uint32_t map_get(const struct name_map *nm, struct names *from, uint32_t i, uint32_t dflt)
{
	const char *name;
	size_t lo = 0, hi = nm->n;

	if (!i)
		return 0;
	name = names_get(from, i);
	if (i < nm->n && !strcmp(nm->names[i], name))
		return i; /* the same order: both interned the same events */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(nm->names[nm->order[mid]], name);
		if (c == 0)
			return nm->order[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return dflt;
}

/* ---- the chain -------------------------------------------------------------------------------- */

static int cmp_ref(const void *a, const void *b)
{
	vref x = *(const vref *)a, y = *(const vref *)b;
	return x < y ? -1 : x > y;
}

static const struct vrun *run_of(const struct vindex *idx, vref r)
{
	return &idx->ps[VREF_P(r)].runs[VREF_I(r)];
}

int vana_chain(const struct vindex *idx, uint64_t id, vref **out, size_t *n, uint64_t *ns)
{
	const struct vtask *vt = vindex_task(idx, id);
	vref *v = NULL, r;
	size_t nv = 0, cap = 0;
	uint64_t bound = UINT64_MAX, total = 0, steps = idx->nruns + 1;

	*out = NULL;
	*n = 0;
	*ns = 0;
	if (!vt || !vt->last)
		return -1;
	for (r = vt->last; r && steps--;) {
		const struct vproc *vp = &idx->ps[VREF_P(r)];
		const struct vrun *x = &vp->runs[VREF_I(r)];
		uint64_t t1 = vrun_t1(vp, VREF_I(r)), next_bound = x->t0;
		vref next = 0;

		if (t1 > bound)
			t1 = bound;
		total += t1 > x->t0 ? t1 - x->t0 : 0;
		if (nv == cap) {
			cap = cap ? 2 * cap : 256;
			v = tool_realloc(v, cap, sizeof(*v));
		}
		v[nv++] = r;
		if (x->prev) {
			if (x->waker && run_of(idx, x->prev)->why == WHY_BLOCK) {
				next = x->waker; /* it waited for that run */
			} else {
				next = x->prev;
				next_bound = UINT64_MAX;
			}
		} else {
			/* The task's first run: its creator's run that started last before it. */
			const struct vtask *c = idx->vt[x->task].creator
							? &idx->vt[idx->vt[x->task].creator - 1]
							: NULL;
			for (vref k = c ? c->first : 0; k && run_of(idx, k)->t0 <= x->t0;
			     k = run_of(idx, k)->next) {
				next = k;
				if (!steps--)
					break;
			}
		}
		/* Back in time only (a damaged trace could loop). */
		if (next && run_of(idx, next)->t0 > x->t0)
			break;
		r = next;
		bound = next_bound;
	}
	qsort(v, nv, sizeof(*v), cmp_ref);
	*out = v;
	*n = nv;
	*ns = total;
	return 0;
}

/*
 * The chain from the model's own edges (gaps.chain: stretches of tasks, from
 * the end backwards): each stretch's runs, walking back along the task's
 * runs from where the previous stretch of that task left off (a cursor per
 * task, so each task's runs are walked once). The run time is each run's
 * overlap with its stretch: the model's span, to the nanosecond.
 */
int vana_chain_from(const struct vindex *idx, const struct gaps *g, vref **out, size_t *n,
		    uint64_t *ns)
{
	struct u64map cur; /* task id -> vref: where to go on walking back */
	vref *v = NULL;
	size_t nv = 0, cap = 0;
	uint64_t total = 0;

	u64map_init(&cur, sizeof(vref), U64MAP_IDS);
	for (size_t k = 0; k < g->nchain; k++) {
		const struct gaps_seg *sg = &g->chain[k];
		const struct vtask *vt = vindex_task(idx, sg->task);
		bool added;
		vref *c = vt ? u64map_insert(&cur, sg->task, &added) : NULL;
		if (!c)
			continue;
		if (added)
			*c = vt->last;
		vref r = *c;
		while (r && run_of(idx, r)->t0 >= sg->t1)
			r = run_of(idx, r)->prev;
		*c = r;
		for (; r; r = run_of(idx, r)->prev) {
			const struct vproc *vp = &idx->ps[VREF_P(r)];
			uint64_t a = vp->runs[VREF_I(r)].t0, b = vrun_t1(vp, VREF_I(r));
			if (b <= sg->t0)
				break;
			*c = r; /* it may reach into the stretch before too */
			a = a > sg->t0 ? a : sg->t0;
			b = b < sg->t1 ? b : sg->t1;
			if (b <= a)
				continue;
			total += b - a;
			if (nv == cap) {
				cap = cap ? 2 * cap : 256;
				v = tool_realloc(v, cap, sizeof(*v));
			}
			v[nv++] = r;
		}
	}
	u64map_free(&cur);
	qsort(v, nv, sizeof(*v), cmp_ref);
	size_t u = 0;
	for (size_t k = 0; k < nv; k++) /* a run cut by two stretches is listed once */
		if (!u || v[u - 1] != v[k])
			v[u++] = v[k];
	*out = v;
	*n = u;
	*ns = total;
	return u ? 0 : -1;
}

/* ---- resolving the verdicts on the index ---------------------------------------------------- */

/* The first start and the last end of the runs @m matches; false if none. */
static bool match_span(const struct vindex *idx, const struct vmatch *m, uint64_t *a, uint64_t *b)
{
	bool any = false;

	for (int p = 0; p < idx->np; p++) {
		const struct vproc *vp = &idx->ps[p];
		for (size_t i = 0; i < vp->n; i++) {
			if (!vmatch_run(idx, m, p, i))
				continue;
			if (!any || vp->runs[i].t0 < *a)
				*a = vp->runs[i].t0;
			if (!any || vrun_t1(vp, i) > *b)
				*b = vrun_t1(vp, i);
			any = true;
		}
	}
	return any;
}

static int by_ns(const void *a, const void *b)
{
	const struct va_block *x = a, *y = b;
	if (x->ns != y->ns)
		return x->ns < y->ns ? 1 : -1;
	if (x->reason != y->reason)
		return x->reason < y->reason ? -1 : 1;
	return x->site < y->site ? -1 : x->site > y->site;
}

static void resolve(struct vanalysis *a, struct gaps *g, const struct vindex *idx)
{
	struct name_map sites, fns;

	map_init(&sites, idx->site_names, idx->nsite);
	map_init(&fns, idx->fn_names, idx->nfn);
	a->nv = g->nv;
	for (int i = 0; i < g->nv; i++) {
		const struct gaps_subject *s = &g->subj[i];
		struct va_verdict *v = &a->v[i];

		v->kind = g->v[i].kind;
		memcpy(v->text, g->v[i].text, sizeof(v->text));
		v->m.kind = VM_NONE;
		switch (s->kind) {
		case GAPS_SUBJ_FN:
			v->m.kind = VM_FN;
			v->m.fn = map_get(&fns, &g->m.fns, s->fn, 0);
			v->has_range = match_span(idx, &v->m, &v->r0, &v->r1);
			break;
		case GAPS_SUBJ_SITES:
			v->m.kind = VM_SITES;
			for (int k = 0; k < s->nsite && k < VM_SITES_MAX; k++) {
				v->m.reason[v->m.nsite] = s->reason[k];
				v->m.site[v->m.nsite++] = map_get(&sites, &g->m.sites, s->site[k], 0);
			}
			v->has_range = match_span(idx, &v->m, &v->r0, &v->r1);
			break;
		case GAPS_SUBJ_RANGE:
			v->m.kind = VM_RANGE;
			v->m.r0 = v->r0 = s->t0;
			v->m.r1 = v->r1 = s->t1;
			v->has_range = s->t1 > s->t0;
			break;
		case GAPS_SUBJ_CHAIN:
			/* The model's edges; else rebuilt from the index's. */
			a->chain_exact = vana_chain_from(idx, g, &a->chain, &a->nchain, &a->chain_ns) == 0;
			if (!a->chain_exact &&
			    vana_chain(idx, s->task, &a->chain, &a->nchain, &a->chain_ns) < 0)
				break;
			a->chain_hops = s->hops;
			v->m.kind = VM_CHAIN;
			v->m.chain = a->chain;
			v->m.nchain = a->nchain;
			for (size_t k = 0; k < a->nchain; k++) {
				const struct vproc *vp = &idx->ps[VREF_P(a->chain[k])];
				size_t j = VREF_I(a->chain[k]);
				if (!k || vp->runs[j].t0 < v->r0)
					v->r0 = vp->runs[j].t0;
				if (!k || vrun_t1(vp, j) > v->r1)
					v->r1 = vrun_t1(vp, j);
			}
			v->has_range = a->nchain > 0;
			break;
		case GAPS_SUBJ_STW: {
			/* The longest pause, with its own length on each side. */
			uint64_t len = s->t1 - s->t0, pad = len > 1000 ? len : 1000;
			v->m.kind = VM_STW;
			v->r0 = s->t0 > pad ? s->t0 - pad : 0;
			v->r1 = s->t1 + pad;
			v->has_range = s->t1 > s->t0;
			break;
		}
		case GAPS_SUBJ_TASKS: {
			/* The main task's runs (the first: the bottleneck, the longest of the capped). */
			const struct vtask *vt = s->ntask ? vindex_task(idx, s->tasks[0]) : NULL;
			if (!vt)
				break;
			v->m.kind = VM_TASK;
			v->m.task = (uint32_t)(vt - idx->vt);
			v->has_range = match_span(idx, &v->m, &v->r0, &v->r1);
			break;
		}
		case GAPS_SUBJ_NONE:
			break;
		}
	}
	/* The block profile, by blocked time. */
	a->blocks = tool_calloc(g->nblocks ? g->nblocks : 1, sizeof(*a->blocks));
	for (size_t i = 0; i < g->nblocks; i++) {
		const struct gaps_block *b = &g->blocks[i];
		a->blocks[i] = (struct va_block){ b->reason, map_get(&sites, &g->m.sites, b->site, 0),
						  b->waits, b->ns, b->max_ns };
	}
	qsort(a->blocks, g->nblocks, sizeof(*a->blocks), by_ns);
	a->nblocks = g->nblocks < VA_MAX_BLOCKS ? g->nblocks : VA_MAX_BLOCKS;
	free(sites.order);
	free(fns.order);
}

/* ---- the thread ------------------------------------------------------------------------------- */

static void *vana_main(void *arg)
{
	struct vanalysis *a = arg;
	struct gaps *g = tool_calloc(1, sizeof(*g));
	const struct vindex *idx;
	struct tool_trace *tt = &a->tt;
	int r;

	/* After the index: both readers use both cores (pipe.c), see the essay. */
	pthread_mutex_lock(&a->mu);
	while (!a->idx_set)
		pthread_cond_wait(&a->cv, &a->mu);
	idx = a->idx;
	pthread_mutex_unlock(&a->mu);
	if (!idx) { /* no index: nobody will ask */
		free(g);
		tool_close(tt);
		a->rc = -1;
		atomic_store_explicit(&a->ready, 1, memory_order_release);
		return NULL;
	}
	gaps_init(g, tt, true, true);
	r = gaps_collect(g, tt);
	if (r != 0)
		snprintf(a->err, sizeof(a->err), "%s", weft_tr_error(tt->t));
	if (r >= 0)
		gaps_finish(g, &tt->info);
	else
		gaps_free(g);
	if (r >= 0)
		resolve(a, g, idx);
	if (r >= 0)
		gaps_free(g);
	free(g);
	tool_close(tt); /* after resolve: the names are the reader's */
	a->rc = r;
	/* Publish: pairs with vana_ready's acquire load. */
	atomic_store_explicit(&a->ready, 1, memory_order_release);
	return NULL;
}

int vana_start(struct vanalysis *a, const char *path)
{
	int err;

	memset(a, 0, sizeof(*a));
	a->path = path;
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->cv, NULL);
	if (!strcmp(path, "-")) {
		/* Standard input is read once, by the index. */
		a->rc = -1;
		snprintf(a->err, sizeof(a->err), "the analysis reads the file a second time: "
						 "not available for standard input");
		atomic_store_explicit(&a->ready, 1, memory_order_release);
		return -EINVAL;
	}
	if (tool_open(&a->tt, "view", path) < 0)
		return -1;
	a->tt.progress = false; /* the index build shows its own */
	a->tt.quiet = true;     /* and says what is wrong with the file */
	a->tt.hold = &a->hold_ns;
	err = pthread_create(&a->th, NULL, vana_main, a);
	if (err) {
		tool_close(&a->tt);
		a->rc = -1;
		snprintf(a->err, sizeof(a->err), "no thread for the analysis: %s", strerror(err));
		atomic_store_explicit(&a->ready, 1, memory_order_release);
		return -err;
	}
	a->started = true;
	return 0;
}

void vana_index_ready(struct vanalysis *a, const struct vindex *idx)
{
	pthread_mutex_lock(&a->mu);
	a->idx = idx;
	a->idx_set = true;
	pthread_cond_signal(&a->cv);
	pthread_mutex_unlock(&a->mu);
}

static long long mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void vana_hold(struct vanalysis *a, int ms)
{
	long long until = mono_ns() + ms * 1000000LL;

	/* A race between two tasks leaves one of their deadlines: either will do. */
	if (atomic_load_explicit(&a->hold_ns, memory_order_relaxed) < until)
		atomic_store_explicit(&a->hold_ns, until, memory_order_relaxed);
}

void vana_release(struct vanalysis *a, int ms)
{
	long long until = mono_ns() + ms * 1000000LL;

	if (atomic_load_explicit(&a->hold_ns, memory_order_relaxed) > until)
		atomic_store_explicit(&a->hold_ns, until, memory_order_relaxed);
}

bool vana_ready(struct vanalysis *a)
{
	/* Pairs with the thread's release store: its results are visible. */
	return atomic_load_explicit(&a->ready, memory_order_acquire) != 0;
}

void vana_stop(struct vanalysis *a)
{
	if (a->started) {
		atomic_store_explicit(&a->hold_ns, 0, memory_order_relaxed);
		vana_index_ready(a, a->idx_set ? a->idx : NULL); /* never left waiting */
		pthread_join(a->th, NULL);
	}
	free(a->blocks);
	free(a->chain);
	pthread_mutex_destroy(&a->mu);
	pthread_cond_destroy(&a->cv);
	a->started = false;
}

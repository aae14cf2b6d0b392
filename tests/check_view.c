/*
 * check_view.c - the index behind weft-trace view (tracer/tool/view_index.c).
 *
 * The level-of-detail query, against brute force over the runs: for random
 * windows and widths, every run that meets the window is in exactly one
 * item, in order; an item of merged runs says exactly their run time (the
 * prefix sums are not an estimate); no row ever gets more than 2w + 2
 * items; a merged item holds only runs shorter than a pixel that start in
 * one pixel. Then an index built from a real trace (a ping-pong over an
 * unbuffered channel, traced here): each run of the ponger after its first
 * was readied by a run of the pinger, "woken by" names that run, and a
 * task's runs chain from first to last.
 */
#define _GNU_SOURCE
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <weft.h>

#include "testutil.h"
#include "tracer/tool/view_index.h"
#include "tracer/tool/view_match.h"
#include "tracer/tool/view_analysis.h"

static uint64_t rng = 88172645463325252ULL;

static uint64_t rnd(uint64_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return n ? rng % n : 0;
}

/* Each run's end as the test made it (the index derives it from busy[]). */
#define MAXP 4
static uint64_t *ends[MAXP];

/* Runs with gaps and lengths from 1 ns to 10 ms (a few far longer). */
static void fill(struct vindex *idx, int np, size_t nruns)
{
	vindex_init(idx, np);
	for (int p = 0; p < np; p++) {
		uint64_t t = rnd(1000);
		free(ends[p]);
		ends[p] = calloc(nruns, sizeof(*ends[p]));
		ck_assert_ptr_nonnull(ends[p]);
		for (size_t i = 0; i < nruns; i++) {
			uint64_t scale = (uint64_t)1 << rnd(24);
			struct vrun r = { 0 };
			t += rnd(scale);
			r.t0 = t;
			t += 1 + rnd(scale) + (rnd(500) == 0 ? rnd(100000000) : 0);
			vindex_add_run(idx, p, &r, t);
			ends[p][i] = t;
		}
	}
	vindex_seal(idx);
}

/* The failure, with the window: plain ifs, not ck_assert, inside the loops
 * (Check logs every assertion that passes, a write each). */
#define WFAIL(...)                                                                          \
	ck_abort_msg("P %d [%llu, %llu) at %d px: %s", p, (unsigned long long)t0,          \
		     (unsigned long long)t1, w, (snprintf(msg, sizeof(msg), __VA_ARGS__), msg))

static void check_window(const struct vindex *idx, int p, uint64_t t0, uint64_t t1, int w)
{
	const struct vproc *vp = &idx->ps[p];
	struct vitem *it;
	long n = vindex_query(idx, p, t0, t1, w, &it);
	double px = (double)(t1 - t0) / w;
	size_t first = 0, meet = 0;
	char msg[256];

	if (n < 0)
		WFAIL("query failed");
	if ((size_t)n > 2 * (size_t)w + 2)
		WFAIL("%ld items", n);
	while (first < vp->n && ends[p][first] <= t0)
		first++;
	for (size_t i = first; i < vp->n && vp->runs[i].t0 < t1; i++)
		meet++;
	size_t next = first, covered = 0;
	for (long k = 0; k < n; k++) {
		uint64_t busy = 0;
		if (it[k].i != next) /* in order, none skipped or repeated */
			WFAIL("item %ld starts at run %llu, not %zu", k, (unsigned long long)it[k].i, next);
		if (it[k].nruns < 1)
			WFAIL("item %ld holds no run", k);
		for (size_t i = it[k].i; i < it[k].i + it[k].nruns; i++) {
			uint64_t d = ends[p][i] - vp->runs[i].t0;
			busy += d;
			if (it[k].nruns > 1) {
				/* Only runs under a pixel merge, and they start in the
				 * first one's pixel (a run that began before the window
				 * counts as starting at its left edge). */
				uint64_t s0 = vp->runs[it[k].i].t0 > t0 ? vp->runs[it[k].i].t0 : t0;
				uint64_t si = vp->runs[i].t0 > t0 ? vp->runs[i].t0 : t0;
				if ((double)d >= px)
					WFAIL("a run of %llu ns merged at %.1f ns/px", (unsigned long long)d, px);
				if (si - s0 >= (uint64_t)px + 2)
					WFAIL("item %ld spans %llu ns of starts", k, (unsigned long long)(si - s0));
			}
		}
		if (it[k].busy != busy)
			WFAIL("item %ld: busy %llu, its runs hold %llu", k, (unsigned long long)it[k].busy,
			      (unsigned long long)busy);
		if (it[k].t0 != vp->runs[it[k].i].t0 || it[k].t1 != ends[p][it[k].i + it[k].nruns - 1])
			WFAIL("item %ld: bounds differ from its runs'", k);
		next = it[k].i + it[k].nruns;
		covered += it[k].nruns;
	}
	if (covered != meet)
		WFAIL("%zu runs in items, %zu meet the window", covered, meet);
	free(it);
}

START_TEST(test_lod_random)
{
	struct vindex idx;
	int np = 3;

	fill(&idx, np, 20000);
	uint64_t end = 0;
	for (int p = 0; p < np; p++)
		if (idx.ps[p].n && ends[p][idx.ps[p].n - 1] > end)
			end = ends[p][idx.ps[p].n - 1];
	for (int k = 0; k < 3000; k++) {
		uint64_t a = rnd(end), len = 1 + rnd(k % 3 == 0 ? end : end >> rnd(30));
		int w = 1 + (int)rnd(k % 5 == 0 ? 8 : 3000);
		check_window(&idx, (int)rnd((uint64_t)np), a, a + len, w);
	}
	/* The whole trace at a narrow width: few items, every run inside. */
	for (int p = 0; p < np; p++)
		check_window(&idx, p, 0, end + 1, 10);
	vindex_free(&idx);
}
END_TEST

START_TEST(test_lod_bad_args)
{
	struct vindex idx;
	struct vitem *it;

	fill(&idx, 1, 100);
	vindex_seal(&idx);
	ck_assert_int_eq(vindex_query(&idx, 1, 0, 10, 10, &it), -1);
	ck_assert_int_eq(vindex_query(&idx, -1, 0, 10, 10, &it), -1);
	ck_assert_int_eq(vindex_query(&idx, 0, 10, 10, 10, &it), -1);
	ck_assert_int_eq(vindex_query(&idx, 0, 0, 10, 0, &it), -1);
	vindex_free(&idx);
}
END_TEST

/* ---- highlights (view_match.c) ------------------------------------------------------ */

static int cmp_ref(const void *a, const void *b)
{
	vref x = *(const vref *)a, y = *(const vref *)b;
	return x < y ? -1 : x > y;
}

/* The matching runs that meet [t0, t1), counted one by one. */
static uint64_t brute_matches(const struct vindex *idx, const struct vmatch *m, int p, uint64_t t0,
			      uint64_t t1)
{
	const struct vproc *vp = &idx->ps[p];
	uint64_t n = 0;

	if (m->kind == VM_STW) {
		for (size_t k = 0; k < vp->nstw; k++)
			n += vp->stw[k].t1 > t0 && vp->stw[k].t0 < t1;
		return n;
	}
	for (size_t i = 0; i < vp->n; i++) {
		if (!(ends[p][i] > t0 && vp->runs[i].t0 < t1))
			continue;
		if (m->kind == VM_CHAIN) {
			vref r = VREF(p, i);
			n += bsearch(&r, m->chain, m->nchain, sizeof(r), cmp_ref) != NULL;
		} else {
			n += vmatch_run(idx, m, p, i);
		}
	}
	return n;
}

/*
 * For random windows, widths and predicates (function, call sites, task,
 * range, chain, stop-the-world bands): the counts of the highlight's items add up to the
 * brute-force count of matching runs that meet the window, the items are
 * in order and do not overlap, and there are at most 2w + 2 of them.
 */
START_TEST(test_hl_random)
{
	struct vindex idx;
	int np = 3;
	vref chain[600];
	size_t nchain = 0;

	fill(&idx, np, 8000);
	for (int k = 0; k < 7; k++) {
		uint32_t t = vindex_add_task(&idx, 1000 + (uint64_t)k);
		idx.vt[t].fn = (uint32_t)(k % 3);
	}
	vindex_seal(&idx);
	uint64_t end = 0;
	for (int p = 0; p < np; p++) {
		for (size_t i = 0; i < idx.ps[p].n; i++) {
			struct vrun *r = &idx.ps[p].runs[i];
			r->task = (uint32_t)rnd(7);
			r->why = (uint8_t)(rnd(3) ? WHY_BLOCK : WHY_YIELD);
			r->reason = (uint8_t)(1 + rnd(3));
			r->site = (uint32_t)rnd(4);
			if (nchain < 600 && rnd(100) == 0)
				chain[nchain++] = VREF(p, i);
		}
		if (idx.ps[p].n && ends[p][idx.ps[p].n - 1] > end)
			end = ends[p][idx.ps[p].n - 1];
	}
	/* Stop-the-world bands, from 1 ns to a third of the trace. */
	for (int p = 0; p < np; p++) {
		struct vproc *vp = &idx.ps[p];
		uint64_t t = 0;
		vp->capstw = 300;
		vp->stw = calloc(vp->capstw, sizeof(*vp->stw));
		ck_assert_ptr_nonnull(vp->stw);
		while (vp->nstw < vp->capstw && t < end) {
			t += rnd(end / 100);
			vp->stw[vp->nstw].t0 = t;
			t += 1 + rnd(rnd(20) ? 1000 : end / 3);
			vp->stw[vp->nstw++].t1 = t;
		}
	}
	qsort(chain, nchain, sizeof(*chain), cmp_ref);
	for (int k = 0; k < 1500; k++) {
		struct vmatch m = { .kind = (enum vmatch_kind)(k % 6) };
		uint64_t a = rnd(end), len = 1 + rnd(k % 3 == 0 ? end : end >> rnd(30));
		int w = 1 + (int)rnd(k % 7 == 0 ? 8 : 3000), p = (int)rnd((uint64_t)np);
		struct vhl *it;
		uint64_t nm, sum = 0;

		m.fn = (uint32_t)rnd(3);
		m.task = (uint32_t)rnd(7);
		m.nsite = 2;
		m.reason[0] = 1, m.site[0] = (uint32_t)rnd(4);
		m.reason[1] = 3, m.site[1] = (uint32_t)rnd(4);
		m.r0 = rnd(end);
		m.r1 = m.r0 + rnd(end >> rnd(20));
		m.chain = chain;
		m.nchain = nchain;
		if (k == 0) /* the whole trace */
			a = 0, len = end + 1;
		long n = vmatch_query(&idx, &m, p, a, a + len, w, &it, &nm);
		ck_assert_int_ge(n, 0);
		ck_assert_int_le(n, 2 * w + 2);
		for (long j = 0; j < n; j++) {
			ck_assert_uint_ge(it[j].n, 1);
			ck_assert_uint_le(it[j].t0, it[j].t1);
			if (j + 1 < n)
				ck_assert_uint_le(it[j].t1, it[j + 1].t0);
			sum += it[j].n;
		}
		ck_assert_uint_eq(sum, nm);
		ck_assert_uint_eq(sum, brute_matches(&idx, &m, p, a, a + len));
		free(it);
	}
	vindex_free(&idx);
}
END_TEST

/* ---- the rows besides the Ps (view_rows.h) ------------------------------------------ */

/* vlod_query over any view, against brute force over @ends (as check_window). */
static void check_lod(const struct vlod *v, const uint64_t *iend, uint64_t t0, uint64_t t1, int w)
{
	struct vitem *it;
	long n = vlod_query(v, t0, t1, w, &it);
	size_t first = 0, meet = 0, next, covered = 0;
	int p = -1;
	char msg[256];

	if (n < 0)
		WFAIL("query failed");
	if ((size_t)n > 2 * (size_t)w + 2)
		WFAIL("%ld items", n);
	while (first < v->n && iend[first] <= t0)
		first++;
	for (size_t i = first; i < v->n && *(const uint64_t *)((const char *)v->t0s + i * v->stride) < t1; i++)
		meet++;
	next = first;
	for (long k = 0; k < n; k++) {
		uint64_t busy = 0;
		if (it[k].i != next)
			WFAIL("item %ld starts at %llu, not %zu", k, (unsigned long long)it[k].i, next);
		for (size_t i = it[k].i; i < it[k].i + it[k].nruns; i++)
			busy += iend[i] - *(const uint64_t *)((const char *)v->t0s + i * v->stride);
		if (it[k].busy != busy)
			WFAIL("item %ld: busy %llu, its intervals hold %llu", k,
			      (unsigned long long)it[k].busy, (unsigned long long)busy);
		next = it[k].i + it[k].nruns;
		covered += it[k].nruns;
	}
	if (covered != meet)
		WFAIL("%zu intervals in items, %zu meet the window", covered, meet);
	free(it);
}

/* An M's syscalls go through the runs' level of detail: exact busy, the
 * bound, every one in exactly one item; the Ms come out ordered by id. */
START_TEST(test_sys_lod_random)
{
	struct vthreads th;
	size_t n = 20000;
	uint64_t t = 0, *end = calloc(n, sizeof(*end));

	memset(&th, 0, sizeof(th));
	vth_m(&th, 7);
	int32_t mi = vth_m(&th, 3);
	ck_assert_int_eq(vth_m(&th, 3), mi);
	for (size_t i = 0; i < n; i++) {
		uint64_t scale = (uint64_t)1 << rnd(22), t0;
		t += rnd(scale);
		t0 = t;
		t += rnd(scale) + (rnd(300) == 0 ? rnd(50000000) : 0);
		vth_add_sys(&th, mi, t0, t, (uint32_t)i, 1, i % 3 == 0);
		end[i] = t;
	}
	vth_seal(&th);
	ck_assert_uint_eq(th.n, 2);
	ck_assert_int_eq(th.ms[0].m, 3);
	ck_assert_int_eq(th.ms[1].m, 7);
	ck_assert_uint_eq(th.nsys, n);
	const struct vthread *m3 = &th.ms[0];
	ck_assert_uint_eq(m3->nsys, n);
	ck_assert(m3->sys[3].handoff && !m3->sys[4].handoff);
	struct vlod v = { m3->sys, sizeof(*m3->sys), m3->sbusy, m3->nsys };
	for (size_t i = 0; i < n; i++)
		ck_assert_uint_eq(m3->sys[i].t0 + vsys_dur(m3, i), end[i]);
	for (int k = 0; k < 2000; k++) {
		uint64_t a = rnd(t), len = 1 + rnd(k % 3 == 0 ? t : t >> rnd(30));
		check_lod(&v, end, a, a + len, 1 + (int)rnd(k % 5 == 0 ? 8 : 3000));
	}
	check_lod(&v, end, 0, t + 1, 10);
	/* An M with none: an empty row. */
	struct vlod e = { th.ms[1].sys, sizeof(struct vsys), th.ms[1].sbusy, th.ms[1].nsys };
	struct vitem *it;
	ck_assert_int_eq(vlod_query(&e, 0, 100, 10, &it), 0);
	free(it);
	free(end);
	struct vrows r; /* frees th the way the index does */
	vrows_init(&r);
	u64map_free(&r.th.open);
	r.th = th;
	vrows_free(&r);
}
END_TEST

/* The counters' buckets: for random changes over a span that makes them
 * halve several times, a pixel of whole buckets has exactly the min and
 * max held in it and the time-weighted mean; any pixel has
 * min <= mean <= max; past the end, no data. */
#define NCH 30000
static uint64_t ch_t[NCH + 1];
static uint32_t ch_v[NCH][VC_N];

START_TEST(test_counters_buckets)
{
	struct vcounters c;
	uint64_t t = 0;
	char msg[256];
	int p = -1, w = 0;
	uint64_t t0 = 0, t1 = 0;

	vc_init(&c);
	for (int i = 0; i < NCH; i++) {
		ch_t[i] = t;
		for (int k = 0; k < VC_N; k++)
			ch_v[i][k] = rnd(4) ? rnd(16) : rnd(1000);
		vc_set(&c, t, ch_v[i]);
		t += 1 + rnd((uint64_t)1 << rnd(16));
	}
	ch_t[NCH] = t;
	vc_seal(&c, t);
	ck_assert_uint_gt(c.res, VC_RES0); /* it had to halve */
	ck_assert_uint_le(c.n, VC_CAP);
	ck_assert_uint_eq(c.end, t);
	for (int q = 0; q < 300; q++) {
		/* Whole buckets: [a, b) on bucket edges, inside the data. */
		uint64_t nb = (t - 1) / c.res; /* full buckets before the last */
		uint64_t ka = rnd(nb), kb = ka + 1 + rnd(nb - ka < 200 ? nb - ka : 200);
		uint64_t a = ka * c.res, b = kb * c.res;
		t0 = a, t1 = b;
		for (int k = 0; k < VC_N; k++) {
			uint64_t mn, mx, lo = UINT64_MAX, hi = 0;
			double mean, sum = 0;
			if (vc_pixel(&c, k, a, b, &mn, &mx, &mean) != 0)
				WFAIL("no data in [%llu, %llu)", (unsigned long long)a, (unsigned long long)b);
			for (int i = 0; i < NCH; i++) {
				uint64_t s = ch_t[i] > a ? ch_t[i] : a, e = ch_t[i + 1] < b ? ch_t[i + 1] : b;
				if (e <= s)
					continue;
				sum += (double)ch_v[i][k] * (double)(e - s);
				if (ch_v[i][k] < lo)
					lo = ch_v[i][k];
				if (ch_v[i][k] > hi)
					hi = ch_v[i][k];
			}
			if (mn != lo || mx != hi)
				WFAIL("counter %d: min %llu max %llu, held %llu..%llu", k, (unsigned long long)mn,
				      (unsigned long long)mx, (unsigned long long)lo, (unsigned long long)hi);
			double want = sum / (double)(b - a);
			if (mean < want - 1e-9 * want - 1e-12 || mean > want + 1e-9 * want + 1e-12)
				WFAIL("counter %d: mean %.12g, time-weighted %.12g", k, mean, want);
		}
		/* Any pixel: the order of min, mean, max. */
		a = rnd(t), b = a + 1 + rnd(t - a);
		t0 = a, t1 = b;
		for (int k = 0; k < VC_N; k++) {
			uint64_t mn, mx;
			double mean;
			if (vc_pixel(&c, k, a, b, &mn, &mx, &mean) != 0)
				WFAIL("no data");
			if (!((double)mn <= mean + 1e-9 && mean <= (double)mx + 1e-9))
				WFAIL("counter %d: min %llu mean %g max %llu", k, (unsigned long long)mn, mean,
				      (unsigned long long)mx);
		}
	}
	uint64_t mn, mx;
	double mean;
	ck_assert_int_eq(vc_pixel(&c, 0, t, t + 100, &mn, &mx, &mean), -1);
	ck_assert_int_eq(vc_pixel(&c, 0, t + 5, t + 100, &mn, &mx, &mean), -1);
	for (int k = 0; k < VC_N; k++) {
		uint64_t m = 0;
		for (int i = 0; i < NCH; i++)
			m = ch_v[i][k] > m ? ch_v[i][k] : m;
		ck_assert_uint_eq(c.max_ever[k], m);
	}
	vc_free(&c);
}
END_TEST

/* User rows: one row per (kind, type), user tasks first, the types past
 * the cap in "other"; for random windows every item that meets the window
 * is in exactly one answer item, at most 3w + 3 of them; the logs of the
 * window are all counted, at most one item a pixel; what is open ends at
 * the end; regions nest by task. */
START_TEST(test_user_rows)
{
	struct vuser u;
	uint64_t end = 100000000;
	char type[32], msg[256];
	int p = -1, w = 0;
	uint64_t t0 = 0, t1 = 0;

	memset(&u, 0, sizeof(u));
	u64map_init(&u.uopen, sizeof(uint64_t), U64MAP_MIXED);
	u64map_init(&u.ropen, sizeof(uint64_t), U64MAP_IDS);
	for (uint64_t i = 0; i < 5000; i++) {
		uint64_t s = rnd(end);
		snprintf(type, sizeof(type), "t%d", (int)rnd(4));
		vu_add_utask(&u, i + 1, 0, 1, s, type);
		if (i % 7)
			vu_end_utask(&u, i + 1, s + rnd(rnd(3) ? 10000 : end - s));
	}
	/* 70 region types: 64 rows, the rest in "other". */
	for (uint64_t i = 0; i < 3000; i++) {
		uint64_t task = 1 + rnd(50), s = rnd(end - 1000);
		snprintf(type, sizeof(type), "r%d", (int)(i % 70));
		vu_add_region(&u, task, 0, s, type);
		vu_add_region(&u, task, 0, s + 1, "nested");
		vu_end_region(&u, task, s + 2);
		if (i % 11)
			vu_end_region(&u, task, s + 3 + rnd(5000));
	}
	vu_end_region(&u, 999, 5); /* nothing open: ignored */
	for (uint64_t i = 0; i < 4000; i++)
		vu_add_log(&u, rnd(end), 1, 0, "cat", i % 2 ? "odd" : "even");
	vu_seal(&u, end);
	ck_assert_uint_eq(u.rows[0].kind, 0);
	size_t nut = 0, nrg = 0, other = 0;
	for (size_t r = 0; r < u.nrows; r++) {
		if (u.rows[r].kind == 0) {
			ck_assert_uint_eq(nrg, 0); /* user tasks first */
			nut++;
		} else {
			nrg++;
		}
		other += u.rows[r].type == VU_OTHER;
	}
	ck_assert_uint_eq(nut, 4);
	ck_assert_uint_eq(nrg, VU_ROWS_MAX + 1);
	ck_assert_uint_eq(other, 1);
	ck_assert_uint_eq(u.rg[1].depth, 1);
	ck_assert_uint_eq(u.rg[1].up, 1);
	ck_assert_uint_eq(u.ut[0].t1, VU_OPEN); /* i = 0: never ended */
	ck_assert_str_eq(u.arena + u.lg[0].msg, "even");
	for (size_t i = 1; i < u.nlg; i++)
		ck_assert_uint_le(u.lg[i - 1].t, u.lg[i].t);
	for (int q = 0; q < 1500; q++) {
		size_t r = rnd(u.nrows);
		const struct vurow *row = &u.rows[r];
		struct vuitem *it;
		t0 = rnd(end);
		t1 = t0 + 1 + rnd(q % 3 ? end >> rnd(20) : end);
		w = 1 + (int)rnd(q % 4 ? 2000 : 5);
		p = (int)r;
		long n = vu_query(&u, r, t0, t1, w, &it);
		size_t meet = 0, got = 0;
		if (n < 0 || (size_t)n > 3 * (size_t)w + 3)
			WFAIL("%ld items", n);
		for (size_t i = 0; i < row->n; i++) {
			const struct vuspan *sp = &row->s[i];
			if (sp->t1 > (row->kind ? u.rg[sp->i].t1 : u.ut[sp->i].t1) &&
			    (row->kind ? u.rg[sp->i].t1 : u.ut[sp->i].t1) != VU_OPEN)
				WFAIL("item %zu: end differs", i);
			meet += sp->t0 < t1 && (sp->t1 > t0 || sp->t0 >= t0);
		}
		for (long k = 0; k < n; k++) {
			got += it[k].n;
			if (k && it[k].t0 < it[k - 1].t0 && it[k].t0 >= t0)
				WFAIL("item %ld out of order", k);
			if (it[k].n == 1) {
				uint64_t s = row->kind ? u.rg[it[k].i].t0 : u.ut[it[k].i].t0;
				if (s != it[k].t0)
					WFAIL("item %ld: start %llu, its item's %llu", k,
					      (unsigned long long)it[k].t0, (unsigned long long)s);
			}
		}
		if (got != meet)
			WFAIL("%zu items answered, %zu meet the window", got, meet);
		free(it);
		/* The logs of the window. */
		n = vu_logs(&u, t0, t1, w, &it);
		meet = got = 0;
		for (size_t i = 0; i < u.nlg; i++)
			meet += u.lg[i].t >= t0 && u.lg[i].t < t1;
		if (n < 0 || n > w)
			WFAIL("%ld log items", n);
		for (long k = 0; k < n; k++)
			got += it[k].n;
		if (got != meet)
			WFAIL("%zu logs answered, %zu in the window", got, meet);
		free(it);
	}
	vu_free(&u);
}
END_TEST

/* ---- an index of a real trace ---------------------------------------------------- */

#define ROUNDS 300
static char path[256];
static weft_chan *ping, *pong;
static uint64_t ponger_id, pinger_id;

static void ponger(void *arg)
{
	int v;
	(void)arg;
	ponger_id = weft_self();
	for (int i = 0; i < ROUNDS; i++) {
		weft_chan_recv(ping, &v);
		weft_chan_send(pong, &v);
	}
}

static void main_pingpong(void *arg)
{
	int v = 1;
	(void)arg;
	pinger_id = weft_self();
	ping = weft_chan_make(sizeof(int), 0);
	pong = weft_chan_make(sizeof(int), 0);
	ck_assert_int_eq(weft_trace_start(path), 0);
	go_ok(ponger, NULL);
	for (int i = 0; i < ROUNDS; i++) {
		weft_chan_send(ping, &v);
		weft_chan_recv(pong, &v);
	}
	ck_assert_int_eq(weft_trace_stop(), 0);
}

/* Runs of the pinger (the main task) on every P. */
static size_t pinger_runs(const struct vindex *idx)
{
	size_t n = 0;
	for (int p = 0; p < idx->np; p++)
		for (size_t i = 0; i < idx->ps[p].n; i++)
			n += idx->vt[idx->ps[p].runs[i].task].id == pinger_id;
	return n;
}

START_TEST(test_index_wakers)
{
	struct vindex idx;
	const struct vtask *pt;
	size_t runs = 0, woken = 0;

	snprintf(path, sizeof(path), "%s/weft-check-view-%d.wt",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
	run_main(_i + 1, main_pingpong, NULL);
	ck_assert_int_eq(vindex_build(&idx, path), 0);
	ck_assert(!idx.partial);
	pt = vindex_task(&idx, ponger_id);
	ck_assert_ptr_nonnull(pt);
	ck_assert_str_eq(idx.fn_names[pt->fn], "ponger");
	ck_assert_uint_eq(idx.vt[idx.ps[VREF_P(pt->first)].runs[VREF_I(pt->first)].task].id, ponger_id);
	/* Its runs chain from first to last, each the next's prev; each run
	 * after a block was readied by the pinger, in a run of the pinger
	 * that began before it. */
	vref prev = 0;
	for (vref r = pt->first; r;) {
		const struct vrun *x = &idx.ps[VREF_P(r)].runs[VREF_I(r)];
		const struct vrun *px = prev ? &idx.ps[VREF_P(prev)].runs[VREF_I(prev)] : NULL;
		ck_assert_uint_eq(idx.vt[x->task].id, ponger_id);
		ck_assert_uint_eq(x->prev, prev);
		if (px && px->why == WHY_BLOCK) {
			ck_assert_msg(x->waker, "run %zu of the ponger: no waker after a block", runs);
			const struct vrun *w = &idx.ps[VREF_P(x->waker)].runs[VREF_I(x->waker)];
			ck_assert_uint_eq(idx.vt[w->task].id, pinger_id);
			ck_assert_uint_le(w->t0, x->t0);
			ck_assert(px->reason == WEFT_TRACE_BLOCK_CHAN_RECV ||
				  px->reason == WEFT_TRACE_BLOCK_CHAN_SEND);
			woken++;
		}
		runs++;
		prev = r;
		r = x->next;
	}
	ck_assert_uint_eq(prev, pt->last);
	ck_assert_uint_ge(woken, 1);
	ck_assert_uint_eq(runs, idx.ps[0].n + (idx.np > 1 ? idx.ps[1].n : 0) - pinger_runs(&idx));
	vindex_free(&idx);
	unlink(path);
}
END_TEST

/*
 * The critical path of the ping-pong, from the edges the gaps pass records
 * (gaps.c) found on the index (view_analysis.c): its stretches are one per
 * hop plus one, their runs' time cut to them is the model's span exactly,
 * and both tasks are on it (each waits for the other). Then the fallback
 * walk on the index alone, which finds the same tasks.
 */
START_TEST(test_chain_pingpong)
{
	struct vindex idx;
	struct tool_trace tt;
	struct gaps *g = calloc(1, sizeof(*g));
	vref *chain;
	size_t n;
	uint64_t ns;
	bool ping_on = false, pong_on = false;

	ck_assert_ptr_nonnull(g);
	snprintf(path, sizeof(path), "%s/weft-check-view-chain-%d.wt",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
	run_main(_i + 1, main_pingpong, NULL);
	ck_assert_int_eq(vindex_build(&idx, path), 0);
	ck_assert_int_eq(tool_open(&tt, "view", path), 0);
	gaps_init(g, &tt, false, true);
	ck_assert_int_eq(gaps_collect(g, &tt), 0);
	gaps_finish(g, &tt.info);
	ck_assert(!g->chain_lost);
	ck_assert_uint_eq(g->nchain, (size_t)g->m.span_hops + 1);
	ck_assert_uint_ge(g->m.span_hops, ROUNDS); /* every hand-over is a hop */
	/* Each stretch's run time on the path (gaps.c: the chain's length at its
	 * edges) adds up to the span; the summary counts every edge once. */
	uint64_t sum = 0;
	for (size_t k = 0; k < g->nchain; k++)
		sum += g->chain[k].ns;
	ck_assert_uint_eq(sum, g->m.span);
	ck_assert(g->csum.known);
	ck_assert_uint_eq(g->csum.ns, g->m.span);
	ck_assert_uint_eq(g->csum.creates + g->csum.waits, g->m.span_hops);
	ck_assert(g->f.Sb >= g->f.S);
	ck_assert_int_eq(vana_chain_from(&idx, g, &chain, &n, &ns), 0);
	ck_assert_uint_eq(ns, g->m.span);
	for (size_t k = 0; k < n; k++) {
		uint64_t id = idx.vt[idx.ps[VREF_P(chain[k])].runs[VREF_I(chain[k])].task].id;
		ping_on |= id == pinger_id;
		pong_on |= id == ponger_id;
		if (k)
			ck_assert(chain[k - 1] < chain[k]); /* sorted, once each */
	}
	ck_assert(ping_on && pong_on);
	free(chain);
	ck_assert_int_eq(vana_chain(&idx, g->m.span_task, &chain, &n, &ns), 0);
	ck_assert_uint_ge(n, 2);
	free(chain);
	gaps_free(g);
	free(g);
	tool_close(&tt);
	vindex_free(&idx);
	unlink(path);
}
END_TEST

static Suite *view_suite(void)
{
	Suite *s = suite_create("view");
	TCase *tc = tcase_create("index");

	tcase_add_test(tc, test_lod_random);
	tcase_add_test(tc, test_lod_bad_args);
	tcase_add_test(tc, test_sys_lod_random);
	tcase_add_test(tc, test_counters_buckets);
	tcase_add_test(tc, test_user_rows);
	tcase_add_loop_test(tc, test_index_wakers, 0, 2);
	tcase_add_test(tc, test_hl_random);
	tcase_add_loop_test(tc, test_chain_pingpong, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}

WEFT_CHECK_MAIN(view_suite)

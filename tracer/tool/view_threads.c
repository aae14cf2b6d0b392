/*
 * view_threads.c - the M rows of `weft-trace view`: per M (a worker
 * thread), the Ps it held and its syscalls, queried at a level of detail
 * like the P rows.
 *
 * What is kept. Per M, in arrays by start: each interval it held a P
 * (from PROC_START p m until that P's PROC_STOP, its handoff, the stop of
 * the world that parked it, or another M's PROC_START of it; read from
 * the model's P state after each event that can change it, so the rules
 * are the model's), and each syscall it made: SYSCALL_ENTER on the P the
 * M holds, until the task's SYSCALL_EXIT (which may come on another P,
 * or after the P was handed off: the M stays in the syscall, so the
 * syscall stays on its row), with the task, the site and whether the P
 * was handed off during it. Beside each array a prefix sum of lengths,
 * so the rows go through the same level of detail as the runs
 * (vlod_query, view_index.c): a syscall of a pixel or more, or alone in
 * its pixel, is its own item; shorter ones that start in one pixel merge
 * into one item with their count and exact time. 16 + 8 bytes a held
 * interval, 24 + 8 a syscall.
 *
 * Invariants: on one M, intervals of each kind do not overlap (a thread
 * holds one P at a time and makes one syscall at a time); one that would
 * (a damaged trace) is clamped to start at the previous end, after
 * sorting, as the runs are. A task in a syscall is in `open` with its M
 * from its SYSCALL_ENTER until its exit; what is open at the end of the
 * trace ends there. Syscalls on a P no M holds (a trace that began in
 * the middle) go to a row of M -1, so every SYSCALL_ENTER is on a row.
 *
 * Rejected:
 *   - Deriving the M rows at query time from the P rows (a P's runs plus
 *     who held it): the runs do not say which M ran them, and the
 *     syscall that outlives a handoff is on no P at all.
 *   - Keeping syscalls in the P rows only (as runs that ended in
 *     SYSCALL): the time after a handoff, the long part of a blocking
 *     syscall, would not be anywhere.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "tool.h"
#include "view_index.h"
#include "view_rows.h"

/* A syscall under way: its M, start, task and site. */
struct vsys_open {
	int32_t mi;
	uint32_t task, site;
	bool handoff;
	uint64_t t0;
	int p;
};

int32_t vth_m(struct vthreads *th, int64_t m)
{
	for (size_t i = th->n; i-- > 0;)
		if (th->ms[i].m == m)
			return (int32_t)i;
	if (th->n == th->cap) {
		th->cap = th->cap ? 2 * th->cap : 16;
		th->ms = tool_realloc(th->ms, th->cap, sizeof(*th->ms));
	}
	memset(&th->ms[th->n], 0, sizeof(th->ms[th->n]));
	th->ms[th->n].m = m;
	return (int32_t)th->n++;
}

/* While building, hbusy[i + 1] and sbusy[i + 1] hold lengths; vth_seal
 * sorts and turns them into prefix sums. */
void vth_add_held(struct vthreads *th, int32_t mi, int p, uint64_t t0, uint64_t t1)
{
	struct vthread *t = &th->ms[mi];

	if (t->nheld == t->capheld) {
		t->capheld = t->capheld ? 2 * t->capheld : 64;
		t->held = tool_realloc(t->held, t->capheld, sizeof(*t->held));
		t->hbusy = tool_realloc(t->hbusy, t->capheld + 1, sizeof(*t->hbusy));
	}
	t->held[t->nheld] = (struct vheld){ t0, p };
	t->hbusy[t->nheld + 1] = t1 > t0 ? t1 - t0 : 0;
	t->nheld++;
}

void vth_add_sys(struct vthreads *th, int32_t mi, uint64_t t0, uint64_t t1, uint32_t task,
		 uint32_t site, bool handoff)
{
	struct vthread *t = &th->ms[mi];

	if (t->nsys == t->capsys) {
		t->capsys = t->capsys ? 2 * t->capsys : 64;
		t->sys = tool_realloc(t->sys, t->capsys, sizeof(*t->sys));
		t->sbusy = tool_realloc(t->sbusy, t->capsys + 1, sizeof(*t->sbusy));
	}
	t->sys[t->nsys] = (struct vsys){ t0, task, site, handoff };
	t->sbusy[t->nsys + 1] = t1 > t0 ? t1 - t0 : 0;
	t->nsys++;
	th->nsys++;
}

/* Sort @n records of @size bytes by their first field (a start) with their
 * lengths in len[1..n], if they are not in order already (they come in
 * order of their end, which is the order of start on a sound trace). */
struct rec_len {
	uint64_t len;
	char rec[32];
};

static int by_start(const void *a, const void *b)
{
	uint64_t x, y;

	memcpy(&x, ((const struct rec_len *)a)->rec, sizeof(x));
	memcpy(&y, ((const struct rec_len *)b)->rec, sizeof(y));
	return x < y ? -1 : x > y;
}

static void sort_sum(void *recs, size_t size, uint64_t *len, size_t n)
{
	char *r = recs;
	bool sorted = true;

	for (size_t i = 1; i < n && sorted; i++) {
		uint64_t a, b;
		memcpy(&a, r + (i - 1) * size, sizeof(a));
		memcpy(&b, r + i * size, sizeof(b));
		sorted = a <= b;
	}
	if (!sorted) {
		struct rec_len *tmp = tool_calloc(n, sizeof(*tmp));
		for (size_t i = 0; i < n; i++) {
			tmp[i].len = len[i + 1];
			memcpy(tmp[i].rec, r + i * size, size);
		}
		qsort(tmp, n, sizeof(*tmp), by_start);
		for (size_t i = 0; i < n; i++) {
			len[i + 1] = tmp[i].len;
			memcpy(r + i * size, tmp[i].rec, size);
		}
		free(tmp);
	}
	/* Clamp overlaps, then sum. */
	if (!len)
		return;
	len[0] = 0;
	uint64_t prev_end = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t t0, end;
		memcpy(&t0, r + i * size, sizeof(t0));
		end = t0 + len[i + 1];
		if (i && t0 < prev_end) {
			t0 = prev_end;
			memcpy(r + i * size, &t0, sizeof(t0));
			if (end < t0)
				end = t0;
		}
		len[i + 1] = len[i] + (end - t0);
		prev_end = end;
	}
}

static int by_m(const void *a, const void *b)
{
	int64_t x = ((const struct vthread *)a)->m, y = ((const struct vthread *)b)->m;
	return x < y ? -1 : x > y;
}

void vth_seal(struct vthreads *th)
{
	_Static_assert(sizeof(struct vsys) <= 32 && sizeof(struct vheld) <= 32, "rec_len");
	for (size_t i = 0; i < th->n; i++) {
		struct vthread *t = &th->ms[i];
		if (!t->hbusy)
			t->hbusy = tool_calloc(1, sizeof(*t->hbusy));
		if (!t->sbusy)
			t->sbusy = tool_calloc(1, sizeof(*t->sbusy));
		sort_sum(t->held, sizeof(*t->held), t->hbusy, t->nheld);
		sort_sum(t->sys, sizeof(*t->sys), t->sbusy, t->nsys);
	}
	if (th->n)
		qsort(th->ms, th->n, sizeof(*th->ms), by_m);
}

static void th_free(struct vthreads *th)
{
	for (size_t i = 0; i < th->n; i++) {
		free(th->ms[i].held);
		free(th->ms[i].hbusy);
		free(th->ms[i].sys);
		free(th->ms[i].sbusy);
	}
	free(th->ms);
	free(th->pm);
	free(th->psince);
	u64map_free(&th->open);
	memset(th, 0, sizeof(*th));
}

/* ---- the pass ------------------------------------------------------------------- */

static void th_grow_ps(struct vthreads *th, int np)
{
	if (np <= th->np)
		return;
	th->pm = tool_realloc(th->pm, (size_t)np, sizeof(*th->pm));
	th->psince = tool_realloc(th->psince, (size_t)np, sizeof(*th->psince));
	for (int i = th->np; i < np; i++) {
		th->pm[i] = -1;
		th->psince[i] = 0;
	}
	th->np = np;
}

/* Who holds each P, as the model now says: close and open intervals. */
static void th_sync(struct vthreads *th, const struct model *m, uint64_t t)
{
	th_grow_ps(th, m->np);
	for (int p = 0; p < m->np; p++) {
		const struct mp *mp = &m->ps[p];
		int32_t want = -1;
		if (mp->held && mp->m >= 0)
			want = th->pm[p] >= 0 && th->ms[th->pm[p]].m == mp->m ? th->pm[p]
									   : vth_m(th, mp->m);
		if (want == th->pm[p])
			continue;
		if (th->pm[p] >= 0)
			vth_add_held(th, th->pm[p], p, th->psince[p], t);
		th->pm[p] = want;
		th->psince[p] = t;
	}
}

static void th_pre(struct vthreads *th, struct model *m, const weft_tr_event *ev, uint64_t t)
{
	if (ev->type == WEFT_TEV_SYSCALL_HANDOFF) {
		/* The model forgets the P's task: mark its syscall now. */
		int64_t p = (int64_t)ev->args[0];
		if (p >= 0 && p < m->np && m->ps[p].cur) {
			struct vsys_open *o = u64map_find(&th->open, m->ps[p].cur);
			if (o)
				o->handoff = true;
		}
	} else if (ev->type == WEFT_TEV_SYSCALL_EXIT) {
		struct vsys_open *o = u64map_find(&th->open, ev->args[0]);
		if (o) {
			vth_add_sys(th, o->mi, o->t0, t, o->task, o->site, o->handoff);
			u64map_remove(&th->open, o);
		}
	}
}

static void th_post(struct vthreads *th, struct model *m, const weft_tr_event *ev, uint64_t t)
{
	switch (ev->type) {
	case WEFT_TEV_PROC_START:
	case WEFT_TEV_PROC_STOP:
	case WEFT_TEV_SYSCALL_HANDOFF:
	case WEFT_TEV_STW_END:
		th_sync(th, m, t);
		break;
	case WEFT_TEV_M_CREATE: {
		int32_t mi = vth_m(th, (int64_t)ev->args[0]); /* may move ms */
		th->ms[mi].tid = ev->args[1];
		break;
	}
	case WEFT_TEV_SYSCALL_ENTER: {
		struct mtask *k = model_task(m, ev->args[0]);
		struct vsys_open *o;
		bool added;
		int32_t mi;
		if (!k || !k->aux2)
			break;
		th_sync(th, m, t);
		mi = ev->p >= 0 && ev->p < th->np ? th->pm[ev->p] : -1;
		if (mi < 0)
			mi = vth_m(th, -1);
		o = u64map_insert(&th->open, ev->args[0], &added);
		if (!added) /* entered twice without an exit: the first ends here */
			vth_add_sys(th, o->mi, o->t0, t, o->task, o->site, o->handoff);
		*o = (struct vsys_open){ mi, k->aux2 - 1, k->site, false, t, ev->p };
		break;
	}
	default:
		break;
	}
}

static void th_seal(struct vthreads *th, uint64_t end)
{
	for (int p = 0; p < th->np; p++)
		if (th->pm[p] >= 0)
			vth_add_held(th, th->pm[p], p, th->psince[p], end);
	for (size_t i = 0; i < th->open.cap; i++) {
		const struct vsys_open *o = u64map_val(&th->open, i);
		if (th->open.keys[i])
			vth_add_sys(th, o->mi, o->t0, end, o->task, o->site, o->handoff);
	}
	u64map_free(&th->open);
	vth_seal(th);
}

/* ---- the rows together (view_rows.h) ------------------------------------------ */

void vrows_init(struct vrows *r)
{
	memset(r, 0, sizeof(*r));
	u64map_init(&r->th.open, sizeof(struct vsys_open), U64MAP_IDS);
	vc_init(&r->ctr);
	u64map_init(&r->user.uopen, sizeof(uint64_t), U64MAP_MIXED);
	u64map_init(&r->user.ropen, sizeof(uint64_t), U64MAP_IDS);
}

void vrows_pre(struct vrows *r, struct vindex *idx, struct model *m, const weft_tr_event *ev,
	       uint64_t t)
{
	(void)idx;
	th_pre(&r->th, m, ev, t);
	vc_put(&r->ctr, VC_SYSCALL, t, (uint32_t)r->th.open.n);
}

void vrows_post(struct vrows *r, struct vindex *idx, struct model *m, const weft_tr_event *ev,
		uint64_t t)
{
	(void)idx;
	switch (ev->type) {
	case WEFT_TEV_UTASK_BEGIN:
		vu_add_utask(&r->user, ev->args[0], ev->args[1], ev->args[2], t, ev->str[0]);
		break;
	case WEFT_TEV_UTASK_END:
		vu_end_utask(&r->user, ev->args[0], t);
		break;
	case WEFT_TEV_REGION_BEGIN:
		vu_add_region(&r->user, ev->args[0], ev->args[1], t, ev->str[0]);
		break;
	case WEFT_TEV_REGION_END:
		vu_end_region(&r->user, ev->args[0], t);
		break;
	case WEFT_TEV_LOG:
		vu_add_log(&r->user, t, ev->args[0], ev->args[1], ev->str[0], ev->str[1]);
		break;
	default:
		th_post(&r->th, m, ev, t);
		vc_put(&r->ctr, VC_SYSCALL, t, (uint32_t)r->th.open.n);
		break;
	}
}

void vrows_seal(struct vrows *r, struct vindex *idx, struct model *m, uint64_t end)
{
	(void)idx, (void)m;
	vc_seal(&r->ctr, end);
	th_seal(&r->th, end);
	vu_seal(&r->user, end);
}

void vrows_free(struct vrows *r)
{
	th_free(&r->th);
	vc_free(&r->ctr);
	vu_free(&r->user);
}

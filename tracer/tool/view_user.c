/*
 * view_user.c - the user's annotations in `weft-trace view`: user tasks
 * (weft_trace_task_begin/end), regions (weft_trace_region_begin/end) and
 * logs (weft_trace_log), kept from the one pass and drawn as rows: one row
 * per (kind, type), user tasks first, and the logs as marks.
 *
 * What is kept. Every user task (id, parent, the task that began it,
 * start, end or open, type), region (task, user task, type, start, end,
 * depth in its task's stack) and log (time, task, user task, category,
 * message). Types and categories are interned in one table (at most
 * VU_NAMES_MAX distinct names: more become "(other)", so a program that
 * formats an id into each type cannot make the table grow with the
 * trace); messages are copied into one arena (a reader's strings live
 * until the next event only). At the end, rows: per kind, the first
 * VU_ROWS_MAX types get a row each, the rest share a row "other"; a row is
 * its items' (start, end, index) by start with the running greatest end,
 * so the items that began before a window and reach into it are found by
 * a binary search. What is still open when the trace ends, ends there.
 *
 * The query. Items of one row may overlap (regions of different tasks,
 * user tasks that run concurrently), so the P rows' rule (one prefix sum
 * over intervals that do not overlap) does not apply as it is. Per pixel:
 * the items whose start (clamped to the window's left edge) falls in it
 * are taken together; if there is one, it is an item; else each a pixel
 * or more long is an item of its own (two at most; the page draws rows
 * with alpha, a third adds nothing one can see) and the rest merge into a
 * block with their count. So a row answers at most 3 items a pixel,
 * whatever the trace. The walk visits each item that meets the window
 * once (and, in the worst case, those that began before it back to the
 * first whose row's running end reaches the window); the logs, points,
 * cost a binary search a pixel.
 *
 * Invariants: a region's `up` names the region it was begun in, on the
 * same task (+ 1, 0 none); ropen maps a task to its innermost open region
 * (+ 1); an END with nothing open is ignored. Rows' items are sorted by
 * start, maxend[i] = max(t1 of items [0, i]).
 *
 * Rejected:
 *   - An interval tree per row: O(log n + k) for the items that straddle
 *     the window instead of a walk back, for trees that the traces we
 *     have (thousands of regions, not millions) do not need.
 *   - A row per task for regions (gotraceui's way): with 2 M tasks the
 *     page would have 2 M rows; rows by type are what the issue asks.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "tool.h"
#include "view_rows.h"

static uint32_t str_hash(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* The index of name @s, or -1. */
static long name_find(const struct vuser *u, const char *s)
{
	const size_t slots = 2 * VU_NAMES_MAX;

	if (!u->nhash)
		return -1;
	for (uint32_t h = str_hash(s) & (slots - 1);; h = (h + 1) & (slots - 1)) {
		uint32_t k = u->nhash[h];
		if (!k)
			return -1;
		if (!strcmp(u->names[k - 1], s))
			return (long)k - 1;
	}
}

static uint32_t name_add(struct vuser *u, const char *s)
{
	const size_t slots = 2 * VU_NAMES_MAX;
	uint32_t h;

	if (!u->nhash)
		u->nhash = tool_calloc(slots, sizeof(*u->nhash));
	if (u->nnames == u->capnames) {
		u->capnames = u->capnames ? 2 * u->capnames : 64;
		u->names = tool_realloc(u->names, u->capnames, sizeof(*u->names));
	}
	u->names[u->nnames] = strdup(s);
	if (!u->names[u->nnames])
		tool_oom();
	h = str_hash(s) & (slots - 1);
	while (u->nhash[h])
		h = (h + 1) & (slots - 1);
	u->nhash[h] = (uint32_t)++u->nnames;
	return (uint32_t)(u->nnames - 1);
}

uint32_t vu_name(struct vuser *u, const char *s)
{
	long k = name_find(u, s ? s : "");

	if (k >= 0)
		return (uint32_t)k;
	if (u->nnames < VU_NAMES_MAX - 1)
		return name_add(u, s ? s : "");
	/* The table is full but for "(other)", which takes the rest. */
	k = name_find(u, "(other)");
	return k >= 0 ? (uint32_t)k : name_add(u, "(other)");
}

#define GROW(arr, n, cap)                                                        \
	do {                                                                     \
		if ((n) == (cap)) {                                              \
			(cap) = (cap) ? 2 * (cap) : 256;                         \
			(arr) = tool_realloc((arr), (cap), sizeof(*(arr)));      \
		}                                                                \
	} while (0)

size_t vu_add_utask(struct vuser *u, uint64_t id, uint64_t parent, uint64_t task, uint64_t t0,
		    const char *type)
{
	bool added;
	uint64_t *slot;

	GROW(u->ut, u->nut, u->caput);
	u->ut[u->nut] = (struct vutask){ id, parent, task, t0, VU_OPEN, vu_name(u, type) };
	slot = u64map_insert(&u->uopen, id + 1, &added);
	*slot = u->nut; /* a second BEGIN of one id: the later one is ended */
	return u->nut++;
}

void vu_end_utask(struct vuser *u, uint64_t id, uint64_t t1)
{
	uint64_t *slot = u64map_find(&u->uopen, id + 1);

	if (!slot)
		return;
	u->ut[*slot].t1 = t1 >= u->ut[*slot].t0 ? t1 : u->ut[*slot].t0;
	u64map_remove(&u->uopen, slot);
}

size_t vu_add_region(struct vuser *u, uint64_t task, uint64_t utask, uint64_t t0,
		     const char *type)
{
	bool added;
	uint64_t *slot;
	uint32_t up = 0, depth = 0;

	GROW(u->rg, u->nrg, u->caprg);
	slot = u64map_insert(&u->ropen, task + 1, &added);
	if (!added && *slot) {
		up = (uint32_t)*slot;
		depth = u->rg[up - 1].depth + 1;
	}
	u->rg[u->nrg] = (struct vregion){ task, utask, t0, VU_OPEN, vu_name(u, type), depth, up };
	*slot = u->nrg + 1;
	return u->nrg++;
}

void vu_end_region(struct vuser *u, uint64_t task, uint64_t t1)
{
	uint64_t *slot = u64map_find(&u->ropen, task + 1);
	struct vregion *r;

	if (!slot || !*slot)
		return;
	r = &u->rg[*slot - 1];
	r->t1 = t1 >= r->t0 ? t1 : r->t0;
	if (r->up)
		*slot = r->up;
	else
		u64map_remove(&u->ropen, slot);
}

size_t vu_add_log(struct vuser *u, uint64_t t, uint64_t task, uint64_t utask, const char *cat,
		  const char *msg)
{
	size_t len = strlen(msg ? msg : "") + 1;

	GROW(u->lg, u->nlg, u->caplg);
	if (u->narena + len > u->caparena) {
		size_t cap = u->caparena ? u->caparena : 65536;
		while (cap < u->narena + len)
			cap *= 2;
		u->arena = tool_realloc(u->arena, cap, 1);
		u->caparena = cap;
	}
	memcpy(u->arena + u->narena, msg ? msg : "", len);
	u->lg[u->nlg] = (struct vlog){ t, task, utask, u->narena, vu_name(u, cat) };
	u->narena += len;
	return u->nlg++;
}

static int by_t0(const void *a, const void *b)
{
	const struct vuspan *x = a, *y = b;
	if (x->t0 != y->t0)
		return x->t0 < y->t0 ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

static int by_t(const void *a, const void *b)
{
	const struct vlog *x = a, *y = b;
	return x->t < y->t ? -1 : x->t > y->t;
}

/* The rows of one kind: the first VU_ROWS_MAX types get one each. */
static void make_rows(struct vuser *u, int kind, size_t n, uint64_t end)
{
	uint32_t *row_of = tool_calloc(u->nnames + 1, sizeof(*row_of)); /* row + 1 */
	size_t first = u->nrows, nrows = 0, other = 0;

	for (size_t i = 0; i < n; i++) {
		uint32_t type = kind ? u->rg[i].type : u->ut[i].type;
		if (row_of[type])
			continue;
		u->rows = tool_realloc(u->rows, u->nrows + 1, sizeof(*u->rows));
		if (nrows == VU_ROWS_MAX) {
			if (!other) {
				u->rows[u->nrows] = (struct vurow){ kind, VU_OTHER, NULL, NULL, 0 };
				other = u->nrows++ + 1;
			}
			row_of[type] = (uint32_t)other;
			continue;
		}
		u->rows[u->nrows] = (struct vurow){ kind, type, NULL, NULL, 0 };
		row_of[type] = (uint32_t)++u->nrows;
		nrows++;
	}
	for (size_t pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < n; i++) {
			uint32_t type = kind ? u->rg[i].type : u->ut[i].type;
			struct vurow *r = &u->rows[row_of[type] - 1];
			if (!pass) {
				r->n++;
				continue;
			}
			uint64_t t0 = kind ? u->rg[i].t0 : u->ut[i].t0;
			uint64_t t1 = kind ? u->rg[i].t1 : u->ut[i].t1;
			if (t1 == VU_OPEN)
				t1 = end > t0 ? end : t0;
			r->s[r->n++] = (struct vuspan){ t0, t1, (uint32_t)i };
		}
		for (size_t k = first; k < u->nrows; k++) {
			struct vurow *r = &u->rows[k];
			if (!pass) {
				r->s = tool_calloc(r->n ? r->n : 1, sizeof(*r->s));
				r->maxend = tool_calloc(r->n ? r->n : 1, sizeof(*r->maxend));
				r->n = 0;
			}
		}
	}
	for (size_t k = first; k < u->nrows; k++) {
		struct vurow *r = &u->rows[k];
		uint64_t m = 0;
		qsort(r->s, r->n, sizeof(*r->s), by_t0);
		for (size_t i = 0; i < r->n; i++) {
			if (r->s[i].t1 > m)
				m = r->s[i].t1;
			r->maxend[i] = m;
		}
	}
	free(row_of);
}

void vu_seal(struct vuser *u, uint64_t end)
{
	bool sorted = true;

	/* The log's index is its place by time: sort them if they are not. */
	for (size_t i = 1; i < u->nlg && sorted; i++)
		sorted = u->lg[i - 1].t <= u->lg[i].t;
	if (!sorted)
		qsort(u->lg, u->nlg, sizeof(*u->lg), by_t);
	make_rows(u, 0, u->nut, end);
	make_rows(u, 1, u->nrg, end);
	u64map_free(&u->uopen);
	u64map_free(&u->ropen);
}

void vu_free(struct vuser *u)
{
	for (size_t i = 0; i < u->nnames; i++)
		free(u->names[i]);
	for (size_t i = 0; i < u->nrows; i++) {
		free(u->rows[i].s);
		free(u->rows[i].maxend);
	}
	free(u->rows);
	free(u->names);
	free(u->nhash);
	free(u->ut);
	free(u->rg);
	free(u->lg);
	free(u->arena);
	u64map_free(&u->uopen);
	u64map_free(&u->ropen);
	memset(u, 0, sizeof(*u));
}

/* ---- queries ---------------------------------------------------------------- */

/* The pixel of time @t (>= t0) in a window from @t0 of @px ns a pixel. */
static uint64_t pixel_of(uint64_t t, uint64_t t0, double px)
{
	return (uint64_t)((double)(t - t0) / px);
}

static uint64_t pixel_end(uint64_t k, uint64_t t0, double px)
{
	return t0 + (uint64_t)((double)(k + 1) * px);
}

long vu_query(const struct vuser *u, size_t row, uint64_t t0, uint64_t t1, int w,
	      struct vuitem **out)
{
	const struct vurow *r;
	struct vuitem *it;
	size_t lo, hi, i, n = 0, cap;
	double px;

	*out = NULL;
	if (row >= u->nrows || t1 <= t0 || w <= 0 || w > 100000)
		return -1;
	r = &u->rows[row];
	px = (double)(t1 - t0) / w;
	cap = 3 * (size_t)w + 3;
	it = tool_calloc(cap < 256 ? cap : 256, sizeof(*it));
	size_t room = cap < 256 ? cap : 256;
	/* The first item whose running end reaches past t0. */
	lo = 0, hi = r->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (r->maxend[mid] > t0)
			hi = mid;
		else
			lo = mid + 1;
	}
	i = lo;
	while (i < r->n && r->s[i].t0 < t1) {
		uint64_t s = r->s[i].t0 > t0 ? r->s[i].t0 : t0;
		uint64_t k = pixel_of(s, t0, px), pend = pixel_end(k, t0, px);
		size_t j = i, live = 0, singles = 0, n0 = n;
		struct vuitem blk = { UINT64_MAX, 0, 0, 0 };

		if (pend <= s)
			pend = s + 1;
		/* The group: the items whose clamped start is in pixel k. */
		for (; j < r->n && (r->s[j].t0 > t0 ? r->s[j].t0 : t0) < pend; j++)
			live += r->s[j].t1 > t0 || r->s[j].t0 >= t0; /* meets the window */
		if (n + 3 > room) {
			room = 2 * room + 3 < cap ? 2 * room + 3 : cap;
			it = tool_realloc(it, room, sizeof(*it));
		}
		for (size_t x = i; x < j; x++) {
			const struct vuspan *sp = &r->s[x];
			if (!(sp->t1 > t0 || sp->t0 >= t0))
				continue; /* ended before the window */
			if (live == 1 || ((double)(sp->t1 - sp->t0) >= px && singles < 2)) {
				it[n++] = (struct vuitem){ sp->t0, sp->t1, 1, sp->i };
				singles++;
				continue;
			}
			if (sp->t0 < blk.t0)
				blk.t0 = sp->t0;
			if (sp->t1 > blk.t1)
				blk.t1 = sp->t1;
			if (!blk.n)
				blk.i = sp->i;
			blk.n++;
		}
		if (blk.n) /* n 1: a short one left after the singles, itself */
			it[n++] = blk;
		/* The pixel's (at most three) items in order of start. */
		for (size_t a = n0 + 1; a < n; a++)
			for (size_t b = a; b > n0 && it[b].t0 < it[b - 1].t0; b--) {
				struct vuitem x = it[b];
				it[b] = it[b - 1];
				it[b - 1] = x;
			}
		i = j;
	}
	*out = it;
	return (long)n;
}

/* The first log at or after @t. */
static size_t log_at(const struct vuser *u, size_t lo, uint64_t t)
{
	size_t hi = u->nlg;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (u->lg[mid].t >= t)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

long vu_logs(const struct vuser *u, uint64_t t0, uint64_t t1, int w, struct vuitem **out)
{
	struct vuitem *it;
	size_t i, n = 0, room;
	double px;

	*out = NULL;
	if (t1 <= t0 || w <= 0 || w > 100000)
		return -1;
	px = (double)(t1 - t0) / w;
	room = 64;
	it = tool_calloc(room, sizeof(*it));
	i = log_at(u, 0, t0);
	while (i < u->nlg && u->lg[i].t < t1 && n < (size_t)w) {
		uint64_t k = pixel_of(u->lg[i].t, t0, px), pend = pixel_end(k, t0, px);
		size_t j;
		if (pend <= u->lg[i].t)
			pend = u->lg[i].t + 1;
		if (pend > t1)
			pend = t1;
		j = log_at(u, i + 1, pend);
		if (n == room) {
			room *= 2;
			it = tool_realloc(it, room, sizeof(*it));
		}
		it[n++] = (struct vuitem){ u->lg[i].t, u->lg[j - 1].t, j - i, i };
		i = j;
	}
	*out = it;
	return (long)n;
}

/*
 * view_rows.h - the rows of `weft-trace view` besides the Ps: a row per M
 * (thread) with the Ps it held and its syscalls (view_threads.c), four
 * counters over time in buckets of bounded number (view_counters.c), and
 * the user's annotations: user tasks, regions and logs (view_user.c).
 * Each file's essay says what it keeps, its bounds and what was rejected.
 *
 * They are built in vindex_build's one pass (the vrows_* calls around
 * model_event) and read-only afterwards, like the rest of the index.
 */
#ifndef WEFT_TRACE_VIEW_ROWS_H
#define WEFT_TRACE_VIEW_ROWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "model.h"
#include "u64map.h"

struct vindex;
struct vitem;

/*
 * The level of detail of view_index.c over any array of intervals that do
 * not overlap, ordered by start: starts at @t0s with a stride of @stride
 * bytes, and busy[i] the summed length of intervals [0, i) (n + 1
 * entries). vlod_query has vindex_query's contract (every interval that
 * meets [t0, t1) in exactly one item, at most 2w + 2 items, a merged
 * item's busy exact); -1 on bad arguments.
 */
struct vlod {
	const void *t0s;
	size_t stride;
	const uint64_t *busy;
	size_t n;
};
long vlod_query(const struct vlod *v, uint64_t t0, uint64_t t1, int w, struct vitem **out);

/* ---- threads (view_threads.c) ------------------------------------------------ */

struct vheld {
	uint64_t t0;
	int32_t p;
};

struct vsys {
	uint64_t t0;
	uint32_t task;  /* index in vindex.vt */
	uint32_t site;  /* index in site_names */
	bool handoff;   /* its P was handed off during it */
};

struct vthread {
	int64_t m;          /* the M's id; -1 for syscalls on no known M */
	uint64_t tid;       /* its OS thread id (M_CREATE), 0 unknown */
	struct vheld *held; /* the Ps it held, by start */
	uint64_t *hbusy;    /* hbusy[i]: held time of held[0..i) */
	size_t nheld, capheld;
	struct vsys *sys;   /* its syscalls, by start */
	uint64_t *sbusy;    /* sbusy[i]: time in sys[0..i) */
	size_t nsys, capsys;
};

struct vthreads {
	struct vthread *ms; /* by m after vrows_seal */
	size_t n, cap;
	uint64_t nsys;      /* syscalls, all Ms */
	/* while building */
	int32_t *pm;        /* per P: index in ms of the M holding it, -1 none */
	uint64_t *psince;   /* per P: since when */
	int np;
	struct u64map open; /* task id -> struct vsys_open */
};

static inline uint64_t vsys_dur(const struct vthread *t, size_t i)
{
	return t->sbusy[i + 1] - t->sbusy[i];
}

static inline uint64_t vheld_dur(const struct vthread *t, size_t i)
{
	return t->hbusy[i + 1] - t->hbusy[i];
}

/* ---- counters (view_counters.c) ---------------------------------------------- */

enum { VC_RUNNABLE, VC_RUNNING, VC_SYSCALL, VC_SPINNING, VC_N };
extern const char *const vc_name[VC_N];

/* One bucket: per counter the least and greatest value held in it for
 * more than no time, and the value integrated over time (value x ns). */
struct vcbucket {
	uint32_t min[VC_N], max[VC_N];
	uint64_t sum[VC_N];
};

#define VC_CAP (1u << 16) /* buckets at most (a power of two) */
#define VC_RES0 64        /* ns per bucket to start with */

struct vcounters {
	struct vcbucket *b; /* [VC_CAP] */
	uint64_t res;       /* ns per bucket: 1 << shift */
	unsigned shift;
	size_t n;           /* buckets that hold data: [0, n) (after vc_seal) */
	uint64_t end;       /* the data cover [0, end) (after vc_seal) */
	uint64_t max_ever[VC_N]; /* (after vc_seal) */
	/* while building: per counter its value, since when, and the bucket
	 * `since` is in (index and end; bend 0: none, take the slow path) */
	uint32_t cur[VC_N];
	uint64_t since[VC_N];
	uint64_t bend[VC_N];
	uint32_t bk[VC_N];
};

void vc_init(struct vcounters *c);
void vc_free(struct vcounters *c);
/* Counter @j held its value from since[j] until @t: add it (the slow
 * path of vc_put: the interval leaves its bucket). */
void vc_add1(struct vcounters *c, int j, uint64_t t);
/* The data end at @t: what holds now is added; n, end, max_ever set. */
void vc_seal(struct vcounters *c, uint64_t t);

/* Counter @j takes the value @v at @t: the value it held is added if it
 * changes. Called for every counter after every event of the index's
 * pass, so the common cases (no change; a change inside the bucket the
 * old value began in) are inline and do no division. */
static inline void vc_put(struct vcounters *c, int j, uint64_t t, uint32_t v)
{
	if (v == c->cur[j])
		return;
	if (t > c->since[j]) {
		if (t <= c->bend[j]) {
			struct vcbucket *b = &c->b[c->bk[j]];
			uint32_t x = c->cur[j];
			b->min[j] = x < b->min[j] ? x : b->min[j];
			b->max[j] = x > b->max[j] ? x : b->max[j];
			b->sum[j] += (uint64_t)x * (t - c->since[j]);
			c->since[j] = t;
		} else {
			vc_add1(c, j, t);
		}
	}
	c->cur[j] = v;
}

static inline void vc_set(struct vcounters *c, uint64_t t, const uint32_t v[VC_N])
{
	for (int j = 0; j < VC_N; j++)
		vc_put(c, j, t, v[j]);
}

/*
 * Counter @k over pixel [a, b) (a < b), after vc_seal: 0 and its min,
 * max and time-weighted mean, or -1 if no data covers the pixel. A bucket
 * cut by the pixel's edge counts by its share of time.
 */
int vc_pixel(const struct vcounters *c, int k, uint64_t a, uint64_t b, uint64_t *min,
	     uint64_t *max, double *mean);

/* ---- user tasks, regions, logs (view_user.c) -------------------------------- */

#define VU_OPEN UINT64_MAX /* the end of what has not ended */

struct vutask {
	uint64_t id, parent, task; /* task: the task that began it (an id) */
	uint64_t t0, t1;           /* t1 VU_OPEN: open at the trace's end */
	uint32_t type;             /* index in vuser.names */
};

struct vregion {
	uint64_t task, utask;
	uint64_t t0, t1;
	uint32_t type;
	uint32_t depth; /* 0: outermost of its task */
	uint32_t up;    /* the region it is in (+ 1), 0 none */
};

struct vlog {
	uint64_t t, task, utask;
	uint64_t msg;     /* offset in vuser.arena (NUL-terminated) */
	uint32_t cat;     /* index in vuser.names */
};

/* One row: the items of one (kind, type), by start, and the greatest end
 * of items [0, i] (to find those that began before a window). */
struct vuspan {
	uint64_t t0, t1;
	uint32_t i; /* index in its kind's array */
};
struct vurow {
	int kind;      /* 0 utask, 1 region */
	uint32_t type; /* index in names; VU_OTHER: the types past the cap */
	struct vuspan *s;
	uint64_t *maxend;
	size_t n;
};

#define VU_NAMES_MAX 4096 /* distinct types and categories; more are "(other)" */
#define VU_ROWS_MAX 64    /* rows per kind; the types past it share one */
#define VU_OTHER UINT32_MAX

struct vuser {
	struct vutask *ut;
	size_t nut, caput;
	struct vregion *rg;
	size_t nrg, caprg;
	struct vlog *lg;
	size_t nlg, caplg;
	char *arena;
	size_t narena, caparena;
	char **names;
	size_t nnames, capnames;
	uint32_t *nhash; /* open addressing over names (+ 1), VU_NAMES_MAX * 2 slots */
	struct vurow *rows;
	size_t nrows;
	/* while building */
	struct u64map uopen; /* utask id + 1 -> index in ut (+ 0) */
	struct u64map ropen; /* task id -> innermost open region (+ 1) */
};

/* An item in the answer for a user row: a single item or a merged block. */
struct vuitem {
	uint64_t t0, t1;
	uint64_t n; /* 1: one item (index i) */
	uint64_t i;
};

/* Add a name (a type or category); its index. */
uint32_t vu_name(struct vuser *u, const char *s);
/* For tests and the builder. */
size_t vu_add_utask(struct vuser *u, uint64_t id, uint64_t parent, uint64_t task,
		    uint64_t t0, const char *type);
void vu_end_utask(struct vuser *u, uint64_t id, uint64_t t1);
size_t vu_add_region(struct vuser *u, uint64_t task, uint64_t utask, uint64_t t0,
		     const char *type);
void vu_end_region(struct vuser *u, uint64_t task, uint64_t t1);
size_t vu_add_log(struct vuser *u, uint64_t t, uint64_t task, uint64_t utask, const char *cat,
		  const char *msg);
/* Close the building: what is open ends at @end; rows made. */
void vu_seal(struct vuser *u, uint64_t end);
void vu_free(struct vuser *u);
/*
 * Row @r's items that meet [t0, t1) at @w pixels: an item a pixel or more
 * long, or alone in its pixel, on its own (at most two a pixel; more join
 * the pixel's block); the others that start in one pixel (an item that
 * began before the window counts from its left edge) merged into a block
 * with their count. At most 3w + 3 items, in order of start. Returns the
 * count written to *@out (the caller frees it), -1 on bad arguments.
 */
long vu_query(const struct vuser *u, size_t r, uint64_t t0, uint64_t t1, int w,
	      struct vuitem **out);
/* The logs in [t0, t1) at @w pixels: per pixel with any, one log alone
 * (n 1, index i) or a block of n. At most w items. */
long vu_logs(const struct vuser *u, uint64_t t0, uint64_t t1, int w, struct vuitem **out);

/* ---- the pass ------------------------------------------------------------------ */

struct vrows {
	struct vthreads th;
	struct vcounters ctr;
	struct vuser user;
};

void vrows_init(struct vrows *r);
/* Around model_event(@m, @ev): @t is the event's time in the index (ns
 * since the first event). */
void vrows_pre(struct vrows *r, struct vindex *idx, struct model *m, const weft_tr_event *ev,
	       uint64_t t);
void vrows_post(struct vrows *r, struct vindex *idx, struct model *m, const weft_tr_event *ev,
		uint64_t t);
/* The event types vrows_pre and vrows_post want (the others change only
 * the counters: vrows_count). */
#define VROWS_PRE(type) ((type) == WEFT_TEV_SYSCALL_HANDOFF || (type) == WEFT_TEV_SYSCALL_EXIT)
#define VROWS_POST(type)                                                                   \
	((UINT64_C(1) << ((type) & 63)) &                                                  \
	 (UINT64_C(1) << WEFT_TEV_PROC_START | UINT64_C(1) << WEFT_TEV_PROC_STOP |         \
	  UINT64_C(1) << WEFT_TEV_SYSCALL_HANDOFF | UINT64_C(1) << WEFT_TEV_STW_END |      \
	  UINT64_C(1) << WEFT_TEV_M_CREATE | UINT64_C(1) << WEFT_TEV_SYSCALL_ENTER |       \
	  UINT64_C(1) << WEFT_TEV_UTASK_BEGIN | UINT64_C(1) << WEFT_TEV_UTASK_END |        \
	  UINT64_C(1) << WEFT_TEV_REGION_BEGIN | UINT64_C(1) << WEFT_TEV_REGION_END |      \
	  UINT64_C(1) << WEFT_TEV_LOG))

/* After each event (and vrows_pre/post): the counters the model keeps,
 * as it now has them (runnable clamped below UINT32_MAX, which marks a
 * bucket without data); spinning is the Ps in the model's SEARCH
 * category. The syscall counter changes only in vrows_pre and
 * vrows_post. Inline: it runs ten million times on big traces. */
static inline void vrows_count(struct vrows *r, const struct model *m, uint64_t t)
{
	struct vcounters *c = &r->ctr;
	uint64_t runnable = m->nrunnable > 0 ? (uint64_t)m->nrunnable : 0;

	vc_put(c, VC_RUNNABLE, t, runnable < UINT32_MAX ? (uint32_t)runnable : UINT32_MAX - 1);
	vc_put(c, VC_RUNNING, t, (uint32_t)(m->nbusy > 0 ? m->nbusy : 0));
	vc_put(c, VC_SPINNING, t, (uint32_t)m->ncat[PC_SEARCH]);
}
/* The trace ended at @end: close what is open, sort, sum. */
void vrows_seal(struct vrows *r, struct vindex *idx, struct model *m, uint64_t end);
void vrows_free(struct vrows *r);

/* Threads, for tests and the builder. */
int32_t vth_m(struct vthreads *th, int64_t m); /* index in ms, made on first use */
void vth_add_held(struct vthreads *th, int32_t mi, int p, uint64_t t0, uint64_t t1);
void vth_add_sys(struct vthreads *th, int32_t mi, uint64_t t0, uint64_t t1, uint32_t task,
		 uint32_t site, bool handoff);
void vth_seal(struct vthreads *th);

#endif /* WEFT_TRACE_VIEW_ROWS_H */

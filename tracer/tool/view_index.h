/*
 * view_index.h - what `weft-trace view` knows of a trace after one pass:
 * every run of a task on a P, in arrays per P, with prefix sums of run
 * time, so that a zoom is a query (view_index.c's essay says how, what
 * it guarantees and what was rejected).
 */
#ifndef WEFT_TRACE_VIEW_INDEX_H
#define WEFT_TRACE_VIEW_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "view_rows.h"

/* A run's place: P in the top 16 bits, index on that P below; 0 = none
 * (refs are stored + 1). */
typedef uint64_t vref;
#define VREF(p, i) ((((uint64_t)(p)) << 48 | (uint64_t)(i)) + 1)
#define VREF_P(r) ((int)(((r) - 1) >> 48))
#define VREF_I(r) (((r) - 1) & ((UINT64_C(1) << 48) - 1))

/*
 * One run of a task on a P; times in ns since the trace's first event.
 * Its end is not stored: t1 = t0 + busy[i + 1] - busy[i] (vrun_t1), the
 * prefix sums hold every duration exactly (48 bytes a run, not 56).
 */
struct vrun {
	uint64_t t0;
	vref waker;      /* the run that readied the task before this run */
	vref prev, next; /* the same task's runs */
	uint32_t task;   /* index in vindex.vt */
	uint32_t site;   /* block or syscall site (index in site_names), 0 none */
	uint8_t why;     /* enum why (model.h) */
	uint8_t reason;  /* WEFT_TRACE_BLOCK_* when why is a block or a syscall */
};

struct vspan {
	uint64_t t0, t1;
};

struct vproc {
	struct vrun *runs; /* by start; they do not overlap */
	uint64_t *busy;    /* busy[i]: run time of runs[0..i) (n + 1 entries) */
	size_t n, cap;
	struct vspan *stw; /* stop-the-world bands that held this P */
	size_t nstw, capstw;
};

static inline uint64_t vrun_dur(const struct vproc *vp, size_t i)
{
	return vp->busy[i + 1] - vp->busy[i];
}

static inline uint64_t vrun_t1(const struct vproc *vp, size_t i)
{
	return vp->runs[i].t0 + vrun_dur(vp, i);
}

/* 32 bytes a task (2.2 M of them on the 10 M-event trace): the creator is
 * its index in vt, not its id (a task can only be created by one the model
 * knows: it is running). */
struct vtask {
	uint64_t id;
	vref first, last;
	uint32_t fn;      /* index in fn_names */
	uint32_t creator; /* index + 1 in vt of the task that created it; 0: a
			     plain thread, or made before the trace began */
};

/* The id of @t's creator, 0 if none is known. */
static inline uint64_t vtask_creator_id(const struct vtask *vt, const struct vtask *t)
{
	return t->creator ? vt[t->creator - 1].id : 0;
}

/* Per entry function, as weft-trace tasks counts it (exact, from the model's
 * intervals): tasks, runs, time running, runnable, blocked by reason. */
struct vfn {
	uint64_t tasks, runs;
	uint64_t exec, wait;
	uint64_t blocked[WEFT_TRACE_BLOCK_MAX];
};

struct vindex {
	struct vproc *ps;
	int np;
	uint64_t first_ts, duration;
	uint64_t nruns, nevents;
	struct vtask *vt;        /* in the order they came */
	uint32_t *byid;          /* indices of vt sorted by id (vindex_seal) */
	size_t ntasks, captasks;
	char **fn_names, **site_names; /* by names index (copied from the model) */
	size_t nfn, nsite;
	struct vfn *fns;         /* by names index, nfn of them */
	size_t capfns;
	bool partial;            /* the file is bad part-way: err says where */
	char err[512];
	/* while building */
	uint64_t stw_t0;
	int stw_p;
	bool in_stw;
	/* M rows, counters, user tasks, regions and logs (view_rows.h) */
	struct vrows rows;
};

/* One item of a row in a query's answer: a run, or merged runs. */
struct vitem {
	uint64_t t0, t1;
	uint64_t busy;  /* run time inside (a run: t1 - t0) */
	uint64_t nruns; /* 1: a run (index i) */
	uint64_t i;     /* the first run's index on its P */
};

/* Build from the trace at @path (one pass). 0, or -1 after printing why
 * (a file that is bad part-way is not an error: idx->partial). */
int vindex_build(struct vindex *idx, const char *path);
void vindex_free(struct vindex *idx);

/* For tests and the builder: an empty index of @np Ps; a run appended to P
 * @p ending at @t1 (runs come in order of start on each P); a task
 * appended (its index in vt). */
void vindex_init(struct vindex *idx, int np);
void vindex_add_run(struct vindex *idx, int p, const struct vrun *r, uint64_t t1);
uint32_t vindex_add_task(struct vindex *idx, uint64_t id);
/* Close the building: tasks sorted by id for vindex_task. */
void vindex_seal(struct vindex *idx);

/*
 * The runs of P @p that intersect [@t0, @t1), for a row @w pixels wide:
 * a run at least a pixel wide (or alone in its pixel) is an item of its
 * own; consecutive runs under a pixel that start in one pixel are merged
 * into one item whose busy time is exactly their run time. Every run that
 * intersects the window is in exactly one item, in order; at most
 * 2 * @w + 2 items. Returns the number of items written to *@out (an
 * array the caller frees), or -1 on bad arguments.
 */
long vindex_query(const struct vindex *idx, int p, uint64_t t0, uint64_t t1, int w,
		  struct vitem **out);

/* The index of the first run of @vp that ends after @t (n if none). */
size_t vindex_first_after(const struct vproc *vp, uint64_t t);

const struct vtask *vindex_task(const struct vindex *idx, uint64_t id);

#endif /* WEFT_TRACE_VIEW_INDEX_H */

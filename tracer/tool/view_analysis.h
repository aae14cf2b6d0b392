/*
 * view_analysis.h - the `weft-trace gaps` analysis inside `weft-trace
 * view`: its verdicts with what each speaks of (as a highlight on the
 * index), and the block profile by call site, computed on a thread of its
 * own beside the index build (view_analysis.c's essay).
 */
#ifndef WEFT_TRACE_VIEW_ANALYSIS_H
#define WEFT_TRACE_VIEW_ANALYSIS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gaps.h"
#include "pipe.h"
#include "view_index.h"
#include "view_match.h"

struct va_verdict {
	const char *kind;   /* gaps' kind ("contention", ...): a static string */
	char text[1536];    /* the text weft-trace gaps prints */
	struct vmatch m;    /* what it speaks of, on the index (a chain points into va.chain) */
	bool has_range;     /* where to zoom: [r0, r1), else the whole trace */
	uint64_t r0, r1;
};

/* One row of the block profile, its site an index in the index's site_names. */
struct va_block {
	uint8_t reason;
	uint32_t site;
	uint64_t waits, ns, max_ns;
};

#define VA_MAX_BLOCKS 500

struct vanalysis {
	/* 0 while it runs; 1 once everything below is written (release store
	 * by the thread, paired with vana_ready's acquire load). */
	atomic_int ready;
	int rc;             /* gaps_run's: 0, 1 (a damaged file: up to the damage), -1 */
	char err[512];      /* rc != 0: the reader's message */
	struct va_verdict v[GAPS_MAX_VERDICTS];
	int nv;
	struct va_block *blocks; /* by blocked time, most first; at most VA_MAX_BLOCKS */
	size_t nblocks;
	vref *chain;        /* the critical path's runs, sorted (for vmatch) */
	size_t nchain;
	uint64_t chain_ns;  /* its run time on the chain: the model's span (each run cut to its stretch) */
	uint32_t chain_hops; /* the edges the model counted on it */
	bool chain_exact;   /* from the model's recorded edges (else vana_chain's walk) */
	/* the hand-over from the main thread, under mu */
	const char *path;
	struct tool_trace tt; /* opened by vana_start, read and closed by the thread */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool idx_set;
	const struct vindex *idx; /* NULL: the build failed */
	pthread_t th;
	bool started;
	/* CLOCK_MONOTONIC ns until which the thread waits (tt.hold): a page
	 * is loading (vana_hold, vana_release); relaxed, any task, any time */
	atomic_llong hold_ns;
};

/* Open @path (a reader of its own, on the calling thread: a file that is
 * not a trace is said once, here) and start its analysis on a thread.
 * 0; -1 when the file cannot be read (message printed; call vana_stop);
 * another -errno when there is no thread (the analysis is then ready at
 * once, with the error). */
int vana_start(struct vanalysis *a, const char *path);
/* The index is built (read-only from now on), or its build failed (@idx
 * NULL): the thread may resolve the verdicts' subjects on it. Main thread. */
void vana_index_ready(struct vanalysis *a, const struct vindex *idx);
/* Whether the thread is done (acquire: after true, every field is readable
 * from any thread and never changes). */
bool vana_ready(struct vanalysis *a);
/* A page is loading: the analysis waits (between two batches of events)
 * for at most @ms from now. Any thread. */
void vana_hold(struct vanalysis *a, int ms);
/* The page has what it asked for: the hold ends at most @ms from now. */
void vana_release(struct vanalysis *a, int ms);
/* Wait for the thread and free everything (after the server is done). */
void vana_stop(struct vanalysis *a);

/*
 * The critical path's runs on @idx from the edges @g recorded (gaps.chain,
 * after gaps_finish with want_chain): each stretch's runs, cut to it, so
 * that *@ns is the model's span. *@out sorted (the caller frees), *@n runs.
 * 0, or -1 if there is no chain (none recorded, or no run on it).
 */
int vana_chain_from(const struct vindex *idx, const struct gaps *g, vref **out, size_t *n,
		    uint64_t *ns);

/*
 * The fallback when the gaps pass could not record the chain's edges
 * (view_analysis.c's essay): the critical path's runs on @idx, rebuilt by walking back from the last
 * run of task @id: from a run whose task had blocked before it and was
 * readied by another task's run, to that run (cut where this run starts);
 * from a task's first run, to its creator's run that started last before
 * it (cut the same way); else to the task's previous run. *@out (sorted,
 * the caller frees), their count and run time in *@n and *@ns. 0, or -1 if
 * the task has no run.
 */
int vana_chain(const struct vindex *idx, uint64_t id, vref **out, size_t *n, uint64_t *ns);

#endif /* WEFT_TRACE_VIEW_ANALYSIS_H */

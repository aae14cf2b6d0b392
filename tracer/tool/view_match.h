/*
 * view_match.h - a highlight on the view's timeline: which runs (or
 * stop-the-world bands) of a window match a predicate, merged to the
 * window's pixels as vindex_query merges runs (view_match.c's essay).
 */
#ifndef WEFT_TRACE_VIEW_MATCH_H
#define WEFT_TRACE_VIEW_MATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "view_index.h"

enum vmatch_kind {
	VM_FN,    /* runs of tasks whose entry function is fn (index in fn_names) */
	VM_SITES, /* runs that ended blocked or in a syscall at one of the (reason, site) pairs */
	VM_TASK,  /* the runs of one task (index in vt) */
	VM_RANGE, /* every run that intersects [r0, r1) */
	VM_CHAIN, /* the runs in chain[] (sorted vrefs) */
	VM_STW,   /* the stop-the-world bands */
	VM_NONE,  /* nothing (a verdict whose subject was not found in the index) */
};

#define VM_SITES_MAX 8

struct vmatch {
	enum vmatch_kind kind;
	uint32_t fn;
	uint32_t task;
	int nsite;
	uint8_t reason[VM_SITES_MAX];
	uint32_t site[VM_SITES_MAX]; /* index in site_names */
	uint64_t r0, r1;
	const vref *chain; /* sorted ascending (by P, then index) */
	size_t nchain;
};

/* One item of a highlight row: [t0, t1) holding n matching runs (or bands). */
struct vhl {
	uint64_t t0, t1, n;
};

/*
 * The matching runs of P @p that intersect [@t0, @t1), for a row @w pixels
 * wide: a match at least a pixel long is an item of its own (n = 1); the
 * shorter ones that start in one pixel (those before @t0 count as one
 * pixel) are merged into one item with their count. Every matching run
 * that intersects the window is counted in exactly one item, in order; at
 * most 2 * @w + 2 items. Returns the number of items in *@out (the
 * caller frees it) and the sum of their n in *@nmatch; -1 on bad arguments.
 */
long vmatch_query(const struct vindex *idx, const struct vmatch *m, int p, uint64_t t0,
		  uint64_t t1, int w, struct vhl **out, uint64_t *nmatch);

/* Does run @i of P @p match (every kind but VM_STW and VM_CHAIN)? */
bool vmatch_run(const struct vindex *idx, const struct vmatch *m, int p, size_t i);

#endif /* WEFT_TRACE_VIEW_MATCH_H */

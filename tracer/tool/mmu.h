/*
 * mmu.h - minimum utilisation over time windows (`weft-trace gaps --mmu`),
 * Go's MMU curve with "P running a task" for "mutator" (mmu.c's essay).
 *
 * Use: mmu_init(); mmu_note() after every event with the model's state;
 * mmu_finish() at the end; mmu_worst() for each window width; mmu_free().
 */
#ifndef WEFT_TRACE_MMU_H
#define WEFT_TRACE_MMU_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

/* What a window's P time was, by category: the model's, with idle split. */
enum mmu_cat {
	MMU_RUN,       /* running a task (effective) */
	MMU_SCHED,     /* held, no task, work runnable (overhead) */
	MMU_SEARCH,    /* held, nothing runnable (spin) */
	MMU_IDLE_WORK, /* held by no thread while tasks were runnable */
	MMU_IDLE,      /* held by no thread, nothing runnable (wait) */
	MMU_STW,       /* stopped by a stop-the-world */
	MMU_SYSCALL,   /* its task in a syscall */
	MMU_MAX
};
extern const char *const mmu_cat_name[MMU_MAX];

/* One stretch with the same number of Ps in each category. */
struct mmu_seg {
	uint64_t t;          /* its start, ns since the first event */
	uint16_t n[MMU_MAX]; /* Ps in each category */
};

struct mmu {
	struct mmu_seg *s;
	size_t n, cap;
	uint64_t end; /* the end of the last stretch */
	int np;       /* Ps (the most seen) */
};

/* A window and what filled it: P time (ns) by category. */
struct mmu_window {
	uint64_t t0, t1;
	double util; /* running / (Ps x width) */
	double ns[MMU_MAX];
};

void mmu_init(struct mmu *u);
/* The model's state now (after an event): a new stretch if it changed. */
void mmu_note(struct mmu *u, const struct model *m);
/* The trace ended (model_finish done). */
void mmu_finish(struct mmu *u, const struct model *m);
/* The (up to) @k disjoint windows of @width ns with the least utilisation,
 * the least first, in @out; their number (0: the trace is shorter). */
int mmu_worst(const struct mmu *u, uint64_t width, struct mmu_window *out, int k);
void mmu_free(struct mmu *u);

#endif /* WEFT_TRACE_MMU_H */

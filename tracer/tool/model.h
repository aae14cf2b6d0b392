/*
 * model.h - the scheduler's state rebuilt from a trace, one event at a
 * time (model.c, whose essay says what is modelled, the invariants and
 * what was rejected). A command feeds every event to model_event() and
 * is told the intervals it aggregates through struct model_hooks.
 */
#ifndef WEFT_TRACE_MODEL_H
#define WEFT_TRACE_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <weft/trace.h>

#include "common/trace_format.h"

#include "names.h"
#include "u64map.h"

/* Where a P's time goes (model.c's essay). */
enum pcat {
	PC_RUN,     /* a task runs on it */
	PC_SYSCALL, /* its task is in a syscall, the P not handed off */
	PC_SCHED,   /* held by a thread, no task, while tasks were runnable */
	PC_SEARCH,  /* held, no task, nothing runnable */
	PC_IDLE,    /* held by no thread */
	PC_STW,     /* stopped by another P's stop-the-world */
	PC_MAX
};
extern const char *const pcat_name[PC_MAX];

/* A task's state in the model is the format's (enum weft_tf_tstate,
 * common/trace_format.h; NONE: not known), and the states an event may
 * find its task in are the traits' (weft_tf_traits[type].from): the
 * reader checks a trace against the same table. */

/* Why a run of a task on a P ended. */
enum why { WHY_END, WHY_YIELD, WHY_BLOCK, WHY_SYSCALL, WHY_HANDOFF, WHY_LOST, WHY_TRACE_END };

/* One live task (model.c keeps them in a hash map by id). */
struct mtask {
	uint64_t id;     /* its key in the model's table (never 0) */
	uint64_t since;  /* when it entered its state */
	uint64_t exec;   /* ns run so far */
	uint64_t span;   /* critical path ending at `since` (ns of work) */
	uint64_t obj;    /* blocked on */
	uint64_t aux;    /* for the command (export: a pending flow) */
	uint32_t fn;     /* names index of its entry function */
	uint32_t site;   /* names index of its block or syscall site */
	uint32_t hops;   /* edges on that critical path */
	uint32_t aux2;
	uint8_t state;   /* enum weft_tf_tstate */
	uint8_t reason;  /* block reason (WEFT_TRACE_BLOCK_*) */
	int16_t p;       /* P it runs on, or -1 */
};

struct mp {
	uint64_t cur;          /* task running (or in a syscall) on it, 0 none */
	uint64_t since;        /* start of the current category */
	uint64_t run_start;    /* start of cur's run */
	uint64_t last_end;     /* end of the previous run while held; 0 none */
	uint64_t time[PC_MAX]; /* accumulated */
	int64_t m;             /* thread holding it, -1 none */
	uint8_t cat;
	bool held, insys, seen;
};

struct model;
struct model_hooks {
	void *ctx;
	/* A task came into the model (created, or first seen). */
	void (*task_new)(void *ctx, struct model *m, struct mtask *t, uint64_t parent, bool created);
	/* A run of @t on @p ended. */
	void (*run)(void *ctx, struct model *m, struct mtask *t, int p, uint64_t t0, uint64_t t1,
		    int why);
	/* @t stopped waiting: @state WEFT_TF_T_RUNNABLE (scheduler wait), WEFT_TF_T_BLOCKED
	 * (t->reason, obj, site) or WEFT_TF_T_SYSCALL (site); @by the waker or 0. */
	void (*wait)(void *ctx, struct model *m, struct mtask *t, int state, uint64_t t0,
		     uint64_t t1, uint64_t by);
	/* @t leaves the model: it ended (@ended) or the trace did. */
	void (*task_gone)(void *ctx, struct model *m, struct mtask *t, bool ended);
	/* Exactly @nbusy Ps had a task during [t0, t1). */
	void (*busy)(void *ctx, struct model *m, int nbusy, uint64_t t0, uint64_t t1,
		     uint64_t only_task);
	/* A gap between two runs on @p, which stayed held. */
	void (*gap)(void *ctx, struct model *m, int p, uint64_t t0, uint64_t t1);
};

#define MODEL_MAX_P 4096

struct model {
	struct model_hooks h;
	struct names fns, sites;
	struct mp *ps;
	int np;              /* Ps seen: highest id + 1 */
	int procs;           /* Ps when the trace started (header) */
	uint64_t now, first_ts; /* the latest and the first event's time */
	uint64_t end_ts;     /* when tracing stopped (header), 0: unknown */
	bool started;
	/* tasks */
	struct u64map tasks; /* the live ones: id -> struct mtask */
	size_t max_live;
	/* global state */
	int64_t nrunnable;
	int nbusy;
	int ncat[PC_MAX];    /* Ps in each category now */
	uint64_t busy_since;
	uint64_t busy_only;  /* the task when nbusy == 1 */
	bool stw;
	int stw_p;
	uint64_t stw_start;
	/* results */
	uint64_t work, span, span_task, span_fn_key;
	uint32_t span_hops, span_fn;
	uint64_t *busy_time; /* [np + 1] ns with exactly k Ps busy */
	int busy_cap;
	uint64_t anomalies;  /* events that did not fit the state (tolerated) */
	uint64_t tasks_created, tasks_ended, starts;
};

void model_init(struct model *m, weft_tr *t, const struct model_hooks *h);
void model_event(struct model *m, const weft_tr_event *ev);
/* The trace ended: close every open run, wait and P segment when tracing
 * stopped (the header's end), or at the last event (m->now). */
void model_finish(struct model *m);
void model_free(struct model *m);
struct mtask *model_task(struct model *m, uint64_t id); /* NULL if not live */
const char *model_fn_name(struct model *m, const struct mtask *t);
/* The critical path length through @t now (its span plus its current run). */
uint64_t model_span_now(struct model *m, const struct mtask *t);

#endif /* WEFT_TRACE_MODEL_H */

/*
 * gaps.h - the scheduler-overhead and parallelism analysis behind
 * `weft-trace gaps` (gaps.c, whose essay says what is measured, how each
 * verdict is judged and what was rejected), as a library: `weft-trace
 * gaps` prints its result, `weft-trace view` serves it beside the
 * timeline (on a thread of its own: a struct gaps is touched by one
 * thread at a time, and nothing in here is shared between two of them).
 *
 * Use: gaps_init(); gaps_collect() over an open trace; gaps_finish()
 * (figures, verdicts with their subjects); read the fields; gaps_free();
 * then close the trace (names_get's names are the reader's strings: they
 * last while it is open).
 */
#ifndef WEFT_TRACE_GAPS_H
#define WEFT_TRACE_GAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hist.h"
#include "mmu.h"
#include "model.h"
#include "pipe.h"
#include "u64map.h"

/* The waits on one object for one reason at one call site. */
struct gaps_obj {
	uint64_t obj;
	uint32_t site;
	uint32_t next;   /* index + 1 of the next tally of the same object, 0 none */
	uint64_t by;     /* the waker that ended most of its waits (majority vote) */
	int64_t by_votes;
	uint8_t reason;
	uint64_t n;
	double ns;
	int64_t waiters, max_waiters;
};

struct gaps_phase {
	uint64_t start, end, busy1, par; /* par: forgiven time with two Ps busy */
	uint32_t fn;     /* the entry function that ran most in it */
	uint64_t fn_ns;
};

/* One task as the culprit verdicts judge it (bottleneck, capped). */
struct gaps_task {
	uint64_t id;
	uint32_t fn;
	uint64_t exec;      /* ns run */
	uint64_t blocked;   /* ns blocked (WEFT_TF_T_BLOCKED) */
	uint64_t wakes;     /* waits of other tasks it ended (TASK_UNBLOCK by it) */
	uint64_t first, last; /* its first run's start, when it left the model (since the first event) */
	uint64_t t0, t1;    /* its first run's start, its last run's end (since the first event) */
	double idle;        /* ns x Ps with no task while it ran (its own P never counts) */
};

/* The longest-running tasks kept (gaps_ctx.top): the capped verdict's longest
 * tasks are among them. */
#define GAPS_TOP_TASKS 16

struct gaps_ctx {
	struct model *m;
	struct gaps *g;       /* the whole (block profile, pauses) */
	uint64_t *fn_tasks, *fn_exec; /* per entry function: ended tasks, their execution */
	size_t nfn_tasks, nfn_tasks_exec;
	struct hist runs, gaps, latency, texec;
	struct gaps_obj *objs;
	size_t nobj;
	struct u64map oidx; /* object -> uint32_t index + 1 of its last tally in objs */
	uint64_t steals, stolen, failed;
	uint64_t stw_n, stw_total, stw_max, stw_wait_max, stw_start;
	bool in_stw;
	/* serial phases */
	bool in_phase;
	struct gaps_phase cur;
	uint64_t par_since;   /* a parallel stretch began inside the phase; 0 none */
	uint64_t *fn_ns;      /* per entry function, in the current phase */
	size_t nfn;
	struct gaps_phase best[3];
	/* sched cost per run */
	uint64_t sched_runs;
	/* hand-off costs (burdened span) */
	struct hist handoff;  /* every start: its wait, cut to its P's gap before it */
	uint32_t pend_node;   /* the node whose cost the next gap may cut, at pend_ts */
	uint64_t pend_ts, pend_lat;
	bool pend;
	/* network waits (net read, net write) */
	int64_t net_waiting, net_max_waiting; /* tasks in one now, most at once */
	uint64_t net_waits, net_ns;           /* ended waits, their time */
	uint64_t net_last, net_idle;          /* accounted up to; no P busy while some waited */
	uint64_t *net_site_ns;                /* per site (names index), time waited there */
	size_t nnet_site;
	/* per task (culprit verdicts): live tasks' tallies, the longest-running */
	struct u64map tacc;   /* id -> struct gaps_task */
	struct gaps_task top[GAPS_TOP_TASKS]; /* by exec, most first */
	int ntop;
	uint64_t wakes;       /* waits ended by a task (TASK_UNBLOCK by a live task) */
	double busy_int;      /* the integral of busy Ps over closed model busy segments */
	uint64_t *p_t0;       /* per P: the start of its run being tallied, and */
	double *p_b0;         /* busy_int (extended to then) at that start */
	size_t np_run;
};

/* The object most runs ended waiting on (counts, not time: see CONTEND_RUN_SHARE). */
struct gaps_top {
	const struct gaps_obj *o;  /* its (reason, site) that blocked longest; NULL: no object */
	const struct gaps_obj *o2; /* the second longest, or NULL */
	double ns;            /* blocked on it in all */
	uint64_t n;           /* waits on it */
	int64_t w;            /* most tasks waiting on it at once */
};

/* What the report prints and the verdicts judge, computed once after the pass. */
struct gaps_figures {
	double dur;        /* the trace: first event to the end (ns) */
	int np;            /* Ps */
	double W, S, par;  /* work (all run time), span, work / span */
	double tp[PC_MAX]; /* all Ps' time by category */
	double busy_t;     /* all time, by number of busy Ps */
	double t1, t0b;    /* time with exactly one P busy, with none */
	double serial;     /* the serial fraction: work done while one P was busy */
	double cost;       /* scheduling cost per run */
	double med_exec;   /* median execution per task */
	double tick_ns;    /* the trace clock's tick */
	struct gaps_top top;
	uint32_t net_site; /* names index of the site that waited longest on the network */
	double net_site_ns;
	double active;     /* the time some P had a task */
	double run_share;  /* all Ps' time running tasks / (Ps x duration) */
	int culprit;       /* the bottleneck: index in gaps_ctx.top, -1 none */
	int nlong;         /* the capped verdict's long tasks: top[0 .. nlong) (0: none) */
	double cap;        /* work / the longest task's run time: the speedup no core count passes */
	double Sb, burden; /* burdened span: S + the hand-offs' costs on it (burden, ns) */
	bool burden_exact; /* each edge's own cost (else hops x the median hand-off) */
};

struct gaps_verdict {
	const char *kind;
	char text[1536];
};

#define GAPS_MAX_VERDICTS 12

/* The block profile by call site, as `go tool pprof`'s block profile:
 * every ended wait in WEFT_TF_T_BLOCKED (reason as the task gave it) or
 * WEFT_TF_T_SYSCALL (reason WEFT_TRACE_BLOCK_SYSCALL), per (reason, site). */
struct gaps_block {
	uint8_t reason;     /* WEFT_TRACE_BLOCK_* */
	uint32_t site;      /* the model's names index (m.sites) */
	uint64_t waits, ns, max_ns;
};

/* What a verdict speaks of, for a viewer to select it. Times in ns since the
 * trace's first event (as the view index's). */
enum gaps_subj {
	GAPS_SUBJ_NONE,
	GAPS_SUBJ_FN,    /* fine_grain: runs of tasks of entry function fn */
	GAPS_SUBJ_SITES, /* contention, network_wait: runs that ended waiting at a (reason, site) */
	GAPS_SUBJ_RANGE, /* serial_phase: every run in [t0, t1) */
	GAPS_SUBJ_CHAIN, /* critical_path: the chain ending in task `task` (the viewer rebuilds it) */
	GAPS_SUBJ_STW,   /* stop_the_world: the pauses; [t0, t1) the longest */
	GAPS_SUBJ_TASKS, /* bottleneck, capped: the runs of tasks[] (the first the main one) */
};

#define GAPS_SUBJ_SITES_MAX 8
#define GAPS_SUBJ_TASKS_MAX 16
#define GAPS_SUBJ_RANGES_MAX 16

struct gaps_subject {
	enum gaps_subj kind;
	uint64_t t0, t1;          /* RANGE, STW (the longest pause) */
	uint32_t fn;              /* FN: the model's names index (m.fns) */
	int nsite;                /* SITES: the pairs, the longest blocked first */
	uint8_t reason[GAPS_SUBJ_SITES_MAX];
	uint32_t site[GAPS_SUBJ_SITES_MAX]; /* the model's names index (m.sites) */
	uint64_t obj;             /* SITES for contention: the object */
	uint64_t task, span;      /* CHAIN: the task it ends in, its length (ns of work) */
	uint32_t hops;            /* CHAIN: its edges */
	int ntask;                /* every kind: the tasks it speaks of (for --json) */
	uint64_t tasks[GAPS_SUBJ_TASKS_MAX];
	int nrange;               /* every kind: the time ranges it speaks of */
	uint64_t ranges[GAPS_SUBJ_RANGES_MAX][2];
};

/*
 * The critical path's edges (gaps_init with want_chain): a node is an edge
 * the model took, from task src (its chain up to src_end) to task `task`
 * (whose own time counts from start); parent is src's node then (index + 1,
 * 0: src's chain starts with src). Each live task's current node is in its
 * mtask.aux (index + 1); nodes are reference-counted (the task, the nodes
 * whose parent they are, the pin of the longest chain) and reused when
 * free, so their number follows the live tasks, not the trace.
 */
struct gaps_cnode {
	uint64_t src, src_end;
	uint64_t start;  /* (whose: the task that holds it, or the src of the node after it) */
	uint64_t span0;  /* the chain's length at the edge: src's chain ends there */
	uint64_t cost;   /* the hand-off's measured cost: the holder's wait from the edge to
			  * its start, cut to its P's gap before it (not the time that P
			  * spent running other tasks); 0 for a backward edge (no wait) */
	uint32_t parent;
	uint32_t refs;
	uint32_t src_fn; /* src's entry function (names index): src may be gone by the end */
	uint32_t site;   /* where the chain waited at this edge (the blocked task's site) */
	uint8_t reason;  /* its block reason; GAPS_EDGE_CREATE for a create */
};

#define GAPS_EDGE_CREATE 0xff

/* What the critical path is made of (gaps_finish, when its edges were recorded). */
#define GAPS_CHAIN_TOP 3
struct gaps_chain_sum {
	bool known;            /* the edges were recorded (not chain_lost) */
	uint64_t ns;           /* its length (the span) */
	uint64_t tasks;        /* distinct tasks on it */
	struct {
		uint32_t fn;
		uint64_t ns, tasks;
	} fn[GAPS_CHAIN_TOP];  /* the entry functions holding most of it */
	int nfn;
	uint64_t task;         /* the task holding most of it, its function and share */
	uint32_t task_fn;
	uint64_t task_ns;
	struct {
		uint8_t reason;
		uint32_t site;
		uint64_t n;
	} wait[2];             /* the call sites where it waited most often */
	int nwait;
	uint64_t creates, waits; /* its edges by kind */
	uint64_t cost;         /* the hand-offs' measured costs on it, in all */
};

/* At most this many nodes (64 bytes each, 8 MB): a longer history of live
 * chains (big.wt's critical path has 2.2 M hops) stops the recording, and
 * the viewer rebuilds the chain from the index instead (approximately). */
#define GAPS_CHAIN_MAX_NODES (128 * 1024)

/* One stretch of the critical path: task id's run time within [t0, t1)
 * (since the first event); in gaps.chain from the end backwards. */
struct gaps_seg {
	uint64_t task, t0, t1;
	uint64_t ns;   /* the task's run time on the chain in it */
	uint32_t fn;
};

struct gaps {
	struct gaps_ctx c;
	struct model m;
	struct gaps_figures f;
	struct gaps_verdict v[GAPS_MAX_VERDICTS];
	struct gaps_subject subj[GAPS_MAX_VERDICTS]; /* subj[i]: what v[i] speaks of */
	int nv;
	/* the stop-the-world pauses, [t0, t1) pairs since the first event */
	uint64_t (*pauses)[2];
	size_t npauses, cappauses;
	/* the block profile (gaps_init with want_blocks), in order of first wait */
	bool want_blocks;
	struct gaps_block *blocks;
	size_t nblocks, capblocks;
	struct u64map bidx; /* reason << 32 | site -> uint32_t index + 1 in blocks */
	/* the critical path's stretches (gaps_init with want_chain), after gaps_finish;
	 * none if the recording stopped (chain_lost: GAPS_CHAIN_MAX_NODES) */
	bool want_chain, chain_lost;
	struct gaps_seg *chain;
	size_t nchain;
	/* while collecting */
	struct gaps_cnode *nodes;
	size_t nnodes, capnodes;
	uint32_t free_node;   /* index + 1 of the first free node (linked by parent) */
	uint32_t pin;         /* the node of the longest chain's task when it was noted */
	uint64_t pin_task, pin_end, pin_span;
	uint32_t pin_fn;
	struct gaps_chain_sum csum;
	/* utilisation over time windows (set want_mmu after gaps_init: --mmu) */
	bool want_mmu;
	struct mmu mmu;
};

/* Ready @g for a pass over @tt (open: tool_open); @want_blocks: keep the
 * block profile; @want_chain: record the critical path's edges (gaps.chain). */
void gaps_init(struct gaps *g, struct tool_trace *tt, bool want_blocks, bool want_chain);
/* Every event of @tt through the model and the analysis: 0; 1 when the file
 * is damaged after some good events (they count); -1 when nothing could be
 * read (the reader's message is in tt). */
int gaps_collect(struct gaps *g, struct tool_trace *tt);
/* After a collect that did not fail: the figures, the verdicts and their subjects. */
void gaps_finish(struct gaps *g, const weft_tr_info *info);
void gaps_free(struct gaps *g);

#endif /* WEFT_TRACE_GAPS_H */

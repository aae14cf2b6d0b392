/*
 * tool.h - what the weft-trace commands share: the command table, opening
 * a trace and reading it with progress and error reports, a bounded
 * histogram, small hash maps, the trace model (model.c) and JSON output.
 *
 * Everything here is built on the public reader API (<weft/trace.h>) and
 * nothing else: weft-trace has no parser of its own.
 */
#ifndef WEFT_TRACE_TOOL_H
#define WEFT_TRACE_TOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <weft/trace.h>

/* ---- commands -------------------------------------------------------------- */

struct tool_cmd {
	const char *name;
	const char *summary; /* one line, for `weft-trace help` */
	const char *help;    /* the full text, for `weft-trace help CMD` */
	int (*run)(int argc, char **argv);
};

extern const struct tool_cmd cmd_stats, cmd_dump, cmd_tasks, cmd_gaps, cmd_export;

/* Exit statuses: 0 fine, 1 a bad trace or an I/O error, 2 a usage error. */
#define TOOL_EXIT_BAD 1
#define TOOL_EXIT_USAGE 2

/*
 * Out of memory: print "weft-trace: out of memory" and exit with
 * TOOL_EXIT_BAD. The tool's memory is its model and its tables, which
 * nothing can shrink, so no command tries to go on without them.
 */
__attribute__((noreturn, cold)) void tool_oom(void);
/* calloc and realloc that never return NULL (tool_oom); @n * @size is checked. */
void *tool_calloc(size_t n, size_t size);
void *tool_realloc(void *p, size_t n, size_t size);
/*
 * The array @p of *@n elements of @size bytes, made to reach index @i:
 * returned as it is if it does, else grown to i + 16 elements (*@n
 * updated), the new ones zeroed. For tables indexed by a names index,
 * which grows one at a time.
 */
void *tool_grow_zero(void *p, size_t *n, size_t i, size_t size);

/* Print "weft-trace CMD: message" on stderr; usage() adds a pointer to help. */
void tool_err(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int tool_usage(const struct tool_cmd *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Options common to the commands. tool_getopt() parses argv with the
 * long options @longopts (getopt_long) and the standard --help and
 * --json; it returns TOOL_EXIT_USAGE (message printed) or 0, and leaves
 * the one FILE operand in *@file. Command-specific options come back
 * through @opt(ctx, name, value); it returns 0 or a usage error.
 */
struct tool_opt {
	const char *name;
	bool has_arg;
};
int tool_getopt(const struct tool_cmd *c, int argc, char **argv, const struct tool_opt *opts,
		int (*opt)(void *ctx, const char *name, const char *value), void *ctx,
		const char **file, bool *json);
/* Parse a time in microseconds ("1200", "3.5") into ns; -1 if malformed. */
int64_t tool_parse_us(const char *s);
/* --from/--to in ns (parsed by tool_parse_us): 0, or a usage error if from > to. */
int tool_check_window(const struct tool_cmd *c, uint64_t from, uint64_t to);
/* Parse a non-negative integer; -1 if malformed. */
int64_t tool_parse_uint(const char *s);

/* ---- reading ---------------------------------------------------------------- */

/*
 * Events are read in batches. With more than one CPU a reader thread
 * fills them (weft_trace_next, strings copied into the batch) while the
 * command consumes the previous ones, so a command costs the slower of
 * the reader and its own analysis instead of their sum. TOOL_NBATCH
 * batches bound the memory (about 1.5 MB). WEFT_TRACE_THREADS=0 reads on
 * the calling thread (the same batches, filled when the last is used);
 * WEFT_TRACE_THREADS=1 starts the thread even on one CPU.
 */
#define TOOL_BATCH 4096
#define TOOL_NBATCH 4
#define TOOL_ARENA (16 * (WEFT_TRACE_MAX_STR + 1))

struct tool_batch {
	weft_trace_event ev[TOOL_BATCH];
	unsigned n;          /* events in ev */
	int r;               /* after them: 1 more to come, 0 the end, or a negative errno */
	size_t arena_len;
	char arena[TOOL_ARENA]; /* the events' strings */
};

struct tool_pipe;

struct tool_trace {
	weft_trace *t;
	const char *cmd, *path;
	weft_trace_info info;
	weft_trace_event *cur, *end;       /* the batch being consumed */
	int end_r;                         /* its r */
	struct tool_batch *batch;          /* it */
	struct tool_pipe *pipe;            /* the reader thread, or NULL */
	uint64_t nread;      /* events returned so far */
	uint64_t next_tick;  /* nread at which to look at the clock again */
	uint64_t tick_every; /* events between two looks: 1 << 20 (tests: WEFT_TRACE_PROGRESS_EVERY) */
	double progress_s;   /* seconds between two updates: 0.25 (tests: 0) */
	bool progress;       /* stderr is a terminal */
	bool progress_shown;
	double last_progress;
};

/* Open @path; on failure print the reader's message and return -1. */
int tool_open(struct tool_trace *tt, const char *cmd, const char *path);
/*
 * The next event in *@ev (the caller's to change until the next call): 1, 0 at the end, or
 * -1 after printing the reader's message (with the byte offset). Shows
 * progress on a terminal.
 */
int tool_next_slow(struct tool_trace *tt, weft_trace_event **ev);
static inline int tool_next(struct tool_trace *tt, weft_trace_event **ev)
{
	if (__builtin_expect(tt->cur < tt->end && tt->nread < tt->next_tick, 1)) {
		*ev = tt->cur++;
		tt->nread++;
		return 1;
	}
	return tool_next_slow(tt, ev);
}
void tool_close(struct tool_trace *tt);

/* ---- formatting ---------------------------------------------------------------- */

/* A duration in ns as text with a unit ("1.23 ms", "850 ns"); @buf of 32 bytes. */
const char *fmt_dur(char *buf, double ns);
/* A count with thin grouping ("10.2 M", "1234"); @buf of 32 bytes. */
const char *fmt_count(char *buf, double n);
/* Write @s as a JSON string (with the quotes). */
void json_str(FILE *f, const char *s);

/* ---- histogram ------------------------------------------------------------------- */

/*
 * A log-linear histogram of non-negative values (ns): 16 buckets per
 * power of two, so a quantile is within about 3% of the truth, in 8 KiB
 * whatever the number of values. Exact count, sum, min and max.
 */
#define HIST_SUB 16
#define HIST_BUCKETS (64 * HIST_SUB)
struct hist {
	uint64_t n, min, max;
	double sum;
	uint64_t b[HIST_BUCKETS];
};
void hist_init(struct hist *h);
void hist_add(struct hist *h, uint64_t v);
uint64_t hist_quantile(const struct hist *h, double q); /* 0 if empty */
static inline double hist_mean(const struct hist *h)
{
	return h->n ? h->sum / (double)h->n : 0;
}

/* ---- interning ------------------------------------------------------------------- */

/*
 * Code keys (entry functions, call sites) to small indices, each name
 * looked up in the reader once. Index 0 is "no key" (key 0).
 */
struct names {
	weft_trace *t;
	uint64_t *keys;       /* by index */
	const char **name;    /* by index, resolved lazily */
	uint32_t *slot;       /* hash of key -> index + 1 */
	size_t n, cap, nslot;
	uint64_t last_key;    /* a one-entry cache: spawn loops repeat one key */
	uint32_t last_idx;
};
void names_init(struct names *nm, weft_trace *t);
uint32_t names_intern(struct names *nm, uint64_t key);
const char *names_get(struct names *nm, uint32_t idx); /* "?" if unnamed, "-" for 0 */
void names_free(struct names *nm);

/* ---- a map from non-zero 64-bit keys to pointers (open addressing) ---- */

struct u64map {
	uint64_t *keys;
	void **vals;
	size_t n, cap;
};
void *u64map_get(const struct u64map *mp, uint64_t key);
void u64map_put(struct u64map *mp, uint64_t key, void *val); /* replaces */
void *u64map_del(struct u64map *mp, uint64_t key);           /* the value, or NULL */
void u64map_free(struct u64map *mp);                         /* not the values */

/* ---- the model ----------------------------------------------------------------- */

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

/* A task's state in the model. */
enum tstate { TS_UNKNOWN, TS_RUNNABLE, TS_RUNNING, TS_BLOCKED, TS_SYSCALL };

/* Why a run of a task on a P ended. */
enum why { WHY_END, WHY_YIELD, WHY_BLOCK, WHY_SYSCALL, WHY_HANDOFF, WHY_LOST, WHY_TRACE_END };

/* One live task (model.c keeps them in a hash map by id). */
struct mtask {
	uint64_t id;     /* 0: an empty slot */
	uint64_t since;  /* when it entered its state */
	uint64_t exec;   /* ns run so far */
	uint64_t span;   /* critical path ending at `since` (ns of work) */
	uint64_t obj;    /* blocked on */
	uint64_t aux;    /* for the command (export: a pending flow) */
	uint32_t fn;     /* names index of its entry function */
	uint32_t site;   /* names index of its block or syscall site */
	uint32_t hops;   /* edges on that critical path */
	uint32_t aux2;
	uint8_t state;   /* enum tstate */
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
	/* @t stopped waiting: @state TS_RUNNABLE (scheduler wait), TS_BLOCKED
	 * (t->reason, obj, site) or TS_SYSCALL (site); @by the waker or 0. */
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
	struct mtask *tab;
	size_t ntask, cap;   /* cap: a power of two */
	size_t max_live;
	/* global state */
	int64_t nrunnable;
	int nbusy;
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

void model_init(struct model *m, weft_trace *t, const struct model_hooks *h);
void model_event(struct model *m, const weft_trace_event *ev);
/* The trace ended: close every open run, wait and P segment when tracing
 * stopped (the header's end), or at the last event (m->now). */
void model_finish(struct model *m);
void model_free(struct model *m);
struct mtask *model_task(struct model *m, uint64_t id); /* NULL if not live */
const char *model_fn_name(struct model *m, const struct mtask *t);
/* The critical path length through @t now (its span plus its current run). */
uint64_t model_span_now(struct model *m, const struct mtask *t);

#endif /* WEFT_TRACE_TOOL_H */

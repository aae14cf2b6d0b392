/*
 * cmd_gaps.c - weft-trace gaps: the scheduler-overhead and parallelism
 * analysis, with a verdict in plain words.
 *
 * What readers of `go tool trace` look for by eye - "gaps", "too many
 * small bars", "only one CPU busy", "they fight over the channel" - said
 * with numbers, from one streaming pass over the model (model.c):
 *
 *   per P      where its time went: running task code, in the scheduler
 *              between two tasks while some task was runnable (the cost
 *              of scheduling), searching with nothing runnable, idle,
 *              paused by a stop-the-world, in a syscall;
 *   runs, gaps the distributions of run lengths and of the gaps between
 *              two runs on one P (bounded log histograms, hist.c);
 *   latency    runnable to running;
 *   steals     successful steals, tasks taken, failed probes;
 *   parallelism  work (all run time) and span (the longest chain of work
 *              through create and unblock edges, model.c's essay), their
 *              ratio, how long exactly k Ps were busy, and the speedup
 *              that predicts for 4, 8, 16 and 64 cores: Amdahl's law with
 *              the serial fraction measured as the work done while only
 *              one P was busy, the work/span bound min(n, W/S), and
 *              Brent's greedy-scheduler estimate W / (W/n + S).
 *
 * Verdicts, each only when its numbers say so (the thresholds are named
 * constants below, chosen so that the shapes of tests/progs/tshape.c are
 * told apart with a wide margin):
 *   fine grain         many tasks whose median execution is within a few
 *                      times what it costs to create, switch to and end
 *                      one (the scheduler's time per run plus the gap);
 *   contention         one object (channel, select, mutex) that several
 *                      tasks waited on at once and on which a large share
 *                      of all runs ended (the scheduling is hand-offs on
 *                      it): named with its block reason and call site.
 *                      Counted in runs, not time, so that the OS taking a
 *                      thread away does not hide it. Waits for the world
 *                      outside the program are never contention: sleep,
 *                      syscalls, stop-the-world and the network (net read,
 *                      net write: the netpoller's waits, on a socket the
 *                      program does not fill itself - several tasks in
 *                      accept on one listener are a server waiting for
 *                      clients, not a lock);
 *   serial phase       the longest stretch where at most one P had a task
 *                      (short interruptions forgiven), with who ran;
 *   critical path      the span is nearly all the time some P was busy, or
 *                      most of it with work/span near one: a chain of hand-offs that more
 *                      cores cannot shorten, while the other Ps idle (the
 *                      first test alone because run times include the
 *                      time the OS took a thread away, which the trace
 *                      cannot see: it inflates the work off the path);
 *   stop-the-world     long pauses or long waits for the Ps to stop;
 *   network wait       a large share of the run with no P busy while some
 *                      task waited in net read or net write: the program
 *                      waits for its peers, and neither the scheduler nor
 *                      more cores would make it faster (named with the
 *                      call site that waited longest). The time is counted
 *                      between events, from the model's count of busy Ps
 *                      and a count of the tasks in a network wait.
 *
 * Structure, in the order run() calls them: collect (the model's hooks
 * and on_event, one streaming pass), figures (struct figures: every
 * number the report prints, computed once), judge (one function per
 * verdict, each on a struct of its own inputs: a verdict reads nothing
 * else, so adding one is a struct, a function and a call in judge()),
 * print (text or JSON: the figures, the tallies and the verdicts).
 *
 * Memory: the model (live tasks), one histogram per distribution, a
 * bounded table of block objects (the least blocked are dropped when it
 * fills) and the three longest serial phases.
 *
 * Rejected: blaming a network wait on the waker (the netpoller or a
 * plain thread wakes the task: the edge is outside the program, which the
 * span ignores too); a network verdict from blocked time alone (a server
 * whose Ps are busy with other connections while one waits has nothing to
 * fix). Also: a windowed utilisation timeline (needs a window size the user
 * would have to guess; the export shows the timeline better); per-object
 * distinct-waiter sets (unbounded; the peak of concurrent waiters says
 * the same thing); verdicts that all read one shared struct of figures
 * (each would depend on whatever the others needed, and no verdict could
 * be tested or changed on its own).
 */
#include "config.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hist.h"
#include "model.h"
#include "pipe.h"
#include "tool.h"
#include "u64map.h"

static const char help[] =
	"usage: weft-trace gaps [--json] FILE\n"
	"\n"
	"The scheduler-overhead analysis:\n"
	"  - per P: running task code, in the scheduler between two tasks while\n"
	"    work was runnable (sched), looking with nothing runnable (search),\n"
	"    idle, paused by a stop-the-world, in a syscall;\n"
	"  - distributions (median, p90, p99) of task run lengths, of the gaps\n"
	"    between two runs on a P, and of scheduling latency (runnable to\n"
	"    running); steals and failed steal probes;\n"
	"  - parallelism: work (total run time), span (the longest chain of work\n"
	"    through create and unblock edges), work/span, the share of time with\n"
	"    exactly one P busy, and the speedup predicted for 4, 8, 16 and 64\n"
	"    cores (Amdahl from the measured serial fraction, the work/span bound,\n"
	"    Brent's estimate) - relative to running all the work on one core;\n"
	"  - a verdict in plain words, each with its numbers: tasks too fine-\n"
	"    grained, contention on one channel or mutex (reason and call site),\n"
	"    a serial phase (where and how long), a critical path that leaves\n"
	"    the other Ps idle, long stop-the-world pauses, Ps idle while tasks\n"
	"    wait for the network (net read/write: the peers are the limit).\n"
	"    Waits for the network, sleeps and syscalls are never contention.\n"
	"\n"
	"  --json    the same as one JSON object (verdicts with a kind and text)\n"
	"\n"
	"Exit status 1 with the reader's message (and byte offset) on a bad file.\n";

/* Thresholds of the verdicts. */
#define FINE_MIN_TASKS 1000    /* fewer tasks cannot cost much */
#define FINE_RATIO 5.0         /* median exec < this x per-task scheduling cost */
#define FINE_ABS_NS 1000.0     /* ... or below 1 us however cheap the scheduler */
#define CONTEND_RUN_SHARE 0.25 /* of all runs ended waiting on the object */
#define CONTEND_MIN_WAITS 100  /* fewer waits are no contention */
#define CONTEND_MIN_WAITING 0.05 /* tasks waiting on it, on average through the run: less
				  * is no time lost (workers on a buffered channel
				  * that end every run on it, each wait short) */
#define SERIAL_SHARE 0.20      /* of the run */
#define SERIAL_FORGIVE_NS 50000 /* a parallel blip shorter than this continues a phase */
#define SERIAL_FORGIVE_SHARE 0.02 /* ... or than this share of the phase so far */
#define SERIAL_FORGIVE_TOTAL 0.05 /* all forgiven stretches: at most this share of it */
#define CRIT_SPAN_SHARE 0.5    /* span / busy time, with work / span below: */
#define CRIT_PARALLELISM 1.5
#define CRIT_SPAN_ALONE 0.8    /* span / busy time that is a critical path by itself */
#define STW_LONG_NS 1000000    /* a pause of 1 ms */
#define STW_SHARE 0.05         /* of the run */
#define NET_IDLE_SHARE 0.25    /* of the run with no P busy while tasks waited on the network */
#define MAX_OBJS 4096

/* The waits on one object for one reason at one call site. */
struct obj {
	uint64_t obj;
	uint32_t site;
	uint32_t next;   /* index + 1 of the next tally of the same object, 0 none */
	uint8_t reason;
	uint64_t n;
	double ns;
	int64_t waiters, max_waiters;
};

struct phase {
	uint64_t start, end, busy1, par; /* par: forgiven time with two Ps busy */
	uint32_t fn;     /* the entry function that ran most in it */
	uint64_t fn_ns;
};

struct ctx {
	struct model *m;
	struct hist runs, gaps, latency, texec;
	struct obj *objs;
	size_t nobj;
	struct u64map oidx; /* object -> uint32_t index + 1 of its last tally in objs */
	uint64_t steals, stolen, failed;
	uint64_t stw_n, stw_total, stw_max, stw_wait_max, stw_start;
	bool in_stw;
	/* serial phases */
	bool in_phase;
	struct phase cur;
	uint64_t par_since;   /* a parallel stretch began inside the phase; 0 none */
	uint64_t *fn_ns;      /* per entry function, in the current phase */
	size_t nfn;
	struct phase best[3];
	/* sched cost per run */
	uint64_t sched_runs;
	/* network waits (net read, net write) */
	int64_t net_waiting, net_max_waiting; /* tasks in one now, most at once */
	uint64_t net_waits, net_ns;           /* ended waits, their time */
	uint64_t net_last, net_idle;          /* accounted up to; no P busy while some waited */
	uint64_t *net_site_ns;                /* per site (names index), time waited there */
	size_t nnet_site;
};

static bool is_net(int reason)
{
	return reason == WEFT_TRACE_BLOCK_NET_READ || reason == WEFT_TRACE_BLOCK_NET_WRITE;
}

/* Before an event at @now: the time since the last one, with the model's
 * state then (busy Ps) and the tasks then in a network wait. */
static void net_account(struct ctx *c, const struct model *m, uint64_t now)
{
	if (now <= c->net_last)
		return;
	if (c->net_last && c->net_waiting > 0 && m->nbusy == 0)
		c->net_idle += now - c->net_last;
	c->net_last = now;
}

static void net_wait_begins(struct ctx *c)
{
	if (++c->net_waiting > c->net_max_waiting)
		c->net_max_waiting = c->net_waiting;
}

/* ---- hooks ---------------------------------------------------------------------- */

static void h_run(void *x, struct model *m, struct mtask *t, int p, uint64_t t0, uint64_t t1,
		  int why)
{
	struct ctx *c = x;
	(void)m, (void)t, (void)p;
	if (why != WHY_TRACE_END)
		hist_add(&c->runs, t1 - t0);
}

static void h_gap(void *x, struct model *m, int p, uint64_t t0, uint64_t t1)
{
	struct ctx *c = x;
	(void)m, (void)p;
	hist_add(&c->gaps, t1 - t0);
}

/* Put objs[@i] at the head of its object's chain. */
static void obj_link(struct ctx *c, size_t i)
{
	uint32_t *head = u64map_insert(&c->oidx, c->objs[i].obj, NULL);

	c->objs[i].next = *head;
	*head = (uint32_t)i + 1;
}

/*
 * The tally of waits on (obj, reason, site), made if @add. The index is by
 * object alone; its few (reason, site) tallies are chained. A program may
 * block on millions of distinct objects (a wait group per request), so the
 * table is bounded: full, it keeps the more blocked half and those with
 * waiters now, and the index is rebuilt (amortized over MAX_OBJS / 2 adds).
 * objs keeps the order of first waits (the report's ties depend on it).
 */
static struct obj *obj_find(struct ctx *c, uint64_t obj, int reason, uint32_t site, bool add)
{
	uint32_t *head = u64map_find(&c->oidx, obj);

	if (!obj)
		return NULL; /* no object: nothing to tally */
	for (uint32_t k = head ? *head : 0; k; k = c->objs[k - 1].next) {
		struct obj *o = &c->objs[k - 1];
		if (o->reason == reason && o->site == site)
			return o;
	}
	if (!add)
		return NULL;
	if (c->nobj == MAX_OBJS) {
		size_t k = 0;
		double thr = 0;
		for (size_t i = 0; i < c->nobj; i++)
			thr += c->objs[i].ns;
		thr /= (double)c->nobj;
		for (size_t i = 0; i < c->nobj; i++)
			if (c->objs[i].ns >= thr || c->objs[i].waiters > 0)
				c->objs[k++] = c->objs[i];
		c->nobj = k;
		if (c->nobj == MAX_OBJS)
			return NULL;
		u64map_clear(&c->oidx);
		for (size_t i = 0; i < c->nobj; i++)
			obj_link(c, i);
	}
	struct obj *o = &c->objs[c->nobj++];
	memset(o, 0, sizeof(*o));
	o->obj = obj;
	o->reason = (uint8_t)reason;
	o->site = site;
	obj_link(c, c->nobj - 1);
	return o;
}

static void h_wait(void *x, struct model *m, struct mtask *t, int state, uint64_t t0, uint64_t t1,
		   uint64_t by)
{
	struct ctx *c = x;
	(void)m, (void)by;
	if (state == WEFT_TF_T_RUNNABLE) {
		if (t1 > t0 || t->state == WEFT_TF_T_RUNNABLE)
			hist_add(&c->latency, t1 - t0);
		return;
	}
	if (state == WEFT_TF_T_BLOCKED && is_net(t->reason)) {
		if (c->net_waiting > 0)
			c->net_waiting--;
		c->net_waits++;
		c->net_ns += t1 - t0;
		c->net_site_ns = tool_grow_zero(c->net_site_ns, &c->nnet_site, t->site,
						sizeof(*c->net_site_ns));
		c->net_site_ns[t->site] += t1 - t0;
	}
	if (state != WEFT_TF_T_BLOCKED || !t->obj)
		return;
	struct obj *o = obj_find(c, t->obj, t->reason, t->site, true);
	if (!o)
		return;
	o->n++;
	o->ns += (double)(t1 - t0);
	if (o->waiters > 0)
		o->waiters--;
}

static void h_gone(void *x, struct model *m, struct mtask *t, bool ended)
{
	struct ctx *c = x;
	(void)m;
	if (ended)
		hist_add(&c->texec, t->exec);
}

static void phase_close(struct ctx *c, uint64_t end)
{
	struct phase *ph = &c->cur;

	ph->end = end;
	for (size_t i = 0; i < c->nfn; i++)
		if (c->fn_ns[i] > ph->fn_ns) {
			ph->fn_ns = c->fn_ns[i];
			ph->fn = (uint32_t)i;
		}
	uint64_t len = ph->end - ph->start;
	for (int i = 0; i < 3; i++)
		if (len > c->best[i].end - c->best[i].start) {
			memmove(&c->best[i + 1], &c->best[i], (size_t)(2 - i) * sizeof(c->best[0]));
			c->best[i] = *ph;
			break;
		}
	c->in_phase = false;
	c->par_since = 0;
}

/*
 * A stretch of @blip ns with two or more Ps busy inside a serial phase of
 * @sofar ns continues the phase if it is short (absolutely, or against the
 * phase) and the forgiven stretches stay a small part of the phase.
 */
static bool forgive(const struct ctx *c, uint64_t blip, uint64_t sofar)
{
	if (blip > SERIAL_FORGIVE_NS && (double)blip > SERIAL_FORGIVE_SHARE * (double)sofar)
		return false;
	return (double)(c->cur.par + blip) <= SERIAL_FORGIVE_TOTAL * (double)(sofar + blip);
}

static void h_busy(void *x, struct model *m, int nbusy, uint64_t t0, uint64_t t1, uint64_t only)
{
	struct ctx *c = x;

	if (nbusy <= 1) {
		if (c->in_phase && c->par_since) {
			uint64_t blip = t0 - c->par_since, sofar = c->par_since - c->cur.start;
			if (!forgive(c, blip, sofar)) {
				phase_close(c, c->par_since);
			} else {
				c->cur.par += blip;
				c->par_since = 0;
			}
		}
		if (!c->in_phase) {
			memset(&c->cur, 0, sizeof(c->cur));
			if (c->nfn)
				memset(c->fn_ns, 0, c->nfn * sizeof(*c->fn_ns));
			c->cur.start = t0;
			c->in_phase = true;
			c->par_since = 0;
		}
		if (nbusy == 1) {
			c->cur.busy1 += t1 - t0;
			struct mtask *t = model_task(m, only);
			uint32_t fn = t ? t->fn : 0;
			c->fn_ns = tool_grow_zero(c->fn_ns, &c->nfn, fn, sizeof(*c->fn_ns));
			c->fn_ns[fn] += t1 - t0;
		}
	} else if (c->in_phase) {
		if (!c->par_since)
			c->par_since = t0;
		uint64_t blip = t1 - c->par_since, sofar = c->par_since - c->cur.start;
		if (!forgive(c, blip, sofar))
			phase_close(c, c->par_since);
	}
}

/* ---- collect: the pass over the trace --------------------------------------------- */

/* What the model does not keep that the report wants: waiters per object, steals, stops. */
static void on_event(struct ctx *c, struct model *m, const weft_tr_event *ev)
{
	switch (ev->type) {
	case WEFT_TEV_TASK_STATE:
		if (ev->args[1] == WEFT_TRACE_STATE_BLOCKED && is_net((int)ev->args[2]))
			net_wait_begins(c);
		break;
	case WEFT_TEV_TASK_BLOCK:
		if (is_net((int)ev->args[1])) {
			struct mtask *t = model_task(m, ev->args[0]);
			if (t && t->state == WEFT_TF_T_BLOCKED)
				net_wait_begins(c);
		}
		if (ev->args[2]) {
			struct mtask *t = model_task(m, ev->args[0]);
			struct obj *o = t && t->state == WEFT_TF_T_BLOCKED
						? obj_find(c, ev->args[2], t->reason, t->site, true)
						: NULL;
			if (o && ++o->waiters > o->max_waiters)
				o->max_waiters = o->waiters;
		}
		break;
	case WEFT_TEV_STEAL:
		c->steals++;
		c->stolen += ev->args[1];
		c->failed += ev->args[2];
		break;
	case WEFT_TEV_STW_BEGIN:
		c->in_stw = true;
		c->stw_start = ev->ts;
		break;
	case WEFT_TEV_STW_END:
		if (c->in_stw) {
			uint64_t d = ev->ts - c->stw_start;
			c->stw_n++;
			c->stw_total += d;
			if (d > c->stw_max)
				c->stw_max = d;
		}
		if (ev->args[0] > c->stw_wait_max)
			c->stw_wait_max = ev->args[0];
		c->in_stw = false;
		break;
	}
}

/* Every event through the model (and its hooks) and on_event: 0; 1 when the
 * file is damaged after some good events (they are reported); -1 when
 * nothing could be read. */
static int collect(struct ctx *c, struct tool_trace *tt, struct model *m)
{
	weft_tr_event *ev;
	int r;

	while ((r = tool_next(tt, &ev)) > 0) {
		net_account(c, m, ev->ts);
		model_event(m, ev);
		on_event(c, m, ev);
	}
	if (r < 0 && !tool_partial(tt))
		return -1;
	net_account(c, m, m->end_ts > m->now ? m->end_ts : m->now); /* model_finish's end */
	model_finish(m);
	if (c->in_phase)
		phase_close(c, c->par_since ? c->par_since : m->now);
	return r < 0 ? 1 : 0;
}

/* ---- figures -------------------------------------------------------------------------- */

/* The object most runs ended waiting on (counts, not time: see CONTEND_RUN_SHARE). */
struct top_obj {
	const struct obj *o;  /* its (reason, site) that blocked longest; NULL: no object */
	const struct obj *o2; /* the second longest, or NULL */
	double ns;            /* blocked on it in all */
	uint64_t n;           /* waits on it */
	int64_t w;            /* most tasks waiting on it at once */
};

static int cmp_obj(const void *a, const void *b)
{
	const struct obj *x = a, *y = b;
	return x->obj < y->obj ? -1 : x->obj > y->obj;
}

/*
 * Per object: all its (reason, site) entries together; the first two by
 * blocked time name it; the object with the most waits is the candidate.
 * Sorts c->objs (obj_find's index is stale after it).
 */
static struct top_obj top_object(struct ctx *c)
{
	struct top_obj top = { 0 };

	qsort(c->objs, c->nobj, sizeof(*c->objs), cmp_obj);
	for (size_t i = 0; i < c->nobj;) {
		size_t j = i;
		double ns = 0;
		uint64_t n = 0;
		int64_t w = 0;
		struct obj *b1 = NULL, *b2 = NULL;
		for (; j < c->nobj && c->objs[j].obj == c->objs[i].obj; j++) {
			struct obj *o = &c->objs[j];
			/* Waits for the outside world: no task of the program is to blame. */
			if (o->reason == WEFT_TRACE_BLOCK_SLEEP || o->reason == WEFT_TRACE_BLOCK_SYSCALL ||
			    o->reason == WEFT_TRACE_BLOCK_STW || is_net(o->reason))
				continue;
			ns += o->ns;
			n += o->n;
			if (o->max_waiters > w)
				w = o->max_waiters;
			if (!b1 || o->ns > b1->ns) {
				b2 = b1;
				b1 = o;
			} else if (!b2 || o->ns > b2->ns) {
				b2 = o;
			}
		}
		if (b1 && (n > top.n || (n == top.n && ns > top.ns))) {
			top.ns = ns;
			top.n = n;
			top.w = w;
			top.o = b1;
			top.o2 = b2;
		}
		i = j;
	}
	return top;
}

/* What the report prints and the verdicts judge, computed once after the pass. */
struct figures {
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
	struct top_obj top;
	uint32_t net_site; /* names index of the site that waited longest on the network */
	double net_site_ns;
};

static void figures(struct ctx *c, const struct model *m, const weft_tr_info *info,
		    struct figures *f)
{
	double busyw = 0;

	memset(f, 0, sizeof(*f));
	f->dur = (double)(m->now - m->first_ts);
	f->W = (double)m->work;
	f->S = (double)m->span;
	f->np = m->np;
	for (int i = 0; i < f->np; i++)
		for (int k = 0; k < PC_MAX; k++)
			f->tp[k] += (double)m->ps[i].time[k];
	for (int k = 0; k < m->busy_cap; k++) {
		busyw += (double)k * (double)m->busy_time[k];
		f->busy_t += (double)m->busy_time[k];
	}
	f->t1 = m->busy_cap > 1 ? (double)m->busy_time[1] : 0;
	f->t0b = (double)m->busy_time[0];
	f->serial = busyw > 0 ? f->t1 / busyw : 1;
	f->par = f->S > 0 ? f->W / f->S : 0;
	/* Scheduling cost per run: the time Ps spent in the scheduler while work
	 * was waiting, per run, plus the median gap between two runs. */
	double per_run = m->starts ? f->tp[PC_SCHED] / (double)m->starts : 0;
	f->cost = per_run > (double)hist_quantile(&c->gaps, 0.5) ? per_run
								  : (double)hist_quantile(&c->gaps, 0.5);
	f->med_exec = (double)hist_quantile(&c->texec, 0.5);
	f->tick_ns = info->ticks_per_sec ? 1e9 / (double)info->ticks_per_sec : 1;
	f->top = top_object(c);
	for (size_t i = 0; i < c->nnet_site; i++)
		if ((double)c->net_site_ns[i] > f->net_site_ns) {
			f->net_site_ns = (double)c->net_site_ns[i];
			f->net_site = (uint32_t)i;
		}
}

/* ---- verdicts: one function each, on a struct of its inputs ---------------------------- */

struct verdict {
	const char *kind;
	char text[1024];
};

#define MAX_VERDICTS 8

/* Tasks too small for what scheduling one costs. */
struct fine_grain_in {
	uint64_t tasks;          /* tasks that ended */
	double med_exec;         /* their median execution (ns) */
	double cost;             /* scheduling cost per run (ns) */
	double tick_ns;          /* the trace clock's tick */
	double run_ns, sched_ns; /* all Ps' time running tasks, in the scheduler */
};

static bool fine_grain(const struct fine_grain_in *in, struct verdict *v)
{
	char a[32], b[32], e[32], costs[256];

	if (!(in->tasks >= FINE_MIN_TASKS &&
	      (in->med_exec < FINE_RATIO * in->cost || in->med_exec < FINE_ABS_NS)))
		return false;
	/* A task switch reads the clock once (the next START shares the tick
	 * of the END/BLOCK/YIELD before it), so the cost of a direct switch
	 * is in the runs, and below a tick the trace cannot show it. */
	if (in->cost >= in->tick_ns)
		snprintf(costs, sizeof(costs), "scheduling one costs about %s (time in the "
			 "scheduler per run, or the median gap between two runs)",
			 fmt_dur(b, in->cost));
	else
		snprintf(costs, sizeof(costs), "the switches between them are too quick for "
			 "the trace to see (less than its %s tick), so that below %s a task's "
			 "own work is too small to pay for being a task",
			 fmt_dur(b, in->tick_ns), fmt_dur(e, FINE_ABS_NS));
	v->kind = "fine_grain";
	snprintf(v->text, sizeof(v->text),
		 "tasks too fine-grained: %" PRIu64 " tasks ran a median of %s each, while "
		 "%s; the Ps spent %.0f%% of their busy time in the "
		 "scheduler. Give each task more work (a row, not a pixel) or use a few "
		 "workers over a buffered channel.",
		 in->tasks, fmt_dur(a, in->med_exec), costs,
		 in->run_ns + in->sched_ns > 0 ? 100.0 * in->sched_ns / (in->run_ns + in->sched_ns)
					       : 0.0);
	return true;
}

/* What a contended object is, by the reason its waiters blocked for, and what to do. */
struct contend_words {
	const char *noun, *advice;
};

static struct contend_words contend_words(int reason)
{
	static const char waiters_advice[] =
		"Many tasks wait on it at once: give each task more work between waits, or fewer "
		"tasks.";

	switch (reason) {
	case WEFT_TRACE_BLOCK_CHAN_SEND:
	case WEFT_TRACE_BLOCK_CHAN_RECV:
	case WEFT_TRACE_BLOCK_SELECT:
		return (struct contend_words){ "channel",
					       "The tasks hand items over one at a time: give each "
					       "item more work, use a buffered channel, or fewer "
					       "tasks on it." };
	case WEFT_TRACE_BLOCK_MUTEX:
		return (struct contend_words){ "mutex",
					       "The tasks take turns on one lock: hold it for less "
					       "time, or split what it guards so that they need "
					       "different locks." };
	case WEFT_TRACE_BLOCK_WG:
		return (struct contend_words){ "wait group", waiters_advice };
	case WEFT_TRACE_BLOCK_SEMA:
		return (struct contend_words){ "semaphore", waiters_advice };
	default:
		return (struct contend_words){ "object", waiters_advice };
	}
}

/* One object that a large share of all runs ended waiting on, several tasks at once. */
struct contention_in {
	struct top_obj top;
	const char *site, *site2; /* the call sites of top.o and top.o2 */
	uint64_t runs;            /* all runs */
	double dur;
};

static bool contention(const struct contention_in *in, struct verdict *v)
{
	const struct top_obj *top = &in->top;
	char a[32], b[32], d[32], e[32], other[300] = "";

	if (!(top->o && top->w >= 2 && top->n >= CONTEND_MIN_WAITS && in->dur > 0 && in->runs &&
	      (double)top->n >= CONTEND_RUN_SHARE * (double)in->runs &&
	      top->ns >= CONTEND_MIN_WAITING * (double)in->dur))
		return false;
	if (top->o2)
		snprintf(other, sizeof(other), " and in %s at %s",
			 weft_tr_block_name(top->o2->reason), in->site2);
	v->kind = "contention";
	struct contend_words words = contend_words(top->o->reason);
	snprintf(v->text, sizeof(v->text),
		 "time lost blocked on one %s: up to %" PRId64 " tasks at once waited in %s at %s%s "
		 "(object %#" PRIx64 "): %" PRIu64 " waits, %.0f%% of all %" PRIu64 " runs ended "
		 "waiting on it (one wait every %s), %s blocked in all (%s each on average, "
		 "%.1f tasks waiting on average through the %s run). %s",
		 words.noun, top->w,
		 weft_tr_block_name(top->o->reason), in->site, other,
		 top->o->obj, top->n, 100.0 * (double)top->n / (double)in->runs, in->runs,
		 fmt_dur(e, in->dur / (double)top->n), fmt_dur(a, top->ns),
		 fmt_dur(b, top->ns / (double)top->n), top->ns / in->dur, fmt_dur(d, in->dur),
		 words.advice);
	return true;
}

/* A long stretch with at most one P busy. */
struct serial_phase_in {
	struct phase ph;  /* the longest serial phase */
	const char *fn;   /* the entry function that ran most in it */
	int np;
	double dur;
	double serial;    /* the serial fraction of the whole run */
};

static bool serial_phase(const struct serial_phase_in *in, struct verdict *v)
{
	const struct phase *ph = &in->ph;
	double ph_len = (double)(ph->end - ph->start);
	char a[32];

	if (!(in->np >= 2 && in->dur > 0 && ph_len >= SERIAL_SHARE * in->dur &&
	      ph->busy1 * 2 >= ph->end - ph->start))
		return false;
	v->kind = "serial_phase";
	snprintf(v->text, sizeof(v->text),
		 "serial phase: from %.3f ms to %.3f ms (%s, %.0f%% of the run) at most one P "
		 "was busy, mostly running %s (%.0f%% of the phase); the other "
		 "%s had nothing to run. By Amdahl's law this caps the speedup at %.1fx whatever "
		 "the number of cores: make that part parallel or overlap it with the rest.",
		 (double)ph->start / 1e6, (double)ph->end / 1e6, fmt_dur(a, ph_len),
		 100.0 * ph_len / in->dur, in->fn,
		 ph_len > 0 ? 100.0 * (double)ph->fn_ns / ph_len : 0.0, in->np > 2 ? "Ps" : "P",
		 in->serial > 0 ? 1.0 / in->serial : 0.0);
	return true;
}

/* The span is most of the time some P was busy: a chain more cores cannot shorten. */
struct critical_path_in {
	int np;
	double dur;
	double active;     /* time some P had a task: a stretch where none had one (all
			    * asleep, or the OS ran something else) is no work to parallelise */
	double S, par;     /* span, work / span */
	uint32_t hops;     /* edges on the span's chain */
	uint64_t task;     /* the task it ends in */
	const char *fn;    /* its entry function */
	double waiting_ns; /* all Ps' time idle, searching or in the scheduler */
};

static bool critical_path(const struct critical_path_in *in, struct verdict *v)
{
	char a[32], b[32];

	if (!(in->np >= 2 && in->active > 0 &&
	      (in->S >= CRIT_SPAN_ALONE * in->active ||
	       (in->S >= CRIT_SPAN_SHARE * in->active && in->par < CRIT_PARALLELISM))))
		return false;
	v->kind = "critical_path";
	snprintf(v->text, sizeof(v->text),
		 "critical path: a chain of %" PRIu32 " hand-offs (creates and unblocks) ending in "
		 "task %" PRIu64 " (%s) holds %s of work, %.0f%% of the time any P was busy "
		 "(%.0f%% of the %s run; work/span %.2f): more cores cannot make the run shorter than that chain; the Ps were "
		 "idle or looking for work %.0f%% of their time. Break the chain: let "
		 "independent steps start without waiting for the previous one.",
		 in->hops, in->task, in->fn, fmt_dur(a, in->S),
		 100.0 * in->S / in->active, 100.0 * in->S / in->dur, fmt_dur(b, in->dur), in->par,
		 in->np > 1 ? 100.0 * in->waiting_ns / (in->dur * in->np) : 0);
	return true;
}

/* Long stop-the-world pauses, or many. */
struct stop_the_world_in {
	uint64_t pauses, total_ns, max_ns;
	uint64_t max_wait_ns; /* the longest wait for the Ps to stop */
	double dur;
};

static bool stop_the_world(const struct stop_the_world_in *in, struct verdict *v)
{
	char a[32], b[32], d[32];

	if (!(in->pauses && (in->max_ns >= STW_LONG_NS || (double)in->total_ns >= STW_SHARE * in->dur)))
		return false;
	v->kind = "stop_the_world";
	snprintf(v->text, sizeof(v->text),
		 "long stop-the-world: %" PRIu64 " pauses, %s in all (%.1f%% of the run), the "
		 "longest %s; stopping the Ps took up to %s (a task that computes without a "
		 "scheduling point delays it: call weft_safepoint() in long loops).",
		 in->pauses, fmt_dur(a, (double)in->total_ns), 100.0 * (double)in->total_ns / in->dur,
		 fmt_dur(b, (double)in->max_ns), fmt_dur(d, (double)in->max_wait_ns));
	return true;
}

/* No P busy for much of the run while tasks waited on the network. */
struct network_wait_in {
	double idle_ns;       /* no P busy while some task waited in net read/write */
	double dur;
	uint64_t waits;       /* network waits */
	double ns;            /* their time in all */
	int64_t max_waiting;  /* tasks waiting at once, at most */
	const char *site;     /* the call site that waited longest */
	double site_ns;
};

static bool network_wait(const struct network_wait_in *in, struct verdict *v)
{
	char a[32], b[32], d[32];

	if (!(in->dur > 0 && in->waits && in->idle_ns >= NET_IDLE_SHARE * in->dur))
		return false;
	v->kind = "network_wait";
	snprintf(v->text, sizeof(v->text),
		 "waiting for the network: for %s (%.0f%% of the run) no P had a task to run "
		 "while tasks waited in net read or net write (%" PRIu64 " waits, up to %" PRId64
		 " at once, %s in all; longest at %s, %s). The program waits for its peers, not "
		 "for the scheduler or the cores: more cores will not make it faster. If the peers "
		 "could send more, serve more connections at once.",
		 fmt_dur(a, in->idle_ns), 100.0 * in->idle_ns / in->dur, in->waits,
		 in->max_waiting, fmt_dur(b, in->ns), in->site, fmt_dur(d, in->site_ns));
	return true;
}

/* Every verdict, each on its inputs, in the order they are printed; the number that hold. */
static int judge(const struct ctx *c, struct model *m, const struct figures *f,
		 struct verdict v[MAX_VERDICTS])
{
	const struct top_obj *top = &f->top;
	int nv = 0;

	struct fine_grain_in fine = {
		.tasks = c->texec.n, .med_exec = f->med_exec, .cost = f->cost,
		.tick_ns = f->tick_ns, .run_ns = f->tp[PC_RUN], .sched_ns = f->tp[PC_SCHED],
	};
	if (fine_grain(&fine, &v[nv]))
		nv++;

	struct contention_in contend = {
		.top = *top,
		.site = top->o ? names_get(&m->sites, top->o->site) : NULL,
		.site2 = top->o2 ? names_get(&m->sites, top->o2->site) : NULL,
		.runs = m->starts, .dur = f->dur,
	};
	if (contention(&contend, &v[nv]))
		nv++;

	struct serial_phase_in serial = {
		.ph = c->best[0], .fn = names_get(&m->fns, c->best[0].fn), .np = f->np,
		.dur = f->dur, .serial = f->serial,
	};
	if (serial_phase(&serial, &v[nv]))
		nv++;

	struct critical_path_in crit = {
		.np = f->np, .dur = f->dur, .active = f->dur - f->t0b, .S = f->S, .par = f->par,
		.hops = m->span_hops, .task = m->span_task, .fn = names_get(&m->fns, m->span_fn),
		.waiting_ns = f->tp[PC_IDLE] + f->tp[PC_SEARCH] + f->tp[PC_SCHED],
	};
	if (critical_path(&crit, &v[nv]))
		nv++;

	struct stop_the_world_in stw = {
		.pauses = c->stw_n, .total_ns = c->stw_total, .max_ns = c->stw_max,
		.max_wait_ns = c->stw_wait_max, .dur = f->dur,
	};
	if (stop_the_world(&stw, &v[nv]))
		nv++;

	struct network_wait_in net = {
		.idle_ns = (double)c->net_idle, .dur = f->dur, .waits = c->net_waits,
		.ns = (double)c->net_ns, .max_waiting = c->net_max_waiting,
		.site = names_get(&m->sites, f->net_site), .site_ns = f->net_site_ns,
	};
	if (network_wait(&net, &v[nv]))
		nv++;
	return nv;
}

/* ---- print ------------------------------------------------------------------------------ */

static const int cores[] = { 4, 8, 16, 64 };

static void hist_json(const char *name, const struct hist *h, bool comma)
{
	printf("%s\"%s\":{\"n\":%" PRIu64 ",\"mean\":%.0f,\"p50\":%" PRIu64 ",\"p90\":%" PRIu64
	       ",\"p99\":%" PRIu64 ",\"max\":%" PRIu64 "}",
	       comma ? "," : "", name, h->n, hist_mean(h), hist_quantile(h, 0.5), hist_quantile(h, 0.9),
	       hist_quantile(h, 0.99), h->max);
}

static void hist_text(const char *name, const struct hist *h)
{
	char a[32], b[32], d[32], e[32], f[32];

	if (!h->n) {
		printf("  %-22s none\n", name);
		return;
	}
	printf("  %-22s median %-9s p90 %-9s p99 %-9s max %-9s (%s)\n", name,
	       fmt_dur(a, (double)hist_quantile(h, 0.5)), fmt_dur(b, (double)hist_quantile(h, 0.9)),
	       fmt_dur(d, (double)hist_quantile(h, 0.99)), fmt_dur(e, (double)h->max),
	       fmt_count(f, (double)h->n));
}

static void print_json(const struct ctx *c, struct model *m, const struct figures *f,
		       const struct verdict *v, int nv)
{
	const struct top_obj *top = &f->top;
	double dur = f->dur, W = f->W, S = f->S, par = f->par, serial = f->serial;
	double busy_t = f->busy_t, t1 = f->t1, t0b = f->t0b;
	int np = f->np;

	printf("\"duration_ns\":%.0f,\"ps\":%d,\"tasks\":%" PRIu64 ",\"runs\":%" PRIu64
	       ",\"per_p\":[",
	       dur, np, m->tasks_created, m->starts);
	for (int i = 0; i < np; i++) {
		printf("%s{\"p\":%d", i ? "," : "", i);
		for (int k = 0; k < PC_MAX; k++)
			printf(",\"%s_ns\":%" PRIu64, pcat_name[k], m->ps[i].time[k]);
		printf("}");
	}
	printf("]");
	hist_json("run_ns", &c->runs, true);
	hist_json("gap_ns", &c->gaps, true);
	hist_json("latency_ns", &c->latency, true);
	hist_json("task_exec_ns", &c->texec, true);
	printf(",\"sched_cost_ns\":%.0f,\"steals\":%" PRIu64 ",\"tasks_stolen\":%" PRIu64
	       ",\"steal_failed_probes\":%" PRIu64,
	       f->cost, c->steals, c->stolen, c->failed);
	printf(",\"work_ns\":%.0f,\"span_ns\":%.0f,\"parallelism\":%.3f,\"span_hops\":%" PRIu32
	       ",\"span_task\":%" PRIu64 ",\"serial_fraction\":%.4f,\"one_busy_share\":%.4f,"
	       "\"none_busy_share\":%.4f,\"busy_ns\":[",
	       W, S, par, m->span_hops, m->span_task, serial, busy_t > 0 ? t1 / busy_t : 0,
	       busy_t > 0 ? t0b / busy_t : 0);
	for (int k = 0; k < m->busy_cap; k++)
		printf("%s%" PRIu64, k ? "," : "", m->busy_time[k]);
	printf("],\"speedup\":[");
	for (int i = 0; i < 4; i++) {
		double n = cores[i];
		printf("%s{\"cores\":%d,\"amdahl\":%.3f,\"work_span_bound\":%.3f,\"brent\":%.3f}",
		       i ? "," : "", cores[i], 1.0 / (serial + (1 - serial) / n),
		       par < n ? par : n, S > 0 ? W / (W / n + S) : 0.0);
	}
	printf("],\"serial_phases\":[");
	for (int i = 0; i < 3 && c->best[i].end > c->best[i].start; i++) {
		printf("%s{\"start_ns\":%" PRIu64 ",\"end_ns\":%" PRIu64 ",\"one_busy_ns\":%" PRIu64
		       ",\"fn\":",
		       i ? "," : "", c->best[i].start, c->best[i].end, c->best[i].busy1);
		json_str(stdout, names_get(&m->fns, c->best[i].fn));
		printf(",\"fn_ns\":%" PRIu64 "}", c->best[i].fn_ns);
	}
	printf("],\"stw\":{\"pauses\":%" PRIu64 ",\"total_ns\":%" PRIu64 ",\"max_ns\":%" PRIu64
	       ",\"max_wait_ns\":%" PRIu64 "}",
	       c->stw_n, c->stw_total, c->stw_max, c->stw_wait_max);
	printf(",\"net\":{\"waits\":%" PRIu64 ",\"blocked_ns\":%" PRIu64 ",\"max_waiting\":%" PRId64
	       ",\"idle_waiting_ns\":%" PRIu64 ",\"top_site\":",
	       c->net_waits, c->net_ns, c->net_max_waiting, c->net_idle);
	if (c->net_waits)
		json_str(stdout, names_get(&m->sites, f->net_site));
	else
		printf("null");
	printf(",\"top_site_ns\":%.0f}", f->net_site_ns);
	printf(",\"top_block\":");
	if (top->o) {
		printf("{\"reason\":\"%s\",\"site\":", weft_tr_block_name(top->o->reason));
		json_str(stdout, names_get(&m->sites, top->o->site));
		printf(",\"obj\":%" PRIu64 ",\"ns\":%.0f,\"waits\":%" PRIu64
		       ",\"max_waiters\":%" PRId64 "}",
		       top->o->obj, top->ns, top->n, top->w);
	} else {
		printf("null");
	}
	printf(",\"verdicts\":[");
	for (int i = 0; i < nv; i++) {
		printf("%s{\"kind\":\"%s\",\"text\":", i ? "," : "", v[i].kind);
		json_str(stdout, v[i].text);
		printf("}");
	}
	printf("]}\n");
}

static void print_text(const char *file, const struct ctx *c, const struct model *m,
		       const struct figures *f, const struct verdict *v, int nv)
{
	double dur = f->dur, W = f->W, S = f->S, par = f->par, serial = f->serial;
	double busy_t = f->busy_t, t1 = f->t1, t0b = f->t0b;
	int np = f->np;
	char a[32], b[32];

	printf("%s: %s, %d Ps, %" PRIu64 " tasks, %" PRIu64 " runs\n\n", file,
	       fmt_dur(a, dur), np, m->tasks_created, m->starts);
	printf("per P          running  sched  search   idle    stw  syscall   (sched: "
	       "between two tasks while work waited)\n");
	for (int i = 0; i < np; i++) {
		double q = dur > 0 ? dur / 100.0 : 1;
		const struct mp *p = &m->ps[i];
		printf("  P%-10d %6.1f%% %5.1f%% %6.1f%% %5.1f%% %5.1f%% %7.1f%%\n", i,
		       (double)p->time[PC_RUN] / q, (double)p->time[PC_SCHED] / q,
		       (double)p->time[PC_SEARCH] / q, (double)p->time[PC_IDLE] / q,
		       (double)p->time[PC_STW] / q, (double)p->time[PC_SYSCALL] / q);
	}
	printf("\n");
	hist_text("task run lengths", &c->runs);
	hist_text("gaps between runs", &c->gaps);
	hist_text("scheduling latency", &c->latency);
	hist_text("execution per task", &c->texec);
	printf("  %-22s %" PRIu64 " (%" PRIu64 " tasks), %" PRIu64 " failed probes\n", "steals",
	       c->steals, c->stolen, c->failed);
	if (c->net_waits)
		printf("  %-22s %" PRIu64 " (net read, net write), %s in all, up to %" PRId64
		       " at once; no P busy meanwhile %s (%.1f%% of the run)\n",
		       "network waits", c->net_waits, fmt_dur(a, (double)c->net_ns),
		       c->net_max_waiting, fmt_dur(b, (double)c->net_idle),
		       dur > 0 ? 100.0 * (double)c->net_idle / dur : 0.0);
	printf("\nparallelism\n");
	printf("  work %s (all task run time), span %s (longest chain through creates and "
	       "unblocks, %" PRIu32 " hand-offs)\n",
	       fmt_dur(a, W), fmt_dur(b, S), m->span_hops);
	printf("  work/span %.2f; exactly one P busy %.1f%% of the time, none %.1f%%; serial "
	       "fraction of the work %.1f%%\n",
	       par, busy_t > 0 ? 100.0 * t1 / busy_t : 0, busy_t > 0 ? 100.0 * t0b / busy_t : 0,
	       100.0 * serial);
	printf("  predicted speedup over one core:   ");
	for (int i = 0; i < 4; i++)
		printf("%6d", cores[i]);
	printf(" cores\n    Amdahl (measured serial part)    ");
	for (int i = 0; i < 4; i++)
		printf("%6.1f", 1.0 / (serial + (1 - serial) / cores[i]));
	printf("\n    work/span bound                  ");
	for (int i = 0; i < 4; i++)
		printf("%6.1f", par < cores[i] ? par : cores[i]);
	printf("\n    Brent (greedy scheduler)         ");
	for (int i = 0; i < 4; i++)
		printf("%6.1f", S > 0 ? W / (W / cores[i] + S) : 0.0);
	printf("\n\nverdict\n");
	if (!nv)
		printf("  nothing stands out: no fine grain, no contended object, no long serial "
		       "phase, no dominant critical path, no long stop-the-world, no long wait "
		       "for the network.\n");
	for (int i = 0; i < nv; i++)
		printf("  - %s\n", v[i].text);
}

/* ---- the command ------------------------------------------------------------------------ */

static int run(int argc, char **argv)
{
	struct ctx c = { 0 };
	struct tool_trace tt;
	struct model m;
	struct figures f;
	struct verdict v[MAX_VERDICTS];
	const char *file;
	bool json;
	int r, nv;

	if ((r = tool_getopt(&cmd_gaps, argc, argv, NULL, NULL, NULL, &file, &json)) != 0)
		return r;
	if (tool_open(&tt, "gaps", file) < 0)
		return TOOL_EXIT_BAD;
	c.objs = tool_calloc(MAX_OBJS, sizeof(*c.objs));
	u64map_init(&c.oidx, sizeof(uint32_t), U64MAP_MIXED);
	hist_init(&c.runs);
	hist_init(&c.gaps);
	hist_init(&c.latency);
	hist_init(&c.texec);
	c.m = &m;
	struct model_hooks h = { .ctx = &c, .run = h_run, .gap = h_gap, .wait = h_wait,
				 .task_gone = h_gone, .busy = h_busy };
	model_init(&m, tt.t, &h);
	r = collect(&c, &tt, &m);
	if (r >= 0) {
		figures(&c, &m, &tt.info, &f);
		nv = judge(&c, &m, &f, v);
		if (json) {
			tool_json_open(&tt);
			print_json(&c, &m, &f, v, nv);
		} else {
			tool_partial_text(&tt);
			print_text(file, &c, &m, &f, v, nv);
		}
	}
	free(c.objs);
	u64map_free(&c.oidx);
	free(c.fn_ns);
	free(c.net_site_ns);
	model_free(&m);
	tool_close(&tt);
	return r != 0 ? TOOL_EXIT_BAD : 0;
}

const struct tool_cmd cmd_gaps = { "gaps", "scheduler gaps, parallelism, verdicts in words", help,
				   run };

/*
 * gaps.c - the scheduler-overhead and parallelism analysis, with a
 * verdict in plain words: what `weft-trace gaps` prints (cmd_gaps.c parses
 * its arguments and prints) and what `weft-trace view` lists beside the
 * timeline (each verdict with its subject: what it speaks of).
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
 *              Brent's greedy-scheduler estimate W / (W/n + S); and
 *              the burdened span (Cilkscale's idea, with measured costs):
 *              the critical path with each of its hand-offs costed as
 *              this trace measured it - the wait from the edge (create,
 *              unblock) to the task's start, cut to the gap its P had
 *              before that start when the P was busy until then (the P
 *              was running another task, which is no cost of the hand-
 *              off). Cilkscale adds a guessed 15000 cycles per spawn;
 *              here each edge on the path carries its own measured
 *              cost. Without the path's edges (too long to record), each
 *              hop is costed at the median hand-off of the trace.
 *   culprits   per task: its run time, the time it was blocked, the waits
 *              of other tasks it ended (TASK_UNBLOCK by it) and the Ps
 *              idle while it ran (an integral of busy Ps, kept from the
 *              model's busy hook and noted at each run's start); the 16
 *              longest-running tasks are kept. The critical path's
 *              edges tell what it is made of: per entry function its run
 *              time on the path and its tasks, the task holding most of
 *              it, the (reason, site) pairs where it waited most.
 *
 * Verdicts, each only when its numbers say so (the thresholds are named
 * constants below, chosen so that the shapes of tests/progs/tshape.c are
 * told apart with a wide margin), in the order they are printed:
 *   at limit           the Ps ran tasks 90% of the time or more, and
 *                      neither fine grain nor contention holds (then the
 *                      runs are mostly scheduling or hand-offs, and busy
 *                      Ps are no sign of the limit): said first, since
 *                      nothing else can shorten the run on this many cores
 *                      (with the work/span range for more);
 *   bottleneck         one task ran half the active time or more, while
 *                      half a P or more idled on average, ended 100 waits
 *                      of other tasks and a quarter of all, was blocked a
 *                      quarter of its life at most, and (when the path is
 *                      known) is half the critical path: the one task
 *                      everything waits on (seed 004's bus), named. It says
 *                      the serial phase, the critical path, and contention
 *                      on an object whose waits it ended, so those are not
 *                      said again;
 *   capped             two or more long tasks (within half the longest's
 *                      run time) did 80% of the work, the longest ran a
 *                      quarter of the run, and work / the longest
 *                      task is below 16: no more cores than tasks help
 *                      (the buffered Mandelbrot's workers), said with the
 *                      speedup bound at 4, 8 and 16 cores instead of the
 *                      critical path's "break the chain";
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
 *   critical path      (with what it is made of, when its edges were
 *                      recorded) the span is nearly all the time some P was busy, or
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
 * Structure, in the order they run: collect (the model's hooks
 * and on_event, one streaming pass), figures (struct gaps_figures: every
 * number the report prints, computed once), judge (one function per
 * verdict, each on a struct of its own inputs: a verdict reads nothing
 * else, so adding one is a struct, a function and a call in judge()),
 * subjects (what each verdict that holds speaks of, for the viewer to
 * highlight: the contended object's (reason, site) pairs, the serial
 * phase's range, the critical path's stretches (below), the pauses, the network
 * sites, the fine-grained entry function). Printing is cmd_gaps.c's.
 *
 * The block profile (on request: the viewer's table), as `go tool pprof`'s:
 * per (reason, call site) the ended waits, their time and the longest,
 * from the model's wait hook; a hash map by reason << 32 | site, a few
 * hundred entries in practice (sites are code addresses).
 *
 * Memory: the model (live tasks), one histogram per distribution, a
 * bounded table of block objects (the least blocked are dropped when it
 * fills), the three longest serial phases, per entry function two counts,
 * and the stop-the-world pauses (two words each); a tally per live task
 * (72 bytes) and the 16 longest-running tasks; the critical path's edges
 * (below: `gaps` and the viewer ask for them); for the viewer, the block
 * profile; for --mmu, the stretches of mmu.c.
 *
 * The chain (want_chain: what the critical path is made of, and the
 * viewer's highlight). Each edge the model
 * takes is a node: a create (the child's span is the parent's now), an
 * unblock whose waker's chain was the longer (the woken task one hop
 * further), or a rendezvous's backward edge (the waker one hop further,
 * from now). Which one the model took is told from what it leaves (equal
 * spans, hops one apart) in the task_new and wait hooks, without a change
 * to model.c. A node keeps the chain's length at the edge (so each task's
 * stretch knows its run time on the path), the source's entry function
 * (the source may be gone at the end), where the chain waited (the blocked
 * task's reason and site; a create waits nowhere) and the hand-off's cost
 * (set when the task starts: h_wait's runnable wait, cut in h_gap of the
 * same event). A task's current node is in its mtask.aux; a node refers to
 * the source's node at the time; the longest chain's node is pinned when
 * the model notes it (the run and task_gone hooks follow note_span). Nodes
 * are reference-counted and reused, so they follow the live chains, and at
 * GAPS_CHAIN_MAX_NODES the recording stops (the viewer then approximates).
 *
 * Threads: none of its own. Everything is in one struct gaps, so two
 * passes may run at once on two threads (the viewer runs one beside its
 * index build); nothing here is static but constants.
 *
 * Rejected (culprits): the bottleneck from the critical path alone (the
 * path ends where the run ends, in main_task, and a chain of hand-offs
 * through many tasks holds no single culprit); from run time alone (seq
 * and a serial phase run one task alone too, but nobody waits on it: the
 * wake-ups tell them apart); per-task records of every task (millions in
 * px: only live tasks are tallied, and the 16 longest kept).
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
 * be tested or changed on its own); a hook in model.c saying which edge
 * it took (every command shares the model, and the spans and hops it
 * leaves already tell the edge apart).
 */
#include "config.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gaps.h"
#include "tool.h"

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
#define LIMIT_RUN_SHARE 0.90   /* of all P time running tasks: within 10% of the Ps' limit */
#define BOTTLE_RUN_SHARE 0.5   /* one task ran this share of the time the Ps were active */
#define BOTTLE_IDLE_PS 0.5     /* ... while on average this many Ps had no task */
#define BOTTLE_MIN_WAKES 100   /* ... it ended this many waits of other tasks */
#define BOTTLE_WAKE_SHARE 0.25 /* ... this share of all waits a task ended */
#define BOTTLE_BLOCKED 0.25    /* ... and was blocked at most this share of its life */
#define BOTTLE_CHAIN_SHARE 0.5 /* ... and holds this share of the critical path (if known) */
#define CAP_LONG 0.5           /* a long task: at least this share of the longest one's run time */
#define CAP_WORK_SHARE 0.8     /* the long tasks did this share of all the work */
#define CAP_MAX 16.0           /* the cap (work / the longest task) bites below 16 cores */
#define CAP_RUN 0.25           /* the longest task ran this share of the run (a program
				* that mostly waits for its peers is not capped by its tasks) */
#define MAX_OBJS 4096

static void h_new(void *x, struct model *m, struct mtask *t, uint64_t parent, bool created);
static void chain_wait(struct gaps *g, struct model *m, struct mtask *t, uint64_t blocked_at,
		       uint64_t by_id);
static void chain_note(struct gaps *g, struct model *m, struct mtask *t);
static void node_set(struct gaps *g, struct mtask *t, uint32_t k);

/* ---- the block profile and the pauses ------------------------------------------------- */

static void block_add(struct gaps *g, int reason, uint32_t site, uint64_t ns)
{
	uint64_t key = UINT64_C(1) << 63 | (uint64_t)(uint8_t)reason << 32 | site; /* never 0 */
	uint32_t *k = u64map_insert(&g->bidx, key, NULL);
	struct gaps_block *b;

	if (!*k) {
		if (g->nblocks == g->capblocks) {
			g->capblocks = g->capblocks ? 2 * g->capblocks : 64;
			g->blocks = tool_realloc(g->blocks, g->capblocks, sizeof(*g->blocks));
		}
		b = &g->blocks[g->nblocks++];
		memset(b, 0, sizeof(*b));
		b->reason = (uint8_t)reason;
		b->site = site;
		*k = (uint32_t)g->nblocks;
	}
	b = &g->blocks[*k - 1];
	b->waits++;
	b->ns += ns;
	if (ns > b->max_ns)
		b->max_ns = ns;
}

static void pause_add(struct gaps *g, uint64_t t0, uint64_t t1)
{
	if (g->npauses == g->cappauses) {
		g->cappauses = g->cappauses ? 2 * g->cappauses : 16;
		g->pauses = tool_realloc(g->pauses, g->cappauses, sizeof(*g->pauses));
	}
	g->pauses[g->npauses][0] = t0;
	g->pauses[g->npauses][1] = t1;
	g->npauses++;
}



static bool is_net(int reason)
{
	return reason == WEFT_TRACE_BLOCK_NET_READ || reason == WEFT_TRACE_BLOCK_NET_WRITE;
}

/* Before an event at @now: the time since the last one, with the model's
 * state then (busy Ps) and the tasks then in a network wait. */
static void net_account(struct gaps_ctx *c, const struct model *m, uint64_t now)
{
	if (now <= c->net_last)
		return;
	if (c->net_last && c->net_waiting > 0 && m->nbusy == 0)
		c->net_idle += now - c->net_last;
	c->net_last = now;
}

static void net_wait_begins(struct gaps_ctx *c)
{
	if (++c->net_waiting > c->net_max_waiting)
		c->net_max_waiting = c->net_waiting;
}

/* ---- per task: the culprit verdicts' tallies ------------------------------------------ */

/* The integral of busy Ps up to now (the model's open segment included). */
static double busy_now(const struct gaps_ctx *c, const struct model *m)
{
	double b = c->busy_int;

	if (m->nbusy > 0 && m->now > m->busy_since)
		b += (double)m->nbusy * (double)(m->now - m->busy_since);
	return b;
}

/* @id's tally, made if it has none (a pointer good until the next tacc call). */
static struct gaps_task *tacc(struct gaps_ctx *c, uint64_t id, uint32_t fn)
{
	bool added;
	struct gaps_task *a = u64map_insert(&c->tacc, id, &added);

	if (added) {
		a->id = id;
		a->fn = fn;
		a->first = c->m->now - c->m->first_ts;
	}
	return a;
}

/* Keep @t among the GAPS_TOP_TASKS longest-running. */
static void top_add(struct gaps_ctx *c, const struct gaps_task *t)
{
	int i = c->ntop < GAPS_TOP_TASKS ? c->ntop : GAPS_TOP_TASKS - 1;

	if (c->ntop == GAPS_TOP_TASKS && t->exec <= c->top[i].exec)
		return;
	while (i > 0 && c->top[i - 1].exec < t->exec) {
		c->top[i] = c->top[i - 1];
		i--;
	}
	c->top[i] = *t;
	if (c->ntop < GAPS_TOP_TASKS)
		c->ntop++;
}

/* A task may have started running on @ev's P: note the busy integral then. */
static void run_mark(struct gaps_ctx *c, struct model *m, const weft_tr_event *ev)
{
	struct mtask *t;
	int p = ev->p;

	if (p < 0 || p >= m->np || !m->ps[p].cur || !(t = model_task(m, m->ps[p].cur)) ||
	    t->state != WEFT_TF_T_RUNNING || t->since != m->now)
		return;
	if ((size_t)p >= c->np_run) {
		size_t n = c->np_run;
		c->p_t0 = tool_grow_zero(c->p_t0, &n, (size_t)p, sizeof(*c->p_t0));
		c->p_b0 = tool_grow_zero(c->p_b0, &c->np_run, (size_t)p, sizeof(*c->p_b0));
	}
	c->p_t0[p] = m->now;
	c->p_b0[p] = busy_now(c, m);
}

/* ---- hooks ---------------------------------------------------------------------- */

static void h_run(void *x, struct model *m, struct mtask *t, int p, uint64_t t0, uint64_t t1,
		  int why)
{
	struct gaps_ctx *c = x;
	double len = (double)(t1 - t0), idle;

	if (why != WHY_TRACE_END)
		hist_add(&c->runs, t1 - t0);
	if (c->g->want_chain)
		chain_note(c->g, m, t);
	/* Ps with no task during the run: all of them less the busy ones (its own among them). */
	if (p >= 0 && (size_t)p < c->np_run && c->p_t0[p] == t0)
		idle = (double)m->np * len - (busy_now(c, m) - c->p_b0[p]);
	else
		idle = (double)(m->np - (m->nbusy > 0 ? m->nbusy : 1)) * len;
	struct gaps_task *a = tacc(c, t->id, t->fn);
	if (!a->t0 && !a->t1)
		a->t0 = t0 - m->first_ts;
	a->t1 = t1 - m->first_ts;
	a->idle += idle > 0 ? idle : 0;
}

static void h_gap(void *x, struct model *m, int p, uint64_t t0, uint64_t t1)
{
	struct gaps_ctx *c = x;
	(void)p;
	hist_add(&c->gaps, t1 - t0);
	if (c->pend && c->pend_ts == m->now) {
		if (t1 - t0 < c->pend_lat)
			c->pend_lat = t1 - t0;
		if (c->pend_node && c->g->want_chain && c->g->nodes[c->pend_node - 1].cost > t1 - t0)
			c->g->nodes[c->pend_node - 1].cost = t1 - t0;
	}
}

/* Put objs[@i] at the head of its object's chain. */
static void obj_link(struct gaps_ctx *c, size_t i)
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
static struct gaps_obj *obj_find(struct gaps_ctx *c, uint64_t obj, int reason, uint32_t site, bool add)
{
	uint32_t *head = u64map_find(&c->oidx, obj);

	if (!obj)
		return NULL; /* no object: nothing to tally */
	for (uint32_t k = head ? *head : 0; k; k = c->objs[k - 1].next) {
		struct gaps_obj *o = &c->objs[k - 1];
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
	struct gaps_obj *o = &c->objs[c->nobj++];
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
	struct gaps_ctx *c = x;

	if (c->g->want_chain && by && state == WEFT_TF_T_BLOCKED)
		chain_wait(c->g, m, t, t0, by);
	if (state == WEFT_TF_T_BLOCKED) {
		struct mtask *w = by && by != t->id ? model_task(m, by) : NULL;
		tacc(c, t->id, t->fn)->blocked += t1 - t0;
		if (w) {
			tacc(c, w->id, w->fn)->wakes++;
			c->wakes++;
		}
	}
	if (state == WEFT_TF_T_RUNNABLE) {
		if (t1 > t0 || t->state == WEFT_TF_T_RUNNABLE)
			hist_add(&c->latency, t1 - t0);
		/* A start follows (ev_start: the wait, then the run): its hand-off
		 * cost is this wait, cut by h_gap to the P's gap if it was held. */
		c->pend = true;
		c->pend_ts = m->now;
		c->pend_lat = t1 - t0;
		c->pend_node = 0;
		if (t->aux && c->g->want_chain && c->g->nodes[t->aux - 1].start == t0) {
			c->pend_node = (uint32_t)t->aux;
			c->g->nodes[t->aux - 1].cost = t1 - t0;
		}
		return;
	}
	if (c->g->want_blocks)
		block_add(c->g, state == WEFT_TF_T_SYSCALL ? WEFT_TRACE_BLOCK_SYSCALL : t->reason,
			  t->site, t1 - t0);
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
	struct gaps_obj *o = obj_find(c, t->obj, t->reason, t->site, true);
	if (!o)
		return;
	o->n++;
	o->ns += (double)(t1 - t0);
	if (o->waiters > 0)
		o->waiters--;
	/* The waker that ended most waits on it (Boyer-Moore's majority vote). */
	if (by && o->by == by)
		o->by_votes++;
	else if (by && !o->by_votes)
		o->by = by, o->by_votes = 1;
	else if (by)
		o->by_votes--;
}

static void h_gone(void *x, struct model *m, struct mtask *t, bool ended)
{
	struct gaps_ctx *c = x;
	(void)m;
	if (c->g->want_chain) {
		chain_note(c->g, m, t);
		node_set(c->g, t, 0);
	}
	struct gaps_task *a = u64map_find(&c->tacc, t->id), rec = { 0 };
	if (a) {
		rec = *a;
		u64map_remove(&c->tacc, a);
	} else {
		rec.first = m->now - m->first_ts;
	}
	rec.id = t->id;
	rec.fn = t->fn;
	rec.exec = t->exec;
	rec.last = m->now - m->first_ts;
	top_add(c, &rec);
	if (ended) {
		hist_add(&c->texec, t->exec);
		c->fn_tasks = tool_grow_zero(c->fn_tasks, &c->nfn_tasks, t->fn, sizeof(*c->fn_tasks));
		c->fn_exec = tool_grow_zero(c->fn_exec, &c->nfn_tasks_exec, t->fn, sizeof(*c->fn_exec));
		c->fn_tasks[t->fn]++;
		c->fn_exec[t->fn] += t->exec;
	}
}

static void phase_close(struct gaps_ctx *c, uint64_t end)
{
	struct gaps_phase *ph = &c->cur;

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
static bool forgive(const struct gaps_ctx *c, uint64_t blip, uint64_t sofar)
{
	if (blip > SERIAL_FORGIVE_NS && (double)blip > SERIAL_FORGIVE_SHARE * (double)sofar)
		return false;
	return (double)(c->cur.par + blip) <= SERIAL_FORGIVE_TOTAL * (double)(sofar + blip);
}

static void h_busy(void *x, struct model *m, int nbusy, uint64_t t0, uint64_t t1, uint64_t only)
{
	struct gaps_ctx *c = x;

	if (nbusy > 0)
		c->busy_int += (double)nbusy * (double)(t1 - t0);

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
static void on_event(struct gaps_ctx *c, struct model *m, const weft_tr_event *ev)
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
			struct gaps_obj *o = t && t->state == WEFT_TF_T_BLOCKED
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
			pause_add(c->g, c->stw_start - m->first_ts, ev->ts - m->first_ts);
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
static int collect(struct gaps_ctx *c, struct tool_trace *tt, struct model *m)
{
	weft_tr_event *ev;
	int r;

	while ((r = tool_next(tt, &ev)) > 0) {
		net_account(c, m, ev->ts);
		model_event(m, ev);
		on_event(c, m, ev);
		run_mark(c, m, ev);
		if (c->pend) {
			hist_add(&c->handoff, c->pend_lat);
			c->pend = false;
		}
		if (c->g->want_mmu)
			mmu_note(&c->g->mmu, m);
	}
	if (r < 0 && !tool_partial(tt))
		return -1;
	net_account(c, m, m->end_ts > m->now ? m->end_ts : m->now); /* model_finish's end */
	model_finish(m);
	if (c->g->want_mmu)
		mmu_finish(&c->g->mmu, m);
	if (c->in_phase)
		phase_close(c, c->par_since ? c->par_since : m->now);
	return r < 0 ? 1 : 0;
}

/* ---- figures -------------------------------------------------------------------------- */


static int cmp_obj(const void *a, const void *b)
{
	const struct gaps_obj *x = a, *y = b;
	return x->obj < y->obj ? -1 : x->obj > y->obj;
}

/*
 * Per object: all its (reason, site) entries together; the first two by
 * blocked time name it; the object with the most waits is the candidate.
 * Sorts c->objs (obj_find's index is stale after it).
 */
static struct gaps_top top_object(struct gaps_ctx *c)
{
	struct gaps_top top = { 0 };

	qsort(c->objs, c->nobj, sizeof(*c->objs), cmp_obj);
	for (size_t i = 0; i < c->nobj;) {
		size_t j = i;
		double ns = 0;
		uint64_t n = 0;
		int64_t w = 0;
		struct gaps_obj *b1 = NULL, *b2 = NULL;
		for (; j < c->nobj && c->objs[j].obj == c->objs[i].obj; j++) {
			struct gaps_obj *o = &c->objs[j];
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


static void figures(struct gaps_ctx *c, const struct model *m, const weft_tr_info *info,
		    struct gaps_figures *f)
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
	f->active = f->dur - f->t0b;
	f->run_share = f->np > 0 && f->dur > 0 ? f->tp[PC_RUN] / (f->dur * f->np) : 0;
	f->culprit = -1;
	/* The long tasks: those within CAP_LONG of the longest (top is sorted). */
	f->cap = c->ntop && c->top[0].exec ? f->W / (double)c->top[0].exec : 0;
	for (int i = 0; i < c->ntop && (double)c->top[i].exec >= CAP_LONG * (double)c->top[0].exec; i++)
		f->nlong = i + 1;
}

/* ---- verdicts: one function each, on a struct of its inputs ---------------------------- */


/* Tasks too small for what scheduling one costs. */
struct fine_grain_in {
	uint64_t tasks;          /* tasks that ended */
	double med_exec;         /* their median execution (ns) */
	double cost;             /* scheduling cost per run (ns) */
	double tick_ns;          /* the trace clock's tick */
	double run_ns, sched_ns; /* all Ps' time running tasks, in the scheduler */
};

static bool fine_grain(const struct fine_grain_in *in, struct gaps_verdict *v)
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
	struct gaps_top top;
	const char *site, *site2; /* the call sites of top.o and top.o2 */
	uint64_t runs;            /* all runs */
	double dur;
};

static bool contention(const struct contention_in *in, struct gaps_verdict *v)
{
	const struct gaps_top *top = &in->top;
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
	struct gaps_phase ph;  /* the longest serial phase */
	const char *fn;   /* the entry function that ran most in it */
	int np;
	double dur;
	double serial;    /* the serial fraction of the whole run */
};

static bool serial_phase(const struct serial_phase_in *in, struct gaps_verdict *v)
{
	const struct gaps_phase *ph = &in->ph;
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
	const struct gaps_chain_sum *cs; /* what it is made of, if known */
	struct names *fns, *sites;
};

/* "made of link_task (98%, 100 tasks), main_task (2%); it waited most at chan
 * receive at link_task+0x2b (99 times)": @buf of @n bytes, "" if not known. */
static void chain_words(const struct critical_path_in *in, char *buf, size_t n)
{
	const struct gaps_chain_sum *cs = in->cs;
	size_t o = 0;

	buf[0] = 0;
	if (!cs || !cs->known || !cs->ns)
		return;
	o += (size_t)snprintf(buf + o, n - o, " It is made of");
	for (int i = 0; i < cs->nfn && o < n; i++)
		o += (size_t)snprintf(buf + o, n - o, "%s %s (%.0f%%, %" PRIu64 " task%s)",
				      i ? "," : "", names_get(in->fns, cs->fn[i].fn),
				      100.0 * (double)cs->fn[i].ns / (double)cs->ns, cs->fn[i].tasks,
				      cs->fn[i].tasks == 1 ? "" : "s");
	if (o < n && cs->task_ns * 2 >= cs->ns)
		o += (size_t)snprintf(buf + o, n - o, "; %.0f%% of it is one task, %s #%" PRIu64,
				      100.0 * (double)cs->task_ns / (double)cs->ns,
				      names_get(in->fns, cs->task_fn), cs->task);
	for (int i = 0; i < cs->nwait && o < n; i++)
		o += (size_t)snprintf(buf + o, n - o, "%s %s at %s (%" PRIu64 " time%s)",
				      i ? " and" : "; it waits at", weft_tr_block_name(cs->wait[i].reason),
				      names_get(in->sites, cs->wait[i].site), cs->wait[i].n,
				      cs->wait[i].n == 1 ? "" : "s");
	if (o < n && cs->creates)
		o += (size_t)snprintf(buf + o, n - o, "%s %" PRIu64 " of its hand-offs %s",
				      cs->nwait ? "," : ";", cs->creates,
				      cs->creates == 1 ? "is a create" : "are creates");
	if (o < n)
		snprintf(buf + o, n - o, ".");
}

static bool critical_path(const struct critical_path_in *in, struct gaps_verdict *v)
{
	char a[32], b[32], made[600];

	if (!(in->np >= 2 && in->active > 0 &&
	      (in->S >= CRIT_SPAN_ALONE * in->active ||
	       (in->S >= CRIT_SPAN_SHARE * in->active && in->par < CRIT_PARALLELISM))))
		return false;
	v->kind = "critical_path";
	chain_words(in, made, sizeof(made));
	snprintf(v->text, sizeof(v->text),
		 "critical path: a chain of %" PRIu32 " hand-offs (creates and unblocks) ending in "
		 "task %" PRIu64 " (%s) holds %s of work, %.0f%% of the time any P was busy "
		 "(%.0f%% of the %s run; work/span %.2f): more cores cannot make the run shorter than that chain; the Ps were "
		 "idle or looking for work %.0f%% of their time.%s Break the chain: let "
		 "independent steps start without waiting for the previous one.",
		 in->hops, in->task, in->fn, fmt_dur(a, in->S),
		 100.0 * in->S / in->active, 100.0 * in->S / in->dur, fmt_dur(b, in->dur), in->par,
		 in->np > 1 ? 100.0 * in->waiting_ns / (in->dur * in->np) : 0, made);
	return true;
}

/* Long stop-the-world pauses, or many. */
struct stop_the_world_in {
	uint64_t pauses, total_ns, max_ns;
	uint64_t max_wait_ns; /* the longest wait for the Ps to stop */
	double dur;
};

static bool stop_the_world(const struct stop_the_world_in *in, struct gaps_verdict *v)
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

static bool network_wait(const struct network_wait_in *in, struct gaps_verdict *v)
{
	char a[32], b[32], d[32];

	if (!(in->dur > 0 && in->waits && in->idle_ns >= NET_IDLE_SHARE * in->dur))
		return false;
	v->kind = "network_wait";
	snprintf(v->text, sizeof(v->text),
		 "waiting for the network: for %s (%.0f%% of the run) no P had a task to run "
		 "while tasks waited in net read or net write (%" PRIu64 " waits, up to %" PRId64
		 " at once, %s in all; most at %s, %s of it). The program waits for its peers, not "
		 "for the scheduler or the cores: more cores will not make it faster. If the peers "
		 "could send more, serve more connections at once.",
		 fmt_dur(a, in->idle_ns), 100.0 * in->idle_ns / in->dur, in->waits,
		 in->max_waiting, fmt_dur(b, in->ns), in->site, fmt_dur(d, in->site_ns));
	return true;
}


/* The Ps ran tasks nearly all the time: on this many cores the run is as short as it gets. */
struct at_limit_in {
	int np;
	double dur, run_share;
	double sched_ns, idle_ns; /* all Ps' time in the scheduler; idle, searching, paused */
	double W, S;              /* work and span: Brent's estimate for more cores */
};

static bool at_limit(const struct at_limit_in *in, struct gaps_verdict *v)
{
	static const int n[] = { 4, 8, 16 };
	double pt = in->dur * in->np, lo[3], hi[3], par = in->S > 0 ? in->W / in->S : 0;

	if (!(in->np >= 1 && in->dur > 0 && in->run_share >= LIMIT_RUN_SHARE))
		return false;
	/* Brent's bound (a greedy scheduler does at least this well) to the
	 * work/span bound (nothing does better). */
	for (int i = 0; i < 3; i++) {
		lo[i] = in->S > 0 ? in->W / (in->W / n[i] + in->S) : n[i];
		hi[i] = in->S > 0 && par < n[i] ? par : n[i];
	}
	v->kind = "at_limit";
	snprintf(v->text, sizeof(v->text),
		 "at the limit of %d %s: they ran tasks %.0f%% of the time (%.1f%% in the "
		 "scheduler, %.1f%% idle, looking for work or paused), so on %d %s the run "
		 "cannot get more than %.0f%% shorter. Only less work or more cores make it faster: "
		 "with this work and span, 4 cores would run it %.1fx to %.1fx faster than one "
		 "core, 8 cores %.1fx to %.1fx, 16 cores %.1fx to %.1fx (Brent's bound to the "
		 "work/span bound).",
		 in->np, in->np > 1 ? "Ps" : "P", 100.0 * in->run_share, 100.0 * in->sched_ns / pt,
		 100.0 * in->idle_ns / pt, in->np, in->np > 1 ? "cores" : "core",
		 100.0 * (1 - in->run_share), lo[0], hi[0], lo[1], hi[1], lo[2], hi[2]);
	return true;
}

/* One task that the others wait on, running most of the time while Ps idle. */
struct bottleneck_in {
	const struct gaps_task *t; /* the longest-running task */
	const char *fn;
	int np;
	double active, dur;
	uint64_t wakes;            /* all waits ended by a task */
	double chain_share;        /* its share of the critical path; < 0: not known */
	const char *waited;        /* "chan send at f+0x.." where others waited on it, or NULL */
	int64_t waiters;           /* ... up to this many at once */
};

static bool bottleneck(const struct bottleneck_in *in, struct gaps_verdict *v)
{
	const struct gaps_task *t = in->t;
	double idle_ps, life;
	char path[96] = "", on[400] = "";

	if (!t || in->np < 2 || in->active <= 0 || !t->exec)
		return false;
	idle_ps = t->idle / (double)t->exec;
	life = (double)(t->last - t->first);
	if (!((double)t->exec >= BOTTLE_RUN_SHARE * in->active && idle_ps >= BOTTLE_IDLE_PS &&
	      t->wakes >= BOTTLE_MIN_WAKES && (double)t->wakes >= BOTTLE_WAKE_SHARE * (double)in->wakes &&
	      (double)t->blocked <= BOTTLE_BLOCKED * life &&
	      (in->chain_share < 0 || in->chain_share >= BOTTLE_CHAIN_SHARE)))
		return false;
	if (in->chain_share >= 0)
		snprintf(path, sizeof(path), " and is %.0f%% of the critical path",
			 100.0 * in->chain_share);
	if (in->waited)
		snprintf(on, sizeof(on), "; up to %" PRId64 " at once waited for it in %s",
			 in->waiters, in->waited);
	v->kind = "bottleneck";
	snprintf(v->text, sizeof(v->text),
		 "one task (%s #%" PRIu64 ") was the bottleneck: it ran %.0f%% of the time while on "
		 "average %.1f Ps idled; it ended %" PRIu64 " waits of other tasks (%.0f%% of the "
		 "wake-ups%s); it was hardly ever blocked itself%s. The others wait for it, and "
		 "no number of cores helps one task: split its work (several tasks sharing its job, "
		 "or its per-item work handed to tasks of their own).",
		 in->fn, t->id, 100.0 * (double)t->exec / in->dur, idle_ps, t->wakes,
		 in->wakes ? 100.0 * (double)t->wakes / (double)in->wakes : 0.0, on, path);
	return true;
}

/* A few long tasks did nearly all the work: no more cores than tasks can help. */
struct capped_in {
	const struct gaps_task *top; /* the longest-running tasks, most first */
	int nlong;                   /* the long ones: top[0 .. nlong) */
	struct names *fns;
	int np;
	double W, dur, cap;
	uint64_t fn_tasks;           /* tasks of the longest one's function that ended */
};

static bool capped(const struct capped_in *in, struct gaps_verdict *v)
{
	static const int n[] = { 4, 8, 16 };
	double lw = 0;
	char who[300] = "", at[160] = "", a[32], idle[200] = "";
	size_t o = 0;

	if (in->nlong < 2 || in->W <= 0 || in->dur <= 0)
		return false;
	for (int i = 0; i < in->nlong; i++)
		lw += (double)in->top[i].exec;
	if (!(lw >= CAP_WORK_SHARE * in->W && in->cap < CAP_MAX &&
	      (double)in->top[0].exec >= CAP_RUN * in->dur))
		return false;
	/* "worker x2, main_task x1": the long tasks by function, in order of first seen. */
	for (int i = 0; i < in->nlong && o < sizeof(who) - 64; i++) {
		int k = 0, seen = 0;
		for (int j = 0; j < in->nlong; j++)
			k += in->top[j].fn == in->top[i].fn;
		for (int j = 0; j < i; j++)
			seen |= in->top[j].fn == in->top[i].fn;
		if (!seen)
			o += (size_t)snprintf(who + o, sizeof(who) - o, "%s%s x%d", o ? ", " : "",
					      names_get(in->fns, in->top[i].fn), k);
	}
	o = 0;
	for (int i = 0; i < 3; i++)
		o += (size_t)snprintf(at + o, sizeof(at) - o, "%s%.1fx on %d%s",
				      i ? (i == 2 ? " and " : ", ") : "", in->cap < n[i] ? in->cap : n[i],
				      n[i], i ? "" : " cores");
	int same = 0;
	for (int i = 0; i < in->nlong; i++)
		same += in->top[i].fn == in->top[0].fn;
	if (in->fn_tasks > (uint64_t)same)
		snprintf(idle, sizeof(idle), " (of %" PRIu64 " %s tasks, %d did nearly all of it)",
			 in->fn_tasks, names_get(in->fns, in->top[0].fn), same);
	v->kind = "capped";
	snprintf(v->text, sizeof(v->text),
		 "parallelism capped by %d long tasks (%s; the longest ran %s): they did %.0f%% of "
		 "the work%s, and a task runs on one core at a time, so no number of cores runs this "
		 "more than %.1fx faster than one core: %s on %d %s, at most %s. To use more cores, "
		 "split the work into more tasks than cores (more workers, or a task per item).",
		 in->nlong, who, fmt_dur(a, (double)in->top[0].exec), 100.0 * lw / in->W, idle,
		 in->cap, in->cap >= 0.9 * in->np ? "enough" : "not even enough", in->np,
		 in->np > 1 ? "Ps" : "P", at);
	return true;
}

/* Every verdict, each on its inputs, in the order they are printed; the number that hold. */
static int judge(struct gaps *g)
{
	const struct gaps_ctx *c = &g->c;
	struct model *m = &g->m;
	struct gaps_figures *f = &g->f;
	struct gaps_verdict *v = g->v;
	const struct gaps_top *top = &f->top;
	const struct gaps_chain_sum *cs = &g->csum;
	int nv = 0;
	bool is_bottleneck = false, is_capped = false, contention_absorbed = false;
	char waited[300] = "";
	struct gaps_verdict fine_v, contend_v;

	/* Judged first, said later: runs that are mostly scheduling or hand-offs
	 * keep the Ps busy without being the work, so then the Ps' being busy
	 * is no sign of being at the limit. */
	struct fine_grain_in fine = {
		.tasks = c->texec.n, .med_exec = f->med_exec, .cost = f->cost,
		.tick_ns = f->tick_ns, .run_ns = f->tp[PC_RUN], .sched_ns = f->tp[PC_SCHED],
	};
	bool is_fine = fine_grain(&fine, &fine_v);
	struct contention_in contend = {
		.top = *top,
		.site = top->o ? names_get(&m->sites, top->o->site) : NULL,
		.site2 = top->o2 ? names_get(&m->sites, top->o2->site) : NULL,
		.runs = m->starts, .dur = f->dur,
	};
	bool is_contended = contention(&contend, &contend_v);

	struct at_limit_in lim = {
		.np = f->np, .dur = f->dur, .run_share = f->run_share, .sched_ns = f->tp[PC_SCHED],
		.idle_ns = f->tp[PC_IDLE] + f->tp[PC_SEARCH] + f->tp[PC_STW], .W = f->W, .S = f->S,
	};
	if (!is_fine && !is_contended && at_limit(&lim, &v[nv]))
		nv++;

	/* The longest-running task, if the others waited on it; a contended
	 * object that it is the one to free is its symptom, said with it. */
	const struct gaps_task *t = c->ntop ? &c->top[0] : NULL;
	if (top->o && t && top->o->by == t->id && top->w >= 2) {
		snprintf(waited, sizeof(waited), "%s at %s", weft_tr_block_name(top->o->reason),
			 names_get(&m->sites, top->o->site));
		contention_absorbed = true;
	}
	struct bottleneck_in bot = {
		.t = t, .fn = t ? names_get(&m->fns, t->fn) : NULL, .np = f->np,
		.active = f->active, .dur = f->dur, .wakes = c->wakes,
		.chain_share = cs->known && cs->ns ? (t && cs->task == t->id ? (double)cs->task_ns / (double)cs->ns : 0)
						   : -1,
		.waited = contention_absorbed ? waited : NULL, .waiters = top->w,
	};
	if (bottleneck(&bot, &v[nv])) {
		nv++;
		is_bottleneck = true;
		f->culprit = 0;
	}

	struct capped_in cap = {
		.top = c->top, .nlong = f->nlong, .fns = &m->fns, .np = f->np, .W = f->W,
		.dur = f->dur, .cap = f->cap,
		.fn_tasks = c->ntop && c->top[0].fn < c->nfn_tasks ? c->fn_tasks[c->top[0].fn] : 0,
	};
	if (!is_bottleneck && capped(&cap, &v[nv])) {
		nv++;
		is_capped = true;
	}
	if (!is_capped)
		f->nlong = 0;

	if (is_fine)
		v[nv++] = fine_v;
	if (is_contended && !(is_bottleneck && contention_absorbed))
		v[nv++] = contend_v;

	/* A bottleneck's stretches alone are its serial phases and its chain;
	 * a phase that is mostly a stop-the-world pause is the pause's verdict. */
	uint64_t in_stw = 0, ph0 = c->best[0].start - m->first_ts, ph1 = c->best[0].end - m->first_ts;
	for (size_t i = 0; i < g->npauses; i++) {
		uint64_t a = g->pauses[i][0] > ph0 ? g->pauses[i][0] : ph0;
		uint64_t b = g->pauses[i][1] < ph1 ? g->pauses[i][1] : ph1;
		in_stw += b > a ? b - a : 0;
	}
	bool stw_phase = ph1 > ph0 && 2 * in_stw >= ph1 - ph0;
	struct serial_phase_in serial = {
		.ph = c->best[0], .fn = names_get(&m->fns, c->best[0].fn), .np = f->np,
		.dur = f->dur, .serial = f->serial,
	};
	if (!is_bottleneck && !stw_phase && serial_phase(&serial, &v[nv]))
		nv++;

	struct critical_path_in crit = {
		.np = f->np, .dur = f->dur, .active = f->active, .S = f->S, .par = f->par,
		.hops = m->span_hops, .task = m->span_task, .fn = names_get(&m->fns, m->span_fn),
		.waiting_ns = f->tp[PC_IDLE] + f->tp[PC_SEARCH] + f->tp[PC_SCHED],
		.cs = cs, .fns = &m->fns, .sites = &m->sites,
	};
	if (!is_bottleneck && !is_capped && critical_path(&crit, &v[nv]))
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

/* ---- the critical path's edges -------------------------------------------------------------- */

static void node_unref(struct gaps *g, uint32_t k)
{
	if (!g->want_chain)
		return;
	while (k) {
		struct gaps_cnode *n = &g->nodes[k - 1];
		uint32_t parent = n->parent;
		if (--n->refs)
			return;
		n->parent = g->free_node; /* free: linked through parent */
		g->free_node = k;
		k = parent;
	}
}

/* A new node (one reference, the caller's) for an edge from @src (node @parent,
 * which it refs); 0 when the recording stops (GAPS_CHAIN_MAX_NODES). */
static uint32_t node_new(struct gaps *g, uint64_t src, uint64_t src_end, uint32_t parent,
			 uint64_t start, uint64_t span0, uint32_t src_fn, uint8_t reason, uint32_t site)
{
	uint32_t k = g->free_node;

	if (!g->want_chain)
		return 0;
	if (k) {
		g->free_node = g->nodes[k - 1].parent;
	} else {
		if (g->nnodes == GAPS_CHAIN_MAX_NODES) {
			/* Too long a history: no chain (the tasks' aux are ignored from now). */
			g->want_chain = false;
			g->chain_lost = true;
			free(g->nodes);
			g->nodes = NULL;
			g->nnodes = g->capnodes = 0;
			return 0;
		}
		if (g->nnodes == g->capnodes) {
			g->capnodes = g->capnodes ? 2 * g->capnodes : 1024;
			g->nodes = tool_realloc(g->nodes, g->capnodes, sizeof(*g->nodes));
		}
		k = (uint32_t)++g->nnodes;
	}
	if (parent)
		g->nodes[parent - 1].refs++;
	g->nodes[k - 1] = (struct gaps_cnode){ .src = src, .src_end = src_end, .start = start,
					       .span0 = span0, .parent = parent, .refs = 1,
					       .src_fn = src_fn, .site = site, .reason = reason };
	return k;
}

/* @t's chain now continues from node @k (a new one: its reference is t's). */
static void node_set(struct gaps *g, struct mtask *t, uint32_t k)
{
	node_unref(g, (uint32_t)t->aux);
	t->aux = g->want_chain ? k : 0;
}

static void h_new(void *x, struct model *m, struct mtask *t, uint64_t parent, bool created)
{
	struct gaps_ctx *c = x;
	struct gaps *g = c->g;
	struct mtask *pt = created && parent ? model_task(m, parent) : NULL;

	tacc(c, t->id, t->fn); /* its life starts now */
	t->aux = 0;
	/* The model: a created task's span is its parent's span now. */
	if (g->want_chain && pt && pt != t && t->hops == pt->hops + 1)
		t->aux = node_new(g, pt->id, m->now, (uint32_t)pt->aux, m->now, t->span, pt->fn,
				  GAPS_EDGE_CREATE, 0);
}

/*
 * An unblock by @by: which edge the model took (model.c's ev_unblock), told
 * from the spans it left: forward (t continues by's chain: equal spans, t
 * one hop further) or, for a channel rendezvous, backward (by continues t's
 * chain up to where t blocked, from now on: its span now is t's).
 */
static void chain_wait(struct gaps *g, struct model *m, struct mtask *t, uint64_t blocked_at,
		       uint64_t by_id)
{
	struct mtask *by = model_task(m, by_id);
	uint64_t s;

	if (!by || by == t)
		return;
	s = model_span_now(m, by);
	if (s != t->span)
		return;
	if (t->hops == by->hops + 1) {
		node_set(g, t, node_new(g, by->id, m->now, (uint32_t)by->aux, m->now, t->span, by->fn,
					t->reason, t->site));
	} else if (by->hops == t->hops + 1) {
		/* by's span now equals t's: its run so far is not on the chain. */
		node_set(g, by, node_new(g, t->id, blocked_at, (uint32_t)t->aux, m->now, t->span,
					 t->fn, t->reason, t->site));
	}
}

/* The model noted a longer chain, ending in @t now: pin its node. */
static void chain_note(struct gaps *g, struct model *m, struct mtask *t)
{
	if (!g->want_chain || m->span == g->pin_span || m->span_task != t->id)
		return;
	if (t->aux)
		g->nodes[t->aux - 1].refs++;
	node_unref(g, g->pin);
	g->pin = (uint32_t)t->aux;
	g->pin_task = t->id;
	g->pin_fn = t->fn;
	g->pin_end = m->now;
	g->pin_span = m->span;
}

/* The pinned chain as stretches of tasks, from its end backwards. */
static void chain_segs(struct gaps *g)
{
	size_t cap = 0;
	uint64_t first = g->m.first_ts, task = g->pin_task, end = g->pin_end, span = g->pin_span;
	uint32_t fn = g->pin_fn;

	if (!g->want_chain || !g->pin_task)
		return;
	for (uint32_t k = g->pin;; k = g->nodes[k - 1].parent) {
		const struct gaps_cnode *n = k ? &g->nodes[k - 1] : NULL;
		uint64_t start = n ? n->start : first, span0 = n ? n->span0 : 0;
		if (g->nchain == cap) {
			cap = cap ? 2 * cap : 64;
			g->chain = tool_realloc(g->chain, cap, sizeof(*g->chain));
		}
		g->chain[g->nchain++] = (struct gaps_seg){
			.task = task, .t0 = start > first ? start - first : 0,
			.t1 = end > first ? end - first : 0, .ns = span > span0 ? span - span0 : 0,
			.fn = fn
		};
		if (!n)
			break;
		task = n->src;
		end = n->src_end;
		fn = n->src_fn;
		span = span0;
	}
}

static int cmp_u64_desc(uint64_t a, uint64_t b)
{
	return a < b ? 1 : a > b ? -1 : 0;
}

/* What the chain (gaps.chain) is made of: its functions, its main task, its waits. */
static void chain_sum(struct gaps *g)
{
	struct gaps_chain_sum *cs = &g->csum;
	struct u64map tasks, waits;
	uint64_t *fn_ns = NULL, *fn_tasks = NULL;
	size_t nfn = 0, nfn2 = 0;

	memset(cs, 0, sizeof(*cs));
	if (!g->nchain)
		return;
	cs->known = true;
	u64map_init(&tasks, sizeof(uint64_t), U64MAP_IDS);
	u64map_init(&waits, sizeof(uint64_t), U64MAP_MIXED);
	for (size_t k = 0; k < g->nchain; k++) {
		const struct gaps_seg *sg = &g->chain[k];
		bool added;
		uint64_t *tn = u64map_insert(&tasks, sg->task, &added);
		fn_ns = tool_grow_zero(fn_ns, &nfn, sg->fn, sizeof(*fn_ns));
		fn_tasks = tool_grow_zero(fn_tasks, &nfn2, sg->fn, sizeof(*fn_tasks));
		fn_ns[sg->fn] += sg->ns;
		*tn += sg->ns;
		if (added) {
			fn_tasks[sg->fn]++;
			cs->tasks++;
		}
		if (*tn > cs->task_ns) {
			cs->task_ns = *tn;
			cs->task = sg->task;
			cs->task_fn = sg->fn;
		}
		cs->ns += sg->ns;
	}
	/* The edges: the nodes are gone with the chain's segments, so walk them again. */
	for (uint32_t k = g->pin; k; k = g->nodes[k - 1].parent) {
		const struct gaps_cnode *n = &g->nodes[k - 1];
		cs->cost += n->cost;
		if (n->reason == GAPS_EDGE_CREATE) {
			cs->creates++;
			continue;
		}
		cs->waits++;
		(*(uint64_t *)u64map_insert(&waits, UINT64_C(1) << 63 | (uint64_t)n->reason << 32 | n->site,
					    NULL))++;
	}
	for (size_t i = 0; i < nfn; i++) {
		int j = cs->nfn < GAPS_CHAIN_TOP ? cs->nfn : GAPS_CHAIN_TOP - 1;
		if (!fn_ns[i] || (cs->nfn == GAPS_CHAIN_TOP && fn_ns[i] <= cs->fn[j].ns))
			continue;
		while (j > 0 && cmp_u64_desc(cs->fn[j - 1].ns, fn_ns[i]) > 0) {
			cs->fn[j] = cs->fn[j - 1];
			j--;
		}
		cs->fn[j].fn = (uint32_t)i;
		cs->fn[j].ns = fn_ns[i];
		cs->fn[j].tasks = fn_tasks[i];
		if (cs->nfn < GAPS_CHAIN_TOP)
			cs->nfn++;
	}
	for (size_t i = 0; i < waits.cap; i++) {
		uint64_t key = waits.keys[i], n;
		if (!key)
			continue;
		n = *(uint64_t *)u64map_val(&waits, i);
		int j = cs->nwait < 2 ? cs->nwait : 1;
		if (cs->nwait == 2 && n <= cs->wait[1].n)
			continue;
		while (j > 0 && cs->wait[j - 1].n < n) {
			cs->wait[j] = cs->wait[j - 1];
			j--;
		}
		cs->wait[j].reason = (uint8_t)(key >> 32);
		cs->wait[j].site = (uint32_t)key;
		cs->wait[j].n = n;
		if (cs->nwait < 2)
			cs->nwait++;
	}
	free(fn_ns);
	free(fn_tasks);
	u64map_free(&tasks);
	u64map_free(&waits);
}

/* ---- subjects: what each verdict speaks of ------------------------------------------------ */

static int cmp_block_ns(const void *a, const void *b)
{
	const struct gaps_block *x = *(const struct gaps_block *const *)a;
	const struct gaps_block *y = *(const struct gaps_block *const *)b;
	if (x->ns != y->ns)
		return x->ns < y->ns ? 1 : -1;
	return x < y ? -1 : x > y;
}

/* The net read/write (reason, site) pairs of the block profile, the longest first. */
static void net_sites(const struct gaps *g, struct gaps_subject *s)
{
	const struct gaps_block **v = tool_calloc(g->nblocks ? g->nblocks : 1, sizeof(*v));
	size_t n = 0;

	for (size_t i = 0; i < g->nblocks; i++)
		if (is_net(g->blocks[i].reason))
			v[n++] = &g->blocks[i];
	qsort(v, n, sizeof(*v), cmp_block_ns);
	for (size_t i = 0; i < n && s->nsite < GAPS_SUBJ_SITES_MAX; i++) {
		s->reason[s->nsite] = v[i]->reason;
		s->site[s->nsite++] = v[i]->site;
	}
	free(v);
}

/*
 * The fine-grained tasks' entry function: of the functions whose tasks ran
 * a mean below the verdict's bound, the one with the most tasks (the
 * median the verdict judges is over all tasks, so the function that has
 * most of them is the one it speaks of); if none is below, the one with
 * the most tasks.
 */
static uint32_t fine_fn(const struct gaps *g)
{
	const struct gaps_ctx *c = &g->c;
	double bound = FINE_RATIO * g->f.cost > FINE_ABS_NS ? FINE_RATIO * g->f.cost : FINE_ABS_NS;
	uint32_t best = 0, any = 0;
	uint64_t bn = 0, an = 0;

	for (size_t i = 0; i < c->nfn_tasks && i < c->nfn_tasks_exec; i++) {
		uint64_t n = c->fn_tasks[i];
		if (!n)
			continue;
		if (n > an) {
			an = n;
			any = (uint32_t)i;
		}
		if ((double)c->fn_exec[i] / (double)n < bound && n > bn) {
			bn = n;
			best = (uint32_t)i;
		}
	}
	return bn ? best : any;
}

static void subj_task(struct gaps_subject *s, const struct gaps_task *t)
{
	if (s->ntask < GAPS_SUBJ_TASKS_MAX)
		s->tasks[s->ntask++] = t->id;
	if (s->nrange < GAPS_SUBJ_RANGES_MAX) {
		s->ranges[s->nrange][0] = t->t0;
		s->ranges[s->nrange++][1] = t->t1;
	}
}

static void subj_range(struct gaps_subject *s, uint64_t t0, uint64_t t1)
{
	if (s->nrange < GAPS_SUBJ_RANGES_MAX) {
		s->ranges[s->nrange][0] = t0;
		s->ranges[s->nrange++][1] = t1;
	}
}

static int cmp_pause_len(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;
	uint64_t lx = x[1] - x[0], ly = y[1] - y[0];
	return lx != ly ? (lx < ly ? 1 : -1) : (x[0] > y[0]) - (x[0] < y[0]);
}

static void subjects(struct gaps *g)
{
	const struct gaps_top *top = &g->f.top;
	uint64_t first = g->m.first_ts;

	for (int i = 0; i < g->nv; i++) {
		struct gaps_subject *s = &g->subj[i];
		const char *k = g->v[i].kind;

		memset(s, 0, sizeof(*s));
		if (!strcmp(k, "fine_grain")) {
			s->kind = GAPS_SUBJ_FN;
			s->fn = fine_fn(g);
		} else if (!strcmp(k, "contention")) {
			s->kind = GAPS_SUBJ_SITES;
			s->obj = top->o->obj;
			if (top->o->by && top->o->by_votes > 0)
				s->tasks[s->ntask++] = top->o->by; /* the waker of most waits on it */
			s->reason[0] = top->o->reason;
			s->site[0] = top->o->site;
			s->nsite = 1;
			if (top->o2) {
				s->reason[1] = top->o2->reason;
				s->site[1] = top->o2->site;
				s->nsite = 2;
			}
		} else if (!strcmp(k, "serial_phase")) {
			s->kind = GAPS_SUBJ_RANGE;
			s->t0 = g->c.best[0].start - first;
			s->t1 = g->c.best[0].end - first;
			subj_range(s, s->t0, s->t1);
		} else if (!strcmp(k, "critical_path")) {
			s->kind = GAPS_SUBJ_CHAIN;
			s->task = g->m.span_task;
			s->span = g->m.span;
			s->hops = g->m.span_hops;
			s->tasks[s->ntask++] = s->task;
			if (g->csum.known && g->csum.task != s->task)
				s->tasks[s->ntask++] = g->csum.task;
			if (g->nchain)
				subj_range(s, g->chain[g->nchain - 1].t0, g->chain[0].t1);
		} else if (!strcmp(k, "stop_the_world")) {
			s->kind = GAPS_SUBJ_STW;
			for (size_t j = 0; j < g->npauses; j++)
				if (g->pauses[j][1] - g->pauses[j][0] > s->t1 - s->t0) {
					s->t0 = g->pauses[j][0];
					s->t1 = g->pauses[j][1];
				}
			/* The longest pauses, the longest first. */
			uint64_t(*p)[2] = tool_calloc(g->npauses ? g->npauses : 1, sizeof(*p));
			memcpy(p, g->pauses, g->npauses * sizeof(*p));
			qsort(p, g->npauses, sizeof(*p), cmp_pause_len);
			for (size_t j = 0; j < g->npauses; j++)
				subj_range(s, p[j][0], p[j][1]);
			free(p);
		} else if (!strcmp(k, "at_limit")) {
			s->kind = GAPS_SUBJ_RANGE;
			s->t0 = 0;
			s->t1 = (uint64_t)g->f.dur;
			subj_range(s, s->t0, s->t1);
		} else if (!strcmp(k, "bottleneck")) {
			s->kind = GAPS_SUBJ_TASKS;
			subj_task(s, &g->c.top[g->f.culprit]);
		} else if (!strcmp(k, "capped")) {
			s->kind = GAPS_SUBJ_TASKS;
			for (int j = 0; j < g->f.nlong; j++)
				subj_task(s, &g->c.top[j]);
		} else if (!strcmp(k, "network_wait")) {
			s->kind = GAPS_SUBJ_SITES;
			net_sites(g, s);
		}
	}
}

/* ---- the library ---------------------------------------------------------------------------- */

void gaps_init(struct gaps *g, struct tool_trace *tt, bool want_blocks, bool want_chain)
{
	memset(g, 0, sizeof(*g));
	g->c.g = g;
	g->c.m = &g->m;
	g->c.objs = tool_calloc(MAX_OBJS, sizeof(*g->c.objs));
	u64map_init(&g->c.oidx, sizeof(uint32_t), U64MAP_MIXED);
	u64map_init(&g->bidx, sizeof(uint32_t), U64MAP_MIXED);
	hist_init(&g->c.runs);
	hist_init(&g->c.gaps);
	hist_init(&g->c.latency);
	hist_init(&g->c.texec);
	hist_init(&g->c.handoff);
	g->want_blocks = want_blocks;
	g->want_chain = want_chain;
	u64map_init(&g->c.tacc, sizeof(struct gaps_task), U64MAP_IDS);
	struct model_hooks h = { .ctx = &g->c, .run = h_run, .gap = h_gap, .wait = h_wait,
				 .task_gone = h_gone, .busy = h_busy, .task_new = h_new };
	model_init(&g->m, tt->t, &h);
}

int gaps_collect(struct gaps *g, struct tool_trace *tt)
{
	return collect(&g->c, tt, &g->m);
}

void gaps_finish(struct gaps *g, const weft_tr_info *info)
{
	figures(&g->c, &g->m, info, &g->f);
	if (g->want_chain) {
		chain_segs(g);
		chain_sum(g);
	}
	/* The burdened span: the critical path with its hand-offs' measured
	 * costs; without its edges, each hop at the median hand-off. */
	g->f.burden_exact = g->csum.known;
	g->f.burden = g->csum.known ? (double)g->csum.cost
				    : (double)g->m.span_hops * (double)hist_quantile(&g->c.handoff, 0.5);
	g->f.Sb = g->f.S + g->f.burden;
	g->nv = judge(g);
	subjects(g);
}

void gaps_free(struct gaps *g)
{
	free(g->c.objs);
	u64map_free(&g->c.oidx);
	free(g->c.fn_ns);
	free(g->c.net_site_ns);
	free(g->c.fn_tasks);
	free(g->c.fn_exec);
	free(g->pauses);
	free(g->blocks);
	u64map_free(&g->bidx);
	free(g->nodes);
	free(g->chain);
	u64map_free(&g->c.tacc);
	mmu_free(&g->mmu);
	free(g->c.p_t0);
	free(g->c.p_b0);
	model_free(&g->m);
	memset(g, 0, sizeof(*g));
}

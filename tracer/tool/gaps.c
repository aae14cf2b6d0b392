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
 * and the stop-the-world pauses (two words each); for the viewer, the
 * critical path's edges (below) and the block profile.
 *
 * The chain (want_chain, for the viewer's highlight). Each edge the model
 * takes is a node: a create (the child's span is the parent's now), an
 * unblock whose waker's chain was the longer (the woken task one hop
 * further), or a rendezvous's backward edge (the waker one hop further,
 * from now). Which one the model took is told from what it leaves (equal
 * spans, hops one apart) in the task_new and wait hooks, without a change
 * to model.c. A task's current node is in its mtask.aux; a node refers to
 * the source's node at the time; the longest chain's node is pinned when
 * the model notes it (the run and task_gone hooks follow note_span). Nodes
 * are reference-counted and reused, so they follow the live chains, and at
 * GAPS_CHAIN_MAX_NODES the recording stops (the viewer then approximates).
 *
 * Threads: none of its own. Everything is in one struct gaps, so two
 * passes may run at once on two threads (the viewer runs one beside its
 * index build); nothing here is static but constants.
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

/* ---- hooks ---------------------------------------------------------------------- */

static void h_run(void *x, struct model *m, struct mtask *t, int p, uint64_t t0, uint64_t t1,
		  int why)
{
	struct gaps_ctx *c = x;
	(void)m, (void)t, (void)p;
	if (why != WHY_TRACE_END)
		hist_add(&c->runs, t1 - t0);
	if (c->g->want_chain)
		chain_note(c->g, m, t);
}

static void h_gap(void *x, struct model *m, int p, uint64_t t0, uint64_t t1)
{
	struct gaps_ctx *c = x;
	(void)m, (void)p;
	hist_add(&c->gaps, t1 - t0);
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
	(void)m, (void)by;
	if (c->g->want_chain && by && state == WEFT_TF_T_BLOCKED)
		chain_wait(c->g, m, t, t0, by);
	if (state == WEFT_TF_T_RUNNABLE) {
		if (t1 > t0 || t->state == WEFT_TF_T_RUNNABLE)
			hist_add(&c->latency, t1 - t0);
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
}

static void h_gone(void *x, struct model *m, struct mtask *t, bool ended)
{
	struct gaps_ctx *c = x;
	(void)m;
	if (c->g->want_chain) {
		chain_note(c->g, m, t);
		node_set(c->g, t, 0);
	}
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
};

static bool critical_path(const struct critical_path_in *in, struct gaps_verdict *v)
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

/* Every verdict, each on its inputs, in the order they are printed; the number that hold. */
static int judge(const struct gaps_ctx *c, struct model *m, const struct gaps_figures *f,
		 struct gaps_verdict v[GAPS_MAX_VERDICTS])
{
	const struct gaps_top *top = &f->top;
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
			 uint64_t start)
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
	g->nodes[k - 1] = (struct gaps_cnode){ src, src_end, start, parent, 1 };
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
	struct gaps *g = ((struct gaps_ctx *)x)->g;
	struct mtask *pt = created && parent ? model_task(m, parent) : NULL;

	t->aux = 0;
	/* The model: a created task's span is its parent's span now. */
	if (g->want_chain && pt && pt != t && t->hops == pt->hops + 1)
		t->aux = node_new(g, pt->id, m->now, (uint32_t)pt->aux, m->now);
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
		node_set(g, t, node_new(g, by->id, m->now, (uint32_t)by->aux, m->now));
	} else if (by->hops == t->hops + 1) {
		/* by's span now equals t's: its run so far is not on the chain. */
		node_set(g, by, node_new(g, t->id, blocked_at, (uint32_t)t->aux, m->now));
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
	g->pin_end = m->now;
	g->pin_span = m->span;
}

/* The pinned chain as stretches of tasks, from its end backwards. */
static void chain_segs(struct gaps *g)
{
	size_t cap = 0;
	uint64_t first = g->m.first_ts, task = g->pin_task, end = g->pin_end;

	if (!g->want_chain || !g->pin_task)
		return;
	for (uint32_t k = g->pin;; k = g->nodes[k - 1].parent) {
		const struct gaps_cnode *n = k ? &g->nodes[k - 1] : NULL;
		uint64_t start = n ? n->start : first;
		if (g->nchain == cap) {
			cap = cap ? 2 * cap : 64;
			g->chain = tool_realloc(g->chain, cap, sizeof(*g->chain));
		}
		g->chain[g->nchain++] = (struct gaps_seg){ task, start > first ? start - first : 0,
							   end > first ? end - first : 0 };
		if (!n)
			break;
		task = n->src;
		end = n->src_end;
	}
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
		} else if (!strcmp(k, "critical_path")) {
			s->kind = GAPS_SUBJ_CHAIN;
			s->task = g->m.span_task;
			s->span = g->m.span;
			s->hops = g->m.span_hops;
		} else if (!strcmp(k, "stop_the_world")) {
			s->kind = GAPS_SUBJ_STW;
			for (size_t j = 0; j < g->npauses; j++)
				if (g->pauses[j][1] - g->pauses[j][0] > s->t1 - s->t0) {
					s->t0 = g->pauses[j][0];
					s->t1 = g->pauses[j][1];
				}
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
	g->want_blocks = want_blocks;
	g->want_chain = want_chain;
	struct model_hooks h = { .ctx = &g->c, .run = h_run, .gap = h_gap, .wait = h_wait,
				 .task_gone = h_gone, .busy = h_busy,
				 .task_new = want_chain ? h_new : NULL };
	model_init(&g->m, tt->t, &h);
}

int gaps_collect(struct gaps *g, struct tool_trace *tt)
{
	return collect(&g->c, tt, &g->m);
}

void gaps_finish(struct gaps *g, const weft_tr_info *info)
{
	figures(&g->c, &g->m, info, &g->f);
	g->nv = judge(&g->c, &g->m, &g->f, g->v);
	subjects(g);
	if (g->want_chain)
		chain_segs(g);
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
	model_free(&g->m);
	memset(g, 0, sizeof(*g));
}

/*
 * model.c - the scheduler's state rebuilt from a trace, one event at a
 * time, for the weft-trace commands (stats, tasks, gaps, export).
 *
 * What. The model follows every P and every live task through the events
 * and tells the commands, through hooks, the intervals they aggregate:
 * each run of a task on a P (start to end, yield, block, syscall), each
 * wait of a task (runnable until it starts: the scheduler's latency;
 * blocked until unblocked, with the reason, object and call site; in a
 * syscall), the gaps on a P between two runs, and how many Ps had a task
 * at every moment. It also keeps what every command wants: each P's time
 * by category, the work (all run time) and the span.
 *
 * Where a P's time goes (enum pcat), decided after every event:
 *   RUN      a task runs on it (TASK_START ... END/YIELD/BLOCK/SYSCALL_ENTER);
 *   SYSCALL  its task is in a syscall and the P was not handed off;
 *   SCHED    a thread holds it (PROC_START), no task runs, and some task is
 *            runnable somewhere: a scheduling gap, time the scheduler costs;
 *   SEARCH   held, no task, nothing runnable: looking for work before parking;
 *   IDLE     no thread holds it (PROC_STOP, a handoff, parked by a stop);
 *   STW      another P stopped the world (STW_BEGIN ... STW_END) and this P
 *            is not running a task (one that runs has not reached its
 *            safepoint yet: still RUN).
 * Categories are kept lazily: a P's category is recomputed when one of its
 * inputs changes (its own events; the runnable count crossing zero; a stop
 * beginning or ending), and the time since the last change is added then.
 *
 * Span. As Cilkscale measures it, the span is the longest chain of work
 * through the dependency edges; here the edges the trace records: a task
 * created by another starts where its parent is (its span is the parent's
 * span plus the parent's current run), and a task unblocked by another
 * (TASK_UNBLOCK by != 0) cannot continue before its waker got where it is.
 * Each task carries the length of the longest chain ending at it; a run
 * adds its length; the span is the largest value any task reaches. Only
 * run time counts as work: time blocked, sleeping or in a syscall is no
 * work (so a program that sleeps has a short span, as it should: more cores
 * would not make it sleep less, but the span bound says nothing about it).
 * A wake by a timer or a plain thread (by == 0) is no edge. A channel
 * rendezvous (the blocked task was in chan send, chan receive or select)
 * is an edge both ways: the waker took the blocked task's value or gave
 * it one, so it cannot be ahead of where the blocked task stopped -
 * without that, a chain of tasks handing a token along would lose every
 * link where the sender arrived first. (For a full buffered channel this
 * overstates the span a little: the receiver took an older element.)
 *
 * Invariants. The model never trusts the trace to be consistent with
 * itself: events arrive in time order from several streams, and until the
 * reader orders ties by the tasks' sequence numbers a TASK_START on one P
 * can come before the TASK_UNBLOCK that caused it on another. Every event
 * that does not fit (a start of a task that is not runnable, an unblock of
 * a running one, a P id out of range) is applied as far as it makes sense
 * and counted in m->anomalies; nothing is ever assumed. Memory is the live
 * tasks (a hash map by id, entries removed at TASK_END) and the Ps: a
 * trace of 10 million events that never has more than a few thousand
 * tasks alive runs in a few megabytes.
 *
 * Rejected: a two-pass design (index every task's events, then analyse
 * each task) - it needs memory or seeks per task and cannot stream a
 * trace from a pipe; keeping every interval for the commands to sort -
 * memory grows with the trace; per-command state machines - four copies
 * of the same subtle rules (handoffs, a P released by a stop without an
 * event, syscalls that return on another P).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "tool.h"
#include "u64map.h"

const char *const pcat_name[PC_MAX] = {
	[PC_RUN] = "running", [PC_SYSCALL] = "syscall", [PC_SCHED] = "sched",
	[PC_SEARCH] = "search", [PC_IDLE] = "idle",      [PC_STW] = "stw",
};

/* ---- the task map ------------------------------------------------------------- */

struct mtask *model_task(struct model *m, uint64_t id)
{
	return u64map_find(&m->tasks, id);
}

static struct mtask *task_add(struct model *m, uint64_t id)
{
	bool added;
	struct mtask *t = u64map_insert(&m->tasks, id, &added);

	if (!added)
		return t;
	t->id = id;
	t->p = -1;
	t->since = m->now;
	if (m->tasks.n > m->max_live)
		m->max_live = m->tasks.n;
	return t;
}

/* Remove @t: other tasks may move (u64map.h), so no other pointer survives it. */
static void task_del(struct model *m, struct mtask *t)
{
	u64map_remove(&m->tasks, t);
}

/* ---- Ps --------------------------------------------------------------------------- */

static struct mp *getp(struct model *m, int64_t p)
{
	if (p < 0 || p >= MODEL_MAX_P) {
		m->anomalies++;
		return NULL;
	}
	if (p >= m->np) {
		int np = (int)p + 1, cap = m->busy_cap;
		struct mp *n = tool_realloc(m->ps, (size_t)np, sizeof(*n));
		for (int i = m->np; i < np; i++) {
			memset(&n[i], 0, sizeof(n[i]));
			n[i].cat = PC_IDLE;
			m->ncat[PC_IDLE]++;
			/* The Ps of the header exist from the first event on. */
			n[i].since = i < m->procs ? m->first_ts : m->now;
			n[i].m = -1;
		}
		m->ps = n;
		m->np = np;
		if (np + 1 > cap) {
			uint64_t *b = tool_realloc(m->busy_time, (size_t)(np + 1), sizeof(*b));
			memset(b + cap, 0, (size_t)(np + 1 - cap) * sizeof(*b));
			m->busy_time = b;
			m->busy_cap = np + 1;
		}
	}
	m->ps[p].seen = true;
	return &m->ps[p];
}

static int pcat_of(const struct model *m, const struct mp *p, int id)
{
	if (p->cur)
		return p->insys ? PC_SYSCALL : PC_RUN;
	if (m->stw && id != m->stw_p)
		return PC_STW;
	if (!p->held)
		return PC_IDLE;
	return m->nrunnable > 0 ? PC_SCHED : PC_SEARCH;
}

static void p_update(struct model *m, int id)
{
	struct mp *p = &m->ps[id];
	int c = pcat_of(m, p, id);

	if (c == p->cat)
		return;
	if (m->now > p->since)
		p->time[p->cat] += m->now - p->since;
	m->ncat[p->cat]--;
	m->ncat[c]++;
	p->cat = (uint8_t)c;
	p->since = m->now;
}

static void all_update(struct model *m)
{
	for (int i = 0; i < m->np; i++)
		p_update(m, i);
}

static void runnable_add(struct model *m, int d)
{
	int64_t before = m->nrunnable;

	m->nrunnable += d;
	if (m->nrunnable < 0) {
		m->nrunnable = 0;
		m->anomalies++;
	}
	if ((before > 0) != (m->nrunnable > 0))
		all_update(m);
}

/* The number of Ps with a task changes: close the segment. */
static void busy_set(struct model *m, int nbusy, uint64_t only)
{
	if (nbusy == m->nbusy && only == m->busy_only)
		return;
	if (m->now > m->busy_since) {
		int k = m->nbusy < m->busy_cap ? m->nbusy : m->busy_cap - 1;
		if (k >= 0 && m->busy_time)
			m->busy_time[k] += m->now - m->busy_since;
		if (m->h.busy)
			m->h.busy(m->h.ctx, m, m->nbusy, m->busy_since, m->now, m->busy_only);
	}
	m->nbusy = nbusy;
	m->busy_only = only;
	m->busy_since = m->now;
}

static void busy_recount(struct model *m)
{
	int n = 0;
	uint64_t only = 0;

	for (int i = 0; i < m->np; i++)
		if (m->ps[i].cur) {
			n++;
			only = m->ps[i].cur;
		}
	busy_set(m, n, n == 1 ? only : 0);
}

/* ---- transitions ------------------------------------------------------------------- */

uint64_t model_span_now(struct model *m, const struct mtask *t)
{
	if (t->state == WEFT_TF_T_RUNNING && m->now > t->since)
		return t->span + (m->now - t->since);
	return t->span;
}

const char *model_fn_name(struct model *m, const struct mtask *t)
{
	return names_get(&m->fns, t->fn);
}

static void note_span(struct model *m, const struct mtask *t)
{
	if (t->span > m->span) {
		m->span = t->span;
		m->span_task = t->id;
		m->span_hops = t->hops;
		m->span_fn = t->fn;
	}
}

/*
 * The task an event names, made if this is the first event of it (one
 * other than its creation); NULL for task 0, counted as an anomaly.
 */
static struct mtask *task_get(struct model *m, uint64_t id)
{
	struct mtask *t = model_task(m, id);

	if (t)
		return t;
	if (!id) {
		m->anomalies++;
		return NULL;
	}
	t = task_add(m, id);
	if (m->h.task_new)
		m->h.task_new(m->h.ctx, m, t, 0, false);
	return t;
}

/* Count the run of @t (running on @pid since t->since) up to now, and report it. */
static void run_account(struct model *m, struct mtask *t, int pid, int why)
{
	uint64_t d = m->now > t->since ? m->now - t->since : 0;

	t->exec += d;
	t->span += d;
	m->work += d;
	note_span(m, t);
	if (m->h.run)
		m->h.run(m->h.ctx, m, t, pid, t->since, m->now, why);
}

/* End the run of @t (running or in a syscall on its P) at now. */
static void run_end(struct model *m, struct mtask *t, int why)
{
	if (t->state == WEFT_TF_T_RUNNING)
		run_account(m, t, t->p, why);
	if (t->p >= 0 && t->p < m->np && m->ps[t->p].cur == t->id) {
		struct mp *p = &m->ps[t->p];
		p->cur = 0;
		p->insys = false;
		p->last_end = p->held ? m->now : 0;
		p_update(m, t->p);
	}
	t->p = -1;
	t->since = m->now;
	busy_recount(m);
}

/* @t stops waiting (runnable, blocked, in a syscall) at now. */
static void wait_end(struct model *m, struct mtask *t, uint64_t by)
{
	if ((t->state == WEFT_TF_T_RUNNABLE || t->state == WEFT_TF_T_BLOCKED || t->state == WEFT_TF_T_SYSCALL) &&
	    m->h.wait)
		m->h.wait(m->h.ctx, m, t, t->state, t->since, m->now, by);
	if (t->state == WEFT_TF_T_RUNNABLE)
		runnable_add(m, -1);
}

/* @t starts running on @pid now. */
static void run_begin(struct model *m, struct mtask *t, int pid)
{
	struct mp *p = &m->ps[pid];

	if (p->cur && p->cur != t->id) {
		/* The P's previous task never said it stopped. */
		struct mtask *o = model_task(m, p->cur);
		m->anomalies++;
		if (o) {
			run_end(m, o, WHY_LOST);
			o->state = WEFT_TF_T_NONE;
		} else {
			p->cur = 0;
		}
	}
	if (!p->held) { /* a P runs a task only when held: the PROC_START was missed */
		p->held = true;
		p->last_end = 0;
	}
	if (p->last_end && m->h.gap && m->now >= p->last_end)
		m->h.gap(m->h.ctx, m, pid, p->last_end, m->now);
	p->last_end = 0;
	p->cur = t->id;
	p->insys = false;
	p->run_start = m->now;
	t->state = WEFT_TF_T_RUNNING;
	t->p = (int16_t)pid;
	t->since = m->now;
	m->starts++;
	p_update(m, pid);
	busy_recount(m);
}

static void set_runnable(struct model *m, struct mtask *t)
{
	t->state = WEFT_TF_T_RUNNABLE;
	t->since = m->now;
	runnable_add(m, 1);
}

/* Whether @t is in a state that event @type leaves from (the traits). */
static inline bool legal(const struct mtask *t, int type)
{
	return (weft_tf_traits[type].from & WEFT_TF_SBIT(t->state)) != 0;
}

/* The task of @ev (its argument 0), or NULL to skip the event; *@ok: it is
 * in a state @ev leaves from; if not, the anomaly is counted. */
static struct mtask *task_of(struct model *m, const weft_tr_event *ev, bool *ok)
{
	struct mtask *t = task_get(m, ev->args[0]);

	*ok = t && legal(t, ev->type);
	if (t && !*ok)
		m->anomalies++;
	return t;
}

static void ev_create(struct model *m, const weft_tr_event *ev)
{
	uint64_t id = ev->args[0], parent = ev->args[1];
	struct mtask *t, *pt;

	if (!id) {
		m->anomalies++;
		return;
	}
	if ((t = model_task(m, id))) { /* an id seen before its creation */
		m->anomalies++;
		wait_end(m, t, 0);
		if (t->state == WEFT_TF_T_RUNNING || t->state == WEFT_TF_T_SYSCALL)
			run_end(m, t, WHY_LOST);
	} else {
		t = task_add(m, id);
	}
	m->tasks_created++;
	t->fn = names_intern(&m->fns, ev->args[2]);
	t->site = names_intern(&m->sites, ev->args[3]);
	t->span = 0;
	t->hops = 0;
	/* The task is re-looked up: task_add may have moved the table. */
	if ((pt = model_task(m, parent))) {
		t = model_task(m, id);
		t->span = model_span_now(m, pt);
		t->hops = pt->hops + 1;
	}
	t->since = m->now;
	set_runnable(m, t);
	if (m->h.task_new)
		m->h.task_new(m->h.ctx, m, t, parent, true);
}

static void ev_state(struct model *m, const weft_tr_event *ev)
{
	struct mtask *t = task_get(m, ev->args[0]);

	if (!t)
		return;
	t->fn = names_intern(&m->fns, ev->args[3]);
	switch (ev->args[1]) {
	case WEFT_TRACE_STATE_RUNNABLE:
		if (t->state != WEFT_TF_T_RUNNABLE)
			set_runnable(m, t);
		break;
	case WEFT_TRACE_STATE_RUNNING:
		if (ev->p >= 0 && getp(m, ev->p))
			run_begin(m, t, ev->p);
		break;
	case WEFT_TRACE_STATE_BLOCKED:
		t->state = WEFT_TF_T_BLOCKED;
		t->reason = (uint8_t)(ev->args[2] < WEFT_TRACE_BLOCK_MAX ? ev->args[2] : 0);
		t->since = m->now;
		break;
	case WEFT_TRACE_STATE_SYSCALL:
		t->state = WEFT_TF_T_SYSCALL;
		t->reason = WEFT_TRACE_BLOCK_SYSCALL;
		t->since = m->now;
		break;
	default:
		m->anomalies++;
	}
}

static void ev_start(struct model *m, const weft_tr_event *ev)
{
	struct mtask *t = task_get(m, ev->args[0]);

	if (!t)
		return;
	if (ev->p < 0 || !getp(m, ev->p)) {
		m->anomalies++;
		return;
	}
	t = model_task(m, ev->args[0]); /* getp does not move tasks; keep it simple */
	if (t->state == WEFT_TF_T_RUNNING || t->state == WEFT_TF_T_SYSCALL) {
		if (t->p == ev->p && t->state == WEFT_TF_T_RUNNING)
			return; /* a duplicate */
		m->anomalies++;
		run_end(m, t, WHY_LOST);
	} else if (t->state == WEFT_TF_T_BLOCKED) {
		/* Its unblock is still to come (ordered after, or lost). */
		m->anomalies++;
		wait_end(m, t, 0);
	} else if (t->state == WEFT_TF_T_RUNNABLE) {
		wait_end(m, t, 0);
	}
	run_begin(m, t, ev->p);
}

/* END, YIELD, BLOCK: @t leaves its P. */
static struct mtask *stop_running(struct model *m, uint64_t id, int why)
{
	struct mtask *t = task_get(m, id);

	if (!t)
		return NULL;
	if (t->state == WEFT_TF_T_RUNNING || t->state == WEFT_TF_T_SYSCALL) {
		run_end(m, t, why);
	} else {
		m->anomalies++;
		wait_end(m, t, 0);
	}
	return t;
}

static void ev_end(struct model *m, const weft_tr_event *ev)
{
	struct mtask *t = stop_running(m, ev->args[0], WHY_END);

	if (!t)
		return;
	m->tasks_ended++;
	note_span(m, t);
	if (m->h.task_gone)
		m->h.task_gone(m->h.ctx, m, t, true);
	task_del(m, t);
}

static void ev_unblock(struct model *m, const weft_tr_event *ev)
{
	struct mtask *t = task_get(m, ev->args[0]), *by;

	if (!t)
		return;
	if (t->state != WEFT_TF_T_NONE && !legal(t, WEFT_TEV_TASK_UNBLOCK)) {
		m->anomalies++; /* ordered after its start, or a stray */
		return;
	}
	if ((by = model_task(m, ev->args[1])) && by != t) {
		uint64_t s = model_span_now(m, by);
		if (s > t->span) {
			t->span = s;
			t->hops = by->hops + 1;
		}
		/* A rendezvous on a channel goes both ways: the waker took the
		 * value the blocked task left (or gave it one), so it cannot be
		 * ahead of where the blocked task stopped. */
		if ((t->reason == WEFT_TRACE_BLOCK_CHAN_SEND || t->reason == WEFT_TRACE_BLOCK_CHAN_RECV ||
		     t->reason == WEFT_TRACE_BLOCK_SELECT) &&
		    t->state == WEFT_TF_T_BLOCKED && t->span > model_span_now(m, by)) {
			uint64_t ran = by->state == WEFT_TF_T_RUNNING && m->now > by->since ? m->now - by->since : 0;
			by->span = t->span - ran;
			by->hops = t->hops + 1;
		}
	}
	wait_end(m, t, ev->args[1]);
	set_runnable(m, t);
}

static void ev_syscall_enter(struct model *m, const weft_tr_event *ev)
{
	bool ok;
	struct mtask *t = task_of(m, ev, &ok);

	if (!t)
		return;
	if (!ok) {
		if (ev->p >= 0 && getp(m, ev->p)) {
			t = model_task(m, ev->args[0]);
			wait_end(m, t, 0);
			run_begin(m, t, ev->p);
		}
	}
	int pid = t->p;
	if (t->state == WEFT_TF_T_RUNNING)
		run_account(m, t, pid, WHY_SYSCALL);
	t->state = WEFT_TF_T_SYSCALL;
	t->reason = WEFT_TRACE_BLOCK_SYSCALL;
	t->site = names_intern(&m->sites, ev->args[1]);
	t->since = m->now;
	if (pid >= 0 && pid < m->np && m->ps[pid].cur == t->id) {
		m->ps[pid].insys = true;
		p_update(m, pid);
	}
}

static void ev_syscall_exit(struct model *m, const weft_tr_event *ev)
{
	bool ok;
	struct mtask *t = task_of(m, ev, &ok);

	if (!t || !ok)
		return;
	int old = t->p;
	wait_end(m, t, 0);
	if (old >= 0 && old < m->np && m->ps[old].cur == t->id &&
	    (ev->p != old || !m->ps[old].held)) {
		m->ps[old].cur = 0;
		m->ps[old].insys = false;
		p_update(m, old);
	}
	if (ev->p >= 0 && getp(m, ev->p)) {
		struct mp *p = &m->ps[ev->p];
		if (p->cur == t->id) { /* back on its own P: the run goes on */
			p->insys = false;
			t->state = WEFT_TF_T_RUNNING;
			t->since = m->now;
			p_update(m, ev->p);
			busy_recount(m);
		} else {
			t->p = -1;
			run_begin(m, t, ev->p);
		}
	} else {
		t->p = -1;
		set_runnable(m, t);
		busy_recount(m);
	}
}

static void ev_proc_start(struct model *m, const weft_tr_event *ev)
{
	struct mp *p = getp(m, (int64_t)ev->args[0]);

	if (!p)
		return;
	if (!p->held)
		p->last_end = 0;
	p->held = true;
	p->m = (int64_t)ev->args[1];
	p_update(m, (int)ev->args[0]);
}

static void ev_proc_stop(struct model *m, const weft_tr_event *ev)
{
	int id = (int)ev->args[0];
	struct mp *p = getp(m, (int64_t)ev->args[0]);

	if (!p)
		return;
	if (p->cur) {
		struct mtask *t = model_task(m, p->cur);
		m->anomalies++;
		if (t) {
			run_end(m, t, WHY_LOST);
			t->state = WEFT_TF_T_NONE;
		}
		p = &m->ps[id];
		p->cur = 0;
	}
	p->held = false;
	p->m = -1;
	p->last_end = 0;
	p_update(m, id);
}

static void ev_handoff(struct model *m, const weft_tr_event *ev)
{
	int id = (int)ev->args[0];
	struct mp *p = getp(m, (int64_t)ev->args[0]);

	if (!p)
		return;
	if (p->cur) {
		struct mtask *t = model_task(m, p->cur);
		if (t)
			t->p = -1; /* it stays in its syscall, without a P */
		p->cur = 0;
		p->insys = false;
	}
	/* The monitor gives it to another thread (PROC_START follows) or idles it. */
	p->held = false;
	p->m = -1;
	p->last_end = 0;
	p_update(m, id);
	busy_recount(m);
}

static void ev_stw_begin(struct model *m, const weft_tr_event *ev)
{
	m->stw = true;
	m->stw_p = ev->p;
	m->stw_start = m->now;
	all_update(m);
}

static void ev_stw_end(struct model *m, const weft_tr_event *ev)
{
	(void)ev;
	if (!m->stw)
		m->anomalies++;
	m->stw = false;
	/* The other Ps parked without an event; PROC_START brings them back. */
	for (int i = 0; i < m->np; i++) {
		struct mp *p = &m->ps[i];
		if (i == m->stw_p)
			continue;
		if (p->cur) {
			struct mtask *t = model_task(m, p->cur);
			if (t && t->state == WEFT_TF_T_SYSCALL) {
				t->p = -1;
				p->cur = 0;
				p->insys = false;
			} else {
				continue; /* still running: it was not stopped (or we missed it) */
			}
		}
		p->held = false;
		p->m = -1;
		p->last_end = 0;
	}
	m->stw_p = -1;
	all_update(m);
	busy_recount(m);
}

void model_init(struct model *m, weft_tr *t, const struct model_hooks *h)
{
	memset(m, 0, sizeof(*m));
	if (h)
		m->h = *h;
	weft_tr_info info;

	weft_tr_get_info(t, &info);
	m->procs = info.procs > 0 && info.procs <= MODEL_MAX_P ? info.procs : 0;
	m->end_ts = info.end_ts;
	names_init(&m->fns, t);
	names_init(&m->sites, t);
	m->stw_p = -1;
	u64map_init(&m->tasks, sizeof(struct mtask), U64MAP_IDS);
	m->busy_time = tool_calloc(2, sizeof(*m->busy_time));
	m->busy_cap = 2;
}

void model_event(struct model *m, const weft_tr_event *ev)
{
	if (!m->started) {
		m->started = true;
		m->first_ts = m->now = m->busy_since = ev->ts;
		for (int i = 0; i < m->procs; i++)
			getp(m, i);
	}
	if (ev->ts > m->now)
		m->now = ev->ts;
	switch (ev->type) {
	case WEFT_TEV_PROC_START: ev_proc_start(m, ev); break;
	case WEFT_TEV_PROC_STOP: ev_proc_stop(m, ev); break;
	case WEFT_TEV_TASK_CREATE: ev_create(m, ev); break;
	case WEFT_TEV_TASK_START: ev_start(m, ev); break;
	case WEFT_TEV_TASK_END: ev_end(m, ev); break;
	case WEFT_TEV_TASK_YIELD: {
		struct mtask *t = stop_running(m, ev->args[0], WHY_YIELD);
		if (t)
			set_runnable(m, t);
		break;
	}
	case WEFT_TEV_TASK_BLOCK: {
		uint64_t id = ev->args[0];
		struct mtask *t = stop_running(m, id, WHY_BLOCK);
		if (t) {
			uint32_t site = names_intern(&m->sites, ev->args[3]);
			t->state = WEFT_TF_T_BLOCKED;
			t->reason = (uint8_t)(ev->args[1] < WEFT_TRACE_BLOCK_MAX ? ev->args[1] : 0);
			t->obj = ev->args[2];
			t->site = site;
			t->since = m->now;
		}
		break;
	}
	case WEFT_TEV_TASK_UNBLOCK: ev_unblock(m, ev); break;
	case WEFT_TEV_SYSCALL_ENTER: ev_syscall_enter(m, ev); break;
	case WEFT_TEV_SYSCALL_EXIT: ev_syscall_exit(m, ev); break;
	case WEFT_TEV_SYSCALL_HANDOFF: ev_handoff(m, ev); break;
	case WEFT_TEV_STW_BEGIN: ev_stw_begin(m, ev); break;
	case WEFT_TEV_STW_END: ev_stw_end(m, ev); break;
	case WEFT_TEV_TASK_STATE: ev_state(m, ev); break;
	default:
		break; /* STALL, M_CREATE, STEAL, annotations: no state */
	}
}

void model_finish(struct model *m)
{
	/* Close every run and wait when tracing stopped: after the last
	 * event, if the writer recorded when (a P may have run on since). */
	if (m->started && m->end_ts > m->now)
		m->now = m->end_ts;
	for (size_t i = 0; i < m->tasks.cap; i++) {
		struct mtask *t = u64map_val(&m->tasks, i);
		if (!m->tasks.keys[i])
			continue;
		if (t->state == WEFT_TF_T_RUNNING) {
			run_account(m, t, t->p, WHY_TRACE_END);
			t->since = m->now;
		} else if (t->state == WEFT_TF_T_RUNNABLE || t->state == WEFT_TF_T_BLOCKED ||
			   t->state == WEFT_TF_T_SYSCALL) {
			if (m->h.wait)
				m->h.wait(m->h.ctx, m, t, t->state, t->since, m->now, 0);
		}
		if (m->h.task_gone)
			m->h.task_gone(m->h.ctx, m, t, false);
	}
	for (int i = 0; i < m->np; i++) {
		struct mp *p = &m->ps[i];
		if (m->now > p->since)
			p->time[p->cat] += m->now - p->since;
		p->since = m->now;
	}
	busy_set(m, -1, 0); /* closes the last segment */
}

void model_free(struct model *m)
{
	u64map_free(&m->tasks);
	free(m->ps);
	free(m->busy_time);
	names_free(&m->fns);
	names_free(&m->sites);
}

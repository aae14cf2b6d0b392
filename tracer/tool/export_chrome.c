/*
 * export_chrome.c - weft-trace export --format chrome: the trace as
 * Chrome's Trace Event Format (JSON), which chrome://tracing, catapult
 * and (as a "legacy, best-effort" format) Perfetto's UI open. At about
 * 150 bytes an event it is for small traces: above 1 M events or 256 MB
 * it says so and points to --format perfetto (export_perfetto.c).
 *
 * Layout of the output:
 *   process 1 "Ps": a row (thread) per P with a complete slice ("X") for
 *     every run of a task, named "fn #id", whose args say how it ended
 *     ("end") and, for a block, why and where ("block": "net read",
 *     "site": "server+0x2b", the names of weft_tr_block_name and the
 *     call site); the user's regions as slices
 *     nested in the runs; logs as instant events; a "stop-the-world" row;
 *     a "wakeups" row for unblocks that no running task made (timers, the
 *     monitor, plain threads); counters (runnable, running, in syscall).
 *   process 2 "threads": a row per M with its syscalls.
 *   process 3 "user tasks": user tasks as async slices ("b"/"e").
 *   Flow arrows ("s"/"f") from each create and unblock to the start of
 *   the run it caused.
 *
 * Rules the output keeps, because importers rely on them (and the tests
 * check them): slices on one row nest (a region's slice is cut into one
 * piece per run of its task, so it never straddles a task switch); every
 * flow has both ends - a flow is written only when the run it leads to
 * starts, from the source remembered in the task's model entry, so an
 * unblock whose task never ran again in the trace leaves no dangling
 * arrow; a flow's start is a zero-length marker slice ("wake #id") inside
 * the waking task's run (or a 2 ns one on the wakeups row) at the same
 * time and category, and its end ("f", binding to the next slice) the
 * exact start of the run: that satisfies catapult and Perfetto (which
 * bind a flow to the enclosing or next slice) and Chrome DevTools (which
 * binds it to the slice of the same category, row and time) alike.
 * Where a nested slice would start at the same nanosecond as its parent
 * it is moved 1 ns later, so that no importer has to guess which of two
 * slices that begin together is the parent. For the same reason every
 * event gets a nanosecond of its own: trace ticks are 20-30 ns, so a task
 * that spawns or wakes two tasks within one tick would put two markers at
 * one time on one row, and DevTools binds both flows to the first; an
 * event that ties the one before it is moved 1 ns after it (a shift of a
 * few ns that the next gap absorbs; the order is the reader's).
 *
 * Streaming: slices are written when they end; memory is the model plus
 * the open regions and user tasks. Counters are written at most once per
 * microsecond of trace time (the latest values), which keeps the file
 * proportional to the events without losing any level that lasted longer.
 *
 * Rejected: flow events version 2 (bind_id on slices: a slice has one bind id, but a run
 * may create and wake many tasks).
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "export.h"
#include "model.h"
#include "pipe.h"
#include "tool.h"
#include "u64map.h"

#define PID_P 1
#define PID_M 2
#define PID_U 3
#define TID_STW 100000
#define TID_WAKE 100001
#define MAX_DEPTH 64
#define MAX_NAMED_M 65536

struct region {
	char *name[MAX_DEPTH];
	uint64_t begin[MAX_DEPTH];
	int depth, lost; /* lost: regions deeper than MAX_DEPTH */
};

struct ctx {
	FILE *f;
	struct model *m;
	uint64_t from, to;
	bool first;
	int cur_p;             /* the P of the event being applied */
	const weft_tr_event *ev; /* that event */
	uint64_t flow_id;
	uint64_t wake_end;     /* end of the last wake slice */
	struct u64map regions; /* task -> struct region */
	struct u64map utasks;  /* utask -> name (malloc'd) */
	uint8_t *named_m;
	int named_p;           /* Ps whose rows are named: [0, named_p) */
	bool stw;
	uint64_t stw_start;
	int stw_reason;
	/* counters */
	int64_t c_runnable, c_running, c_syscall;
	uint64_t c_last;
	bool c_dirty, c_any;
	uint64_t nsys;
};

static const char *const why_name[] = {
	[WHY_END] = "end",         [WHY_YIELD] = "yield",    [WHY_BLOCK] = "block",
	[WHY_SYSCALL] = "syscall", [WHY_HANDOFF] = "handoff", [WHY_LOST] = "lost",
	[WHY_TRACE_END] = "trace end",
};

static const char *const stw_reason_name[] = { "user", "set_procs", "trace" };

static void ev_sep(struct ctx *c)
{
	if (c->first) {
		c->first = false;
		fputs("\n", c->f);
	} else {
		fputs(",\n", c->f);
	}
}

static void ts(FILE *f, uint64_t ns)
{
	fprintf(f, "%" PRIu64 ".%03u", ns / 1000, (unsigned)(ns % 1000));
}

static void meta(struct ctx *c, int pid, int64_t tid, const char *what, const char *name, int sort)
{
	ev_sep(c);
	fprintf(c->f, "{\"ph\":\"M\",\"pid\":%d,", pid);
	if (tid >= 0)
		fprintf(c->f, "\"tid\":%" PRId64 ",", tid);
	fprintf(c->f, "\"name\":\"%s\",\"args\":{\"name\":", what);
	json_str(c->f, name);
	fputs("}}", c->f);
	if (sort >= 0 && tid >= 0) {
		ev_sep(c);
		fprintf(c->f,
			"{\"ph\":\"M\",\"pid\":%d,\"tid\":%" PRId64 ",\"name\":\"thread_sort_index\","
			"\"args\":{\"sort_index\":%d}}",
			pid, tid, sort);
	}
}

static void name_p(struct ctx *c, int p)
{
	char buf[32];

	while (c->named_p <= p) {
		snprintf(buf, sizeof(buf), "P%d", c->named_p);
		meta(c, PID_P, c->named_p, "thread_name", buf, c->named_p);
		c->named_p++;
	}
}

static void name_m(struct ctx *c, int64_t mid)
{
	char buf[32];

	if (mid < 0 || mid >= MAX_NAMED_M || (c->named_m[mid / 8] & (1u << (mid % 8))))
		return;
	c->named_m[mid / 8] |= (uint8_t)(1u << (mid % 8));
	snprintf(buf, sizeof(buf), "M%" PRId64, mid);
	meta(c, PID_M, mid, "thread_name", buf, (int)mid);
}

/* A complete slice [t0, t1] clipped to the window; false if outside. */
static bool slice(struct ctx *c, int pid, int64_t tid, uint64_t t0, uint64_t t1, const char *name,
		  const char *cat)
{
	if (t1 < c->from || t0 > c->to)
		return false;
	if (t0 < c->from)
		t0 = c->from;
	if (t1 > c->to)
		t1 = c->to;
	if (t1 < t0)
		t1 = t0;
	ev_sep(c);
	fprintf(c->f, "{\"ph\":\"X\",\"pid\":%d,\"tid\":%" PRId64 ",\"cat\":\"%s\",\"ts\":", pid, tid,
		cat);
	ts(c->f, t0);
	fputs(",\"dur\":", c->f);
	ts(c->f, t1 - t0);
	fputs(",\"name\":", c->f);
	json_str(c->f, name);
	return true; /* the caller adds args and closes the object */
}

static bool inside(const struct ctx *c, uint64_t t)
{
	return t >= c->from && t <= c->to;
}

/* @t moved into the window [from, to]. */
static uint64_t clip(const struct ctx *c, uint64_t t)
{
	return t < c->from ? c->from : t > c->to ? c->to : t;
}

/* A user task's async event (@ph 'b' begin or 'e' end) up to its name; the caller closes it. */
static void utask_event(struct ctx *c, char ph, uint64_t id, uint64_t at, const char *name)
{
	ev_sep(c);
	fprintf(c->f, "{\"ph\":\"%c\",\"pid\":%d,\"tid\":0,\"cat\":\"utask\",\"id\":%" PRIu64
		      ",\"ts\":",
		ph, PID_U, id);
	ts(c->f, at);
	fputs(",\"name\":", c->f);
	json_str(c->f, name);
}

/* ---- counters ---------------------------------------------------------------- */

static void counters(struct ctx *c, bool force)
{
	struct model *m = c->m;
	int64_t running = 0, sys = 0;

	for (int i = 0; i < m->np; i++)
		if (m->ps[i].cur && !m->ps[i].insys)
			running++;
	sys = (int64_t)c->nsys;
	if (c->c_any && running == c->c_running && sys == c->c_syscall &&
	    m->nrunnable == c->c_runnable && !c->c_dirty)
		return;
	if (!force && c->c_any && m->now < c->c_last + 1000) {
		c->c_dirty = true;
		return;
	}
	if (!inside(c, m->now))
		return;
	c->c_running = running;
	c->c_syscall = sys;
	c->c_runnable = m->nrunnable;
	c->c_last = m->now;
	c->c_dirty = false;
	c->c_any = true;
	ev_sep(c);
	fprintf(c->f, "{\"ph\":\"C\",\"pid\":%d,\"name\":\"tasks\",\"ts\":", PID_P);
	ts(c->f, m->now);
	fprintf(c->f,
		",\"args\":{\"runnable\":%" PRId64 ",\"running\":%" PRId64 ",\"syscall\":%" PRId64
		"}}",
		c->c_runnable, running, sys);
}

/* ---- regions ------------------------------------------------------------------- */

static void region_piece(struct ctx *c, struct mtask *t, int p, uint64_t b, uint64_t e,
			 const char *name, uint64_t run_start)
{
	if (b < run_start)
		b = run_start;
	if (b == run_start && e > b + 1)
		b++; /* never start together with the run's slice: see the essay */
	if (slice(c, PID_P, p, b, e, name, "region")) {
		fprintf(c->f, ",\"args\":{\"task\":%" PRIu64 "}}", t->id);
	}
}

static void region_free(struct region *r)
{
	if (!r)
		return;
	for (int i = 0; i < r->depth && i < MAX_DEPTH; i++)
		free(r->name[i]);
	free(r);
}

/* ---- hooks ---------------------------------------------------------------------- */

static void h_run(void *x, struct model *m, struct mtask *t, int p, uint64_t t0, uint64_t t1,
		  int why)
{
	struct ctx *c = x;
	char name[300];

	if (p < 0)
		return;
	name_p(c, p);
	snprintf(name, sizeof(name), "%s #%" PRIu64, model_fn_name(m, t), t->id);
	if (slice(c, PID_P, p, t0, t1, name, "task")) {
		fprintf(c->f, ",\"args\":{\"task\":%" PRIu64 ",\"fn\":", t->id);
		json_str(c->f, model_fn_name(m, t));
		fprintf(c->f, ",\"end\":\"%s\"", why_name[why]);
		const weft_tr_event *ev = c->ev;
		if (why == WHY_BLOCK && ev && ev->type == WEFT_TEV_TASK_BLOCK && ev->args[0] == t->id) {
			fprintf(c->f, ",\"block\":\"%s\",\"site\":",
				weft_tr_block_name(ev->args[1] < WEFT_TRACE_BLOCK_MAX ? (int)ev->args[1] : 0));
			json_str(c->f, names_get(&m->sites, names_intern(&m->sites, ev->args[3])));
		}
		fputs("}}", c->f);
	}
	/* Pieces of the regions still open, outermost first. */
	struct region *r = u64map_get_ptr(&c->regions, t->id);
	if (r)
		for (int i = 0; i < r->depth && i < MAX_DEPTH; i++)
			region_piece(c, t, p, r->begin[i], t1, r->name[i], t0);
}

static void h_gone(void *x, struct model *m, struct mtask *t, bool ended)
{
	struct ctx *c = x;
	(void)m, (void)ended;
	region_free(u64map_take_ptr(&c->regions, t->id));
}

/*
 * Remember where the flow to @t's next start comes from, and mark the spot:
 * a zero-length slice "wake #id" (or "create #id") inside the running
 * task's slice, or a 2 ns one on the wakeups row when no task made it.
 * The flow's start is bound to that slice: catapult and Perfetto bind it
 * to the enclosing slice, Chrome DevTools to the slice with the same
 * category, row and time - the marker is both.
 */
static void flow_from(struct ctx *c, struct mtask *t, int p, bool create)
{
	struct model *m = c->m;
	uint64_t at = m->now;
	char name[64];

	snprintf(name, sizeof(name), "%s #%" PRIu64, create ? "create" : "wake", t->id);
	if (p >= 0 && p < m->np && m->ps[p].cur && !m->ps[p].insys) {
		if (slice(c, PID_P, p, at, at, name, "task"))
			fprintf(c->f, ",\"args\":{\"task\":%" PRIu64 "}}", t->id);
		t->aux = at;
		t->aux2 = (uint32_t)p + 1;
		return;
	}
	if (at < c->wake_end)
		at = c->wake_end;
	c->wake_end = at + 2;
	if (slice(c, PID_P, TID_WAKE, at, at + 2, name, "task"))
		fprintf(c->f, ",\"args\":{\"task\":%" PRIu64 "}}", t->id);
	t->aux = at;
	t->aux2 = UINT32_MAX;
}

static void h_new(void *x, struct model *m, struct mtask *t, uint64_t parent, bool created)
{
	struct ctx *c = x;
	(void)m, (void)parent;
	t->aux = 0;
	t->aux2 = 0;
	if (created)
		flow_from(c, t, c->cur_p, true);
}

/* @t starts running on @p now: draw its pending flow. */
static void flow_to(struct ctx *c, struct mtask *t, int p)
{
	if (!t->aux2)
		return;
	uint64_t src = t->aux;
	int64_t stid = t->aux2 == UINT32_MAX ? TID_WAKE : (int64_t)t->aux2 - 1;
	t->aux = 0;
	t->aux2 = 0;
	if (!inside(c, src) || !inside(c, c->m->now))
		return;
	uint64_t id = ++c->flow_id;
	ev_sep(c);
	fprintf(c->f, "{\"ph\":\"s\",\"pid\":%d,\"tid\":%" PRId64 ",\"id\":%" PRIu64
		      ",\"cat\":\"task\",\"name\":\"wake\",\"ts\":",
		PID_P, stid, id);
	ts(c->f, src);
	fputs("}", c->f);
	ev_sep(c);
	fprintf(c->f, "{\"ph\":\"f\",\"pid\":%d,\"tid\":%d,\"id\":%" PRIu64
		      ",\"cat\":\"task\",\"name\":\"wake\",\"ts\":",
		PID_P, p, id);
	ts(c->f, c->m->now);
	fputs("}", c->f);
}

/* ---- events --------------------------------------------------------------------- */

static void on_event(struct ctx *c, const weft_tr_event *ev)
{
	struct model *m = c->m;
	struct mtask *t;

	switch (ev->type) {
	case WEFT_TEV_TASK_START:
		t = model_task(m, ev->args[0]);
		if (t && t->state == WEFT_TF_T_RUNNING && t->p == ev->p && ev->p >= 0)
			flow_to(c, t, ev->p);
		break;
	case WEFT_TEV_TASK_UNBLOCK:
		t = model_task(m, ev->args[0]);
		if (t && t->state == WEFT_TF_T_RUNNABLE && t->since == m->now)
			flow_from(c, t, ev->p, false);
		break;
	case WEFT_TEV_REGION_BEGIN: {
		struct region *r = u64map_get_ptr(&c->regions, ev->args[0]);
		if (!r) {
			r = tool_calloc(1, sizeof(*r));
			u64map_put_ptr(&c->regions, ev->args[0], r);
		}
		if (r->depth < MAX_DEPTH) {
			r->name[r->depth] = strdup(ev->str[0] ? ev->str[0] : "region");
			r->begin[r->depth] = ev->ts;
			r->depth++;
		} else {
			r->lost++;
		}
		break;
	}
	case WEFT_TEV_REGION_END: {
		struct region *r = u64map_get_ptr(&c->regions, ev->args[0]);
		if (!r || r->depth == 0)
			break;
		if (r->lost) {
			r->lost--;
			break;
		}
		int i = --r->depth;
		t = model_task(m, ev->args[0]);
		if (t && t->state == WEFT_TF_T_RUNNING && t->p >= 0 && t->p < m->np)
			region_piece(c, t, t->p, r->begin[i], ev->ts, r->name[i] ? r->name[i] : "region",
				     m->ps[t->p].run_start);
		free(r->name[i]);
		r->name[i] = NULL;
		if (r->depth == 0)
			region_free(u64map_take_ptr(&c->regions, ev->args[0]));
		break;
	}
	case WEFT_TEV_LOG:
		if (!inside(c, ev->ts))
			break;
		ev_sep(c);
		fprintf(c->f, "{\"ph\":\"i\",\"s\":\"t\",\"pid\":%d,\"tid\":%" PRId64 ",\"ts\":", PID_P,
			ev->p >= 0 ? (int64_t)ev->p : (int64_t)TID_WAKE);
		ts(c->f, ev->ts);
		fputs(",\"cat\":\"log\",\"name\":", c->f);
		json_str(c->f, ev->str[0] && ev->str[0][0] ? ev->str[0] : "log");
		fprintf(c->f, ",\"args\":{\"task\":%" PRIu64 ",\"utask\":%" PRIu64 ",\"message\":",
			ev->args[0], ev->args[1]);
		json_str(c->f, ev->str[1] ? ev->str[1] : "");
		fputs("}}", c->f);
		break;
	case WEFT_TEV_UTASK_BEGIN: {
		char *name = strdup(ev->str[0] && ev->str[0][0] ? ev->str[0] : "task");
		free(u64map_take_ptr(&c->utasks, ev->args[0]));
		if (!name)
			break;
		u64map_put_ptr(&c->utasks, ev->args[0], name);
		utask_event(c, 'b', ev->args[0], clip(c, ev->ts), name);
		fprintf(c->f, ",\"args\":{\"parent\":%" PRIu64 ",\"task\":%" PRIu64 "}}", ev->args[1],
			ev->args[2]);
		break;
	}
	case WEFT_TEV_UTASK_END: {
		char *name = u64map_take_ptr(&c->utasks, ev->args[0]);
		if (!name)
			break; /* begun before the trace */
		utask_event(c, 'e', ev->args[0], clip(c, ev->ts), name);
		fputs("}", c->f);
		free(name);
		break;
	}
	case WEFT_TEV_STW_BEGIN:
		c->stw = true;
		c->stw_start = ev->ts;
		c->stw_reason = ev->args[0] < 3 ? (int)ev->args[0] : 0;
		break;
	case WEFT_TEV_STW_END:
		if (c->stw && slice(c, PID_P, TID_STW, c->stw_start, ev->ts, "stop-the-world", "stw"))
			fprintf(c->f, ",\"args\":{\"reason\":\"%s\",\"wait_ns\":%" PRIu64 "}}",
				stw_reason_name[c->stw_reason], ev->args[0]);
		c->stw = false;
		break;
	}
}

/* A syscall in progress: drawn on the row of the thread (M) that made it. */
struct sysc {
	uint64_t start;
	int64_t m;
};

int export_chrome(struct export_args *a)
{
	struct ctx c = { 0 };
	struct tool_trace *tt = a->tt;
	struct model m;
	struct u64map sysc; /* task -> struct sysc */
	weft_tr_event *ev;
	int r;

	c.f = a->f;
	c.from = a->from;
	c.to = a->to;
	c.named_m = tool_calloc(MAX_NAMED_M / 8, 1);
	u64map_init(&c.regions, sizeof(struct region *), U64MAP_MIXED);
	u64map_init(&c.utasks, sizeof(char *), U64MAP_MIXED);
	u64map_init(&sysc, sizeof(struct sysc), U64MAP_MIXED);
	c.first = true;
	c.m = &m;
	struct model_hooks h = { .ctx = &c, .run = h_run, .task_gone = h_gone, .task_new = h_new };
	model_init(&m, tt->t, &h);
	fprintf(c.f, "{\"displayTimeUnit\":\"ns\",\"otherData\":{\"generator\":\"weft-trace\","
		     "\"pid\":%d,\"procs\":%d},\"traceEvents\":[",
		tt->info.pid, tt->info.procs);
	char pname[64];
	snprintf(pname, sizeof(pname), "Ps (weft pid %d)", tt->info.pid);
	meta(&c, PID_P, -1, "process_name", pname, -1);
	meta(&c, PID_M, -1, "process_name", "threads (M): syscalls", -1);
	meta(&c, PID_U, -1, "process_name", "user tasks", -1);
	meta(&c, PID_P, TID_STW, "thread_name", "stop-the-world", 100000);
	meta(&c, PID_P, TID_WAKE, "thread_name", "wakeups (timers, threads)", 100001);
	name_p(&c, tt->info.procs > 0 && tt->info.procs <= MODEL_MAX_P ? tt->info.procs - 1 : 0);
	uint64_t last_ts = 0;
	while ((r = tool_next(tt, &ev)) > 0) {
		if (ev->ts > c.to)
			break;
		/* A distinct nanosecond per event (see the essay). */
		if (ev->ts <= last_ts)
			ev->ts = last_ts + 1;
		last_ts = ev->ts;
		c.cur_p = ev->p;
		c.ev = ev;
		if (ev->type == WEFT_TEV_SYSCALL_EXIT) {
			struct sysc *s = u64map_find(&sysc, ev->args[0]);
			struct mtask *t = model_task(&m, ev->args[0]);
			if (s && t) {
				char name[300];
				name_m(&c, s->m);
				snprintf(name, sizeof(name), "syscall: %s #%" PRIu64, model_fn_name(&m, t),
					 t->id);
				if (slice(&c, PID_M, s->m, s->start, ev->ts, name, "syscall")) {
					fprintf(c.f, ",\"args\":{\"task\":%" PRIu64 ",\"site\":", t->id);
					json_str(c.f, names_get(&m.sites, t->site));
					fputs("}}", c.f);
				}
			}
			if (s)
				u64map_remove(&sysc, s);
			if (c.nsys)
				c.nsys--;
		}
		model_event(&m, ev);
		if (ev->type == WEFT_TEV_SYSCALL_ENTER && ev->p >= 0 && ev->p < m.np) {
			struct sysc *s = u64map_insert(&sysc, ev->args[0], NULL);
			if (s) { /* a second enter replaces the first */
				s->start = ev->ts;
				s->m = m.ps[ev->p].m;
			}
			c.nsys++;
		}
		on_event(&c, ev);
		counters(&c, false);
	}
	c.ev = NULL; /* the reader's event is gone; model_finish's runs end no block */
	/* On a damaged trace too: to standard output (a file is removed) the
	 * events before the damage go out as well-formed JSON, the error on
	 * stderr and the exit status say the rest. */
	{
		if (r >= 0 && c.to != UINT64_MAX && c.to > m.now)
			m.now = c.to;
		model_finish(&m);
		if (c.stw && slice(&c, PID_P, TID_STW, c.stw_start, m.now, "stop-the-world", "stw"))
			fprintf(c.f, ",\"args\":{\"reason\":\"%s\"}}", stw_reason_name[c.stw_reason]);
		counters(&c, true);
		/* Close the user tasks still open. */
		for (size_t i = 0; i < c.utasks.cap; i++)
			if (c.utasks.keys[i]) {
				char **name = u64map_val(&c.utasks, i);
				utask_event(&c, 'e', c.utasks.keys[i], m.now < c.to ? m.now : c.to, *name);
				fputs("}", c.f);
			}
		fputs("\n]}\n", c.f);
	}
	for (size_t i = 0; i < c.utasks.cap; i++)
		if (c.utasks.keys[i])
			free(*(char **)u64map_val(&c.utasks, i));
	for (size_t i = 0; i < c.regions.cap; i++)
		if (c.regions.keys[i])
			region_free(*(struct region **)u64map_val(&c.regions, i));
	u64map_free(&c.utasks);
	u64map_free(&c.regions);
	u64map_free(&sysc);
	free(c.named_m);
	model_free(&m);
	a->nevents = tt->nread;
	return r < 0 ? -1 : 0;
}

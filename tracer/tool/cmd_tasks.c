/*
 * cmd_tasks.c - weft-trace tasks: Go's goroutine-analysis page as text.
 *
 * Per entry function: how many tasks, their execution time (total, mean,
 * p99 over tasks, from a bounded histogram), the time they spent runnable
 * but not running (scheduler wait), and the time they spent blocked, by
 * reason (chan send/receive, select, sleep, mutex, wait group, semaphore,
 * net read/write, syscall: every name of weft_tr_block_name()).
 * A task's figures are added to its function when it leaves the model
 * (it ended, or the trace did), so memory is the live tasks plus one
 * aggregate per function.
 *
 * --task N follows one task instead: every transition with its time and
 * P, how long the previous state lasted, who created it and who unblocked
 * it (by id and entry function, looked up among the live tasks at that
 * moment), and the same totals for it alone.
 */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "hist.h"
#include "model.h"
#include "pipe.h"
#include "tool.h"

static const char help[] =
	"usage: weft-trace tasks [--json] [--task N] FILE\n"
	"\n"
	"Per task entry function: the number of tasks, their execution time\n"
	"(total, mean and p99 over tasks), scheduler wait (runnable but not\n"
	"running) and blocked time by reason: chan send, chan receive, select,\n"
	"sleep, mutex, wait group, semaphore, net read and net write (waits of the\n"
	"netpoller: weft_read, weft_write, weft_fd_wait, weft_net_accept/dial),\n"
	"stop-the-world, syscall (time inside weft_syscall_enter/exit).\n"
	"Sorted by total execution time. Tasks still alive when the trace ends\n"
	"count with what they did until then.\n"
	"\n"
	"  --task N  the life of task N instead: each transition (created,\n"
	"            running on P, blocked: why and at which call site,\n"
	"            unblocked by which task, syscalls, ended), how long each\n"
	"            state lasted, its totals\n"
	"  --json    the same as JSON\n"
	"\n"
	"Exit status 1 with the reader's message (and byte offset) on a bad file.\n";

#define NREASON WEFT_TRACE_BLOCK_MAX

struct fnagg {
	uint64_t count, ended, runs, nblock[NREASON];
	double exec, wait, blocked[NREASON];
	struct hist *h; /* exec per task */
};

struct ctx {
	struct fnagg *fa;
	size_t nfa;
	uint64_t task;   /* --task */
	bool json;
	int nlines;
	/* --task totals */
	uint64_t runs, nblock[NREASON];
	double exec, wait, blocked[NREASON];
	uint32_t fn;
	bool seen, alive;
};

static struct fnagg *agg(struct ctx *c, uint32_t fn)
{
	c->fa = tool_grow_zero(c->fa, &c->nfa, fn, sizeof(*c->fa));
	return &c->fa[fn];
}

static void h_run(void *x, struct model *m, struct mtask *t, int p, uint64_t t0, uint64_t t1,
		  int why)
{
	struct ctx *c = x;
	(void)m, (void)p, (void)t0, (void)t1, (void)why;
	agg(c, t->fn)->runs++;
	if (t->id == c->task)
		c->runs++;
}

static void h_wait(void *x, struct model *m, struct mtask *t, int state, uint64_t t0, uint64_t t1,
		   uint64_t by)
{
	struct ctx *c = x;
	struct fnagg *a = agg(c, t->fn);
	double d = (double)(t1 - t0);
	(void)m, (void)by;
	if (state == WEFT_TF_T_RUNNABLE) {
		a->wait += d;
		if (t->id == c->task)
			c->wait += d;
		return;
	}
	int r = state == WEFT_TF_T_SYSCALL ? WEFT_TRACE_BLOCK_SYSCALL : t->reason;
	if (r < 0 || r >= NREASON)
		r = 0;
	a->blocked[r] += d;
	a->nblock[r]++;
	if (t->id == c->task) {
		c->blocked[r] += d;
		c->nblock[r]++;
	}
}

static void h_gone(void *x, struct model *m, struct mtask *t, bool ended)
{
	struct ctx *c = x;
	struct fnagg *a = agg(c, t->fn);
	(void)m;
	if (!a->h) {
		a->h = tool_calloc(1, sizeof(*a->h));
		hist_init(a->h);
	}
	a->count++;
	a->ended += ended;
	a->exec += (double)t->exec;
	hist_add(a->h, t->exec);
	if (t->id == c->task) {
		c->exec = (double)t->exec;
		c->fn = t->fn;
		c->alive = !ended;
	}
}

/* ---- --task N ---------------------------------------------------------------- */

static void who(struct model *m, uint64_t id, char *buf, size_t n)
{
	struct mtask *t = model_task(m, id);

	if (!id)
		snprintf(buf, n,
			 "the runtime (a timer, the netpoller, the monitor or a plain thread)");
	else
		snprintf(buf, n, "task %" PRIu64 " (%s)", id, t ? model_fn_name(m, t) : "?");
}

/* One line of the task's life; @before is its state before @ev. */
static void life_line(struct ctx *c, struct model *m, const weft_tr_event *ev,
		      const struct mtask *before, bool existed)
{
	char what[400], w[200], d1[32];
	double lasted = existed ? (double)(ev->ts - before->since) : 0;
	const char *site;

	what[0] = 0;
	switch (ev->type) {
	case WEFT_TEV_TASK_CREATE:
		who(m, ev->args[1], w, sizeof(w));
		site = names_get(&m->sites, names_intern(&m->sites, ev->args[3]));
		snprintf(what, sizeof(what), "created by %s at %s; entry %s", w, site,
			 names_get(&m->fns, names_intern(&m->fns, ev->args[2])));
		break;
	case WEFT_TEV_TASK_STATE:
		snprintf(what, sizeof(what), "when the trace started: %s%s%s",
			 ev->args[1] == WEFT_TRACE_STATE_RUNNABLE  ? "runnable"
			 : ev->args[1] == WEFT_TRACE_STATE_RUNNING ? "running"
			 : ev->args[1] == WEFT_TRACE_STATE_BLOCKED ? "blocked: "
			 : "in a syscall",
			 ev->args[1] == WEFT_TRACE_STATE_BLOCKED ? weft_tr_block_name((int)ev->args[2]) : "",
			 "");
		break;
	case WEFT_TEV_TASK_START:
		snprintf(what, sizeof(what), "running (was %s for %s)",
			 before->state == WEFT_TF_T_RUNNABLE ? "runnable" : "in an unknown state",
			 fmt_dur(d1, lasted));
		break;
	case WEFT_TEV_TASK_END:
		snprintf(what, sizeof(what), "ended (ran %s)", fmt_dur(d1, lasted));
		break;
	case WEFT_TEV_TASK_YIELD:
		snprintf(what, sizeof(what), "yielded (ran %s)", fmt_dur(d1, lasted));
		break;
	case WEFT_TEV_TASK_BLOCK:
		site = names_get(&m->sites, names_intern(&m->sites, ev->args[3]));
		snprintf(what, sizeof(what), "blocked: %s on %#" PRIx64 " at %s (ran %s)",
			 weft_tr_block_name((int)ev->args[1]), ev->args[2], site,
			 fmt_dur(d1, lasted));
		break;
	case WEFT_TEV_TASK_UNBLOCK:
		who(m, ev->args[1], w, sizeof(w));
		snprintf(what, sizeof(what), "unblocked by %s after %s %s", w, fmt_dur(d1, lasted),
			 weft_tr_block_name(before->reason));
		break;
	case WEFT_TEV_SYSCALL_ENTER:
		site = names_get(&m->sites, names_intern(&m->sites, ev->args[1]));
		snprintf(what, sizeof(what), "syscall at %s (ran %s)", site, fmt_dur(d1, lasted));
		break;
	case WEFT_TEV_SYSCALL_EXIT:
		snprintf(what, sizeof(what), "syscall returned after %s%s", fmt_dur(d1, lasted),
			 ev->p < 0 ? "; its P was taken: runnable" : "");
		break;
	default:
		return;
	}
	if (c->json) {
		printf("%s{\"ts_ns\":%" PRIu64 ",\"p\":%d,\"event\":\"%s\",\"what\":", c->nlines ? "," : "",
		       ev->ts, ev->p, weft_tr_event_name(ev->type));
		json_str(stdout, what);
		if (ev->type == WEFT_TEV_TASK_UNBLOCK)
			printf(",\"by\":%" PRIu64, ev->args[1]);
		if (ev->type == WEFT_TEV_TASK_CREATE)
			printf(",\"parent\":%" PRIu64, ev->args[1]);
		printf("}");
	} else {
		if (ev->p >= 0)
			printf("%14.3f us  P%-3d %s\n", (double)ev->ts / 1e3, ev->p, what);
		else
			printf("%14.3f us  -    %s\n", (double)ev->ts / 1e3, what);
	}
	c->nlines++;
}

static bool is_own(const weft_tr_event *ev, uint64_t id)
{
	switch (ev->type) {
	case WEFT_TEV_TASK_CREATE: case WEFT_TEV_TASK_START: case WEFT_TEV_TASK_END:
	case WEFT_TEV_TASK_YIELD: case WEFT_TEV_TASK_BLOCK: case WEFT_TEV_TASK_UNBLOCK:
	case WEFT_TEV_SYSCALL_ENTER: case WEFT_TEV_SYSCALL_EXIT: case WEFT_TEV_TASK_STATE:
		return ev->args[0] == id;
	default:
		return false;
	}
}

/* ---- the report ------------------------------------------------------------------- */

static int cmp_exec(const void *a, const void *b)
{
	const struct fnagg *x = *(struct fnagg *const *)a, *y = *(struct fnagg *const *)b;
	return x->exec < y->exec ? 1 : x->exec > y->exec ? -1 : 0;
}

static void report(struct ctx *c, struct model *m, const struct tool_trace *tt)
{
	struct fnagg **v = tool_calloc(c->nfa + 1, sizeof(*v));
	size_t n = 0;
	uint64_t tasks = 0;
	char b[6][32];

	for (size_t i = 0; i < c->nfa; i++)
		if (c->fa[i].count) {
			v[n++] = &c->fa[i];
			tasks += c->fa[i].count;
		}
	qsort(v, n, sizeof(*v), cmp_exec);
	if (c->json) {
		tool_json_open(tt);
		printf("\"duration_ns\":%" PRIu64 ",\"tasks\":%" PRIu64 ",\"functions\":[",
		       m->now - m->first_ts, tasks);
		for (size_t i = 0; i < n; i++) {
			struct fnagg *a = v[i];
			printf("%s{\"fn\":", i ? "," : "");
			json_str(stdout, names_get(&m->fns, (uint32_t)(a - c->fa)));
			printf(",\"count\":%" PRIu64 ",\"ended\":%" PRIu64 ",\"runs\":%" PRIu64
			       ",\"exec_ns\":{\"total\":%.0f,\"mean\":%.0f,\"p50\":%" PRIu64
			       ",\"p99\":%" PRIu64 ",\"max\":%" PRIu64 "},\"sched_wait_ns\":{\"total\":%.0f,"
			       "\"mean\":%.0f},\"blocked_ns\":{",
			       a->count, a->ended, a->runs, a->exec, a->exec / (double)a->count,
			       hist_quantile(a->h, 0.5), hist_quantile(a->h, 0.99), a->h->max, a->wait,
			       a->wait / (double)a->count);
			for (int r = 0, k = 0; r < NREASON; r++)
				if (a->nblock[r])
					printf("%s\"%s\":%.0f", k++ ? "," : "",
					       r ? weft_tr_block_name(r) : "other", a->blocked[r]);
			printf("},\"blocks\":{");
			for (int r = 0, k = 0; r < NREASON; r++)
				if (a->nblock[r])
					printf("%s\"%s\":%" PRIu64, k++ ? "," : "",
					       r ? weft_tr_block_name(r) : "other", a->nblock[r]);
			printf("}}");
		}
		printf("]}\n");
	} else {
		printf("%" PRIu64 " tasks in %s, by entry function (execution: time running; "
		       "wait: runnable, not running)\n\n",
		       tasks, fmt_dur(b[0], (double)(m->now - m->first_ts)));
		printf("%-24s %8s %10s %10s %10s %10s %10s\n", "function", "tasks", "exec", "mean",
		       "p99", "wait", "blocked");
		for (size_t i = 0; i < n; i++) {
			struct fnagg *a = v[i];
			double blk = 0;
			for (int r = 0; r < NREASON; r++)
				blk += a->blocked[r];
			printf("%-24.24s %8" PRIu64 " %10s %10s %10s %10s %10s\n",
			       names_get(&m->fns, (uint32_t)(a - c->fa)), a->count,
			       fmt_dur(b[0], a->exec), fmt_dur(b[1], a->exec / (double)a->count),
			       fmt_dur(b[2], (double)hist_quantile(a->h, 0.99)), fmt_dur(b[3], a->wait),
			       fmt_dur(b[4], blk));
			if (blk > 0) {
				printf("%-24s   blocked:", "");
				for (int r = 0, k = 0; r < NREASON; r++)
					if (a->nblock[r])
						printf("%s %s %s (%" PRIu64 "x)", k++ ? "," : "",
						       r ? weft_tr_block_name(r) : "other",
						       fmt_dur(b[5], a->blocked[r]), a->nblock[r]);
				printf("\n");
			}
		}
	}
	free(v);
}

static int opt(void *x, const char *name, const char *v)
{
	struct ctx *c = x;
	(void)name;
	int64_t id = tool_parse_uint(v);
	if (id <= 0)
		return tool_usage(&cmd_tasks, "--task wants a task id, not '%s'", v);
	c->task = (uint64_t)id;
	return 0;
}

static void ctx_free(struct ctx *c)
{
	for (size_t i = 0; i < c->nfa; i++)
		free(c->fa[i].h);
	free(c->fa);
	c->fa = NULL;
	c->nfa = 0;
}

static int run(int argc, char **argv)
{
	static const struct tool_opt opts[] = { { "task", true }, { NULL, false } };
	struct ctx c = { 0 };
	struct tool_trace tt;
	struct model m;
	weft_tr_event *ev;
	const char *file;
	int r;

	if ((r = tool_getopt(&cmd_tasks, argc, argv, opts, opt, &c, &file, &c.json)) != 0)
		return r;
	if (tool_open(&tt, "tasks", file) < 0)
		return TOOL_EXIT_BAD;
	struct model_hooks h = { .ctx = &c, .run = h_run, .wait = h_wait, .task_gone = h_gone };
	model_init(&m, tt.t, &h);
	if (c.task && c.json)
		printf("{\"task\":%" PRIu64 ",\"events\":[", c.task);
	while ((r = tool_next(&tt, &ev)) > 0) {
		if (c.task && is_own(ev, c.task)) {
			struct mtask *t = model_task(&m, c.task), before;
			if (t)
				before = *t;
			else
				memset(&before, 0, sizeof(before));
			c.seen = true;
			life_line(&c, &m, ev, &before, t != NULL);
		}
		model_event(&m, ev);
	}
	if (r < 0 && !tool_partial(&tt)) {
		if (c.task && c.json)
			printf("]}\n");
		ctx_free(&c);
		model_free(&m);
		tool_close(&tt);
		return TOOL_EXIT_BAD;
	}
	model_finish(&m);
	uint32_t fn = c.fn;
	if (c.task) {
		double blk = 0;
		char b[4][32];
		for (int i = 0; i < NREASON; i++)
			blk += c.blocked[i];
		if (c.json) {
			printf("],");
			if (tool_partial(&tt)) {
				printf("\"partial\":true,\"error\":");
				json_str(stdout, weft_tr_error(tt.t));
				putchar(',');
			}
			printf("\"seen\":%s,\"runs\":%" PRIu64 ",\"exec_ns\":%.0f,\"sched_wait_ns\":%.0f,"
			       "\"blocked_ns\":{",
			       c.seen ? "true" : "false", c.runs, c.exec, c.wait);
			for (int i = 0, k = 0; i < NREASON; i++)
				if (c.nblock[i])
					printf("%s\"%s\":%.0f", k++ ? "," : "",
					       i ? weft_tr_block_name(i) : "other", c.blocked[i]);
			printf("}}\n");
		} else if (!c.seen) {
			tool_partial_text(&tt);
			printf("task %" PRIu64 " is not in this trace\n", c.task);
		} else {
			if (tool_partial(&tt))
				printf("\n");
			tool_partial_text(&tt);
			printf("\ntask %" PRIu64 "%s%s%s: ran %s in %" PRIu64 " runs, runnable %s, "
			       "blocked %s",
			       c.task, fn ? " (" : "", fn ? names_get(&m.fns, fn) : "", fn ? ")" : "",
			       fmt_dur(b[0], c.exec), c.runs, fmt_dur(b[1], c.wait), fmt_dur(b[2], blk));
			for (int i = 0, k = 0; i < NREASON; i++)
				if (c.nblock[i])
					printf("%s%s %s", k++ ? ", " : " (",
					       i ? weft_tr_block_name(i) : "other",
					       fmt_dur(b[3], c.blocked[i]));
			printf("%s%s\n", blk > 0 ? ")" : "", c.alive ? "; alive at the end" : "");
		}
	} else {
		if (!c.json)
			tool_partial_text(&tt);
		report(&c, &m, &tt);
	}
	ctx_free(&c);
	model_free(&m);
	tool_close(&tt);
	return r < 0 ? TOOL_EXIT_BAD : 0;
}

const struct tool_cmd cmd_tasks = { "tasks", "per entry function: execution, waits, blocking",
				    help, run };

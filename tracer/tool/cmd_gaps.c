/*
 * cmd_gaps.c - weft-trace gaps: its arguments and its report. The
 * analysis (the pass over the model, the figures, the verdicts and what
 * each speaks of) is gaps.c's, whose essay says what is measured and why;
 * `weft-trace view` runs the same analysis beside its timeline.
 *
 * The report: the figures per P, the distributions, steals, network
 * waits, parallelism and predicted speedups, then the verdicts, as text
 * or as one JSON object (tool_json_open: "partial" and "error" first on
 * a damaged file).
 *
 * Rejected: printing from gaps.c (the viewer needs the verdicts and their
 * subjects, not the report; the report needs everything, so gaps.h shows
 * the analysis's state, and this file reads it).
 */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "gaps.h"
#include "tool.h"

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

static void print_json(const struct gaps_ctx *c, struct model *m, const struct gaps_figures *f,
		       const struct gaps_verdict *v, int nv)
{
	const struct gaps_top *top = &f->top;
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

static void print_text(const char *file, const struct gaps_ctx *c, const struct model *m,
		       const struct gaps_figures *f, const struct gaps_verdict *v, int nv)
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
	struct gaps *g;
	struct tool_trace tt;
	const char *file;
	bool json;
	int r;

	if ((r = tool_getopt(&cmd_gaps, argc, argv, NULL, NULL, NULL, &file, &json)) != 0)
		return r;
	if (tool_open(&tt, "gaps", file) < 0)
		return TOOL_EXIT_BAD;
	g = tool_calloc(1, sizeof(*g));
	gaps_init(g, &tt, false, false);
	r = gaps_collect(g, &tt);
	if (r >= 0) {
		gaps_finish(g, &tt.info);
		if (json) {
			tool_json_open(&tt);
			print_json(&g->c, &g->m, &g->f, g->v, g->nv);
		} else {
			tool_partial_text(&tt);
			print_text(file, &g->c, &g->m, &g->f, g->v, g->nv);
		}
	}
	gaps_free(g);
	free(g);
	tool_close(&tt);
	return r != 0 ? TOOL_EXIT_BAD : 0;
}

const struct tool_cmd cmd_gaps = { "gaps", "scheduler gaps, parallelism, verdicts in words", help,
				   run };

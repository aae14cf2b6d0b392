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
	"usage: weft-trace gaps [--json] [--mmu] FILE\n"
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
	"    the burdened span (the critical path with its hand-offs' measured\n"
	"    costs) and the same predictions from it; what the critical path is\n"
	"    made of (functions, shares, where it waits); the longest tasks;\n"
	"  - a verdict in plain words, each with its numbers: at the limit of\n"
	"    the Ps (said first), one task the others wait on (a bottleneck,\n"
	"    named), parallelism capped by a few long tasks, tasks too fine-\n"
	"    grained, contention on one channel or mutex (reason and call site),\n"
	"    a serial phase (where and how long), a critical path that leaves\n"
	"    the other Ps idle, long stop-the-world pauses, Ps idle while tasks\n"
	"    wait for the network (net read/write: the peers are the limit).\n"
	"    Waits for the network, sleeps and syscalls are never contention.\n"
	"\n"
	"  --mmu     utilisation over windows of 10 us .. 100 ms: the least share\n"
	"            of P time running tasks, the three worst windows of each\n"
	"            width and what filled them; time by the number of busy Ps\n"
	"  --json    the same as one JSON object (verdicts with a kind, text,\n"
	"            the task ids and time ranges they speak of)\n"
	"\n"
	"Exit status 1 with the reader's message (and byte offset) on a bad file.\n";


/* ---- print ------------------------------------------------------------------------------ */

static const int cores[] = { 4, 8, 16, 64 };
static const uint64_t mmu_widths[] = { 10000, 100000, 1000000, 10000000, 100000000 };
#define MMU_WORST 3

/* VTune's name for the time with @k of @np Ps running (its utilisation histogram). */
static const char *busy_label(int k, int np)
{
	if (k == 0)
		return "idle";
	if (k == np)
		return "ideal";
	return 2 * k < np ? "poor" : "ok";
}

static void mmu_json(const struct gaps *g)
{
	const struct model *m = &g->m;
	double tot = 0;

	printf(",\"mmu\":{\"widths\":[");
	for (size_t i = 0; i < sizeof(mmu_widths) / sizeof(*mmu_widths); i++) {
		struct mmu_window w[MMU_WORST];
		int n = mmu_worst(&g->mmu, mmu_widths[i], w, MMU_WORST);
		printf("%s{\"width_ns\":%" PRIu64 ",\"min_util\":", i ? "," : "", mmu_widths[i]);
		if (n)
			printf("%.4f", w[0].util);
		else
			printf("null");
		printf(",\"worst\":[");
		for (int k = 0; k < n; k++) {
			printf("%s{\"start_ns\":%" PRIu64 ",\"end_ns\":%" PRIu64 ",\"util\":%.4f,\"ns\":{",
			       k ? "," : "", w[k].t0, w[k].t1, w[k].util);
			for (int c = 0; c < MMU_MAX; c++)
				printf("%s\"%s\":%.0f", c ? "," : "", mmu_cat_name[c], w[k].ns[c]);
			printf("}}");
		}
		printf("]}");
	}
	printf("],\"busy_hist\":[");
	for (int k = 0; k < m->busy_cap && k <= m->np; k++)
		tot += (double)m->busy_time[k];
	for (int k = 0; k < m->busy_cap && k <= m->np; k++)
		printf("%s{\"k\":%d,\"ns\":%" PRIu64 ",\"share\":%.4f,\"label\":\"%s\"}", k ? "," : "", k,
		       m->busy_time[k], tot > 0 ? (double)m->busy_time[k] / tot : 0.0,
		       busy_label(k, m->np));
	printf("]}");
}

static void mmu_text(const struct gaps *g)
{
	const struct model *m = &g->m;
	char a[32], b[32];
	double tot = 0;

	printf("\nutilisation over time windows (the least share of P time running tasks in any "
	       "window of each width; the worst windows, and what filled them)\n");
	for (size_t i = 0; i < sizeof(mmu_widths) / sizeof(*mmu_widths); i++) {
		struct mmu_window w[MMU_WORST];
		int n = mmu_worst(&g->mmu, mmu_widths[i], w, MMU_WORST);
		if (!n) {
			printf("  %-8s  longer than the trace\n", fmt_dur(a, (double)mmu_widths[i]));
			continue;
		}
		printf("  %-8s  min %5.1f%%\n", fmt_dur(a, (double)mmu_widths[i]), 100.0 * w[0].util);
		for (int k = 0; k < n; k++) {
			double pt = (double)g->mmu.np * (double)mmu_widths[i];
			printf("    at %-11s %5.1f%% running", fmt_dur(b, (double)w[k].t0), 100.0 * w[k].util);
			for (int c = 1; c < MMU_MAX; c++)
				if (w[k].ns[c] >= 0.005 * pt)
					printf(", %s %.0f%%", mmu_cat_name[c], 100.0 * w[k].ns[c] / pt);
			printf("\n");
		}
	}
	for (int k = 0; k < m->busy_cap && k <= m->np; k++)
		tot += (double)m->busy_time[k];
	printf("  time by Ps running a task (VTune's utilisation histogram):");
	for (int k = 0; k < m->busy_cap && k <= m->np; k++)
		printf(" %d %s %.1f%%%s", k, busy_label(k, m->np),
		       tot > 0 ? 100.0 * (double)m->busy_time[k] / tot : 0.0,
		       k < m->np && k + 1 < m->busy_cap ? "," : "");
	printf("\n");
}

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

static void subject_json(const struct gaps_subject *s)
{
	printf(",\"tasks\":[");
	for (int i = 0; i < s->ntask; i++)
		printf("%s%" PRIu64, i ? "," : "", s->tasks[i]);
	printf("],\"ranges\":[");
	for (int i = 0; i < s->nrange; i++)
		printf("%s[%" PRIu64 ",%" PRIu64 "]", i ? "," : "", s->ranges[i][0], s->ranges[i][1]);
	printf("]");
}

/* What the critical path is made of, and the longest-running tasks. */
static void culprits_json(const struct gaps *g)
{
	const struct gaps_chain_sum *cs = &g->csum;
	struct model *m = (struct model *)&g->m;

	printf(",\"chain\":{\"known\":%s,\"ns\":%" PRIu64 ",\"tasks\":%" PRIu64
	       ",\"creates\":%" PRIu64 ",\"unblocks\":%" PRIu64 ",\"fns\":[",
	       cs->known ? "true" : "false", cs->ns, cs->tasks, cs->creates, cs->waits);
	for (int i = 0; i < cs->nfn; i++) {
		printf("%s{\"fn\":", i ? "," : "");
		json_str(stdout, names_get(&m->fns, cs->fn[i].fn));
		printf(",\"ns\":%" PRIu64 ",\"tasks\":%" PRIu64 "}", cs->fn[i].ns, cs->fn[i].tasks);
	}
	printf("],\"top_task\":");
	if (cs->known) {
		printf("{\"id\":%" PRIu64 ",\"fn\":", cs->task);
		json_str(stdout, names_get(&m->fns, cs->task_fn));
		printf(",\"ns\":%" PRIu64 "}", cs->task_ns);
	} else {
		printf("null");
	}
	printf(",\"waits\":[");
	for (int i = 0; i < cs->nwait; i++) {
		printf("%s{\"reason\":\"%s\",\"site\":", i ? "," : "",
		       weft_tr_block_name(cs->wait[i].reason));
		json_str(stdout, names_get(&m->sites, cs->wait[i].site));
		printf(",\"n\":%" PRIu64 "}", cs->wait[i].n);
	}
	printf("]},\"run_share\":%.4f,\"task_cap\":%.3f,\"longest_tasks\":[", g->f.run_share,
	       g->f.cap);
	for (int i = 0; i < g->c.ntop; i++) {
		const struct gaps_task *t = &g->c.top[i];
		printf("%s{\"id\":%" PRIu64 ",\"fn\":", i ? "," : "", t->id);
		json_str(stdout, names_get(&m->fns, t->fn));
		printf(",\"exec_ns\":%" PRIu64 ",\"blocked_ns\":%" PRIu64 ",\"wakes\":%" PRIu64
		       ",\"idle_ps\":%.3f,\"first_ns\":%" PRIu64 ",\"last_ns\":%" PRIu64 "}",
		       t->exec, t->blocked, t->wakes, t->exec ? t->idle / (double)t->exec : 0.0,
		       t->first, t->last);
	}
	printf("],\"wakes\":%" PRIu64, g->c.wakes);
}

static void print_json(const struct gaps *g)
{
	const struct gaps_ctx *c = &g->c;
	struct model *m = (struct model *)&g->m;
	const struct gaps_figures *f = &g->f;
	const struct gaps_verdict *v = g->v;
	int nv = g->nv;
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
		double bpar = f->Sb > 0 ? W / f->Sb : 0;
		printf("%s{\"cores\":%d,\"amdahl\":%.3f,\"work_span_bound\":%.3f,\"brent\":%.3f"
		       ",\"burdened_bound\":%.3f,\"burdened_brent\":%.3f}",
		       i ? "," : "", cores[i], 1.0 / (serial + (1 - serial) / n),
		       par < n ? par : n, S > 0 ? W / (W / n + S) : 0.0, bpar < n ? bpar : n,
		       f->Sb > 0 ? W / (W / n + f->Sb) : 0.0);
	}
	printf("],\"burdened_span_ns\":%.0f,\"burden_ns\":%.0f,\"burden_exact\":%s"
	       ",\"burdened_parallelism\":%.3f,\"handoff_ns\":{\"n\":%" PRIu64 ",\"p50\":%" PRIu64 "}",
	       f->Sb, f->burden, f->burden_exact ? "true" : "false", f->Sb > 0 ? W / f->Sb : 0.0,
	       c->handoff.n, hist_quantile(&c->handoff, 0.5));
	printf(",\"serial_phases\":[");
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
	culprits_json(g);
	if (g->want_mmu)
		mmu_json(g);
	printf(",\"verdicts\":[");
	for (int i = 0; i < nv; i++) {
		printf("%s{\"kind\":\"%s\",\"text\":", i ? "," : "", v[i].kind);
		json_str(stdout, v[i].text);
		subject_json(&g->subj[i]);
		printf("}");
	}
	printf("]}\n");
}

/* What the critical path is made of; the longest-running tasks. */
static void culprits_text(const struct gaps *g)
{
	const struct gaps_chain_sum *cs = &g->csum;
	struct model *m = (struct model *)&g->m;
	char a[32];

	if (cs->known && cs->ns) {
		printf("\n  critical path made of ");
		for (int i = 0; i < cs->nfn; i++)
			printf("%s%s %.0f%% (%" PRIu64 " task%s)", i ? ", " : "",
			       names_get(&m->fns, cs->fn[i].fn), 100.0 * (double)cs->fn[i].ns / (double)cs->ns,
			       cs->fn[i].tasks, cs->fn[i].tasks == 1 ? "" : "s");
		printf("; %" PRIu64 " creates, %" PRIu64 " unblocks\n", cs->creates, cs->waits);
		for (int i = 0; i < cs->nwait; i++)
			printf("    waits at %s at %s (%" PRIu64 "x)\n", weft_tr_block_name(cs->wait[i].reason),
			       names_get(&m->sites, cs->wait[i].site), cs->wait[i].n);
	} else if (g->chain_lost) {
		printf("\n  critical path: too many hand-offs to record what it is made of\n");
	} else {
		printf("\n");
	}
	printf("  longest-running tasks (run time; Ps idle on average while it ran; waits it ended):\n");
	for (int i = 0; i < g->c.ntop && i < 3; i++) {
		const struct gaps_task *t = &g->c.top[i];
		printf("    %s #%" PRIu64 "  %s (%.0f%% of the run); %.2f Ps idle; %" PRIu64 " wake-ups\n",
		       names_get(&m->fns, t->fn), t->id, fmt_dur(a, (double)t->exec),
		       g->f.dur > 0 ? 100.0 * (double)t->exec / g->f.dur : 0.0,
		       t->exec ? t->idle / (double)t->exec : 0.0, t->wakes);
	}
	printf("  work / the longest task: %.1fx, the speedup no number of cores can pass\n", g->f.cap);
}

static void print_text(const char *file, const struct gaps *g)
{
	const struct gaps_ctx *c = &g->c;
	const struct model *m = &g->m;
	const struct gaps_figures *f = &g->f;
	const struct gaps_verdict *v = g->v;
	int nv = g->nv;
	double dur = f->dur, W = f->W, S = f->S, par = f->par, serial = f->serial;
	double busy_t = f->busy_t, t1 = f->t1, t0b = f->t0b;
	int np = f->np;
	char a[32], b[32];

	printf("%s: %s, %d Ps, %" PRIu64 " tasks, %" PRIu64 " runs\n\n", file,
	       fmt_dur(a, dur), np, m->tasks_created, m->starts);
	printf("per P          running  sched  search   idle    stw  syscall   (sched: "
	       "between two tasks while work waited)\n");
	printf("  (VTune)    effective overhead spin   wait\n");
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
	printf("\n  burdened span %s: the critical path with its %" PRIu32 " hand-offs' %s costs "
	       "(%s: the wait from each edge to the start, at most the P's gap before it); "
	       "burdened parallelism %.2f",
	       fmt_dur(a, f->Sb), m->span_hops, f->burden_exact ? "measured" : "median",
	       fmt_dur(b, f->burden), f->Sb > 0 ? W / f->Sb : 0.0);
	printf("\n    burdened work/span bound         ");
	for (int i = 0; i < 4; i++) {
		double bp = f->Sb > 0 ? W / f->Sb : 0;
		printf("%6.1f", bp < cores[i] ? bp : cores[i]);
	}
	printf("\n    burdened Brent                   ");
	for (int i = 0; i < 4; i++)
		printf("%6.1f", f->Sb > 0 ? W / (W / cores[i] + f->Sb) : 0.0);
	culprits_text(g);
	printf("\n");
	if (g->want_mmu)
		mmu_text(g);
	printf("\nverdict\n");
	for (int i = 0; i < nv; i++)
		printf("  - %s\n", v[i].text);
	if (!nv || (nv == 1 && !strcmp(v[0].kind, "at_limit")))
		printf("  %snothing %sstands out: no bottleneck, no cap by a few long tasks, no fine "
		       "grain, no contended object, no long serial phase, no dominant critical path, "
		       "no long stop-the-world, no long wait for the network.\n",
		       nv ? "- " : "", nv ? "else " : "");
}

/* ---- the command ------------------------------------------------------------------------ */

static int opt(void *x, const char *name, const char *v)
{
	(void)v;
	if (strcmp(name, "mmu") != 0)
		return tool_usage(&cmd_gaps, "unknown option -%s", name);
	*(bool *)x = true;
	return 0;
}

static int run(int argc, char **argv)
{
	static const struct tool_opt opts[] = { { "mmu", false }, { NULL, false } };
	struct gaps *g;
	struct tool_trace tt;
	const char *file;
	bool json, mmu = false;
	int r;

	if ((r = tool_getopt(&cmd_gaps, argc, argv, opts, opt, &mmu, &file, &json)) != 0)
		return r;
	if (tool_open(&tt, "gaps", file) < 0)
		return TOOL_EXIT_BAD;
	g = tool_calloc(1, sizeof(*g));
	gaps_init(g, &tt, false, true); /* the chain: what the critical path is made of */
	g->want_mmu = mmu;
	r = gaps_collect(g, &tt);
	if (r >= 0) {
		gaps_finish(g, &tt.info);
		if (json) {
			tool_json_open(&tt);
			print_json(g);
		} else {
			tool_partial_text(&tt);
			print_text(file, g);
		}
	}
	gaps_free(g);
	free(g);
	tool_close(&tt);
	return r != 0 ? TOOL_EXIT_BAD : 0;
}

const struct tool_cmd cmd_gaps = { "gaps", "scheduler gaps, parallelism, verdicts in words", help,
				   run };

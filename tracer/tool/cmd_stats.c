/*
 * cmd_stats.c - weft-trace stats: what a trace holds and where each P's
 * time went. One pass through the model (model.c); counts by event type,
 * the header's facts (clock, Ps, completeness), bytes per event and the
 * compression ratio, stalls (the program waited for the trace writer),
 * steals, the blocks by reason (chan receive, net read, ...), and each
 * P's time as running / in the scheduler / idle /
 * stopped by a stop-the-world / in a syscall.
 */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "pipe.h"
#include "tool.h"

static const char help[] =
	"usage: weft-trace stats [--json] FILE\n"
	"\n"
	"What the trace holds: its duration, Ps, threads (Ms), tasks created and\n"
	"ended, events by type, bytes per event on disk, the compression ratio,\n"
	"whether the file is complete, stall records (the program waited for the\n"
	"trace writer), steals, blocks by reason (chan receive, mutex, net read,\n"
	"net write, ...: `weft-trace tasks` says how long), and each P's time:\n"
	"  running   a task ran on it\n"
	"  sched     held by a thread, no task running: the scheduler, spinning\n"
	"  idle      no thread held it\n"
	"  stw       stopped by another P's stop-the-world\n"
	"  syscall   its task was in a syscall (weft_syscall_enter) and the P not\n"
	"            handed off\n"
	"\n"
	"  --json    the same as one JSON object\n"
	"\n"
	"Exit status 1 with the reader's message (and byte offset) on a bad file.\n";

#define MAX_MID 65536

/* How the trace ended (enum weft_trace_end), for stats' "end". */
static const char *end_name(int reason)
{
	static const char *const names[] = { "none", "stop", "signal", "fatal", "exit" };

	return reason >= 0 && reason <= WEFT_TRACE_END_EXIT ? names[reason] : "unknown";
}

static int run(int argc, char **argv)
{
	struct tool_trace tt;
	struct model m;
	weft_tr_event *ev;
	const char *file;
	bool json;
	uint64_t bytype[WEFT_TEV_MAX] = { 0 };
	uint64_t byreason[WEFT_TRACE_BLOCK_MAX] = { 0 }; /* TASK_BLOCKs; 0: none or unknown */
	uint64_t nblock = 0;
	uint64_t stall_n = 0, stall_ns = 0, steals = 0, stolen = 0, steal_failed = 0;
	uint64_t stw_n = 0, stw_wait = 0, stw_max_wait = 0, mcreate = 0;
	uint8_t *mseen;
	uint64_t ms = 0;
	int r;

	if ((r = tool_getopt(&cmd_stats, argc, argv, NULL, NULL, NULL, &file, &json)) != 0)
		return r;
	if (tool_open(&tt, "stats", file) < 0)
		return TOOL_EXIT_BAD;
	mseen = tool_calloc(MAX_MID / 8, 1);
	model_init(&m, tt.t, NULL);
	while ((r = tool_next(&tt, &ev)) > 0) {
		model_event(&m, ev);
		if (ev->type > 0 && ev->type < WEFT_TEV_MAX)
			bytype[ev->type]++;
		switch (ev->type) {
		case WEFT_TEV_TASK_BLOCK:
			byreason[ev->args[1] < WEFT_TRACE_BLOCK_MAX ? ev->args[1] : 0]++;
			nblock++;
			break;
		case WEFT_TEV_STALL:
			stall_n++;
			stall_ns += ev->args[0];
			break;
		case WEFT_TEV_STEAL:
			steals++;
			stolen += ev->args[1];
			steal_failed += ev->args[2];
			break;
		case WEFT_TEV_STW_END:
			stw_n++;
			stw_wait += ev->args[0];
			if (ev->args[0] > stw_max_wait)
				stw_max_wait = ev->args[0];
			break;
		case WEFT_TEV_M_CREATE:
			mcreate++;
			/* fall through */
		case WEFT_TEV_PROC_START: {
			uint64_t id = ev->args[1 - (ev->type == WEFT_TEV_M_CREATE)];
			if (id < MAX_MID && !(mseen[id / 8] & (1u << (id % 8)))) {
				mseen[id / 8] |= (uint8_t)(1u << (id % 8));
				ms++;
			}
			break;
		}
		}
	}
	free(mseen);
	if (r < 0 && !tool_partial(&tt)) {
		model_free(&m);
		tool_close(&tt);
		return TOOL_EXIT_BAD;
	}
	model_finish(&m);

	const weft_tr_info *in = &tt.info;
	uint64_t dur = m.now - m.first_ts, nev = tt.nread;
	double bpe = nev ? (double)in->file_bytes / (double)nev : 0;
	double ratio = in->file_bytes ? (double)in->raw_bytes / (double)in->file_bytes : 0;
	char b1[32], b2[32], b3[32];

	if (json) {
		tool_json_open(&tt);
		printf("\"file\":");
		json_str(stdout, file);
		printf(",\"end\":\"%s\",\"end_code\":%d", end_name(in->end_reason), in->end_code);
		printf(",\"version\":%d,\"clock\":\"%s\",\"complete\":%s,\"pid\":%d,"
		       "\"duration_ns\":%" PRIu64 ",\"first_ns\":%" PRIu64 ",\"last_ns\":%" PRIu64 ",\"procs\":%d,\"ps\":%d,\"ms\":%" PRIu64
		       ",\"ms_created\":%" PRIu64 ",\"tasks_created\":%" PRIu64
		       ",\"tasks_ended\":%" PRIu64 ",\"tasks_live_max\":%zu,\"task_starts\":%" PRIu64
		       ",\"events\":%" PRIu64 ",\"chunks\":%" PRIu64 ",\"file_bytes\":%" PRIu64
		       ",\"raw_bytes\":%" PRIu64 ",\"bytes_per_event\":%.3f,\"compression_ratio\":%.3f,"
		       "\"stalls\":%" PRIu64 ",\"stall_ns\":%" PRIu64 ",\"steals\":%" PRIu64
		       ",\"tasks_stolen\":%" PRIu64 ",\"steal_failed_probes\":%" PRIu64
		       ",\"stw_pauses\":%" PRIu64 ",\"stw_wait_ns\":%" PRIu64 ",\"anomalies\":%" PRIu64
		       ",\"events_by_type\":{",
		       in->version, in->clock ? "tsc" : "monotonic", in->complete ? "true" : "false",
		       in->pid, dur, m.first_ts, m.now, in->procs, m.np, ms, mcreate, m.tasks_created, m.tasks_ended,
		       m.max_live, m.starts, nev, in->chunks, in->file_bytes, in->raw_bytes, bpe,
		       ratio, stall_n, stall_ns, steals, stolen, steal_failed, stw_n, stw_wait,
		       m.anomalies);
		for (int i = 1, first = 1; i < WEFT_TEV_MAX; i++) {
			if (!weft_tr_event_name(i))
				continue;
			printf("%s\"%s\":%" PRIu64, first ? "" : ",", weft_tr_event_name(i), bytype[i]);
			first = 0;
		}
		printf("},\"blocks_by_reason\":{");
		for (int i = 0, k = 0; i < WEFT_TRACE_BLOCK_MAX; i++)
			if (byreason[i])
				printf("%s\"%s\":%" PRIu64, k++ ? "," : "",
				       i ? weft_tr_block_name(i) : "other", byreason[i]);
		printf("},\"per_p\":[");
		for (int i = 0; i < m.np; i++) {
			const struct mp *p = &m.ps[i];
			printf("%s{\"p\":%d,\"running_ns\":%" PRIu64 ",\"sched_ns\":%" PRIu64
			       ",\"idle_ns\":%" PRIu64 ",\"stw_ns\":%" PRIu64 ",\"syscall_ns\":%" PRIu64 "}",
			       i ? "," : "", i, p->time[PC_RUN], p->time[PC_SCHED] + p->time[PC_SEARCH],
			       p->time[PC_IDLE], p->time[PC_STW], p->time[PC_SYSCALL]);
		}
		printf("]}\n");
	} else {
		tool_partial_text(&tt);
		printf("trace        %s: format %d, %s clock, pid %d%s\n", file, in->version,
		       in->clock ? "TSC" : "monotonic", in->pid,
		       in->complete ? "" : ", INCOMPLETE (not finalized: the program is still "
					  "writing it, or died; each stream's events after its "
					  "last chunk are not in the file)");
		if (in->complete && in->end_reason != WEFT_TRACE_END_STOP)
			printf("ended by     %s %d: the program died; each P's events end where "
			       "it was\n",
			       end_name(in->end_reason), in->end_code);
		printf("duration     %s (events from %.3f to %.3f us)\n", fmt_dur(b1, (double)dur),
		       (double)m.first_ts / 1e3, (double)m.now / 1e3);
		printf("Ps           %d at start, %d seen\n", in->procs, m.np);
		printf("threads (M)  %" PRIu64 " seen, %" PRIu64 " created during the trace\n", ms,
		       mcreate);
		printf("tasks        %" PRIu64 " created, %" PRIu64 " ended, %zu alive at most, %" PRIu64
		       " runs\n",
		       m.tasks_created, m.tasks_ended, m.max_live, m.starts);
		printf("events       %" PRIu64 " in %" PRIu64 " chunks; %s on disk (%.2f bytes/event), "
		       "%s raw, compression %.1fx\n",
		       nev, in->chunks, fmt_count(b2, (double)in->file_bytes), bpe,
		       fmt_count(b3, (double)in->raw_bytes), ratio);
		printf("blocks       %" PRIu64, nblock);
		for (int i = 0, k = 0; i < WEFT_TRACE_BLOCK_MAX; i++)
			if (byreason[i])
				printf("%s%" PRIu64 " %s", k++ ? ", " : ": ", byreason[i],
				       i ? weft_tr_block_name(i) : "other");
		printf("\n");
		printf("stalls       %" PRIu64 " (%s waiting for the trace writer)\n", stall_n,
		       fmt_dur(b1, (double)stall_ns));
		printf("steals       %" PRIu64 " (%" PRIu64 " tasks), %" PRIu64 " failed probes\n",
		       steals, stolen, steal_failed);
		printf("stop-world   %" PRIu64 " pauses, %s stopping Ps (longest %s)\n", stw_n,
		       fmt_dur(b1, (double)stw_wait), fmt_dur(b2, (double)stw_max_wait));
		if (m.anomalies)
			printf("anomalies    %" PRIu64 " events did not fit the state of their task or P\n",
			       m.anomalies);
		printf("\nevents by type\n");
		for (int i = 1; i < WEFT_TEV_MAX; i++)
			if (weft_tr_event_name(i) && bytype[i])
				printf("  %-16s %12" PRIu64 "  %5.1f%%\n", weft_tr_event_name(i),
				       bytype[i], nev ? 100.0 * (double)bytype[i] / (double)nev : 0.0);
		printf("\nper P (share of %s)  running    sched     idle      stw  syscall\n",
		       fmt_dur(b1, (double)dur));
		for (int i = 0; i < m.np; i++) {
			const struct mp *p = &m.ps[i];
			double d = dur ? (double)dur / 100.0 : 1;
			printf("  P%-19d %6.1f%%  %6.1f%%  %6.1f%%  %6.1f%%  %6.1f%%\n", i,
			       (double)p->time[PC_RUN] / d,
			       (double)(p->time[PC_SCHED] + p->time[PC_SEARCH]) / d,
			       (double)p->time[PC_IDLE] / d, (double)p->time[PC_STW] / d,
			       (double)p->time[PC_SYSCALL] / d);
		}
	}
	model_free(&m);
	tool_close(&tt);
	return r < 0 ? TOOL_EXIT_BAD : 0;
}

const struct tool_cmd cmd_stats = { "stats", "counts, sizes, per-P utilisation", help, run };

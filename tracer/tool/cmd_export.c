/*
 * cmd_export.c - weft-trace export: the trace in a format a viewer
 * opens. This file is the command (options, the output file, the warning
 * for big JSON); each format is a file of its own behind export.h:
 *
 *   perfetto  Perfetto's protobuf trace, gzip'd: the default (export_perfetto.c)
 *   chrome    Chrome trace-event JSON (export_chrome.c)
 *   go        a Go 1.19 execution trace for `go tool trace` (export_go.c)
 *
 * Rejected: a command per format (they share the window, the output and
 * the help, and users look for one verb).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "export.h"
#include "out.h"
#include "pipe.h"
#include "tool.h"

static const char help[] =
	"usage: weft-trace export [--format FORMAT] [-o OUT] [--from US] [--to US] FILE\n"
	"\n"
	"Writes the trace in a format that a viewer opens.\n"
	"\n"
	"  --format perfetto  (the default) Perfetto's native protobuf trace, gzip'd,\n"
	"                   for ui.perfetto.dev (Open trace file) and trace_processor:\n"
	"                   about 4 bytes an event (26 uncompressed), so traces of\n"
	"                   tens of millions of events open.\n"
	"                     - under the process \"weft pid N\", in this order: a\n"
	"                       track per P (P0, P1, ...) with a slice per run\n"
	"                       named by the task's entry function, its id in the\n"
	"                       arg \"task\" and how it ended in \"end\" (yield,\n"
	"                       block: reason at call site, syscall, end); the\n"
	"                       user's regions nested in the runs; logs and the\n"
	"                       \"spawn\" and \"wake\" markers as instants;\n"
	"                     - stop-the-world; wakeups by timers and threads;\n"
	"                     - counters: tasks runnable, running, in a syscall,\n"
	"                       and Ps spinning (held by a thread, no task);\n"
	"                     - a track per thread (M) with its syscalls; a track\n"
	"                       per user task;\n"
	"                     - a flow arrow from each spawn and wake marker to\n"
	"                       the run it caused (to \"not run before the end\"\n"
	"                       when the task did not run again).\n"
	"                   Binary: give -o FILE (or redirect); --no-gzip writes it\n"
	"                   uncompressed (about 7 times bigger).\n"
	"\n"
	"  --format chrome  Chrome trace-event JSON, for chrome://tracing and (as a\n"
	"                   legacy format) Perfetto's UI. About 150 bytes an event:\n"
	"                   for traces under a million events.\n"
	"                     - a row per P: which task ran when, labelled\n"
	"                       \"entry_function #id\", with the user's regions nested\n"
	"                       inside and logs as instant events;\n"
	"                     - a stop-the-world row, a row of wakeups by timers and\n"
	"                       threads; a row per thread (M) with its syscalls;\n"
	"                     - flow arrows from each create and unblock to the run\n"
	"                       it caused; counters: tasks runnable, running, in a\n"
	"                       syscall; user tasks as async slices.\n"
	"\n"
	"  --format go      a Go 1.19 execution trace: `go tool trace FILE` (tested\n"
	"                   with Go 1.19) opens it with all its pages. Each P is a Go P,\n"
	"                   each task a goroutine (its id the G id) named by its\n"
	"                   entry function; blocks become Go's blocking events\n"
	"                   (chan send/receive, select, sync for mutex, wait group\n"
	"                   and semaphore, sleep), syscalls handed off GoSysBlock,\n"
	"                   stop-the-world a STW; call sites (\"worker+0x2b\") are\n"
	"                   the stack frames, so the blocking, syscall and\n"
	"                   scheduler-latency profiles say where; user tasks,\n"
	"                   regions and logs are Go's annotations. With --from,\n"
	"                   the tasks alive then start as goroutines in progress.\n"
	"                   Binary: give -o FILE.\n"
	"\n"
	"  -o OUT           where to write (default: standard output); the file\n"
	"                   appears when it is complete (a temporary beside it until\n"
	"                   then), and a file already there is replaced only then\n"
	"  --gzip, --no-gzip  gzip the output or not (default: perfetto yes,\n"
	"                   chrome and go no)\n"
	"  --from US        only what happens at or after US microseconds\n"
	"  --to US          only what happens at or before US microseconds\n"
	"\n"
	"Exit status 1 with the reader's message (and byte offset) on a bad file;\n"
	"nothing is written under OUT then.\n";

struct fmt {
	const char *name;
	int (*run)(struct export_args *a);
	bool binary; /* refuse to write it to a terminal */
	bool gzip;   /* gzip'd unless --no-gzip */
	int level;   /* deflate's level (0: zlib's default) */
};

static const struct fmt fmts[] = {
	/* deflate level 1: deflate is most of the export's time; 2 is 13%
	 * smaller and 5% slower, 6 is 23% smaller and 3.5 times slower
	 * (bench/RESULTS.md, issue 14). */
	{ "perfetto", export_perfetto, true, true, 1 },
	{ "chrome", export_chrome, false, false, 0 },
	{ "go", export_go, true, false, 0 },
};
#define NFMTS (sizeof(fmts) / sizeof(fmts[0]))

/* Above these, JSON is too big for the viewers (Perfetto's importer and
 * chrome://tracing give up between 256 MB and 1 GB). */
#define CHROME_WARN_EVENTS 1000000ull
#define CHROME_WARN_BYTES (256ull << 20)

struct opts {
	const struct fmt *fmt;
	const char *out;
	uint64_t from, to;
	int gzip; /* -1 the format's default, 0 no, 1 yes */
};

static int opt(void *x, const char *name, const char *v)
{
	struct opts *o = x;

	if (strcmp(name, "format") == 0) {
		o->fmt = NULL;
		for (size_t i = 0; i < NFMTS; i++)
			if (strcmp(v, fmts[i].name) == 0)
				o->fmt = &fmts[i];
		if (!o->fmt) {
			char known[128] = "";
			for (size_t i = 0; i < NFMTS; i++)
				snprintf(known + strlen(known), sizeof(known) - strlen(known), "%s%s",
					 i ? ", " : "", fmts[i].name);
			return tool_usage(&cmd_export, "--format: '%s' is not one of %s", v, known);
		}
	} else if (strcmp(name, "o") == 0 || strcmp(name, "output") == 0) {
		o->out = v;
	} else if (strcmp(name, "gzip") == 0) {
		o->gzip = 1;
	} else if (strcmp(name, "no-gzip") == 0) {
		o->gzip = 0;
	} else {
		int64_t t = tool_parse_us(v);
		if (t < 0)
			return tool_usage(&cmd_export, "--%s wants microseconds, not '%s'", name, v);
		*(name[0] == 'f' ? &o->from : &o->to) = (uint64_t)t;
	}
	return 0;
}

static int run(int argc, char **argv)
{
	static const struct tool_opt opts[] = { { "format", true }, { "from", true },
						{ "to", true },     { "output", true },
						{ "gzip", false },  { "no-gzip", false },
						{ NULL, false } };
	struct opts o = { .fmt = &fmts[0], .to = UINT64_MAX, .gzip = -1 };
	struct tool_trace tt;
	struct tool_out out;
	const char *file;
	int r;

	if ((r = tool_getopt(&cmd_export, argc, argv, opts, opt, &o, &file, NULL)) != 0)
		return r;
	if ((r = tool_check_window(&cmd_export, o.from, o.to)) != 0)
		return r;
	bool to_stdout = !o.out || strcmp(o.out, "-") == 0;
	bool gzip = o.gzip < 0 ? o.fmt->gzip : o.gzip;
	if (to_stdout && (o.fmt->binary || gzip) && isatty(STDOUT_FILENO))
		return tool_usage(&cmd_export, "--format %s%s is binary: give -o FILE", o.fmt->name,
				  gzip ? " (gzip'd)" : "");
	if (tool_open(&tt, "export", file) < 0)
		return TOOL_EXIT_BAD;
	struct export_args a = { .tt = &tt, .out = &out, .from = o.from, .to = o.to };
	if (!(a.f = tool_out_open(&out, "export", to_stdout ? NULL : o.out, gzip,
				  o.fmt->level))) {
		tool_close(&tt);
		return TOOL_EXIT_BAD;
	}
	r = o.fmt->run(&a);
	unsigned long long bytes = tool_out_bytes(&out);
	tool_close(&tt);
	if (tool_out_close(&out, r >= 0) < 0)
		return TOOL_EXIT_BAD;
	if (o.fmt->run == export_chrome &&
	    (a.nevents > CHROME_WARN_EVENTS || bytes > CHROME_WARN_BYTES))
		tool_err("export",
			 "%llu events, %.0f MB of JSON: more than Perfetto's UI and "
			 "chrome://tracing load well; --format perfetto (the default) writes "
			 "about a 40th of it gzip'd (a 6th uncompressed)",
			 (unsigned long long)a.nevents, bytes / 1e6);
	return 0;
}

const struct tool_cmd cmd_export = { "export", "the trace for a viewer (Perfetto, Chrome, Go)",
				     help, run };

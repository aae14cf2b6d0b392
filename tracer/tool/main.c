/*
 * main.c - the weft-trace program: finds the command and runs it.
 *
 *   weft-trace stats FILE            what is in the trace, per-P utilisation
 *   weft-trace dump FILE             one event a line
 *   weft-trace tasks FILE            the goroutine-analysis page as text
 *   weft-trace gaps FILE             scheduler overhead, parallelism, verdicts
 *   weft-trace export FILE -o out.pftrace.gz          for Perfetto (the default)
 *   weft-trace export --format go FILE -o out.trace   for go tool trace
 *   weft-trace export --format chrome FILE -o out.json
 *   weft-trace pprof --kind sync FILE -o sync.pb.gz   for go tool pprof
 *   weft-trace help [CMD]
 *
 * One file per command (cmd_*.c), each with its help text beside its code;
 * what they share has a file per concept: tool.c (options, messages,
 * output), pipe.c (reading a trace), model.c (the state model), out.c
 * (the output file, gzip), pb.h (protobuf by hand), names.c, hist.c and
 * u64map.h (the one hash table); export's formats are export_*.c. Everything
 * reads the trace through the installed reader library (<weft/trace.h>):
 * there is no second parser to drift from the format.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <weft/version.h>

#include "tool.h"

static const struct tool_cmd *const cmds[] = {
	&cmd_stats, &cmd_dump, &cmd_tasks, &cmd_gaps, &cmd_export, &cmd_pprof,
#ifdef WEFT_HAVE_VIEW
	&cmd_view,
#endif
};
#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

static void usage(FILE *f)
{
	fputs("usage: weft-trace COMMAND [OPTIONS] FILE\n\n"
	      "Reads an execution trace written by a weft program (weft_trace_start()\n"
	      "or WEFT_TRACE=FILE) and says what the scheduler did.\n\ncommands:\n",
	      f);
	for (size_t i = 0; i < NCMDS; i++)
		fprintf(f, "  %-8s %s\n", cmds[i]->name, cmds[i]->summary);
	fputs("  help     weft-trace help COMMAND: the command's options\n\n"
	      "A first look at a trace: weft-trace gaps FILE, then\n"
	      "weft-trace export FILE -o out.pftrace.gz and open it in Perfetto's UI\n"
	      "(ui.perfetto.dev, Open trace file); or weft-trace export --format go\n"
	      "FILE -o out.trace for go tool trace, weft-trace pprof --kind sync FILE\n"
	      "-o sync.pb.gz for go tool pprof.\n"
	      "Exit status: 0 fine, 1 a bad or unreadable trace (the message gives the\n"
	      "byte offset), 2 a usage error.\n",
	      f);
}

static const struct tool_cmd *find(const char *name)
{
	for (size_t i = 0; i < NCMDS; i++)
		if (strcmp(cmds[i]->name, name) == 0)
			return cmds[i];
	return NULL;
}

int main(int argc, char **argv)
{
	const struct tool_cmd *c;

	if (argc < 2) {
		usage(stderr);
		return TOOL_EXIT_USAGE;
	}
	if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		if (argc < 3) {
			usage(stdout);
			return 0;
		}
		if (!(c = find(argv[2]))) {
			tool_err(NULL, "no command '%s'", argv[2]);
			usage(stderr);
			return TOOL_EXIT_USAGE;
		}
		fputs(c->help, stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("weft-trace %s\n", WEFT_VERSION_STRING);
		return 0;
	}
	if (!(c = find(argv[1]))) {
		tool_err(NULL, "no command '%s'", argv[1]);
		usage(stderr);
		return TOOL_EXIT_USAGE;
	}
	return c->run(argc - 1, argv + 1);
}

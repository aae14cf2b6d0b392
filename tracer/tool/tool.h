/*
 * tool.h - what every weft-trace command needs besides the trace: the
 * command table, exit statuses and messages, the one out-of-memory exit,
 * options, and output (durations, counts, JSON strings).
 *
 * The other shared pieces have a header each, included by the commands
 * that use them: pipe.h (reading a trace), model.h (the scheduler's state),
 * names.h (code keys to names), hist.h (bounded histograms) and u64map.h
 * (the hash table). Everything is built on the public reader API
 * (<weft/trace.h>) and nothing else: weft-trace has no parser of its own.
 */
#ifndef WEFT_TRACE_TOOL_H
#define WEFT_TRACE_TOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- commands -------------------------------------------------------------- */

struct tool_cmd {
	const char *name;
	const char *summary; /* one line, for `weft-trace help` */
	const char *help;    /* the full text, for `weft-trace help CMD` */
	int (*run)(int argc, char **argv);
};

extern const struct tool_cmd cmd_stats, cmd_dump, cmd_tasks, cmd_gaps, cmd_export,
	cmd_pprof, cmd_view;

/* Exit statuses: 0 fine, 1 a bad trace or an I/O error, 2 a usage error. */
#define TOOL_EXIT_BAD 1
#define TOOL_EXIT_USAGE 2

/*
 * Out of memory: print "weft-trace: out of memory" and exit with
 * TOOL_EXIT_BAD. The tool's memory is its model and its tables, which
 * nothing can shrink, so no command tries to go on without them.
 */
__attribute__((noreturn, cold)) void tool_oom(void);
/* calloc and realloc that never return NULL (tool_oom); @n * @size is checked. */
void *tool_calloc(size_t n, size_t size);
void *tool_realloc(void *p, size_t n, size_t size);
/*
 * The array @p of *@n elements of @size bytes, made to reach index @i:
 * returned as it is if it does, else grown to i + 16 elements (*@n
 * updated), the new ones zeroed. For tables indexed by a names index,
 * which grows one at a time.
 */
void *tool_grow_zero(void *p, size_t *n, size_t i, size_t size);

/* Print "weft-trace CMD: message" on stderr; usage() adds a pointer to help. */
void tool_err(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int tool_usage(const struct tool_cmd *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Options common to the commands. tool_getopt() parses argv with the
 * long options @opts (getopt_long) and the standard --help and
 * --json; it returns TOOL_EXIT_USAGE (message printed) or 0, and leaves
 * the one FILE operand in *@file. Command-specific options come back
 * through @opt(ctx, name, value); it returns 0 or a usage error.
 */
struct tool_opt {
	const char *name;
	bool has_arg;
};
int tool_getopt(const struct tool_cmd *c, int argc, char **argv, const struct tool_opt *opts,
		int (*opt)(void *ctx, const char *name, const char *value), void *ctx,
		const char **file, bool *json);
/* Parse a time in microseconds ("1200", "3.5") into ns; -1 if malformed. */
int64_t tool_parse_us(const char *s);
/* --from/--to in ns (parsed by tool_parse_us): 0, or a usage error if from > to. */
int tool_check_window(const struct tool_cmd *c, uint64_t from, uint64_t to);
/* Parse a non-negative integer; -1 if malformed. */
int64_t tool_parse_uint(const char *s);

/* ---- output -------------------------------------------------------------------- */

/* A duration in ns as text with a unit ("1.23 ms", "850 ns"); @buf of 32 bytes. */
const char *fmt_dur(char *buf, double ns);
/* A count with thin grouping ("10.2 M", "1234"); @buf of 32 bytes. */
const char *fmt_count(char *buf, double n);
/* Write @s as a JSON string (with the quotes). */
void json_str(FILE *f, const char *s);

#endif /* WEFT_TRACE_TOOL_H */

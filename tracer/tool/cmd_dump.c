/*
 * cmd_dump.c - weft-trace dump: every event on a line of its own, in the
 * reader's global order, with the time in microseconds since the trace
 * started, the P it was recorded on, the event's name and its arguments
 * by name; entry functions and call sites by their names, block reasons,
 * task states and stop-the-world reasons in words, strings quoted.
 * Filters by time, task and P; nothing is held but the current event.
 */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "names.h"
#include "pipe.h"
#include "tool.h"

static const char help[] =
	"usage: weft-trace dump [--from US] [--to US] [--task N] [--p N] FILE\n"
	"\n"
	"One event a line: time in microseconds since the trace started, the P\n"
	"it was recorded on (- for events recorded without a P), its name and\n"
	"its arguments by name, code addresses as function names or call sites\n"
	"(main_task+0x4c), block reasons and states in words.\n"
	"\n"
	"  --from US   only events at or after US microseconds\n"
	"  --to US     only events at or before US microseconds\n"
	"  --task N    only events that name task N (as the task, its parent or\n"
	"              the task that unblocked it)\n"
	"  --p N       only events recorded on P N (--p -1: without a P)\n"
	"\n"
	"Exit status 1 with the reader's message (and byte offset) on a bad file;\n"
	"the events before the bad spot are printed first.\n";

struct opts {
	int64_t from, to, task;
	int p;
	bool has_p;
};

static int opt(void *ctx, const char *name, const char *v)
{
	struct opts *o = ctx;

	if (strcmp(name, "from") == 0 || strcmp(name, "to") == 0) {
		int64_t t = tool_parse_us(v);
		if (t < 0)
			return tool_usage(&cmd_dump, "--%s wants microseconds, not '%s'", name, v);
		*(name[0] == 'f' ? &o->from : &o->to) = t;
	} else if (strcmp(name, "task") == 0) {
		if ((o->task = tool_parse_uint(v)) <= 0)
			return tool_usage(&cmd_dump, "--task wants a task id, not '%s'", v);
	} else if (strcmp(name, "p") == 0) {
		int64_t p = strcmp(v, "-1") == 0 ? -1 : tool_parse_uint(v);
		if (p < -1 || (p < 0 && strcmp(v, "-1") != 0) || p >= MODEL_MAX_P)
			return tool_usage(&cmd_dump, "--p wants a P number or -1, not '%s'", v);
		o->p = (int)p;
		o->has_p = true;
	}
	return 0;
}

static const char *const state_names[] = { "?", "runnable", "running", "blocked", "syscall" };
static const char *const stw_names[] = { "user", "set_procs", "trace" };

static bool names_task(const weft_tr_event *ev, uint64_t id)
{
	int n = weft_tr_event_nargs(ev->type);

	for (int i = 0; i < n; i++) {
		const char *a = weft_tr_arg_name(ev->type, i);
		if (ev->args[i] == id &&
		    (strcmp(a, "task") == 0 || strcmp(a, "parent") == 0 || strcmp(a, "by") == 0))
			return true;
	}
	return false;
}

static void print_str(FILE *f, const char *s, uint32_t len)
{
	fputc('"', f);
	for (uint32_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\x%02x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static int run(int argc, char **argv)
{
	static const struct tool_opt opts[] = {
		{ "from", true }, { "to", true }, { "task", true }, { "p", true }, { NULL, false }
	};
	struct opts o = { .from = 0, .to = INT64_MAX, .task = 0, .p = 0, .has_p = false };
	struct tool_trace tt;
	struct names names;
	weft_tr_event *ev;
	const char *file;
	int r;

	if ((r = tool_getopt(&cmd_dump, argc, argv, opts, opt, &o, &file, NULL)) != 0)
		return r;
	if ((r = tool_check_window(&cmd_dump, (uint64_t)o.from, (uint64_t)o.to)) != 0)
		return r;
	if (tool_open(&tt, "dump", file) < 0)
		return TOOL_EXIT_BAD;
	names_init(&names, tt.t);
	while ((r = tool_next(&tt, &ev)) > 0) {
		if ((int64_t)ev->ts < o.from)
			continue;
		if ((int64_t)ev->ts > o.to)
			break; /* the order is by time: nothing later can match */
		if (o.has_p && ev->p != o.p)
			continue;
		if (o.task && !names_task(ev, (uint64_t)o.task))
			continue;
		if (ev->p >= 0)
			printf("%14.3f P%-3d %-15s", (double)ev->ts / 1e3, ev->p,
			       weft_tr_event_name(ev->type));
		else
			printf("%14.3f -    %-15s", (double)ev->ts / 1e3, weft_tr_event_name(ev->type));
		int n = weft_tr_event_nargs(ev->type);
		for (int i = 0; i < n; i++) {
			const char *a = weft_tr_arg_name(ev->type, i);
			uint64_t v = ev->args[i];
			if (strcmp(a, "fn") == 0 || strcmp(a, "site") == 0) {
				printf(" %s=%s", a, v ? names_get(&names, names_intern(&names, v)) : "-");
			} else if (strcmp(a, "reason") == 0 && ev->type != WEFT_TEV_STW_BEGIN) {
				if (ev->type == WEFT_TEV_TASK_STATE && v == 0)
					continue;
				printf(" reason=\"%s\"", weft_tr_block_name((int)v));
			} else if (strcmp(a, "reason") == 0) {
				printf(" reason=%s", v < 3 ? stw_names[v] : "?");
			} else if (strcmp(a, "state") == 0) {
				printf(" state=%s", v < 5 ? state_names[v] : "?");
			} else if (strcmp(a, "obj") == 0) {
				printf(" obj=%#" PRIx64, v);
			} else if (strcmp(a, "seq") == 0 && v == 0) {
				continue; /* same stream as the task's previous numbered event */
			} else {
				printf(" %s=%" PRIu64, a, v);
			}
		}
		for (int i = 0; i < 2; i++)
			if (ev->str[i]) {
				fputc(' ', stdout);
				print_str(stdout, ev->str[i], ev->strlen[i]);
			}
		fputc('\n', stdout);
	}
	names_free(&names);
	tool_close(&tt);
	if (fflush(stdout) != 0)
		return TOOL_EXIT_BAD;
	return r < 0 ? TOOL_EXIT_BAD : 0;
}

const struct tool_cmd cmd_dump = { "dump", "one event a line, with filters", help, run };

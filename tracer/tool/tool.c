/*
 * tool.c - the helpers every weft-trace command uses (tool.h): messages,
 * the out-of-memory exit, options and output formatting.
 *
 * Errors. A bad trace or an I/O error is exit status 1 with the reader's
 * message (which names the byte offset); a usage error is status 2 with
 * a pointer to `weft-trace help CMD`. Running out of memory is status 1
 * from one place, tool_oom(): the model and the tables are what a command
 * is made of, and a command that went on without one would print wrong
 * figures rather than none. Rejected: returning -ENOMEM up through the
 * model's hooks (every hook and every caller would test for a case that
 * only ends the program anyway).
 *
 * Options are getopt_long's with the standard --help and --json added to
 * each command's own; a command sees its options through one callback,
 * by long name.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

/* ---- messages and options ------------------------------------------------------ */

void tool_err(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "weft-trace%s%s: ", cmd ? " " : "", cmd ? cmd : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void tool_oom(void)
{
	fputs("weft-trace: out of memory\n", stderr);
	exit(TOOL_EXIT_BAD);
}

void *tool_calloc(size_t n, size_t size)
{
	void *p = calloc(n, size);

	if (!p && n && size)
		tool_oom();
	return p;
}

void *tool_realloc(void *p, size_t n, size_t size)
{
	void *q;

	if (size && n > SIZE_MAX / size)
		tool_oom();
	if (!(q = realloc(p, n * size)) && n && size)
		tool_oom();
	return q;
}

void *tool_grow_zero(void *p, size_t *n, size_t i, size_t size)
{
	size_t want = i + 16;

	if (i < *n)
		return p;
	p = tool_realloc(p, want, size);
	memset((char *)p + *n * size, 0, (want - *n) * size);
	*n = want;
	return p;
}

int tool_usage(const struct tool_cmd *c, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "weft-trace %s: ", c->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(see: weft-trace help %s)\n", c->name);
	return TOOL_EXIT_USAGE;
}

int64_t tool_parse_us(const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= 0) || v > 9e12)
		return -1;
	return (int64_t)llround(v * 1000.0);
}

int tool_check_window(const struct tool_cmd *c, uint64_t from, uint64_t to)
{
	if (from <= to)
		return 0;
	return tool_usage(c, "--from %.3f is after --to %.3f", (double)from / 1e3, (double)to / 1e3);
}

int64_t tool_parse_uint(const char *s)
{
	char *end;
	unsigned long long v;

	if (!*s || *s == '-')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > INT64_MAX)
		return -1;
	return (int64_t)v;
}

int tool_getopt(const struct tool_cmd *c, int argc, char **argv, const struct tool_opt *opts,
		int (*opt)(void *ctx, const char *name, const char *value), void *ctx,
		const char **file, bool *json)
{
	struct option lo[32];
	int n = 0, r;

	for (; opts && opts[n].name && n < 28; n++)
		lo[n] = (struct option){ opts[n].name, opts[n].has_arg ? required_argument : no_argument,
					 NULL, 1000 + n };
	lo[n++] = (struct option){ "help", no_argument, NULL, 'h' };
	if (json)
		lo[n++] = (struct option){ "json", no_argument, NULL, 'j' };
	lo[n] = (struct option){ NULL, 0, NULL, 0 };
	*file = NULL;
	if (json)
		*json = false;
	optind = 0; /* glibc: full reinitialisation */
	opterr = 0;
	while ((r = getopt_long(argc, argv, "-ho:", lo, NULL)) != -1) {
		if (r == 'h') {
			fputs(c->help, stdout);
			exit(0);
		} else if (r == 'j') {
			*json = true;
		} else if (r == 1) {
			if (*file)
				return tool_usage(c, "one trace file only ('%s' and '%s')", *file,
						  optarg);
			*file = optarg;
		} else if (r == 'o' && opt) {
			int e = opt(ctx, "o", optarg);
			if (e)
				return e;
		} else if (r >= 1000 && opt) {
			int e = opt(ctx, opts[r - 1000].name, optarg);
			if (e)
				return e;
		} else if (r == ':' || (r == '?' && optopt)) {
			return tool_usage(c, "option needs a value or is unknown: %s",
					  argv[optind - 1]);
		} else {
			return tool_usage(c, "unknown option %s", argv[optind - 1]);
		}
	}
	if (!*file)
		return tool_usage(c, "no trace file given");
	return 0;
}

/* ---- output -------------------------------------------------------------------- */

const char *fmt_dur(char *buf, double ns)
{
	double a = fabs(ns);

	if (a < 1e3)
		snprintf(buf, 32, "%.0f ns", ns);
	else if (a < 1e6)
		snprintf(buf, 32, "%.3g us", ns / 1e3);
	else if (a < 1e9)
		snprintf(buf, 32, "%.3g ms", ns / 1e6);
	else
		snprintf(buf, 32, "%.3f s", ns / 1e9);
	return buf;
}

const char *fmt_count(char *buf, double n)
{
	if (n < 1e4)
		snprintf(buf, 32, "%.0f", n);
	else if (n < 1e6)
		snprintf(buf, 32, "%.1f k", n / 1e3);
	else if (n < 1e9)
		snprintf(buf, 32, "%.2f M", n / 1e6);
	else
		snprintf(buf, 32, "%.2f G", n / 1e9);
	return buf;
}

void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\u%04x", *p);
		else if (*p >= 0x80) {
			/* Pass valid UTF-8 through, replace anything else. */
			int n = (*p & 0xe0) == 0xc0 ? 1 : (*p & 0xf0) == 0xe0 ? 2 : (*p & 0xf8) == 0xf0 ? 3 : -1;
			int k;
			for (k = 1; n > 0 && k <= n; k++)
				if ((p[k] & 0xc0) != 0x80)
					break;
			if (n > 0 && k == n + 1) {
				fwrite(p, 1, (size_t)n + 1, f);
				p += n;
			} else {
				fputs("\\ufffd", f);
			}
		} else
			fputc(*p, f);
	}
	fputc('"', f);
}

/*
 * trace_events.c - events per operation of each measured section of a
 * traced benchmark run, for bench/run.sh's tracer cost per event.
 *
 * The benchmark programs mark each measured section with a trace region
 * named as its "<name>: <value> ns/op" line, holding a log of category
 * "ops" with its operation count (bench.h, bench_section_begin/_end). The
 * events of a section are all the events, of every P, that the reader
 * orders between the region's begin and its end, less the "ops" log: what
 * the tracer recorded while the section's time was measured.
 *
 * Usage: trace_events FILE   (make one with WEFT_TRACE=FILE ./bench/chan)
 * Prints "<name>: <value> events/op" for each section with an "ops" log,
 * "# <name>: <events> events, <ops> ops" for every section and
 * "# total: <events> events"; exits 1 with the reader's message if the
 * trace is rejected, 2 on a usage error.
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/trace.h>

#define MAX_OPEN 64

/* A region not yet ended. */
struct section {
	uint64_t task;
	uint64_t begin;  /* index of its REGION_BEGIN in the merged order */
	uint64_t logs;   /* its "ops" logs, not counted as its events */
	long long ops;   /* 0: no "ops" log */
	char name[64];
};

/* The innermost open section of @task, or NULL. */
static struct section *innermost(struct section *open, int nopen, uint64_t task)
{
	for (int i = nopen - 1; i >= 0; i--)
		if (open[i].task == task)
			return &open[i];
	return NULL;
}

int main(int argc, char **argv)
{
	struct section open[MAX_OPEN];
	int nopen = 0, rc;
	weft_tr *t;
	weft_tr_event ev;
	char err[512];
	uint64_t n = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: %s FILE\n", argv[0]);
		return 2;
	}
	if (weft_tr_open(argv[1], &t, err, sizeof(err)) < 0) {
		fprintf(stderr, "trace_events: %s\n", err);
		return 1;
	}
	for (; (rc = weft_tr_next(t, &ev)) > 0; n++) {
		struct section *s;

		switch (ev.type) {
		case WEFT_TEV_REGION_BEGIN:
			if (nopen == MAX_OPEN)
				break; /* deeper than any benchmark nests: not counted */
			s = &open[nopen++];
			s->task = ev.args[0];
			s->begin = n;
			s->logs = 0;
			s->ops = 0;
			snprintf(s->name, sizeof(s->name), "%.*s", (int)ev.strlen[0],
				 ev.str[0] ? ev.str[0] : "");
			break;
		case WEFT_TEV_LOG:
			s = innermost(open, nopen, ev.args[0]);
			if (s && ev.str[0] && strcmp(ev.str[0], "ops") == 0 && ev.str[1]) {
				s->ops = strtoll(ev.str[1], NULL, 10);
				s->logs++;
			}
			break;
		case WEFT_TEV_REGION_END:
			s = innermost(open, nopen, ev.args[0]);
			if (!s)
				break;
			uint64_t events = n - s->begin - 1 - s->logs;
			printf("# %s: %" PRIu64 " events, %lld ops\n", s->name, events, s->ops);
			if (s->ops > 0)
				printf("%s: %.3f events/op\n", s->name, (double)events / (double)s->ops);
			memmove(s, s + 1, (size_t)(&open[nopen] - (s + 1)) * sizeof(*s));
			nopen--;
			break;
		}
	}
	if (rc < 0) {
		fprintf(stderr, "trace_events: %s: %s\n", argv[1], weft_tr_error(t));
		weft_tr_close(t);
		return 1;
	}
	weft_tr_close(t);
	printf("# total: %" PRIu64 " events\n", n);
	return 0;
}

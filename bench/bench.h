/*
 * bench.h - what every weft benchmark program shares: the clock, the
 * "-n N" flag, and the run of the main task. Each program prints
 * "<name>: <value> ns/op" lines (bench/run.sh reads them) and "# ..."
 * comment lines. Each measured section is marked in the trace of a traced
 * run (WEFT_TRACE=FILE), so that bench/trace_events can count its events.
 */
#ifndef WEFT_BENCH_H
#define WEFT_BENCH_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <weft.h>

static inline uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Parse "[-n N]" (N >= 1) into *n, or print usage and exit 2. */
static inline void bench_parse_n(int argc, char **argv, long *n)
{
	for (int i = 1; i < argc; i++) {
		char *end;

		if (strcmp(argv[i], "-n") == 0 && i + 1 < argc) {
			*n = strtol(argv[++i], &end, 10);
			if (*end == '\0' && *n >= 1)
				continue;
		}
		fprintf(stderr, "usage: %s [-n N]   (N >= 1)\n", argv[0]);
		exit(2);
	}
}

/* Run @fn as the main task, or report why not and exit 1. */
static inline void bench_run(const char *prog, weft_fn fn, void *arg)
{
	int err = weft_main(fn, arg);

	if (err < 0) {
		fprintf(stderr, "%s: weft_main: %s\n", prog, weft_strerror(err));
		exit(1);
	}
}

/*
 * A measured section: a trace region named @name (the name of its
 * "<name>: <value> ns/op" line) around it and, at its end, a trace log of
 * category "ops" saying how many operations its ns/op divides by. When no
 * trace is being recorded this costs a few loads and stores.
 */
static inline void bench_section_begin(const char *name)
{
	weft_trace_region_begin(name);
}

static inline void bench_section_end(long ops)
{
	weft_trace_log("ops", "%ld", ops);
	weft_trace_region_end();
}

static inline void bench_print_rss(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) == 0)
		printf("# peak-rss-kib: %ld\n", ru.ru_maxrss);
}

#endif /* WEFT_BENCH_H */

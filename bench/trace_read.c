/*
 * trace_read.c - speed of the trace reader (libweft-trace): open a trace,
 * read every event with weft_tr_next, looking up the name of every
 * fn and site key as a viewer would, and print the rate.
 *
 * Usage: trace_read FILE [-r ROUNDS] [-c]   (make one with WEFT_TRACE=FILE ./bench/spawn)
 * -c: count the events only, no name lookups.
 * Prints "trace-read: <value> ns/op" (wall time per event, best of ROUNDS,
 * default 3) and "# ..." lines with the rate and the CPU time (on a busy
 * machine wall time counts the other programs too; the reader's helper
 * thread makes CPU time exceed wall time on an idle one); exits 1 with
 * the reader's message if the trace is rejected.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <weft/trace.h>

static uint64_t now_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	const char *file = NULL;
	int rounds = 3, names = 1;
	double best = 0, best_cpu = 0;
	uint64_t n = 0, named = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-r") == 0 && i + 1 < argc)
			rounds = atoi(argv[++i]);
		else if (strcmp(argv[i], "-c") == 0)
			names = 0;
		else if (!file)
			file = argv[i];
	}
	if (!file || rounds < 1) {
		fprintf(stderr, "usage: %s FILE [-r ROUNDS] [-c]\n", argv[0]);
		return 2;
	}
	for (int r = 0; r < rounds; r++) {
		weft_tr *t;
		weft_tr_event ev;
		char err[512];
		int rc;
		uint64_t t0 = now_ns(CLOCK_MONOTONIC), c0 = now_ns(CLOCK_PROCESS_CPUTIME_ID);

		if (weft_tr_open(file, &t, err, sizeof(err)) < 0) {
			fprintf(stderr, "trace_read: %s\n", err);
			return 1;
		}
		n = named = 0;
		while ((rc = weft_tr_next(t, &ev)) > 0) {
			n++;
			if (!names)
				continue;
			if (ev.type == WEFT_TEV_TASK_CREATE)
				named += weft_tr_string(t, ev.args[2]) != NULL;
			else if (ev.type == WEFT_TEV_TASK_BLOCK)
				named += weft_tr_string(t, ev.args[3]) != NULL;
		}
		double s = (double)(now_ns(CLOCK_MONOTONIC) - t0) / 1e9;
		double cpu = (double)(now_ns(CLOCK_PROCESS_CPUTIME_ID) - c0) / 1e9;
		if (rc < 0) {
			fprintf(stderr, "trace_read: %s: %s\n", file, weft_tr_error(t));
			weft_tr_close(t);
			return 1;
		}
		weft_tr_close(t);
		if (!best || s < best)
			best = s;
		if (!best_cpu || cpu < best_cpu)
			best_cpu = cpu;
	}
	printf("trace-read: %.2f ns/op\n", best * 1e9 / (double)(n ? n : 1));
	printf("# %llu events, %llu names looked up, %.1f Mev/s; CPU %.2f ns/event (%.1f Mev/s)\n",
	       (unsigned long long)n, (unsigned long long)named, (double)n / best / 1e6,
	       best_cpu * 1e9 / (double)(n ? n : 1), (double)n / best_cpu / 1e6);
	return 0;
}

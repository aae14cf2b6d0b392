/*
 * stress.c - randomized torture of the scheduler (make stress).
 *
 *   stress [-s SEED] [-r ROUNDS] [-m tree|pc] [-P PROCS] [-i] [-t TRACE]
 *
 * Each round picks a number of Ps and grows a random tree of tasks from
 * the seed: every task draws its own actions (spawn children and wait for
 * them, yield, a short syscall, a long blocking one on a pipe, a
 * safepoint, a short sleep, a select with a timeout that other tasks may
 * meet on a shared channel) from a generator seeded by (seed, task
 * number), and the main task now and then changes the number of Ps or stops the world. At the end
 * every task must have run exactly once and the tree's checksum must match
 * the one computed from the seed alone. Thread interleavings differ from
 * run to run, the work does not: a failing seed replays the same program.
 *
 * -m pc: producers and consumers instead of a tree. Each round draws from
 * the seed how many producers and consumers, the channel's capacity (0,
 * 1 or 16) and how each side sends or receives (a plain send or receive,
 * a select with a timeout, a try in a loop with yields, short sleeps);
 * every value sent must be received exactly once, and weft_main must
 * return 0 (a false deadlock report exits 2). -P fixes the number of Ps;
 * -i fires SIGALRM from an interval timer every 50-200 us (drawn from the
 * seed; no SA_RESTART: every wait in the runtime is interrupted) as a
 * sampling profiler would; -t FILE traces each round to FILE (make stress
 * then checks every trace with weft-trace stats: readable, 0 anomalies).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <weft.h>

#define MAX_TASKS 200000

struct node {
	uint64_t rng;
	int depth;
	uint32_t index;
	weft_wg *parent;
};

static _Atomic unsigned char ran[MAX_TASKS];
static _Atomic uint32_t next_index;
static _Atomic uint64_t checksum;
static int pipefd[2];
static weft_chan *shared; /* unbuffered: selects meet here or time out */
static uint64_t seed;

static uint64_t mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

static uint32_t draw(uint64_t *s, uint32_t n)
{
	*s = mix(*s + 0x9e3779b97f4a7c15ULL);
	return (uint32_t)(*s % n);
}

static void task(void *arg);

static void spawn_child(struct node *parent, weft_wg *wg, struct node *kids, int k)
{
	uint32_t idx = atomic_fetch_add(&next_index, 1);

	kids[k].rng = mix(parent->rng ^ (uint64_t)(k + 1));
	kids[k].depth = parent->depth + 1;
	kids[k].index = idx;
	kids[k].parent = wg;
	if (idx >= MAX_TASKS) {
		weft_wg_done(wg);
		return;
	}
	if (weft_go(task, &kids[k]) != 0) {
		fprintf(stderr, "stress: weft_go failed\n");
		exit(1);
	}
}

static void task(void *arg)
{
	struct node *n = arg;
	uint64_t s = n->rng;
	int steps = (int)draw(&s, 6);
	uint64_t local = n->rng;

	atomic_fetch_add(&ran[n->index], 1);
	for (int i = 0; i < steps; i++) {
		switch (draw(&s, 10)) {
		case 0:
		case 1:
			weft_yield();
			break;
		case 2:
			weft_syscall_enter();
			(void)getppid();
			weft_syscall_exit();
			break;
		case 3:
			weft_safepoint();
			break;
		case 4: {
			/* A blocking call: a byte through the pipe and back. */
			char c = 'x';
			weft_syscall_enter();
			if (write(pipefd[1], &c, 1) != 1 || read(pipefd[0], &c, 1) != 1)
				abort();
			weft_syscall_exit();
			break;
		}
		case 5:
			weft_sleep((int64_t)((s >> 40) % 50) * 1000);
			break;
		case 6: {
			int v = (int)n->index, got = 0;
			weft_case cs[2] = { { shared, WEFT_SEND, &v, 0 }, { shared, WEFT_RECV, &got, 0 } };
			int r = weft_select(cs, 2, (int64_t)((s >> 32) % 30) * 1000 + 1);
			if (r != -ETIMEDOUT && (r < 0 || r > 1 || cs[r].result != 0)) {
				fprintf(stderr, "stress: select returned %d\n", r);
				abort();
			}
			break;
		}
		default:
			for (int k = 0; k < 2000; k++)
				local = mix(local);
			break;
		}
	}
	if (n->depth < 12) {
		int kids_n = (int)draw(&s, n->depth < 3 ? 8 : 4);
		struct node kids[8];
		weft_wg wg = WEFT_WG_INIT;

		weft_wg_add(&wg, kids_n);
		for (int k = 0; k < kids_n; k++)
			spawn_child(n, &wg, kids, k);
		weft_wg_wait(&wg);
	}
	atomic_fetch_add(&checksum, n->rng & 0xffff);
	if (n->parent)
		weft_wg_done(n->parent);
}

/* ---- producers and consumers (-m pc) -------------------------------------------- */

#define PC_MAX_VALUES 200000

static _Atomic unsigned char got[PC_MAX_VALUES];
static weft_chan *pc_chan;
static uint32_t pc_nvalues;
static _Atomic uint32_t pc_next; /* the next value to send */
static weft_wg pc_producers = WEFT_WG_INIT, pc_consumers = WEFT_WG_INIT;
static _Atomic unsigned long alarms;

static void pc_producer(void *arg)
{
	uint64_t s = mix(seed ^ (uintptr_t)arg);
	uint32_t v;

	while ((v = atomic_fetch_add(&pc_next, 1)) < pc_nvalues) {
		switch (draw(&s, 8)) {
		case 0: {
			weft_case cs[1] = { { pc_chan, WEFT_SEND, &v, 0 } };
			int r;
			while ((r = weft_select(cs, 1, 1 + (int64_t)draw(&s, 50) * 1000)) == -ETIMEDOUT)
				;
			if (r != 0 || cs[0].result != 0)
				abort();
			break;
		}
		case 1: {
			/* Tries, then a plain send: two sides that only try never
			 * meet on an unbuffered channel (nor would they in Go). */
			int r = -EAGAIN;
			for (int k = 0; k < 50 && (r = weft_chan_try_send(pc_chan, &v)) == -EAGAIN; k++)
				weft_yield();
			if (r == -EAGAIN && weft_chan_send(pc_chan, &v) != 0)
				abort();
			break;
		}
		case 2:
			weft_sleep((int64_t)draw(&s, 20) * 1000);
			/* fall through */
		default:
			if (weft_chan_send(pc_chan, &v) != 0)
				abort();
		}
	}
	weft_wg_done(&pc_producers);
}

static void pc_consumer(void *arg)
{
	uint64_t s = mix(seed ^ ((uintptr_t)arg << 32));
	uint32_t v;

	for (;;) {
		int r;
		switch (draw(&s, 8)) {
		case 0: {
			weft_case cs[1] = { { pc_chan, WEFT_RECV, &v, 0 } };
			while ((r = weft_select(cs, 1, 1 + (int64_t)draw(&s, 50) * 1000)) == -ETIMEDOUT)
				;
			r = r == 0 ? cs[0].result : r;
			break;
		}
		case 1:
			r = -EAGAIN;
			for (int k = 0; k < 50 && (r = weft_chan_try_recv(pc_chan, &v)) == -EAGAIN; k++)
				weft_yield();
			if (r == -EAGAIN)
				r = weft_chan_recv(pc_chan, &v);
			break;
		default:
			r = weft_chan_recv(pc_chan, &v);
		}
		if (r == -EPIPE)
			break;
		if (r != 0 || v >= pc_nvalues) {
			fprintf(stderr, "stress: receive returned %d, value %u\n", r, v);
			abort();
		}
		atomic_fetch_add(&got[v], 1);
	}
	weft_wg_done(&pc_consumers);
}

static void pc_main(void *arg)
{
	uint64_t s = mix(seed ^ 0x5043);
	static const size_t caps[] = { 0, 1, 16 };
	int np = 1 + (int)draw(&s, 4), nc = 1 + (int)draw(&s, 4);

	(void)arg;
	pc_nvalues = 20000 + draw(&s, 30000);
	pc_chan = weft_chan_make(sizeof(uint32_t), caps[draw(&s, 3)]);
	atomic_store(&pc_next, 0);
	weft_wg_add(&pc_producers, np);
	weft_wg_add(&pc_consumers, nc);
	for (int i = 0; i < np; i++)
		weft_go(pc_producer, (void *)(uintptr_t)(i + 1));
	for (int i = 0; i < nc; i++)
		weft_go(pc_consumer, (void *)(uintptr_t)(i + 1));
	weft_wg_wait(&pc_producers);
	weft_chan_close(pc_chan);
	weft_wg_wait(&pc_consumers);
	weft_chan_free(pc_chan);
}

static void on_alarm(int sig)
{
	(void)sig;
	atomic_fetch_add_explicit(&alarms, 1, memory_order_relaxed);
}

/* SIGALRM every @us microseconds (0: off). */
static void storm(long us)
{
	struct sigaction sa;
	struct itimerval it = { { 0, us }, { 0, us } };

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = us ? on_alarm : SIG_IGN;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL); /* no SA_RESTART: waits are interrupted */
	setitimer(ITIMER_REAL, &it, NULL);
}

/* One -m pc round: 0, or 1 after saying what went wrong. */
static int pc_round(void)
{
	memset((void *)got, 0, sizeof(got));
	atomic_store(&alarms, 0);
	if (weft_main(pc_main, NULL) != 0) {
		printf("FAIL: weft_main (replay: stress -m pc -s %" PRIu64 " -r 1)\n", seed);
		return 1;
	}
	for (uint32_t v = 0; v < pc_nvalues; v++)
		if (got[v] != 1) {
			printf("FAIL: value %u received %d times (replay: stress -m pc -s %" PRIu64
			       " -r 1)\n",
			       v, (int)got[v], seed);
			return 1;
		}
	printf("ok, %u values, %lu alarms\n", pc_nvalues, atomic_load(&alarms));
	return 0;
}

/* The same tree, walked sequentially from the seed alone. */
static void expected(uint64_t rng, int depth, uint32_t *count, uint64_t *sum)
{
	uint64_t s = rng;
	int steps = (int)draw(&s, 6);

	(*count)++;
	for (int i = 0; i < steps; i++)
		(void)draw(&s, 10);
	if (depth < 12) {
		int kids_n = (int)draw(&s, depth < 3 ? 8 : 4);
		for (int k = 0; k < kids_n; k++)
			expected(mix(rng ^ (uint64_t)(k + 1)), depth + 1, count, sum);
	}
	*sum += rng & 0xffff;
}

static void stress_main(void *arg)
{
	struct node root = { .rng = mix(seed), .depth = 0, .index = 0, .parent = NULL };
	weft_wg wg = WEFT_WG_INIT;
	uint64_t s = seed;
	int changes = (int)draw(&s, 6);

	(void)arg;
	atomic_store(&next_index, 1);
	root.parent = &wg;
	weft_wg_add(&wg, 1);
	weft_go(task, &root);
	for (int i = 0; i < changes; i++) {
		for (int k = 0; k < 100; k++)
			weft_yield();
		if (draw(&s, 2)) {
			weft_set_procs(1 + (int)draw(&s, 4));
		} else {
			weft_stop_the_world("stress");
			weft_start_the_world();
		}
	}
	weft_wg_wait(&wg);
}

int main(int argc, char **argv)
{
	int rounds = 20, fixed_procs = 0;
	bool pc = false, alarm_storm = false;
	const char *trace = NULL;
	uint64_t base = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-s") == 0 && i + 1 < argc)
			base = strtoull(argv[++i], NULL, 0);
		else if (strcmp(argv[i], "-r") == 0 && i + 1 < argc)
			rounds = atoi(argv[++i]);
		else if (strcmp(argv[i], "-m") == 0 && i + 1 < argc)
			pc = strcmp(argv[++i], "pc") == 0;
		else if (strcmp(argv[i], "-P") == 0 && i + 1 < argc)
			fixed_procs = atoi(argv[++i]);
		else if (strcmp(argv[i], "-i") == 0)
			alarm_storm = true;
		else if (strcmp(argv[i], "-t") == 0 && i + 1 < argc)
			trace = argv[++i];
		else {
			fprintf(stderr, "usage: stress [-s SEED] [-r ROUNDS] [-m tree|pc] [-P PROCS] [-i] "
					"[-t TRACE]\n");
			return 2;
		}
	}
	if (pipe(pipefd) != 0 || !(shared = weft_chan_make(sizeof(int), 0)))
		return 1;
	for (int r = 0; r < rounds; r++) {
		uint64_t expect = 0;
		uint32_t total;
		char procs[16];

		seed = base + (uint64_t)r;
		snprintf(procs, sizeof(procs), "%d",
			 fixed_procs > 0 ? fixed_procs : 1 + (int)(mix(seed) % 4));
		setenv("WEFT_PROCS", procs, 1);
		if (trace)
			setenv("WEFT_TRACE", trace, 1); /* weft_main takes it out once read */
		long us = alarm_storm ? 50 + (long)(mix(seed ^ 0xa1) % 151) : 0;
		printf("stress: %sseed=%" PRIu64 " procs=%s%s%s ... ", pc ? "pc " : "", seed, procs,
		       us ? " itimer=" : "", us ? "on" : "");
		fflush(stdout);
		storm(us);
		if (pc) {
			int bad = pc_round();
			storm(0);
			if (bad)
				return 1;
			continue;
		}
		memset((void *)ran, 0, sizeof(ran));
		atomic_store(&checksum, 0);
		if (weft_main(stress_main, NULL) != 0) {
			storm(0);
			printf("FAIL: weft_main\n");
			return 1;
		}
		storm(0);
		total = atomic_load(&next_index);
		if (total > MAX_TASKS)
			total = MAX_TASKS;
		for (uint32_t i = 0; i < total; i++) {
			if (ran[i] != 1) {
				printf("FAIL: task %u ran %d times (replay: stress -s %" PRIu64
				       " -r 1)\n",
				       i, (int)ran[i], seed);
				return 1;
			}
		}
		/* The tree computed from the seed alone must be the one that ran. */
		uint32_t want_n = 0;
		expected(mix(seed), 0, &want_n, &expect);
		if (want_n <= MAX_TASKS &&
		    (want_n != total || expect != atomic_load(&checksum))) {
			printf("FAIL: %u tasks (want %u), checksum %" PRIu64 " (want %" PRIu64
			       ") (replay: stress -s %" PRIu64 " -r 1)\n",
			       total, want_n, atomic_load(&checksum), expect, seed);
			return 1;
		}
		printf("ok, %u tasks\n", total);
	}
	return 0;
}

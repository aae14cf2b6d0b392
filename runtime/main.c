/*
 * main.c - weft_main(): configuration, start, and the end of the program's
 * work.
 *
 * The thread that calls weft_main() does not run tasks: it starts the Ps,
 * the monitor and a first M that runs the main task, then sleeps on a
 * futex. This costs one idle thread and buys a clean end: whatever the
 * tasks are doing (computing, blocked in the kernel), the caller's thread
 * is free to tear the runtime down and return.
 *
 * The end (see the weft_main doc block for the user's view):
 *   1. The main task returns: shutdown is set with WEFT__SP_STOP in the safepoint
 *      flag, so every M leaves at its next scheduling point; idle Ms are
 *      woken to leave.
 *   2. weft_main() abandons every M that sits in a syscall (CAS on m->sys,
 *      see syscall.c) and waits for the others to exit. An M that enters a
 *      syscall during this wakes weft_main() to be abandoned in turn.
 *   3. With no M left, it waits for plain threads inside weft_go (they
 *      back off with -EINVAL once they see shutdown), empties the global
 *      run queue (its nodes live in the descriptors), then frees every
 *      stack (of runnable, blocked and stopped tasks alike) except the
 *      abandoned ones, the descriptors, the Ps, the caches, and restores
 *      the signal handlers. weft_main() can then be called again.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "netpoll.h"
#include "os.h"
#include "timer.h"
#include "trace_emit.h"

#define S weft__sched

static int config(int *nprocs, size_t *stack)
{
	const char *e;
	cpu_set_t set;

	*nprocs = 1;
	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		*nprocs = CPU_COUNT(&set);
	if (*nprocs > WEFT_MAX_PROCS)
		*nprocs = WEFT_MAX_PROCS;
	if ((e = getenv("WEFT_PROCS")) && *e) {
		char *end;
		errno = 0;
		long n = strtol(e, &end, 10);
		if (errno || *end || n < 1 || n > WEFT_MAX_PROCS) {
			fprintf(stderr, "weft: WEFT_PROCS=%s: want a whole number from 1 to %d\n", e,
				WEFT_MAX_PROCS);
			return -EINVAL;
		}
		*nprocs = (int)n;
	}
	if (weft__stack_size_parse((e = getenv("WEFT_STACK")), stack) != 0) {
		fprintf(stderr,
			"weft: WEFT_STACK=%s: want a size in bytes with an optional k, M or G "
			"suffix, from 1 to %lld G\n",
			e, (long long)(WEFT__STACK_MAX >> 30));
		return -EINVAL;
	}
	if (weft__stack_mappings_parse((e = getenv("WEFT_STACK_MAPPINGS"))) != 0) {
		fprintf(stderr, "weft: WEFT_STACK_MAPPINGS=%s: want a whole number >= 0\n", e);
		return -EINVAL;
	}
	return 0;
}

void weft__shutdown_begin(void)
{
	struct weft__m *m;

	atomic_store(&S.shutdown, 1);
	atomic_fetch_or(&weft__safepoint_pending, WEFT__SP_STOP);
	weft__sched_lock();
	for (m = S.midle; m; m = m->link) {
		atomic_store(&m->park, 1);
		weft__futex_wake(&m->park, 1);
	}
	S.midle = NULL;
	S.nmidle = 0;
	weft__sched_unlock();
	weft__timers_kick();
	weft__sysmon_wake();
	atomic_fetch_add(&S.done, 1);
	weft__futex_wake(&S.done, 1);
}

/* Step 2 of the end: returns when no M but abandoned ones remains. */
static void wait_for_ms(void)
{
	for (;;) {
		int32_t seq = atomic_load(&S.done);
		int left;

		if (atomic_load(&S.shutdown)) {
			weft__sched_lock();
			for (struct weft__m *m = S.allm; m; m = m->alllink) {
				int s = WEFT__M_SYS_IN;

				if (m->exited)
					continue;
				if (atomic_compare_exchange_strong(&m->sys, &s,
								   WEFT__M_SYS_ABANDONED)) {
					/* The M is in the kernel for good (as far as we
					 * are concerned): its task and stack stay put,
					 * and the stack is the M's to free. */
					m->curg->stack = NULL;
#ifdef WEFT_TSAN
					/* Its TSan fiber is running: not ours to destroy. */
					m->curg->ctx.tsan_fiber = NULL;
#endif
					m->exited = true; /* no longer ours */
					S.mcount--;
					pthread_detach(m->thread);
				}
			}
			left = S.mcount;
			weft__sched_unlock();
			if (left == 0)
				return;
		}
		weft__futex_wait(&S.done, seq, -1);
	}
}

static void free_stack_of(struct weft__task *t, void *arg)
{
	(void)arg;
	if (t->stack) {
		struct weft__stack s = { t->stack, weft__stack_map_size(S.stack_size) };
		weft__stack_unmap(&s);
		t->stack = NULL;
	}
}

static void teardown(void)
{
	struct weft__m *m, *next;

	weft__sysmon_stop();
	/* Join the Ms that exited; abandoned ones free themselves. */
	for (m = S.allm; m; m = next) {
		next = m->alllink;
		if (atomic_load(&m->sys) == WEFT__M_SYS_ABANDONED)
			continue;
		if (m->thread)
			pthread_join(m->thread, NULL);
		free(m);
	}
	S.allm = NULL;
	/* A plain thread inside weft_go finishes its inject first (sched.c). */
	while (atomic_load(&S.extern_go))
		sched_yield();
	/* Empty the global queue while the descriptors its nodes live in
	 * still exist (they go with the slabs below). */
	while (cds_wfcq_dequeue_blocking(&S.gq_head, &S.gq_tail))
		;
	cds_wfcq_destroy(&S.gq_head, &S.gq_tail);
	weft__tasks_foreach(free_stack_of, NULL);
	weft__procs_free();
	weft__debug_fini(); /* before the netpoller goes: its fds are registered there */
	weft__netpoll_fini();
	weft__proc_threads_close();
	weft__tasks_destroy();
	weft__stack_global_drain();
	weft__signals_restore();
	pthread_mutex_destroy(&S.tlock);
	pthread_mutex_destroy(&S.lock);
}

/*
 * WEFT_TRACE=path: trace the whole run, with no change to the program.
 * "%p" in the path is this process's id ("%%" a percent sign), and the
 * variable stays in the environment: every weft program it runs traces
 * to a file of its own. Without "%p" the variable is taken out of the
 * environment once read, so that a weft program started by this one
 * (which would inherit it) never writes over this file.
 */
static void trace_from_env(void)
{
	const char *e = getenv("WEFT_TRACE");
	char path[4096];
	size_t n = 0;
	bool pid = false;
	int err;

	if (!e || !*e)
		return;
	for (const char *c = e; *c && n < sizeof(path) - 24; c++) {
		if (c[0] == '%' && c[1] == 'p') {
			n += (size_t)snprintf(path + n, sizeof(path) - n, "%d", (int)getpid());
			pid = true;
			c++;
		} else if (c[0] == '%' && c[1] == '%') {
			path[n++] = '%';
			c++;
		} else {
			path[n++] = *c;
		}
	}
	path[n] = 0;
	if (!pid)
		unsetenv("WEFT_TRACE");
	weft__trace_prestart = true;
	err = weft_trace_start(path);
	weft__trace_prestart = false;
	if (err)
		fprintf(stderr, "weft: WEFT_TRACE=%s: cannot start the trace: %s\n", path,
			weft_strerror(err));
}

/* The run is over (no M left): finalize a trace still being written. */
static void trace_finish(void)
{
	int err;

	if (!weft__trace_active())
		return;
	weft__trace_prestart = true;
	err = weft_trace_stop();
	weft__trace_prestart = false;
	if (err)
		fprintf(stderr, "weft: finishing the trace: %s\n", weft_strerror(err));
}

WEFT_API int weft_main(weft_fn fn, void *arg)
{
	int nprocs, err, zero = 0;
	size_t stack;

	if (!fn)
		return -EINVAL;
	if (weft__getm())
		return -EBUSY;
	if ((err = config(&nprocs, &stack)) != 0)
		return err;
	if (!atomic_compare_exchange_strong(&S.running, &zero, 1))
		return -EBUSY;
	weft__proc_threads_open();
	int threads0 = weft__proc_threads(); /* the caller's and any the program made */
	weft__ctx_defaults_init();
	if ((err = weft__sched_init(nprocs, stack)) != 0)
		goto fail;
	if ((err = weft__signals_install()) != 0)
		goto fail;
	weft__coarse_tick(weft__nanotime()); /* before any park: sysmon may start late */
	if ((err = weft__sysmon_start()) != 0)
		goto fail;
	/* Threads that are not possible wakers (checkdead): the caller's, and
	 * those the sanitizers start lazily at the first pthread_create (the
	 * count now, less sysmon, less the threads that were there before:
	 * those are the program's, and may call in at any time). */
	S.baseline_threads = 1 + (threads0 > 0 ? weft__proc_threads() - 1 - threads0 : 0);
	if (S.baseline_threads < 1)
		S.baseline_threads = 1;
	trace_from_env();
	weft__debug_from_env(); /* WEFT_DEBUG_ADDR: listen (debug.c) */
	if ((err = weft__sched_start_main(fn, arg)) != 0) {
		weft__shutdown_begin();
		wait_for_ms();
		trace_finish();
		goto fail;
	}
	weft__debug_env_start(); /* WEFT_DEBUG_ADDR: accept (debug.c) */
	wait_for_ms();
	trace_finish();
	teardown();
	atomic_store(&S.running, 0);
	return 0;
fail:
	atomic_store(&S.shutdown, 1);
	teardown();
	atomic_store(&S.running, 0);
	return err;
}

/*
 * os.c - the OS interface the scheduler sleeps and measures time with:
 * futexes (through liburcu's futex wrapper), the monotonic clock, the spin
 * lock's slow path, how many threads the process has, and sizes read from
 * the environment.
 *
 * Kept apart from sched.c so that a port to another OS replaces this file
 * (libuv's src/unix/ split). Linux only for now.
 *
 * Rejected: #ifdefs per OS inside sched.c and timer.c (every port would
 * touch the scheduler); the futex system call by hand (liburcu's wrapper
 * already handles its errors and the fallbacks).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <urcu/futex.h>

#include "internal.h"
#include "os.h"
#include "spin.h"

void weft__futex_wait(_Atomic int32_t *addr, int32_t val, int64_t timeout_ns)
{
	struct timespec ts, *tsp = NULL;

	if (timeout_ns >= 0) {
		ts.tv_sec = timeout_ns / 1000000000;
		ts.tv_nsec = timeout_ns % 1000000000;
		tsp = &ts;
	}
	/* EINTR, EAGAIN (value changed) and ETIMEDOUT all mean "look again". */
	futex_noasync((int32_t *)addr, FUTEX_WAIT, val, tsp, NULL, 0);
}

void weft__futex_wake(_Atomic int32_t *addr, int n)
{
	futex_noasync((int32_t *)addr, FUTEX_WAKE, n, NULL, NULL, 0);
}

int64_t weft__nanotime(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void weft__spin_lock_slow(weft__spin *l)
{
	for (unsigned n = 0;; n++) {
		int32_t z = 0;

		if (atomic_load_explicit(&l->v, memory_order_relaxed) == 0 &&
		    atomic_compare_exchange_weak_explicit(&l->v, &z, WEFT__SPIN_MINE(),
							  memory_order_acquire,
							  memory_order_relaxed))
			return;
		if (n < 64)
			weft__cpu_relax();
		else
			sched_yield(); /* the holder's thread was preempted */
	}
}

#ifdef WEFT_DEBUG
static __thread int32_t dbg_tid;  /* the thread's id, 0 until asked */
static __thread int dbg_nspin;    /* spin locks this thread holds */

__attribute__((noinline)) int32_t weft__dbg_tid(void)
{
	if (!dbg_tid)
		dbg_tid = (int32_t)gettid();
	return dbg_tid;
}

__attribute__((noinline)) void weft__dbg_spin_count(int delta)
{
	dbg_nspin += delta;
	WEFT__ASSERT(dbg_nspin >= 0);
}

__attribute__((noinline)) int weft__spin_nheld(void)
{
	return dbg_nspin;
}
#endif

void weft__spin_unlock_fn(void *l)
{
	weft__spin_unlock(l);
}

/* "123", "64k", "2M": bytes; -1 if malformed (WEFT_STACK, WEFT_TRACE_MAX_MEM). */
long long weft__parse_size(const char *s)
{
	long long v = 0;
	int shift = 0;

	/* Digits by hand: strtoll would take a sign and leading spaces, and
	 * report overflow only through errno. */
	if (!s || *s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (LLONG_MAX - (*s - '0')) / 10)
			return -1;
		v = v * 10 + (*s - '0');
	}
	switch (*s) {
	case 'k': case 'K': shift = 10; s++; break;
	case 'm': case 'M': shift = 20; s++; break;
	case 'g': case 'G': shift = 30; s++; break;
	case 0: break;
	default: return -1;
	}
	if (*s || v <= 0 || v > (LLONG_MAX >> shift))
		return -1;
	return v << shift;
}

/*
 * /proc/self/stat, opened by weft_main and read with pread: the deadlock
 * check (fatal.c) runs on idle Ms and sysmon, and a runtime that opened a
 * file there would take an fd number the program may count on (symbol.h).
 */
static int stat_fd = -1;

void weft__proc_threads_open(void)
{
	if (stat_fd < 0)
		stat_fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
}

void weft__proc_threads_close(void)
{
	if (stat_fd >= 0)
		close(stat_fd);
	stat_fd = -1;
}

/* Number of threads in this process (/proc/self/stat field 20), or -1. */
int weft__proc_threads(void)
{
	char buf[1024];
	int fd = stat_fd;
	ssize_t n;
	char *p;
	int field;

	if (fd < 0)
		return -1;
	n = pread(fd, buf, sizeof(buf) - 1, 0); /* a seq file: read afresh at 0 */
	if (n <= 0)
		return -1;
	buf[n] = 0;
	/* The command name (field 2) may hold spaces: start after its ')'. */
	p = strrchr(buf, ')');
	if (!p)
		return -1;
	p++;
	for (field = 2; field < 20 && *p; p++)
		if (*p == ' ')
			field++;
	return atoi(p);
}

/*
 * os.h - what the runtime asks of the operating system (internal).
 *
 * What. The few OS services the scheduler sleeps, wakes and measures time
 * with, behind one small interface so that a port replaces os.c and
 * nothing else (libuv's src/unix/ split): futexes, the monotonic clock,
 * the number of threads in the process, and how sizes are read from the
 * environment. Linux only for now. (The spin
 * lock's contended path is in os.c too, as it yields to the OS; it is
 * declared in spin.h.)
 *
 * Invariants:
 *   - weft__nanotime() is CLOCK_MONOTONIC in nanoseconds: the clock of
 *     every deadline (timers, select timeouts, weft_now()) and of the
 *     tracer when the TSC is not used.
 *   - A futex wait may return early (a signal, the value already changed,
 *     a spurious wake-up): every caller waits in a loop that re-reads the
 *     word, and the waker stores the word before it wakes (release; the
 *     waiter's loads are acquire or under a lock).
 *
 * Who may call: any thread, task or plain, at any time; none of these
 * touches scheduler state. A futex wait blocks the calling thread, and so
 * its whole P when called from a task: the runtime calls it only on g0,
 * on threads without a P, or where blocking the M is the point (a plain
 * thread's wait, the stopper waiting for the Ps, a P waiting for trace
 * buffer memory).
 *
 * Rejected: pthread condition variables for the M's sleep (a mutex per
 * sleeper and a lost-wake-up protocol around it; a futex word is the
 * wake-up flag itself), and gettimeofday-style wall time for deadlines
 * (it jumps).
 */
#ifndef WEFT_OS_H
#define WEFT_OS_H

#include <stdatomic.h>
#include <stdint.h>

/* Sleep while *@addr == @val, at most @timeout_ns (-1: no limit). */
void weft__futex_wait(_Atomic int32_t *addr, int32_t val, int64_t timeout_ns);
/* Wake up to @n threads sleeping on @addr. */
void weft__futex_wake(_Atomic int32_t *addr, int n);
/* CLOCK_MONOTONIC, nanoseconds. */
int64_t weft__nanotime(void);

/* One step of a busy wait: tells the CPU (and a hyperthread sibling). */
static inline void weft__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__asm__ __volatile__("pause");
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}
/* Number of threads in this process (/proc/self/stat), or -1. */
int weft__proc_threads(void);
/* Open and close the file weft__proc_threads reads (weft_main's start and end). */
void weft__proc_threads_open(void);
void weft__proc_threads_close(void);

/* A size from the environment ("123", "64k", "2M", "1G"): bytes; -1 if
 * malformed, not positive or beyond a long long (WEFT_STACK,
 * WEFT_TRACE_MAX_MEM). */
long long weft__parse_size(const char *s);

#endif /* WEFT_OS_H */

/*
 * fatal.h - how the runtime dies (internal).
 *
 * Two kinds of death, as in Go's runtime:
 *  - weft__throw: a broken invariant inside weft. Prints
 *    "weft: fatal error: <why>" and aborts (a core dump is the useful
 *    artefact).
 *  - weft__fatal: a mistake of the program using weft that it cannot
 *    recover from (deadlock, stack overflow, negative wait-group counter).
 *    Prints "weft: fatal: <message>" and exits with status 2, as Go exits
 *    with 2 on "all goroutines are asleep".
 * Both write with write(2) only, so they work on an overflowed stack and in
 * signal handlers.
 */
#ifndef WEFT_FATAL_H
#define WEFT_FATAL_H

#include <stddef.h>
#include <stdint.h>

__attribute__((noreturn, cold)) void weft__throw(const char *why);
__attribute__((noreturn, cold, format(printf, 1, 2))) void weft__fatal(const char *fmt, ...);

/*
 * A trace being written is finished before the process dies (trace_flush.c):
 * @reason enum weft_trace_end, @code its signal or exit status; @in_signal
 * from a signal handler (no allocation, no lock, no compression). Returns
 * when done, at once when no trace runs. Any thread.
 */
void weft__trace_die(int reason, int code, int in_signal);

/* Async-signal-safe formatting into a caller's buffer (used on fatal paths). */
struct weft__wbuf {
	char *p;
	size_t len, cap;
};
void weft__wbuf_str(struct weft__wbuf *b, const char *s);
void weft__wbuf_u64(struct weft__wbuf *b, uint64_t v);
void weft__wbuf_hex(struct weft__wbuf *b, uint64_t v);
void weft__write_all(int fd, const char *p, size_t n);

/*
 * The deadlock detector (Go's checkdead): exits with the report when no M
 * runs and nothing could wake a task. Sched lock held, by an M about to
 * park or by sysmon.
 */
void weft__checkdead(void);

/* Stack overflow: the SIGSEGV/SIGBUS handler (weft_main, at start and end)
 * and each M's alternate signal stack (the M's own thread, at start and
 * end). */
struct weft__m;
int weft__signals_install(void);
void weft__signals_restore(void);
int weft__altstack_init(struct weft__m *m);
void weft__altstack_fini(struct weft__m *m);

/* Debug-build assertions of preconditions ("owner P only", "sched lock held"). */
#ifdef WEFT_DEBUG
#define WEFT__ASSERT(c) ((c) ? (void)0 : weft__throw("assertion failed: " #c " (" __FILE__ ")"))
#else
#define WEFT__ASSERT(c) ((void)0)
#endif

#endif /* WEFT_FATAL_H */

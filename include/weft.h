/*
 * weft.h - the public API of weft, a work-parallel runtime for C.
 *
 * weft runs cheap stackful tasks on an M:N scheduler: N tasks multiplexed on
 * M operating-system threads through P logical processors (see
 * runtime/sched.c for the design). This header is the manual: every
 * function documents its parameters, each return code, whether it may block
 * and who may call it.
 *
 * Vocabulary used in the doc blocks:
 *   task         - a weft task (the G of Go's runtime), started by weft_go()
 *                  or weft_main().
 *   plain thread - any thread that is not currently running a weft task:
 *                  the thread that called weft_main(), threads made with
 *                  pthread_create(), signal handlers excluded.
 *   blocks       - the calling task is parked and its P runs other tasks;
 *                  the OS thread is never blocked unless stated.
 *
 * Errors are negative errno codes (-EINVAL, -ENOMEM, ...); weft_strerror()
 * names them. weft never reads or sets errno on your behalf: errno belongs
 * to the OS thread, and a task may resume on another thread.
 *
 * Environment variables read by weft_main():
 *   WEFT_PROCS  number of Ps, 1 to WEFT_MAX_PROCS (default: CPUs in the
 *               process's affinity mask).
 *   WEFT_STACK  usable bytes of each task stack, with an optional k, M or
 *               G suffix, rounded up to the page size (default 256 KiB;
 *               minimum 16 KiB). Below each stack lies a gap of 64 KiB
 *               and a page that is never accessible (address space only:
 *               a stack costs WEFT_STACK + 68 KiB of it, no memory). A
 *               task that runs off its stack into the gap, or whose stack
 *               pointer a frame moved below its stack, dies with a named
 *               fatal error: "weft: fatal: task N (fn) overflowed its
 *               S-byte stack", exit status 2. A fault anywhere else (a
 *               NULL pointer) is not called an overflow: the program dies
 *               of the signal as it would without weft.
 *               Frames larger than the gap: compile your program with
 *               -fstack-clash-protection (GCC 8+; Clang 11+ on x86-64).
 *               A frame larger than a page then touches every page on
 *               its way down, and faults in the gap; without it, one
 *               frame larger than the gap can land in the stack of the
 *               task below and write there without any fault.
 *               `pkg-config --cflags weft` carries the flag when the
 *               compiler that built weft has it; libweft is built with it.
 *   WEFT_STACK_MAPPINGS  how many task stacks may be alive with a mapping
 *               of their own (two VMAs each, against vm.max_map_count);
 *               past that, stacks are carved from large mappings of many
 *               stacks whose gaps are guard regions (Linux 6.13 and
 *               later; older kernels give every stack its own mapping).
 *               Overflows are named either way. Default: a quarter of
 *               vm.max_map_count (16382 at the default 65530); 0 carves
 *               every stack from those. A million tasks blocked at once
 *               fit at the default.
 *   WEFT_DEBUG_ADDR  serve /debug/weft/ there (weft_debug_serve());
 *               WEFT_DEBUG_PUBLIC=1 allows a non-loopback address.
 * A value weft cannot use is never replaced by a default: weft_main()
 * says on stderr which variable and what it accepts, and returns -EINVAL.
 */
#ifndef WEFT_H
#define WEFT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h> /* ssize_t */

#include <weft/version.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(WEFT_BUILDING) && defined(__GNUC__)
#define WEFT_API __attribute__((visibility("default")))
#else
#define WEFT_API
#endif

/* ------------------------------------------------------------------------
 * Runtime and tasks
 * ---------------------------------------------------------------------- */

/** Entry point of a task. */
typedef void (*weft_fn)(void *arg);

/**
 * weft_main - start the runtime, run @fn(@arg) as the main task, shut down.
 *
 * @fn:  entry of the main task (not NULL).
 * @arg: passed to @fn.
 *
 * Reads WEFT_PROCS and WEFT_STACK, starts the Ps, runs @fn as a task and
 * returns when @fn returns. As in Go, the program's work is then over:
 *  - tasks that are runnable or blocked are never resumed; their stacks
 *    and descriptors are freed;
 *  - a task running on another thread at that moment is stopped at its next
 *    scheduling point (yield, block, exit, weft_safepoint()); its stack is
 *    freed too. weft_main() waits for that point, so a task that
 *    loops forever without one keeps weft_main() from returning;
 *  - a task inside weft_syscall_enter()/weft_syscall_exit() is abandoned:
 *    weft_main() does not wait for the call; when the call returns, its
 *    thread frees the task's stack and exits without running it further.
 * After it returns, weft_main() may be called again.
 *
 * Deadlock: when every task is blocked and nothing can ever wake one,
 * weft_main() prints "weft: fatal: all tasks are asleep - deadlock!" with
 * each blocked task and exits with status 2, as Go does. Counted as
 * possible wake-ups, so that no deadlock is reported while any remains: a
 * running or runnable task, a sleeping one (an armed timer), a task in a
 * marked syscall, a plain thread inside a weft call, and any thread of the
 * process that is not weft's own, the thread that called weft_main() and
 * the sanitizers' excepted, whenever it was made (it may call in later).
 * So a program with a thread of its own that never calls in is not
 * reported: it hangs instead.
 *
 * Returns 0 when @fn returned; -EINVAL if @fn is NULL or WEFT_PROCS or
 * WEFT_STACK is malformed; -EBUSY if the runtime is already running (a
 * second weft_main() from a task or another thread); -ENOMEM or -EAGAIN
 * if memory or threads could not be had at start.
 * Blocks the calling thread. Call it from a plain thread only.
 */
WEFT_API int weft_main(weft_fn fn, void *arg);

/**
 * weft_go - spawn a task that runs @fn(@arg).
 *
 * The new task owns no stack until it first runs: a million spawned tasks
 * cost a million small descriptors, not a million stacks.
 *
 * Returns 0; -EINVAL if @fn is NULL or the runtime is not running;
 * -ENOMEM if no descriptor could be allocated.
 * Never blocks. Any task, or a plain thread while weft_main() runs.
 */
WEFT_API int weft_go(weft_fn fn, void *arg);

/**
 * weft_yield - let other runnable tasks run.
 *
 * The caller goes behind the runnable tasks of its P and continues later,
 * possibly on another thread. From a plain thread it calls sched_yield().
 */
WEFT_API void weft_yield(void);

/**
 * weft_self - id of the calling task (ids start at 1 and are never reused
 * within one weft_main()); 0 on a plain thread. Any caller.
 */
WEFT_API uint64_t weft_self(void);

/**
 * weft_procs - number of Ps (logical processors) now; 0 if the runtime is
 * not running. Any caller.
 */
WEFT_API int weft_procs(void);

/**
 * weft_set_procs - change the number of Ps to @n.
 *
 * Stops the world, adds or removes Ps, starts it again. Tasks queued on a
 * removed P move to the others; none is lost.
 *
 * Returns the previous number of Ps; -EINVAL if @n < 1 or
 * @n > WEFT_MAX_PROCS, or the caller is not a task; -ENOMEM.
 * Blocks (stop-the-world). Tasks only.
 */
WEFT_API int weft_set_procs(int n);

/** Upper bound of weft_set_procs() and WEFT_PROCS. */
#define WEFT_MAX_PROCS 256

/**
 * weft_syscall_enter - mark the start of a call that may block in the
 * kernel (read, write, accept, a mutex of another library, ...).
 *
 * Between enter and exit the task must not call other weft functions.
 * If the call lasts longer than about 20 us, the monitor thread hands the
 * task's P to another thread so that other tasks keep running.
 * Never blocks. From a plain thread it does nothing.
 */
WEFT_API void weft_syscall_enter(void);

/**
 * weft_syscall_exit - mark the end of the call started by
 * weft_syscall_enter(). If the P was handed off meanwhile, the task takes
 * an idle P or waits in the global run queue for one.
 * May block (only in that case). Pair with weft_syscall_enter().
 */
WEFT_API void weft_syscall_exit(void);

/**
 * weft_stop_the_world - stop every other P at a scheduling point.
 *
 * @reason: a static string recorded for the tracer ("set_procs", ...).
 *
 * Returns when every other P is parked: no other task runs until
 * weft_start_the_world(). Ps inside a syscall are stopped at once and their
 * task waits at weft_syscall_exit(). A task that computes without reaching
 * a scheduling point or weft_safepoint() delays the stop; the delay of the
 * last stop is measured (see the tracer). If another task is stopping the
 * world, the caller first waits for that to finish.
 * Blocks the caller's thread (its P is kept). Tasks only; a no-op on a
 * plain thread. Must be paired with weft_start_the_world() by the same
 * task. While it holds the world stopped, the task must not wait for
 * anything another task would do: weft_sleep, a blocking channel
 * operation or select, weft_mutex_lock of a held mutex, weft_wg_wait, a
 * nested weft_stop_the_world, weft_set_procs and weft_trace_start are
 * each a fatal error naming the call (message, exit status 2), never a
 * hang. weft_yield returns at once, and a marked syscall
 * (weft_syscall_enter/exit, e.g. writing a snapshot) works and keeps the P.
 */
WEFT_API void weft_stop_the_world(const char *reason);

/** weft_start_the_world - let the Ps stopped by weft_stop_the_world() run. */
WEFT_API void weft_start_the_world(void);

/**
 * weft_safepoint - a cheap check (one load and a branch when nothing is
 * pending) that a long loop may call: it parks the task if the world is
 * being stopped and yields if the monitor asked this P to let others run.
 * Any caller; nothing on a plain thread.
 */
WEFT_API void weft_safepoint(void);

/**
 * weft_strerror - a static description of @err, a negative errno code
 * returned by weft (or 0). Any caller.
 */
WEFT_API const char *weft_strerror(int err);

/* ------------------------------------------------------------------------
 * Channels (Go's chan)
 *
 * A channel carries elements of a fixed size between tasks (and plain
 * threads). Unbuffered (capacity 0): a send and a receive meet, and the
 * value is copied straight from the sender's variable into the receiver's.
 * Buffered: a ring of @capacity elements. Blocked senders and receivers are
 * served first come, first served; a task woken by a channel operation runs
 * next on the waker's P (its runnext), so a ping-pong stays on one core.
 *
 * "Blocks" below: a task parks; a plain thread sleeps on a futex (so
 * threads and tasks can talk through channels).
 *
 * A NULL channel is Go's nil channel: weft_chan_send and weft_chan_recv
 * on it block for ever (a task so blocked counts for the deadlock check),
 * weft_chan_try_send/try_recv return -EAGAIN, weft_chan_len/cap return 0,
 * a select ignores its cases, and weft_chan_close(NULL) is a fatal misuse
 * (message, exit status 2), as close(nil) panics in Go.
 * ---------------------------------------------------------------------- */

typedef struct weft_chan weft_chan;

/**
 * weft_chan_make - a new channel of @capacity elements of @elem_size bytes.
 * @elem_size may be 0 (a signal-only channel); @capacity 0 is unbuffered.
 * Returns NULL if memory could not be had (or the buffer size overflows).
 * Never blocks. Any caller.
 */
WEFT_API weft_chan *weft_chan_make(size_t elem_size, size_t capacity);

/**
 * weft_chan_free - free @c (NULL is fine). No task or thread may use it any
 * more; freeing a channel that a task or thread waits on is a fatal misuse
 * (message, exit status 2). Never blocks. Any caller.
 */
WEFT_API void weft_chan_free(weft_chan *c);

/**
 * weft_chan_send - send the element at @elem (elem_size bytes are copied).
 * Returns 0 once a receiver took it or it is in the buffer; -EPIPE if the
 * channel is closed (also when it is closed while the sender waits).
 * Blocks while the channel is full (unbuffered: until a receiver comes).
 * Any task or plain thread.
 */
WEFT_API int weft_chan_send(weft_chan *c, const void *elem);

/**
 * weft_chan_recv - receive an element into @elem (may be NULL to discard).
 * Returns 0; or -EPIPE when the channel is closed and drained, with @elem
 * zero-filled. Blocks while the channel is empty and open.
 * Any task or plain thread.
 */
WEFT_API int weft_chan_recv(weft_chan *c, void *elem);

/**
 * weft_chan_try_send - send without blocking: 0, -EAGAIN if it would block
 * (full, or no receiver waiting on an unbuffered channel), -EPIPE if closed.
 * Never blocks. Any caller.
 */
WEFT_API int weft_chan_try_send(weft_chan *c, const void *elem);

/**
 * weft_chan_try_recv - receive without blocking: 0, -EAGAIN if nothing is
 * there, -EPIPE if closed and drained (@elem zero-filled). Never blocks.
 * Any caller.
 */
WEFT_API int weft_chan_try_recv(weft_chan *c, void *elem);

/**
 * weft_chan_close - close @c: no more sends. Every blocked receiver wakes
 * with -EPIPE (zero-filled element), every blocked sender with -EPIPE;
 * buffered elements can still be received. Returns 0, or -EPIPE if it was
 * already closed. Never blocks. Any caller.
 */
WEFT_API int weft_chan_close(weft_chan *c);

/** weft_chan_len - elements in the buffer now (racy by nature). Any caller. */
WEFT_API size_t weft_chan_len(const weft_chan *c);

/** weft_chan_cap - the capacity given to weft_chan_make(). Any caller. */
WEFT_API size_t weft_chan_cap(const weft_chan *c);

enum { WEFT_SEND = 1, WEFT_RECV = 2 };

/** One case of weft_select(): @op on @chan with @elem; @result is set for
 *  the case that fires (0, or -EPIPE when the channel is closed). */
typedef struct {
	weft_chan *chan; /* NULL: the case is ignored (Go's nil channel) */
	int op;          /* WEFT_SEND or WEFT_RECV */
	void *elem;      /* value to send / where to receive (may be NULL for recv) */
	int result;
} weft_case;

/**
 * weft_select - wait until one of @n cases can proceed, and perform it.
 *
 * When several are ready, one is chosen uniformly at random. Returns the
 * index of the case that fired, with its result set to 0 or -EPIPE (the
 * channel is closed: a receive gets a zero-filled element). Cases whose
 * chan is NULL are ignored; a select with no case left blocks forever (a
 * deadlock if nothing else runs), on a plain thread as in a task.
 * @timeout_ns: -1 waits as long as it takes; 0 never blocks and returns
 * -EAGAIN if no case is ready; > 0 waits at most that long and returns
 * -ETIMEDOUT if no case fired by then (a select without active cases then
 * just sleeps). Other negative values wait as -1 does.
 * Other errors: -EINVAL for an op that is neither WEFT_SEND nor WEFT_RECV,
 * -ENOMEM (more than 8 cases need a little memory).
 * Blocks. Any task or plain thread.
 */
WEFT_API int weft_select(weft_case *cases, size_t n, int64_t timeout_ns);

/* ------------------------------------------------------------------------
 * Time
 * ------------------------------------------------------------------------ */

/**
 * weft_now - the monotonic clock (CLOCK_MONOTONIC), in nanoseconds. The
 * clock timers and timeouts are measured against. Any thread.
 */
WEFT_API int64_t weft_now(void);

/**
 * weft_sleep - block the calling task for at least @ns nanoseconds; its P
 * runs other tasks meanwhile (a P with nothing else to do sleeps until
 * the next deadline). Never returns early; how late depends on what the Ps
 * are doing (a task that never reaches a scheduling point delays the
 * timers of its P until another P goes idle and runs them).
 * @ns <= 0 returns at once. On a plain thread, the thread sleeps.
 * A sleeping task is not deadlocked: the deadlock report waits for it.
 */
WEFT_API void weft_sleep(int64_t ns);

/* ------------------------------------------------------------------------
 * Wait groups (Go's sync.WaitGroup)
 * ---------------------------------------------------------------------- */

/** A wait group; embed it and initialise it with WEFT_WG_INIT. */
typedef struct weft_wg {
	uint64_t opaque_[4];
} weft_wg;
#define WEFT_WG_INIT { { 0, 0, 0, 0 } }

/**
 * weft_wg_add - add @delta (may be negative) to the counter. When it
 * reaches zero every waiter is woken. A negative counter is a fatal misuse
 * (message and exit status 2). Never blocks. Any task or plain thread.
 */
WEFT_API void weft_wg_add(weft_wg *wg, int64_t delta);

/** weft_wg_done - weft_wg_add(@wg, -1). */
WEFT_API void weft_wg_done(weft_wg *wg);

/**
 * weft_wg_wait - block until the counter is zero; returns at once if it
 * is zero already. When it reaches zero every waiter wakes, tasks and
 * plain threads alike.
 * Blocks: a task parks (its P runs other tasks; a waiting task counts as
 * blocked for the deadlock detector); a plain thread sleeps on a futex
 * (and, like a plain thread blocked on a channel or mutex, counts as one
 * that may still wake tasks, so no deadlock is reported while it lives).
 * Any task or plain thread. As in Go, a wait group may be reused once the
 * waits of its previous round have returned.
 */
WEFT_API void weft_wg_wait(weft_wg *wg);

/* ------------------------------------------------------------------------
 * Mutexes (Go's sync.Mutex)
 * ---------------------------------------------------------------------- */

/** A mutex; embed it and initialise it with WEFT_MUTEX_INIT. Not recursive. */
typedef struct weft_mutex {
	uint64_t opaque_[4];
} weft_mutex;
#define WEFT_MUTEX_INIT { { 0, 0, 0, 0 } }

/**
 * weft_mutex_lock - lock @m, blocking the task (never the worker thread)
 * while another holder has it. Waiters are served in order, and a waiter
 * that has waited 1 ms gets the mutex handed to it at the next unlock, so a
 * task re-locking in a loop cannot starve it. Any task; a plain thread
 * sleeps until it gets the mutex.
 */
WEFT_API void weft_mutex_lock(weft_mutex *m);

/** weft_mutex_trylock - 0 if @m was locked now, -EBUSY if it is held. Never blocks. */
WEFT_API int weft_mutex_trylock(weft_mutex *m);

/**
 * weft_mutex_unlock - unlock @m. Unlocking a mutex that is not locked is a
 * fatal misuse (message, exit status 2). Any task or thread may unlock (as
 * in Go, a mutex is not tied to the task that locked it). Never blocks.
 */
WEFT_API void weft_mutex_unlock(weft_mutex *m);

/* ------------------------------------------------------------------------
 * Sockets and file descriptors on the scheduler (runtime/netpoll.c)
 *
 * A task that waits for a socket blocks only itself: the fd is watched by
 * the runtime's epoll netpoller, and its P runs other tasks meanwhile. A
 * hundred thousand idle connections cost no thread each, only their
 * tasks' stacks and a small descriptor per fd.
 *
 * Deadlines are absolute weft_now() nanoseconds; -1 means none. A
 * deadline already past makes a call that would wait return -ETIMEDOUT at
 * once (what needs no wait still happens: a read with bytes buffered
 * returns them).
 *
 * The netpoller registers an fd once, the first time a call waits on it,
 * and sets O_NONBLOCK on its file description then (fds made by
 * weft_net_listen/accept/dial are non-blocking and close-on-exec from the
 * start). Close such an fd with weft_close(): a plain close() leaves the
 * netpoller's record of the fd behind, and a task waiting on it, or on a
 * new fd that reuses the number, may then wait until its deadline.
 *
 * From a plain thread (not a task) each call works as its blocking POSIX
 * equivalent (waiting in poll(2), with the deadline), as channels do.
 * A task waiting on an fd may be woken from outside the program, so the
 * deadlock report never fires while one waits. In a trace the waits are
 * the block reasons "net read" and "net write", with the call site.
 * ------------------------------------------------------------------------ */

enum { WEFT_FD_READ = 1, WEFT_FD_WRITE = 2 };

/**
 * weft_fd_wait - block until @fd is readable (WEFT_FD_READ) and/or
 * writable (WEFT_FD_WRITE), as @events asks.
 *
 * Returns 0 when it is, or may be: a wake-up means "try the call", which
 * may still say EAGAIN (as with edge-triggered epoll and Go's poller).
 * -ETIMEDOUT when @deadline_ns passed, -ECANCELED when another task or
 * thread closed @fd with weft_close(), -EBADF for an fd that is not open,
 * -EINVAL for @events with neither bit, -EPERM for an fd epoll refuses (a
 * regular file or a directory is always ready: read it with weft_read).
 * Any fd epoll accepts: sockets, pipes, FIFOs, terminals, eventfds,
 * timerfds, signalfds. Several tasks may wait on one fd; an edge wakes
 * them all. Blocks the task (trace: "net read", or "net write" when only
 * WEFT_FD_WRITE is asked); on a plain thread, blocks the thread in poll(2).
 */
WEFT_API int weft_fd_wait(int fd, int events, int64_t deadline_ns);

/**
 * weft_read - read up to @n bytes of @fd into @buf.
 *
 * Returns the count (> 0), 0 at end of file (or for @n == 0), or -errno:
 * -ETIMEDOUT, -ECANCELED (weft_close() by another task), -EBADF,
 * -ECONNRESET, ... Blocks only the task while nothing is there. An fd
 * epoll refuses (a regular file, whose reads may still wait for the disk)
 * is read inside weft_syscall_enter/exit instead, so a slow disk costs a
 * thread for the call, not a P; the deadline does not apply to it.
 * Any caller.
 */
WEFT_API ssize_t weft_read(int fd, void *buf, size_t n, int64_t deadline_ns);

/**
 * weft_write - write all @n bytes of @buf to @fd.
 *
 * Returns @n once every byte is written. If an error stops it after k
 * bytes (0 < k < n) were written, returns k: a short count always means an
 * error, and calling again with the rest reports which (-ETIMEDOUT for a
 * deadline that passed, -EPIPE or -ECONNRESET for a connection that broke,
 * -EBADF after a weft_close()). That is the convention of POSIX write(2)
 * interrupted after a partial transfer: no caller loses track of bytes
 * that left. If nothing was written, returns -errno (-ETIMEDOUT,
 * -ECANCELED, -EPIPE, ...). A socket whose peer left yields -EPIPE, never
 * SIGPIPE. Regular files go through weft_syscall_enter/exit, as in
 * weft_read(). Any caller.
 */
WEFT_API ssize_t weft_write(int fd, const void *buf, size_t n, int64_t deadline_ns);

/**
 * weft_close - close @fd; the tasks waiting on it wake with -ECANCELED.
 * Returns 0 or -errno of close(2) (-EBADF). The netpoller forgets the fd
 * first, so a new fd that reuses the number starts afresh. A call on @fd
 * that is about to wait when the close comes returns -ECANCELED too, or
 * -EBADF once the fd is gone. One that is inside its read(2) or write(2)
 * at that moment races the close exactly as two threads' read(2) and
 * close(2) do (Go's fd reference counts hold the close back; weft does
 * not): close an fd when its other users are waiting on it or done with
 * it. Any caller.
 */
WEFT_API int weft_close(int fd);

/**
 * weft_net_listen - a listening socket bound to @addr.
 *
 * @addr: "host:port" (an IPv4 address or a name), "[v6]:port", or
 * "unix:/path". An empty host (":8080") means 127.0.0.1: listening on
 * every interface is asked for by name ("0.0.0.0:8080", "[::]:8080").
 * Port 0 picks a free port (weft_net_addr() tells which). Names resolve
 * through getaddrinfo inside weft_syscall_enter/exit. TCP sockets get
 * SO_REUSEADDR; a unix path that exists is an error (-EADDRINUSE), never
 * removed. @backlog <= 0 means SOMAXCONN.
 * Returns the fd (non-blocking, close-on-exec) or -errno: -EINVAL for an
 * address that does not parse, -EADDRINUSE, -EACCES, -ENOENT for a name
 * that does not resolve, ... Never blocks the P. Any caller.
 */
WEFT_API int weft_net_listen(const char *addr, int backlog);

/**
 * weft_net_accept - the next connection on @lfd (from weft_net_listen).
 * Returns the connected fd (non-blocking, close-on-exec, TCP_NODELAY on
 * TCP) or -errno: -ETIMEDOUT, -ECANCELED, -EBADF, -EMFILE, ... Blocks the
 * task until a peer connects. Any caller.
 */
WEFT_API int weft_net_accept(int lfd, int64_t deadline_ns);

/**
 * weft_net_dial - connect to @addr (the forms of weft_net_listen; an empty
 * host means 127.0.0.1). Each address a name resolves to is tried in turn
 * until one connects.
 * Returns the connected fd (non-blocking, close-on-exec, TCP_NODELAY on
 * TCP) or -errno: -ECONNREFUSED, -ETIMEDOUT, -ENETUNREACH, -EINVAL (an
 * address that does not parse), -ENOENT (a name that does not resolve),
 * ... Blocks the task while connecting. Any caller.
 */
WEFT_API int weft_net_dial(const char *addr, int64_t deadline_ns);

/**
 * weft_net_addr - write the local address of socket @fd into @buf in the
 * form weft_net_listen() takes: "127.0.0.1:41234", "[::1]:8080",
 * "unix:/tmp/s". Returns its length (without the NUL), -ENOSPC when @len
 * is too small (@buf then holds ""), -EBADF, -ENOTSOCK, -EAFNOSUPPORT for
 * another family. Never blocks. Any caller.
 */
WEFT_API int weft_net_addr(int fd, char *buf, size_t len);

/* ------------------------------------------------------------------------
 * The debug server: /debug/weft/ (runtime/debug.c)
 * ------------------------------------------------------------------------ */

/**
 * weft_debug_serve - serve /debug/weft/ on @addr, from tasks of this
 * program over the netpoller (Go's net/http/pprof, for weft).
 *
 * @addr: an address in the forms of weft_net_listen(): "127.0.0.1:6060",
 *        "[::1]:6060", "localhost:0", "unix:/run/me/debug.sock". Only
 *        loopback (127.0.0.0/8, ::1) and unix sockets are served: the
 *        bound address is checked, and any other is closed and refused
 *        with -EPERM, unless WEFT_DEBUG_PUBLIC=1 is in the environment
 *        (then a warning is printed on stderr: the pages name the
 *        program's functions and code addresses).
 *
 * HTTP/1.1 GET, one request per connection:
 *   /debug/weft/        an index page with the command that reads each
 *                       result;
 *   /debug/weft/trace?seconds=N
 *                       a trace (the file of weft_trace_start) of the next
 *                       N seconds: default 1, fractional allowed, above 0
 *                       and at most 60, else 400; 409 while a trace is
 *                       being recorded. A mid-run start: the file opens
 *                       with the state of every live task. As
 *                       application/octet-stream with
 *                       "Content-Disposition: attachment;
 *                       filename="weft.trace"" and
 *                       "X-Content-Type-Options: nosniff". Read it with
 *                       `curl -o t.wt URL; weft-trace stats t.wt`. It is
 *                       recorded into an anonymous memory file, never a
 *                       path on disk, and sent once stopped;
 *   /debug/weft/tasks   every live task, one a line, by id:
 *                       "task 17 [chan receive, 1.4 s]: worker at
 *                       stage+0x2a" - state (for a blocked task its wait
 *                       reason and how long it has waited, to ~10 ms
 *                       while the program runs and ~100 ms after an idle
 *                       spell: parks stamp a coarse clock that sysmon
 *                       keeps), entry function, call site of the wait;
 *                       ?debug=1 groups identical (function, state,
 *                       reason, call site) with counts, "3 @ [...]";
 *                       ?format=json either way ("since_ms", "wait_ms",
 *                       "now_ms": the monotonic clock in ms, mod 2^32).
 *                       Stops the world while it copies the descriptors
 *                       (a few ms for a million tasks);
 *   /debug/weft/flight  404: weft has no flight recorder yet.
 * Anything else gets a 4xx and disturbs nothing: an unknown path 404, a
 * method other than GET 405, a malformed request or parameter 400, a
 * request header over 16 KiB 431. Each connection is a task with a
 * deadline (10 s for the request, 60 s for the response), so a slow
 * client holds up nobody else; at most 64 connections at once (503
 * beyond).
 *
 * The server's tasks are ordinary tasks (they take task ids and show in
 * traces and in the dump) with two exceptions: they are never reported
 * as deadlocked, and their waits on fds do not count as possible
 * wake-ups, so a program that deadlocks is reported as without the
 * server (while a request is being served, its deadlines are armed
 * timers and the report waits for them). They end, as every task does,
 * when the main task returns; the listening socket and connections are
 * closed when weft_main() returns. WEFT_DEBUG_ADDR=addr in the
 * environment makes weft_main() call this with no code change (an error
 * is said on stderr; the program runs on).
 *
 * Returns the listening fd (>= 0): weft_net_addr() tells the port chosen
 * for port 0; it belongs to the server: do not close it. -EINVAL if @addr
 * is NULL or the runtime is not running (outside weft_main(), or after
 * the main task returned); -EPERM for an address that is not loopback or
 * unix (see above); -EMFILE when the server already holds 64 fds; any
 * error of weft_net_listen() (-EADDRINUSE, ...).
 * Never blocks the P. Any task, or a plain thread while weft_main() runs
 * (that thread does not become a possible waker for the deadlock check).
 * May be called several times: each address is served.
 */
WEFT_API int weft_debug_serve(const char *addr);

/* ------------------------------------------------------------------------
 * Execution tracing (format: doc/trace-format.md; reader: <weft/trace.h>)
 * ------------------------------------------------------------------------ */

/**
 * weft_trace_start - start recording every scheduler transition (task
 * create, start, end, yield, block with its reason, unblock, syscalls,
 * stop-the-world, Ps starting and stopping) into the file at @path,
 * compressed. Briefly stops the world to install the per-P buffers and to
 * record the state of every existing task. Setting WEFT_TRACE=path in the
 * environment traces a whole weft_main() run without code changes
 * ("%p" in the path is the process id); weft_main() takes WEFT_TRACE out
 * of the environment once read unless the path has "%p", so that a weft
 * program it starts never writes over the same file (with "%p", each
 * writes its own);
 * WEFT_TRACE_LEVEL sets the zstd level (-7 to 19, default 1) and
 * WEFT_TRACE_MAX_MEM the buffer memory (bytes, with an optional k, M or G
 * suffix; default 64M): a P that would exceed it waits for the writer and
 * records the wait (it is raised to one 64 KiB buffer per P plus two when
 * smaller, at start and when weft_set_procs adds Ps). A bad value of
 * either is refused (said on stderr, -EINVAL), not replaced by the
 * default. A child made by fork() does not trace (none of the writer's
 * threads survive into it): tracing is off there, and the parent's trace
 * goes on.
 * Returns 0; -EBUSY if a trace is already being written; -EINVAL if @path
 * is NULL, if the caller is not a task (a plain thread, or any thread
 * before weft_main() runs: there is no P to record on yet; WEFT_TRACE is
 * the way to trace from the very start), or if WEFT_TRACE_LEVEL or
 * WEFT_TRACE_MAX_MEM is bad; an open() error. Call from a task.
 *
 * What a trace keeps when the program does not stop it:
 *   - The writer writes what every P has recorded every 100 ms (while it
 *     keeps up with the program: at the memory cap it is behind anyway),
 *     so a program that hangs, or is killed by SIGKILL (or calls _exit(),
 *     or dies of a signal weft does not catch), leaves a readable file
 *     missing at most the last 100 ms of each P's events (and a chunk cut
 *     short), marked incomplete.
 *   - A program that dies with the trace running finishes the file first,
 *     with every event recorded so far, marked complete with how it ended
 *     (weft_tr_info.end_reason): the deadlock report, any "weft: fatal"
 *     error, a stack overflow, abort() and a crash (when their signal's
 *     disposition is the default), exit() from any thread, and SIGINT or
 *     SIGTERM (when their disposition is the default; the program then
 *     dies of the signal, promptly even if a task is stuck in a loop; a
 *     second one kills at once). Each P's events then end where that P
 *     was, not at one instant as with weft_trace_stop().
 *   - A forked child that dies does not touch its parent's trace.
 */
WEFT_API int weft_trace_start(const char *path);

/**
 * weft_trace_stop - stop recording, write everything buffered and close
 * the file. A trace still open when weft_main() returns is stopped then.
 * Does not stop the world: the other tasks run on while it waits for every
 * P to pass a scheduling point (or weft_safepoint()) and for the file to
 * be written; the calling task keeps its P meanwhile.
 * Returns 0, -EINVAL if no trace is running, or the first write error.
 */
WEFT_API int weft_trace_stop(void);

/** weft_trace_enabled - 1 while a trace is being recorded, else 0. */
WEFT_API int weft_trace_enabled(void);

/*
 * User annotations, shown by the trace tools beside the scheduler's own
 * events (the model is Go's runtime/trace tasks, regions and logs).
 *
 * weft_trace_task_begin - start a user task (a logical operation, say one
 * request, that may span many weft tasks) of type @type ("request"). It
 * becomes the calling task's current user task; weft tasks spawned from
 * then on inherit it. Returns a handle for weft_trace_task_end(), never 0.
 * Works whether or not a trace is being recorded (it costs an atomic add),
 * so a trace started later attributes work correctly.
 *
 * weft_trace_task_end - end user task @utask; if it is the calling task's
 * current one, the one current before weft_trace_task_begin() is again.
 *
 * weft_trace_region_begin / _end - a named interval of the calling task,
 * nested: region_end() ends the innermost open one and must be called by
 * the same task (calling it with none open is a fatal misuse, status 2).
 * Outside a task both do nothing.
 *
 * weft_trace_log - a message (printf-style, cut at 1024 bytes) under
 * @category, attached to the calling task and its user task. When no
 * trace is being recorded it returns at once without formatting.
 *
 * Strings are copied into the trace: the caller's buffers may be reused.
 */
WEFT_API uint64_t weft_trace_task_begin(const char *type);
WEFT_API void weft_trace_task_end(uint64_t utask);
WEFT_API void weft_trace_region_begin(const char *type);
WEFT_API void weft_trace_region_end(void);
WEFT_API void weft_trace_log(const char *category, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#ifdef __cplusplus
}
#endif

#endif /* WEFT_H */

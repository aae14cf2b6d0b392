/*
 * weft/trace.h - reading weft execution traces (libweft-trace).
 *
 * A trace file (written by weft_trace_start() or WEFT_TRACE=path) holds
 * one stream of events per P plus one for events recorded without a P.
 * The reader merges them into one order - by time, streams in a fixed
 * order when times tie - holding one decoded chunk per stream, so memory
 * does not grow with the trace's length. A corrupt or truncated file is
 * reported with the byte offset where it went wrong; the reader never
 * trusts a size it read without a bound. Format: doc/trace-format.md.
 *
 *   weft_tr *t;
 *   char err[256];
 *   if (weft_tr_open("out.wt", &t, err, sizeof(err)) < 0) { puts(err); ... }
 *   weft_tr_event ev;
 *   int r;
 *   while ((r = weft_tr_next(t, &ev)) > 0)
 *       printf("%llu %s\n", (unsigned long long)ev.ts, weft_tr_event_name(ev.type));
 *   if (r < 0) puts(weft_tr_error(t));
 *   weft_tr_close(t);
 */
#ifndef WEFT_TRACE_H
#define WEFT_TRACE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* libweft-trace is built with -fvisibility=hidden: only these are exported. */
#if defined(WEFT_TR_BUILDING) && defined(__GNUC__)
#define WEFT_TR_API __attribute__((visibility("default")))
#else
#define WEFT_TR_API
#endif

/*
 * The events: X(NAME, number, argument count, string count, argument
 * names...). The numbers are part of the file format and never change
 * meaning. An event's strings (user annotations only) follow its
 * arguments; the reader hands them out in weft_tr_event.str.
 *
 * Conventions for the arguments:
 *   task   - task id (weft_task_id()); 0 is "no task" (a plain thread).
 *   seq    - the task's sequence number, bumped at each TASK_START and
 *            TASK_UNBLOCK, so that events of one task recorded on
 *            different Ps are ordered causally even when clocks tie. The
 *            reader always reports the resolved number; in the file it
 *            is 0 when the previous numbered event of the task was on the
 *            same stream (the stream's own order suffices), as in Go.
 *   fn, site - code addresses, keys of weft_tr_string(): fn is an
 *            entry function ("worker"), site a call site ("main+0x4c").
 *   obj    - the object waited on (a channel, mutex...), an opaque id.
 *   utask  - user task id (weft_trace_task_begin); 0 is "none".
 */
#define WEFT_TRACE_EVENTS(X)                                                               \
	X(PROC_START, 1, 2, 0, "p", "m")         /* M m starts running P p */              \
	X(PROC_STOP, 2, 1, 0, "p")               /* P p goes idle */                       \
	X(TASK_CREATE, 3, 4, 0, "task", "parent", "fn", "site")                            \
	X(TASK_START, 4, 2, 0, "task", "seq")    /* the task runs on the event's P */      \
	X(TASK_END, 5, 1, 0, "task")             /* it returned */                         \
	X(TASK_YIELD, 6, 1, 0, "task")           /* it yielded and stays runnable */       \
	X(TASK_BLOCK, 7, 4, 0, "task", "reason", "obj", "site") /* WEFT_TRACE_BLOCK_* */   \
	X(TASK_UNBLOCK, 8, 3, 0, "task", "by", "seq") /* by: who readied it, or 0 */       \
	X(SYSCALL_ENTER, 9, 2, 0, "task", "site")                                          \
	X(SYSCALL_EXIT, 10, 1, 0, "task")                                                  \
	X(SYSCALL_HANDOFF, 11, 1, 0, "p")        /* the monitor took P p from a syscall */ \
	X(STW_BEGIN, 12, 1, 0, "reason")         /* reason: WEFT_TRACE_STW_* */            \
	X(STW_END, 13, 1, 0, "wait_ns")          /* how long stopping the Ps took */       \
	X(TASK_STATE, 14, 5, 0, "task", "state", "reason", "fn", "seq") /* at start */     \
	X(STALL, 15, 1, 0, "ns")                 /* the P waited for the trace writer */   \
	X(M_CREATE, 16, 2, 0, "m", "thread")     /* a new M (worker thread), its OS tid */ \
	X(STEAL, 17, 3, 0, "victim", "count", "failed") /* took count tasks from P victim, \
						   after failed empty probes */            \
	X(UTASK_BEGIN, 18, 3, 1, "utask", "parent", "task") /* str: its type */            \
	X(UTASK_END, 19, 2, 0, "utask", "task")                                            \
	X(REGION_BEGIN, 20, 2, 1, "task", "utask") /* str: its type */                     \
	X(REGION_END, 21, 1, 0, "task")          /* ends the task's innermost region */    \
	X(LOG, 22, 2, 2, "task", "utask")        /* str: category, message */

enum weft_trace_type {
#define WEFT_TRACE_ENUM_(name, num, ...) WEFT_TEV_##name = num,
	WEFT_TRACE_EVENTS(WEFT_TRACE_ENUM_)
#undef WEFT_TRACE_ENUM_
	WEFT_TEV_MAX
};

/*
 * Why a task blocked (TASK_BLOCK reason, TASK_STATE reason): X(NAME,
 * number, name). The numbers are part of the file format; the runtime
 * records these as its wait reasons, and weft_tr_block_name() returns
 * the names ("chan receive"). A new reason is one line here plus the
 * blocking call that passes it.
 */
#define WEFT_TRACE_BLOCK_REASONS(X)                                                        \
	X(NONE, 0, "none")                                                                 \
	X(WG, 1, "wait group")                                                             \
	X(MUTEX, 2, "mutex")                                                               \
	X(SEMA, 3, "semaphore")                                                            \
	X(CHAN_SEND, 4, "chan send")                                                       \
	X(CHAN_RECV, 5, "chan receive")                                                    \
	X(SELECT, 6, "select")                                                             \
	X(SLEEP, 7, "sleep")                                                               \
	X(SYSCALL, 8, "syscall")                                                           \
	X(STW, 9, "stop-the-world")                                                        \
	X(NET_READ, 10, "net read")                                                        \
	X(NET_WRITE, 11, "net write")

enum weft_trace_block {
#define WEFT_TRACE_BLOCK_ENUM_(name, num, str) WEFT_TRACE_BLOCK_##name = num,
	WEFT_TRACE_BLOCK_REASONS(WEFT_TRACE_BLOCK_ENUM_)
#undef WEFT_TRACE_BLOCK_ENUM_
	WEFT_TRACE_BLOCK_MAX
};

/* TASK_STATE state. */
enum weft_trace_state {
	WEFT_TRACE_STATE_RUNNABLE = 1,
	WEFT_TRACE_STATE_RUNNING = 2,
	WEFT_TRACE_STATE_BLOCKED = 3,
	WEFT_TRACE_STATE_SYSCALL = 4,
};

/* STW_BEGIN reason. */
enum weft_trace_stw { WEFT_TRACE_STW_USER = 0, WEFT_TRACE_STW_SET_PROCS = 1, WEFT_TRACE_STW_TRACE = 2 };

/*
 * How a trace ended (weft_tr_info.end_reason). Only STOP is a consistent
 * end: the others were finished by a program that was dying, whose Ps
 * each stopped recording wherever they were (so a task may have been
 * woken on one P with the wake lost on another), and the reader treats
 * the file as it does one cut short.
 */
enum weft_trace_end {
	WEFT_TRACE_END_NONE = 0,   /* not finished: the writer was killed (SIGKILL,
				      _exit, power) and each P lost at most its last
				      100 ms of events; or still being written */
	WEFT_TRACE_END_STOP = 1,   /* weft_trace_stop() or the end of weft_main() */
	WEFT_TRACE_END_SIGNAL = 2, /* the program died of signal end_code (SIGINT,
				      SIGTERM, SIGABRT, a crash) */
	WEFT_TRACE_END_FATAL = 3,  /* a weft fatal error (the deadlock report, a
				      stack overflow, "weft: fatal: ..."); end_code
				      is the exit status, 2 */
	WEFT_TRACE_END_EXIT = 4,   /* exit(end_code) while tracing */
};

#define WEFT_TRACE_MAX_ARGS 5
#define WEFT_TRACE_MAX_STR 1024 /* longer strings are cut by the writer */

typedef struct weft_tr weft_tr;

typedef struct {
	int type;          /* enum weft_trace_type */
	int p;             /* the P it happened on, -1 if recorded without a P */
	uint64_t ts;       /* ns since the trace started */
	uint64_t args[WEFT_TRACE_MAX_ARGS]; /* in the order of WEFT_TRACE_EVENTS; unused 0 */
	const char *str[2]; /* the event's strings, NUL-terminated (NULL if none);
			       valid until the next weft_tr_next() */
	uint32_t strlen[2];
	uint64_t offset;   /* byte offset of the chunk that holds it */
} weft_tr_event;

typedef struct {
	int version;
	int clock;             /* 0 CLOCK_MONOTONIC, 1 TSC */
	uint64_t ticks_per_sec;
	int64_t start_unix_ns; /* wall clock when the trace started */
	int procs;             /* Ps when it started */
	int pid;
	int complete;          /* 1: finished (end_reason says how): every event
				  recorded is in the file; 0: the writer was
				  killed - each stream's events after its last
				  chunk in the file are lost */
	uint64_t chunks, events; /* as indexed when opened */
	uint64_t file_bytes, raw_bytes;
	uint64_t end_ts;       /* ns since the start when tracing stopped (a P may
				  have been running since its last event); 0 if
				  not recorded: the writer died, or predates it */
	int end_reason;        /* enum weft_trace_end (files before version 4:
				  STOP when complete) */
	int end_code;          /* the signal (END_SIGNAL) or exit status (END_FATAL,
				  END_EXIT); else 0 */
} weft_tr_info;

/*
 * weft_tr_open - open and index @path. Returns 0, or a negative errno
 * with a message in @err (with the byte offset for a corrupt file).
 */
WEFT_TR_API int weft_tr_open(const char *path, weft_tr **out, char *err, size_t errlen);

/*
 * weft_tr_next - the next event in global order. Returns 1 with *@ev
 * filled, 0 at the end, or a negative errno (-EPROTO corrupt, -EPIPE
 * truncated: the events of every complete chunk came first); then
 * weft_tr_error() says what and where.
 */
WEFT_TR_API int weft_tr_next(weft_tr *t, weft_tr_event *ev);

WEFT_TR_API const char *weft_tr_error(const weft_tr *t);
WEFT_TR_API void weft_tr_get_info(const weft_tr *t, weft_tr_info *info);

/*
 * The name of a code address key: an entry function (TASK_CREATE and
 * TASK_STATE fn: "worker") or a call site (site: "main+0x4c"), or NULL.
 * weft_tr_fn_name is the same lookup. The names are read when the file
 * is opened, so these and weft_tr_get_info() may be called from one
 * thread while another calls weft_tr_next() (weft-trace reads on a
 * second thread this way); everything else wants one thread at a time.
 */
WEFT_TR_API const char *weft_tr_string(const weft_tr *t, uint64_t key);
WEFT_TR_API const char *weft_tr_fn_name(const weft_tr *t, uint64_t fn);

WEFT_TR_API const char *weft_tr_event_name(int type);      /* "TASK_START"; NULL if unknown */
WEFT_TR_API int weft_tr_event_nargs(int type);             /* -1 if unknown */
WEFT_TR_API int weft_tr_event_nstr(int type);              /* -1 if unknown */
WEFT_TR_API const char *weft_tr_arg_name(int type, int i); /* "task"; NULL if none */
WEFT_TR_API const char *weft_tr_block_name(int reason);    /* "chan receive", ... */

WEFT_TR_API void weft_tr_close(weft_tr *t);

#ifdef __cplusplus
}
#endif

#endif /* WEFT_TRACE_H */

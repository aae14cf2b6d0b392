/*
 * trace_writer.h - what the trace writer's files share (internal to
 * runtime/trace*.c; the hooks see only trace_emit.h).
 *
 *   trace.c        the session: start and stop, the snapshot, the clock,
 *                  the header (and the writer's design essay)
 *   trace_buf.c    buffers: the pool, rotation, the out-of-line emit path
 *   trace_flush.c  the flusher thread: names, compression, chunks, and the
 *                  SIGINT/SIGTERM finalization
 *   trace_user.c   the annotation API: user tasks, regions, logs
 *
 * Locks: the start lock (trace.c) orders starts and stops; the global
 * buffer's lock (weft__tglob.lock) is taken by any thread without a P and
 * by stop, the pool lock (weft__tsess.pool_lock) inside it (HACKING.md has
 * the order). The file belongs to the thread whose id is in
 * weft__tsess.wlock (trace_flush.c, "The writer"): a spin word, not a
 * mutex, because a signal handler takes it; it is taken under none of
 * the locks above except by a death path, which may run under any.
 *
 * Rejected: one 1100-line trace.c (the first layout); per-file statics
 * passed around by pointer (every function would take the session).
 */
#ifndef WEFT_TRACE_WRITER_H
#define WEFT_TRACE_WRITER_H

#include <pthread.h>
#include <sys/types.h>
#include <stdint.h>

#include <zstd.h>

#include "internal.h"
#include "symbol.h"
#include "trace_emit.h"

#define BUF_SIZE WEFT__TBUF_SIZE
#define EV_MAX WEFT__TEV_MAX
#define EV_STR_MAX (EV_MAX + 2 * (WEFT_TRACE_MAX_STR + 10))
#define DEFAULT_MAX_MEM (64u << 20)

/* The session: one trace being written (start_lock orders them). */
struct weft__tsession {
	int fd;
	struct weft__symcache syms; /* every object's file, mapped at start (symbol.h) */
	int level;
	int err;                   /* first write error (flusher) */
	bool tsc;
	uint64_t tick0, freq0;     /* at start; freq0: the first calibration */
	int64_t mono0, unix0;
	uint32_t procs0;
	uintptr_t code_base;       /* code keys are zigzag(addr - code_base) + 1 */
	size_t max_bufs, nbufs;    /* allocated (pool lock) */
	pthread_mutex_t pool_lock;
	struct weft__tbuf *pool;
	_Atomic int32_t pool_note; /* futex: a buffer came back */
	struct cds_wfcq_head q_head;
	struct cds_wfcq_tail q_tail;
	_Atomic int32_t q_note;    /* futex: the flusher sleeps here */
	_Atomic int stopping;
	pthread_t flusher;
	/*
	 * Streams: the Ps', 0 .. WEFT_MAX_PROCS - 1, and the global one,
	 * WEFT__TSTREAM_GLOBAL. cur[s] is the buffer stream s fills, for the
	 * writer's copies (release by weft__tbuf_publish, acquire by the
	 * writer); bseq[s] numbers the stream's buffers (its filler: the
	 * P's owner, or under the global buffer's lock).
	 */
	_Atomic(struct weft__tbuf *) cur[WEFT_MAX_PROCS + 1];
	uint32_t bseq[WEFT_MAX_PROCS + 1];
	/* The file writer (the flusher, or a death path that took over; the
	 * thread id in wlock, trace_flush.c): */
	_Atomic int wlock;         /* 0, or the tid of the thread writing */
	uint32_t wseq[WEFT_MAX_PROCS + 1];  /* the next chunk number of each stream */
	uint32_t wnext[WEFT_MAX_PROCS + 1]; /* the buffer of each stream it writes next */
	uint64_t *seen;            /* code keys already named */
	size_t nseen, capseen;
	bool raw_only;             /* a signal handler writes: no zstd, no malloc */
	ZSTD_CCtx *zc;
	void *zbuf;
	size_t zcap;
	uint8_t *scratch;          /* a segment re-encoded (BUF_SIZE + EV_MAX) */
	uint64_t events, raw_bytes, file_bytes;
	/* Death (trace_flush.c, "Dying"): */
	_Atomic int live;          /* a death path may finish the file (start..stop) */
	_Atomic int dying;         /* 0; 1 a death path is finishing it; 2 done */
	pid_t pid;                 /* the writing process (not a forked child) */
	char path[512];            /* for the message (cut if longer) */
};
extern struct weft__tsession weft__tsess;
#define WEFT__TSTREAM_GLOBAL WEFT_MAX_PROCS

/* Every how many ns the flusher writes what the buffers hold so far. */
#define WEFT__TFLUSH_PERIOD (100 * 1000000LL)

/*
 * The global buffer: events of threads that own no P (plain threads,
 * sysmon, an M in a syscall or between Ps). It outlives sessions - its
 * lock is never reset, and the buffer is installed and taken back under
 * it - so a thread that saw tracing on just before a stop and gets the
 * lock after it finds no buffer, not a lock being reinitialized.
 */
struct weft__tglobal {
	pthread_mutex_t lock;
	struct weft__tbuf *buf;
};
extern struct weft__tglobal weft__tglob;

/* trace_buf.c */
void weft__tbuf_reset(struct weft__tbuf *b, int kind, int stream_kind, uint32_t id);
struct weft__tbuf *weft__tbuf_get(int64_t *stalled);
void weft__tbuf_put(struct weft__tbuf *b);
void weft__tbuf_enqueue(struct weft__tbuf *b);
void weft__tbuf_publish(struct weft__tbuf **slot, struct weft__tbuf *b);
void weft__tbuf_unpublish(struct weft__tbuf **slot);
void weft__trace_ev_str(struct weft__p *p, int type, int nargs, const uint64_t *a, int nstr,
			const char *const *str, const size_t *len);
const void *weft__trace_code_addr(uint64_t key);

/* trace_flush.c */
void *weft__trace_flusher_main(void *arg);
void weft__trace_signals_install(void);
int weft__trace_signals_restore(void);
int weft__writer_take(void);
void weft__trace_exit_hook(void);

/* trace.c */
void weft__trace_write_header(uint64_t freq, int reason, int code, uint64_t end);
uint64_t weft__trace_freq(int64_t mono1, uint64_t tick1);

#endif /* WEFT_TRACE_WRITER_H */

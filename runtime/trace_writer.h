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
 * the order).
 *
 * Rejected: one 1100-line trace.c (the first layout); per-file statics
 * passed around by pointer (every function would take the session).
 */
#ifndef WEFT_TRACE_WRITER_H
#define WEFT_TRACE_WRITER_H

#include <pthread.h>
#include <stdint.h>

#include <zstd.h>

#include "internal.h"
#include "trace_emit.h"

#define BUF_SIZE WEFT__TBUF_SIZE
#define EV_MAX WEFT__TEV_MAX
#define EV_STR_MAX (EV_MAX + 2 * (WEFT_TRACE_MAX_STR + 10))
#define DEFAULT_MAX_MEM (64u << 20)

/* The session: one trace being written (start_lock orders them). */
struct weft__tsession {
	int fd;
	int level;
	int err;                   /* first write error (flusher) */
	bool tsc;
	uint64_t tick0;
	int64_t mono0;
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
	uint32_t pseq[WEFT_MAX_PROCS];
	/* flusher only: function addresses already named */
	uint64_t *seen;
	size_t nseen, capseen;
	ZSTD_CCtx *zc;
	void *zbuf;
	size_t zcap;
	uint64_t events, raw_bytes, file_bytes;
};
extern struct weft__tsession weft__tsess;

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
	uint32_t seq;
};
extern struct weft__tglobal weft__tglob;

/* trace_buf.c */
void weft__tbuf_reset(struct weft__tbuf *b, int kind, int stream_kind, uint32_t id);
struct weft__tbuf *weft__tbuf_get(int64_t *stalled);
void weft__tbuf_put(struct weft__tbuf *b);
void weft__tbuf_enqueue(struct weft__tbuf *b);
void weft__trace_ev_str(struct weft__p *p, int type, int nargs, const uint64_t *a, int nstr,
			const char *const *str, const size_t *len);
const void *weft__trace_code_addr(uint64_t key);

/* trace_flush.c */
void *weft__trace_flusher_main(void *arg);
void weft__trace_signals_install(void);
int weft__trace_signals_restore(void);

#endif /* WEFT_TRACE_WRITER_H */

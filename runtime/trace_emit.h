/*
 * trace_emit.h - the tracer's emit path, inlined at each hook of the
 * scheduler (internal; the writer's session, buffers and flusher are in
 * trace.c, the file format in common/trace_format.h).
 *
 * A hook is WEFT__TRACE(p, TYPE, nargs, a0, ...): one relaxed load of
 * weft__trace_on and a predictable branch when tracing is off. When on,
 * the event goes into the buffer of @p, a P the caller owns (no lock, no
 * atomic read-modify-write), encoded by weft_tf_put_event(), the format's
 * one encoder: with the type and argument count constant at the hook, it
 * is a handful of stores. A full or missing buffer, or no P (a plain
 * thread, sysmon, an M in a syscall), takes the out-of-line path,
 * weft__trace_ev() in trace.c, which encodes with the same function.
 *
 * Invariants: p->tbuf is written only by the M that owns @p, or under a
 * stopped world / after the RCU grace periods of weft_trace_stop (see
 * trace.c); the file writer reads a buffer being filled only below its
 * length, which is stored with release once an event is whole
 * (weft__tbuf_publish_len); an event's arguments are evaluated only when tracing is on, so
 * they may call weft__trace_code() and weft__trace_seq(); every argument
 * that is a code key (the traits' fn and site) is passed through
 * weft__trace_key() so the flusher names it.
 *
 * Rejected:
 *   - A second, hand-unrolled encoder here (the first layout had one in
 *     this header and another in trace.c): they must produce the same
 *     bytes, so there is one, and the compiler unrolls it.
 *   - A function call per event: the hooks sit on the task switch path,
 *     where ~10 ns of call and argument shuffling is the whole budget.
 *   - Keeping this in internal.h: the scheduler's core header then held
 *     the tracer's buffers and clock; now only the files with hooks
 *     include it.
 */
#ifndef WEFT_TRACE_EMIT_H
#define WEFT_TRACE_EMIT_H

#include "internal.h"

/* The P the calling M owns, for tracing: NULL on a plain thread and inside
 * weft_syscall_enter/exit (sysmon may have handed the P to another M). */
static inline struct weft__p *weft__trace_p(struct weft__m *m)
{
	return m && atomic_load_explicit(&m->sys, memory_order_relaxed) == WEFT__M_SYS_NONE ? m->p
											   : NULL;
}

/*
 * The buffers: one per P (p->tbuf), one global; a buffer's bytes become
 * one chunk of the file (trace.c's flusher writes them).
 */
#define WEFT__TBUF_SIZE (64 * 1024)
#define WEFT__TEV_MAX 64 /* the largest encoded event without strings */
struct weft__tbuf {
	struct cds_wfcq_node node;
	struct weft__tbuf *next;   /* pool */
	uint8_t kind;              /* chunk kind */
	uint8_t stream_kind;
	uint32_t stream_id;
	uint32_t seq;              /* its number among its stream's buffers */
	uint64_t t_first, t_prev;
	uint64_t last_task;        /* previous task-id argument (delta base) */
	bool keys_new;             /* may hold a code key not yet named (flusher) */
	uint32_t nev;
	size_t len;                /* bytes of whole events: stored with release
				      (weft__tbuf_publish_len), so that the
				      writer may copy a prefix while the buffer
				      fills (trace.c, "Flushing") */
	/* the file writer's own (trace_flush.c): what of it is written */
	size_t f_len;
	uint64_t f_tick, f_task;   /* the tick and task id of the event before f_len */
	uint8_t data[WEFT__TBUF_SIZE];
};

/* @b holds @len bytes of whole events: the writer's copy may take them.
 * A release store (a plain store on x86); pairs with the acquire load
 * of the periodic flush and the death path (trace_flush.c). */
static inline void weft__tbuf_publish_len(struct weft__tbuf *b, size_t len)
{
	__atomic_store_n(&b->len, len, __ATOMIC_RELEASE);
}

extern _Atomic int weft__trace_on;
extern bool weft__trace_prestart;
extern __thread const void *weft__site /* call site of the blocking API in progress */
	__attribute__((tls_model("initial-exec"), visibility("hidden")));
void weft__trace_ev(struct weft__p *p, int type, int nargs, uint64_t a0, uint64_t a1,
		    uint64_t a2, uint64_t a3, uint64_t a4);
bool weft__trace_active(void);
void weft__trace_add_procs(int n);     /* set_procs grew the Ps (world stopped) */
uint64_t weft__trace_code(const void *addr); /* code address -> fn/site key */
#define WEFT__TSTREAM_M 0xffff
/* Bump @t's sequence number for an event on @p's stream; the argument to record. */
static inline uint64_t weft__trace_seq(struct weft__task *t, struct weft__p *p)
{
	uint16_t s = p ? (uint16_t)(p->id + 1) : WEFT__TSTREAM_M;

	t->tseq++;
	if (t->tlastp == s)
		return 0;
	t->tlastp = s;
	return t->tseq;
}
extern bool weft__trace_tsc;

/* Trace ticks: the TSC divided by 64 (20-30 ns on today's CPUs, as Go's
 * tracer does), so that the delta between two events a few hundred ns
 * apart is one varint byte with few random low bits for zstd to store. */
#define WEFT__TSC_SHIFT 6
static inline uint64_t weft__trace_ticks(void)
{
#if defined(__x86_64__)
	if (__builtin_expect(weft__trace_tsc, 1))
		return __builtin_ia32_rdtsc() >> WEFT__TSC_SHIFT;
#endif
	return (uint64_t)weft__nanotime();
}

/*
 * The flusher names the code keys (fn, site) of a buffer before writing it,
 * which means decoding every event; it does so only for a buffer flagged
 * here: one that may hold a key its P has not written before in this
 * session. A P remembers the last 16 keys it wrote (direct-mapped); a
 * buffer of a P in a loop over one call site is never scanned. Keys
 * written before went out in an earlier buffer of the same P, which the
 * single FIFO flusher has named already. @p NULL (the global buffer):
 * always flagged.
 */
static inline void weft__trace_key(struct weft__p *p, struct weft__tbuf *b, uint64_t key)
{
	if (!key)
		return;
	if (!p) {
		b->keys_new = true;
		return;
	}
	uint64_t *slot = &p->tkeys[(key * 0x9E3779B97F4A7C15ULL) >> 60];
	if (__builtin_expect(*slot != key, 0)) {
		*slot = key;
		b->keys_new = true;
	}
}

/* The code keys (fn, site) of event @type in @a go to weft__trace_key
 * (the traits say which arguments are keys; constant at each hook). */
static inline void weft__trace_keys(struct weft__p *p, struct weft__tbuf *b, int type,
				    const uint64_t *a)
{
	if (weft_tf_traits[type].fn)
		weft__trace_key(p, b, a[weft_tf_traits[type].fn]);
	if (weft_tf_traits[type].site)
		weft__trace_key(p, b, a[weft_tf_traits[type].site]);
}

/*
 * The emit path: an event on the caller's P goes straight into its
 * buffer; a full or missing buffer, or no P, takes the out-of-line path
 * (weft__trace_ev). @now: a tick to reuse, or 0 to read the clock.
 */
static inline void weft__trace_emit(struct weft__p *p, int type, int n, uint64_t now,
				    uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3,
				    uint64_t a4)
{
	struct weft__tbuf *b;
	const uint64_t a[WEFT_TRACE_MAX_ARGS] = { a0, a1, a2, a3, a4 };

	WEFT__ASSERT(!p || weft__owns(p) || weft__world_stopped());
	if (__builtin_expect(!p || !(b = p->tbuf) || b->nev == 0 ||
				     b->len + WEFT__TEV_MAX > WEFT__TBUF_SIZE, 0)) {
		weft__trace_ev(p, type, n, a0, a1, a2, a3, a4);
		return;
	}
	if (!now)
		now = weft__trace_ticks();
	weft__trace_keys(p, b, type, a);
	uint8_t *q = weft_tf_put_event(b->data + b->len, type, now - b->t_prev, n, a,
				       &b->last_task);
	weft__tbuf_publish_len(b, (size_t)(q - b->data));
	b->t_prev = now;
	b->nev++;
}

#define WEFT__TRACE_N(p, type, n, a0, a1, a2, a3, a4)                                   \
	do {                                                                             \
		if (__builtin_expect(atomic_load_explicit(&weft__trace_on,               \
							  memory_order_relaxed), 0))     \
			weft__trace_emit((p), WEFT_TEV_##type, (n), 0, (uint64_t)(a0), \
					 (uint64_t)(a1), (uint64_t)(a2), (uint64_t)(a3),  \
					 (uint64_t)(a4));                                 \
	} while (0)
#define WEFT__TRACE(p, type, n, a0, a1, a2) WEFT__TRACE_N(p, type, n, a0, a1, a2, 0, 0)
/* A task leaves @p's M (block, yield, end): one of these events, and a mark
 * so that the START of the next task, when it follows at once, shares the
 * timestamp - one clock read per switch instead of two. */
#define WEFT__TRACE_SWITCH(p, type, n, a0, a1, a2, a3)                                  \
	do {                                                                             \
		if (__builtin_expect(atomic_load_explicit(&weft__trace_on,               \
							  memory_order_relaxed), 0)) {   \
			weft__trace_emit((p), WEFT_TEV_##type, (n), 0, (uint64_t)(a0), \
					 (uint64_t)(a1), (uint64_t)(a2), (uint64_t)(a3),  \
					 0);                                              \
			if (p)                                                           \
				(p)->tswitch = true;                                     \
		}                                                                        \
	} while (0)
#define WEFT__TRACE_START(p, t)                                                         \
	do {                                                                             \
		if (__builtin_expect(atomic_load_explicit(&weft__trace_on,               \
							  memory_order_relaxed), 0)) {   \
			uint64_t now_ = (p)->tswitch && (p)->tbuf ? (p)->tbuf->t_prev : 0;     \
			(p)->tswitch = false;                                            \
			weft__trace_emit((p), WEFT_TEV_TASK_START, 2, now_, (t)->id,   \
					 weft__trace_seq((t), (p)), 0, 0, 0);             \
		}                                                                        \
	} while (0)
/* The site of the public blocking call being made (its caller's return address). */
#define WEFT__SITE() (weft__site = __builtin_return_address(0))

#endif /* WEFT_TRACE_EMIT_H */

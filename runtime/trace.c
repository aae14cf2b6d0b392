/*
 * trace.c - the execution tracer's writer: every scheduler transition as
 * an event in a per-P buffer, compressed by a flusher thread into an
 * append-only file (format: tracer/format.h, doc/trace-format.md).
 *
 * Emitting. Each hook in the scheduler is WEFT__TRACE(p, ...): one load of
 * weft__trace_on and a predictable branch when tracing is off. When on, the
 * event goes to the buffer of the P the caller owns - no lock, no atomic
 * read-modify-write, inlined at the hook (weft__trace_emit): a type byte,
 * the tick delta from the previous event of the buffer and the arguments,
 * all as LEB128 varints (a task switch is 4-6 bytes before compression).
 * A task switch reads the clock once: the START of the next task shares
 * the tick of the BLOCK/YIELD/END just written when nothing ran between
 * (p->tswitch, cleared on the way to g0). Events from a thread that owns no P
 * (a plain thread waking a task, sysmon taking a P, an M that lost its P
 * in a syscall) go to one global buffer under a mutex; they are rare.
 *
 * Clock. The invariant TSC when /proc/cpuinfo says constant_tsc and
 * nonstop_tsc (rdtsc is ~20 cycles, clock_gettime ~60), calibrated
 * against CLOCK_MONOTONIC over the trace's life; the header holds the
 * frequency, and is rewritten at the end with the measured one.
 * CLOCK_MONOTONIC otherwise, and on other CPUs.
 *
 * Flushing. A full buffer is enqueued on a liburcu wait-free queue and
 * replaced from a pool; the flusher thread dequeues it, resolves the names
 * of task entry functions it has not seen (a strings chunk precedes the
 * events chunk that first uses them, so a file is self-contained and no
 * symbol lookup happens on the emit path), compresses it as one zstd
 * frame with a checksum, and appends the chunk. A killed process leaves
 * every chunk written so far readable. Buffers are allocated up to the
 * memory cap (WEFT_TRACE_MAX_MEM, default 64 MiB); at the cap the emitting
 * P waits for the flusher to give one back and records how long (STALL):
 * nothing is dropped.
 *
 * Starting happens under stop-the-world (or before the first task runs,
 * for WEFT_TRACE). A trace begun mid-run records every existing task's
 * state (TASK_STATE), so that blocked tasks show as blocked, and that
 * snapshot is only consistent with the events around it if no task moves
 * while it is taken: the buffers go in, the states are read, and tracing
 * is turned on before any other P runs again. With the Ps running (RCU on
 * this side too), a state read during the grace period could be older or
 * newer than the events recorded around it, and the reader has only the
 * clock to order the global stream against the Ps'.
 *
 * Stopping uses RCU - liburcu's QSBR flavour, whose readers are the Ms
 * (rcu.c) - so that it does not pause the program. What it protects: each
 * P's buffer (p->tbuf, with its sequence number), which whichever M owns
 * the P writes with no lock. The read-side critical section is a hook,
 * from its check of weft__trace_on to the end of its write (a rotation
 * included). The quiescent states are where no hook can be: each schedule
 * point (a task starting, a round of the scheduler loop, a yield), and
 * the M is offline while it parks, sleeps until a timer, waits for a stop
 * of the world or is in a syscall (its events then go to the global
 * buffer: weft__trace_p). weft_trace_stop() waits for two grace periods,
 * asking weft_safepoint() to pass quiescent states meanwhile. The first,
 * with tracing still on, lets every P record what it does up to its next
 * schedule point, as a stopped world did: the task whose wg_done woke the
 * stopper still records its END. Then it clears weft__trace_on; after the
 * second no M is inside a hook that saw tracing on, nor will be, so the
 * buffers are taken back with plain stores, flushed, and the file
 * finalized while the program runs on. The global buffer needs no RCU:
 * its writers (plain threads, sysmon, Ms without a P) hold its mutex, and
 * it is taken back under it after the second grace period. The stopping
 * task keeps its P while its thread waits, twice as long as the slowest P
 * takes to reach a schedule point (a stop of the world waited once); no
 * one else waits.
 *
 * Each P's stream ends with the last event its M recorded before seeing
 * tracing off, so the streams end at different times; the header records
 * when tracing stopped, which is where the trace ends (the stopping task
 * itself ran on after its last event). The cut is causally closed: an
 * event that follows one left out, through the release/acquire chain that
 * hands a task on, reads weft__trace_on after that one's check read 0, so
 * it reads 0 too (read-read coherence); and an event that saw tracing on
 * but found the global buffer gone came after the grace periods, when no
 * P records anything.
 *
 * Causality and names. Each task carries a sequence number bumped at every
 * START and UNBLOCK; the event records it only when the task's previous
 * numbered event was on another stream (t->tlastp), as Go 1.19 does, so
 * that the reader can order a START on P1 after the UNBLOCK on P0 that
 * caused it even when the clocks tie. Entry functions and call sites
 * (the return address of the public blocking call, kept in a TLS slot by
 * WEFT__SITE) are recorded as small code keys and named by the flusher.
 *
 * Signals. SIGINT and SIGTERM (when their disposition is the default)
 * finalize the file: the handler wakes the flusher, which starts a task
 * that calls weft_trace_stop(); stop re-raises the signal. A SIGKILL
 * leaves every chunk written so far, and the header's "complete" flag
 * unset, so the reader can say the tail is lost.
 *
 * Rejected:
 *   - Stopping under stop-the-world, as the first version did: with every
 *     P parked none is inside a hook, but each stop paused the whole
 *     program until the slowest P reached a safepoint, and recorded that
 *     pause at the end of the trace. A grace period waits for the same
 *     schedule points without stopping anyone, for two loads and a compare
 *     per schedule (yield and channel ping-pong unchanged, within noise).
 *   - RCU for starting too: see "Starting".
 *   - A lock-free global ring (one cache line bouncing on every event).
 *   - Compressing on the emitting P: zstd costs ~1-3 ns/byte, on the
 *     flusher it overlaps with the program.
 *   - Resolving names on the emit path: a symbol lookup is microseconds.
 *
 * Not yet: a per-M buffer for Ms without a P (they share the global one
 * under a mutex; they are rare: plain threads, sysmon, syscall exits).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <link.h>
#include <zstd.h>

#include "internal.h"
#include "symbol.h"
#include "../tracer/format.h"

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

#define S weft__sched

_Static_assert((int)WEFT__W_WG == (int)WEFT_TF_BLOCK_WG &&
		       (int)WEFT__W_SLEEP == (int)WEFT_TF_BLOCK_SLEEP &&
		       (int)WEFT__W_STW == (int)WEFT_TF_BLOCK_STW &&
		       (int)WEFT__W_NR == (int)WEFT_TF_BLOCK_MAX,
	       "wait reasons and trace block reasons must agree");

#define BUF_SIZE WEFT__TBUF_SIZE
#define EV_MAX WEFT__TEV_MAX
#define EV_STR_MAX (EV_MAX + 2 * (WEFT_TRACE_MAX_STR + 10))
#define DEFAULT_MAX_MEM (64u << 20)

_Atomic int weft__trace_on;
bool weft__trace_prestart; /* weft_main starts or ends a trace with no task running */
__thread const void *weft__site __attribute__((tls_model("initial-exec")));
static _Atomic uint32_t utask_next; /* user task ids */


static struct session {
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
} sess;

/*
 * The global buffer: events of threads that own no P (plain threads,
 * sysmon, an M in a syscall or between Ps). It outlives sessions - its
 * lock is never reset, and the buffer is installed and taken back under
 * it - so a thread that saw tracing on just before a stop and gets the
 * lock after it finds no buffer, not a lock being reinitialized.
 */
static struct {
	pthread_mutex_t lock;
	struct weft__tbuf *buf;
	uint32_t seq;
} glob = { .lock = PTHREAD_MUTEX_INITIALIZER };

static pthread_mutex_t start_lock = PTHREAD_MUTEX_INITIALIZER;
static bool active;

/* ---- clock ------------------------------------------------------------------ */

static bool tsc_usable(void)
{
#if defined(__x86_64__)
	char line[4096];
	FILE *f = fopen("/proc/cpuinfo", "r");
	bool c = false, n = false;

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "flags", 5) != 0)
			continue;
		c = strstr(line, " constant_tsc") != NULL;
		n = strstr(line, " nonstop_tsc") != NULL;
		break;
	}
	fclose(f);
	return c && n;
#else
	return false;
#endif
}

bool weft__trace_tsc;

static inline uint64_t ticks(void)
{
	return weft__trace_ticks();
}

/*
 * A first estimate of the TSC rate (2 ms against CLOCK_MONOTONIC), so that
 * a trace cut short by a crash is still readable; stop measures it over
 * the whole trace and rewrites the header.
 */
static uint64_t calibrate(void)
{
	int64_t m0 = weft__nanotime(), m1;
	uint64_t t0 = ticks(), t1;

	do {
		m1 = weft__nanotime();
		t1 = ticks();
	} while (m1 - m0 < 2000000);
	return (uint64_t)((long double)(t1 - t0) * 1e9L / (long double)(m1 - m0));
}

/* ---- encoding ----------------------------------------------------------------- */

#define put_uvarint weft__put_uvarint

static void put_le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* ---- buffers ---------------------------------------------------------------- */

static void buf_reset(struct weft__tbuf *b, int kind, int stream_kind, uint32_t id)
{
	cds_wfcq_node_init(&b->node);
	b->kind = (uint8_t)kind;
	b->stream_kind = (uint8_t)stream_kind;
	b->stream_id = id;
	b->nev = 0;
	b->len = 0;
	b->t_first = b->t_prev = 0;
	b->last_task = 0;
	b->keys_new = false;
}

/* A buffer from the pool, or a new one under the cap. NULL: at the cap. */
static struct weft__tbuf *buf_try_get(void)
{
	struct weft__tbuf *b = NULL;

	pthread_mutex_lock(&sess.pool_lock);
	if ((b = sess.pool)) {
		sess.pool = b->next;
	} else if (sess.nbufs < sess.max_bufs) {
		sess.nbufs++;
		pthread_mutex_unlock(&sess.pool_lock);
		b = malloc(sizeof(*b));
		if (!b) {
			pthread_mutex_lock(&sess.pool_lock);
			sess.nbufs--;
			pthread_mutex_unlock(&sess.pool_lock);
		}
		return b;
	}
	pthread_mutex_unlock(&sess.pool_lock);
	return b;
}

static void buf_put(struct weft__tbuf *b)
{
	pthread_mutex_lock(&sess.pool_lock);
	b->next = sess.pool;
	sess.pool = b;
	pthread_mutex_unlock(&sess.pool_lock);
	atomic_store(&sess.pool_note, 1);
	weft__futex_wake(&sess.pool_note, 1);
}

static void enqueue(struct weft__tbuf *b)
{
	WEFT__TSAN_RELEASE(b);
	cds_wfcq_enqueue(&sess.q_head, &sess.q_tail, &b->node);
	atomic_store(&sess.q_note, 1);
	weft__futex_wake(&sess.q_note, 1);
}

/* A fresh buffer, waiting for the flusher at the cap; *@stalled: ns waited. */
static struct weft__tbuf *buf_get(int64_t *stalled)
{
	struct weft__tbuf *b;
	int64_t t0 = 0;

	*stalled = 0;
	while (!(b = buf_try_get())) {
		if (!t0)
			t0 = weft__nanotime();
		atomic_store(&sess.pool_note, 0);
		if ((b = buf_try_get()))
			break;
		weft__futex_wait(&sess.pool_note, 0, 1000000);
	}
	if (t0)
		*stalled = weft__nanotime() - t0;
	return b;
}

static inline void ev_write(struct weft__tbuf *b, uint64_t now, int type, int nargs,
			    const uint64_t *a)
{
	uint8_t *p = b->data + b->len;

	if (b->nev == 0)
		b->t_first = b->t_prev = now;
	*p++ = (uint8_t)type;
	p = put_uvarint(p, now - b->t_prev);
	for (int i = 0; i < nargs; i++) {
		uint64_t v = a[i];
		if (i == 0 && WEFT_TF_TASK_ARG0(type)) {
			v = weft_tf_zigzag(a[0], b->last_task);
			b->last_task = a[0];
		}
		p = put_uvarint(p, v);
	}
	b->len = (size_t)(p - b->data);
	b->t_prev = now;
	b->nev++;
}

/* An event with strings (user annotations): each is a length and bytes. */
static void ev_write_str(struct weft__tbuf *b, uint64_t now, int type, int nargs,
			 const uint64_t *a, int nstr, const char *const *str, const size_t *len)
{
	uint8_t *p;

	ev_write(b, now, type, nargs, a);
	p = b->data + b->len;
	for (int i = 0; i < nstr; i++) {
		p = put_uvarint(p, len[i]);
		memcpy(p, str[i], len[i]);
		p += len[i];
	}
	b->len = (size_t)(p - b->data);
}

/* Hand @*slot to the flusher and put a fresh buffer in its place. */
static void rotate(struct weft__tbuf **slot, uint32_t *seq)
{
	struct weft__tbuf *old = *slot, *b;
	int kind = old->stream_kind;
	uint32_t id = old->stream_id;
	int64_t stalled;

	old->seq = (*seq)++;
	enqueue(old); /* the flusher owns it from here: no more reads */
	b = buf_get(&stalled);
	buf_reset(b, WEFT_TF_CHUNK_EVENTS, kind, id);
	*slot = b;
	if (stalled) {
		uint64_t a = (uint64_t)stalled;
		ev_write(b, ticks(), WEFT_TF_EV_STALL, 1, &a);
	}
}

void weft__trace_ev(struct weft__p *p, int type, int nargs, uint64_t a0, uint64_t a1,
		    uint64_t a2, uint64_t a3, uint64_t a4)
{
	uint64_t a[5] = { a0, a1, a2, a3, a4 };

	if (p && p->tbuf) {
		struct weft__tbuf *b = p->tbuf;
		if (__builtin_expect(b->len + EV_MAX > BUF_SIZE, 0)) {
			rotate(&p->tbuf, &sess.pseq[p->id]);
			b = p->tbuf;
		}
		weft__trace_keys(p, b, type, a1, a2, a3);
		ev_write(b, ticks(), type, nargs, a);
		return;
	}
	pthread_mutex_lock(&glob.lock);
	if (glob.buf) {
		if (glob.buf->len + EV_MAX > BUF_SIZE)
			rotate(&glob.buf, &glob.seq);
		weft__trace_keys(NULL, glob.buf, type, a1, a2, a3);
		ev_write(glob.buf, ticks(), type, nargs, a);
	}
	pthread_mutex_unlock(&glob.lock);
}

/* An event with strings, on the P the caller owns or the global buffer. */
static void trace_ev_str(struct weft__p *p, int type, int nargs, const uint64_t *a, int nstr,
			 const char *const *str, const size_t *len)
{
	if (p && p->tbuf) {
		if (p->tbuf->len + EV_STR_MAX > BUF_SIZE)
			rotate(&p->tbuf, &sess.pseq[p->id]);
		ev_write_str(p->tbuf, ticks(), type, nargs, a, nstr, str, len);
		return;
	}
	pthread_mutex_lock(&glob.lock);
	if (glob.buf) {
		if (glob.buf->len + EV_STR_MAX > BUF_SIZE)
			rotate(&glob.buf, &glob.seq);
		ev_write_str(glob.buf, ticks(), type, nargs, a, nstr, str, len);
	}
	pthread_mutex_unlock(&glob.lock);
}

/*
 * Code addresses (entry functions, call sites) as small keys: the signed
 * distance from the main executable's base, zigzag-encoded, plus one (0
 * is "none"). User code is in the executable, so most keys take 2-3
 * varint bytes instead of 7. The flusher names each key once.
 */
uint64_t weft__trace_code(const void *addr)
{
	int64_t d;

	if (!addr)
		return 0;
	d = (int64_t)((uintptr_t)addr - sess.code_base);
	return (((uint64_t)d << 1) ^ (uint64_t)(d >> 63)) + 1;
}

static const void *code_addr(uint64_t key)
{
	uint64_t z = key - 1;
	int64_t d = (int64_t)(z >> 1) ^ -(int64_t)(z & 1);

	return (const void *)(sess.code_base + (uintptr_t)d);
}

static int base_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	for (int i = 0; i < info->dlpi_phnum; i++)
		if (info->dlpi_phdr[i].p_type == PT_LOAD) {
			*(uintptr_t *)arg = info->dlpi_addr + info->dlpi_phdr[i].p_vaddr;
			break;
		}
	return 1; /* the first object is the executable */
}

/* ---- the flusher ------------------------------------------------------------ */

static void write_all(const void *p, size_t n)
{
	const char *c = p;

	while (n > 0 && !sess.err) {
		ssize_t w = write(sess.fd, c, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			sess.err = -errno;
			return;
		}
		c += w;
		n -= (size_t)w;
		sess.file_bytes += (size_t)w;
	}
}

static void write_chunk(int kind, int stream_kind, uint32_t id, uint32_t seq, uint64_t t0,
			uint64_t t1, uint32_t nev, const void *raw, size_t rawlen)
{
	uint8_t h[WEFT_TF_CHUNK_HEADER_SIZE] = { 0 };
	size_t z = ZSTD_compress2(sess.zc, sess.zbuf, sess.zcap, raw, rawlen);

	if (ZSTD_isError(z)) {
		if (!sess.err)
			sess.err = -EIO;
		return;
	}
	put_le(h, WEFT_TF_CHUNK_MAGIC, 4);
	h[4] = (uint8_t)kind;
	h[5] = (uint8_t)stream_kind;
	put_le(h + 8, id, 4);
	put_le(h + 12, seq, 4);
	put_le(h + 16, t0, 8);
	put_le(h + 24, t1, 8);
	put_le(h + 32, z, 4);
	put_le(h + 36, rawlen, 4);
	put_le(h + 40, nev, 4);
	write_all(h, sizeof(h));
	write_all(sess.zbuf, z);
	sess.raw_bytes += rawlen;
}

static bool seen_add(uint64_t key)
{
	if (sess.nseen * 2 >= sess.capseen) {
		size_t cap = sess.capseen ? sess.capseen * 2 : 256;
		uint64_t *n = calloc(cap, sizeof(*n));
		if (!n)
			return false;
		for (size_t i = 0; i < sess.capseen; i++) {
			uint64_t k = sess.seen[i];
			if (!k)
				continue;
			size_t j = (k * 0x9E3779B97F4A7C15ULL) >> 7 & (cap - 1);
			while (n[j])
				j = (j + 1) & (cap - 1);
			n[j] = k;
		}
		free(sess.seen);
		sess.seen = n;
		sess.capseen = cap;
	}
	size_t j = (key * 0x9E3779B97F4A7C15ULL) >> 7 & (sess.capseen - 1);
	while (sess.seen[j]) {
		if (sess.seen[j] == key)
			return false;
		j = (j + 1) & (sess.capseen - 1);
	}
	sess.seen[j] = key;
	sess.nseen++;
	return true;
}

static const uint8_t nargs_of[WEFT_TF_EV_MAX] = {
#define WEFT_TF_NARGS(name, num, nargs, ...) [num] = nargs,
	WEFT_TF_EVENTS(WEFT_TF_NARGS)
#undef WEFT_TF_NARGS
};

static const uint8_t nstr_of[WEFT_TF_EV_MAX] = {
#define WEFT_TF_NSTR(name, num, nargs, nstr, ...) [num] = nstr,
	WEFT_TF_EVENTS(WEFT_TF_NSTR)
#undef WEFT_TF_NSTR
};

/* Name the entry functions that @b mentions for the first time. */
static void emit_names(struct weft__tbuf *b)
{
	static uint8_t out[BUF_SIZE];
	size_t len = 0;
	uint32_t n = 0;
	const uint8_t *p = b->data, *end = b->data + b->len;

	if (!b->keys_new)
		return; /* every key in it was named before (weft__trace_keys) */
	while (p < end) {
		int type = *p++;
		uint64_t a[WEFT_TF_MAX_ARGS], d;

		if (type <= 0 || type >= WEFT_TF_EV_MAX || !(p = weft_tf_uvarint(p, end, &d)))
			weft__throw("trace: a buffer holds an event the writer cannot read");
		for (int i = 0; i < nargs_of[type]; i++)
			if (!(p = weft_tf_uvarint(p, end, &a[i])))
				weft__throw("trace: a buffer holds a truncated event");
		for (int i = 0; i < nstr_of[type]; i++) {
			uint64_t sl;
			if (!(p = weft_tf_uvarint(p, end, &sl)) || sl > (uint64_t)(end - p))
				weft__throw("trace: a buffer holds a truncated string");
			p += sl;
		}
		uint64_t keys[2] = { 0, 0 }; /* fn, site */
		switch (type) {
		case WEFT_TF_EV_TASK_CREATE: keys[0] = a[2]; keys[1] = a[3]; break;
		case WEFT_TF_EV_TASK_STATE: keys[0] = a[3]; break;
		case WEFT_TF_EV_TASK_BLOCK: keys[1] = a[3]; break;
		case WEFT_TF_EV_SYSCALL_ENTER: keys[1] = a[1]; break;
		}
		for (int k = 0; k < 2; k++) {
		uint64_t key = keys[k];
		if (!key || !seen_add(key))
			continue;
		char name[256];
		const char *addr = code_addr(key);
		/* A call site is a return address: name the call, one byte before. */
		if (weft__symbolize(k ? addr - 1 : addr, name, sizeof(name)) < 0)
			snprintf(name, sizeof(name), "%p", (const void *)addr);
		size_t nl = strnlen(name, sizeof(name));
		if (len + 32 + nl > sizeof(out)) {
			write_chunk(WEFT_TF_CHUNK_STRINGS, WEFT_TF_STREAM_M, 0, 0, 0, 0, n, out, len);
			len = 0;
			n = 0;
		}
		uint8_t *q = put_uvarint(out + len, key);
		q = put_uvarint(q, nl);
		memcpy(q, name, nl);
		len = (size_t)(q + nl - out);
		n++;
		}
	}
	if (n)
		write_chunk(WEFT_TF_CHUNK_STRINGS, WEFT_TF_STREAM_M, 0, 0, 0, 0, n, out, len);
}

static void flush_one(struct weft__tbuf *b)
{
	emit_names(b);
	write_chunk(b->kind, b->stream_kind, b->stream_id, b->seq, b->t_first, b->t_prev, b->nev,
		    b->data, b->len);
	sess.events += b->nev;
}

/*
 * SIGINT and SIGTERM finalize the trace, then kill the process as the
 * signal would have. The handler only records the signal and wakes the
 * flusher (both async-signal-safe); the flusher starts a task that calls
 * weft_trace_stop(), which stops the trace like any other stop, finishes
 * the file and re-raises the signal with its old disposition back. A
 * second signal while that runs kills at once. Installed only over the
 * default disposition: a program's own handler is left alone.
 */
static const int fin_signals[2] = { SIGINT, SIGTERM };
static struct sigaction fin_old[2];
static bool fin_installed[2];
static _Atomic int sig_pending; /* the signal to re-raise once finalized */
static bool sig_stop_started;   /* flusher only */

static void on_fin_signal(int sig)
{
	int zero = 0, saved = errno;

	if (!atomic_compare_exchange_strong(&sig_pending, &zero, sig)) {
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	atomic_store(&sess.q_note, 1);
	weft__futex_wake(&sess.q_note, 1);
	errno = saved;
}

static void fin_signals_install(void)
{
	for (int i = 0; i < 2; i++) {
		struct sigaction sa;
		fin_installed[i] = false;
		if (sigaction(fin_signals[i], NULL, &fin_old[i]) != 0 ||
		    (fin_old[i].sa_flags & SA_SIGINFO) || fin_old[i].sa_handler != SIG_DFL)
			continue;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_fin_signal;
		sigemptyset(&sa.sa_mask);
		sa.sa_flags = SA_RESTART;
		fin_installed[i] = sigaction(fin_signals[i], &sa, NULL) == 0;
	}
}

static void fin_signals_restore(void)
{
	for (int i = 0; i < 2; i++)
		if (fin_installed[i]) {
			sigaction(fin_signals[i], &fin_old[i], NULL);
			fin_installed[i] = false;
		}
}

static void sig_stop_task(void *arg)
{
	(void)arg;
	weft_trace_stop(); /* re-raises the signal */
}

static void *flusher_main(void *arg)
{
	(void)arg;
	for (;;) {
		struct cds_wfcq_node *node;

		atomic_store(&sess.q_note, 0);
		/* A task, not this thread, stops: the stop joins this thread,
		 * and plain threads may not stop while the runtime runs. If
		 * none can be started (weft_main is ending), the stop
		 * weft_main makes re-raises the signal. */
		if (atomic_load(&sig_pending) && !sig_stop_started) {
			sig_stop_started = true;
			weft_go(sig_stop_task, NULL);
		}
		node = __cds_wfcq_dequeue_blocking(&sess.q_head, &sess.q_tail);
		if (node) {
			struct weft__tbuf *b = caa_container_of(node, struct weft__tbuf, node);
			WEFT__TSAN_ACQUIRE(b);
			flush_one(b);
			buf_put(b);
			continue;
		}
		if (atomic_load(&sess.stopping))
			break;
		weft__futex_wait(&sess.q_note, 0, -1);
	}
	return NULL;
}

/* ---- start and stop -------------------------------------------------------- */

/*
 * @end: the tick when tracing stopped, 0 while the trace runs. A complete
 * header also records the file's length, so that a reader tells a copy cut
 * between two chunks from the whole file (both are valid chunk sequences).
 */
static void write_header(uint64_t freq, bool complete, uint64_t end)
{
	uint8_t h[WEFT_TF_HEADER_SIZE] = { 0 };
	struct timespec rt;

	clock_gettime(CLOCK_REALTIME, &rt);
	memcpy(h, WEFT_TF_MAGIC, 8);
	put_le(h + 8, WEFT_TF_VERSION, 2);
	put_le(h + 10, WEFT_TF_HEADER_SIZE, 2);
	h[16] = sess.tsc ? WEFT_TF_CLOCK_TSC : WEFT_TF_CLOCK_MONO;
	h[17] = complete ? WEFT_TF_FLAG_COMPLETE : 0;
	put_le(h + 24, freq, 8);
	put_le(h + 32, sess.tick0, 8);
	put_le(h + 40, (uint64_t)((int64_t)rt.tv_sec * 1000000000 + rt.tv_nsec), 8);
	put_le(h + 48, (uint64_t)atomic_load(&S.nprocs), 4);
	put_le(h + 52, (uint64_t)getpid(), 4);
	put_le(h + 56, end, 8);
	if (complete)
		put_le(h + WEFT_TF_LENGTH_OFF, WEFT_TF_HEADER_SIZE + sess.file_bytes,
		       WEFT_TF_LENGTH_SIZE);
	if (pwrite(sess.fd, h, sizeof(h), 0) != (ssize_t)sizeof(h) && !sess.err)
		sess.err = errno ? -errno : -EIO;
}

/* An integer from the environment within [lo, hi], else @def. */
static int env_int(const char *name, int def, int lo, int hi)
{
	const char *e = getenv(name);
	char *end;
	long v;

	if (!e || !*e)
		return def;
	v = strtol(e, &end, 10);
	return *end || v < lo || v > hi ? def : (int)v;
}

/* WEFT_TRACE_MAX_MEM: bytes, "64M" and "512k" accepted; the default if unset or bad. */
static size_t max_mem(void)
{
	const char *e = getenv("WEFT_TRACE_MAX_MEM");
	long long v = e && *e ? weft__parse_size(e) : -1;

	return v > 0 && v <= (1LL << 40) ? (size_t)v : DEFAULT_MAX_MEM;
}

static int snapshot_state(struct weft__task *t)
{
	switch (atomic_load_explicit(&t->status, memory_order_relaxed)) {
	case WEFT__T_RUNNABLE:
		return WEFT_TF_STATE_RUNNABLE;
	case WEFT__T_RUNNING:
		return WEFT_TF_STATE_RUNNING;
	case WEFT__T_WAITING:
		return WEFT_TF_STATE_BLOCKED;
	case WEFT__T_SYSCALL:
		return WEFT_TF_STATE_SYSCALL;
	default:
		return 0;
	}
}

static void snap_task(struct weft__task *t, void *arg)
{
	int st = snapshot_state(t);

	struct weft__m *m = arg;

	if (!st)
		return;
	/* The running task (the one starting the trace) is recorded on its P. */
	/* A task in a syscall runs on its own thread while the world is
	 * stopped and may be leaving the syscall now (which clears
	 * wait_reason): its reason is known without reading it. */
	weft__trace_ev(m && m->curg == t ? m->p : NULL, WEFT_TF_EV_TASK_STATE, 5, t->id, (uint64_t)st,
		       st == WEFT_TF_STATE_SYSCALL ? (uint64_t)WEFT_TRACE_BLOCK_SYSCALL
		       : st == WEFT_TF_STATE_BLOCKED ? t->wait_reason
						     : 0,
		       weft__trace_code((void *)t->fn), t->tseq);
	t->tlastp = WEFT__TSTREAM_M; /* the next numbered event carries its seq */
}

/* Install buffers and turn tracing on. World stopped, or nothing runs yet. */
static int install(void)
{
	int n = atomic_load(&S.nprocs);
	struct weft__m *m = weft__getm();
	struct weft__tbuf *b;
	int64_t stalled;

	for (int i = 0; i < WEFT_MAX_PROCS; i++)
		if (S.allp[i]) /* a new session names every key again */
			memset(S.allp[i]->tkeys, 0, sizeof(S.allp[i]->tkeys));
	for (int i = 0; i < n; i++) {
		struct weft__p *p = S.allp[i];
		p->tbuf = buf_get(&stalled);
		buf_reset(p->tbuf, WEFT_TF_CHUNK_EVENTS, WEFT_TF_STREAM_P, (uint32_t)i);
	}
	b = buf_get(&stalled);
	buf_reset(b, WEFT_TF_CHUNK_EVENTS, WEFT_TF_STREAM_M, 0);
	pthread_mutex_lock(&glob.lock);
	glob.buf = b;
	glob.seq = 0;
	pthread_mutex_unlock(&glob.lock);
	for (int i = 0; i < n; i++) {
		struct weft__p *p = S.allp[i];
		if (atomic_load(&p->status) == WEFT__P_RUNNING && p->m)
			weft__trace_ev(p, WEFT_TF_EV_PROC_START, 2, (uint64_t)i,
				       (uint64_t)p->m->id, 0, 0, 0);
	}
	weft__tasks_foreach(snap_task, m && m->curg ? m : NULL);
	/* The pause we are in began before tracing did; its STW_END follows. */
	if (m && m->curg && m->p)
		weft__trace_ev(m->p, WEFT_TF_EV_STW_BEGIN, 1, WEFT_TF_STW_TRACE, 0, 0, 0, 0);
	atomic_store(&weft__trace_on, 1);
	return 0;
}

/*
 * Let every P record up to its next schedule point, turn tracing off,
 * wait until no M is in a hook, then take every buffer back and queue it
 * (see "Stopping"). The world runs on. From weft_trace_stop only.
 */
static void uninstall(void)
{
	/* A task looping on weft_safepoint() passes quiescent states too. */
	atomic_fetch_or(&weft__safepoint_pending, WEFT__SP_RCU);
	weft__rcu_synchronize();
	atomic_store(&weft__trace_on, 0);
	weft__rcu_synchronize();
	atomic_fetch_and(&weft__safepoint_pending, ~WEFT__SP_RCU);
	/* No M is between a check that saw tracing on and its write now, and
	 * none will be: allp and pcount change only with the world stopped,
	 * which cannot happen while our P runs this. */
	for (int i = 0; i < S.pcount; i++) {
		struct weft__p *p = S.allp[i];
		if (p && p->tbuf) {
			p->tbuf->seq = sess.pseq[i]++;
			if (p->tbuf->nev)
				enqueue(p->tbuf);
			else
				buf_put(p->tbuf);
			p->tbuf = NULL;
		}
	}
	pthread_mutex_lock(&glob.lock);
	if (glob.buf->nev) {
		glob.buf->seq = glob.seq++;
		enqueue(glob.buf);
	} else {
		buf_put(glob.buf);
	}
	glob.buf = NULL;
	pthread_mutex_unlock(&glob.lock);
}

WEFT_API int weft_trace_start(const char *path)
{
	struct weft__m *m = weft__getm();
	bool in_task = m && m->curg;
	int err;

	if (!path)
		return -EINVAL;
	if (!in_task && atomic_load(&S.running) && !weft__trace_prestart)
		return -EINVAL;
	weft__rcu_mutex_lock(&start_lock);
	if (active) {
		pthread_mutex_unlock(&start_lock);
		return -EBUSY;
	}
	memset(&sess, 0, sizeof(sess));
	sess.fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (sess.fd < 0) {
		err = -errno;
		pthread_mutex_unlock(&start_lock);
		return err;
	}
	sess.level = env_int("WEFT_TRACE_LEVEL", 1, -7, 19);
	sess.max_bufs = max_mem() / sizeof(struct weft__tbuf);
	if (sess.max_bufs < (size_t)atomic_load(&S.nprocs) + 2)
		sess.max_bufs = (size_t)atomic_load(&S.nprocs) + 2; /* one each, one spare */
	sess.tsc = tsc_usable();
	weft__trace_tsc = sess.tsc;
	sess.zc = ZSTD_createCCtx();
	sess.zcap = ZSTD_compressBound(BUF_SIZE);
	sess.zbuf = malloc(sess.zcap);
	if (!sess.zc || !sess.zbuf) {
		err = -ENOMEM;
		goto fail;
	}
	ZSTD_CCtx_setParameter(sess.zc, ZSTD_c_compressionLevel, sess.level);
	ZSTD_CCtx_setParameter(sess.zc, ZSTD_c_checksumFlag, 1);
	pthread_mutex_init(&sess.pool_lock, NULL);
	cds_wfcq_init(&sess.q_head, &sess.q_tail);
	dl_iterate_phdr(base_cb, &sess.code_base);
	sess.mono0 = weft__nanotime();
	sess.tick0 = ticks();
	write_header(sess.tsc ? calibrate() : 1000000000, false, 0);
	if (lseek(sess.fd, WEFT_TF_HEADER_SIZE, SEEK_SET) < 0 || sess.err) {
		err = sess.err ? sess.err : -errno;
		goto fail;
	}
	if ((err = -pthread_create(&sess.flusher, NULL, flusher_main, NULL)) != 0)
		goto fail;
	atomic_fetch_add(&S.nhelpers, 1); /* not a possible waker: see checkdead */
	active = true;
	sig_stop_started = false;
	fin_signals_install();
	pthread_mutex_unlock(&start_lock);
	if (in_task) {
		weft_stop_the_world("trace");
		install();
		weft_start_the_world();
	} else {
		install();
	}
	return 0;
fail:
	ZSTD_freeCCtx(sess.zc);
	free(sess.zbuf);
	close(sess.fd);
	pthread_mutex_unlock(&start_lock);
	return err;
}

WEFT_API int weft_trace_stop(void)
{
	struct weft__m *m = weft__getm();
	bool in_task = m && m->curg;
	int64_t mono1;
	uint64_t tick1, freq;
	int err;

	if (!in_task && atomic_load(&S.running) && !weft__trace_prestart)
		return -EINVAL;
	weft__rcu_mutex_lock(&start_lock);
	if (!active) {
		pthread_mutex_unlock(&start_lock);
		return -EINVAL;
	}
	uninstall();
	mono1 = weft__nanotime();
	tick1 = ticks();
	atomic_store(&sess.stopping, 1);
	atomic_store(&sess.q_note, 1);
	weft__futex_wake(&sess.q_note, 1);
	pthread_join(sess.flusher, NULL);
	atomic_fetch_sub(&S.nhelpers, 1);
	/* The measured tick rate over the whole trace. */
	freq = 1000000000;
	if (sess.tsc && mono1 > sess.mono0)
		freq = (uint64_t)((long double)(tick1 - sess.tick0) * 1e9L /
				  (long double)(mono1 - sess.mono0));
	write_header(freq, true, tick1);
	err = sess.err;
	if (fsync(sess.fd) != 0 && !err && errno != EINVAL)
		err = -errno;
	if (close(sess.fd) != 0 && !err)
		err = -errno;
	while (sess.pool) {
		struct weft__tbuf *b = sess.pool;
		sess.pool = b->next;
		free(b);
	}
	ZSTD_freeCCtx(sess.zc);
	free(sess.zbuf);
	free(sess.seen);
	pthread_mutex_destroy(&sess.pool_lock);
	active = false;
	fin_signals_restore();
	pthread_mutex_unlock(&start_lock);
	/* Finalized because of a SIGINT/SIGTERM: now let it do what it does. */
	int sig = atomic_exchange(&sig_pending, 0);
	if (sig)
		raise(sig);
	return err;
}

bool weft__trace_active(void)
{
	bool a;

	weft__rcu_mutex_lock(&start_lock);
	a = active;
	pthread_mutex_unlock(&start_lock);
	return a;
}

WEFT_API int weft_trace_enabled(void)
{
	return atomic_load_explicit(&weft__trace_on, memory_order_relaxed);
}

/* set_procs made Ps [old, n) (world stopped): give each a buffer. */
void weft__trace_add_procs(int n)
{
	int64_t stalled;

	for (int i = 0; i < n; i++) {
		struct weft__p *p = S.allp[i];
		if (p->tbuf)
			continue;
		p->tbuf = buf_get(&stalled);
		buf_reset(p->tbuf, WEFT_TF_CHUNK_EVENTS, WEFT_TF_STREAM_P, (uint32_t)i);
	}
}

/* ---- user annotations ---------------------------------------------------------- */

static struct weft__task *cur_task(struct weft__m **mp)
{
	struct weft__m *m = weft__getm();

	*mp = m;
	return m ? m->curg : NULL;
}

static size_t cut(const char *s)
{
	return s ? strnlen(s, WEFT_TRACE_MAX_STR) : 0;
}

/*
 * The handle returned packs the new user task's id (low 32 bits) with the
 * one it replaced as current (high 32 bits), so that ending it restores
 * the parent with no table to keep.
 */
WEFT_API uint64_t weft_trace_task_begin(const char *type)
{
	struct weft__m *m;
	struct weft__task *t = cur_task(&m);
	uint32_t id = atomic_fetch_add_explicit(&utask_next, 1, memory_order_relaxed) + 1;
	uint32_t parent = t ? t->utask : 0;

	if (!id) /* wrapped: 0 means none */
		id = atomic_fetch_add_explicit(&utask_next, 1, memory_order_relaxed) + 1;
	if (t)
		t->utask = id;
	if (atomic_load_explicit(&weft__trace_on, memory_order_relaxed)) {
		uint64_t a[3] = { id, parent, t ? t->id : 0 };
		const char *str[1] = { type ? type : "" };
		size_t len[1] = { cut(type) };
		trace_ev_str(weft__trace_p(m), WEFT_TF_EV_UTASK_BEGIN, 3, a, 1, str, len);
	}
	return (uint64_t)parent << 32 | id;
}

WEFT_API void weft_trace_task_end(uint64_t utask)
{
	struct weft__m *m;
	struct weft__task *t = cur_task(&m);
	uint32_t id = (uint32_t)utask, parent = (uint32_t)(utask >> 32);

	if (!id)
		return;
	if (t && t->utask == id)
		t->utask = parent;
	WEFT__TRACE(weft__trace_p(m), UTASK_END, 2, id, t ? t->id : 0, 0);
}

WEFT_API void weft_trace_region_begin(const char *type)
{
	struct weft__m *m;
	struct weft__task *t = cur_task(&m);

	if (!t)
		return; /* regions belong to tasks */
	t->rdepth++;
	if (atomic_load_explicit(&weft__trace_on, memory_order_relaxed)) {
		uint64_t a[2] = { t->id, t->utask };
		const char *str[1] = { type ? type : "" };
		size_t len[1] = { cut(type) };
		trace_ev_str(weft__trace_p(m), WEFT_TF_EV_REGION_BEGIN, 2, a, 1, str, len);
	}
}

WEFT_API void weft_trace_region_end(void)
{
	struct weft__m *m;
	struct weft__task *t = cur_task(&m);

	if (!t)
		return;
	if (t->rdepth == 0)
		weft__fatal("weft_trace_region_end in task %llu, which has no region open",
			    (unsigned long long)t->id);
	t->rdepth--;
	WEFT__TRACE(weft__trace_p(m), REGION_END, 1, t->id, 0, 0);
}

WEFT_API void weft_trace_log(const char *category, const char *fmt, ...)
{
	struct weft__m *m;
	struct weft__task *t;
	char msg[WEFT_TRACE_MAX_STR + 1];
	va_list ap;
	int n;

	if (!atomic_load_explicit(&weft__trace_on, memory_order_relaxed))
		return; /* no formatting when off */
	t = cur_task(&m);
	va_start(ap, fmt);
	n = fmt ? vsnprintf(msg, sizeof(msg), fmt, ap) : 0;
	va_end(ap);
	if (n < 0)
		n = 0;
	uint64_t a[2] = { t ? t->id : 0, t ? t->utask : 0 };
	const char *str[2] = { category ? category : "", msg };
	size_t len[2] = { cut(category), (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1 };
	trace_ev_str(weft__trace_p(m), WEFT_TF_EV_LOG, 2, a, 2, str, len);
}

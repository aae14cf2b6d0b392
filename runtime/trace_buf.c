/*
 * trace_buf.c - the trace writer's buffers: a pool under the memory cap
 * (WEFT_TRACE_MAX_MEM), rotation of a full buffer to the flusher, and the
 * out-of-line emit path for events without a P, with strings, or that
 * fill a buffer. The design is in trace.c's essay ("Flushing").
 *
 * Rejected: dropping events at the cap (the program waits and the wait is
 * recorded as STALL instead: a trace with holes is worse than a slower
 * program); a lock-free global ring (see trace.c).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "trace_emit.h"
#include "trace_writer.h"

/* ---- buffers ---------------------------------------------------------------- */

void weft__tbuf_reset(struct weft__tbuf *b, int kind, int stream_kind, uint32_t id)
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
	b->f_len = 0;
	b->f_tick = b->f_task = 0;
}

static int stream_of(const struct weft__tbuf *b)
{
	return b->stream_kind == WEFT_TF_STREAM_P ? (int)b->stream_id : WEFT__TSTREAM_GLOBAL;
}

/*
 * @b (fresh from weft__tbuf_reset) becomes the buffer its stream fills:
 * in *@slot for the emitters, and in the session's cur[] for the writer.
 * The release orders b's reset before the writer's acquire of cur[]
 * (trace_flush.c).
 */
void weft__tbuf_publish(struct weft__tbuf **slot, struct weft__tbuf *b)
{
	int s = stream_of(b);

	b->seq = weft__tsess.bseq[s]++;
	*slot = b;
	atomic_store_explicit(&weft__tsess.cur[s], b, memory_order_release);
}

/* The stream of *@slot stops (trace stop): the writer forgets its buffer. */
void weft__tbuf_unpublish(struct weft__tbuf **slot)
{
	atomic_store_explicit(&weft__tsess.cur[stream_of(*slot)], NULL, memory_order_release);
	*slot = NULL;
}

/* A buffer from the pool, or a new one under the cap. NULL: at the cap. */
static struct weft__tbuf *buf_try_get(void)
{
	struct weft__tbuf *b = NULL;

	pthread_mutex_lock(&weft__tsess.pool_lock);
	if ((b = weft__tsess.pool)) {
		weft__tsess.pool = b->next;
	} else if (weft__tsess.nbufs < weft__tsess.max_bufs) {
		weft__tsess.nbufs++;
		pthread_mutex_unlock(&weft__tsess.pool_lock);
		b = malloc(sizeof(*b));
		if (!b) {
			pthread_mutex_lock(&weft__tsess.pool_lock);
			weft__tsess.nbufs--;
			pthread_mutex_unlock(&weft__tsess.pool_lock);
		}
		return b;
	}
	pthread_mutex_unlock(&weft__tsess.pool_lock);
	return b;
}

void weft__tbuf_put(struct weft__tbuf *b)
{
	pthread_mutex_lock(&weft__tsess.pool_lock);
	b->next = weft__tsess.pool;
	weft__tsess.pool = b;
	pthread_mutex_unlock(&weft__tsess.pool_lock);
	atomic_store(&weft__tsess.pool_note, 1);
	weft__futex_wake(&weft__tsess.pool_note, 1);
}

void weft__tbuf_enqueue(struct weft__tbuf *b)
{
	WEFT__TSAN_RELEASE(b);
	cds_wfcq_enqueue(&weft__tsess.q_head, &weft__tsess.q_tail, &b->node);
	atomic_store(&weft__tsess.q_note, 1);
	weft__futex_wake(&weft__tsess.q_note, 1);
}

/* A fresh buffer, waiting for the flusher at the cap; *@stalled: ns waited. */
struct weft__tbuf *weft__tbuf_get(int64_t *stalled)
{
	struct weft__tbuf *b;
	int64_t t0 = 0;

	*stalled = 0;
	while (!(b = buf_try_get())) {
		if (!t0)
			t0 = weft__nanotime();
		atomic_store(&weft__tsess.pool_note, 0);
		if ((b = buf_try_get()))
			break;
		weft__futex_wait(&weft__tsess.pool_note, 0, 1000000);
	}
	if (t0)
		*stalled = weft__nanotime() - t0;
	return b;
}

/* Encode an event at the end of @b; the byte after it (not published). */
static inline uint8_t *ev_put(struct weft__tbuf *b, uint64_t now, int type, int nargs,
			      const uint64_t *a)
{
	if (b->nev == 0)
		b->t_first = b->t_prev = now;
	uint8_t *q = weft_tf_put_event(b->data + b->len, type, now - b->t_prev, nargs, a,
				       &b->last_task);
	b->t_prev = now;
	b->nev++;
	return q;
}

static inline void ev_write(struct weft__tbuf *b, uint64_t now, int type, int nargs,
			    const uint64_t *a)
{
	weft__tbuf_publish_len(b, (size_t)(ev_put(b, now, type, nargs, a) - b->data));
}

/* An event with strings (user annotations): each is a length and bytes;
 * published whole. */
static void ev_write_str(struct weft__tbuf *b, uint64_t now, int type, int nargs,
			 const uint64_t *a, int nstr, const char *const *str, const size_t *len)
{
	uint8_t *p = ev_put(b, now, type, nargs, a);

	for (int i = 0; i < nstr; i++) {
		p = weft_tf_put_uvarint(p, len[i]);
		memcpy(p, str[i], len[i]);
		p += len[i];
	}
	weft__tbuf_publish_len(b, (size_t)(p - b->data));
}

/*
 * Hand @*slot to the flusher and put a fresh buffer in its place. The
 * new one is published before the old one is queued: so the flusher,
 * which recycles only what it dequeued, never finds a buffer it has
 * recycled in cur[] (trace_flush.c, "The writer").
 */
static void rotate(struct weft__tbuf **slot)
{
	struct weft__tbuf *old = *slot, *b;
	int kind = old->stream_kind;
	uint32_t id = old->stream_id;
	int64_t stalled;

	b = weft__tbuf_get(&stalled);
	weft__tbuf_reset(b, WEFT_TF_CHUNK_EVENTS, kind, id);
	weft__tbuf_publish(slot, b);
	weft__tbuf_enqueue(old); /* the flusher owns it from here: no more reads */
	if (stalled) {
		uint64_t a = (uint64_t)stalled;
		ev_write(b, weft__trace_ticks(), WEFT_TEV_STALL, 1, &a);
	}
}

void weft__trace_ev(struct weft__p *p, int type, int nargs, uint64_t a0, uint64_t a1,
		    uint64_t a2, uint64_t a3, uint64_t a4)
{
	uint64_t a[5] = { a0, a1, a2, a3, a4 };

	/* Another P's buffer: the snapshot of install (world stopped). */
	WEFT__ASSERT(!p || weft__owns(p) || weft__world_stopped());
	if (p && p->tbuf) {
		struct weft__tbuf *b = p->tbuf;
		if (__builtin_expect(b->len + EV_MAX > BUF_SIZE, 0)) {
			rotate(&p->tbuf);
			b = p->tbuf;
		}
		weft__trace_keys(p, b, type, a);
		ev_write(b, weft__trace_ticks(), type, nargs, a);
		return;
	}
	pthread_mutex_lock(&weft__tglob.lock);
	if (weft__tglob.buf) {
		if (weft__tglob.buf->len + EV_MAX > BUF_SIZE)
			rotate(&weft__tglob.buf);
		weft__trace_keys(NULL, weft__tglob.buf, type, a);
		ev_write(weft__tglob.buf, weft__trace_ticks(), type, nargs, a);
	}
	pthread_mutex_unlock(&weft__tglob.lock);
}

/* An event with strings, on the P the caller owns or the global buffer. */
void weft__trace_ev_str(struct weft__p *p, int type, int nargs, const uint64_t *a, int nstr,
			 const char *const *str, const size_t *len)
{
	WEFT__ASSERT(!p || weft__owns(p));
	if (p && p->tbuf) {
		if (p->tbuf->len + EV_STR_MAX > BUF_SIZE)
			rotate(&p->tbuf);
		ev_write_str(p->tbuf, weft__trace_ticks(), type, nargs, a, nstr, str, len);
		return;
	}
	pthread_mutex_lock(&weft__tglob.lock);
	if (weft__tglob.buf) {
		if (weft__tglob.buf->len + EV_STR_MAX > BUF_SIZE)
			rotate(&weft__tglob.buf);
		ev_write_str(weft__tglob.buf, weft__trace_ticks(), type, nargs, a, nstr, str, len);
	}
	pthread_mutex_unlock(&weft__tglob.lock);
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
	d = (int64_t)((uintptr_t)addr - weft__tsess.code_base);
	return (((uint64_t)d << 1) ^ (uint64_t)(d >> 63)) + 1;
}

const void *weft__trace_code_addr(uint64_t key)
{
	uint64_t z = key - 1;
	int64_t d = (int64_t)(z >> 1) ^ -(int64_t)(z & 1);

	return (const void *)(weft__tsess.code_base + (uintptr_t)d);
}



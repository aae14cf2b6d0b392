/*
 * decode.c - decoding: up to a batch of events of one stream at a time,
 * in one tight loop, checked against the traits of each type
 * (common/trace_format.h); a bad event fails only when it heads a batch,
 * so the events before it are returned first.
 *
 * Rejected: see reader.c (per-event decoding, a branch-free varint
 * decoder, decoding in the helper).
 */
#include "internal.h"

/* ---- decoding ------------------------------------------------------------------ */

/* Per type byte, its argument and string counts and what it does to a task
 * are weft_tf_traits[] (common/trace_format.h). */

/* weft_tf_uvarint, with no bound check per byte when 10 bytes are left. */
static inline const uint8_t *uvarint(const uint8_t *p, const uint8_t *end, uint64_t *v)
{
	if (__builtin_expect(p < end && *p < 0x80, 1)) { /* most: deltas, small ids */
		*v = *p;
		return p + 1;
	}
	if (__builtin_expect(end - p >= 10, 1)) {
		uint64_t x = 0;
		for (int i = 0; i < 10; i++) {
			uint64_t c = p[i];
			x |= (c & 0x7f) << (7 * i);
			if (c < 0x80) {
				*v = x;
				return p + i + 1;
			}
		}
		return NULL;
	}
	return weft_tf_uvarint(p, end, v);
}

/* Load the next chunk of @s. 1, 0 at the stream's end, or a negative errno. */
static int next_chunk(weft_tr *t, struct stream *s)
{
	while (s->left == 0) {
		if (s->next == s->n)
			return 0;
		size_t k = s->next++;
		struct chunk_ref *c = &s->chunks[k];
		int err = s->asked ? weft__tr_take_ahead(t, s, k)
				   : weft__tr_load(t, c->off, c->zsize, c->rawsize, s->raw);
		if (err < 0)
			return err;
		/* The old buffer is free: its last events were decoded. */
		if (t->helper && s->spare && s->next < s->n)
			weft__tr_ask_ahead(t, s, s->next);
		s->rawlen = c->rawsize;
		s->pos = 0;
		s->left = c->nev;
		s->tick = c->t_first;
		s->last_task = 0;
		s->chunk_off = c->off;
		if (c->nev == 0 && c->rawsize != 0)
			return weft__tr_fail(t, -EPROTO, c->off, "an empty chunk with %u bytes", c->rawsize);
	}
	return 1;
}

enum { BAD_END, BAD_TYPE, BAD_TICK, BAD_ARGS, BAD_STR, BAD_TASK0, BAD_NO_P, BAD_STATE, BAD_TAIL };

static __attribute__((noinline, cold)) int bad_event(weft_tr *t, const struct stream *s,
						     int why, size_t at, int type,
						     const uint64_t *args)
{
	const char *name = weft_tr_event_name(type);
	unsigned long long id = args[0];

	switch (why) {
	case BAD_END:
		return weft__tr_fail(t, -EPROTO, s->chunk_off, "chunk ends %u events early", s->left);
	case BAD_TYPE:
		return weft__tr_fail(t, -EPROTO, s->chunk_off, "unknown event type %d at byte %zu of the chunk",
			    type, at);
	case BAD_TICK:
		return weft__tr_fail(t, -EPROTO, s->chunk_off, "truncated timestamp at byte %zu of the chunk",
			    at);
	case BAD_ARGS:
		return weft__tr_fail(t, -EPROTO, s->chunk_off, "truncated %s event at byte %zu of the chunk",
			    name, at);
	case BAD_STR:
		return weft__tr_fail(t, -EPROTO, s->chunk_off,
			    "bad string in a %s event at byte %zu of the chunk", name, at);
	case BAD_TASK0:
		return weft__tr_fail(t, -EPROTO, s->chunk_off, "%s of task 0 at byte %zu of the chunk", name,
			    at);
	case BAD_NO_P:
		return weft__tr_fail(t, -EPROTO, s->chunk_off, "task %llu: %s without a P (byte %zu of the chunk)",
			    id, name, at);
	case BAD_STATE:
		return weft__tr_fail(t, -EPROTO, s->chunk_off,
			    "task %llu: TASK_STATE with state %llu (byte %zu of the chunk)", id,
			    (unsigned long long)args[1], at);
	default:
		return weft__tr_fail(t, -EPROTO, s->chunk_off,
			    "bytes after the chunk's last event (a %s at byte %zu)", name, at);
	}
}

/*
 * Decode the next events of @s into its batch (loading a chunk if needed),
 * in one tight loop: up to BATCH, within one chunk, up to the first bad
 * one. A bad event fails only when it comes first in a batch, so that the
 * events before it are returned first. Returns 1, 0 at the stream's end,
 * how many events it decoded, 0 at the stream's end, or a negative errno.
 */
int weft__tr_fill(weft_tr *t, struct stream *s)
{
	int r;

	if (s->left == 0 && (r = next_chunk(t, s)) <= 0)
		return r;
	const uint8_t *base = s->raw, *p = base + s->pos, *end = base + s->rawlen;
	uint64_t tick = s->tick, last = s->last_task;
	unsigned k = 0, max = s->left < BATCH ? s->left : BATCH;
	int why, type = 0, no_p = s->p == GLOBAL ? WEFT_TF_P : 0;
	int delta = t->delta_ids ? WEFT_TF_TASK : 0;

	for (; k < max; k++) {
		struct bev *b = &s->batch[k];
		const uint8_t *q = p;
		uint64_t d;
		if (__builtin_expect(q >= end, 0)) {
			why = BAD_END;
			goto bad;
		}
		type = *q;
		const struct weft_tf_traits *tr = &weft_tf_traits[type];
		int f = tr->flags, n = tr->nargs, nstr = tr->nstr;
		if (__builtin_expect(!tr->valid, 0)) {
			why = BAD_TYPE;
			goto bad;
		}
		if (__builtin_expect(!(q = uvarint(q + 1, end, &d)), 0)) {
			why = BAD_TICK;
			goto bad;
		}
		for (int i = 0; i < WEFT_TRACE_MAX_ARGS; i++)
			b->args[i] = 0;
		for (int i = 0; i < n; i++)
			if (__builtin_expect(!(q = uvarint(q, end, &b->args[i])), 0)) {
				why = BAD_ARGS;
				goto bad;
			}
		if (f & delta)
			b->args[0] = weft_tf_unzigzag(b->args[0], last);
		b->str_pos = (uint32_t)(q - base);
		for (int i = 0; i < nstr; i++) {
			uint64_t sl;
			if (!(q = uvarint(q, end, &sl)) || sl > WEFT_TRACE_MAX_STR ||
			    sl > (uint64_t)(end - q)) {
				why = BAD_STR;
				goto bad;
			}
			q += sl;
		}
		/* One branch for the rare cases (their conditions depend on the type,
		 * which would make separate branches mispredict). */
		if (__builtin_expect(((f & WEFT_TF_TASK) && b->args[0] == 0) | (f & no_p) |
					     (type == WEFT_TEV_TASK_STATE) | (k + 1 == s->left),
				     0)) {
			if ((f & WEFT_TF_TASK) && b->args[0] == 0)
				why = BAD_TASK0;
			else if (f & no_p)
				why = BAD_NO_P;
			else if (type == WEFT_TEV_TASK_STATE &&
				 (b->args[1] < WEFT_TRACE_STATE_RUNNABLE ||
				  b->args[1] > WEFT_TRACE_STATE_SYSCALL))
				why = BAD_STATE;
			else if (k + 1 == s->left && q != end)
				why = BAD_TAIL;
			else
				goto good;
			goto bad;
		}
	good:
		if (f & delta)
			last = b->args[0];
		tick += d;
		b->tick = tick;
		b->type = (uint8_t)type;
		b->ev_pos = (uint32_t)(p - base);
		p = q;
	}
done:
	s->pos = (size_t)(p - base);
	s->tick = tick;
	s->last_task = last;
	s->left -= k;
	return (int)k;
bad:
	if (k > 0)
		goto done; /* it heads the next batch */
	return bad_event(t, s, why, (size_t)(p - base), type, s->batch[0].args);
}

/* The strings of @b (its stream's chunk is still loaded) into s->str and @ev. */
void weft__tr_strings(struct stream *s, const struct bev *b, weft_tr_event *ev)
{
	const uint8_t *p = s->raw + b->str_pos, *end = s->raw + s->rawlen;

	for (int i = 0; i < weft_tf_traits[b->type].nstr; i++) {
		uint64_t sl = 0;
		p = uvarint(p, end, &sl); /* checked by weft__tr_fill() */
		memcpy(s->str[i], p, sl);
		s->str[i][sl] = 0;
		ev->str[i] = s->str[i];
		ev->strlen[i] = (uint32_t)sl;
		p += sl;
	}
}



/*
 * order.c - the causal order: the live tasks, their state machine (the
 * traits' transitions), and the merge of the streams' heads by time that
 * takes a head only when its task is ready for it (the "frontier").
 * weft_tr_next() is here, with check() and apply() inlined into it.
 *
 * Rejected: see reader.c (ordering by sequence numbers alone, failing at
 * once on a head not ready, keeping every task ever seen).
 */
#include "internal.h"

/* ---- live tasks --------------------------------------------------------------- */

static size_t task_slot(const weft_tr *t, uint64_t id)
{
	/* Runs of 16 ids share a group of slots: ids are handed out in order,
	 * and tasks are mostly created, started and ended in that order. */
	return (size_t)(((id >> 4) * 0x9E3779B97F4A7C15ULL) >> (t->task_shift + 4)) << 4 |
	       (size_t)(id & 15);
}

/* The entry of task @id, or the empty slot where it would go (id 0). */
static inline struct task *task_find(const weft_tr *t, uint64_t id)
{
	size_t mask = t->task_cap - 1;

	for (size_t j = task_slot(t, id);; j = (j + 1) & mask)
		if (t->tasks[j].id == id || !t->tasks[j].id)
			return &t->tasks[j];
}

static int task_grow(weft_tr *t)
{
	size_t cap = t->task_cap * 2;
	struct task *old = t->tasks, *nt = calloc(cap, sizeof(*nt));
	size_t oldcap = t->task_cap;

	if (!nt)
		return -ENOMEM;
	t->tasks = nt;
	t->task_cap = cap;
	t->task_shift--;
	for (size_t i = 0; i < oldcap; i++) {
		if (!old[i].id)
			continue;
		size_t j = task_slot(t, old[i].id);
		while (nt[j].id)
			j = (j + 1) & (cap - 1);
		nt[j] = old[i];
	}
	free(old);
	return 0;
}

/* A new entry for @id in @slot, its empty slot from task_find(). NULL: out of memory. */
static struct task *task_add(weft_tr *t, struct task *slot, uint64_t id)
{
	if (2 * (t->ntasks + 1) > t->task_cap) {
		if (task_grow(t) < 0)
			return NULL;
		slot = task_find(t, id);
	}
	t->ntasks++;
	*slot = (struct task){ .id = id, .p = -1, .last = NO_STREAM };
	return slot;
}

/* Remove @x, shifting back the entries its slot displaced (no tombstones). */
static void task_del(weft_tr *t, struct task *x)
{
	size_t mask = t->task_cap - 1, i = (size_t)(x - t->tasks), j = i;

	for (;;) {
		j = (j + 1) & mask;
		if (!t->tasks[j].id)
			break;
		size_t home = task_slot(t, t->tasks[j].id);
		/* Move j into the hole at i unless its home lies in (i, j]. */
		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			t->tasks[i] = t->tasks[j];
			i = j;
		}
	}
	t->tasks[i].id = 0;
	t->ntasks--;
}

/* ---- the state machine ----------------------------------------------------------- */

/*
 * The task state machine is the traits' (from, to, flags, seq), in
 * WEFT_TF_TRAITS of common/trace_format.h, shared with the writer and the
 * tools; its table in words is there too. A task not known (id 0 in its
 * slot) may do anything.
 */
/* The seq of a numbered event of @x on @p: RDY_OK and *@seq, or why not yet. */
static inline int seq_of(const struct task *x, int p, uint64_t arg, uint64_t *seq)
{
	if (!x->seq_known) {
		*seq = arg; /* 0: not known */
		return RDY_OK;
	}
	if (arg == 0) {
		*seq = x->seq + 1;
		return x->last == p ? RDY_OK : RDY_SEQ0;
	}
	*seq = arg;
	return arg == x->seq + 1 ? RDY_OK : RDY_SEQ;
}

/*
 * Whether @b, the head of a stream of P @p, may be returned now (RDY_OK)
 * or why not. *@xp: its task's slot (id 0: unknown; NULL: not an event
 * that moves a task); *@seq: the resolved sequence number of a numbered
 * event.
 */
static inline __attribute__((always_inline)) int check(const weft_tr *t, const struct bev *b,
							int p, struct task **xp, uint64_t *seq)
{
	const struct weft_tf_traits *r = &weft_tf_traits[b->type];
	struct task *x;

	*xp = NULL;
	if (!r->from)
		return RDY_OK;
	*xp = x = task_find(t, b->args[0]);
	if (!x->id) {
		*seq = b->args[r->seq]; /* numbered: as it comes (0: not known) */
		return RDY_OK;
	}
	if (__builtin_expect(!(r->from & WEFT_TF_SBIT(x->state)) ||
				     ((r->flags & WEFT_TF_ON_P) && x->p != p && x->p >= 0),
			     0))
		return RDY_STATE;
	return r->seq ? seq_of(x, p, b->args[r->seq], seq) : RDY_OK;
}

/* check(), out of line for the rare paths. */
static __attribute__((noinline)) int check_slow(const weft_tr *t, const struct bev *b, int p,
						struct task **xp, uint64_t *seq)
{
	return check(t, b, p, xp, seq);
}

/*
 * Apply the event @type with arguments @args (check() said RDY_OK) of
 * stream @s to its task's slot @x; a resolved seq goes into @args.
 */
static inline int apply(weft_tr *t, struct stream *s, int type, uint64_t *args,
			struct task *x, uint64_t seq)
{
	const struct weft_tf_traits *r = &weft_tf_traits[type];
	int p = s->p;

	if (!r->from)
		return 0;
	if (r->flags & WEFT_TF_DEL) {
		if (x->id)
			task_del(t, x);
		return 0;
	}
	if (!x->id && !(x = task_add(t, x, args[0])))
		return weft__tr_fail(t, -ENOMEM, s->chunk_off, "out of memory for the task table");
	x->state = r->to;
	if (r->flags & WEFT_TF_SET_P)
		x->p = p;
	if (r->seq) {
		x->seq = seq;
		x->seq_known = seq != 0;
		x->last = p;
		args[r->seq] = seq;
	} else if (__builtin_expect(r->flags & (WEFT_TF_NEW | WEFT_TF_SNAP | WEFT_TF_EXIT), 0)) {
		if (r->flags & WEFT_TF_EXIT) {
			if (p == GLOBAL)
				x->state = WEFT_TF_T_RUNNABLE;
		} else if (r->flags & WEFT_TF_NEW) {
			x->seq = 0;
			x->seq_known = true;
			x->last = p;
		} else {
			x->state = (uint8_t)args[1]; /* enum weft_trace_state = enum weft_tf_tstate */
			x->seq = args[4];
			x->seq_known = true;
			/* As the writer (snap_task): the task's next numbered event may
			 * be relative to the snapshot when it is on the global stream,
			 * wherever the snapshot was recorded. */
			x->last = GLOBAL;
		}
	}
	return 0;
}

static const char *where(int p, char *buf, size_t n)
{
	if (p < 0)
		snprintf(buf, n, "without a P");
	else
		snprintf(buf, n, "on P%d", p);
	return buf;
}

/* Fail: no head is ready; @b of @s is the earliest, not ready for @why. */
static int not_ready(weft_tr *t, const struct stream *s, const struct bev *b,
		     const struct task *x, int why)
{
	const char *name = weft_tr_event_name(b->type);
	unsigned long long id = b->args[0];
	char here[32], state[48], there[32];

	where(s->p, here, sizeof(here));
	switch (x->state) {
	case WEFT_TF_T_RUNNABLE: snprintf(state, sizeof(state), "runnable"); break;
	case WEFT_TF_T_RUNNING:
		snprintf(state, sizeof(state), "running %s",
			 x->p < 0 ? "(P not known)" : where(x->p, there, sizeof(there)));
		break;
	case WEFT_TF_T_BLOCKED: snprintf(state, sizeof(state), "blocked"); break;
	default: snprintf(state, sizeof(state), "in a syscall"); break;
	}
	switch (why) {
	case RDY_SEQ:
		return weft__tr_fail(t, -EPROTO, s->chunk_off,
			    "task %llu: %s %s with seq %llu after seq %llu (event at byte %u of "
			    "the chunk; no stream can make progress)",
			    id, name, here,
			    (unsigned long long)b->args[b->type == WEFT_TEV_TASK_START ? 1 : 2],
			    (unsigned long long)x->seq, b->ev_pos);
	case RDY_SEQ0:
		return weft__tr_fail(t, -EPROTO, s->chunk_off,
			    "task %llu: %s %s with seq 0 (same stream), but its last numbered "
			    "event was %s (event at byte %u of the chunk)",
			    id, name, here,
			    x->last == NO_STREAM ? "not seen" : where(x->last, there, sizeof(there)),
			    b->ev_pos);
	default:
		return weft__tr_fail(t, -EPROTO, s->chunk_off,
			    "task %llu: %s %s while %s (event at byte %u of the chunk; no stream "
			    "can make progress)",
			    id, name, here, state, b->ev_pos);
	}
}

/* ---- merging --------------------------------------------------------------------- */

static inline bool before(const struct hent *a, const struct hent *b)
{
	return a->tick < b->tick || (a->tick == b->tick && a->s < b->s);
}

static inline void swap(struct hent *a, struct hent *b)
{
	struct hent tmp = *a;

	*a = *b;
	*b = tmp;
}

/*
 * The heap is restored by comparing in place and swapping only when out of
 * order: the entry at @i was just written field by field, and reading it
 * back whole would stall on store forwarding.
 */
static inline void sift_down(weft_tr *t, size_t i)
{
	struct hent *h = t->heap;

	for (;;) {
		size_t l = 2 * i + 1, m;
		if (l >= t->nheap)
			return;
		m = l + 1 < t->nheap && before(&h[l + 1], &h[l]) ? l + 1 : l;
		if (!before(&h[m], &h[i]))
			return;
		swap(&h[i], &h[m]);
		i = m;
	}
}

static void sift_up(weft_tr *t, size_t i)
{
	struct hent *h = t->heap;

	while (i > 0) {
		size_t up = (i - 1) / 2;
		if (!before(&h[i], &h[up]))
			return;
		swap(&h[i], &h[up]);
		i = up;
	}
}

/* Move the stream at heap position @pos to its next head and restore the heap. */
static inline int refill(weft_tr *t, size_t pos)
{
	struct hent *h = &t->heap[pos];
	uint64_t old = h->tick;

	if (__builtin_expect(++h->b == h->end, 0)) {
		int r = weft__tr_fill(t, &t->streams[h->s]);
		if (r < 0)
			return r;
		if (r == 0) {
			*h = t->heap[--t->nheap];
			if (pos == t->nheap)
				return 0;
			sift_up(t, pos);
			sift_down(t, pos);
			return 0;
		}
		h->b = t->streams[h->s].batch;
		h->end = h->b + r;
	}
	h->tick = h->b->tick;
	if (__builtin_expect(h->tick < old, 0)) /* a corrupt stream went back */
		sift_up(t, pos);
	else
		sift_down(t, pos);
	return 0;
}

/* Decode the first events of every stream and build the heap. */
static int start(weft_tr *t)
{
	for (size_t i = 0; i < t->nstreams; i++) {
		struct stream *s = &t->streams[i];
		int r = weft__tr_fill(t, s);
		if (r < 0)
			return r;
		if (r > 0)
			t->heap[t->nheap++] = (struct hent){ s->batch[0].tick, s->batch,
							     s->batch + r, (uint32_t)i, s->p };
	}
	for (size_t i = t->nheap / 2 + 1; i-- > 0;)
		sift_down(t, i);
	return 0;
}

/*
 * The earliest head is not ready: find the earliest that is among the
 * others. If none is, take the earliest anyway in a lossy trace, forgetting
 * its task (what it waits for may be lost), or fail. Returns the heap
 * position, or a negative errno.
 */
static __attribute__((noinline)) long frontier(weft_tr *t, struct task **xp, uint64_t *seq)
{
	struct hent *h0 = &t->heap[0];
	long pos = -1;
	int why;

	for (size_t i = 1; i < t->nheap; i++) {
		struct hent *h = &t->heap[i];
		struct task *y;
		uint64_t sq = 0;
		if (pos >= 0 && !before(h, &t->heap[pos]))
			continue;
		if (check_slow(t, h->b, h->p, &y, &sq) == RDY_OK) {
			pos = (long)i;
			*xp = y;
			*seq = sq;
		}
	}
	if (pos >= 0)
		return pos;
	why = check_slow(t, h0->b, h0->p, xp, seq);
	if (!t->lossy)
		return not_ready(t, &t->streams[h0->s], h0->b, *xp, why);
	task_del(t, *xp);
	check_slow(t, h0->b, h0->p, xp, seq); /* an unknown task is always ready */
	return 0;
}

int weft_tr_next(weft_tr *t, weft_tr_event *ev)
{
	struct task *x;
	uint64_t seq = 0;
	long pos = 0;
	int r;

	if (__builtin_expect(t->failed, 0))
		return t->err;
	if (t->taken >= 0) {
		size_t tp = (size_t)t->taken;
		t->taken = -1;
		if ((r = refill(t, tp)) < 0)
			return r;
	} else if (__builtin_expect(t->taken == NOT_STARTED, 0)) {
		t->taken = -1;
		if ((r = start(t)) < 0)
			return r;
	}
	if (__builtin_expect(t->nheap == 0, 0)) {
		if (t->truncated_at)
			return weft__tr_fail(t, -EPIPE, t->truncated_at,
				    "the file ends inside the chunk that starts here (the file is "
				    "%llu bytes): it was cut short",
				    (unsigned long long)t->size);
		if (t->whole_len)
			return weft__tr_fail(t, -EPIPE, t->size,
				    "the file ends after %llu bytes, its header says %llu: it was "
				    "cut short between two chunks",
				    (unsigned long long)t->size, (unsigned long long)t->whole_len);
		return 0;
	}
	struct hent *h = &t->heap[0];
	if (__builtin_expect(check(t, h->b, h->p, &x, &seq) != RDY_OK, 0)) {
		if ((pos = frontier(t, &x, &seq)) < 0)
			return (int)pos;
		h = &t->heap[pos];
	}
	const struct bev *b = h->b;
	struct stream *s = &t->streams[h->s];
	ev->type = b->type;
	ev->p = h->p;
	ev->offset = s->chunk_off;
	memcpy(ev->args, b->args, sizeof(ev->args));
	if ((r = apply(t, s, b->type, ev->args, x, seq)) < 0)
		return r;
	ev->str[0] = ev->str[1] = NULL;
	ev->strlen[0] = ev->strlen[1] = 0;
	if (__builtin_expect(weft_tf_traits[b->type].nstr, 0))
		weft__tr_strings(s, b, ev);
	ev->ts = to_ns(t, b->tick);
	if (ev->ts < t->last_ts)
		ev->ts = t->last_ts; /* taken ahead of an earlier-stamped head */
	t->last_ts = ev->ts;
	t->taken = pos;
	return 1;
}


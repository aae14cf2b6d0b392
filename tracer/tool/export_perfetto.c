/*
 * export_perfetto.c - weft-trace export --format perfetto (the default):
 * the trace as Perfetto's own protobuf trace (a `Trace`: repeated
 * `TracePacket`, each with one TrackEvent), which ui.perfetto.dev and
 * trace_processor open gzip'd or not. Written with pb.h, no library, as
 * the reader reads: on bench-tool's 10 M-event trace, 26 bytes an event,
 * 3.7 gzip'd (JSON: 155), so it opens where the JSON does not.
 *
 * Layout (tracks, all under one process track "weft pid N" whose children
 * are ordered explicitly - TrackDescriptor.child_ordering EXPLICIT and a
 * sibling_order_rank on each child -, because Perfetto ignores the sort
 * indices of JSON and would order "P10" before "P2"):
 *   P0, P1, ...   a track per P, in P order: a slice per run of a task,
 *                 named by its entry function (interned), the task id as
 *                 the debug annotation "task", how the run ended as "end"
 *                 ("yield", "block: chan receive at file.c:12 fn", "syscall
 *                 at ...", "end", "lost", "trace end") on its SLICE_END
 *                 (the importer merges an END's args into the slice's);
 *                 the user's regions as slices nested in the runs (a piece
 *                 per run, as the chrome export does); logs, and the
 *                 "spawn" and "wake" markers, as instant events (the
 *                 marker names no task: its arrow leads to the run);
 *   stop-the-world, wakeups (timers, threads: unblocks by no running task);
 *   counters      tasks runnable, running, in a syscall, and "Ps spinning":
 *                 Ps held by a thread with no task (the model's SCHED and
 *                 SEARCH time). The trace has no event for a spinning M:
 *                 a worker looking for work is only seen as its P being
 *                 held without a task, so that is what the counter shows;
 *   threads (M)   a track per M with its syscalls;
 *   user tasks    a track per user task (weft_trace_task_begin), one slice.
 *
 * Streaming. Packets are written when the events happen: a run's
 * SLICE_BEGIN at its start, its SLICE_END at its end, so memory is the
 * model plus the open regions, syscalls, user tasks and the intern tables
 * (capped: past INTERN_MAX strings a sequence writes names inline).
 *
 * Sequences. A sequence (trusted_packet_sequence_id) per P (16 + p), one
 * for the counters, one for the Ms' syscalls, one global (stop-the-world,
 * wakeups, user tasks, logs without a P). Each begins with a packet that
 * clears the incremental state and holds its defaults (clock 64, the
 * sequence's default track, the counter sequence's extra counter tracks)
 * and a ClockSnapshot tying the sequence-scoped incremental clock 64 to
 * BOOTTIME at its first timestamp; every later packet carries the
 * nanoseconds since the sequence's previous packet, and no flags: the
 * SEQ_NEEDS_INCREMENTAL_STATE flag only lets an importer skip packets
 * whose incremental state a writer lost, which a file written whole never
 * has, and trace_processor resolves interned names without it, so it
 * would cost 2 bytes a packet (8% of the file) for nothing. Names, annotation
 * keys and string values are interned per sequence, each defined in the
 * interned_data of the first packet that uses it. Every timestamp written
 * is the time of the event being applied (or the window's edges), which
 * never decreases; emit() still clamps each sequence to its last time, so
 * no sequence's clock can go back whatever the model reports.
 *
 * Flows. A create or an unblock (in the window) writes an INSTANT marker,
 * "spawn" or "wake", with a new flow id in flow_ids, inside the running
 * task's slice on its P (or on the wakeups track), and remembers the id
 * in the woken task's model entry (mtask.aux); the task's next run starts
 * with that id in terminating_flow_ids. A run that wakes ten tasks has
 * ten markers, ten arrows. The marker must be written at its time (a
 * sequence cannot go back), before we know whether the task will ever
 * run again, so a streaming writer cannot drop an unmatched source after
 * the fact; instead no id is ever left open: a task still waiting when
 * the trace (or the window) ends has its flow terminated there by an
 * instant "not run before the end" naming the task on the wakeups track
 * (the arrow says exactly that: woken, never ran in what was exported;
 * the tasks are the model's live ones, so the list is bounded); a task woken
 * again before it ran has its first flow terminated on the second marker;
 * a task that leaves the model without running again (an anomaly) by an
 * instant "never ran". So every id written has exactly one source and
 * one end, which tests/perfetto_check.py checks.
 *
 * Window (--from/--to): nothing is written before the first event at or
 * after FROM; then the runs, regions, syscalls, user tasks and stops in
 * progress are begun at FROM, and at TO (or the trace's end) everything
 * still open is ended. Flows whose source lies before FROM are not drawn.
 *
 * Rejected: buffering the markers until the woken task runs (a sequence's
 * time cannot go back, so a marker written late needs a sequence of its
 * own per flow, or a buffer as long as the longest wait); dropping flows
 * (they are the point of a scheduler trace); TYPE_STATE tracks for the
 * P's category (a packet per change on every P, about a third more
 * packets, for what the run slices and counters already show); a
 * unit_multiplier_ns above 1 (weft's ticks are not whole nanoseconds, so
 * it would move events, and gzip takes most of what it saves);
 * ThreadDescriptor tracks for the Ms (their order is the UI's own); the
 * task id on the markers (8 bytes on a third of the packets, and the
 * arrow's end names the task); the deprecated varint flow ids (fields 36
 * and 42: 10 bytes less a flow, but kept only for old writers).
 *
 * Cost (bench/RESULTS.md, issue 14): deflate is about half of the time of
 * a gzip'd export, which is why cmd_export.c asks for level 1 and the
 * packets are lean; the encoding itself writes each packet once, its
 * track event built in a small buffer and copied behind the packet's
 * header.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "export.h"
#include "model.h"
#include "pb.h"
#include "pipe.h"
#include "tool.h"
#include "u64map.h"

/* Field numbers of Perfetto's public schema (protos/perfetto/trace/...). */
enum {
	F_TRACE_PACKET = 1,
	/* TracePacket */
	F_TP_TIMESTAMP = 8,
	F_TP_SEQ_ID = 10,
	F_TP_TRACK_EVENT = 11,
	F_TP_INTERNED = 12,
	F_TP_SEQ_FLAGS = 13,
	F_TP_CLOCK_SNAPSHOT = 6,
	F_TP_DEFAULTS = 59,
	F_TP_TRACK_DESCRIPTOR = 60,
	/* TracePacketDefaults */
	F_DEF_CLOCK_ID = 58,
	F_DEF_TRACK_EVENT = 11,
	/* TrackEventDefaults */
	F_TED_TRACK_UUID = 11,
	F_TED_EXTRA_COUNTERS = 31,
	/* ClockSnapshot, Clock */
	F_CS_CLOCKS = 1,
	F_CLK_ID = 1,
	F_CLK_TS = 2,
	F_CLK_INCREMENTAL = 3,
	/* TrackEvent */
	F_TE_ANNOTATION = 4,
	F_TE_TYPE = 9,
	F_TE_NAME_IID = 10,
	F_TE_TRACK_UUID = 11,
	F_TE_EXTRA_VALUES = 12,
	F_TE_NAME = 23,
	F_TE_COUNTER_VALUE = 30,
	F_TE_FLOW_IDS = 47,
	F_TE_TERMINATING_FLOW_IDS = 48,
	/* DebugAnnotation */
	F_DA_NAME_IID = 1,
	F_DA_UINT = 3,
	F_DA_STRING = 6,
	F_DA_STRING_IID = 17,
	/* InternedData; EventName, DebugAnnotationName, InternedString: iid 1, name/str 2 */
	F_IN_EVENT_NAMES = 2,
	F_IN_ANNOTATION_NAMES = 3,
	F_IN_STRING_VALUES = 29,
	/* TrackDescriptor */
	F_TD_UUID = 1,
	F_TD_NAME = 2,
	F_TD_PROCESS = 3,
	F_TD_PARENT = 5,
	F_TD_COUNTER = 8,
	F_TD_CHILD_ORDERING = 11,
	F_TD_RANK = 12,
	F_TD_DESCRIPTION = 14,
	/* ProcessDescriptor */
	F_PD_PID = 1,
	F_PD_NAME = 6,
	/* CounterDescriptor */
	F_CD_UNIT = 3,
};

enum { TE_SLICE_BEGIN = 1, TE_SLICE_END = 2, TE_INSTANT = 3, TE_COUNTER = 4 };
enum { SEQ_CLEARED = 1 };
enum { CLOCK_BOOTTIME = 6, CLOCK_SEQ = 64 };
enum { ORDER_CHRONOLOGICAL = 2, ORDER_EXPLICIT = 3 };
enum { UNIT_COUNT = 2 };

/* Track uuids (global to the trace). */
enum {
	U_PROC = 1,
	U_STW,
	U_WAKE,
	U_C_RUNNABLE,
	U_C_RUNNING,
	U_C_SYSCALL,
	U_C_SPIN,
	U_MS,
	U_UTASKS,
};
#define NCOUNTERS 4
#define U_P(p) (0x1000u + (uint64_t)(p))
#define U_M(m) ((1ull << 62) | (uint32_t)(m))
#define U_UT(id) ((1ull << 63) | (id))
/* Ranks of the process track's children after the Ps (P ranks are p). */
#define RANK_OTHER 100000

/* Sequence ids. */
enum { SEQ_GLOBAL = 1, SEQ_COUNTERS = 2, SEQ_M = 3, SEQ_P0 = 16 };

/* Debug annotation keys: iid k + 1 on every sequence, defined at first use. */
enum { K_TASK, K_END, K_FROM, K_SITE, K_REASON, K_WAIT_NS, K_UTASK, K_PARENT, K_MESSAGE, K_MAX };
static const char *const key_name[K_MAX] = {
	[K_TASK] = "task",   [K_END] = "end",       [K_FROM] = "from",
	[K_SITE] = "site",   [K_REASON] = "reason", [K_WAIT_NS] = "wait_ns",
	[K_UTASK] = "utask", [K_PARENT] = "parent", [K_MESSAGE] = "message",
};

/* Event names of ours: iid n + 1 on every sequence, defined at first use
 * (the strings and functions' names get iids after them). */
enum { N_SPAWN, N_WAKE, N_NOT_RUN, N_NEVER_RAN, N_STW, N_MAX };
static const char *const fixed_name[N_MAX] = {
	[N_SPAWN] = "spawn",
	[N_WAKE] = "wake",
	[N_NOT_RUN] = "not run before the end",
	[N_NEVER_RAN] = "never ran",
	[N_STW] = "stop-the-world",
};

#define INTERN_MAX 65536 /* strings per table and sequence; then inline */
#define MAX_DEPTH 64
#define FLUSH_AT (1u << 20) /* stdio hands writes this big to the gzip layer directly */

static const char *const why_name[] = {
	[WHY_END] = "end",
	[WHY_YIELD] = "yield",
	[WHY_BLOCK] = "block",
	[WHY_SYSCALL] = "syscall",
	[WHY_HANDOFF] = "handoff",
	[WHY_LOST] = "lost",
	[WHY_TRACE_END] = "trace end",
};
static const char *const stw_reason_name[] = { "user", "set_procs", "trace" };

/* An intern table: a key (a string's hash, or a code of ours) -> iid. */
struct ient {
	char *s; /* the string, for hashed keys (to tell collisions apart); else NULL */
	uint32_t iid;
};

struct seq {
	uint32_t id;
	bool started;
	uint64_t last;                       /* the last timestamp written */
	uint64_t track;                      /* the default track (TrackEventDefaults) */
	uint32_t keys;                       /* bit k: key k defined */
	uint32_t fixed;                      /* bit n: name n defined */
	uint32_t why_iid[WHY_TRACE_END + 1]; /* string-value iid of why_name[w], 0 none yet */
	uint32_t next_name;                  /* last event-name iid given */
	uint32_t next_val;                   /* last string-value iid given */
	uint32_t *fn_iid;                    /* model fns index -> event-name iid (0: none yet) */
	size_t nfn;
	struct u64map names; /* hashed strings and codes -> event-name iid */
	struct u64map vals;  /* -> string-value iid */
};

struct region {
	char *name[MAX_DEPTH];
	int depth, lost; /* lost: regions deeper than MAX_DEPTH */
};

struct utask {
	char *name;
	uint64_t parent, task;
};

struct sysc {
	int64_t m;
	bool open; /* its slice was begun */
};

/* The run slice open on a P's track, and how many region slices are open in it. */
struct orun {
	uint64_t task; /* 0: none */
	uint32_t regions;
};

struct ctx {
	FILE *f;
	struct model *m;
	struct tool_trace *tt;
	uint64_t from, to;
	bool live;               /* inside the window: writing */
	const weft_tr_event *ev; /* being applied */
	uint64_t starts_before;  /* m->starts before it */
	struct pb out, te, in;   /* the file's buffer; a packet's track event and interned data */
	struct seq global, counters, ms;
	struct seq **ps; /* by P, made when first used */
	int nps;
	struct orun *open; /* by P: the run slice open on its track */
	int nopen;
	int described_p;           /* P tracks described: [0, described_p) */
	struct u64map described_m; /* M + 1 -> (nothing) */
	struct u64map regions;     /* task -> struct region * */
	struct u64map utasks;      /* utask -> struct utask * */
	struct u64map sysc;        /* task -> struct sysc */
	uint64_t flow_id;
	uint64_t *end_flows; /* flows pending at the end: (id, task) pairs */
	size_t nend_flows, end_flows_cap;
	bool stw;
	uint64_t stw_start;
	int stw_reason;
	uint64_t nsys;
	/* counters: the last values written, and when */
	int64_t cv[NCOUNTERS], pv[NCOUNTERS]; /* written; pending */
	uint64_t c_last, pv_ts;
	bool c_any, c_pending;
};

/* ---- the protobuf bits pb.h does not have ----------------------------------------- */

static inline unsigned vsize(uint64_t v)
{
	unsigned n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

/* A nested message whose length is not known yet, with one byte reserved
 * for it (the messages here are short; a long one is moved up). */
static inline size_t nb_begin(struct pb *b, unsigned field)
{
	pb_tag(b, field, PB_LEN);
	pb_reserve(b, 1);
	return b->len++;
}

static inline void nb_end(struct pb *b, size_t at)
{
	size_t n = b->len - at - 1;
	if (__builtin_expect(n < 0x80, 1)) {
		b->buf[at] = (uint8_t)n;
		return;
	}
	unsigned extra = vsize(n) - 1;
	pb_reserve(b, extra);
	memmove(b->buf + at + 1 + extra, b->buf + at + 1, n);
	b->len += extra;
	uint8_t *p = b->buf + at;
	while (n >= 0x80) {
		*p++ = (uint8_t)(n | 0x80);
		n >>= 7;
	}
	*p = (uint8_t)n;
}

/* A string cut at the first invalid byte is still a string: protobuf
 * strings must be UTF-8, but names come from C programs. We write them as
 * they are (the fields we use for names are `string`; Perfetto takes them
 * as bytes). */
static uint64_t str_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
	return h ? h : 1;
}

/* ---- sequences and packets -------------------------------------------------------- */

static void seq_init(struct seq *s, uint32_t id, uint64_t track)
{
	memset(s, 0, sizeof(*s));
	s->id = id;
	s->track = track;
	s->next_name = N_MAX;
	u64map_init(&s->names, sizeof(struct ient), U64MAP_MIXED);
	u64map_init(&s->vals, sizeof(struct ient), U64MAP_MIXED);
}

static void itab_free(struct u64map *t)
{
	for (size_t i = 0; i < t->cap; i++)
		if (t->keys[i])
			free(((struct ient *)u64map_val(t, i))->s);
	u64map_free(t);
}

static void seq_free(struct seq *s)
{
	free(s->fn_iid);
	itab_free(&s->names);
	itab_free(&s->vals);
}

static void flush_maybe(struct ctx *c)
{
	if (c->out.len >= FLUSH_AT)
		pb_flush(&c->out, c->f);
}

/* The first packet of @s: clears the incremental state, sets the
 * defaults and ties clock 64 to BOOTTIME at @ts. */
static void seq_start(struct ctx *c, struct seq *s, uint64_t ts)
{
	struct pb *b = &c->out;
	size_t pk = nb_begin(b, F_TRACE_PACKET);
	pb_uint(b, F_TP_SEQ_ID, s->id);
	pb_uint(b, F_TP_SEQ_FLAGS, SEQ_CLEARED);
	size_t d = nb_begin(b, F_TP_DEFAULTS);
	pb_uint(b, F_DEF_CLOCK_ID, CLOCK_SEQ);
	size_t ted = nb_begin(b, F_DEF_TRACK_EVENT);
	if (s->track)
		pb_uint(b, F_TED_TRACK_UUID, s->track);
	if (s == &c->counters)
		for (int i = 1; i < NCOUNTERS; i++)
			pb_uint(b, F_TED_EXTRA_COUNTERS, U_C_RUNNABLE + (uint64_t)i);
	nb_end(b, ted);
	nb_end(b, d);
	size_t cs = nb_begin(b, F_TP_CLOCK_SNAPSHOT);
	size_t k = nb_begin(b, F_CS_CLOCKS);
	pb_uint(b, F_CLK_ID, CLOCK_BOOTTIME);
	pb_uint(b, F_CLK_TS, ts);
	nb_end(b, k);
	k = nb_begin(b, F_CS_CLOCKS);
	pb_uint(b, F_CLK_ID, CLOCK_SEQ);
	pb_uint(b, F_CLK_TS, ts);
	pb_uint(b, F_CLK_INCREMENTAL, 1);
	nb_end(b, k);
	nb_end(b, cs);
	nb_end(b, pk);
	s->started = true;
	s->last = ts;
}

static inline uint8_t *put_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

/* Write the packet made of c->te (and c->in) on @s at @ts. */
static void emit(struct ctx *c, struct seq *s, uint64_t ts)
{
	if (ts > c->to)
		ts = c->to;
	if (__builtin_expect(!s->started, 0))
		seq_start(c, s, ts);
	if (ts < s->last)
		ts = s->last;
	uint64_t delta = ts - s->last;
	s->last = ts;
	size_t tel = c->te.len, inl = c->in.len;
	size_t body = 1 + vsize(delta) + 1 + vsize(s->id) + 1 + vsize(tel) + tel;
	if (inl)
		body += 1 + vsize(inl) + inl;
	struct pb *b = &c->out;
	pb_reserve(b, body + 8);
	uint8_t *p = b->buf + b->len;
	*p++ = F_TRACE_PACKET << 3 | PB_LEN;
	p = put_varint(p, body);
	*p++ = F_TP_TIMESTAMP << 3 | PB_VARINT;
	p = put_varint(p, delta);
	*p++ = F_TP_SEQ_ID << 3 | PB_VARINT;
	p = put_varint(p, s->id);
	*p++ = F_TP_TRACK_EVENT << 3 | PB_LEN;
	p = put_varint(p, tel);
	memcpy(p, c->te.buf, tel);
	p += tel;
	if (inl) {
		*p++ = F_TP_INTERNED << 3 | PB_LEN;
		p = put_varint(p, inl);
		memcpy(p, c->in.buf, inl);
		p += inl;
	}
	b->len = (size_t)(p - b->buf);
	c->te.len = c->in.len = 0;
	if (b->len >= FLUSH_AT)
		pb_flush(b, c->f);
}

/* A packet with no sequence and no time: a track's descriptor, built by the caller. */
struct desc {
	size_t pk, td;
};

static struct desc desc_begin(struct ctx *c, uint64_t uuid, uint64_t parent, const char *name,
			      int rank)
{
	struct pb *b = &c->out;
	struct desc d;
	d.pk = nb_begin(b, F_TRACE_PACKET);
	d.td = nb_begin(b, F_TP_TRACK_DESCRIPTOR);
	pb_uint(b, F_TD_UUID, uuid);
	if (parent)
		pb_uint(b, F_TD_PARENT, parent);
	if (name)
		pb_str(b, F_TD_NAME, name);
	if (rank >= 0)
		pb_uint(b, F_TD_RANK, (uint64_t)rank);
	return d;
}

static void desc_end(struct ctx *c, struct desc d)
{
	nb_end(&c->out, d.td);
	nb_end(&c->out, d.pk);
	flush_maybe(c);
}

static void describe(struct ctx *c, uint64_t uuid, uint64_t parent, const char *name, int rank,
		     const char *description)
{
	struct desc mk = desc_begin(c, uuid, parent, name, rank);
	if (description)
		pb_str(&c->out, F_TD_DESCRIPTION, description);
	desc_end(c, mk);
}

static void describe_counter(struct ctx *c, uint64_t uuid, const char *name, int rank,
			     const char *description)
{
	struct desc mk = desc_begin(c, uuid, U_PROC, name, rank);
	pb_str(&c->out, F_TD_DESCRIPTION, description);
	size_t cd = nb_begin(&c->out, F_TD_COUNTER);
	pb_uint(&c->out, F_CD_UNIT, UNIT_COUNT);
	nb_end(&c->out, cd);
	desc_end(c, mk);
}

static void describe_p(struct ctx *c, int p)
{
	char name[32];
	while (c->described_p <= p) {
		snprintf(name, sizeof(name), "P%d", c->described_p);
		describe(c, U_P(c->described_p), U_PROC, name, c->described_p, NULL);
		c->described_p++;
	}
}

static void describe_m(struct ctx *c, int64_t mid)
{
	bool added;
	char name[48];
	u64map_insert(&c->described_m, (uint64_t)mid + 1, &added);
	if (!added)
		return;
	snprintf(name, sizeof(name), "M%" PRId64 " syscalls", mid);
	describe(c, U_M(mid), U_MS, name, mid < RANK_OTHER ? (int)mid : RANK_OTHER, NULL);
}

static struct seq *pseq_make(struct ctx *c, int p)
{
	if (p >= c->nps) {
		int n = p + 1;
		c->ps = tool_realloc(c->ps, (size_t)n, sizeof(*c->ps));
		memset(c->ps + c->nps, 0, (size_t)(n - c->nps) * sizeof(*c->ps));
		c->nps = n;
	}
	if (!c->ps[p]) {
		c->ps[p] = tool_calloc(1, sizeof(struct seq));
		seq_init(c->ps[p], SEQ_P0 + (uint32_t)p, U_P(p));
		describe_p(c, p);
	}
	return c->ps[p];
}

static inline struct seq *pseq(struct ctx *c, int p)
{
	if (__builtin_expect(p < c->nps && c->ps[p], 1))
		return c->ps[p];
	return pseq_make(c, p);
}

/* ---- the track event being built ------------------------------------------------- */

static inline void te_start(struct ctx *c, int type)
{
	pb_uint(&c->te, F_TE_TYPE, (uint64_t)type);
}

static void intern_def(struct pb *in, unsigned field, uint32_t iid, const char *s)
{
	size_t at = nb_begin(in, field);
	pb_uint(in, 1, iid);
	pb_str(in, 2, s);
	nb_end(in, at);
}

/*
 * The iid of @s in table @t of @s (a new one defined in c->in under
 * @field, from *@next), or 0 if the table is full or @key is taken by
 * another string. @key: the string's hash (@hashed) or a code of ours.
 */
static uint32_t intern(struct ctx *c, struct u64map *t, uint32_t *next, unsigned field,
		       uint64_t key, const char *s, bool hashed)
{
	struct ient *e = u64map_find(t, key);
	if (e) {
		if (hashed && (!e->s || strcmp(e->s, s) != 0))
			return 0;
		return e->iid;
	}
	if (t->n >= INTERN_MAX)
		return 0;
	e = u64map_insert(t, key, NULL);
	e->s = hashed ? strdup(s) : NULL;
	if (hashed && !e->s)
		tool_oom();
	e->iid = ++*next;
	intern_def(&c->in, field, e->iid, s);
	return e->iid;
}

static void te_name(struct ctx *c, struct seq *s, const char *name)
{
	uint32_t iid =
		intern(c, &s->names, &s->next_name, F_IN_EVENT_NAMES, str_hash(name), name, true);
	if (iid)
		pb_uint(&c->te, F_TE_NAME_IID, iid);
	else
		pb_str(&c->te, F_TE_NAME, name);
}

/* A name made by the caller, known by a code of ours (@code: not a hash). */
static void te_name_code(struct ctx *c, struct seq *s, uint64_t code, const char *name)
{
	uint32_t iid = intern(c, &s->names, &s->next_name, F_IN_EVENT_NAMES, code, name, false);
	if (iid)
		pb_uint(&c->te, F_TE_NAME_IID, iid);
	else
		pb_str(&c->te, F_TE_NAME, name);
}

static void te_name_fn(struct ctx *c, struct seq *s, uint32_t fn)
{
	if (fn >= s->nfn)
		s->fn_iid = tool_grow_zero(s->fn_iid, &s->nfn, fn, sizeof(*s->fn_iid));
	if (!s->fn_iid[fn]) {
		s->fn_iid[fn] = ++s->next_name;
		intern_def(&c->in, F_IN_EVENT_NAMES, s->fn_iid[fn], names_get(&c->m->fns, fn));
	}
	pb_uint(&c->te, F_TE_NAME_IID, s->fn_iid[fn]);
}

static inline void te_name_fixed(struct ctx *c, struct seq *s, int n)
{
	if (!(s->fixed & (1u << n))) {
		s->fixed |= 1u << n;
		intern_def(&c->in, F_IN_EVENT_NAMES, (uint32_t)n + 1, fixed_name[n]);
	}
	pb_uint(&c->te, F_TE_NAME_IID, (uint64_t)n + 1);
}

static inline uint32_t key_iid(struct ctx *c, struct seq *s, int k)
{
	if (!(s->keys & (1u << k))) {
		s->keys |= 1u << k;
		intern_def(&c->in, F_IN_ANNOTATION_NAMES, (uint32_t)k + 1, key_name[k]);
	}
	return (uint32_t)k + 1;
}

static void te_uint(struct ctx *c, struct seq *s, int k, uint64_t v)
{
	uint32_t iid = key_iid(c, s, k);
	size_t at = nb_begin(&c->te, F_TE_ANNOTATION);
	pb_uint(&c->te, F_DA_NAME_IID, iid);
	pb_uint(&c->te, F_DA_UINT, v);
	nb_end(&c->te, at);
}

/* A string value, interned (by hash, or by @code when non-zero) or, for
 * one-off strings (@inline_), written in place. */
static void te_str(struct ctx *c, struct seq *s, int k, const char *v, uint64_t code, bool inline_)
{
	uint32_t kiid = key_iid(c, s, k);
	uint32_t iid = 0;
	if (!inline_)
		iid = intern(c, &s->vals, &s->next_val, F_IN_STRING_VALUES,
			     code ? code : str_hash(v), v, !code);
	size_t at = nb_begin(&c->te, F_TE_ANNOTATION);
	pb_uint(&c->te, F_DA_NAME_IID, kiid);
	if (iid)
		pb_uint(&c->te, F_DA_STRING_IID, iid);
	else
		pb_str(&c->te, F_DA_STRING, v);
	nb_end(&c->te, at);
}

/* A flow id (fixed64 @field, whose tag is two bytes). */
static inline void te_flow(struct ctx *c, unsigned field, uint64_t id)
{
	pb_reserve(&c->te, 10);
	uint8_t *p = c->te.buf + c->te.len;
	p[0] = (uint8_t)((field << 3 | PB_I64) | 0x80);
	p[1] = (uint8_t)(field >> 4);
	for (int i = 0; i < 8; i++)
		p[2 + i] = (uint8_t)(id >> (8 * i));
	c->te.len += 10;
}

static inline void te_track(struct ctx *c, uint64_t uuid)
{
	pb_uint(&c->te, F_TE_TRACK_UUID, uuid);
}

/* The annotation "end" = why_name[@why]. */
static void te_why(struct ctx *c, struct seq *s, int why)
{
	uint32_t kiid = key_iid(c, s, K_END);
	if (!s->why_iid[why]) {
		s->why_iid[why] = ++s->next_val;
		intern_def(&c->in, F_IN_STRING_VALUES, s->why_iid[why], why_name[why]);
	}
	size_t at = nb_begin(&c->te, F_TE_ANNOTATION);
	pb_uint(&c->te, F_DA_NAME_IID, kiid);
	pb_uint(&c->te, F_DA_STRING_IID, s->why_iid[why]);
	nb_end(&c->te, at);
}

/* ---- runs, regions, flows -------------------------------------------------------- */

static void open_grow(struct ctx *c, int p)
{
	if (p >= c->nopen) {
		size_t n = (size_t)c->nopen;
		c->open = tool_grow_zero(c->open, &n, (size_t)p, sizeof(*c->open));
		c->nopen = (int)n;
	}
}

static void region_begin(struct ctx *c, int p, const char *name, uint64_t at)
{
	struct seq *s = pseq(c, p);
	te_start(c, TE_SLICE_BEGIN);
	te_name(c, s, name);
	emit(c, s, at);
	c->open[p].regions++;
}

/* The pieces of @task's open regions in the run that begins on @p. */
static void regions_begin(struct ctx *c, int p, uint64_t task, uint64_t at)
{
	struct region *r = u64map_get_ptr(&c->regions, task);
	if (!r)
		return;
	for (int i = 0; i < r->depth && i < MAX_DEPTH; i++)
		region_begin(c, p, r->name[i], at);
}

/* End the region slices open in the run on @p (as many as were begun,
 * whatever the task's regions are now). */
static void regions_end(struct ctx *c, int p, uint64_t at)
{
	struct seq *s = pseq(c, p);
	for (; c->open[p].regions > 0; c->open[p].regions--) {
		te_start(c, TE_SLICE_END);
		emit(c, s, at);
	}
}

/* @t runs on @p from @at: begin its slice (ending its pending flow) and its regions' pieces. */
static void run_begin(struct ctx *c, struct mtask *t, int p, uint64_t at, bool resumed)
{
	struct seq *s = pseq(c, p);
	open_grow(c, p);
	c->open[p].task = t->id;
	c->open[p].regions = 0;
	te_start(c, TE_SLICE_BEGIN);
	te_name_fn(c, s, t->fn);
	te_uint(c, s, K_TASK, t->id);
	if (resumed)
		te_str(c, s, K_FROM, "syscall", 0, false);
	if (t->aux) {
		te_flow(c, F_TE_TERMINATING_FLOW_IDS, t->aux);
		t->aux = 0;
	}
	emit(c, s, at);
	regions_begin(c, p, t->id, at);
}

/* The text of "end" for a run of @t that ended for @why, from the event being applied. */
static void end_reason(struct ctx *c, struct seq *s, struct mtask *t, int why)
{
	const weft_tr_event *ev = c->ev;
	struct model *m = c->m;
	char buf[600];

	if (why == WHY_BLOCK && ev && ev->type == WEFT_TEV_TASK_BLOCK && ev->args[0] == t->id) {
		int reason = ev->args[1] < WEFT_TRACE_BLOCK_MAX ? (int)ev->args[1] : 0;
		uint32_t site = names_intern(&m->sites, ev->args[3]);
		uint64_t code = (1ull << 62) | ((uint64_t)reason << 32) | site;
		if (!u64map_find(&s->vals, code))
			snprintf(buf, sizeof(buf), "block: %s at %s", weft_tr_block_name(reason),
				 names_get(&m->sites, site));
		te_str(c, s, K_END, buf, code, false);
	} else if (why == WHY_SYSCALL && ev && ev->type == WEFT_TEV_SYSCALL_ENTER &&
		   ev->args[0] == t->id) {
		uint32_t site = names_intern(&m->sites, ev->args[1]);
		uint64_t code = (2ull << 62) | site;
		if (!u64map_find(&s->vals, code))
			snprintf(buf, sizeof(buf), "syscall at %s", names_get(&m->sites, site));
		te_str(c, s, K_END, buf, code, false);
	} else {
		te_why(c, s, why);
	}
}

static void h_run(void *x, struct model *m, struct mtask *t, int p, uint64_t t0, uint64_t t1,
		  int why)
{
	struct ctx *c = x;
	(void)m, (void)t0;

	if (p < 0 || p >= c->nopen || c->open[p].task != t->id)
		return;
	struct seq *s = pseq(c, p);
	regions_end(c, p, t1);
	te_start(c, TE_SLICE_END);
	end_reason(c, s, t, why);
	emit(c, s, t1);
	c->open[p].task = 0;
}

/* A flow that will never reach a run: end it on an instant of the wakeups track. */
/* A flow that will never reach a run of @task: end it on an instant of
 * the wakeups track (@name N_NEVER_RAN or N_NOT_RUN) at @at. */
static void flow_orphan(struct ctx *c, uint64_t id, uint64_t task, int name, uint64_t at)
{
	te_start(c, TE_INSTANT);
	te_name_fixed(c, &c->global, name);
	te_uint(c, &c->global, K_TASK, task);
	te_flow(c, F_TE_TERMINATING_FLOW_IDS, id);
	emit(c, &c->global, at);
}

/* @t was created or woken now by what runs on @p: the marker, the flow's source. */
static void flow_from(struct ctx *c, struct mtask *t, int p, bool create)
{
	struct model *m = c->m;
	uint64_t pending = t->aux;
	struct seq *s;

	if (!c->live)
		return;
	t->aux = ++c->flow_id;
	if (p >= 0 && p < m->np && p < c->nopen && c->open[p].task &&
	    m->ps[p].cur == c->open[p].task) {
		s = pseq(c, p);
		te_start(c, TE_INSTANT);
	} else {
		s = &c->global;
		te_start(c, TE_INSTANT); /* on the wakeups track, the global sequence's default */
	}
	te_name_fixed(c, s, create ? N_SPAWN : N_WAKE);
	te_flow(c, F_TE_FLOW_IDS, t->aux);
	if (pending) /* woken again before it ran: its first flow ends here */
		te_flow(c, F_TE_TERMINATING_FLOW_IDS, pending);
	emit(c, s, m->now);
}

static void h_new(void *x, struct model *m, struct mtask *t, uint64_t parent, bool created)
{
	struct ctx *c = x;
	(void)m, (void)parent;
	t->aux = 0;
	if (created)
		flow_from(c, t, c->ev ? c->ev->p : -1, true);
}

static void region_free(struct region *r)
{
	if (!r)
		return;
	for (int i = 0; i < r->depth && i < MAX_DEPTH; i++)
		free(r->name[i]);
	free(r);
}

static void h_gone(void *x, struct model *m, struct mtask *t, bool ended)
{
	struct ctx *c = x;
	(void)m;
	region_free(u64map_take_ptr(&c->regions, t->id));
	if (!t->aux)
		return;
	if (ended) {
		flow_orphan(c, t->aux, t->id, N_NEVER_RAN, c->m->now);
	} else {
		if (c->nend_flows + 2 > c->end_flows_cap) {
			c->end_flows_cap = c->end_flows_cap ? c->end_flows_cap * 2 : 256;
			c->end_flows =
				tool_realloc(c->end_flows, c->end_flows_cap, sizeof(uint64_t));
		}
		c->end_flows[c->nend_flows++] = t->aux;
		c->end_flows[c->nend_flows++] = t->id;
	}
	t->aux = 0;
}

/* ---- counters ------------------------------------------------------------------ */

static void counters_write(struct ctx *c, const int64_t *v, uint64_t at)
{
	memcpy(c->cv, v, sizeof(c->cv));
	c->c_last = at;
	c->c_any = true;
	te_start(c, TE_COUNTER);
	pb_uint(&c->te, F_TE_COUNTER_VALUE, (uint64_t)v[0]);
	for (int i = 1; i < NCOUNTERS; i++)
		pb_uint(&c->te, F_TE_EXTRA_VALUES, (uint64_t)v[i]);
	emit(c, &c->counters, at);
}

/*
 * The counters after an event: written at most once a microsecond. A
 * change within the microsecond after the last sample is kept pending and
 * written, with the latest values, when the microsecond is over (at the
 * next event, at the time it is over or the change happened, whichever
 * is later) - so a level that lasted longer is never lost nor shown late
 * by more than a microsecond. @fin: the end (write what is pending).
 */
static void counters(struct ctx *c, bool fin)
{
	struct model *m = c->m;
	int64_t v[NCOUNTERS] = { m->nrunnable, 0, (int64_t)c->nsys, 0 };

	if (!c->live)
		return;
	for (int i = 0; i < m->np; i++) {
		const struct mp *p = &m->ps[i];
		v[1] += p->cur && !p->insys;
		v[3] += p->cat == PC_SCHED || p->cat == PC_SEARCH;
	}
	/* The common case: nothing changed, nothing pending. */
	const int64_t *last = c->c_pending ? c->pv : c->cv;
	if (!fin && !c->c_pending && c->c_any && v[0] == last[0] && v[1] == last[1] &&
	    v[2] == last[2] && v[3] == last[3])
		return;
	uint64_t now = m->now > c->to ? c->to : m->now;
	if (c->c_pending && (now >= c->c_last + 1000 || fin)) {
		uint64_t at = c->c_last + 1000 < now ? c->c_last + 1000 : now;
		counters_write(c, c->pv, c->pv_ts > at ? c->pv_ts : at);
		c->c_pending = false;
	}
	if (c->c_any && memcmp(v, c->c_pending ? c->pv : c->cv, sizeof(v)) == 0)
		return;
	if (!c->c_any || (!c->c_pending && now >= c->c_last + 1000)) {
		counters_write(c, v, now);
		return;
	}
	if (fin) {
		counters_write(c, v, now);
		c->c_pending = false;
		return;
	}
	memcpy(c->pv, v, sizeof(v));
	c->pv_ts = now;
	c->c_pending = true;
}

/* ---- user tasks, syscalls, the window --------------------------------------------- */

static void utask_begin(struct ctx *c, uint64_t id, const struct utask *u, uint64_t at)
{
	describe(c, U_UT(id), U_UTASKS, u->name, -1, NULL);
	te_start(c, TE_SLICE_BEGIN);
	te_track(c, U_UT(id));
	te_name(c, &c->global, u->name);
	te_uint(c, &c->global, K_UTASK, id);
	te_uint(c, &c->global, K_PARENT, u->parent);
	te_uint(c, &c->global, K_TASK, u->task);
	emit(c, &c->global, at);
}

static void utask_end(struct ctx *c, uint64_t id, uint64_t at)
{
	te_start(c, TE_SLICE_END);
	te_track(c, U_UT(id));
	emit(c, &c->global, at);
}

static void syscall_begin(struct ctx *c, uint64_t task, struct sysc *sc, uint64_t at)
{
	struct mtask *t = model_task(c->m, task);
	char name[300];

	if (!t || sc->m < 0)
		return; /* a syscall on no known thread: no track to put it on */
	describe_m(c, sc->m);
	te_start(c, TE_SLICE_BEGIN);
	te_track(c, U_M(sc->m));
	if (!u64map_find(&c->ms.names, (1ull << 62) | t->fn))
		snprintf(name, sizeof(name), "syscall: %s", model_fn_name(c->m, t));
	te_name_code(c, &c->ms, (1ull << 62) | t->fn, name);
	te_uint(c, &c->ms, K_TASK, t->id);
	te_str(c, &c->ms, K_SITE, names_get(&c->m->sites, t->site), (1ull << 62) | t->site, false);
	emit(c, &c->ms, at);
	sc->open = true;
}

static void stw_begin(struct ctx *c, uint64_t at)
{
	te_start(c, TE_SLICE_BEGIN);
	te_track(c, U_STW);
	te_name_fixed(c, &c->global, N_STW);
	te_str(c, &c->global, K_REASON, stw_reason_name[c->stw_reason], 0, false);
	emit(c, &c->global, at);
}

/* The window opens at @at: begin what is in progress. */
static void window_open(struct ctx *c, uint64_t at)
{
	struct model *m = c->m;

	c->live = true;
	for (int p = 0; p < m->np; p++) {
		struct mtask *t;
		if (m->ps[p].cur && !m->ps[p].insys && (t = model_task(m, m->ps[p].cur)))
			run_begin(c, t, p, at, false);
	}
	for (size_t i = 0; i < c->sysc.cap; i++)
		if (c->sysc.keys[i])
			syscall_begin(c, c->sysc.keys[i], u64map_val(&c->sysc, i), at);
	if (c->stw)
		stw_begin(c, at);
	for (size_t i = 0; i < c->utasks.cap; i++)
		if (c->utasks.keys[i])
			utask_begin(c, c->utasks.keys[i],
				    *(struct utask **)u64map_val(&c->utasks, i), at);
}

/* ---- events -------------------------------------------------------------------- */

static void on_event(struct ctx *c, const weft_tr_event *ev)
{
	struct model *m = c->m;
	struct mtask *t;

	switch (ev->type) {
	case WEFT_TEV_TASK_UNBLOCK:
		t = model_task(m, ev->args[0]);
		if (t && t->state == WEFT_TF_T_RUNNABLE && t->since == m->now)
			flow_from(c, t, ev->p, false);
		break;
	case WEFT_TEV_REGION_BEGIN: {
		struct region *r = u64map_get_ptr(&c->regions, ev->args[0]);
		const char *name = ev->str[0] && ev->str[0][0] ? ev->str[0] : "region";
		if (!r) {
			r = tool_calloc(1, sizeof(*r));
			u64map_put_ptr(&c->regions, ev->args[0], r);
		}
		if (r->depth >= MAX_DEPTH) {
			r->lost++;
			break;
		}
		if (!(r->name[r->depth] = strdup(name)))
			tool_oom();
		r->depth++;
		t = model_task(m, ev->args[0]);
		if (c->live && t && t->p >= 0 && t->p < c->nopen && c->open[t->p].task == t->id)
			region_begin(c, t->p, name, m->now);
		break;
	}
	case WEFT_TEV_REGION_END: {
		struct region *r = u64map_get_ptr(&c->regions, ev->args[0]);
		if (!r || r->depth == 0)
			break;
		if (r->lost) {
			r->lost--;
			break;
		}
		t = model_task(m, ev->args[0]);
		if (c->live && t && t->p >= 0 && t->p < c->nopen && c->open[t->p].task == t->id &&
		    c->open[t->p].regions > 0) {
			te_start(c, TE_SLICE_END);
			emit(c, pseq(c, t->p), m->now);
			c->open[t->p].regions--;
		}
		free(r->name[--r->depth]);
		r->name[r->depth] = NULL;
		if (r->depth == 0)
			region_free(u64map_take_ptr(&c->regions, ev->args[0]));
		break;
	}
	case WEFT_TEV_LOG: {
		if (!c->live)
			break;
		struct seq *s = ev->p >= 0 && ev->p < MODEL_MAX_P ? pseq(c, ev->p) : &c->global;
		te_start(c, TE_INSTANT);
		te_name(c, s, ev->str[0] && ev->str[0][0] ? ev->str[0] : "log");
		te_uint(c, s, K_TASK, ev->args[0]);
		te_uint(c, s, K_UTASK, ev->args[1]);
		te_str(c, s, K_MESSAGE, ev->str[1] ? ev->str[1] : "", 0, true);
		emit(c, s, m->now);
		break;
	}
	case WEFT_TEV_UTASK_BEGIN: {
		struct utask *u = u64map_take_ptr(&c->utasks, ev->args[0]);
		if (u) { /* begun again without an end: end the first */
			if (c->live)
				utask_end(c, ev->args[0], m->now);
			free(u->name);
			free(u);
		}
		u = tool_calloc(1, sizeof(*u));
		if (!(u->name = strdup(ev->str[0] && ev->str[0][0] ? ev->str[0] : "task")))
			tool_oom();
		u->parent = ev->args[1];
		u->task = ev->args[2];
		u64map_put_ptr(&c->utasks, ev->args[0], u);
		if (c->live)
			utask_begin(c, ev->args[0], u, m->now);
		break;
	}
	case WEFT_TEV_UTASK_END: {
		struct utask *u = u64map_take_ptr(&c->utasks, ev->args[0]);
		if (!u)
			break; /* begun before the trace */
		if (c->live)
			utask_end(c, ev->args[0], m->now);
		free(u->name);
		free(u);
		break;
	}
	case WEFT_TEV_STW_BEGIN:
		if (c->stw && c->live) { /* a second begin: end the first */
			te_start(c, TE_SLICE_END);
			te_track(c, U_STW);
			emit(c, &c->global, m->now);
		}
		c->stw = true;
		c->stw_start = ev->ts;
		c->stw_reason = ev->args[0] < 3 ? (int)ev->args[0] : 0;
		if (c->live)
			stw_begin(c, m->now);
		break;
	case WEFT_TEV_STW_END:
		if (c->stw && c->live) {
			te_start(c, TE_SLICE_END);
			te_track(c, U_STW);
			te_uint(c, &c->global, K_WAIT_NS, ev->args[0]);
			emit(c, &c->global, m->now);
		}
		c->stw = false;
		break;
	}
}

/* After an event on @p: if a task now runs there whose slice is not open, begin it. */
static void run_check(struct ctx *c, int p)
{
	struct model *m = c->m;
	struct mtask *t;

	if (!c->live || p < 0 || p >= m->np || !m->ps[p].cur || m->ps[p].insys)
		return;
	if (p < c->nopen && c->open[p].task == m->ps[p].cur)
		return;
	if (!(t = model_task(m, m->ps[p].cur)))
		return;
	if (p < c->nopen && c->open[p].task) { /* the model moved on without ending it */
		struct seq *s = pseq(c, p);
		regions_end(c, p, m->now);
		te_start(c, TE_SLICE_END);
		te_why(c, s, WHY_LOST);
		emit(c, s, m->now);
	}
	/* A run the model did not count as a start (a syscall that returned
	 * on its own P) says so: the tests count starts. */
	run_begin(c, t, p, m->now, m->starts == c->starts_before);
}

/* End the flows still pending at the end, each on an instant naming its task. */
static void end_flows(struct ctx *c, uint64_t at)
{
	for (size_t i = 0; i + 1 < c->nend_flows; i += 2)
		flow_orphan(c, c->end_flows[i], c->end_flows[i + 1], N_NOT_RUN, at);
	c->nend_flows = 0;
}

static void describe_all(struct ctx *c, const struct tool_trace *tt)
{
	char name[64];
	struct pb *b = &c->out;

	struct desc mk = desc_begin(c, U_PROC, 0, NULL, -1);
	size_t pd = nb_begin(b, F_TD_PROCESS);
	pb_uint(b, F_PD_PID, (uint64_t)(uint32_t)tt->info.pid);
	snprintf(name, sizeof(name), "weft pid %d", tt->info.pid);
	pb_str(b, F_PD_NAME, name);
	nb_end(b, pd);
	pb_uint(b, F_TD_CHILD_ORDERING, ORDER_EXPLICIT);
	desc_end(c, mk);
	describe_p(c, tt->info.procs > 0 && tt->info.procs <= MODEL_MAX_P ? tt->info.procs - 1 : 0);
	describe(c, U_STW, U_PROC, "stop-the-world", RANK_OTHER, NULL);
	describe(c, U_WAKE, U_PROC, "wakeups (timers, threads)", RANK_OTHER + 1,
		 "unblocks by no running task; flows still waiting when the trace ends");
	describe_counter(c, U_C_RUNNABLE, "tasks runnable", RANK_OTHER + 2,
			 "tasks ready to run, waiting for a P");
	describe_counter(c, U_C_RUNNING, "tasks running", RANK_OTHER + 3, "Ps running a task");
	describe_counter(c, U_C_SYSCALL, "tasks in a syscall", RANK_OTHER + 4,
			 "tasks inside a system call");
	describe_counter(c, U_C_SPIN, "Ps spinning", RANK_OTHER + 5,
			 "Ps held by a thread with no task: scheduling or looking for work "
			 "(the trace records no spinning state of its own)");
	mk = desc_begin(c, U_MS, U_PROC, "threads (M): syscalls", RANK_OTHER + 6);
	pb_uint(b, F_TD_CHILD_ORDERING, ORDER_EXPLICIT);
	desc_end(c, mk);
	mk = desc_begin(c, U_UTASKS, U_PROC, "user tasks", RANK_OTHER + 7);
	pb_uint(b, F_TD_CHILD_ORDERING, ORDER_CHRONOLOGICAL);
	desc_end(c, mk);
}

int export_perfetto(struct export_args *a)
{
	struct ctx c = { 0 };
	struct tool_trace *tt = a->tt;
	struct model m;
	weft_tr_event *ev;
	bool cut = false;
	int r;

	c.f = a->f;
	c.tt = tt;
	c.from = a->from;
	c.to = a->to;
	c.m = &m;
	seq_init(&c.global, SEQ_GLOBAL, U_WAKE);
	seq_init(&c.counters, SEQ_COUNTERS, U_C_RUNNABLE);
	seq_init(&c.ms, SEQ_M, 0);
	u64map_init(&c.described_m, 1, U64MAP_MIXED);
	u64map_init(&c.regions, sizeof(struct region *), U64MAP_MIXED);
	u64map_init(&c.utasks, sizeof(struct utask *), U64MAP_MIXED);
	u64map_init(&c.sysc, sizeof(struct sysc), U64MAP_MIXED);
	struct model_hooks h = { .ctx = &c, .run = h_run, .task_gone = h_gone, .task_new = h_new };
	model_init(&m, tt->t, &h);
	describe_all(&c, tt);
	while ((r = tool_next(tt, &ev)) > 0) {
		if (ev->ts > c.to) {
			cut = true; /* what is open at TO goes on after it */
			break;
		}
		if (!c.live && ev->ts >= c.from) {
			window_open(&c, c.from); /* with the model as it was before FROM */
		}
		c.ev = ev;
		c.starts_before = m.starts;
		if (ev->type == WEFT_TEV_SYSCALL_EXIT) {
			struct sysc *sc = u64map_find(&c.sysc, ev->args[0]);
			if (sc) {
				if (sc->open && c.live) {
					te_start(&c, TE_SLICE_END);
					te_track(&c, U_M(sc->m));
					emit(&c, &c.ms, ev->ts);
				}
				u64map_remove(&c.sysc, sc);
			}
			if (c.nsys)
				c.nsys--;
		}
		model_event(&m, ev);
		if (ev->type == WEFT_TEV_SYSCALL_ENTER && ev->p >= 0 && ev->p < m.np) {
			struct sysc *sc = u64map_find(&c.sysc, ev->args[0]);
			if (sc && sc->open && c.live) { /* a second enter: end the first */
				te_start(&c, TE_SLICE_END);
				te_track(&c, U_M(sc->m));
				emit(&c, &c.ms, m.now);
			}
			if (!sc)
				c.nsys++;
			sc = u64map_insert(&c.sysc, ev->args[0], NULL);
			sc->m = m.ps[ev->p].m;
			sc->open = false;
			if (c.live)
				syscall_begin(&c, ev->args[0], sc, m.now);
		}
		run_check(&c, ev->p);
		on_event(&c, ev);
		counters(&c, false);
		c.ev = NULL;
	}
	if (r >= 0) {
		/* The end: TO if the trace goes on after it, else when tracing
		 * stopped (model_finish: the header's end, or the last event). */
		if (cut) {
			m.now = c.to;
			m.end_ts = 0;
		}
		uint64_t fin = m.end_ts > m.now ? m.end_ts : m.now;
		if (!c.live && m.started && c.from <= fin)
			window_open(&c, c.from);
		/* Ends the runs (h_run) and collects the pending flows (h_gone). */
		model_finish(&m);
		if (c.live) {
			uint64_t at = m.now < c.to ? m.now : c.to;
			for (size_t i = 0; i < c.sysc.cap; i++) {
				struct sysc *sc = u64map_val(&c.sysc, i);
				if (c.sysc.keys[i] && sc->open) {
					te_start(&c, TE_SLICE_END);
					te_track(&c, U_M(sc->m));
					emit(&c, &c.ms, at);
				}
			}
			if (c.stw) {
				te_start(&c, TE_SLICE_END);
				te_track(&c, U_STW);
				emit(&c, &c.global, at);
			}
			for (size_t i = 0; i < c.utasks.cap; i++)
				if (c.utasks.keys[i])
					utask_end(&c, c.utasks.keys[i], at);
			end_flows(&c, at);
			counters(&c, true);
		}
		pb_flush(&c.out, c.f);
	}
	for (size_t i = 0; i < c.utasks.cap; i++)
		if (c.utasks.keys[i]) {
			struct utask *u = *(struct utask **)u64map_val(&c.utasks, i);
			free(u->name);
			free(u);
		}
	for (size_t i = 0; i < c.regions.cap; i++)
		if (c.regions.keys[i])
			region_free(*(struct region **)u64map_val(&c.regions, i));
	u64map_free(&c.utasks);
	u64map_free(&c.regions);
	u64map_free(&c.sysc);
	u64map_free(&c.described_m);
	seq_free(&c.global);
	seq_free(&c.counters);
	seq_free(&c.ms);
	for (int i = 0; i < c.nps; i++)
		if (c.ps[i]) {
			seq_free(c.ps[i]);
			free(c.ps[i]);
		}
	free(c.ps);
	free(c.open);
	free(c.end_flows);
	pb_free(&c.out);
	pb_free(&c.te);
	pb_free(&c.in);
	model_free(&m);
	a->nevents = tt->nread;
	return r < 0 ? -1 : 0;
}

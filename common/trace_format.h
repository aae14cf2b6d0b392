/*
 * trace_format.h - the weft trace file format, the one home of its layout
 * and traits, shared by the writer (runtime/trace*.c), the reader library
 * (tracer/lib/) and the tests. Never installed. The prose version, with
 * the ordering rules, is doc/trace-format.md; the two must agree. The
 * event table (numbers, arguments, strings) and the block reasons are
 * public, in <weft/trace.h>, because readers of the library need them;
 * everything else a writer and a reader must agree on is here, once.
 *
 * A file is a header followed by chunks. Everything is little-endian.
 *
 *   header (64 bytes)
 *     0  magic "WEFTTRC\0"        8  u16 version (4)   10 u16 header size
 *    12  u8 end reason (4)        13 u8 end code (4)  14 u16 zero
 *    16  u8 clock (0 monotonic ns, 1 TSC)
 *    17  u8 flags (bit 0: complete)                 18 u48 file length (complete)
 *    24  u64 ticks per second     32 u64 ticks at start
 *    40  i64 CLOCK_REALTIME ns at start             48 u32 Ps at start
 *    52  u32 pid                  56 u64 tick when tracing stopped (complete)
 *
 *   chunk header (48 bytes), then the payload
 *     0  u32 magic "WCHK"         4  u8 kind (1 events, 2 strings)
 *     5  u8 stream kind (0 P, 1 M/global)          6  u16 zero
 *     8  u32 stream id (P < WEFT_TF_MAX_PROCS; 0)  12 u32 chunk sequence in its stream
 *    16  u64 first tick          24 u64 last tick
 *    32  u32 payload size (compressed)             36 u32 raw size
 *    40  u32 events              44 u32 zero
 *   The payload is one zstd frame (with its checksum) of raw size bytes.
 *   WEFT_TF_HEADER_FIELDS and WEFT_TF_CHUNK_FIELDS (offset and size of
 *   each field, put and get derived from them) are the only code that
 *   knows these offsets.
 *
 * Events (kind 1 raw bytes): a type byte, the tick delta from the previous
 * event of the chunk (the first: from the chunk's first tick) as a
 * varint, then the type's arguments as varints (unsigned LEB128), in the
 * order of WEFT_TRACE_EVENTS, then its strings, each a varint length (at
 * most WEFT_TRACE_MAX_STR) and bytes. Since version 3 the task id that is
 * argument 0 of the events with trait WEFT_TF_TASK is written as
 * zigzag(id - previous such id of the chunk), the previous id being 0 at
 * the chunk's start: a task ends with a 0, and the next one it starts is
 * usually +1 or +2 away, so zstd stores the id in a few bits instead of
 * the 2-3 bytes of a varint that changes at every event. Strings (kind 2
 * raw bytes): records of varint key, varint length, bytes; the key is a
 * code key (fn, site: zigzag(address - executable base) + 1) that the
 * writer names. weft_tf_put_event() is the one encoder.
 *
 * The traits table. What the writer, the reader and the tools must agree
 * on about each event beyond its shape is one row of WEFT_TF_TRAITS:
 * whether argument 0 is a task (delta-coded, and the event moves that
 * task through the state machine below), whether it must be recorded on a
 * P's stream, which arguments are code keys the writer must name, which
 * holds the task's sequence number, and the transition it makes. The
 * writer's key tracking and naming, the reader's decoder and checker, the
 * tools' model and the tests' generators are all derived from it. Adding
 * an event is a row in WEFT_TRACE_EVENTS (public) and a row here; adding a
 * wait reason is a row in WEFT_TRACE_BLOCK_REASONS.
 *
 * The task state machine (the reader checks every file against it; the
 * tool's model follows it): a task is unknown (NONE), RUNNABLE, RUNNING
 * on a P, BLOCKED, or in a SYSCALL. Its states are the public
 * WEFT_TRACE_STATE_* numbers, which TASK_STATE records.
 *
 * Rejected:
 *   - The traits as hand-written conditions at each use (a range of event
 *     numbers here, a switch on types there): that was the old layout,
 *     seven files to touch for a wait reason, and they drifted.
 *   - The traits as a column of the public event table: they are the
 *     codec's business (a delta coding that may change with the version)
 *     and would make the public X-macro's shape change with every format
 *     revision.
 *   - A protobuf-like self-describing format: a type byte and varints
 *     cost 4-6 bytes a switch before compression, and the table above is
 *     the schema.
 */
#ifndef WEFT_TRACE_FORMAT_H
#define WEFT_TRACE_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The event table and the enums of their arguments are public. */
#include "weft/trace.h"

#define WEFT_TF_MAGIC "WEFTTRC"
#define WEFT_TF_VERSION 4               /* 4: the end reason and code (bytes 12, 13) */
#define WEFT_TF_VERSION_MIN 2           /* version 2: task ids written as they are */
#define WEFT_TF_HEADER_SIZE 64
#define WEFT_TF_CHUNK_MAGIC 0x4b484357u /* "WCHK" */
#define WEFT_TF_CHUNK_HEADER_SIZE 48
#define WEFT_TF_MAX_RAW (1u << 20)      /* the reader refuses larger chunks */
#define WEFT_TF_MAX_PROCS 256           /* P stream ids are below this */
#define WEFT_TF_UVARINT_MAX 10          /* bytes of the longest varint */
#ifdef WEFT_MAX_PROCS
_Static_assert(WEFT_MAX_PROCS <= WEFT_TF_MAX_PROCS, "the reader refuses P ids >= WEFT_TF_MAX_PROCS");
#endif

enum weft_tf_chunk_kind { WEFT_TF_CHUNK_EVENTS = 1, WEFT_TF_CHUNK_STRINGS = 2 };
enum weft_tf_stream { WEFT_TF_STREAM_P = 0, WEFT_TF_STREAM_M = 1 };
enum weft_tf_clock { WEFT_TF_CLOCK_MONO = 0, WEFT_TF_CLOCK_TSC = 1 };
#define WEFT_TF_FLAG_COMPLETE 1 /* header flags: weft_trace_stop finished the file */
#define WEFT_TF_LENGTH_MAX ((1ULL << 48) - 1)

/* ---- little-endian fields ------------------------------------------------ */

static inline void weft_tf_put_le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint64_t weft_tf_get_le(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* ---- the file header -------------------------------------------------------- */

/* Byte offsets in the header; the layout comment above is the picture. */
enum {
	WEFT_TF_H_MAGIC = 0,
	WEFT_TF_H_VERSION = 8,
	WEFT_TF_H_SIZE = 10,
	WEFT_TF_H_REASON = 12, /* version 4 */
	WEFT_TF_H_CODE = 13,
	WEFT_TF_H_CLOCK = 16,
	WEFT_TF_H_FLAGS = 17,
	WEFT_TF_H_LENGTH = 18, /* 6 bytes */
	WEFT_TF_H_FREQ = 24,
	WEFT_TF_H_TICK0 = 32,
	WEFT_TF_H_UNIX = 40,
	WEFT_TF_H_PROCS = 48,
	WEFT_TF_H_PID = 52,
	WEFT_TF_H_END = 56,
};

struct weft_tf_header {
	uint16_t version, size;  /* WEFT_TF_VERSION, WEFT_TF_HEADER_SIZE */
	uint8_t clock;           /* enum weft_tf_clock */
	uint8_t flags;           /* WEFT_TF_FLAG_* */
	uint8_t end_reason;      /* enum weft_trace_end (version 4; 0 before) */
	uint8_t end_code;        /* its signal or exit status */
	uint64_t length;         /* the file's length when complete, 0: not recorded */
	uint64_t ticks_per_sec;
	uint64_t tick0;          /* ticks at start */
	int64_t start_unix_ns;   /* CLOCK_REALTIME at start */
	uint32_t procs, pid;
	uint64_t end_tick;       /* when tracing stopped, 0 until complete */
};

/* The header's fields after the magic: X(field, offset, bytes). The one
 * place that pairs a field with its bytes; put and get are derived. */
#define WEFT_TF_HEADER_FIELDS(X)                                                           \
	X(version, WEFT_TF_H_VERSION, 2)                                                   \
	X(size, WEFT_TF_H_SIZE, 2)                                                         \
	X(end_reason, WEFT_TF_H_REASON, 1)                                                 \
	X(end_code, WEFT_TF_H_CODE, 1)                                                     \
	X(clock, WEFT_TF_H_CLOCK, 1)                                                       \
	X(flags, WEFT_TF_H_FLAGS, 1)                                                       \
	X(length, WEFT_TF_H_LENGTH, 6)                                                     \
	X(ticks_per_sec, WEFT_TF_H_FREQ, 8)                                                \
	X(tick0, WEFT_TF_H_TICK0, 8)                                                       \
	X(start_unix_ns, WEFT_TF_H_UNIX, 8)                                                \
	X(procs, WEFT_TF_H_PROCS, 4)                                                       \
	X(pid, WEFT_TF_H_PID, 4)                                                           \
	X(end_tick, WEFT_TF_H_END, 8)

#define WEFT_TF_PUT_(f, off, n) weft_tf_put_le(h + (off), (uint64_t)x->f, (n));
#define WEFT_TF_GET_(f, off, n) x->f = (__typeof__(x->f))weft_tf_get_le(h + (off), (n));

static inline void weft_tf_header_put(uint8_t h[WEFT_TF_HEADER_SIZE],
				      const struct weft_tf_header *x)
{
	memset(h, 0, WEFT_TF_HEADER_SIZE);
	memcpy(h + WEFT_TF_H_MAGIC, WEFT_TF_MAGIC, 8);
	WEFT_TF_HEADER_FIELDS(WEFT_TF_PUT_)
}

/* Decode @h into *@x. Returns false if the magic is not a weft trace's;
 * the version and the values are the caller's to check. */
static inline bool weft_tf_header_get(const uint8_t h[WEFT_TF_HEADER_SIZE],
				      struct weft_tf_header *x)
{
	WEFT_TF_HEADER_FIELDS(WEFT_TF_GET_)
	return memcmp(h + WEFT_TF_H_MAGIC, WEFT_TF_MAGIC, 8) == 0;
}

/* ---- chunk headers --------------------------------------------------------- */

enum {
	WEFT_TF_C_MAGIC = 0,
	WEFT_TF_C_KIND = 4,
	WEFT_TF_C_STREAM_KIND = 5,
	WEFT_TF_C_STREAM_ID = 8,
	WEFT_TF_C_SEQ = 12,
	WEFT_TF_C_T_FIRST = 16,
	WEFT_TF_C_T_LAST = 24,
	WEFT_TF_C_ZSIZE = 32,
	WEFT_TF_C_RAWSIZE = 36,
	WEFT_TF_C_NEV = 40,
};

struct weft_tf_chunk {
	uint32_t magic;                 /* WEFT_TF_CHUNK_MAGIC */
	uint8_t kind, stream_kind;      /* enum weft_tf_chunk_kind, enum weft_tf_stream */
	uint32_t stream_id, seq;
	uint64_t t_first, t_last;       /* ticks of its first and last event */
	uint32_t zsize, rawsize, nev;   /* payload bytes, decompressed bytes, events */
};

/* The chunk header's fields: X(field, offset, bytes). */
#define WEFT_TF_CHUNK_FIELDS(X)                                                            \
	X(magic, WEFT_TF_C_MAGIC, 4)                                                       \
	X(kind, WEFT_TF_C_KIND, 1)                                                         \
	X(stream_kind, WEFT_TF_C_STREAM_KIND, 1)                                           \
	X(stream_id, WEFT_TF_C_STREAM_ID, 4)                                               \
	X(seq, WEFT_TF_C_SEQ, 4)                                                           \
	X(t_first, WEFT_TF_C_T_FIRST, 8)                                                   \
	X(t_last, WEFT_TF_C_T_LAST, 8)                                                     \
	X(zsize, WEFT_TF_C_ZSIZE, 4)                                                       \
	X(rawsize, WEFT_TF_C_RAWSIZE, 4)                                                   \
	X(nev, WEFT_TF_C_NEV, 4)

/* Encode *@x; its magic is set here, whatever x->magic holds. */
static inline void weft_tf_chunk_put(uint8_t h[WEFT_TF_CHUNK_HEADER_SIZE],
				     const struct weft_tf_chunk *c)
{
	struct weft_tf_chunk m = *c;
	const struct weft_tf_chunk *x = &m;

	m.magic = WEFT_TF_CHUNK_MAGIC;
	memset(h, 0, WEFT_TF_CHUNK_HEADER_SIZE);
	WEFT_TF_CHUNK_FIELDS(WEFT_TF_PUT_)
}

static inline void weft_tf_chunk_get(const uint8_t h[WEFT_TF_CHUNK_HEADER_SIZE],
				     struct weft_tf_chunk *x)
{
	WEFT_TF_CHUNK_FIELDS(WEFT_TF_GET_)
}

/* ---- the traits of each event ----------------------------------------------- */

/* Task states (enum weft_trace_state) plus NONE: not known / not alive. */
enum weft_tf_tstate {
	WEFT_TF_T_NONE = 0,
	WEFT_TF_T_RUNNABLE = WEFT_TRACE_STATE_RUNNABLE,
	WEFT_TF_T_RUNNING = WEFT_TRACE_STATE_RUNNING,
	WEFT_TF_T_BLOCKED = WEFT_TRACE_STATE_BLOCKED,
	WEFT_TF_T_SYSCALL = WEFT_TRACE_STATE_SYSCALL,
	WEFT_TF_T_MAX
};
#define WEFT_TF_S(st) (1u << WEFT_TF_T_##st) /* a set of states, by name */
#define WEFT_TF_SBIT(state) (1u << (state)) /* the set of one state, by value */

/* Trait flags. */
enum {
	WEFT_TF_TASK = 1,    /* arg 0 is a task the event moves (never 0); delta-coded
				since version 3 */
	WEFT_TF_P = 2,       /* recorded on a P's stream only, never the global one */
	WEFT_TF_ON_P = 4,    /* its task must be running on the event's P */
	WEFT_TF_SET_P = 8,   /* its task is (now) on the event's P */
	WEFT_TF_DEL = 16,    /* its task ends: forget it */
	WEFT_TF_NEW = 32,    /* TASK_CREATE: a new task, seq 0, relative to its stream */
	WEFT_TF_SNAP = 64,   /* TASK_STATE: state (arg 1), seq (arg 4) from the arguments */
	WEFT_TF_EXIT = 128,  /* SYSCALL_EXIT: running if on a P, runnable without one */
};

/*
 * X(NAME, flags, from, to, seq, fn, site): for each event,
 *   flags  WEFT_TF_* above
 *   from   the states its task may be in before (WEFT_TF_S()); 0 for an
 *          event that moves no task
 *   to     its task's state after (WEFT_TF_T_*)
 *   seq    the argument holding its task's sequence number (bumped at
 *          each TASK_START and TASK_UNBLOCK), 0 if none
 *   fn     the argument that is an entry function's code key, 0 if none
 *   site   the argument that is a call site's code key, 0 if none
 * (Argument 0 is never a sequence number or a key, so 0 means none.)
 *
 * The transitions in words (a task not known to the reader may do anything):
 *
 *   event          from                   to                      also
 *   TASK_CREATE    none                   runnable                seq 0 on this stream
 *   TASK_STATE     none                   its state argument      seq, relative to the global stream
 *   TASK_START     runnable               running on this P       numbered
 *   TASK_END       running on this P      none (forgotten)
 *   TASK_YIELD     running on this P      runnable
 *   TASK_BLOCK     running on this P      blocked
 *   TASK_UNBLOCK   blocked                runnable                numbered, any stream
 *   SYSCALL_ENTER  running on this P      in a syscall on this P
 *   SYSCALL_EXIT   in a syscall           running on this P, or runnable on the global stream
 *
 * "On this P" accepts a task whose P is not known (a snapshot of a running
 * task recorded on the global stream).
 */
#define WEFT_TF_TRAITS(X)                                                                  \
	X(PROC_START, 0, 0, 0, 0, 0, 0)                                                    \
	X(PROC_STOP, 0, 0, 0, 0, 0, 0)                                                     \
	X(TASK_CREATE, WEFT_TF_TASK | WEFT_TF_NEW, WEFT_TF_S(NONE), WEFT_TF_T_RUNNABLE,    \
	  0, 2, 3)                                                                         \
	X(TASK_START, WEFT_TF_TASK | WEFT_TF_P | WEFT_TF_SET_P, WEFT_TF_S(RUNNABLE),       \
	  WEFT_TF_T_RUNNING, 1, 0, 0)                                                      \
	X(TASK_END, WEFT_TF_TASK | WEFT_TF_P | WEFT_TF_ON_P | WEFT_TF_DEL,                 \
	  WEFT_TF_S(RUNNING), WEFT_TF_T_NONE, 0, 0, 0)                                     \
	X(TASK_YIELD, WEFT_TF_TASK | WEFT_TF_P | WEFT_TF_ON_P, WEFT_TF_S(RUNNING),         \
	  WEFT_TF_T_RUNNABLE, 0, 0, 0)                                                     \
	X(TASK_BLOCK, WEFT_TF_TASK | WEFT_TF_P | WEFT_TF_ON_P, WEFT_TF_S(RUNNING),         \
	  WEFT_TF_T_BLOCKED, 0, 0, 3)                                                      \
	X(TASK_UNBLOCK, WEFT_TF_TASK, WEFT_TF_S(BLOCKED), WEFT_TF_T_RUNNABLE, 2, 0, 0)     \
	X(SYSCALL_ENTER, WEFT_TF_TASK | WEFT_TF_P | WEFT_TF_ON_P | WEFT_TF_SET_P,          \
	  WEFT_TF_S(RUNNING), WEFT_TF_T_SYSCALL, 0, 0, 1)                                  \
	X(SYSCALL_EXIT, WEFT_TF_TASK | WEFT_TF_EXIT | WEFT_TF_SET_P, WEFT_TF_S(SYSCALL),   \
	  WEFT_TF_T_RUNNING, 0, 0, 0)                                                      \
	X(SYSCALL_HANDOFF, 0, 0, 0, 0, 0, 0)                                               \
	X(STW_BEGIN, 0, 0, 0, 0, 0, 0)                                                     \
	X(STW_END, 0, 0, 0, 0, 0, 0)                                                       \
	X(TASK_STATE, WEFT_TF_TASK | WEFT_TF_SNAP | WEFT_TF_SET_P, WEFT_TF_S(NONE), 0, 0,  \
	  3, 0)                                                                            \
	X(STALL, 0, 0, 0, 0, 0, 0)                                                         \
	X(M_CREATE, 0, 0, 0, 0, 0, 0)                                                      \
	X(STEAL, 0, 0, 0, 0, 0, 0)                                                         \
	X(UTASK_BEGIN, 0, 0, 0, 0, 0, 0)                                                   \
	X(UTASK_END, 0, 0, 0, 0, 0, 0)                                                     \
	X(REGION_BEGIN, 0, 0, 0, 0, 0, 0)                                                  \
	X(REGION_END, 0, 0, 0, 0, 0, 0)                                                    \
	X(LOG, 0, 0, 0, 0, 0, 0)

struct weft_tf_traits {
	uint8_t nargs, nstr;        /* from WEFT_TRACE_EVENTS */
	uint8_t flags;              /* WEFT_TF_* */
	uint8_t from, to;           /* the transition (from == 0: moves no task) */
	uint8_t seq;
	uint8_t fn : 4, site : 4;   /* argument indexes (< WEFT_TRACE_MAX_ARGS) */
	uint8_t valid;              /* 1 for a known event type */
};
/* 8 bytes: the reader's decoder indexes it by type byte per event. */
_Static_assert(sizeof(struct weft_tf_traits) == 8, "struct weft_tf_traits is 8 bytes");

/* Every event has a row of traits, and every row is an event. */
#define WEFT_TF_COUNT_(...) +1
_Static_assert(0 WEFT_TRACE_EVENTS(WEFT_TF_COUNT_) == 0 WEFT_TF_TRAITS(WEFT_TF_COUNT_),
	       "WEFT_TF_TRAITS must have one row per event of WEFT_TRACE_EVENTS");
#define WEFT_TF_CHECK_(name, num, ...) _Static_assert(WEFT_TEV_##name == num, #name);
WEFT_TRACE_EVENTS(WEFT_TF_CHECK_)
#undef WEFT_TF_CHECK_
#undef WEFT_TF_COUNT_

/*
 * The table, indexed by type byte (256 rows so that a decoder indexes it
 * with any byte). Each translation unit that uses it has its own copy;
 * with a constant type, as at every writer hook, the compiler folds the
 * lookup away.
 */
static const struct weft_tf_traits weft_tf_traits[256] = {
#define WEFT_TF_SHAPE_(name, num, nargs_, nstr_, ...)                                      \
	[num].nargs = (nargs_), [num].nstr = (nstr_), [num].valid = 1,
	WEFT_TRACE_EVENTS(WEFT_TF_SHAPE_)
#undef WEFT_TF_SHAPE_
#define WEFT_TF_ROW_(name, flags_, from_, to_, seq_, fn_, site_)                           \
	[WEFT_TEV_##name].flags = (flags_), [WEFT_TEV_##name].from = (from_),             \
	[WEFT_TEV_##name].to = (to_), [WEFT_TEV_##name].seq = (seq_),                     \
	[WEFT_TEV_##name].fn = (fn_), [WEFT_TEV_##name].site = (site_),
	WEFT_TF_TRAITS(WEFT_TF_ROW_)
#undef WEFT_TF_ROW_
};

/* ---- varints and the delta coding ------------------------------------------ */

/*
 * Decode one unsigned LEB128 varint from [@p, @end) into *@v. Returns the
 * byte after it, or NULL if it is truncated or longer than 10 bytes.
 */
static inline const uint8_t *weft_tf_uvarint(const uint8_t *p, const uint8_t *end, uint64_t *v)
{
	uint64_t x = 0;

	for (int s = 0; p < end && s < 64; s += 7) {
		uint8_t c = *p++;
		x |= (uint64_t)(c & 0x7f) << s;
		if (!(c & 0x80)) {
			*v = x;
			return p;
		}
	}
	return NULL;
}

/* Encode @v at @p (room for WEFT_TF_UVARINT_MAX bytes); the byte after it. */
static inline uint8_t *weft_tf_put_uvarint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

static inline uint64_t weft_tf_zigzag(uint64_t id, uint64_t prev)
{
	int64_t d = (int64_t)(id - prev);
	return ((uint64_t)d << 1) ^ (uint64_t)(d >> 63);
}

static inline uint64_t weft_tf_unzigzag(uint64_t z, uint64_t prev)
{
	return prev + ((z >> 1) ^ (0 - (z & 1)));
}

/*
 * The one event encoder (version 3), for the writer's inlined hooks, its
 * slow path and the tests' generators: at @q the type byte, the tick
 * delta @dt and the @n arguments of @a (a[0] delta-coded against
 * *@last_task when the type has WEFT_TF_TASK, which updates *@last_task).
 * Strings, if any, are the caller's to append. Returns the byte after it.
 * With constant @type and @n it compiles to straight-line stores.
 */
static inline __attribute__((always_inline)) uint8_t *
weft_tf_put_event(uint8_t *q, int type, uint64_t dt, int n, const uint64_t *a,
		  uint64_t *last_task)
{
	*q++ = (uint8_t)type;
	q = weft_tf_put_uvarint(q, dt);
	for (int i = 0; i < n; i++) {
		uint64_t v = a[i];
		if (i == 0 && (weft_tf_traits[type].flags & WEFT_TF_TASK)) {
			v = weft_tf_zigzag(a[0], *last_task);
			*last_task = a[0];
		}
		q = weft_tf_put_uvarint(q, v);
	}
	return q;
}

/* The name of block reason @r ("chan receive"), "unknown" if none. */
static inline const char *weft_tf_block_name(int r)
{
	static const char *const names[WEFT_TRACE_BLOCK_MAX] = {
#define WEFT_TF_BNAME_(name, num, str) [num] = str,
		WEFT_TRACE_BLOCK_REASONS(WEFT_TF_BNAME_)
#undef WEFT_TF_BNAME_
	};
	return r >= 0 && r < WEFT_TRACE_BLOCK_MAX && names[r] ? names[r] : "unknown";
}

#endif /* WEFT_TRACE_FORMAT_H */

/*
 * format.h - the weft trace file format, shared by the writer
 * (runtime/trace.c) and the reader library (tracer/reader.c). The prose
 * version, with the ordering rules, is doc/trace-format.md; the two must
 * agree.
 *
 * A file is a header followed by chunks. Everything is little-endian.
 *
 *   header (64 bytes)
 *     0  magic "WEFTTRC\0"        8  u16 version (3)   10 u16 header size
 *    12  u32 zero                 16 u8 clock (0 monotonic ns, 1 TSC)
 *    17  u8 flags (bit 0: complete)                 18 u8[6] zero
 *    24  u64 ticks per second     32 u64 ticks at start
 *    40  i64 CLOCK_REALTIME ns at start             48 u32 Ps at start
 *    52  u32 pid                  56 u64 zero
 *
 *   chunk header (48 bytes), then the payload
 *     0  u32 magic "WCHK"         4  u8 kind (1 events, 2 strings)
 *     5  u8 stream kind (0 P, 1 M/global)          6  u16 zero
 *     8  u32 stream id (P < WEFT_TF_MAX_PROCS; 0)  12 u32 chunk sequence in its stream
 *    16  u64 first tick          24 u64 last tick
 *    32  u32 payload size (compressed)             36 u32 raw size
 *    40  u32 events              44 u32 zero
 *   The payload is one zstd frame (with its checksum) of raw size bytes.
 *
 * Events (kind 1 raw bytes): a type byte, the tick delta from the previous
 * event of the chunk (the first: from the chunk's first tick) as a
 * varint, then the type's arguments as varints (unsigned LEB128), in the
 * order of WEFT_TRACE_EVENTS, then its strings, each a varint length (at
 * most WEFT_TRACE_MAX_STR) and bytes. Since version 3 the task id that is
 * argument 0 of TASK_CREATE..SYSCALL_EXIT and TASK_STATE
 * (WEFT_TF_TASK_ARG0) is written as zigzag(id - previous such id of the
 * chunk), the previous id being 0 at the chunk's start: a task ends with
 * a 0, and the next one it starts is usually +1 or +2 away, so zstd
 * stores the id in a few bits instead of the 2-3 bytes of a varint that
 * changes at every event. Strings (kind 2 raw bytes): records
 * of varint key, varint length, bytes; the key is a code key (fn, site:
 * zigzag(address - executable base) + 1) that the writer names.
 */
#ifndef WEFT_TRACE_FORMAT_H
#define WEFT_TRACE_FORMAT_H

#include <stdint.h>

#define WEFT_TF_MAGIC "WEFTTRC"
#define WEFT_TF_VERSION 3
#define WEFT_TF_VERSION_MIN 2           /* version 2: task ids written as they are */
#define WEFT_TF_HEADER_SIZE 64
#define WEFT_TF_CHUNK_MAGIC 0x4b484357u /* "WCHK" */
#define WEFT_TF_CHUNK_HEADER_SIZE 48
#define WEFT_TF_MAX_RAW (1u << 20)      /* the reader refuses larger chunks */
#define WEFT_TF_MAX_ARGS WEFT_TRACE_MAX_ARGS
#define WEFT_TF_MAX_PROCS 256           /* P stream ids are below this */
#ifdef WEFT_MAX_PROCS
_Static_assert(WEFT_MAX_PROCS <= WEFT_TF_MAX_PROCS, "the reader refuses P ids >= WEFT_TF_MAX_PROCS");
#endif

enum weft_tf_chunk_kind { WEFT_TF_CHUNK_EVENTS = 1, WEFT_TF_CHUNK_STRINGS = 2 };
enum weft_tf_stream { WEFT_TF_STREAM_P = 0, WEFT_TF_STREAM_M = 1 };
enum weft_tf_clock { WEFT_TF_CLOCK_MONO = 0, WEFT_TF_CLOCK_TSC = 1 };
#define WEFT_TF_FLAG_COMPLETE 1 /* header byte 17: weft_trace_stop finished the file */
/* header bytes 18-23: the file's length when complete (0: not recorded, older writers) */
#define WEFT_TF_LENGTH_OFF 18
#define WEFT_TF_LENGTH_SIZE 6

/* The event table and the enums of their arguments are public: see
 * <weft/trace.h>. */
#include "weft/trace.h"

#define WEFT_TF_EVENTS WEFT_TRACE_EVENTS
#define WEFT_TF_EV_MAX WEFT_TEV_MAX
enum {
#define WEFT_TF_ENUM(name, num, nargs, ...) WEFT_TF_EV_##name = num,
	WEFT_TRACE_EVENTS(WEFT_TF_ENUM)
#undef WEFT_TF_ENUM
};
#define WEFT_TF_BLOCK_WG WEFT_TRACE_BLOCK_WG
#define WEFT_TF_BLOCK_SLEEP WEFT_TRACE_BLOCK_SLEEP
#define WEFT_TF_BLOCK_STW WEFT_TRACE_BLOCK_STW
#define WEFT_TF_BLOCK_MAX WEFT_TRACE_BLOCK_MAX
#define WEFT_TF_STATE_RUNNABLE WEFT_TRACE_STATE_RUNNABLE
#define WEFT_TF_STATE_RUNNING WEFT_TRACE_STATE_RUNNING
#define WEFT_TF_STATE_BLOCKED WEFT_TRACE_STATE_BLOCKED
#define WEFT_TF_STATE_SYSCALL WEFT_TRACE_STATE_SYSCALL
#define WEFT_TF_STW_USER WEFT_TRACE_STW_USER
#define WEFT_TF_STW_SET_PROCS WEFT_TRACE_STW_SET_PROCS
#define WEFT_TF_STW_TRACE WEFT_TRACE_STW_TRACE

/*
 * Decode one unsigned LEB128 varint from [@p, @end) into *@v. Returns the
 * byte after it, or NULL if it is truncated or longer than 10 bytes.
 * Used by the writer (to find names in its buffers) and by the reader.
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

/* Whether argument 0 of event @type is a task id, delta-coded since version 3. */
#define WEFT_TF_TASK_ARG0(type)                                                          \
	(((type) >= WEFT_TF_EV_TASK_CREATE && (type) <= WEFT_TF_EV_SYSCALL_EXIT) ||       \
	 (type) == WEFT_TF_EV_TASK_STATE)

static inline uint64_t weft_tf_zigzag(uint64_t id, uint64_t prev)
{
	int64_t d = (int64_t)(id - prev);
	return ((uint64_t)d << 1) ^ (uint64_t)(d >> 63);
}

static inline uint64_t weft_tf_unzigzag(uint64_t z, uint64_t prev)
{
	return prev + ((z >> 1) ^ (0 - (z & 1)));
}

#endif /* WEFT_TRACE_FORMAT_H */

/*
 * pb.h - writing protocol buffers by hand: the wire format's varints,
 * tags and length-delimited fields into a growing byte buffer, for the
 * Perfetto export (TracePacket/TrackEvent) and the pprof profiles
 * (profile.proto). No schema compiler, no library: a writer for a dozen
 * message types is smaller than a generator setup, and Perfetto's own
 * public C headers do the same (include/perfetto/public/pb_utils.h).
 *
 * Nested messages are written without sizing them first: pb_begin()
 * reserves 4 bytes for the length and pb_end() back-patches it as a
 * "redundant" varint (the 7-bit groups with the continuation bit set on
 * the first three, so 4 bytes always), which every protobuf parser
 * accepts; the limit is 2^28 - 1 bytes per message.
 *
 * Rejected: protobuf-c / nanopb (a generator in the build for an output
 * format; we never read these messages back in C); computing sizes first
 * (two passes over every packet).
 */
#ifndef WEFT_TRACE_PB_H
#define WEFT_TRACE_PB_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

enum { PB_VARINT = 0, PB_I64 = 1, PB_LEN = 2, PB_I32 = 5 };

struct pb {
	uint8_t *buf;
	size_t len, cap;
};

static inline void pb_reserve(struct pb *b, size_t n)
{
	if (__builtin_expect(b->len + n > b->cap, 0)) {
		size_t cap = b->cap ? b->cap * 2 : 4096;
		while (cap < b->len + n)
			cap *= 2;
		b->buf = tool_realloc(b->buf, cap, 1);
		b->cap = cap;
	}
}

static inline void pb_varint(struct pb *b, uint64_t v)
{
	pb_reserve(b, 10);
	uint8_t *p = b->buf + b->len;
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	b->len = (size_t)(p - b->buf);
}

static inline void pb_tag(struct pb *b, unsigned field, unsigned wt)
{
	pb_varint(b, ((uint64_t)field << 3) | wt);
}

static inline void pb_uint(struct pb *b, unsigned field, uint64_t v)
{
	pb_tag(b, field, PB_VARINT);
	pb_varint(b, v);
}

static inline void pb_sint(struct pb *b, unsigned field, int64_t v) /* int64, not sint64 */
{
	pb_uint(b, field, (uint64_t)v);
}

static inline void pb_fixed64(struct pb *b, unsigned field, uint64_t v)
{
	pb_tag(b, field, PB_I64);
	pb_reserve(b, 8);
	for (int i = 0; i < 8; i++)
		b->buf[b->len++] = (uint8_t)(v >> (8 * i));
}

static inline void pb_double(struct pb *b, unsigned field, double d)
{
	uint64_t v;
	memcpy(&v, &d, 8);
	pb_fixed64(b, field, v);
}

static inline void pb_bytes(struct pb *b, unsigned field, const void *p, size_t n)
{
	pb_tag(b, field, PB_LEN);
	pb_varint(b, n);
	pb_reserve(b, n);
	memcpy(b->buf + b->len, p, n);
	b->len += n;
}

static inline void pb_str(struct pb *b, unsigned field, const char *s)
{
	pb_bytes(b, field, s, strlen(s));
}

/* Open a length-delimited field (a nested message or a packed array):
 * returns where its 4-byte length goes, for pb_end(). */
static inline size_t pb_begin(struct pb *b, unsigned field)
{
	pb_tag(b, field, PB_LEN);
	pb_reserve(b, 4);
	size_t at = b->len;
	b->len += 4;
	return at;
}

static inline void pb_end(struct pb *b, size_t at)
{
	size_t n = b->len - at - 4;
	if (n >= (1u << 28)) {
		tool_err(NULL, "internal error: a protobuf message of %zu bytes", n);
		abort();
	}
	b->buf[at] = (uint8_t)(n | 0x80);
	b->buf[at + 1] = (uint8_t)((n >> 7) | 0x80);
	b->buf[at + 2] = (uint8_t)((n >> 14) | 0x80);
	b->buf[at + 3] = (uint8_t)(n >> 21);
}

/* Write the buffer to @f and empty it; 0 or -1 (the stream's error flag is set). */
static inline int pb_flush(struct pb *b, FILE *f)
{
	size_t n = b->len;
	b->len = 0;
	return n && fwrite(b->buf, 1, n, f) != n ? -1 : 0;
}

static inline void pb_free(struct pb *b)
{
	free(b->buf);
	b->buf = NULL;
	b->len = b->cap = 0;
}

#endif /* WEFT_TRACE_PB_H */

/*
 * fuzz_reader.c - libFuzzer target for the trace reader. The input is a
 * trace file, or (when it does not start with the magic) a recipe for one:
 * raw event bytes per stream that are compressed here into valid chunks,
 * since a fuzzer flipping bits of a zstd frame with a checksum would
 * almost never get past decompression to the event decoder and the state
 * machine. The file goes to a memfd (opened by its /proc path, as a
 * user's file would be), then every entry point runs on it: open, info,
 * next until the end or an error, the names of every event, argument and
 * key, error. What the reader promises is checked, so a broken promise is
 * a crash the fuzzer keeps:
 *   - an event has a known type, a P in [-1, WEFT_TF_MAX_PROCS), strings
 *     NUL-terminated at their length (at most WEFT_TRACE_MAX_STR);
 *   - times never go back;
 *   - an error (-EPROTO, -EPIPE, -ENOMEM) sticks and comes with a message.
 *
 * Built with clang -fsanitize=fuzzer by "make fuzz" (when configure found
 * it); tests/fuzz/replay.c runs the same entry point over the corpus in
 * every "make check" without libFuzzer. The corpus (tests/fuzz/corpus):
 *   real-*    small traces from the writer (1 and 2 Ps: spawns, ping-pong,
 *             sleeps, a syscall, annotations, set_procs);
 *   hand-*    the traces of check_reader (WEFT_KEEP_TRACES=1 keeps them);
 *   recipe-*  the same two sets as recipes;
 *   bad-*     a real trace with one header or chunk field broken;
 *   crash-*   inputs the fuzzer found that failed once, fixed since.
 * FUZZ_VERBOSE=1 tests/fuzz/replay FILE says what the reader made of FILE.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <zstd.h>

#include <weft/trace.h>

#include "common/trace_format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                        \
	do {                                                                               \
		if (!(cond)) {                                                             \
			fprintf(stderr, "fuzz_reader: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                           \
		}                                                                          \
	} while (0)

static int memfd = -1;
static char path[64];

/* ---- recipes ------------------------------------------------------------------ */

/*
 * A recipe: a flags byte (bit 0: the complete flag; bit 1: keep a record's
 * bytes after its last whole event; bit 2: and count them as one more
 * event, so that the reader decodes them), then records
 *   u8 stream (0xff the global one, 0xfe strings, else P stream % 8)
 *   u32 first tick, u16 length, length raw bytes
 * Each becomes one chunk, its count of events (or names) the number of
 * whole ones at the start of its bytes.
 */
static uint8_t file[1 << 21];
static size_t flen;

static void put(const void *p, size_t n)
{
	if (flen + n <= sizeof(file)) {
		memcpy(file + flen, p, n);
		flen += n;
	}
}

/* Whole events (or name records) at the start of @p; *@len: their bytes. */
static uint32_t count(const uint8_t *p, size_t *len, bool names)
{
	const uint8_t *q = p, *end = p + *len;
	uint32_t n = 0;

	for (;;) {
		const uint8_t *r = q;
		uint64_t v;
		int na = 0, ns = 0;
		if (names) {
			ns = 1;
			if (!(r = weft_tf_uvarint(r, end, &v)))
				break;
		} else {
			if (r >= end || (na = weft_tr_event_nargs(*r)) < 0)
				break;
			ns = weft_tr_event_nstr(*r++);
			na++; /* the tick delta */
		}
		for (int i = 0; i < na && r; i++)
			r = weft_tf_uvarint(r, end, &v);
		for (int i = 0; i < ns && r; i++)
			if ((r = weft_tf_uvarint(r, end, &v)) && v <= (uint64_t)(end - r))
				r += v;
			else
				r = NULL;
		if (!r)
			break;
		q = r;
		n++;
	}
	*len = (size_t)(q - p);
	return n;
}

static void cook(const uint8_t *data, size_t size)
{
	static uint8_t z[1 << 17];
	uint8_t h[WEFT_TF_HEADER_SIZE];
	uint32_t seq[WEFT_TF_MAX_PROCS + 2] = { 0 };
	int flags = data[0];

	weft_tf_header_put(h, &(struct weft_tf_header){
		.version = WEFT_TF_VERSION,
		.size = WEFT_TF_HEADER_SIZE,
		.flags = flags & 1 ? WEFT_TF_FLAG_COMPLETE : 0,
		.ticks_per_sec = 1000000000 });
	flen = 0;
	put(h, sizeof(h));
	for (size_t i = 1; i + 7 <= size;) {
		int st = data[i];
		uint64_t t0 = data[i + 1] | (uint64_t)data[i + 2] << 8 | (uint64_t)data[i + 3] << 16 |
			      (uint64_t)data[i + 4] << 24;
		size_t len = data[i + 5] | (size_t)data[i + 6] << 8, all;
		uint8_t c[WEFT_TF_CHUNK_HEADER_SIZE];
		i += 7;
		if (len > size - i)
			len = size - i;
		all = len;
		uint32_t nev = count(data + i, &len, st == 0xfe);
		if ((flags & 4) && len < all)
			nev++;
		if (flags & 6)
			len = all;
		size_t zn = ZSTD_compress(z, sizeof(z), data + i, len, 1);
		i += all;
		if (ZSTD_isError(zn))
			continue;
		int p = st == 0xff || st == 0xfe ? -1 : st % 8;
		weft_tf_chunk_put(c, &(struct weft_tf_chunk){
			.kind = st == 0xfe ? WEFT_TF_CHUNK_STRINGS : WEFT_TF_CHUNK_EVENTS,
			.stream_kind = p < 0 ? WEFT_TF_STREAM_M : WEFT_TF_STREAM_P,
			.stream_id = p < 0 ? 0 : (uint32_t)p,
			.seq = st == 0xfe ? 0 : seq[p + 1]++,
			.t_first = t0,
			.zsize = (uint32_t)zn, .rawsize = (uint32_t)len, .nev = nev });
		put(c, sizeof(c));
		put(z, zn);
	}
}

static void touch_names(const weft_tr *t, const weft_tr_event *ev)
{
	int n = weft_tr_event_nargs(ev->type);

	CHECK(n >= 0 && n <= WEFT_TRACE_MAX_ARGS);
	CHECK(weft_tr_event_name(ev->type) != NULL);
	CHECK(weft_tr_event_nstr(ev->type) >= 0);
	for (int i = 0; i < n; i++) {
		CHECK(weft_tr_arg_name(ev->type, i) != NULL);
		const char *s = weft_tr_string(t, ev->args[i]); /* any key: fn, site or not */
		if (s)
			(void)strlen(s);
	}
	for (int i = n; i < WEFT_TRACE_MAX_ARGS; i++)
		CHECK(ev->args[i] == 0);
	CHECK(weft_tr_arg_name(ev->type, n) == NULL);
	if (ev->type == WEFT_TEV_TASK_BLOCK || ev->type == WEFT_TEV_TASK_STATE)
		CHECK(weft_tr_block_name((int)(ev->args[ev->type == WEFT_TEV_TASK_BLOCK ? 1 : 2] &
						  0xffff)) != NULL);
	if (ev->type == WEFT_TEV_TASK_CREATE || ev->type == WEFT_TEV_TASK_STATE) {
		const char *s = weft_tr_fn_name(t, ev->args[ev->type == WEFT_TEV_TASK_CREATE ? 2 : 3]);
		if (s)
			(void)strlen(s);
	}
	for (int i = 0; i < 2; i++) {
		if (i >= weft_tr_event_nstr(ev->type)) {
			CHECK(ev->str[i] == NULL && ev->strlen[i] == 0);
			continue;
		}
		CHECK(ev->str[i] != NULL);
		CHECK(ev->strlen[i] <= WEFT_TRACE_MAX_STR);
		CHECK(ev->str[i][ev->strlen[i]] == 0);
		CHECK(strlen(ev->str[i]) <= ev->strlen[i]); /* a string may hold NULs */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	weft_tr *t;
	weft_tr_info info;
	weft_tr_event ev;
	char err[256];
	uint64_t last = 0, n = 0;
	int r;

	if (memfd < 0) {
		memfd = memfd_create("fuzz_reader", MFD_CLOEXEC);
		CHECK(memfd >= 0);
		snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	}
	if (size > 0 && data[0] != WEFT_TF_MAGIC[0]) {
		cook(data, size);
		data = file;
		size = flen;
	}
	CHECK(ftruncate(memfd, 0) == 0);
	CHECK(pwrite(memfd, data, size, 0) == (ssize_t)size);
	if ((r = weft_tr_open(path, &t, err, sizeof(err))) < 0) {
		CHECK(r == -EPROTO || r == -EPIPE || r == -ENOMEM);
		CHECK(strlen(err) > 0);
		if (getenv("FUZZ_VERBOSE"))
			fprintf(stderr, "open: %s\n", err);
		return 0;
	}
	weft_tr_get_info(t, &info);
	CHECK(info.version >= WEFT_TF_VERSION_MIN && info.version <= WEFT_TF_VERSION);
	CHECK(info.file_bytes == size);
	CHECK(!strcmp(weft_tr_error(t), "no error"));
	while ((r = weft_tr_next(t, &ev)) > 0) {
		CHECK(ev.p >= -1 && ev.p < WEFT_TF_MAX_PROCS);
		CHECK(ev.ts >= last);
		CHECK(ev.offset >= WEFT_TF_HEADER_SIZE && ev.offset < size);
		last = ev.ts;
		touch_names(t, &ev);
		n++;
	}
	if (getenv("FUZZ_VERBOSE")) /* FUZZ_VERBOSE=1 tests/fuzz/replay FILE: what it reads */
		fprintf(stderr, "%llu events, then %s\n", (unsigned long long)n,
			r < 0 ? weft_tr_error(t) : "the end");
	if (r < 0) {
		CHECK(r == -EPROTO || r == -EPIPE || r == -ENOMEM);
		CHECK(strncmp(weft_tr_error(t), "offset ", 7) == 0);
		CHECK(weft_tr_next(t, &ev) == r);
	} else {
		CHECK(weft_tr_next(t, &ev) == 0);
	}
	weft_tr_close(t);
	return 0;
}

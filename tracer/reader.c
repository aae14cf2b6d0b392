/*
 * reader.c - the trace reader library (include/weft/trace.h).
 *
 * Opening reads the header and indexes the file: it walks the chunk
 * headers (pread of 48 bytes each, payloads skipped), checks every size
 * against the format's bounds and the file's length, loads the string
 * chunks (function names) and records, per stream, where its event chunks
 * are. Reading then merges the streams: each stream holds one decoded
 * chunk at a time, and a min-heap over the streams' next events gives the
 * global order (time, then stream number). So memory is the index (a few
 * dozen bytes per 64 KiB chunk) plus one chunk (at most 1 MiB) per
 * stream, whatever the trace's length.
 *
 * Errors carry the byte offset of the chunk and what was wrong. A file
 * that ends inside a chunk (a killed writer) is read up to its last whole
 * chunk, then weft_trace_next() returns -EPIPE saying where it ends.
 *
 * Rejected: reading chunks in file order and merging what is loaded (a P
 * whose buffer is flushed only at the end would force holding every chunk
 * written meanwhile); mmap of the whole file (a truncated file raises
 * SIGBUS, and 32-bit hosts run out of address space).
 *
 * Not yet: validating each task's state machine across events, ordering
 * ties by per-task sequence numbers (the writer does not record them yet).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zstd.h>

#include "weft/trace.h"
#include "format.h"

#define MAX_STREAMS 4096

struct chunk_ref {
	uint64_t off; /* of the header */
	uint32_t zsize, rawsize, nev, seq;
	uint64_t t_first;
};

struct stream {
	int kind, id;
	struct chunk_ref *chunks;
	size_t n, cap, next; /* next chunk to load */
	uint8_t *raw;        /* the decoded chunk */
	size_t rawlen, pos;
	uint32_t left;       /* events left in it */
	uint64_t tick;       /* of the event at pos (prefetched: ev) */
	uint64_t chunk_off;
	bool has_ev;
	weft_trace_event ev;
	char str[2][WEFT_TRACE_MAX_STR + 1]; /* ev's strings */
};

struct name {
	uint64_t key;
	char *s;
};

struct weft_trace {
	int fd;
	uint64_t size;
	weft_trace_info info;
	uint64_t tick0;
	struct stream *streams;
	size_t nstreams;
	int *heap; /* stream indices by next event */
	size_t nheap;
	struct name *names;
	size_t nnames, capnames;
	void *zbuf;
	size_t zcap;
	ZSTD_DCtx *dctx;
	uint64_t truncated_at; /* 0, or where the file ends inside a chunk */
	char out_str[2][WEFT_TRACE_MAX_STR + 1]; /* the strings of the event returned */
	bool failed;
	int err;
	char msg[512];
};

static const char *const ev_names[WEFT_TEV_MAX] = {
#define NAME_(name, num, ...) [num] = #name,
	WEFT_TRACE_EVENTS(NAME_)
#undef NAME_
};

static const signed char ev_nargs[WEFT_TEV_MAX] = {
#define NARGS_(name, num, nargs, ...) [num] = nargs,
	WEFT_TRACE_EVENTS(NARGS_)
#undef NARGS_
};

static const signed char ev_nstr[WEFT_TEV_MAX] = {
#define NSTR_(name, num, nargs, nstr, ...) [num] = nstr,
	WEFT_TRACE_EVENTS(NSTR_)
#undef NSTR_
};

static const char *const ev_argnames[WEFT_TEV_MAX][WEFT_TRACE_MAX_ARGS + 1] = {
#define ARGN_(name, num, nargs, nstr, ...) [num] = { __VA_ARGS__ },
	WEFT_TRACE_EVENTS(ARGN_)
#undef ARGN_
};

static const char *const block_names[WEFT_TRACE_BLOCK_MAX] = {
	[WEFT_TRACE_BLOCK_NONE] = "none",
	[WEFT_TRACE_BLOCK_WG] = "wait group",
	[WEFT_TRACE_BLOCK_MUTEX] = "mutex",
	[WEFT_TRACE_BLOCK_SEMA] = "semaphore",
	[WEFT_TRACE_BLOCK_CHAN_SEND] = "chan send",
	[WEFT_TRACE_BLOCK_CHAN_RECV] = "chan receive",
	[WEFT_TRACE_BLOCK_SELECT] = "select",
	[WEFT_TRACE_BLOCK_SLEEP] = "sleep",
	[WEFT_TRACE_BLOCK_SYSCALL] = "syscall",
	[WEFT_TRACE_BLOCK_STW] = "stop-the-world",
};

const char *weft_trace_event_name(int type)
{
	return type > 0 && type < WEFT_TEV_MAX ? ev_names[type] : NULL;
}

int weft_trace_event_nargs(int type)
{
	return type > 0 && type < WEFT_TEV_MAX && ev_names[type] ? ev_nargs[type] : -1;
}

int weft_trace_event_nstr(int type)
{
	return type > 0 && type < WEFT_TEV_MAX && ev_names[type] ? ev_nstr[type] : -1;
}

const char *weft_trace_arg_name(int type, int i)
{
	if (weft_trace_event_nargs(type) < 0 || i < 0 || i >= ev_nargs[type])
		return NULL;
	return ev_argnames[type][i];
}

const char *weft_trace_block_name(int reason)
{
	return reason >= 0 && reason < WEFT_TRACE_BLOCK_MAX ? block_names[reason] : "unknown";
}

__attribute__((format(printf, 4, 5))) static int fail(weft_trace *t, int err, uint64_t off,
						      const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(t->msg, sizeof(t->msg), "offset %llu: ", (unsigned long long)off);

	va_start(ap, fmt);
	vsnprintf(t->msg + n, sizeof(t->msg) - (size_t)n, fmt, ap);
	va_end(ap);
	t->failed = true;
	t->err = err;
	return err;
}

static uint64_t le(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static int read_at(weft_trace *t, void *buf, size_t n, uint64_t off)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = pread(t->fd, (char *)buf + got, n - got, (off_t)(off + got));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return fail(t, -errno, off, "read error: %s", strerror(errno));
		}
		if (r == 0)
			return fail(t, -EPIPE, off, "unexpected end of file");
		got += (size_t)r;
	}
	return 0;
}

/* Decompress the payload of @c (at @off) into @dst (rawsize bytes). */
static int load_payload(weft_trace *t, uint64_t off, uint32_t zsize, uint32_t rawsize,
			uint8_t *dst)
{
	size_t r;
	int err;

	if ((err = read_at(t, t->zbuf, zsize, off + WEFT_TF_CHUNK_HEADER_SIZE)) < 0)
		return err;
	r = ZSTD_decompressDCtx(t->dctx, dst, rawsize, t->zbuf, zsize);
	if (ZSTD_isError(r))
		return fail(t, -EPROTO, off, "chunk payload does not decompress: %s",
			    ZSTD_getErrorName(r));
	if (r != rawsize)
		return fail(t, -EPROTO, off, "chunk payload is %zu bytes, its header says %u", r,
			    rawsize);
	return 0;
}

static int add_names(weft_trace *t, uint64_t off, const uint8_t *p, size_t len, uint32_t n)
{
	const uint8_t *end = p + len;

	for (uint32_t i = 0; i < n; i++) {
		uint64_t key, sl;
		if (!(p = weft_tf_uvarint(p, end, &key)) || !(p = weft_tf_uvarint(p, end, &sl)) ||
		    sl > (uint64_t)(end - p))
			return fail(t, -EPROTO, off, "string record %u is truncated", i);
		if (t->nnames == t->capnames) {
			size_t cap = t->capnames ? 2 * t->capnames : 64;
			struct name *nn = realloc(t->names, cap * sizeof(*nn));
			if (!nn)
				return fail(t, -ENOMEM, off, "out of memory for names");
			t->names = nn;
			t->capnames = cap;
		}
		char *s = malloc(sl + 1);
		if (!s)
			return fail(t, -ENOMEM, off, "out of memory for names");
		memcpy(s, p, sl);
		s[sl] = 0;
		t->names[t->nnames].key = key;
		t->names[t->nnames].s = s;
		t->nnames++;
		p += sl;
	}
	if (p != end)
		return fail(t, -EPROTO, off, "string chunk has %zu bytes after its %u records",
			    (size_t)(end - p), n);
	return 0;
}

static struct stream *stream_of(weft_trace *t, int kind, int id)
{
	for (size_t i = 0; i < t->nstreams; i++)
		if (t->streams[i].kind == kind && t->streams[i].id == id)
			return &t->streams[i];
	if (t->nstreams == MAX_STREAMS)
		return NULL;
	struct stream *ns = realloc(t->streams, (t->nstreams + 1) * sizeof(*ns));
	if (!ns)
		return NULL;
	t->streams = ns;
	memset(&ns[t->nstreams], 0, sizeof(*ns));
	ns[t->nstreams].kind = kind;
	ns[t->nstreams].id = id;
	return &ns[t->nstreams++];
}

static int cmp_chunk(const void *a, const void *b)
{
	const struct chunk_ref *x = a, *y = b;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int index_file(weft_trace *t)
{
	uint64_t off = WEFT_TF_HEADER_SIZE;
	uint8_t h[WEFT_TF_CHUNK_HEADER_SIZE];
	uint8_t *raw = malloc(WEFT_TF_MAX_RAW);
	int err = 0;

	if (!raw)
		return fail(t, -ENOMEM, 0, "out of memory");
	while (off < t->size) {
		if (t->size - off < sizeof(h)) {
			t->truncated_at = off;
			break;
		}
		if ((err = read_at(t, h, sizeof(h), off)) < 0)
			break;
		uint32_t magic = (uint32_t)le(h, 4), zsize = (uint32_t)le(h + 32, 4);
		uint32_t rawsize = (uint32_t)le(h + 36, 4), nev = (uint32_t)le(h + 40, 4);
		int kind = h[4], skind = h[5];
		if (magic != WEFT_TF_CHUNK_MAGIC) {
			err = fail(t, -EPROTO, off, "not a chunk header (magic %08x)", magic);
			break;
		}
		if (rawsize > WEFT_TF_MAX_RAW || zsize > t->zcap || zsize == 0) {
			err = fail(t, -EPROTO, off, "chunk sizes out of bounds (%u compressed, %u raw)",
				   zsize, rawsize);
			break;
		}
		if (t->size - off - sizeof(h) < zsize) {
			t->truncated_at = off;
			break;
		}
		if (kind == WEFT_TF_CHUNK_STRINGS) {
			if ((err = load_payload(t, off, zsize, rawsize, raw)) < 0 ||
			    (err = add_names(t, off, raw, rawsize, nev)) < 0)
				break;
		} else if (kind == WEFT_TF_CHUNK_EVENTS) {
			if (skind != WEFT_TF_STREAM_P && skind != WEFT_TF_STREAM_M) {
				err = fail(t, -EPROTO, off, "unknown stream kind %d", skind);
				break;
			}
			if (nev > rawsize / 2) {
				err = fail(t, -EPROTO, off, "%u events cannot fit in %u bytes", nev,
					   rawsize);
				break;
			}
			uint32_t id = (uint32_t)le(h + 8, 4);
			struct stream *s = id < MAX_STREAMS ? stream_of(t, skind, (int)id) : NULL;
			if (!s) {
				err = fail(t, -EPROTO, off, "stream id %u out of bounds", id);
				break;
			}
			if (s->n == s->cap) {
				size_t cap = s->cap ? 2 * s->cap : 16;
				struct chunk_ref *c = realloc(s->chunks, cap * sizeof(*c));
				if (!c) {
					err = fail(t, -ENOMEM, off, "out of memory for the index");
					break;
				}
				s->chunks = c;
				s->cap = cap;
			}
			s->chunks[s->n++] = (struct chunk_ref){ off, zsize, rawsize, nev,
								(uint32_t)le(h + 12, 4), le(h + 16, 8) };
			t->info.events += nev;
		} else {
			err = fail(t, -EPROTO, off, "unknown chunk kind %d", kind);
			break;
		}
		t->info.chunks++;
		t->info.raw_bytes += rawsize;
		off += sizeof(h) + zsize;
	}
	free(raw);
	if (err)
		return err;
	for (size_t i = 0; i < t->nstreams; i++) {
		struct stream *s = &t->streams[i];
		qsort(s->chunks, s->n, sizeof(*s->chunks), cmp_chunk);
		for (size_t k = 1; k < s->n; k++)
			if (s->chunks[k].seq != s->chunks[k - 1].seq + 1)
				return fail(t, -EPROTO, s->chunks[k].off,
					    "stream %s%d: chunk %u follows chunk %u (one is missing)",
					    s->kind == WEFT_TF_STREAM_P ? "P" : "M", s->id,
					    s->chunks[k].seq, s->chunks[k - 1].seq);
		if (!(s->raw = malloc(WEFT_TF_MAX_RAW)))
			return fail(t, -ENOMEM, 0, "out of memory");
	}
	return 0;
}

/* Decode the next event of @s into s->ev (loading chunks as needed). */
static int advance(weft_trace *t, struct stream *s)
{
	s->has_ev = false;
	while (s->left == 0) {
		if (s->next == s->n)
			return 0;
		struct chunk_ref *c = &s->chunks[s->next++];
		int err = load_payload(t, c->off, c->zsize, c->rawsize, s->raw);
		if (err < 0)
			return err;
		s->rawlen = c->rawsize;
		s->pos = 0;
		s->left = c->nev;
		s->tick = c->t_first;
		s->chunk_off = c->off;
		if (c->nev == 0 && c->rawsize != 0)
			return fail(t, -EPROTO, c->off, "an empty chunk with %u bytes", c->rawsize);
	}
	const uint8_t *p = s->raw + s->pos, *end = s->raw + s->rawlen;
	uint64_t d;
	int type, n;

	if (p >= end)
		return fail(t, -EPROTO, s->chunk_off, "chunk ends %u events early", s->left);
	type = *p++;
	n = weft_trace_event_nargs(type);
	if (n < 0)
		return fail(t, -EPROTO, s->chunk_off, "unknown event type %d at byte %zu of the chunk",
			    type, s->pos);
	if (!(p = weft_tf_uvarint(p, end, &d)))
		return fail(t, -EPROTO, s->chunk_off, "truncated timestamp at byte %zu of the chunk",
			    s->pos);
	memset(&s->ev, 0, sizeof(s->ev));
	for (int i = 0; i < n; i++)
		if (!(p = weft_tf_uvarint(p, end, &s->ev.args[i])))
			return fail(t, -EPROTO, s->chunk_off,
				    "truncated %s event at byte %zu of the chunk", ev_names[type],
				    s->pos);
	for (int i = 0; i < ev_nstr[type]; i++) {
		uint64_t sl;
		if (!(p = weft_tf_uvarint(p, end, &sl)) || sl > WEFT_TRACE_MAX_STR ||
		    sl > (uint64_t)(end - p))
			return fail(t, -EPROTO, s->chunk_off,
				    "bad string in a %s event at byte %zu of the chunk",
				    ev_names[type], s->pos);
		memcpy(s->str[i], p, sl);
		s->str[i][sl] = 0;
		s->ev.str[i] = s->str[i];
		s->ev.strlen[i] = (uint32_t)sl;
		p += sl;
	}
	s->tick += d;
	s->pos = (size_t)(p - s->raw);
	s->left--;
	if (s->left == 0 && s->pos != s->rawlen)
		return fail(t, -EPROTO, s->chunk_off, "%zu bytes after the chunk's last event",
			    s->rawlen - s->pos);
	s->ev.type = type;
	s->ev.p = s->kind == WEFT_TF_STREAM_P ? s->id : -1;
	s->ev.offset = s->chunk_off;
	uint64_t rel = s->tick >= t->tick0 ? s->tick - t->tick0 : 0;
	s->ev.ts = t->info.ticks_per_sec == 1000000000
			   ? rel
			   : (uint64_t)((long double)rel * 1e9L / (long double)t->info.ticks_per_sec);
	s->has_ev = true;
	return 1;
}

static bool before(const weft_trace *t, int a, int b)
{
	const struct stream *x = &t->streams[a], *y = &t->streams[b];

	return x->ev.ts < y->ev.ts || (x->ev.ts == y->ev.ts && a < b);
}

static void sift_down(weft_trace *t, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, m = i;
		if (l < t->nheap && before(t, t->heap[l], t->heap[m]))
			m = l;
		if (l + 1 < t->nheap && before(t, t->heap[l + 1], t->heap[m]))
			m = l + 1;
		if (m == i)
			return;
		int tmp = t->heap[i];
		t->heap[i] = t->heap[m];
		t->heap[m] = tmp;
		i = m;
	}
}

int weft_trace_open(const char *path, weft_trace **out, char *errbuf, size_t errlen)
{
	weft_trace *t = calloc(1, sizeof(*t));
	uint8_t h[WEFT_TF_HEADER_SIZE];
	struct stat st;
	int err;

	*out = NULL;
	if (!t) {
		snprintf(errbuf, errlen, "out of memory");
		return -ENOMEM;
	}
	t->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (t->fd < 0 || fstat(t->fd, &st) != 0) {
		err = -errno;
		snprintf(errbuf, errlen, "%s: %s", path, strerror(errno));
		if (t->fd >= 0)
			close(t->fd);
		free(t);
		return err;
	}
	t->size = (uint64_t)st.st_size;
	t->info.file_bytes = t->size;
	t->zcap = ZSTD_compressBound(WEFT_TF_MAX_RAW);
	t->zbuf = malloc(t->zcap);
	t->dctx = ZSTD_createDCtx();
	if (!t->zbuf || !t->dctx) {
		err = fail(t, -ENOMEM, 0, "out of memory");
		goto out;
	}
	if (t->size < sizeof(h)) {
		err = fail(t, -EPROTO, 0, "too short for a weft trace header (%llu bytes)",
			   (unsigned long long)t->size);
		goto out;
	}
	if ((err = read_at(t, h, sizeof(h), 0)) < 0)
		goto out;
	if (memcmp(h, WEFT_TF_MAGIC, 8) != 0) {
		err = fail(t, -EPROTO, 0, "not a weft trace (bad magic)");
		goto out;
	}
	t->info.version = (int)le(h + 8, 2);
	if (t->info.version != WEFT_TF_VERSION || le(h + 10, 2) != WEFT_TF_HEADER_SIZE) {
		err = fail(t, -EPROTO, 8,
			   "trace format version %d (header %llu bytes); this reader knows "
			   "version %d",
			   t->info.version, (unsigned long long)le(h + 10, 2), WEFT_TF_VERSION);
		goto out;
	}
	t->info.clock = h[16];
	t->info.complete = (h[17] & WEFT_TF_FLAG_COMPLETE) != 0;
	t->info.ticks_per_sec = le(h + 24, 8);
	t->tick0 = le(h + 32, 8);
	t->info.start_unix_ns = (int64_t)le(h + 40, 8);
	t->info.procs = (int)le(h + 48, 4);
	t->info.pid = (int)le(h + 52, 4);
	if (t->info.clock > WEFT_TF_CLOCK_TSC || t->info.ticks_per_sec < 1000 ||
	    t->info.ticks_per_sec > 100000000000ULL) {
		err = fail(t, -EPROTO, 16, "bad clock (kind %d, %llu ticks/s)", t->info.clock,
			   (unsigned long long)t->info.ticks_per_sec);
		goto out;
	}
	if ((err = index_file(t)) < 0)
		goto out;
	t->heap = malloc((t->nstreams + 1) * sizeof(*t->heap));
	if (!t->heap) {
		err = fail(t, -ENOMEM, 0, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < t->nstreams; i++) {
		if ((err = advance(t, &t->streams[i])) < 0)
			goto out;
		if (err > 0)
			t->heap[t->nheap++] = (int)i;
	}
	for (size_t i = t->nheap / 2 + 1; i-- > 0;)
		sift_down(t, i);
	*out = t;
	return 0;
out:
	snprintf(errbuf, errlen, "%s: %s", path, t->msg);
	weft_trace_close(t);
	return err;
}

int weft_trace_next(weft_trace *t, weft_trace_event *ev)
{
	int r;

	if (t->failed)
		return t->err;
	if (t->nheap == 0) {
		if (t->truncated_at)
			return fail(t, -EPIPE, t->truncated_at,
				    "the file ends inside a chunk (%llu bytes): it was cut short",
				    (unsigned long long)t->size);
		return 0;
	}
	struct stream *s = &t->streams[t->heap[0]];
	*ev = s->ev;
	for (int i = 0; i < 2; i++)
		if (ev->str[i]) {
			memcpy(t->out_str[i], ev->str[i], ev->strlen[i] + 1);
			ev->str[i] = t->out_str[i];
		}
	if ((r = advance(t, s)) < 0)
		return r;
	if (r == 0)
		t->heap[0] = t->heap[--t->nheap];
	sift_down(t, 0);
	return 1;
}

const char *weft_trace_error(const weft_trace *t)
{
	return t->failed ? t->msg : "no error";
}

void weft_trace_get_info(const weft_trace *t, weft_trace_info *info)
{
	*info = t->info;
}

const char *weft_trace_string(const weft_trace *t, uint64_t key)
{
	for (size_t i = 0; i < t->nnames; i++)
		if (t->names[i].key == key)
			return t->names[i].s;
	return NULL;
}

const char *weft_trace_fn_name(const weft_trace *t, uint64_t fn)
{
	return weft_trace_string(t, fn);
}

void weft_trace_close(weft_trace *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nstreams; i++) {
		free(t->streams[i].chunks);
		free(t->streams[i].raw);
	}
	for (size_t i = 0; i < t->nnames; i++)
		free(t->names[i].s);
	free(t->names);
	free(t->streams);
	free(t->heap);
	free(t->zbuf);
	ZSTD_freeDCtx(t->dctx);
	if (t->fd >= 0)
		close(t->fd);
	free(t);
}

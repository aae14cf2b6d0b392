/*
 * reader.c - the trace reader library (include/weft/trace.h).
 *
 * What. Opening reads the header and indexes the file: it walks the chunk
 * headers (pread of 48 bytes each, payloads skipped), checks every size
 * against the format's bounds and the file's length, loads the string
 * chunks (names of code keys) into one pool with a hash index, and
 * records, per stream, where its event chunks are. Reading then merges the
 * streams into one causal order and checks every task's state machine on
 * the way. Format and ordering rules: doc/trace-format.md.
 *
 * Decoding. Each stream holds one decompressed chunk (a helper thread
 * decompresses the next one meanwhile: "reading ahead") and decodes up to 64
 * events of it at a time into a small array (one tight loop: the varints
 * of an event are not length-predictable, and a loop over a batch keeps
 * the branch predictor and the pipeline busier than one event per call).
 * The first event not yet returned is the stream's "head".
 *
 * Merging. A min-heap orders the heads by tick, then stream (P streams by
 * number, then the global one). The earliest head is taken when it is
 * ready: its task is in the state the event leaves from (START needs a
 * runnable task, BLOCK one running on this P: the table before check())
 * and, if the event carries an explicit sequence number s, the task's last
 * one was s - 1. When the earliest head is not ready - clocks tie, or the
 * TSCs of two CPUs are a few ticks apart, and an UNBLOCK on P1 is stamped
 * after the START it caused on P0 - the earliest ready head of another
 * stream goes first (the "frontier" of Go 1.5-1.20's trace parser). A head
 * waits only for events of other streams, so in a consistent trace some
 * head is always ready; when none is, the trace is corrupt and the
 * earliest head is reported with what was wrong with it ("task 7:
 * TASK_START on P0 while running on P1"). Events taken ahead of an
 * earlier-stamped head are given the stamp of the event before them:
 * returned times never go back.
 *
 * Invariants.
 *   - Memory is the index (a few dozen bytes per chunk), the names, two
 *     decompressed chunks per stream (at most 1 MiB each, sized to the
 *     stream's largest; one if the stream has one chunk) with a batch, and
 *     one entry per live task (removed at TASK_END): it does not grow with
 *     the trace's length.
 *   - Every size read from the file is bounded before it is used: chunk
 *     sizes by the format's limits and the file's length, event counts by
 *     the raw size, strings by the chunk and WEFT_TRACE_MAX_STR, names by
 *     MAX_NAME and MAX_NAMES, stream ids by WEFT_TF_MAX_PROCS: a small file
 *     cannot make the reader hold more than about half a GiB (2 MiB per
 *     stream, 64 MiB of names), however well its chunks compress.
 *   - A task in the table is in the state its last returned event left it
 *     in; a task not in it is unknown (it ran before the trace started and
 *     the snapshot is missing, or it ended): its first event is believed,
 *     and an explicit seq is taken as it comes.
 *   - weft_trace_next returns the events of a stream in the stream's order,
 *     and an event with an explicit seq s of task T only after T's event
 *     with seq s - 1.
 *   - An error sticks: once weft_trace_next failed it fails again.
 *
 * Lossy files. A file that ends inside a chunk (a killed writer) is read
 * up to its last whole chunk, then weft_trace_next() returns -EPIPE saying
 * where it ends. In such a file, and in one whose writer died before it
 * set the complete flag, each stream lost a different tail, so a head may
 * wait for an event that was lost: when no head is ready there, the
 * earliest one is taken anyway and its task forgotten (treated as
 * unknown) instead of failing.
 *
 * Rejected:
 *   - Reading chunks in file order and merging what is loaded: a P whose
 *     buffer is flushed only at the end would force holding every chunk
 *     written meanwhile.
 *   - mmap of the whole file: a truncated file raises SIGBUS, and 32-bit
 *     hosts run out of address space.
 *   - Ordering by sequence numbers alone: a task that yields on P0 and is
 *     started on P1 has no numbered event between, and neither has one that
 *     leaves a syscall on another P and blocks there; the state machine
 *     orders those, as in Go's parser.
 *   - Failing at once on a head that is not ready: it is the normal case at
 *     a tie, and only "no head is ready" tells a corrupt trace apart.
 *   - Keeping every task ever seen (simpler than a table with deletion, but
 *     memory would grow with the trace).
 *   - Decoding the next event into the caller's struct on demand: the
 *     per-call overhead made the reader slower than the batches, and
 *     copying a struct that was just written field by field stalls on
 *     store forwarding (so the heap compares entries in place, too).
 *   - Decoding batches in the helper thread too: the decoded events are 8
 *     times the size of the raw bytes, so the batches would have to be
 *     bigger than a chunk to pay for the handover, and memory would grow.
 *   - A branch-free varint decoder (one 8-byte load, the terminating byte
 *     found by its clear high bit): slower here, its dependency chain is
 *     longer than the predicted one-byte case that most varints take.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zstd.h>

#include "weft/trace.h"
#include "common/trace_format.h"

#define NO_STREAM (-2) /* task.last: none yet */
#define GLOBAL (-1)    /* the P of the global (no-P) stream */
#define MAX_NAME 4096  /* longer names are refused (the writer's are < 256) */
#define MAX_NAMES (64 << 20) /* and more than this in all */

struct chunk_ref {
	uint64_t off; /* of the header */
	uint32_t zsize, rawsize, nev, seq;
	uint64_t t_first;
};

/* How decompressing a chunk went, for the reading thread to report. */
struct zres {
	int err;          /* 0, -EPROTO, -EPIPE (the file is shorter), -errno of pread */
	size_t got;       /* bytes it decompressed to */
	const char *zerr; /* zstd's reason, if it failed */
};

enum { AH_NONE, AH_QUEUED, AH_BUSY, AH_DONE };

/* A decoded event waiting in its stream's batch (one cache line). */
struct bev {
	uint64_t tick;
	uint64_t args[WEFT_TRACE_MAX_ARGS];
	uint32_t ev_pos;  /* byte of the event in its chunk */
	uint32_t str_pos; /* byte of its first string */
	uint8_t type;
};

#define BATCH 64 /* events decoded at a time per stream */

struct stream {
	int kind, id, p;     /* p: the P id, GLOBAL for the global stream */
	struct chunk_ref *chunks;
	size_t n, cap, next; /* next chunk to load */
	uint8_t *raw;        /* the decompressed chunk */
	size_t rawcap, rawlen, pos; /* pos: after the batch */
	uint32_t left;       /* events of the chunk after the batch */
	uint64_t tick;       /* of the batch's last event */
	uint64_t last_task;  /* its last task-id argument (version 3 delta base) */
	uint64_t chunk_off;
	struct bev batch[BATCH]; /* the head and the events after it (see struct hent) */
	/* the read-ahead: the chunk after the loaded one */
	uint8_t *spare;         /* its buffer; NULL if the stream has one chunk */
	bool asked;             /* the reading thread's: it asked the helper for next */
	int ah_state;           /* AH_*; this and the next two under the helper's lock */
	size_t ah_chunk;        /* which (index in chunks) */
	struct zres ah_res;     /* how it went */
	struct stream *ah_next; /* the helper's queue */
	char str[2][WEFT_TRACE_MAX_STR + 1]; /* the strings of the event returned */
};

/*
 * A heap entry: a stream's head, its tick (the key) and the stream (the
 * tie-break). The head is reached without touching the stream: the heap
 * is all the merge reads per event.
 */
struct hent {
	uint64_t tick;
	struct bev *b, *end; /* the head, and the end of the decoded batch */
	uint32_t s;
	int32_t p;           /* the stream's P */
};

/* A live task; id 0 marks an empty slot. */
struct task {
	uint64_t id;
	uint64_t seq;  /* its last sequence number, if seq_known */
	int32_t p;     /* WEFT_TF_T_RUNNING, WEFT_TF_T_SYSCALL: the P (-1 if not known) */
	int32_t last;  /* P of the stream of its last numbered event (GLOBAL, NO_STREAM) */
	uint8_t state; /* enum weft_tf_tstate */
	bool seq_known;
};

/* Why a head is not ready. */
enum { RDY_OK, RDY_STATE, RDY_SEQ, RDY_SEQ0 };

struct name {
	uint64_t key;
	size_t off; /* in the pool */
};

struct weft_trace {
	int fd;
	uint64_t size;
	weft_trace_info info;
	uint64_t tick0;
	uint64_t ns_int, ns_frac; /* ns per tick: ns_int + ns_frac / 2^64 */
	uint64_t last_ts;         /* of the event returned last */
	bool delta_ids;           /* version 3: task ids delta-coded (trace_format.h) */
	struct stream *streams;
	size_t nstreams, capstreams;
	struct hent *heap; /* the streams' heads, earliest first */
	size_t nheap;
	long taken; /* heap position of the stream whose head was returned, or -1 */
#define NOT_STARTED (-2) /* taken before the first weft_trace_next() */
	bool lossy; /* some tails are lost: a stall is not an error */
	/* names of code keys: pool of NUL-terminated strings, and a hash index */
	struct name *names;
	size_t nnames, capnames;
	char *pool;
	size_t pool_len, pool_cap;
	uint32_t *name_idx; /* name index + 1; 0 empty */
	size_t name_cap;
	/* live tasks: open addressing, linear probing, load <= 1/2 */
	struct task *tasks;
	size_t ntasks, task_cap;
	int task_shift;
	void *zbuf;
	size_t zcap;
	ZSTD_DCtx *dctx;
	struct helper *helper; /* decompresses each stream's next chunk; or NULL */
	uint64_t truncated_at; /* 0, or where the file ends inside a chunk */
	uint64_t whole_len;    /* 0, or the length a complete header records, when the file is shorter */
	bool failed;
	int err;
	char msg[512];
};

static const char *const ev_names[WEFT_TEV_MAX] = {
#define NAME_(name, num, ...) [num] = #name,
	WEFT_TRACE_EVENTS(NAME_)
#undef NAME_
};

static const char *const ev_argnames[WEFT_TEV_MAX][WEFT_TRACE_MAX_ARGS + 1] = {
#define ARGN_(name, num, nargs, nstr, ...) [num] = { __VA_ARGS__ },
	WEFT_TRACE_EVENTS(ARGN_)
#undef ARGN_
};

const char *weft_trace_event_name(int type)
{
	return type > 0 && type < WEFT_TEV_MAX ? ev_names[type] : NULL;
}

int weft_trace_event_nargs(int type)
{
	return type > 0 && type < WEFT_TEV_MAX && ev_names[type] ? weft_tf_traits[type].nargs : -1;
}

int weft_trace_event_nstr(int type)
{
	return type > 0 && type < WEFT_TEV_MAX && ev_names[type] ? weft_tf_traits[type].nstr : -1;
}

const char *weft_trace_arg_name(int type, int i)
{
	if (weft_trace_event_nargs(type) < 0 || i < 0 || i >= weft_tf_traits[type].nargs)
		return NULL;
	return ev_argnames[type][i];
}

const char *weft_trace_block_name(int reason)
{
	return weft_tf_block_name(reason);
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

/* Read and decompress the payload of the chunk at @off into @dst (rawsize bytes). */
static void unpack(int fd, void *zbuf, ZSTD_DCtx *dctx, uint64_t off, uint32_t zsize,
		   uint32_t rawsize, uint8_t *dst, struct zres *res)
{
	size_t got = 0;

	*res = (struct zres){ 0 };
	while (got < zsize) {
		ssize_t r = pread(fd, (char *)zbuf + got, zsize - got,
				  (off_t)(off + WEFT_TF_CHUNK_HEADER_SIZE + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			res->err = r < 0 ? -errno : -EPIPE;
			return;
		}
		got += (size_t)r;
	}
	res->got = ZSTD_decompressDCtx(dctx, dst, rawsize, zbuf, zsize);
	if (ZSTD_isError(res->got)) {
		res->err = -EPROTO;
		res->zerr = ZSTD_getErrorName(res->got);
	} else if (res->got != rawsize) {
		res->err = -EPROTO;
	}
}

static int unpack_failed(weft_trace *t, uint64_t off, uint32_t rawsize, const struct zres *res)
{
	uint64_t at = off + WEFT_TF_CHUNK_HEADER_SIZE;

	if (res->err == -EPIPE)
		return fail(t, -EPIPE, at, "unexpected end of file");
	if (res->err != -EPROTO)
		return fail(t, res->err, at, "read error: %s", strerror(-res->err));
	if (res->zerr)
		return fail(t, -EPROTO, off, "chunk payload does not decompress: %s", res->zerr);
	return fail(t, -EPROTO, off, "chunk payload is %zu bytes, its header says %u", res->got,
		    rawsize);
}

/* Decompress the payload of the chunk at @off into @dst (rawsize bytes). */
static int load_payload(weft_trace *t, uint64_t off, uint32_t zsize, uint32_t rawsize,
			uint8_t *dst)
{
	struct zres res;

	unpack(t->fd, t->zbuf, t->dctx, off, zsize, rawsize, dst, &res);
	return res.err ? unpack_failed(t, off, rawsize, &res) : 0;
}

/* ---- reading ahead ------------------------------------------------------------------ */

/*
 * While the reading thread decodes a stream's chunk, a helper thread reads
 * and decompresses the stream's next one into a spare buffer: zstd is a
 * fifth to a third of the time per event, and a second CPU takes it off
 * the reading one (+30% events/s on two idle CPUs; nothing gained, and
 * 10-15% more CPU time, when the other CPU is busy). Requests are a FIFO of
 * streams, at most one pending chunk each. The reading thread takes a
 * finished chunk by swapping buffers, waits for one in progress, and reads
 * a still queued one itself. The helper's lock orders all they share: the
 * queue, quit, and the ah_* fields and the spare buffer of every stream
 * (its contents pass with the lock: AH_DONE is set under it after the
 * write, and read under it before the swap). If the thread cannot be
 * made, the reader goes without.
 */
struct helper {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t work, done;
	struct stream *head, *tail; /* queued */
	bool quit;
	int fd;
	void *zbuf;
	ZSTD_DCtx *dctx;
};

static void *helper_main(void *arg)
{
	struct helper *h = arg;

	pthread_mutex_lock(&h->lock);
	for (;;) {
		struct stream *s = h->head;
		struct zres res;
		if (h->quit)
			break;
		if (!s) {
			pthread_cond_wait(&h->work, &h->lock);
			continue;
		}
		h->head = s->ah_next;
		if (!h->head)
			h->tail = NULL;
		s->ah_state = AH_BUSY;
		struct chunk_ref *c = &s->chunks[s->ah_chunk];
		uint8_t *dst = s->spare;
		pthread_mutex_unlock(&h->lock);
		unpack(h->fd, h->zbuf, h->dctx, c->off, c->zsize, c->rawsize, dst, &res);
		pthread_mutex_lock(&h->lock);
		s->ah_res = res;
		s->ah_state = AH_DONE;
		pthread_cond_broadcast(&h->done);
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

static void helper_free(struct helper *h)
{
	pthread_mutex_destroy(&h->lock);
	pthread_cond_destroy(&h->work);
	pthread_cond_destroy(&h->done);
	free(h->zbuf);
	ZSTD_freeDCtx(h->dctx);
	free(h);
}

/* Start the helper if some stream has more than one chunk (else it has nothing to do). */
static void helper_start(weft_trace *t)
{
	struct helper *h;
	bool useful = false;

	for (size_t i = 0; i < t->nstreams; i++)
		useful |= t->streams[i].spare != NULL;
	if (!useful || !(h = calloc(1, sizeof(*h))))
		return;
	h->fd = t->fd;
	h->zbuf = malloc(t->zcap);
	h->dctx = ZSTD_createDCtx();
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->work, NULL);
	pthread_cond_init(&h->done, NULL);
	if (!h->zbuf || !h->dctx || pthread_create(&h->thread, NULL, helper_main, h) != 0) {
		helper_free(h);
		return;
	}
	t->helper = h;
}

static void helper_stop(weft_trace *t)
{
	struct helper *h = t->helper;

	if (!h)
		return;
	pthread_mutex_lock(&h->lock);
	h->quit = true;
	pthread_cond_signal(&h->work);
	pthread_mutex_unlock(&h->lock);
	pthread_join(h->thread, NULL);
	helper_free(h);
	t->helper = NULL;
}

/* Ask the helper for chunk @k of @s. */
static void ask_ahead(weft_trace *t, struct stream *s, size_t k)
{
	struct helper *h = t->helper;

	s->asked = true;
	pthread_mutex_lock(&h->lock);
	s->ah_state = AH_QUEUED;
	s->ah_chunk = k;
	s->ah_next = NULL;
	if (h->tail)
		h->tail->ah_next = s;
	else
		h->head = s;
	h->tail = s;
	pthread_cond_signal(&h->work);
	pthread_mutex_unlock(&h->lock);
}

/* Chunk @k of @s, which was asked for (the next one), into s->raw. */
static int take_ahead(weft_trace *t, struct stream *s, size_t k)
{
	struct helper *h = t->helper;
	struct chunk_ref *c = &s->chunks[k];
	struct zres res;

	s->asked = false;
	pthread_mutex_lock(&h->lock);
	if (s->ah_state == AH_QUEUED) { /* not started: out of the queue, read it here */
		struct stream **pp = &h->head, *prev = NULL;
		while (*pp != s) {
			prev = *pp;
			pp = &(*pp)->ah_next;
		}
		*pp = s->ah_next;
		if (h->tail == s)
			h->tail = prev;
		s->ah_state = AH_NONE;
		pthread_mutex_unlock(&h->lock);
		return load_payload(t, c->off, c->zsize, c->rawsize, s->raw);
	}
	while (s->ah_state == AH_BUSY)
		pthread_cond_wait(&h->done, &h->lock);
	s->ah_state = AH_NONE;
	res = s->ah_res;
	pthread_mutex_unlock(&h->lock);
	if (res.err)
		return unpack_failed(t, c->off, c->rawsize, &res);
	uint8_t *tmp = s->raw;
	s->raw = s->spare;
	s->spare = tmp;
	return 0;
}

/* ---- names of code keys ------------------------------------------------------- */

static size_t hash_slot(uint64_t key, size_t cap)
{
	return (size_t)((key * 0x9E3779B97F4A7C15ULL) >> 32) & (cap - 1);
}

/* The slot of @key in the name index: its own, or the empty one it would take. */
static size_t name_slot(const weft_trace *t, uint64_t key)
{
	size_t j = hash_slot(key, t->name_cap);

	while (t->name_idx[j] && t->names[t->name_idx[j] - 1].key != key)
		j = (j + 1) & (t->name_cap - 1);
	return j;
}

static int grow_names(weft_trace *t)
{
	size_t cap = t->name_cap ? 2 * t->name_cap : 64;
	uint32_t *idx = calloc(cap, sizeof(*idx));

	if (!idx)
		return -ENOMEM;
	free(t->name_idx);
	t->name_idx = idx;
	t->name_cap = cap;
	for (size_t i = 0; i < t->nnames; i++)
		t->name_idx[name_slot(t, t->names[i].key)] = (uint32_t)i + 1;
	return 0;
}

/* Add the @n name records of a strings chunk (at @off); a key named again keeps its first name. */
static int add_names(weft_trace *t, uint64_t off, const uint8_t *p, size_t len, uint32_t n)
{
	const uint8_t *end = p + len;

	for (uint32_t i = 0; i < n; i++) {
		uint64_t key, sl;
		if (!(p = weft_tf_uvarint(p, end, &key)) || !(p = weft_tf_uvarint(p, end, &sl)) ||
		    sl > (uint64_t)(end - p))
			return fail(t, -EPROTO, off, "string record %u is truncated", i);
		if (sl > MAX_NAME)
			return fail(t, -EPROTO, off, "string record %u is %llu bytes long", i,
				    (unsigned long long)sl);
		if (2 * (t->nnames + 1) > t->name_cap && grow_names(t) < 0)
			return fail(t, -ENOMEM, off, "out of memory for names");
		size_t j = name_slot(t, key);
		if (t->name_idx[j]) {
			p += sl;
			continue;
		}
		/* Each name costs its bytes, its record and two index slots. */
		if (t->pool_len + sl + 1 + (t->nnames + 1) * (sizeof(struct name) + 8) > MAX_NAMES)
			return fail(t, -EPROTO, off, "more than %d MiB of names", MAX_NAMES >> 20);
		if (t->nnames == t->capnames) {
			size_t cap = t->capnames ? 2 * t->capnames : 64;
			struct name *nn = realloc(t->names, cap * sizeof(*nn));
			if (!nn)
				return fail(t, -ENOMEM, off, "out of memory for names");
			t->names = nn;
			t->capnames = cap;
		}
		if (t->pool_len + sl + 1 > t->pool_cap) {
			size_t cap = t->pool_cap ? 2 * t->pool_cap : 4096;
			while (cap < t->pool_len + sl + 1)
				cap *= 2;
			char *np = realloc(t->pool, cap);
			if (!np)
				return fail(t, -ENOMEM, off, "out of memory for names");
			t->pool = np;
			t->pool_cap = cap;
		}
		memcpy(t->pool + t->pool_len, p, sl);
		t->pool[t->pool_len + sl] = 0;
		t->names[t->nnames].key = key;
		t->names[t->nnames].off = t->pool_len;
		t->name_idx[j] = (uint32_t)++t->nnames;
		t->pool_len += sl + 1;
		p += sl;
	}
	if (p != end)
		return fail(t, -EPROTO, off, "string chunk has %zu bytes after its %u records",
			    (size_t)(end - p), n);
	return 0;
}

const char *weft_trace_string(const weft_trace *t, uint64_t key)
{
	if (!t->name_cap)
		return NULL;
	for (size_t j = hash_slot(key, t->name_cap); t->name_idx[j]; j = (j + 1) & (t->name_cap - 1))
		if (t->names[t->name_idx[j] - 1].key == key)
			return t->pool + t->names[t->name_idx[j] - 1].off;
	return NULL;
}

const char *weft_trace_fn_name(const weft_trace *t, uint64_t fn)
{
	return weft_trace_string(t, fn);
}

/* ---- live tasks --------------------------------------------------------------- */

static size_t task_slot(const weft_trace *t, uint64_t id)
{
	/* Runs of 16 ids share a group of slots: ids are handed out in order,
	 * and tasks are mostly created, started and ended in that order. */
	return (size_t)(((id >> 4) * 0x9E3779B97F4A7C15ULL) >> (t->task_shift + 4)) << 4 |
	       (size_t)(id & 15);
}

/* The entry of task @id, or the empty slot where it would go (id 0). */
static inline struct task *task_find(const weft_trace *t, uint64_t id)
{
	size_t mask = t->task_cap - 1;

	for (size_t j = task_slot(t, id);; j = (j + 1) & mask)
		if (t->tasks[j].id == id || !t->tasks[j].id)
			return &t->tasks[j];
}

static int task_grow(weft_trace *t)
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
static struct task *task_add(weft_trace *t, struct task *slot, uint64_t id)
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
static void task_del(weft_trace *t, struct task *x)
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

/* ---- indexing ----------------------------------------------------------------- */

static int cmp_chunk(const void *a, const void *b)
{
	const struct chunk_ref *x = a, *y = b;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* P streams by number, then the global one: the order of ties. */
static int cmp_stream(const void *a, const void *b)
{
	const struct stream *x = a, *y = b;
	unsigned kx = x->kind == WEFT_TF_STREAM_P ? (unsigned)x->id : WEFT_TF_MAX_PROCS;
	unsigned ky = y->kind == WEFT_TF_STREAM_P ? (unsigned)y->id : WEFT_TF_MAX_PROCS;
	return kx < ky ? -1 : kx > ky;
}

static int index_file(weft_trace *t)
{
	uint64_t off = WEFT_TF_HEADER_SIZE;
	uint8_t h[WEFT_TF_CHUNK_HEADER_SIZE];
	uint8_t *raw = NULL;
	int16_t by_id[WEFT_TF_MAX_PROCS + 1]; /* stream index by P id; the global one last */
	int err = 0;

	memset(by_id, -1, sizeof(by_id));
	while (off < t->size) {
		if (t->size - off < sizeof(h)) {
			t->truncated_at = off;
			break;
		}
		if ((err = read_at(t, h, sizeof(h), off)) < 0)
			break;
		struct weft_tf_chunk ch;
		weft_tf_chunk_get(h, &ch);
		uint32_t magic = ch.magic, zsize = ch.zsize, rawsize = ch.rawsize, nev = ch.nev;
		int kind = ch.kind, skind = ch.stream_kind;
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
			if (!raw && !(raw = malloc(WEFT_TF_MAX_RAW))) {
				err = fail(t, -ENOMEM, off, "out of memory");
				break;
			}
			if ((err = load_payload(t, off, zsize, rawsize, raw)) < 0 ||
			    (err = add_names(t, off, raw, rawsize, nev)) < 0)
				break;
		} else if (kind == WEFT_TF_CHUNK_EVENTS) {
			uint32_t id = ch.stream_id;
			if (skind != WEFT_TF_STREAM_P && skind != WEFT_TF_STREAM_M) {
				err = fail(t, -EPROTO, off, "unknown stream kind %d", skind);
				break;
			}
			if (nev > rawsize / 2) {
				err = fail(t, -EPROTO, off, "%u events cannot fit in %u bytes", nev,
					   rawsize);
				break;
			}
			if (skind == WEFT_TF_STREAM_P ? id >= WEFT_TF_MAX_PROCS : id != 0) {
				err = fail(t, -EPROTO, off, "stream id %u out of bounds", id);
				break;
			}
			int key = skind == WEFT_TF_STREAM_P ? (int)id : WEFT_TF_MAX_PROCS;
			if (by_id[key] < 0) {
				if (t->nstreams == t->capstreams) {
					size_t cap = t->capstreams ? 2 * t->capstreams : 4;
					struct stream *ns = realloc(t->streams, cap * sizeof(*ns));
					if (!ns) {
						err = fail(t, -ENOMEM, off, "out of memory for the index");
						break;
					}
					t->streams = ns;
					t->capstreams = cap;
				}
				by_id[key] = (int16_t)t->nstreams;
				struct stream *ns = &t->streams[t->nstreams++];
				memset(ns, 0, sizeof(*ns));
				ns->kind = skind;
				ns->id = (int)id;
				ns->p = skind == WEFT_TF_STREAM_P ? (int)id : GLOBAL;
			}
			struct stream *s = &t->streams[by_id[key]];
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
			s->chunks[s->n++] = (struct chunk_ref){ off, zsize, rawsize, nev, ch.seq,
								ch.t_first };
			if (rawsize > s->rawcap)
				s->rawcap = rawsize;
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
	if (t->nstreams > 1)
		qsort(t->streams, t->nstreams, sizeof(*t->streams), cmp_stream);
	for (size_t i = 0; i < t->nstreams; i++) {
		struct stream *s = &t->streams[i];
		qsort(s->chunks, s->n, sizeof(*s->chunks), cmp_chunk);
		for (size_t k = 1; k < s->n; k++)
			if (s->chunks[k].seq != s->chunks[k - 1].seq + 1)
				return fail(t, -EPROTO, s->chunks[k].off,
					    "stream %s%d: chunk %u follows chunk %u (%s)",
					    s->kind == WEFT_TF_STREAM_P ? "P" : "M", s->id,
					    s->chunks[k].seq, s->chunks[k - 1].seq,
					    s->chunks[k].seq == s->chunks[k - 1].seq ? "twice"
										     : "one is missing");
		if (s->n && s->chunks[0].seq != 0)
			return fail(t, -EPROTO, s->chunks[0].off,
				    "stream %s%d starts at chunk %u (the first ones are missing)",
				    s->kind == WEFT_TF_STREAM_P ? "P" : "M", s->id, s->chunks[0].seq);
		if (!(s->raw = malloc(s->rawcap ? s->rawcap : 1)) ||
		    (s->n > 1 && !(s->spare = malloc(s->rawcap ? s->rawcap : 1))))
			return fail(t, -ENOMEM, 0, "out of memory");
	}
	return 0;
}

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
static int next_chunk(weft_trace *t, struct stream *s)
{
	while (s->left == 0) {
		if (s->next == s->n)
			return 0;
		size_t k = s->next++;
		struct chunk_ref *c = &s->chunks[k];
		int err = s->asked ? take_ahead(t, s, k)
				   : load_payload(t, c->off, c->zsize, c->rawsize, s->raw);
		if (err < 0)
			return err;
		/* The old buffer is free: its last events were decoded. */
		if (t->helper && s->spare && s->next < s->n)
			ask_ahead(t, s, s->next);
		s->rawlen = c->rawsize;
		s->pos = 0;
		s->left = c->nev;
		s->tick = c->t_first;
		s->last_task = 0;
		s->chunk_off = c->off;
		if (c->nev == 0 && c->rawsize != 0)
			return fail(t, -EPROTO, c->off, "an empty chunk with %u bytes", c->rawsize);
	}
	return 1;
}

enum { BAD_END, BAD_TYPE, BAD_TICK, BAD_ARGS, BAD_STR, BAD_TASK0, BAD_NO_P, BAD_STATE, BAD_TAIL };

static __attribute__((noinline, cold)) int bad_event(weft_trace *t, const struct stream *s,
						     int why, size_t at, int type,
						     const uint64_t *args)
{
	const char *name = weft_trace_event_name(type);
	unsigned long long id = args[0];

	switch (why) {
	case BAD_END:
		return fail(t, -EPROTO, s->chunk_off, "chunk ends %u events early", s->left);
	case BAD_TYPE:
		return fail(t, -EPROTO, s->chunk_off, "unknown event type %d at byte %zu of the chunk",
			    type, at);
	case BAD_TICK:
		return fail(t, -EPROTO, s->chunk_off, "truncated timestamp at byte %zu of the chunk",
			    at);
	case BAD_ARGS:
		return fail(t, -EPROTO, s->chunk_off, "truncated %s event at byte %zu of the chunk",
			    name, at);
	case BAD_STR:
		return fail(t, -EPROTO, s->chunk_off,
			    "bad string in a %s event at byte %zu of the chunk", name, at);
	case BAD_TASK0:
		return fail(t, -EPROTO, s->chunk_off, "%s of task 0 at byte %zu of the chunk", name,
			    at);
	case BAD_NO_P:
		return fail(t, -EPROTO, s->chunk_off, "task %llu: %s without a P (byte %zu of the chunk)",
			    id, name, at);
	case BAD_STATE:
		return fail(t, -EPROTO, s->chunk_off,
			    "task %llu: TASK_STATE with state %llu (byte %zu of the chunk)", id,
			    (unsigned long long)args[1], at);
	default:
		return fail(t, -EPROTO, s->chunk_off,
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
static int fill(weft_trace *t, struct stream *s)
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
static void strings(struct stream *s, const struct bev *b, weft_trace_event *ev)
{
	const uint8_t *p = s->raw + b->str_pos, *end = s->raw + s->rawlen;

	for (int i = 0; i < weft_tf_traits[b->type].nstr; i++) {
		uint64_t sl = 0;
		p = uvarint(p, end, &sl); /* checked by fill() */
		memcpy(s->str[i], p, sl);
		s->str[i][sl] = 0;
		ev->str[i] = s->str[i];
		ev->strlen[i] = (uint32_t)sl;
		p += sl;
	}
}

/* Ticks since the start to ns: rel * 1e9 / ticks_per_sec, in fixed point. */
static inline uint64_t to_ns(const weft_trace *t, uint64_t tick)
{
	uint64_t rel = tick >= t->tick0 ? tick - t->tick0 : 0;
#ifdef __SIZEOF_INT128__
	return rel * t->ns_int + (uint64_t)(((unsigned __int128)rel * t->ns_frac) >> 64);
#else
	return (uint64_t)((long double)rel * 1e9L / (long double)t->info.ticks_per_sec);
#endif
}

/* ---- the state machine ----------------------------------------------------------- */

/*
 * The task state machine is the traits' (from, to, flags, seq), in
 * WEFT_TF_TRAITS of common/trace_format.h, shared with the writer and the
 * tools; its table in words is there too. A task not known (id 0 in its
 * slot) may do anything.
 */
#define S_(st) (1u << (st))

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
static inline __attribute__((always_inline)) int check(const weft_trace *t, const struct bev *b,
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
	if (__builtin_expect(!(r->from & S_(x->state)) ||
				     ((r->flags & WEFT_TF_ON_P) && x->p != p && x->p >= 0),
			     0))
		return RDY_STATE;
	return r->seq ? seq_of(x, p, b->args[r->seq], seq) : RDY_OK;
}

/* check(), out of line for the rare paths. */
static __attribute__((noinline)) int check_slow(const weft_trace *t, const struct bev *b, int p,
						struct task **xp, uint64_t *seq)
{
	return check(t, b, p, xp, seq);
}

/*
 * Apply the event @type with arguments @args (check() said RDY_OK) of
 * stream @s to its task's slot @x; a resolved seq goes into @args.
 */
static inline int apply(weft_trace *t, struct stream *s, int type, uint64_t *args,
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
		return fail(t, -ENOMEM, s->chunk_off, "out of memory for the task table");
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
static int not_ready(weft_trace *t, const struct stream *s, const struct bev *b,
		     const struct task *x, int why)
{
	const char *name = ev_names[b->type];
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
		return fail(t, -EPROTO, s->chunk_off,
			    "task %llu: %s %s with seq %llu after seq %llu (event at byte %u of "
			    "the chunk; no stream can make progress)",
			    id, name, here,
			    (unsigned long long)b->args[b->type == WEFT_TEV_TASK_START ? 1 : 2],
			    (unsigned long long)x->seq, b->ev_pos);
	case RDY_SEQ0:
		return fail(t, -EPROTO, s->chunk_off,
			    "task %llu: %s %s with seq 0 (same stream), but its last numbered "
			    "event was %s (event at byte %u of the chunk)",
			    id, name, here,
			    x->last == NO_STREAM ? "not seen" : where(x->last, there, sizeof(there)),
			    b->ev_pos);
	default:
		return fail(t, -EPROTO, s->chunk_off,
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
static inline void sift_down(weft_trace *t, size_t i)
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

static void sift_up(weft_trace *t, size_t i)
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
static inline int refill(weft_trace *t, size_t pos)
{
	struct hent *h = &t->heap[pos];
	uint64_t old = h->tick;

	if (__builtin_expect(++h->b == h->end, 0)) {
		int r = fill(t, &t->streams[h->s]);
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
	t->taken = -1;
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
	t->task_cap = 64;
	t->task_shift = 64 - 6;
	t->tasks = calloc(t->task_cap, sizeof(*t->tasks));
	if (!t->zbuf || !t->dctx || !t->tasks) {
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
	struct weft_tf_header hd;
	if (!weft_tf_header_get(h, &hd)) {
		err = fail(t, -EPROTO, 0, "not a weft trace (bad magic)");
		goto out;
	}
	t->info.version = hd.version;
	if (hd.version < WEFT_TF_VERSION_MIN || hd.version > WEFT_TF_VERSION ||
	    hd.size != WEFT_TF_HEADER_SIZE) {
		err = fail(t, -EPROTO, WEFT_TF_H_VERSION,
			   "trace format version %d (header %u bytes); this reader knows "
			   "versions %d to %d",
			   t->info.version, hd.size, WEFT_TF_VERSION_MIN, WEFT_TF_VERSION);
		goto out;
	}
	t->delta_ids = t->info.version >= 3;
	t->info.clock = hd.clock;
	t->info.complete = (hd.flags & WEFT_TF_FLAG_COMPLETE) != 0;
	t->info.ticks_per_sec = hd.ticks_per_sec;
	t->tick0 = hd.tick0;
	t->info.start_unix_ns = hd.start_unix_ns;
	t->info.procs = (int)hd.procs;
	t->info.pid = (int)hd.pid;
	if (t->info.clock > WEFT_TF_CLOCK_TSC || t->info.ticks_per_sec < 1000 ||
	    t->info.ticks_per_sec > 100000000000ULL) {
		err = fail(t, -EPROTO, WEFT_TF_H_CLOCK, "bad clock (kind %d, %llu ticks/s)",
			   t->info.clock, (unsigned long long)t->info.ticks_per_sec);
		goto out;
	}
	t->ns_int = 1000000000ULL / t->info.ticks_per_sec;
#ifdef __SIZEOF_INT128__
	t->ns_frac = (uint64_t)(((unsigned __int128)(1000000000ULL % t->info.ticks_per_sec) << 64) /
				t->info.ticks_per_sec);
#endif
	if (t->info.complete && hd.end_tick > t->tick0)
		t->info.end_ts = to_ns(t, hd.end_tick);
	uint64_t len = t->info.complete ? hd.length : 0;
	if (len && len < t->size) {
		err = fail(t, -EPROTO, len,
			   "%llu bytes after the end of the trace (its header says the file is %llu "
			   "bytes long)",
			   (unsigned long long)(t->size - len), (unsigned long long)len);
		goto out;
	}
	if (len > t->size)
		t->whole_len = len; /* cut short: an error after every event in the file */
	if ((err = index_file(t)) < 0)
		goto out;
	t->lossy = !t->info.complete || t->truncated_at || t->whole_len;
	t->heap = malloc((t->nstreams + 1) * sizeof(*t->heap));
	if (!t->heap) {
		err = fail(t, -ENOMEM, 0, "out of memory");
		goto out;
	}
	helper_start(t);
	t->taken = NOT_STARTED;
	*out = t;
	return 0;
out:
	snprintf(errbuf, errlen, "%s: %s", path, t->msg);
	weft_trace_close(t);
	return err;
}

/* Decode the first events of every stream and build the heap. */
static int start(weft_trace *t)
{
	for (size_t i = 0; i < t->nstreams; i++) {
		struct stream *s = &t->streams[i];
		int r = fill(t, s);
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
static __attribute__((noinline)) long frontier(weft_trace *t, struct task **xp, uint64_t *seq)
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

int weft_trace_next(weft_trace *t, weft_trace_event *ev)
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
			return fail(t, -EPIPE, t->truncated_at,
				    "the file ends inside a chunk (%llu bytes): it was cut short",
				    (unsigned long long)t->size);
		if (t->whole_len)
			return fail(t, -EPIPE, t->size,
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
		strings(s, b, ev);
	ev->ts = to_ns(t, b->tick);
	if (ev->ts < t->last_ts)
		ev->ts = t->last_ts; /* taken ahead of an earlier-stamped head */
	t->last_ts = ev->ts;
	t->taken = pos;
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

void weft_trace_close(weft_trace *t)
{
	if (!t)
		return;
	helper_stop(t);
	for (size_t i = 0; t->streams && i < t->nstreams; i++) {
		free(t->streams[i].chunks);
		free(t->streams[i].raw);
		free(t->streams[i].spare);
	}
	free(t->streams);
	free(t->names);
	free(t->pool);
	free(t->name_idx);
	free(t->tasks);
	free(t->heap);
	free(t->zbuf);
	ZSTD_freeDCtx(t->dctx);
	if (t->fd >= 0)
		close(t->fd);
	free(t);
}

/*
 * internal.h - the reader library's private types and the verbs its files
 * share (never installed; the public API is include/weft/trace.h).
 *
 * The library is one object, a weft_tr, read by one thread at a time
 * (the names and the info may be read by another: see weft/trace.h). Its
 * files follow the reader's stages, each with its own essay:
 *
 *   reader.c     open and close; what the library is (the main essay)
 *   index.c      the file's index: chunk headers walked, checked, sorted
 *   readahead.c  loading a chunk's payload, and the helper thread that
 *                decompresses each stream's next chunk meanwhile
 *   decode.c     a batch of events of one stream at a time
 *   order.c      the causal order: live tasks, the state machine, the merge
 *   names.c      event and block names, and the names of code keys
 *
 * Everything shared is weft__tr_*; hot helpers are static inline here.
 * Errors: a function that fails calls weft__tr_fail(), which records the
 * message with its byte offset and makes every later call fail the same.
 *
 * Rejected:
 *   - One file of 1600 lines (the first layout): each stage had its own
 *     section banner already; the stages share only the types below.
 *   - Splitting the state machine from the merge: check() and apply() are
 *     inlined into weft_tr_next's loop, which a call across files
 *     would prevent (order.c holds all three).
 */
#ifndef WEFT_TRACER_LIB_INTERNAL_H
#define WEFT_TRACER_LIB_INTERNAL_H

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

struct weft_tr {
	int fd;
	uint64_t size;
	weft_tr_info info;
	uint64_t tick0;
	uint64_t ns_int, ns_frac; /* ns per tick: ns_int + ns_frac / 2^64 */
	uint64_t last_ts;         /* of the event returned last */
	bool delta_ids;           /* version 3: task ids delta-coded (trace_format.h) */
	struct stream *streams;
	size_t nstreams, capstreams;
	struct hent *heap; /* the streams' heads, earliest first */
	size_t nheap;
	long taken; /* heap position of the stream whose head was returned, or -1 */
#define NOT_STARTED (-2) /* taken before the first weft_tr_next() */
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

/* Ticks since the start to ns: rel * 1e9 / ticks_per_sec, in fixed point. */
static inline uint64_t to_ns(const weft_tr *t, uint64_t tick)
{
	uint64_t rel = tick >= t->tick0 ? tick - t->tick0 : 0;
#ifdef __SIZEOF_INT128__
	return rel * t->ns_int + (uint64_t)(((unsigned __int128)rel * t->ns_frac) >> 64);
#else
	return (uint64_t)((long double)rel * 1e9L / (long double)t->info.ticks_per_sec);
#endif
}

/*
 * Room for @need (>= 1) elements of @size bytes in @arr, an array of *@cap
 * (0 for none yet): doubled from @first until they fit. Returns the array
 * (moved, or @arr if it had room), or NULL out of memory with @arr and
 * *@cap as they were.
 */
static inline void *weft__tr_grow(void *arr, size_t *cap, size_t need, size_t size, size_t first)
{
	size_t c = *cap ? *cap : first;
	void *n;

	if (need <= *cap)
		return arr;
	while (c < need)
		c *= 2;
	if (!(n = realloc(arr, c * size)))
		return NULL;
	*cap = c;
	return n;
}

/* reader.c */
__attribute__((format(printf, 4, 5))) int weft__tr_fail(weft_tr *t, int err, uint64_t off,
							 const char *fmt, ...);

/* readahead.c */
int weft__tr_read_at(weft_tr *t, void *buf, size_t n, uint64_t off);
int weft__tr_load(weft_tr *t, uint64_t off, uint32_t zsize, uint32_t rawsize, uint8_t *dst);
void weft__tr_helper_start(weft_tr *t);
void weft__tr_helper_stop(weft_tr *t);
void weft__tr_ask_ahead(weft_tr *t, struct stream *s, size_t k);
int weft__tr_take_ahead(weft_tr *t, struct stream *s, size_t k);

/* index.c */
int weft__tr_index(weft_tr *t);

/* names.c */
int weft__tr_add_names(weft_tr *t, uint64_t off, const uint8_t *p, size_t len, uint32_t n);

/* decode.c */
int weft__tr_fill(weft_tr *t, struct stream *s);
void weft__tr_strings(struct stream *s, const struct bev *b, weft_tr_event *ev);

#endif /* WEFT_TRACER_LIB_INTERNAL_H */

/*
 * check_reader.c - Check suite "reader": the trace reader on hand-built
 * files (the causal merge with sequence numbers, the task state machine,
 * streams that cannot progress, strings) and on annotations written by
 * the runtime. build() writes a valid file (version 3, or fmt_version) - header, a strings
 * chunk, zstd-compressed event chunks per stream - from an array of
 * events, so each case states exactly the trace it reads.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include <zstd.h>

#include <weft/trace.h>

#include "testutil.h"
#include "common/trace_format.h"

/* ---- building traces ---------------------------------------------------------- */

struct tev {
	int p;             /* the stream: a P, or -1 for the global one */
	uint64_t tick;     /* ns: the files say 1e9 ticks per second */
	int type;
	uint64_t a[WEFT_TRACE_MAX_ARGS];
	const char *s[2];  /* the strings of the types that have them */
};

struct tname {
	uint64_t key;
	const char *name;
};

#define MAXP 8
static char path[256];
static uint64_t chunk_off[MAXP + 1]; /* by stream (P + 1; 0 global): its first chunk */

static void make_path(const char *tag)
{
	snprintf(path, sizeof(path), "%s/weft-check-reader-%s-%d.wt",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", tag, (int)getpid());
}

#define put_uv weft_tf_put_uvarint

static void put_chunk(FILE *f, int kind, int p, uint32_t seq, uint64_t t0, uint64_t t1,
		      uint32_t nev, const uint8_t *raw, size_t len)
{
	uint8_t h[WEFT_TF_CHUNK_HEADER_SIZE];
	size_t cap = ZSTD_compressBound(len), z;
	void *zb = malloc(cap);
	ZSTD_CCtx *cc = ZSTD_createCCtx();

	ck_assert_ptr_nonnull(zb);
	ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 1);
	z = ZSTD_compress2(cc, zb, cap, raw, len);
	ck_assert(!ZSTD_isError(z));
	weft_tf_chunk_put(h, &(struct weft_tf_chunk){
		.kind = (uint8_t)kind,
		.stream_kind = p < 0 ? WEFT_TF_STREAM_M : WEFT_TF_STREAM_P,
		.stream_id = p < 0 ? 0 : (uint32_t)p,
		.seq = seq, .t_first = t0, .t_last = t1,
		.zsize = (uint32_t)z, .rawsize = (uint32_t)len, .nev = nev });
	ck_assert_int_eq(fwrite(h, 1, sizeof(h), f), sizeof(h));
	ck_assert_uint_eq(fwrite(zb, 1, z, f), z);
	ZSTD_freeCCtx(cc);
	free(zb);
}

/*
 * Write the trace of @ev[@n] at path: each stream's events in array order,
 * in chunks of at most @per_chunk events (0: one chunk); the names first.
 * @complete: the header flag. Records each stream's first chunk offset.
 */
static int fmt_version = WEFT_TF_VERSION;

static void build(const struct tev *ev, size_t n, size_t per_chunk, bool complete,
		  const struct tname *names)
{
	FILE *f = fopen(path, "wb");
	uint8_t hdr[WEFT_TF_HEADER_SIZE];
	static uint8_t raw[1 << 20];

	ck_assert_ptr_nonnull(f);
	weft_tf_header_put(hdr, &(struct weft_tf_header){
		.version = (uint16_t)fmt_version,
		.size = WEFT_TF_HEADER_SIZE,
		.clock = WEFT_TF_CLOCK_MONO,
		.flags = complete ? WEFT_TF_FLAG_COMPLETE : 0,
		.ticks_per_sec = 1000000000,
		.procs = MAXP });
	ck_assert_int_eq(fwrite(hdr, 1, sizeof(hdr), f), sizeof(hdr));
	if (names) {
		uint8_t *q = raw;
		uint32_t k = 0;
		for (; names[k].name; k++) {
			size_t l = strlen(names[k].name);
			q = put_uv(put_uv(q, names[k].key), l);
			memcpy(q, names[k].name, l);
			q += l;
		}
		put_chunk(f, 2, -1, 0, 0, 0, k, raw, (size_t)(q - raw));
	}
	for (int sp = -1; sp < MAXP; sp++) {
		uint32_t seq = 0, nev = 0;
		uint64_t t0 = 0, prev = 0, last = 0;
		uint8_t *q = raw;
		chunk_off[sp + 1] = 0;
		for (size_t i = 0; i <= n; i++) {
			if (i < n && ev[i].p != sp)
				continue;
			if (nev > 0 && (i == n || (per_chunk && nev == per_chunk))) {
				long off = ftell(f);
				if (seq == 0)
					chunk_off[sp + 1] = (uint64_t)off;
				put_chunk(f, 1, sp, seq++, t0, prev, nev, raw, (size_t)(q - raw));
				q = raw;
				nev = 0;
				last = 0;
			}
			if (i == n)
				break;
			if (nev == 0)
				t0 = prev = ev[i].tick;
			*q++ = (uint8_t)ev[i].type;
			q = put_uv(q, ev[i].tick - prev);
			prev = ev[i].tick;
			for (int a = 0; a < weft_tr_event_nargs(ev[i].type); a++) {
				uint64_t v = ev[i].a[a];
				if (a == 0 && fmt_version >= 3 && (weft_tf_traits[ev[i].type].flags & WEFT_TF_TASK)) {
					v = weft_tf_zigzag(ev[i].a[0], last);
					last = ev[i].a[0];
				}
				q = put_uv(q, v);
			}
			for (int s = 0; s < weft_tr_event_nstr(ev[i].type); s++) {
				size_t l = strlen(ev[i].s[s]);
				q = put_uv(q, l);
				memcpy(q, ev[i].s[s], l);
				q += l;
			}
			nev++;
		}
	}
	ck_assert_int_eq(fclose(f), 0);
}

/* Overwrite @n bytes at @off of the file with @v, little-endian. */
static void patch_le(long off, uint64_t v, int n)
{
	FILE *f = fopen(path, "r+b");
	uint8_t b[8];

	ck_assert_ptr_nonnull(f);
	weft_tf_put_le(b, v, n);
	ck_assert_int_eq(fseek(f, off, SEEK_SET), 0);
	ck_assert_int_eq(fwrite(b, 1, (size_t)n, f), n);
	ck_assert_int_eq(fclose(f), 0);
}

/* ---- reading them back ----------------------------------------------------------- */

struct evs {
	weft_tr_event v[64];
	char str[64][2][WEFT_TRACE_MAX_STR + 1];
	size_t n;
	int end;        /* what weft_tr_next returned last */
	char err[512];
	weft_tr *t;
};

static struct evs e;

static void read_all(void)
{
	weft_tr_event ev;
	int r;

	memset(&e, 0, sizeof(e));
	r = weft_tr_open(path, &e.t, e.err, sizeof(e.err));
	ck_assert_msg(r == 0, "open: %s", e.err);
	while ((r = weft_tr_next(e.t, &ev)) > 0) {
		ck_assert_uint_lt(e.n, 64);
		for (int i = 0; i < 2; i++)
			if (ev.str[i]) {
				memcpy(e.str[e.n][i], ev.str[i], ev.strlen[i] + 1);
				ev.str[i] = e.str[e.n][i];
			}
		e.v[e.n++] = ev;
	}
	e.end = r;
	snprintf(e.err, sizeof(e.err), "%s", r < 0 ? weft_tr_error(e.t) : "");
	ck_assert_int_eq(weft_tr_next(e.t, &ev), r); /* an error or the end sticks */
}

/* WEFT_KEEP_TRACES=1 keeps the files (seeds for tests/fuzz/corpus). */
static void done(void)
{
	static int n;
	char kept[300];

	weft_tr_close(e.t);
	if (getenv("WEFT_KEEP_TRACES")) {
		snprintf(kept, sizeof(kept), "%s.%d", path, n++);
		ck_assert_int_eq(rename(path, kept), 0);
	} else {
		unlink(path);
	}
}

/* The types returned, as "CREATE START ..." (the TASK_ prefix dropped). */
static const char *types(void)
{
	static char buf[1024];
	size_t len = 0;

	buf[0] = 0;
	for (size_t i = 0; i < e.n; i++) {
		const char *name = weft_tr_event_name(e.v[i].type);
		if (strncmp(name, "TASK_", 5) == 0)
			name += 5;
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s", i ? " " : "", name);
	}
	return buf;
}

#define CREATE WEFT_TEV_TASK_CREATE
#define START WEFT_TEV_TASK_START
#define END WEFT_TEV_TASK_END
#define YIELD WEFT_TEV_TASK_YIELD
#define BLOCK WEFT_TEV_TASK_BLOCK
#define UNBLOCK WEFT_TEV_TASK_UNBLOCK
#define STATE WEFT_TEV_TASK_STATE

/* ---- causal order -------------------------------------------------------------------- */

/*
 * Task 7 blocks on P0 and is woken from P1 (seq 2), then started on P0
 * (seq 3): the START's stamp ties the UNBLOCK's (case 0) or is earlier
 * (case 1, clocks of two CPUs apart), and P0 comes first at a tie. The
 * UNBLOCK must still come first, and times must not go back.
 */
START_TEST(test_unblock_before_start)
{
	uint64_t st = _i == 0 ? 30 : 25;
	const struct tev ev[] = {
		{ 0, 10, CREATE, { 7, 0, 0, 0 } },
		{ 0, 11, START, { 7, 0 } },      /* seq 1, same stream as the create */
		{ 0, 20, BLOCK, { 7, WEFT_TRACE_BLOCK_CHAN_RECV, 0x1000, 0 } },
		{ 0, st, START, { 7, 3 } },
		{ 0, 40, END, { 7 } },
		{ 1, 30, UNBLOCK, { 7, 9, 2 } },
	};

	make_path("order");
	build(ev, 6, 0, true, NULL);
	read_all();
	ck_assert_msg(e.end == 0, "%s", e.err);
	ck_assert_str_eq(types(), "CREATE START BLOCK UNBLOCK START END");
	ck_assert_uint_eq(e.v[1].args[1], 1); /* resolved from 0 */
	ck_assert_uint_eq(e.v[3].args[2], 2);
	ck_assert_int_eq(e.v[3].p, 1);
	ck_assert_uint_eq(e.v[4].args[1], 3);
	ck_assert_uint_eq(e.v[3].ts, 30);
	ck_assert_uint_eq(e.v[4].ts, 30); /* not before the event it follows */
	for (size_t i = 1; i < e.n; i++)
		ck_assert_uint_ge(e.v[i].ts, e.v[i - 1].ts);
	done();
}
END_TEST

/*
 * Two wake-ups of one blocked-looking task: only the sequence numbers
 * tell which comes first. P0's UNBLOCK (seq 4) is stamped before P1's
 * (seq 2), and the task is blocked at both times, so state alone would
 * take P0's first.
 */
START_TEST(test_seq_orders_wakeups)
{
	const struct tev ev[] = {
		{ 0, 10, CREATE, { 7 } },
		{ 0, 11, START, { 7, 0 } },                 /* 1 */
		{ 0, 12, BLOCK, { 7, WEFT_TRACE_BLOCK_SLEEP } },
		{ 0, 29, UNBLOCK, { 7, 0, 4 } },
		{ 0, 50, START, { 7, 5 } },
		{ 0, 51, END, { 7 } },
		{ 1, 30, UNBLOCK, { 7, 0, 2 } },
		{ 1, 31, START, { 7, 0 } },                 /* 3 */
		{ 1, 32, BLOCK, { 7, WEFT_TRACE_BLOCK_WG } },
	};

	make_path("seq");
	build(ev, 9, 0, true, NULL);
	read_all();
	ck_assert_msg(e.end == 0, "%s", e.err);
	ck_assert_str_eq(types(), "CREATE START BLOCK UNBLOCK START BLOCK UNBLOCK START END");
	uint64_t want[] = { 0, 1, 0, 2, 3, 0, 4, 5 };
	int seqarg[] = { -1, 1, -1, 2, 1, -1, 2, 1 };
	for (int i = 0; i < 8; i++)
		if (seqarg[i] >= 0)
			ck_assert_uint_eq(e.v[i].args[seqarg[i]], want[i]);
	ck_assert_int_eq(e.v[3].p, 1);
	ck_assert_int_eq(e.v[6].p, 0);
	done();
}
END_TEST

/*
 * A task yields on P0 and is started on P1 with no numbered event
 * between: its START waits for the YIELD (state), even when stamped first.
 * Also a task created on the global stream and started on P1.
 */
START_TEST(test_state_orders_yield)
{
	const struct tev ev[] = {
		{ -1, 5, CREATE, { 8, 0, 0, 0 } },
		{ 0, 10, STATE, { 7, WEFT_TRACE_STATE_RUNNING, 0, 0, 4 } },
		{ 0, 20, YIELD, { 7 } },
		{ 1, 6, START, { 8, 0 } }, /* 0: "same stream", but it was created elsewhere */
	};
	const struct tev ok[] = {
		{ -1, 5, CREATE, { 8, 0, 0, 0 } },
		{ 0, 10, STATE, { 7, WEFT_TRACE_STATE_RUNNING, 0, 0, 4 } },
		{ 0, 20, YIELD, { 7 } },
		{ 1, 6, START, { 8, 1 } },
		{ 1, 15, START, { 7, 5 } },
		{ 1, 16, END, { 7 } },
		{ 1, 17, END, { 8 } },
	};

	make_path("yield");
	build(ok, 7, 0, true, NULL);
	read_all();
	ck_assert_msg(e.end == 0, "%s", e.err);
	ck_assert_str_eq(types(), "CREATE START STATE YIELD START END END");
	ck_assert_uint_eq(e.v[4].args[0], 7);
	ck_assert_uint_eq(e.v[4].ts, 20);
	done();

	/* seq 0 claims the previous numbered event (the CREATE) was on P1. */
	build(ev, 4, 0, true, NULL);
	read_all();
	ck_assert_int_eq(e.end, -EPROTO);
	ck_assert_msg(strstr(e.err, "task 8: TASK_START on P1 with seq 0 (same stream), but its "
				    "last numbered event was without a P"),
		      "%s", e.err);
	done();
}
END_TEST

/* A snapshot (TASK_STATE) gives the seq; a task never seen takes its seq as it comes. */
START_TEST(test_snapshot_and_unknown)
{
	const struct tev ev[] = {
		{ -1, 1, STATE, { 5, WEFT_TRACE_STATE_BLOCKED, WEFT_TRACE_BLOCK_MUTEX, 0, 41 } },
		{ 1, 2, UNBLOCK, { 5, 0, 42 } },
		{ 1, 3, START, { 5, 0 } },
		{ 1, 4, BLOCK, { 5, WEFT_TRACE_BLOCK_SLEEP } },
		{ -1, 5, UNBLOCK, { 5, 0, 0 } }, /* relative to the snapshot: wrong, 42 was on P1 */
	};
	const struct tev unknown[] = {
		{ 0, 1, START, { 9, 17 } },   /* began before the trace: believed */
		{ 0, 2, BLOCK, { 9, WEFT_TRACE_BLOCK_WG } },
		{ 1, 3, UNBLOCK, { 9, 0, 18 } },
		{ 1, 4, START, { 9, 0 } },
		{ 1, 5, END, { 9 } },
		{ 1, 6, YIELD, { 10 } },      /* first seen yielding: believed too */
		{ 1, 7, START, { 10, 3 } },
	};

	make_path("snap");
	build(ev, 4, 0, true, NULL);
	read_all();
	ck_assert_msg(e.end == 0, "%s", e.err);
	ck_assert_uint_eq(e.v[0].args[4], 41);
	ck_assert_uint_eq(e.v[2].args[1], 43);
	done();
	build(ev, 5, 0, true, NULL);
	read_all();
	ck_assert_int_eq(e.end, -EPROTO);
	ck_assert_uint_eq(e.n, 4);
	ck_assert_msg(strstr(e.err, "task 5: TASK_UNBLOCK without a P with seq 0 (same stream), "
				    "but its last numbered event was on P1"),
		      "%s", e.err);
	done();

	build(unknown, 7, 0, true, NULL);
	read_all();
	ck_assert_msg(e.end == 0, "%s", e.err);
	ck_assert_str_eq(types(), "START BLOCK UNBLOCK START END YIELD START");
	ck_assert_uint_eq(e.v[3].args[1], 19);
	done();
}
END_TEST

/* ---- rejected traces -------------------------------------------------------------- */

/* Impossible transitions, each reported with its chunk and byte. */
START_TEST(test_bad_transition)
{
	const struct tev twice[] = {
		{ 0, 1, CREATE, { 7 } },
		{ 0, 2, START, { 7, 0 } },
		{ 0, 3, START, { 7, 0 } },
	};
	const struct tev elsewhere[] = {
		{ 0, 1, CREATE, { 7 } },
		{ 0, 2, START, { 7, 0 } },
		{ 1, 3, BLOCK, { 7, WEFT_TRACE_BLOCK_WG } },
	};
	const struct tev unblock_running[] = {
		{ 2, 1, CREATE, { 7 } },
		{ 2, 2, START, { 7, 0 } },
		{ 3, 3, UNBLOCK, { 7, 0, 2 } },
	};
	const struct tev exists[] = {
		{ 0, 1, CREATE, { 7 } },
		{ 0, 2, CREATE, { 7 } },
	};
	char want[256];

	make_path("bad");
	build(twice, 3, 0, true, NULL);
	read_all();
	ck_assert_int_eq(e.end, -EPROTO);
	ck_assert_uint_eq(e.n, 2); /* what came before is returned */
	/* The third event: after CREATE (type, delta, 4 args: 6 bytes) and START (4). */
	snprintf(want, sizeof(want), "offset %llu: task 7: TASK_START on P0 while running on P0 "
		 "(event at byte 10 of the chunk",
		 (unsigned long long)chunk_off[1]);
	ck_assert_msg(strstr(e.err, want), "%s", e.err);
	done();

	build(elsewhere, 3, 0, true, NULL);
	read_all();
	ck_assert_int_eq(e.end, -EPROTO);
	snprintf(want, sizeof(want), "offset %llu: task 7: TASK_BLOCK on P1 while running on P0",
		 (unsigned long long)chunk_off[2]);
	ck_assert_msg(strstr(e.err, want), "%s", e.err);
	done();

	build(unblock_running, 3, 0, true, NULL);
	read_all();
	ck_assert_int_eq(e.end, -EPROTO);
	ck_assert_msg(strstr(e.err, "task 7: TASK_UNBLOCK on P3 while running on P2"), "%s", e.err);
	done();

	build(exists, 2, 0, true, NULL);
	read_all();
	ck_assert_int_eq(e.end, -EPROTO);
	ck_assert_msg(strstr(e.err, "task 7: TASK_CREATE on P0 while runnable"), "%s", e.err);
	done();
}
END_TEST

/*
 * Streams that can never progress: a wake-up whose seq skips one, and two
 * streams each waiting for the other. In a trace whose writer died (not
 * complete) a lost event may be what a head waits for: it is taken anyway.
 */
START_TEST(test_stuck)
{
	const struct tev skip[] = {
		{ 0, 1, CREATE, { 7 } },
		{ 0, 2, START, { 7, 0 } },
		{ 0, 3, BLOCK, { 7, WEFT_TRACE_BLOCK_WG } },
		{ 1, 4, UNBLOCK, { 7, 0, 9 } },
		{ 1, 5, START, { 7, 0 } },
	};
	/* 7 runs on P0 and 8 on P1; then each P starts the other's task before
	 * the YIELD that would let it: each head waits for the other. */
	const struct tev cycle[] = {
		{ -1, 1, CREATE, { 7 } },
		{ -1, 1, CREATE, { 8 } },
		{ 0, 2, START, { 7, 1 } },
		{ 0, 3, START, { 8, 2 } },
		{ 0, 4, YIELD, { 7 } },
		{ 1, 2, START, { 8, 1 } },
		{ 1, 3, START, { 7, 2 } },
		{ 1, 4, YIELD, { 8 } },
	};

	make_path("stuck");
	build(skip, 5, 0, true, NULL);
	read_all();
	ck_assert_int_eq(e.end, -EPROTO);
	ck_assert_uint_eq(e.n, 3);
	ck_assert_msg(strstr(e.err, "task 7: TASK_UNBLOCK on P1 with seq 9 after seq 1 (event at "
				    "byte 0 of the chunk; no stream can make progress)"),
		      "%s", e.err);
	done();

	build(cycle, 8, 0, true, NULL);
	read_all();
	ck_assert_int_eq(e.end, -EPROTO);
	ck_assert_msg(strstr(e.err, "no stream can make progress"), "%s", e.err);
	done();

	/* The writer died: P0's event that P1 waited for is lost. */
	build(skip, 5, 0, false, NULL);
	read_all();
	ck_assert_msg(e.end == 0, "%s", e.err);
	ck_assert_str_eq(types(), "CREATE START BLOCK UNBLOCK START");
	ck_assert_uint_eq(e.v[3].args[2], 9);
	ck_assert_uint_eq(e.v[4].args[1], 10);
	done();
}
END_TEST

/* Malformed events: a task event of task 0, a START without a P, a bad state, an unknown type. */
START_TEST(test_bad_events)
{
	const struct tev zero[] = { { 0, 1, START, { 0, 1 } } };
	const struct tev nop[] = { { -1, 1, START, { 3, 1 } } };
	const struct tev state[] = { { -1, 1, STATE, { 3, 9 } } };
	const struct tev unknown[] = { { 2, 1, WEFT_TEV_PROC_START, { 2, 1 } }, { 2, 2, 99 } };

	make_path("events");
	build(zero, 1, 0, true, NULL);
	read_all();
	ck_assert_int_eq(e.end, -EPROTO);
	ck_assert_msg(strstr(e.err, "TASK_START of task 0 at byte 0 of the chunk"), "%s", e.err);
	done();
	build(nop, 1, 0, true, NULL);
	read_all();
	ck_assert_int_eq(e.end, -EPROTO);
	ck_assert_msg(strstr(e.err, "task 3: TASK_START without a P"), "%s", e.err);
	done();
	build(state, 1, 0, true, NULL);
	read_all();
	ck_assert_int_eq(e.end, -EPROTO);
	ck_assert_msg(strstr(e.err, "TASK_STATE with state 9"), "%s", e.err);
	done();
	build(unknown, 2, 0, true, NULL); /* type 99: no arguments written */
	read_all();
	ck_assert_int_eq(e.end, -EPROTO);
	ck_assert_uint_eq(e.n, 1);
	ck_assert_msg(strstr(e.err, "unknown event type 99 at byte 4 of the chunk"), "%s", e.err);
	done();
}
END_TEST

/*
 * A stop of the world excuses nothing: the writer records a task requeued
 * at a safepoint as a TASK_YIELD, and the caller of weft_set_procs() that
 * moves to P0 as a TASK_YIELD on its old P and a TASK_START on P0. A file
 * without those events is corrupt (older writers left these gaps and the
 * reader used to excuse them).
 */
START_TEST(test_stw_moves)
{
	const struct tev requeued[] = {
		{ 0, 1, CREATE, { 7 } },
		{ 0, 2, START, { 7, 0 } },
		{ 1, 3, WEFT_TEV_STW_BEGIN, { WEFT_TRACE_STW_USER } },
		{ 0, 4, WEFT_TEV_TASK_YIELD, { 7 } },
		{ 1, 5, WEFT_TEV_STW_END, { 100 } },
		{ 0, 6, START, { 7, 0 } },
		{ 0, 7, END, { 7 } },
	};
	const struct tev moved[] = {
		{ -1, 1, CREATE, { 7 } },
		{ 3, 2, START, { 7, 1 } },
		{ 3, 3, WEFT_TEV_STW_BEGIN, { WEFT_TRACE_STW_SET_PROCS } },
		{ 3, 4, WEFT_TEV_TASK_YIELD, { 7 } },
		{ 0, 5, START, { 7, 2 } },
		{ 0, 6, WEFT_TEV_STW_END, { 100 } },
		{ 0, 7, BLOCK, { 7, WEFT_TRACE_BLOCK_WG } },
	};

	make_path("stw");
	build(requeued, 7, 0, true, NULL);
	read_all();
	ck_assert_msg(e.end == 0, "%s", e.err);
	ck_assert_str_eq(types(), "CREATE START STW_BEGIN YIELD STW_END START END");
	ck_assert_uint_eq(e.v[5].args[1], 2);
	done();
	/* Without the YIELD, a stop of the world between is no excuse. */
	build((const struct tev[]){ requeued[0], requeued[1], requeued[2], requeued[4], requeued[5],
				    requeued[6] },
	      6, 0, true, NULL);
	read_all();
	ck_assert_int_eq(e.end, -EPROTO);
	ck_assert_msg(strstr(e.err, "TASK_START on P0 while running on P0"), "%s", e.err);
	done();

	build(moved, 7, 0, true, NULL);
	read_all();
	ck_assert_msg(e.end == 0, "%s", e.err);
	ck_assert_int_eq(e.v[6].p, 0);
	done();
	/* Moved with no event: the task is still running on P3. */
	build((const struct tev[]){ moved[0], moved[1], moved[2], moved[5], moved[6] }, 5, 0, true,
	      NULL);
	read_all();
	ck_assert_int_eq(e.end, -EPROTO);
	ck_assert_msg(strstr(e.err, "TASK_BLOCK on P0 while running on P3"), "%s", e.err);
	done();
}
END_TEST

/*
 * Versions 2 (task ids as they are) and 3 (task ids as deltas from the
 * previous one of the chunk) read the same, across chunk boundaries where
 * the delta base starts again at 0, with ids far apart in both directions.
 * Version 4 (the end reason in the header) reads as 3. A version-3 delta
 * that lands on task 0 is corrupt; version 5 is unknown.
 */
START_TEST(test_versions)
{
	const uint64_t big = 1ULL << 40;
	const struct tev ev[] = {
		{ 0, 10, CREATE, { big } },
		{ 0, 11, CREATE, { 3 } },
		{ 0, 12, START, { big, 0 } },
		{ 0, 13, END, { big } },
		{ 0, 14, START, { 3, 0 } },
		{ 0, 15, BLOCK, { 3, WEFT_TRACE_BLOCK_WG } },
		{ 1, 16, UNBLOCK, { 3, 5, 2 } },
		{ 1, 17, START, { 3, 0 } },
		{ 1, 18, END, { 3 } },
	};
	struct tev bad[] = {
		{ 0, 10, CREATE, { 7 } },
		{ 0, 11, START, { 7, 0 } },
	};
	uint64_t ids[3][9];

	make_path("versions");
	for (int v = 2; v <= 4; v++) {
		fmt_version = v;
		build(ev, 9, 2, true, NULL);
		read_all();
		ck_assert_msg(e.end == 0, "version %d: %s", v, e.err);
		ck_assert_uint_eq(e.n, 9);
		weft_tr_info info;
		weft_tr_get_info(e.t, &info);
		ck_assert_int_eq(info.version, v);
		for (size_t i = 0; i < 9; i++)
			ids[v - 2][i] = e.v[i].args[0];
		done();
	}
	for (size_t i = 0; i < 9; i++) {
		ck_assert_uint_eq(ids[0][i], ids[1][i]);
		ck_assert_uint_eq(ids[2][i], ids[1][i]);
	}
	ck_assert_uint_eq(ids[1][0], big);
	ck_assert_uint_eq(ids[1][8], 3);
	/* Version-3 deltas +7 (zigzag 14), then -7 (13): task 0. */
	bad[0].a[0] = 14;
	bad[1].a[0] = 13;
	fmt_version = 2;
	build(bad, 2, 0, true, NULL);
	fmt_version = 3;
	patch_le(WEFT_TF_H_VERSION, 3, 2);
	read_all();
	ck_assert_int_eq(e.end, -EPROTO);
	ck_assert_msg(strstr(e.err, "TASK_START of task 0"), "%s", e.err);
	ck_assert_uint_eq(e.n, 1);
	ck_assert_uint_eq(e.v[0].args[0], 7);
	done();
	build(ev, 9, 2, true, NULL);
	patch_le(WEFT_TF_H_VERSION, WEFT_TF_VERSION + 1, 2);
	ck_assert_int_lt(weft_tr_open(path, &e.t, e.err, sizeof(e.err)), 0);
	ck_assert_msg(strstr(e.err, "version 5") && strstr(e.err, "versions 2 to 4"), "%s", e.err);
	unlink(path);
}
END_TEST

/* ---- strings --------------------------------------------------------------------------- */

/* Strings of events and names of code keys, read back byte for byte, across chunks. */
START_TEST(test_strings)
{
	static char big[WEFT_TRACE_MAX_STR + 1];
	const struct tname names[] = {
		{ 3, "main" }, { 0x4d2, "worker+0x1c" }, { 1ULL << 40, "far" }, { 0, NULL },
	};

	memset(big, 'x', WEFT_TRACE_MAX_STR);
	big[WEFT_TRACE_MAX_STR - 1] = 'y';
	const struct tev ev[] = {
		{ 0, 1, WEFT_TEV_UTASK_BEGIN, { 1, 0, 7 }, { "request" } },
		{ 0, 2, WEFT_TEV_REGION_BEGIN, { 7, 1 }, { "" } },
		{ 0, 3, WEFT_TEV_LOG, { 7, 1 }, { "cat", "hello, world" } },
		{ 0, 4, WEFT_TEV_REGION_END, { 7 } },
		{ 1, 5, WEFT_TEV_LOG, { 0, 0 }, { "", big } },
		{ 1, 6, WEFT_TEV_UTASK_END, { 1, 7 } },
	};

	make_path("strings");
	build(ev, 6, 2, true, names);
	read_all();
	ck_assert_msg(e.end == 0, "%s", e.err);
	ck_assert_uint_eq(e.n, 6);
	ck_assert_str_eq(e.v[0].str[0], "request");
	ck_assert_ptr_null(e.v[0].str[1]);
	ck_assert_str_eq(e.v[1].str[0], "");
	ck_assert_uint_eq(e.v[1].strlen[0], 0);
	ck_assert_str_eq(e.v[2].str[0], "cat");
	ck_assert_str_eq(e.v[2].str[1], "hello, world");
	ck_assert_uint_eq(e.v[2].strlen[1], 12);
	ck_assert_ptr_null(e.v[3].str[0]);
	ck_assert_str_eq(e.v[4].str[1], big);
	ck_assert_uint_eq(e.v[4].strlen[1], WEFT_TRACE_MAX_STR);
	ck_assert_str_eq(weft_tr_string(e.t, 3), "main");
	ck_assert_str_eq(weft_tr_string(e.t, 0x4d2), "worker+0x1c");
	ck_assert_str_eq(weft_tr_fn_name(e.t, 1ULL << 40), "far");
	ck_assert_ptr_null(weft_tr_string(e.t, 4));
	ck_assert_ptr_null(weft_tr_string(e.t, 0));
	done();
}
END_TEST

/* Many names: every one found (the hash index), the first of a duplicated key wins. */
START_TEST(test_many_names)
{
	enum { N = 5000 };
	static struct tname names[N + 2];
	static char text[N][16];
	const struct tev ev[] = { { 0, 1, WEFT_TEV_PROC_START, { 0, 0 } } };

	for (int i = 0; i < N; i++) {
		snprintf(text[i], sizeof(text[i]), "fn%d", i);
		names[i] = (struct tname){ 2 * (uint64_t)i + 1, text[i] };
	}
	names[N] = (struct tname){ 1, "duplicate" };
	names[N + 1] = (struct tname){ 0, NULL };
	make_path("names");
	build(ev, 1, 0, true, names);
	read_all();
	ck_assert_msg(e.end == 0, "%s", e.err);
	for (int i = 0; i < N; i++) {
		const char *s = weft_tr_string(e.t, 2 * (uint64_t)i + 1);
		if (!s || strcmp(s, text[i]) != 0)
			ck_abort_msg("key %d: %s", 2 * i + 1, s ? s : "(none)");
		if (weft_tr_string(e.t, 2 * (uint64_t)i + 2))
			ck_abort_msg("key %d has a name", 2 * i + 2);
	}
	done();
}
END_TEST

/* Annotations written by the runtime come back as they were made. */
static void annotate(void *arg)
{
	char long_msg[2000];

	(void)arg;
	memset(long_msg, 'm', sizeof(long_msg) - 1);
	long_msg[sizeof(long_msg) - 1] = 0;
	ck_assert_int_eq(weft_trace_start(path), 0);
	uint64_t u = weft_trace_task_begin("request");
	weft_trace_region_begin("parse");
	weft_trace_log("net", "got %d bytes from %s", 42, "peer");
	weft_trace_log("big", "%s", long_msg);
	weft_trace_region_end();
	weft_trace_task_end(u);
	ck_assert_int_eq(weft_trace_stop(), 0);
}

START_TEST(test_runtime_strings)
{
	weft_tr *t;
	weft_tr_event ev;
	char err[512];
	int r, seen = 0;
	uint64_t utask = 0;

	make_path("annotate");
	run_main(1, annotate, NULL);
	ck_assert_msg(weft_tr_open(path, &t, err, sizeof(err)) == 0, "%s", err);
	while ((r = weft_tr_next(t, &ev)) > 0) {
		switch (ev.type) {
		case WEFT_TEV_UTASK_BEGIN:
			ck_assert_str_eq(ev.str[0], "request");
			utask = ev.args[0];
			ck_assert_uint_ne(utask, 0);
			seen |= 1;
			break;
		case WEFT_TEV_REGION_BEGIN:
			ck_assert_str_eq(ev.str[0], "parse");
			ck_assert_uint_eq(ev.args[1], utask);
			seen |= 2;
			break;
		case WEFT_TEV_LOG:
			if (strcmp(ev.str[0], "net") == 0) {
				ck_assert_str_eq(ev.str[1], "got 42 bytes from peer");
				seen |= 4;
			} else {
				ck_assert_str_eq(ev.str[0], "big");
				ck_assert_uint_eq(ev.strlen[1], WEFT_TRACE_MAX_STR);
				ck_assert_uint_eq(strlen(ev.str[1]), WEFT_TRACE_MAX_STR);
				seen |= 8;
			}
			break;
		case WEFT_TEV_REGION_END:
			seen |= 16;
			break;
		case WEFT_TEV_UTASK_END:
			ck_assert_uint_eq(ev.args[0], utask);
			seen |= 32;
			break;
		}
	}
	ck_assert_msg(r == 0, "%s", weft_tr_error(t));
	ck_assert_int_eq(seen, 63);
	weft_tr_close(t);
	unlink(path);
}
END_TEST

static Suite *reader_suite(void)
{
	Suite *s = suite_create("reader");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_unblock_before_start, 0, 2);
	tcase_add_test(tc, test_seq_orders_wakeups);
	tcase_add_test(tc, test_state_orders_yield);
	tcase_add_test(tc, test_snapshot_and_unknown);
	tcase_add_test(tc, test_bad_transition);
	tcase_add_test(tc, test_stuck);
	tcase_add_test(tc, test_bad_events);
	tcase_add_test(tc, test_stw_moves);
	tcase_add_test(tc, test_versions);
	tcase_add_test(tc, test_strings);
	tcase_add_test(tc, test_many_names);
	tcase_add_test(tc, test_runtime_strings);
	suite_add_tcase(s, tc);
	return s;
}

WEFT_CHECK_MAIN(reader_suite)

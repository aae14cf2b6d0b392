/*
 * export_go.c - weft-trace export --format go: the trace as a Go 1.19
 * execution trace, which `go tool trace` (tested with Go 1.19.8) opens
 * with all its pages: the timeline, goroutine analysis, user tasks and
 * regions, the blocking, syscall and scheduler-latency profiles and the
 * MMU plot. Go does not document the format; the rules kept here are
 * those of its writer, src/runtime/trace.go, its parser and validator,
 * src/internal/trace/parser.go and order.go, and cmd/trace (cited below
 * by file), as the project's notes on them (go119-trace-format.md) list
 * them.
 *
 * Glossary. A weft P is a Go P (the same dense ids); a weft task is a
 * goroutine with the task's id as its G id (weft never reuses one); a
 * thread (M) is only the display value of ProcStart. G 0 is Go's "no
 * goroutine" (the scheduler's context): events that weft records without
 * a task (a wakeup by a timer or a plain thread, p = -1) are written on
 * a real P that runs no goroutine at that moment, as G 0's (parser.go
 * accepts a GoUnblock or GoCreate by G 0 on a P that runs none).
 *
 * Stacks. weft records code addresses, not stacks: a task's entry
 * function and, per event, the call site (the block, syscall or spawn
 * site, "worker+0x2b"). A goroutine's creation stack is its entry
 * function (one frame, what the tool names goroutine groups by); an
 * event's stack is [site, entry function] - the site string is the
 * frame's function, so pprof lists where tasks block - or [entry
 * function] for events that carry no site (yield, annotations, a wake by
 * a task). Each distinct frame gets an invented PC, 0x401000 + 0x40 *
 * its index: non-zero and unique, because the tool keys goroutine
 * groups, region types and profile locations by PC (cmd/trace:
 * goroutines.go, annotations.go, pprof.go). Frames have no file or line.
 *
 * Events. Block reasons map to Go's typed blocks (go_block_type: the one
 * place a new reason is mapped; "net read" and "net write", the
 * netpoller's waits, are GoBlockNet, which feeds the tool's network
 * profile, `-pprof=net`, and its Network row); a syscall is GoSysCall,
 * and when the monitor hands its P off (SYSCALL_HANDOFF) GoSysBlock +
 * ProcStop on that P; its exit on a P is GoSysExit + GoStart (without a
 * P: GoSysExit, the start follows).
 * Stop-the-world is GCSTWStart (kind 1, "sweep termination": the format
 * has no other kind) ... GCSTWDone on the stopping P, *not* wrapped in
 * GCStart/GCDone: the parser and the MMU treat a STW on its own, and a
 * GC would be a lie that the goroutine analysis charges to every
 * goroutine alive (GC time). User tasks, regions and logs become
 * UserTaskCreate/End, UserRegion and UserLog, written on the P where
 * their task runs.
 *
 * The state. Every event is applied to a small model of Go's view: per
 * live goroutine its state (runnable, running on P, waiting, in a
 * blocking syscall; in a fast syscall while running), its sequence
 * number and its open regions; per P the goroutine it runs and whether
 * it was started. Every Go event is written by an operation that checks
 * and updates that view, so what is written is always what the parser's
 * validator accepts (parser.go's postProcessTrace), whatever the input:
 * a trace that contradicts itself (a start of a task that is still
 * blocked, a run that never said it ended) gets the smallest repair - an
 * unblock by G 0, a preemption - instead of an invalid file. Sequence
 * numbers count in the order written, which is the reader's merged
 * order: causal, since the reader orders ties by weft's own per-task
 * numbers.
 *
 * Streaming and memory. The reader returns events in global time order;
 * Go wants per-P batches whose events the parser merges back (EvBatch).
 * Each P gets a byte buffer, written out as a batch when it reaches 64
 * KB (the batches of one P stay in time order; those of different Ps may
 * interleave: parser.go concatenates a P's batches and order.go merges
 * the Ps). Memory is the live goroutines (with their region stacks), a
 * buffer per P, and the string, frame and stack tables, which grow with
 * the distinct functions, sites and annotation names, not with the
 * trace's length; the tables are written after the events, as the
 * runtime does (the parser resolves them after reading everything).
 * Timestamps are nanoseconds (EvFrequency 1e9).
 *
 * Windows and the start. Go's goroutines in progress when tracing
 * started are GoCreate + GoWaiting/GoInSyscall, and a GoStart for those
 * running (runtime/trace.go's StartTrace). The view is kept from the
 * first event, but nothing is written until the window opens: at the
 * first event at or after --from that is not part of weft's start
 * snapshot (PROC_START, TASK_STATE). At that point the whole view is
 * written as such a snapshot - the Ps started, every live task created
 * (by G 0, without a creator stack: it was not created then) and put in
 * its state - so a window and weft's own mid-run start are one path.
 * Regions open at that point are not written (their start is not in the
 * window; Go accepts an end without a start, but the end is left out
 * too). At the end (of the trace or the window) every running goroutine
 * is descheduled (GoSched, or GoSysBlock if in a syscall), an open
 * stop-the-world is closed and every P stopped, as the runtime's
 * StopTrace does: the tool crashes on anything left open.
 *
 * Rejected: a batch per change of P (valid, but the reader alternates Ps
 * every few events, and each batch costs its header); GoStartLocal and
 * friends (an optimisation of the runtime's writer, the plain forms are
 * always valid); writing EvTimerGoroutine(0) so that G 0's wakeups show
 * on the Timers row (it would put there every wakeup by a plain thread
 * too); a GC around each stop-the-world (see above); making the site's
 * function name the symbol only, with the offset as the line (pprof
 * would merge the sites of one function in its main views, which is
 * where one looks).
 */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "export.h"
#include "model.h"
#include "pipe.h"
#include "tool.h"
#include "u64map.h"

/* Go 1.19's event types (src/internal/trace/parser.go). */
enum {
	EvBatch = 1,
	EvFrequency = 2,
	EvStack = 3,
	EvGomaxprocs = 4,
	EvProcStart = 5,
	EvProcStop = 6,
	EvGCSTWStart = 9,
	EvGCSTWDone = 10,
	EvGoCreate = 13,
	EvGoStart = 14,
	EvGoEnd = 15,
	EvGoSched = 17,
	EvGoPreempt = 18,
	EvGoSleep = 19,
	EvGoBlock = 20,
	EvGoUnblock = 21,
	EvGoBlockSend = 22,
	EvGoBlockRecv = 23,
	EvGoBlockSelect = 24,
	EvGoBlockSync = 25,
	EvGoBlockCond = 26,
	EvGoBlockNet = 27,
	EvGoSysCall = 28,
	EvGoSysExit = 29,
	EvGoSysBlock = 30,
	EvGoWaiting = 31,
	EvGoInSyscall = 32,
	EvString = 37,
	EvUserTaskCreate = 45,
	EvUserTaskEnd = 46,
	EvUserRegion = 47,
	EvUserLog = 48,
};

#define GO_HEADER "go 1.19 trace\0\0\0"
#define PC_BASE 0x401000u
#define PC_STEP 0x40u
#define BATCH_BYTES (64u << 10)
#define STW_KIND 1 /* "sweep termination"; 0 is "mark termination" */

/* A goroutine's state in Go's view. */
enum { GS_RUNNABLE = 1, GS_RUNNING, GS_WAITING, GS_SYSCALL };

struct region {
	uint64_t utask;
	uint32_t name; /* string id */
	bool written;  /* its start is in the output: its end goes too */
};

struct regions {
	uint32_t n, cap;
	struct region r[];
};

struct gor {
	uint32_t seq;      /* the last sequence number written */
	uint32_t fn;       /* frame of its entry function */
	uint8_t st;        /* GS_* */
	bool insys;        /* running, in a syscall (GoSysCall written) */
	int16_t p;         /* the P it runs on, when GS_RUNNING */
	struct regions *r; /* open regions, innermost last; NULL none */
};

struct gp {
	uint64_t g;   /* goroutine running on it, 0 none */
	uint64_t m;   /* thread, for ProcStart */
	bool running; /* ProcStart without ProcStop */
	uint8_t *buf; /* the batch being filled (starts with its EvBatch) */
	size_t n, cap;
	uint64_t last; /* time of the last event in buf */
};

struct str {
	char *s;
	uint32_t len;
};

struct ctx {
	FILE *f;
	weft_tr *t;
	uint64_t from;
	uint64_t now;     /* time of the event being applied */
	bool live;        /* writing (the window is open) */
	int procs;        /* Gomaxprocs written */
	struct u64map gs; /* task -> struct gor */
	struct gp *ps;
	int np;
	bool stw;
	int stw_p;
	/* tables */
	struct u64map fn_frames, site_frames; /* code key -> frame index */
	uint32_t *frame_name;                 /* frame index -> string id; [0] unused */
	size_t nframes, cap_frames;
	struct u64map stack_ids; /* frames (f0 << 32 | f1) -> stack id */
	uint64_t *stacks;        /* stack id -> its frames key; [0] unused */
	size_t nstacks, cap_stacks;
	struct u64map str_ids; /* hash of content -> string id */
	struct str *strs;      /* string id -> it; [0] unused */
	size_t nstrs, cap_strs;
	uint32_t f_thread, f_start; /* frames of no task, of the snapshot */
};

/* ---- the tables ------------------------------------------------------------ */

static void *grow(void *p, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return p;
	size_t n = *cap ? *cap : 64;
	while (n < need)
		n *= 2;
	p = tool_realloc(p, n, size);
	*cap = n;
	return p;
}

static uint64_t str_hash(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
	return h ? h : 1;
}

/* The id of the string @s (@len bytes, > 0), defined once. */
static uint32_t str_id(struct ctx *c, const char *s, size_t len)
{
	bool added;

	if (len > 4096)
		len = 4096; /* names; weft cuts its strings at 1024 anyway */
	uint64_t h = str_hash(s, len);
	for (;;) {
		uint32_t *id = u64map_insert(&c->str_ids, h, &added);
		if (added) {
			c->strs = grow(c->strs, &c->cap_strs, c->nstrs + 2, sizeof(*c->strs));
			if (!c->nstrs)
				c->nstrs = 1;
			char *copy = malloc(len);
			if (!copy)
				tool_oom();
			memcpy(copy, s, len);
			c->strs[c->nstrs] = (struct str){ copy, (uint32_t)len };
			*id = (uint32_t)c->nstrs++;
			return *id;
		}
		const struct str *o = &c->strs[*id];
		if (o->len == len && memcmp(o->s, s, len) == 0)
			return *id;
		h = h * 31 + 7; /* a collision: the next key */
		if (!h)
			h = 1;
	}
}

static uint32_t str_of(struct ctx *c, const char *s, const char *dflt)
{
	if (!s || !*s)
		s = dflt;
	return str_id(c, s, strlen(s));
}

static uint32_t frame_new(struct ctx *c, const char *name)
{
	c->frame_name = grow(c->frame_name, &c->cap_frames, c->nframes + 2, sizeof(uint32_t));
	if (!c->nframes)
		c->nframes = 1;
	c->frame_name[c->nframes] = str_of(c, name, "?");
	return (uint32_t)c->nframes++;
}

/* The frame of code key @key in @map (entry functions or sites). */
static uint32_t frame_of(struct ctx *c, struct u64map *map, uint64_t key)
{
	bool added;
	uint32_t *fr;

	if (!key)
		return c->f_thread;
	fr = u64map_insert(map, key, &added);
	if (added) {
		const char *name = weft_tr_string(c->t, key);
		char buf[32];
		if (!name) {
			snprintf(buf, sizeof(buf), "0x%" PRIx64, key);
			name = buf;
		}
		uint32_t id = frame_new(c, name); /* may move the map? no: another table */
		*fr = id;
	}
	return *fr;
}

/* The stack [f0] or [f0, f1] (f1 0: one frame). */
static uint32_t stack_of(struct ctx *c, uint32_t f0, uint32_t f1)
{
	uint64_t key = (uint64_t)f0 << 32 | f1;
	bool added;
	uint32_t *id = u64map_insert(&c->stack_ids, key, &added);

	if (added) {
		c->stacks = grow(c->stacks, &c->cap_stacks, c->nstacks + 2, sizeof(*c->stacks));
		if (!c->nstacks)
			c->nstacks = 1;
		c->stacks[c->nstacks] = key;
		*id = (uint32_t)c->nstacks++;
	}
	return *id;
}

/* ---- writing ---------------------------------------------------------------- */

static size_t uvarint(uint8_t *b, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		b[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	b[n++] = (uint8_t)v;
	return n;
}

static void ensure_p(struct ctx *c, int p)
{
	if (p < c->np)
		return;
	c->ps = tool_realloc(c->ps, (size_t)p + 1, sizeof(*c->ps));
	memset(c->ps + c->np, 0, (size_t)(p + 1 - c->np) * sizeof(*c->ps));
	c->np = p + 1;
}

static void flush_p(struct ctx *c, struct gp *gp)
{
	if (gp->n)
		fwrite(gp->buf, 1, gp->n, c->f);
	gp->n = 0;
}

static void put_raw(struct gp *gp, const uint8_t *b, size_t n)
{
	if (gp->n + n > gp->cap) {
		size_t cap = gp->cap ? gp->cap : 4096;
		while (cap < gp->n + n)
			cap *= 2;
		gp->buf = tool_realloc(gp->buf, cap, 1);
		gp->cap = cap;
	}
	memcpy(gp->buf + gp->n, b, n);
	gp->n += n;
}

static void put(struct ctx *c, int p, int type, int n, const uint64_t *v);

/*
 * Write event @type on P @p at the current time with the values @v[0..n)
 * (after the timestamp; a stack id last) and, for UserLog, the message
 * @msg of @mlen bytes. Nothing before the window opens.
 */
static void put_msg(struct ctx *c, int p, int type, int n, const uint64_t *v, const char *msg,
		    size_t mlen)
{
	uint8_t vals[16 * 10], hdr[12];
	size_t nv = 0, nh = 0;

	if (!c->live)
		return;
	ensure_p(c, p);
	if (p >= c->procs) { /* a P beyond GOMAXPROCS: the MMU indexes by P */
		int procs = p + 1;
		c->procs = procs;
		uint64_t a[2] = { (uint64_t)procs, stack_of(c, c->f_start, 0) };
		put(c, p, EvGomaxprocs, 2, a);
	}
	struct gp *gp = &c->ps[p];
	if (gp->n >= BATCH_BYTES)
		flush_p(c, gp);
	if (!gp->n) {
		uint8_t b[24];
		size_t k = 0;
		b[k++] = EvBatch | 1 << 6;
		k += uvarint(b + k, (uint64_t)p);
		k += uvarint(b + k, c->now);
		put_raw(gp, b, k);
		gp->last = c->now;
	}
	nv += uvarint(vals, c->now - gp->last);
	gp->last = c->now;
	for (int i = 0; i < n; i++)
		nv += uvarint(vals + nv, v[i]);
	if (n + 1 <= 3) {
		hdr[nh++] = (uint8_t)(type | n << 6);
	} else {
		hdr[nh++] = (uint8_t)(type | 3 << 6);
		nh += uvarint(hdr + nh, nv);
	}
	put_raw(gp, hdr, nh);
	put_raw(gp, vals, nv);
	if (type == EvUserLog) {
		nh = uvarint(hdr, mlen);
		put_raw(gp, hdr, nh);
		put_raw(gp, (const uint8_t *)msg, mlen);
	}
}

static void put(struct ctx *c, int p, int type, int n, const uint64_t *v)
{
	put_msg(c, p, type, n, v, NULL, 0);
}

/* ---- Go's view: goroutines and Ps -------------------------------------------- */

static struct gor *gor(struct ctx *c, uint64_t id)
{
	return id ? u64map_find(&c->gs, id) : NULL;
}

static uint32_t entry_stack(struct ctx *c, const struct gor *g)
{
	return stack_of(c, g->fn, 0);
}

/* A P for an event of G 0: @pref if it runs no goroutine, else the first
 * that runs none, else @pref (or P 0): the event is then the running
 * goroutine's, which is still valid. */
static int g0_p(struct ctx *c, int pref)
{
	if (pref >= 0 && pref < c->np && !c->ps[pref].g)
		return pref;
	for (int i = 0; i < c->np; i++)
		if (!c->ps[i].g)
			return i;
	if (c->np < c->procs)
		return c->np; /* a P of GOMAXPROCS that has had no event yet */
	return pref >= 0 ? pref : 0;
}

static void proc_start(struct ctx *c, int p, uint64_t m)
{
	ensure_p(c, p);
	c->ps[p].m = m;
	if (c->ps[p].running)
		return;
	c->ps[p].running = true;
	put(c, p, EvProcStart, 1, &m);
}

/* @id (running on its P) leaves it: @type is GoEnd, GoSched, GoPreempt,
 * GoSleep, GoBlock*, GoSysBlock; @stack its stack (0 none: GoEnd, GoSysBlock). */
static void go_leave(struct ctx *c, uint64_t id, int type, uint32_t stack)
{
	struct gor *g = gor(c, id);

	if (!g || g->st != GS_RUNNING)
		return;
	int p = g->p;
	if (type == EvGoEnd || type == EvGoSysBlock)
		put(c, p, type, 0, NULL);
	else
		put(c, p, type, 1, (uint64_t[]){ stack });
	c->ps[p].g = 0;
	g->p = -1;
	g->st = type == EvGoSched || type == EvGoPreempt ? GS_RUNNABLE
		: type == EvGoSysBlock                   ? GS_SYSCALL
							 : GS_WAITING;
	if (type != EvGoSysBlock)
		g->insys = false;
}

/* Whatever runs on @p is taken off it (a run whose end the trace lost). */
static void kick(struct ctx *c, int p)
{
	struct gor *g;

	if (p >= c->np || !c->ps[p].g)
		return;
	if (!(g = gor(c, c->ps[p].g))) {
		c->ps[p].g = 0;
		return;
	}
	if (g->insys)
		go_leave(c, c->ps[p].g, EvGoSysBlock, 0);
	else
		go_leave(c, c->ps[p].g, EvGoPreempt, entry_stack(c, g));
}

static void proc_stop(struct ctx *c, int p)
{
	if (p >= c->np)
		return;
	kick(c, p);
	if (!c->ps[p].running)
		return;
	c->ps[p].running = false;
	put(c, p, EvProcStop, 0, NULL);
}

/* Create goroutine @id (entry frame @fn) from P @p with the creator's @stack. */
static struct gor *go_create(struct ctx *c, uint64_t id, uint32_t fn, int p, uint32_t stack)
{
	bool added;
	struct gor *g = u64map_insert(&c->gs, id, &added);

	g->seq = 0;
	g->fn = fn;
	g->st = GS_RUNNABLE;
	g->insys = false;
	g->p = -1;
	g->r = NULL;
	put(c, p, EvGoCreate, 3, (uint64_t[]){ id, stack_of(c, fn, 0), stack });
	return g;
}

/* @id's goroutine, created by G 0 if this is the first of it (no creation event). */
static struct gor *go_get(struct ctx *c, uint64_t id, int pref)
{
	struct gor *g = gor(c, id);

	if (g || !id)
		return g;
	return go_create(c, id, c->f_thread, g0_p(c, pref), 0);
}

/* @id waiting becomes runnable: woken from P @p with @stack. */
static void go_unblock(struct ctx *c, uint64_t id, int p, uint32_t stack)
{
	struct gor *g = gor(c, id);

	if (!g || (g->st != GS_WAITING && g->st != GS_SYSCALL))
		return;
	g->seq++;
	if (g->st == GS_SYSCALL)
		put(c, p, EvGoSysExit, 3, (uint64_t[]){ id, g->seq, 0 });
	else
		put(c, p, EvGoUnblock, 3, (uint64_t[]){ id, g->seq, stack });
	g->st = GS_RUNNABLE;
}

/* @id starts running on @p (made runnable first if the trace lost how). */
static void go_start(struct ctx *c, uint64_t id, int p)
{
	struct gor *g = gor(c, id);

	if (!g)
		return;
	if (g->st == GS_RUNNING) {
		if (g->p == p)
			return; /* a duplicate */
		kick(c, g->p);
	}
	ensure_p(c, p);
	if (c->ps[p].g)
		kick(c, p);
	if (g->st == GS_WAITING || g->st == GS_SYSCALL) {
		go_unblock(c, id, g0_p(c, p), stack_of(c, c->f_thread, 0));
	}
	proc_start(c, p, c->ps[p].m);
	g = gor(c, id);
	g->seq++;
	put(c, p, EvGoStart, 2, (uint64_t[]){ id, g->seq });
	g->st = GS_RUNNING;
	g->p = (int16_t)p;
	g->insys = false;
	c->ps[p].g = id;
}

/* The P to write an event of task @id on: where it runs, or -1. */
static int running_p(struct ctx *c, uint64_t id)
{
	struct gor *g = gor(c, id);

	return g && g->st == GS_RUNNING ? g->p : -1;
}

/* ---- the mapping ---------------------------------------------------------------- */

/*
 * Go's event for a block reason. This is where a new reason is mapped (a
 * condition variable would be GoBlockCond). The netpoller's waits are
 * GoBlockNet, as Go's own poller's are: the tool's network profile
 * (/io, -pprof=net) counts them from block to unblock, and an unblock of
 * such a goroutine by G 0 is drawn on the Network row.
 */
static int go_block_type(uint64_t reason)
{
	switch (reason) {
	case WEFT_TRACE_BLOCK_CHAN_SEND:
		return EvGoBlockSend;
	case WEFT_TRACE_BLOCK_CHAN_RECV:
		return EvGoBlockRecv;
	case WEFT_TRACE_BLOCK_SELECT:
		return EvGoBlockSelect;
	case WEFT_TRACE_BLOCK_WG:
	case WEFT_TRACE_BLOCK_MUTEX:
	case WEFT_TRACE_BLOCK_SEMA:
		return EvGoBlockSync;
	case WEFT_TRACE_BLOCK_SLEEP:
		return EvGoSleep;
	case WEFT_TRACE_BLOCK_NET_READ:
	case WEFT_TRACE_BLOCK_NET_WRITE:
		return EvGoBlockNet;
	default:
		return EvGoBlock; /* none, syscall, stop-the-world, unknown */
	}
}

static uint32_t site_stack(struct ctx *c, uint64_t site, const struct gor *g)
{
	uint32_t fs = frame_of(c, &c->site_frames, site);

	return g ? stack_of(c, fs, g->fn) : stack_of(c, fs, 0);
}

/* The stack of an annotation by task @id: its entry function, or no task. */
static uint32_t task_stack(struct ctx *c, uint64_t id)
{
	struct gor *g = gor(c, id);

	return stack_of(c, g ? g->fn : c->f_thread, 0);
}

static void on_create(struct ctx *c, const weft_tr_event *ev)
{
	uint64_t id = ev->args[0], parent = ev->args[1];
	struct gor *pg = gor(c, parent);
	int p;
	uint32_t stack;

	if (!id || gor(c, id))
		return; /* no id, or one seen before its creation: keep the first */
	if (pg && pg->st == GS_RUNNING) {
		p = pg->p;
		stack = site_stack(c, ev->args[3], pg);
	} else {
		p = g0_p(c, ev->p);
		stack = site_stack(c, ev->args[3], NULL);
	}
	go_create(c, id, frame_of(c, &c->fn_frames, ev->args[2]), p, stack);
}

static void on_unblock(struct ctx *c, const weft_tr_event *ev)
{
	uint64_t id = ev->args[0], by = ev->args[1];
	int p = by && by != id ? running_p(c, by) : -1;
	uint32_t stack;

	if (!go_get(c, id, ev->p))
		return;
	if (p >= 0) {
		stack = entry_stack(c, gor(c, by));
	} else {
		p = g0_p(c, ev->p);
		stack = by ? task_stack(c, by) : stack_of(c, c->f_thread, 0);
	}
	struct gor *g = gor(c, id);
	if (g->st == GS_WAITING)
		go_unblock(c, id, p, stack);
}

static void on_state(struct ctx *c, const weft_tr_event *ev)
{
	uint64_t id = ev->args[0];
	struct gor *g = gor(c, id);
	bool fresh = !g;

	if (!id)
		return;
	if (fresh)
		g = go_create(c, id, frame_of(c, &c->fn_frames, ev->args[3]), g0_p(c, ev->p), 0);
	switch (ev->args[1]) {
	case WEFT_TRACE_STATE_RUNNING:
		if (ev->p >= 0 && ev->p < MODEL_MAX_P)
			go_start(c, id, ev->p);
		break;
	case WEFT_TRACE_STATE_BLOCKED:
	case WEFT_TRACE_STATE_SYSCALL:
		if (fresh) { /* else: a snapshot of a task we follow already */
			bool sys = ev->args[1] == WEFT_TRACE_STATE_SYSCALL;
			g->seq++;
			g->st = sys ? GS_SYSCALL : GS_WAITING;
			put(c, g0_p(c, ev->p), sys ? EvGoInSyscall : EvGoWaiting, 1, &id);
		}
		break;
	default: /* runnable */
		break;
	}
}

static void on_syscall_exit(struct ctx *c, const weft_tr_event *ev)
{
	uint64_t id = ev->args[0];
	struct gor *g = gor(c, id);

	if (!g)
		return;
	if (g->st == GS_RUNNING && g->insys) {
		if (ev->p == g->p) {
			g->insys = false; /* a fast syscall: the run goes on */
			return;
		}
		go_leave(c, id, EvGoSysBlock, 0); /* its P was taken without an event */
	}
	if (g->st != GS_SYSCALL)
		return;
	if (ev->p >= 0 && ev->p < MODEL_MAX_P) {
		ensure_p(c, ev->p);
		kick(c, ev->p);
		go_unblock(c, id, ev->p, 0); /* GoSysExit; then it runs on at once */
		go_start(c, id, ev->p);
	} else {
		go_unblock(c, id, g0_p(c, -1), 0);
	}
}

/* The monitor took P @p from its task's syscall. */
static void on_handoff(struct ctx *c, int p)
{
	if (p < 0 || p >= MODEL_MAX_P)
		return;
	ensure_p(c, p);
	if (c->ps[p].g) {
		struct gor *g = gor(c, c->ps[p].g);
		if (g && g->insys)
			go_leave(c, c->ps[p].g, EvGoSysBlock, 0);
	}
	proc_stop(c, p);
}

static void on_stw_begin(struct ctx *c, const weft_tr_event *ev)
{
	if (c->stw)
		return;
	c->stw = true;
	c->stw_p = ev->p >= 0 && ev->p < MODEL_MAX_P ? ev->p : 0;
	put(c, c->stw_p, EvGCSTWStart, 1, (uint64_t[]){ STW_KIND });
}

/* The world restarts: as model.c's ev_stw_end, the other Ps were parked
 * without an event, and a task in a syscall lost its P. */
static void on_stw_end(struct ctx *c)
{
	if (!c->stw)
		return;
	c->stw = false;
	put(c, c->stw_p, EvGCSTWDone, 0, NULL);
	for (int i = 0; i < c->np; i++) {
		if (i == c->stw_p)
			continue;
		struct gor *g = gor(c, c->ps[i].g);
		if (g && !g->insys)
			continue; /* still running: not stopped, or we missed how */
		if (g)
			go_leave(c, c->ps[i].g, EvGoSysBlock, 0);
		proc_stop(c, i);
	}
}

static struct regions *region_push(struct gor *g)
{
	struct regions *r = g->r;

	if (!r || r->n == r->cap) {
		uint32_t cap = r ? 2 * r->cap : 4;
		r = realloc(r, sizeof(*r) + cap * sizeof(r->r[0]));
		if (!r)
			tool_oom();
		if (!g->r)
			r->n = 0;
		r->cap = cap;
		g->r = r;
	}
	return r;
}

static void on_annotation(struct ctx *c, const weft_tr_event *ev)
{
	uint64_t id, utask;
	int p;

	switch (ev->type) {
	case WEFT_TEV_UTASK_BEGIN:
		id = ev->args[2];
		p = running_p(c, id);
		put(c, p >= 0 ? p : g0_p(c, ev->p), EvUserTaskCreate, 4,
		    (uint64_t[]){ ev->args[0], ev->args[1], str_of(c, ev->str[0], "task"),
				  task_stack(c, id) });
		break;
	case WEFT_TEV_UTASK_END:
		id = ev->args[1];
		p = running_p(c, id);
		put(c, p >= 0 ? p : g0_p(c, ev->p), EvUserTaskEnd, 2,
		    (uint64_t[]){ ev->args[0], task_stack(c, id) });
		break;
	case WEFT_TEV_REGION_BEGIN: {
		id = ev->args[0];
		struct gor *g = gor(c, id);
		if (!g)
			break;
		struct regions *r = region_push(g);
		struct region *e = &r->r[r->n++];
		e->utask = ev->args[1];
		e->name = str_of(c, ev->str[0], "region");
		/* A region belongs to a goroutine: only one that runs can start it. */
		e->written = c->live && g->st == GS_RUNNING;
		if (e->written)
			put(c, g->p, EvUserRegion, 4,
			    (uint64_t[]){ e->utask, 0, e->name, entry_stack(c, g) });
		break;
	}
	case WEFT_TEV_REGION_END: {
		id = ev->args[0];
		struct gor *g = gor(c, id);
		if (!g || !g->r || !g->r->n)
			break;
		struct region e = g->r->r[--g->r->n];
		if (e.written && g->st == GS_RUNNING)
			put(c, g->p, EvUserRegion, 4,
			    (uint64_t[]){ e.utask, 1, e.name, entry_stack(c, g) });
		break;
	}
	case WEFT_TEV_LOG: {
		id = ev->args[0];
		utask = ev->args[1];
		p = running_p(c, id);
		const char *msg = ev->str[1] ? ev->str[1] : "";
		put_msg(c, p >= 0 ? p : g0_p(c, ev->p), EvUserLog, 3,
			(uint64_t[]){ utask,
				      ev->str[0] && ev->str[0][0] ? str_of(c, ev->str[0], "") : 0,
				      task_stack(c, id) },
			msg, ev->str[1] ? ev->strlen[1] : 0);
		break;
	}
	}
}

static void on_event(struct ctx *c, const weft_tr_event *ev)
{
	uint64_t id = ev->args[0];
	struct gor *g;

	switch (ev->type) {
	case WEFT_TEV_PROC_START:
		if (id < MODEL_MAX_P)
			proc_start(c, (int)id, ev->args[1]);
		break;
	case WEFT_TEV_PROC_STOP:
		if (id < MODEL_MAX_P)
			proc_stop(c, (int)id);
		break;
	case WEFT_TEV_TASK_CREATE:
		on_create(c, ev);
		break;
	case WEFT_TEV_TASK_START:
		if (ev->p >= 0 && ev->p < MODEL_MAX_P && go_get(c, id, ev->p))
			go_start(c, id, ev->p);
		break;
	case WEFT_TEV_TASK_END:
		if (!(g = gor(c, id)))
			break;
		go_leave(c, id, EvGoEnd, 0);
		g = gor(c, id);
		free(g->r);
		u64map_remove(&c->gs, g);
		break;
	case WEFT_TEV_TASK_YIELD:
		if ((g = gor(c, id)))
			go_leave(c, id, EvGoSched, entry_stack(c, g));
		break;
	case WEFT_TEV_TASK_BLOCK:
		if ((g = gor(c, id)) && g->st == GS_RUNNING)
			go_leave(c, id, go_block_type(ev->args[1]), site_stack(c, ev->args[3], g));
		break;
	case WEFT_TEV_TASK_UNBLOCK:
		on_unblock(c, ev);
		break;
	case WEFT_TEV_SYSCALL_ENTER:
		if ((g = gor(c, id)) && g->st == GS_RUNNING && !g->insys) {
			g->insys = true;
			put(c, g->p, EvGoSysCall, 1, (uint64_t[]){ site_stack(c, ev->args[1], g) });
		}
		break;
	case WEFT_TEV_SYSCALL_EXIT:
		on_syscall_exit(c, ev);
		break;
	case WEFT_TEV_SYSCALL_HANDOFF:
		on_handoff(c, id < MODEL_MAX_P ? (int)id : -1);
		break;
	case WEFT_TEV_STW_BEGIN:
		on_stw_begin(c, ev);
		break;
	case WEFT_TEV_STW_END:
		on_stw_end(c);
		break;
	case WEFT_TEV_TASK_STATE:
		on_state(c, ev);
		break;
	case WEFT_TEV_UTASK_BEGIN:
	case WEFT_TEV_UTASK_END:
	case WEFT_TEV_REGION_BEGIN:
	case WEFT_TEV_REGION_END:
	case WEFT_TEV_LOG:
		on_annotation(c, ev);
		break;
	default:
		break; /* STALL, M_CREATE, STEAL: nothing in Go's format */
	}
}

/* ---- the window ----------------------------------------------------------------- */

/* Write the whole view as the goroutines in progress (see the essay). */
static void open_window(struct ctx *c)
{
	c->live = true;
	if (c->procs < c->np)
		c->procs = c->np;
	if (c->procs < 1)
		c->procs = 1;
	put(c, 0, EvGomaxprocs, 2, (uint64_t[]){ (uint64_t)c->procs, stack_of(c, c->f_start, 0) });
	for (int i = 0; i < c->np; i++)
		if (c->ps[i].running || c->ps[i].g) {
			c->ps[i].running = true;
			put(c, i, EvProcStart, 1, &c->ps[i].m);
		}
	/* Created by G 0 on P 0, which runs no goroutine yet in the output. */
	for (size_t i = 0; i < c->gs.cap; i++) {
		if (!c->gs.keys[i])
			continue;
		uint64_t id = c->gs.keys[i];
		struct gor *g = u64map_val(&c->gs, i);
		g->seq = 0;
		put(c, 0, EvGoCreate, 3, (uint64_t[]){ id, stack_of(c, g->fn, 0), 0 });
		if (g->st == GS_WAITING || g->st == GS_SYSCALL) {
			g->seq++;
			put(c, 0, g->st == GS_SYSCALL ? EvGoInSyscall : EvGoWaiting, 1, &id);
		}
		if (g->r)
			for (uint32_t k = 0; k < g->r->n; k++)
				g->r->r[k].written = false;
	}
	for (int i = 0; i < c->np; i++) {
		struct gor *g = gor(c, c->ps[i].g);
		if (!g)
			continue;
		g->seq++;
		put(c, i, EvGoStart, 2, (uint64_t[]){ c->ps[i].g, g->seq });
	}
	if (c->stw)
		put(c, c->stw_p, EvGCSTWStart, 1, (uint64_t[]){ STW_KIND });
}

/* The end: every goroutine descheduled, the STW closed, every P stopped. */
static void close_all(struct ctx *c)
{
	if (!c->live)
		open_window(c);
	for (int i = 0; i < c->np; i++) {
		struct gor *g = gor(c, c->ps[i].g);
		if (g)
			go_leave(c, c->ps[i].g, g->insys ? EvGoSysBlock : EvGoSched,
				 g->insys ? 0 : entry_stack(c, g));
	}
	if (c->stw) {
		c->stw = false;
		put(c, c->stw_p, EvGCSTWDone, 0, NULL);
	}
	for (int i = 0; i < c->np; i++)
		proc_stop(c, i);
}

static void write_tables(struct ctx *c)
{
	uint8_t b[32];
	size_t n;

	n = 0;
	b[n++] = EvFrequency;
	n += uvarint(b + n, 1000000000ull);
	fwrite(b, 1, n, c->f);
	for (size_t i = 1; i < c->nstrs; i++) {
		n = 0;
		b[n++] = EvString;
		n += uvarint(b + n, i);
		n += uvarint(b + n, c->strs[i].len);
		fwrite(b, 1, n, c->f);
		fwrite(c->strs[i].s, 1, c->strs[i].len, c->f);
	}
	for (size_t i = 1; i < c->nstacks; i++) {
		uint32_t fr[2] = { (uint32_t)(c->stacks[i] >> 32), (uint32_t)c->stacks[i] };
		int nf = fr[1] ? 2 : 1;
		uint8_t v[2 * 10 + 2 * 4 * 10];
		size_t nv = 0;
		nv += uvarint(v + nv, i);
		nv += uvarint(v + nv, (uint64_t)nf);
		for (int k = 0; k < nf; k++) {
			nv += uvarint(v + nv, PC_BASE + (uint64_t)PC_STEP * fr[k]);
			nv += uvarint(v + nv, c->frame_name[fr[k]]);
			nv += uvarint(v + nv, 0); /* file: none */
			nv += uvarint(v + nv, 0); /* line */
		}
		n = 0;
		b[n++] = EvStack | 3 << 6;
		n += uvarint(b + n, nv);
		fwrite(b, 1, n, c->f);
		fwrite(v, 1, nv, c->f);
	}
}

static bool snapshot_event(int type)
{
	return type == WEFT_TEV_TASK_STATE || type == WEFT_TEV_PROC_START ||
	       type == WEFT_TEV_M_CREATE;
}

int export_go(struct export_args *a)
{
	struct ctx c = { 0 };
	struct tool_trace *tt = a->tt;
	weft_tr_event *ev;
	int r;
	bool cut = false;

	c.f = a->f;
	c.t = tt->t;
	c.from = a->from;
	c.stw_p = -1;
	c.procs = tt->info.procs > 0 && tt->info.procs <= MODEL_MAX_P ? tt->info.procs : 0;
	u64map_init(&c.gs, sizeof(struct gor), U64MAP_IDS);
	u64map_init(&c.fn_frames, sizeof(uint32_t), U64MAP_MIXED);
	u64map_init(&c.site_frames, sizeof(uint32_t), U64MAP_MIXED);
	u64map_init(&c.stack_ids, sizeof(uint32_t), U64MAP_MIXED);
	u64map_init(&c.str_ids, sizeof(uint32_t), U64MAP_MIXED);
	c.f_thread = frame_new(&c, "(no task: timer or thread)");
	c.f_start = frame_new(&c, "(tracing started)");
	if (c.procs)
		ensure_p(&c, c.procs - 1);
	fwrite(GO_HEADER, 1, 16, c.f);
	while ((r = tool_next(tt, &ev)) > 0) {
		if (ev->ts > a->to) {
			cut = true;
			break;
		}
		if (ev->ts > c.now)
			c.now = ev->ts;
		if (!c.live && ev->ts >= c.from && !snapshot_event(ev->type))
			open_window(&c);
		on_event(&c, ev);
	}
	if (r >= 0) {
		if (cut)
			c.now = a->to > c.now ? a->to : c.now;
		else if (tt->info.end_ts > c.now)
			c.now = tt->info.end_ts;
		close_all(&c);
		for (int i = 0; i < c.np; i++)
			flush_p(&c, &c.ps[i]);
		write_tables(&c);
	}
	for (size_t i = 0; i < c.gs.cap; i++)
		if (c.gs.keys[i])
			free(((struct gor *)u64map_val(&c.gs, i))->r);
	for (int i = 0; i < c.np; i++)
		free(c.ps[i].buf);
	for (size_t i = 1; i < c.nstrs; i++)
		free(c.strs[i].s);
	free(c.ps);
	free(c.strs);
	free(c.stacks);
	free(c.frame_name);
	u64map_free(&c.gs);
	u64map_free(&c.fn_frames);
	u64map_free(&c.site_frames);
	u64map_free(&c.stack_ids);
	u64map_free(&c.str_ids);
	a->nevents = tt->nread;
	return r < 0 ? -1 : 0;
}

/*
 * trace.c - the execution tracer's writer: every scheduler transition as
 * an event in a per-P buffer, compressed by a flusher thread into an
 * append-only file (format: common/trace_format.h, doc/trace-format.md).
 *
 * Emitting. Each hook in the scheduler is WEFT__TRACE(p, ...): one load of
 * weft__trace_on and a predictable branch when tracing is off. When on, the
 * event goes to the buffer of the P the caller owns - no lock, no atomic
 * read-modify-write, inlined at the hook (weft__trace_emit): a type byte,
 * the tick delta from the previous event of the buffer and the arguments,
 * all as LEB128 varints (a task switch is 4-6 bytes before compression).
 * A task switch reads the clock once: the START of the next task shares
 * the tick of the BLOCK/YIELD/END just written when nothing ran between
 * (p->tswitch, cleared on the way to g0). Events from a thread that owns no P
 * (a plain thread waking a task, sysmon taking a P, an M that lost its P
 * in a syscall) go to one global buffer under a mutex; they are rare.
 *
 * Clock. The invariant TSC when /proc/cpuinfo says constant_tsc and
 * nonstop_tsc (rdtsc is ~20 cycles, clock_gettime ~60), calibrated
 * against CLOCK_MONOTONIC over the trace's life; the header holds the
 * frequency, and is rewritten at the end with the measured one.
 * CLOCK_MONOTONIC otherwise, and on other CPUs.
 *
 * Flushing. A full buffer is enqueued on a liburcu wait-free queue and
 * replaced from a pool; the flusher thread dequeues it, resolves the names
 * of task entry functions it has not seen (a strings chunk precedes the
 * events chunk that first uses them, so a file is self-contained and no
 * symbol lookup happens on the emit path), compresses it as one zstd
 * frame with a checksum, and appends the chunk. A killed process leaves
 * every chunk written so far readable. Buffers are allocated up to the
 * memory cap (WEFT_TRACE_MAX_MEM, default 64 MiB); at the cap the emitting
 * P waits for the flusher to give one back and records how long (STALL):
 * nothing is dropped.
 *
 * A buffer fills in seconds on a busy P, never on an idle or stuck one,
 * so every 100 ms (WEFT__TFLUSH_PERIOD) the flusher also writes what each
 * stream's current buffer holds and the file does not: a SIGKILLed or
 * hung program loses at most the last 100 ms of each P. The emitter
 * publishes each event by storing the buffer's length with release
 * (weft__tbuf_publish_len: a plain store on x86, the same instructions as
 * before), and the flusher copies the prefix it loads with acquire, while
 * the P goes on writing after it; the part becomes a chunk of its own
 * (trace_flush.c, "The writer"). The same copy is what the death paths
 * write.
 *
 * Dying (trace_flush.c has the protocol). The deadlock report, a weft
 * fatal error, a stack overflow, weft__throw, abort(), a crash with no
 * handler, exit() and SIGINT/SIGTERM each finish the file before the
 * process ends: tracing off, the flusher's work taken over, every queued
 * buffer and every stream's current prefix written, the header marked
 * complete with how it ended (format version 4). No P has to reach a
 * scheduling point for it, so a program stuck in a loop ends at once on
 * Ctrl-C with its trace; in exchange each stream ends where its P was,
 * not at one consistent cut as weft_trace_stop() makes.
 *
 * Starting happens under stop-the-world (or before the first task runs,
 * for WEFT_TRACE). A trace begun mid-run records every existing task's
 * state (TASK_STATE), so that blocked tasks show as blocked, and that
 * snapshot is only consistent with the events around it if no task moves
 * while it is taken: the buffers go in, the states are read, and tracing
 * is turned on before any other P runs again. With the Ps running (RCU on
 * this side too), a state read during the grace period could be older or
 * newer than the events recorded around it, and the reader has only the
 * clock to order the global stream against the Ps'. start_lock is not
 * held across that stop (a task waiting for it would block its M, and
 * the stop would wait for that P for ever): the session is marked
 * `installing`, and a weft_trace_stop() that comes in meanwhile yields
 * until the buffers are in.
 *
 * Stopping uses RCU - liburcu's QSBR flavour, whose readers are the Ms
 * (rcu.c) - so that it does not pause the program. What it protects: each
 * P's buffer (p->tbuf, with its sequence number), which whichever M owns
 * the P writes with no lock. The read-side critical section is a hook,
 * from its check of weft__trace_on to the end of its write (a rotation
 * included). The quiescent states are where no hook can be: each schedule
 * point (a task starting, a round of the scheduler loop, a yield), and
 * the M is offline while it parks, sleeps until a timer, waits for a stop
 * of the world or is in a syscall (its events then go to the global
 * buffer: weft__trace_p). weft_trace_stop() waits for two grace periods,
 * asking weft_safepoint() to pass quiescent states meanwhile. The first,
 * with tracing still on, lets every P record what it does up to its next
 * schedule point, as a stopped world did: the task whose wg_done woke the
 * stopper still records its END. Then it clears weft__trace_on; after the
 * second no M is inside a hook that saw tracing on, nor will be, so the
 * buffers are taken back with plain stores, flushed, and the file
 * finalized while the program runs on. The global buffer needs no RCU:
 * its writers (plain threads, sysmon, Ms without a P) hold its mutex, and
 * it is taken back under it after the second grace period. The stopping
 * task keeps its P while its thread waits, twice as long as the slowest P
 * takes to reach a schedule point (a stop of the world waited once); no
 * one else waits.
 *
 * Each P's stream ends with the last event its M recorded before seeing
 * tracing off, so the streams end at different times; the header records
 * when tracing stopped, which is where the trace ends (the stopping task
 * itself ran on after its last event). The cut is causally closed: an
 * event that follows one left out, through the release/acquire chain that
 * hands a task on, reads weft__trace_on after that one's check read 0, so
 * it reads 0 too (read-read coherence); and an event that saw tracing on
 * but found the global buffer gone came after the grace periods, when no
 * P records anything.
 *
 * Causality and names. Each task carries a sequence number bumped at every
 * START and UNBLOCK; the event records it only when the task's previous
 * numbered event was on another stream (t->tlastp), as Go 1.19 does, so
 * that the reader can order a START on P1 after the UNBLOCK on P0 that
 * caused it even when the clocks tie. Entry functions and call sites
 * (the return address of the public blocking call, kept in a TLS slot by
 * WEFT__SITE) are recorded as small code keys and named by the flusher.
 *
 * Signals. SIGINT and SIGTERM (when their disposition is the default)
 * finish the file: the handler wakes the flusher, which takes the death
 * path and sends the signal again with the old disposition back; SIGABRT
 * finishes it in its handler. A SIGKILL leaves every chunk written so
 * far (each P's events up to the last periodic flush), and the header's
 * "complete" flag unset, so the reader can say the tail is lost.
 *
 * Rejected:
 *   - Stopping under stop-the-world, as the first version did: with every
 *     P parked none is inside a hook, but each stop paused the whole
 *     program until the slowest P reached a safepoint, and recorded that
 *     pause at the end of the trace. A grace period waits for the same
 *     schedule points without stopping anyone, for two loads and a compare
 *     per schedule (yield and channel ping-pong unchanged, within noise).
 *   - RCU for starting too: see "Starting".
 *   - A lock-free global ring (one cache line bouncing on every event).
 *   - Compressing on the emitting P: zstd costs ~1-3 ns/byte, on the
 *     flusher it overlaps with the program.
 *   - Resolving names on the emit path: a symbol lookup is microseconds.
 *   - Finishing on SIGINT/SIGTERM with weft_trace_stop() in a task the
 *     flusher started (the first version): it waited for every P to reach
 *     a scheduling point, so a program stuck in a loop ignored Ctrl-C and
 *     a second one killed it with an empty trace; and the flusher, which
 *     must never wait on an emitter, called weft_go, which emits.
 *   - A periodic flush by the Ps themselves, each handing over its partial
 *     buffer at its next scheduling point (Go's way): the P stuck in a
 *     loop is the one whose events matter, and it never gets there.
 *
 * Not yet: a per-M buffer for Ms without a P (they share the global one
 * under a mutex; they are rare: plain threads, sysmon, syscall exits).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <link.h>
#include <zstd.h>

#include "internal.h"
#include "symbol.h"
#include "trace_emit.h"
#include "trace_writer.h"

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

#define S weft__sched

_Atomic int weft__trace_on;
bool weft__trace_prestart; /* weft_main starts or ends a trace with no task running */
__thread const void *weft__site __attribute__((tls_model("initial-exec")));


struct weft__tsession weft__tsess;

/* The global buffer (trace_writer.h); its lock is never reset. */
struct weft__tglobal weft__tglob = { .lock = PTHREAD_MUTEX_INITIALIZER };

static pthread_mutex_t start_lock = PTHREAD_MUTEX_INITIALIZER;
static bool active;     /* a session exists (under start_lock) */
static bool installing; /* ... and its buffers are not installed yet */

/* ---- clock ------------------------------------------------------------------ */

static bool tsc_usable(void)
{
#if defined(__x86_64__)
	char line[4096];
	FILE *f = fopen("/proc/cpuinfo", "re");
	bool c = false, n = false;

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "flags", 5) != 0)
			continue;
		c = strstr(line, " constant_tsc") != NULL;
		n = strstr(line, " nonstop_tsc") != NULL;
		break;
	}
	fclose(f);
	return c && n;
#else
	return false;
#endif
}

bool weft__trace_tsc;


/*
 * A first estimate of the TSC rate (2 ms against CLOCK_MONOTONIC), so that
 * a trace cut short by a crash is still readable; stop measures it over
 * the whole trace and rewrites the header.
 */
static uint64_t calibrate(void)
{
	int64_t m0 = weft__nanotime(), m1;
	uint64_t t0 = weft__trace_ticks(), t1;

	do {
		m1 = weft__nanotime();
		t1 = weft__trace_ticks();
	} while (m1 - m0 < 2000000);
	return (uint64_t)((long double)(t1 - t0) * 1e9L / (long double)(m1 - m0));
}

/* ---- start and stop -------------------------------------------------------- */

static int base_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	for (int i = 0; i < info->dlpi_phnum; i++)
		if (info->dlpi_phdr[i].p_type == PT_LOAD) {
			*(uintptr_t *)arg = info->dlpi_addr + info->dlpi_phdr[i].p_vaddr;
			break;
		}
	return 1; /* the first object is the executable */
}


/*
 * @end: the tick when tracing stopped, 0 while the trace runs. A complete
 * header also records the file's length, so that a reader tells a copy cut
 * between two chunks from the whole file (both are valid chunk sequences).
 */
/* @reason: enum weft_trace_end, NONE while the trace runs. Async-signal-safe
 * (the death paths, trace_flush.c). */
void weft__trace_write_header(uint64_t freq, int reason, int code, uint64_t end)
{
	uint8_t h[WEFT_TF_HEADER_SIZE];
	bool complete = reason != WEFT_TRACE_END_NONE;

	weft_tf_header_put(h, &(struct weft_tf_header){
		.version = WEFT_TF_VERSION,
		.size = WEFT_TF_HEADER_SIZE,
		.end_reason = (uint8_t)reason,
		.end_code = (uint8_t)code,
		.clock = weft__tsess.tsc ? WEFT_TF_CLOCK_TSC : WEFT_TF_CLOCK_MONO,
		.flags = complete ? WEFT_TF_FLAG_COMPLETE : 0,
		.length = complete ? WEFT_TF_HEADER_SIZE + weft__tsess.file_bytes : 0,
		.ticks_per_sec = freq,
		.tick0 = weft__tsess.tick0,
		.start_unix_ns = weft__tsess.unix0,
		.procs = weft__tsess.procs0,
		.pid = (uint32_t)weft__tsess.pid,
		.end_tick = end });
	if (pwrite(weft__tsess.fd, h, sizeof(h), 0) != (ssize_t)sizeof(h) && !weft__tsess.err)
		weft__tsess.err = errno ? -errno : -EIO;
}

/* The tick rate measured from the start to (@mono1, @tick1). */
uint64_t weft__trace_freq(int64_t mono1, uint64_t tick1)
{
	if (weft__tsess.tsc && mono1 > weft__tsess.mono0)
		return (uint64_t)((long double)(tick1 - weft__tsess.tick0) * 1e9L /
				  (long double)(mono1 - weft__tsess.mono0));
	return weft__tsess.tsc ? weft__tsess.freq0 : 1000000000;
}

/* An integer from the environment within [lo, hi], else @def. */
/* WEFT_TRACE_LEVEL: the zstd level, @lo..@hi; *@v the default if unset.
 * -EINVAL (said on stderr) if set to anything else. */
static int env_level(int *v, int lo, int hi)
{
	const char *e = getenv("WEFT_TRACE_LEVEL");
	char *end;
	long l;

	if (!e || !*e)
		return 0;
	errno = 0;
	l = strtol(e, &end, 10);
	if (errno || *end || l < lo || l > hi) {
		fprintf(stderr, "weft: WEFT_TRACE_LEVEL=%s: want a zstd level from %d to %d\n", e, lo,
			hi);
		return -EINVAL;
	}
	*v = (int)l;
	return 0;
}

/* WEFT_TRACE_MAX_MEM: bytes ("64M", "512k", "1G"); *@v the default if
 * unset. -EINVAL (said on stderr) if set to anything else. */
static int max_mem(size_t *v)
{
	const char *e = getenv("WEFT_TRACE_MAX_MEM");
	long long l;

	*v = DEFAULT_MAX_MEM;
	if (!e || !*e)
		return 0;
	l = weft__parse_size(e);
	if (l <= 0 || l > (1LL << 40)) {
		fprintf(stderr,
			"weft: WEFT_TRACE_MAX_MEM=%s: want a size in bytes with an optional k, M "
			"or G suffix, at most 1024G\n",
			e);
		return -EINVAL;
	}
	*v = (size_t)l;
	return 0;
}

static int snapshot_state(struct weft__task *t)
{
	switch (atomic_load_explicit(&t->status, memory_order_relaxed)) {
	case WEFT__T_RUNNABLE:
		return WEFT_TRACE_STATE_RUNNABLE;
	case WEFT__T_RUNNING:
		return WEFT_TRACE_STATE_RUNNING;
	case WEFT__T_WAITING:
		return WEFT_TRACE_STATE_BLOCKED;
	case WEFT__T_SYSCALL:
		return WEFT_TRACE_STATE_SYSCALL;
	default:
		return 0;
	}
}

static void snap_task(struct weft__task *t, void *arg)
{
	int st = snapshot_state(t);

	struct weft__m *m = arg;

	if (!st)
		return;
	/* The running task (the one starting the trace) is recorded on its P. */
	/* A task in a syscall runs on its own thread while the world is
	 * stopped and may be leaving the syscall now (which clears
	 * wait_reason): its reason is known without reading it. */
	/* wait_reason and fn relaxed: sysmon's netpoll may ready a task
	 * while the world is stopped (weft__ready_polled stores them so;
	 * ThreadSanitizer in CI rehearsal 30, check_debug's trace start). */
	weft__trace_ev(m && m->curg == t ? m->p : NULL, WEFT_TEV_TASK_STATE, 5, t->id, (uint64_t)st,
		       st == WEFT_TRACE_STATE_SYSCALL ? (uint64_t)WEFT_TRACE_BLOCK_SYSCALL
		       : st == WEFT_TRACE_STATE_BLOCKED
			       ? (uint64_t)__atomic_load_n(&t->wait_reason, __ATOMIC_RELAXED)
			       : 0,
		       weft__trace_code((void *)__atomic_load_n(&t->fn, __ATOMIC_RELAXED)), t->tseq);
	t->tlastp = WEFT__TSTREAM_M; /* the next numbered event carries its seq */
}

/* Install buffers and turn tracing on. World stopped, or nothing runs yet. */
static int install(void)
{
	int n = atomic_load(&S.nprocs);
	struct weft__m *m = weft__getm();
	struct weft__tbuf *b;
	int64_t stalled;

	WEFT__ASSERT(weft__world_stopped() || weft__trace_prestart || !atomic_load(&S.running));
	for (int i = 0; i < WEFT_MAX_PROCS; i++)
		if (S.allp[i]) /* a new session names every key again */
			memset(S.allp[i]->tkeys, 0, sizeof(S.allp[i]->tkeys));
	for (int i = 0; i < n; i++) {
		struct weft__p *p = S.allp[i];
		b = weft__tbuf_get(&stalled);
		weft__tbuf_reset(b, WEFT_TF_CHUNK_EVENTS, WEFT_TF_STREAM_P, (uint32_t)i);
		weft__tbuf_publish(&p->tbuf, b);
	}
	b = weft__tbuf_get(&stalled);
	weft__tbuf_reset(b, WEFT_TF_CHUNK_EVENTS, WEFT_TF_STREAM_M, 0);
	pthread_mutex_lock(&weft__tglob.lock);
	weft__tbuf_publish(&weft__tglob.buf, b);
	pthread_mutex_unlock(&weft__tglob.lock);
	for (int i = 0; i < n; i++) {
		struct weft__p *p = S.allp[i];
		if (atomic_load(&p->status) == WEFT__P_RUNNING && p->m)
			weft__trace_ev(p, WEFT_TEV_PROC_START, 2, (uint64_t)i,
				       (uint64_t)p->m->id, 0, 0, 0);
	}
	weft__tasks_foreach(snap_task, m && m->curg ? m : NULL);
	/* The pause we are in began before tracing did; its STW_END follows. */
	if (m && m->curg && m->p)
		weft__trace_ev(m->p, WEFT_TEV_STW_BEGIN, 1, WEFT_TRACE_STW_TRACE, 0, 0, 0, 0);
	atomic_store(&weft__trace_on, 1);
	return 0;
}

/*
 * Let every P record up to its next schedule point, turn tracing off,
 * wait until no M is in a hook, then take every buffer back and queue it
 * (see "Stopping"). The world runs on. From weft_trace_stop only.
 */
static void uninstall(void)
{
	/* A task looping on weft_safepoint() passes quiescent states too. */
	atomic_fetch_or(&weft__safepoint_pending, WEFT__SP_RCU);
	weft__rcu_synchronize();
	atomic_store(&weft__trace_on, 0);
	weft__rcu_synchronize();
	atomic_fetch_and(&weft__safepoint_pending, ~WEFT__SP_RCU);
	/* No M is between a check that saw tracing on and its write now, and
	 * none will be: allp and pcount change only with the world stopped,
	 * which cannot happen while our P runs this. */
	for (int i = 0; i < S.pcount; i++) {
		struct weft__p *p = S.allp[i];
		struct weft__tbuf *b = p ? p->tbuf : NULL;
		if (b) {
			weft__tbuf_unpublish(&p->tbuf);
			if (b->nev)
				weft__tbuf_enqueue(b);
			else
				weft__tbuf_put(b);
		}
	}
	pthread_mutex_lock(&weft__tglob.lock);
	struct weft__tbuf *g = weft__tglob.buf;
	weft__tbuf_unpublish(&weft__tglob.buf);
	if (g->nev)
		weft__tbuf_enqueue(g);
	else
		weft__tbuf_put(g);
	pthread_mutex_unlock(&weft__tglob.lock);
}

/*
 * fork(): the child has none of our threads, so no flusher: it must not
 * record (its buffers would fill and wait for ever). It drops the session
 * without touching the parent's file: tracing is off, and start_lock,
 * which another thread may have held at the fork, is made new.
 */
static void trace_atfork_child(void)
{
	atomic_store(&weft__trace_on, 0);
	pthread_mutex_init(&start_lock, NULL);
	active = false;
	installing = false;
}

static void trace_atfork_once(void)
{
	pthread_atfork(NULL, NULL, trace_atfork_child);
}

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

WEFT_API int weft_trace_start(const char *path)
{
	struct weft__m *m = weft__getm();
	bool in_task = m && m->curg;
	int err;

	int level = 1;
	size_t mem;

	if (!path)
		return -EINVAL;
	/* From a task, or from weft_main itself (WEFT_TRACE): with no runtime
	 * there is no P to record on (weft.h). */
	if (!in_task && !weft__trace_prestart)
		return -EINVAL;
	weft__stw_forbid("weft_trace_start");
	pthread_once(&atfork_once, trace_atfork_once);
	if ((err = env_level(&level, -7, 19)) != 0 || (err = max_mem(&mem)) != 0)
		return err;
	weft__rcu_mutex_lock(&start_lock);
	if (active) {
		pthread_mutex_unlock(&start_lock);
		return -EBUSY;
	}
	memset(&weft__tsess, 0, sizeof(weft__tsess));
	weft__tsess.pid = getpid();
	snprintf(weft__tsess.path, sizeof(weft__tsess.path), "%s", path);
	weft__tsess.fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (weft__tsess.fd < 0) {
		err = -errno;
		pthread_mutex_unlock(&start_lock);
		return err;
	}
	weft__tsess.level = level;
	weft__tsess.max_bufs = mem / sizeof(struct weft__tbuf);
	if (weft__tsess.max_bufs < (size_t)atomic_load(&S.nprocs) + 2)
		weft__tsess.max_bufs = (size_t)atomic_load(&S.nprocs) + 2; /* one each, one spare */
	weft__tsess.tsc = tsc_usable();
	weft__trace_tsc = weft__tsess.tsc;
	weft__tsess.zc = ZSTD_createCCtx();
	weft__tsess.zcap = ZSTD_compressBound(BUF_SIZE);
	weft__tsess.zbuf = malloc(weft__tsess.zcap);
	/* The writer's own memory, so that a death path allocates nothing. */
	weft__tsess.scratch = malloc(BUF_SIZE + 2 * EV_MAX);
	weft__tsess.capseen = 1024;
	weft__tsess.seen = calloc(weft__tsess.capseen, sizeof(*weft__tsess.seen));
	if (!weft__tsess.zc || !weft__tsess.zbuf || !weft__tsess.scratch || !weft__tsess.seen) {
		err = -ENOMEM;
		goto fail;
	}
	ZSTD_CCtx_setParameter(weft__tsess.zc, ZSTD_c_compressionLevel, weft__tsess.level);
	ZSTD_CCtx_setParameter(weft__tsess.zc, ZSTD_c_checksumFlag, 1);
	pthread_mutex_init(&weft__tsess.pool_lock, NULL);
	cds_wfcq_init(&weft__tsess.q_head, &weft__tsess.q_tail);
	dl_iterate_phdr(base_cb, &weft__tsess.code_base);
	/* Every file the names need, opened here, not on the flusher (symbol.h). */
	weft__symcache_load(&weft__tsess.syms);
	weft__tsess.mono0 = weft__nanotime();
	weft__tsess.tick0 = weft__trace_ticks();
	{
		struct timespec rt;
		clock_gettime(CLOCK_REALTIME, &rt);
		weft__tsess.unix0 = (int64_t)rt.tv_sec * 1000000000 + rt.tv_nsec;
	}
	weft__tsess.procs0 = (uint32_t)atomic_load(&S.nprocs);
	weft__tsess.freq0 = weft__tsess.tsc ? calibrate() : 1000000000;
	weft__trace_write_header(weft__tsess.freq0, WEFT_TRACE_END_NONE, 0, 0);
	if (lseek(weft__tsess.fd, WEFT_TF_HEADER_SIZE, SEEK_SET) < 0 || weft__tsess.err) {
		err = weft__tsess.err ? weft__tsess.err : -errno;
		goto fail;
	}
	if ((err = -pthread_create(&weft__tsess.flusher, NULL, weft__trace_flusher_main, NULL)) != 0)
		goto fail;
	atomic_fetch_add(&S.nhelpers, 1); /* not a possible waker: see checkdead */
	active = true;
	installing = true;
	weft__trace_signals_install();
	weft__trace_exit_hook();
	atomic_store(&weft__tsess.live, 1); /* the death paths may finish the file */
	/* The world is stopped without start_lock held: a task waiting for
	 * that lock would block its M, and the stop would wait for its P for
	 * ever. A stop that comes in now waits for `installing` to clear. */
	pthread_mutex_unlock(&start_lock);
	if (in_task) {
		weft_stop_the_world("trace");
		install();
		weft_start_the_world();
	} else {
		install();
	}
	weft__rcu_mutex_lock(&start_lock);
	installing = false;
	pthread_mutex_unlock(&start_lock);
	return 0;
fail:
	weft__symcache_drop(&weft__tsess.syms);
	ZSTD_freeCCtx(weft__tsess.zc);
	free(weft__tsess.zbuf);
	free(weft__tsess.scratch);
	free(weft__tsess.seen);
	close(weft__tsess.fd);
	pthread_mutex_unlock(&start_lock);
	return err;
}

WEFT_API int weft_trace_stop(void)
{
	struct weft__m *m = weft__getm();
	bool in_task = m && m->curg;
	int64_t mono1;
	uint64_t tick1, freq;
	int err;

	if (!in_task && atomic_load(&S.running) && !weft__trace_prestart)
		return -EINVAL;
	weft__rcu_mutex_lock(&start_lock);
	/* A start in another task is between its unlock and its install:
	 * let it finish (yielding, so that its stop of the world can take
	 * our P). */
	while (active && installing) {
		pthread_mutex_unlock(&start_lock);
		if (in_task)
			weft_yield();
		else
			sched_yield();
		weft__rcu_mutex_lock(&start_lock);
	}
	if (!active) {
		pthread_mutex_unlock(&start_lock);
		return -EINVAL;
	}
	uninstall();
	mono1 = weft__nanotime();
	tick1 = weft__trace_ticks();
	atomic_store(&weft__tsess.stopping, 1);
	atomic_store(&weft__tsess.q_note, 1);
	weft__futex_wake(&weft__tsess.q_note, 1);
	pthread_join(weft__tsess.flusher, NULL);
	atomic_fetch_sub(&S.nhelpers, 1);
	/* The file is ours, unless a death path took it: then the process is
	 * about to end, and this waits for that. */
	weft__writer_take();
	atomic_store(&weft__tsess.live, 0);
	/* The measured tick rate over the whole trace. */
	freq = weft__trace_freq(mono1, tick1);
	weft__trace_write_header(freq, WEFT_TRACE_END_STOP, 0, tick1);
	err = weft__tsess.err;
	if (fsync(weft__tsess.fd) != 0 && !err && errno != EINVAL)
		err = -errno;
	if (close(weft__tsess.fd) != 0 && !err)
		err = -errno;
	atomic_store(&weft__tsess.wlock, 0);
	while (weft__tsess.pool) {
		struct weft__tbuf *b = weft__tsess.pool;
		weft__tsess.pool = b->next;
		free(b);
	}
	ZSTD_freeCCtx(weft__tsess.zc);
	free(weft__tsess.zbuf);
	free(weft__tsess.scratch);
	free(weft__tsess.seen);
	weft__symcache_drop(&weft__tsess.syms);
	pthread_mutex_destroy(&weft__tsess.pool_lock);
	active = false;
	int sig = weft__trace_signals_restore();
	pthread_mutex_unlock(&start_lock);
	/* A SIGINT/SIGTERM that came after the flusher ended: the file is
	 * finished, now let it do what it does. */
	if (sig)
		kill(getpid(), sig);
	return err;
}

bool weft__trace_active(void)
{
	bool a;

	weft__rcu_mutex_lock(&start_lock);
	a = active;
	pthread_mutex_unlock(&start_lock);
	return a;
}

WEFT_API int weft_trace_enabled(void)
{
	return atomic_load_explicit(&weft__trace_on, memory_order_relaxed);
}

/* set_procs made Ps [old, n) (world stopped): give each a buffer. */
void weft__trace_add_procs(int n)
{
	int64_t stalled;

	WEFT__ASSERT(weft__world_stopped());
	/* Each P holds a buffer at all times: the cap must leave one per P,
	 * the global one and a spare (as at start), or the Ps made here
	 * would wait, the world stopped, for a buffer no one can return. */
	pthread_mutex_lock(&weft__tsess.pool_lock);
	if (weft__tsess.max_bufs < (size_t)n + 2)
		weft__tsess.max_bufs = (size_t)n + 2;
	pthread_mutex_unlock(&weft__tsess.pool_lock);
	for (int i = 0; i < n; i++) {
		struct weft__p *p = S.allp[i];
		struct weft__tbuf *b;
		if (p->tbuf)
			continue;
		b = weft__tbuf_get(&stalled);
		weft__tbuf_reset(b, WEFT_TF_CHUNK_EVENTS, WEFT_TF_STREAM_P, (uint32_t)i);
		weft__tbuf_publish(&p->tbuf, b);
	}
}


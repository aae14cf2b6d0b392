/*
 * trace_flush.c - the file writer. The flusher thread takes full buffers
 * off the queue and, every 100 ms, what each stream's current buffer holds
 * so far (the periodic flush); names the code keys they mention for the
 * first time (a strings chunk before the events chunk), compresses each
 * as one zstd frame and appends the chunk. The death paths - SIGINT,
 * SIGTERM, SIGABRT, exit(), the fatal errors - take the writer over and
 * finish the file with what every P recorded. The design is in trace.c's
 * essay ("Flushing", "Dying", "Signals").
 *
 * The writer. One thread at a time writes the file: the one whose thread
 * id is in weft__tsess.wlock - the flusher for one buffer or one periodic
 * pass at a time, a death path for good (it never gives it back: the
 * process is ending), the stopper once the flusher is joined. Everything
 * marked "writer" in trace_writer.h is under it, and so are the queue's
 * dequeue end (liburcu's single-consumer dequeue) and each buffer's f_*
 * fields. A buffer still being filled (the one in cur[]) is read up to
 * its published length (acquire, pairing with weft__tbuf_publish_len),
 * and only when its seq is the one the writer expects next for its
 * stream, i.e. the stream's older buffers are written (a filler that
 * rotates publishes the new buffer, then queues the old one). Because
 * of that order a buffer the writer has recycled (only what it dequeued:
 * already replaced in cur[], which the dequeue's acquire makes visible)
 * is never found in cur[] again until a filler reset and published it.
 * A part written early is a chunk of its own, re-encoded so that it
 * starts as a chunk does (first delta 0, task ids from 0); the rest of
 * the buffer follows as another.
 *
 * Rejected:
 *   - compressing on the emitting P, resolving names on the emit path
 *     (see trace.c);
 *   - asking the Ps to hand over their partial buffers at their next
 *     scheduling point (Go's way): a P spinning in one task never gets
 *     there, and its last events before the spin are the ones wanted;
 *   - a pthread mutex for the writer: a signal handler may not take one,
 *     and must tell "this thread died while writing" (give up) from
 *     "another thread is writing a chunk" (wait for it).
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <sys/uio.h>
#include <unistd.h>

#include "internal.h"
#include "trace_emit.h"
#include "trace_writer.h"
#include "symbol.h"

#define TS weft__tsess

/* ---- the writer's lock ---------------------------------------------------- */

static int my_tid(void)
{
	return (int)syscall(SYS_gettid); /* async-signal-safe */
}

static void nap_ms(void)
{
	nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
}

/* The flusher, for one buffer or pass; false once a death path has the
 * file or wants it (the flusher then ends). */
static bool flusher_take(int tid)
{
	int zero = 0;

	if (atomic_load(&TS.dying))
		return false;
	if (!atomic_compare_exchange_strong(&TS.wlock, &zero, tid))
		return false; /* only a death path holds it while the flusher runs */
	if (atomic_load(&TS.dying)) { /* it waits for us: let it in */
		atomic_store(&TS.wlock, 0);
		return false;
	}
	return true;
}

static void writer_put(void)
{
	atomic_store(&TS.wlock, 0);
}

/* The stopper, after joining the flusher: a death path may have the file
 * (then the process is about to end, and this waits for that). */
int weft__writer_take(void)
{
	int tid = my_tid();

	for (;;) {
		int zero = 0;
		if (atomic_compare_exchange_strong(&TS.wlock, &zero, tid))
			return 0;
		nap_ms();
	}
}

/* A death path: the writer within about a second (the flusher finishes
 * the chunk it writes), else false. False at once if this thread holds
 * it: it died while writing, the file's tail is not whole. */
static bool die_take(int tid)
{
	for (int i = 0; i < 1000; i++) {
		int cur = 0;
		if (atomic_compare_exchange_strong(&TS.wlock, &cur, tid))
			return true;
		if (cur == tid)
			return false;
		nap_ms();
	}
	return false;
}

/* ---- chunks ---------------------------------------------------------------- */

static void write_all(const void *p, size_t n);

/* @a then @b with one writev (the rest with write_all if it was short). */
static void write_two(const void *a, size_t na, const void *b, size_t nb)
{
	struct iovec iov[2] = { { (void *)a, na }, { (void *)b, nb } };
	ssize_t w;

	if (TS.err)
		return;
	do
		w = writev(TS.fd, iov, 2);
	while (w < 0 && errno == EINTR);
	if (w < 0) {
		TS.err = -errno;
		return;
	}
	TS.file_bytes += (size_t)w;
	if ((size_t)w < na) {
		write_all((const char *)a + w, na - (size_t)w);
		write_all(b, nb);
	} else if ((size_t)w < na + nb) {
		write_all((const char *)b + ((size_t)w - na), nb - ((size_t)w - na));
	}
}

static void write_all(const void *p, size_t n)
{
	const char *c = p;

	while (n > 0 && !TS.err) {
		ssize_t w = write(TS.fd, c, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			TS.err = -errno;
			return;
		}
		c += w;
		n -= (size_t)w;
		TS.file_bytes += (size_t)w;
	}
}

/* XXH64 (the zstd frame checksum is its low 32 bits), for the raw frames
 * below: zstd does not export its copy. */
#define XP1 11400714785074694791ULL
#define XP2 14029467366897019727ULL
#define XP3 1609587929392839161ULL
#define XP4 9650029242287828579ULL
#define XP5 2870177450012600261ULL

static uint64_t xrotl(uint64_t x, int r)
{
	return (x << r) | (x >> (64 - r));
}

static uint64_t xround(uint64_t acc, uint64_t in)
{
	return xrotl(acc + in * XP2, 31) * XP1;
}

static uint64_t xmerge(uint64_t h, uint64_t v)
{
	return (h ^ xround(0, v)) * XP1 + XP4;
}

static uint64_t xxh64(const uint8_t *p, size_t len)
{
	const uint8_t *end = p + len;
	uint64_t h;

	if (len >= 32) {
		uint64_t v1 = XP1 + XP2, v2 = XP2, v3 = 0, v4 = 0 - XP1;
		do {
			v1 = xround(v1, weft_tf_get_le(p, 8));
			v2 = xround(v2, weft_tf_get_le(p + 8, 8));
			v3 = xround(v3, weft_tf_get_le(p + 16, 8));
			v4 = xround(v4, weft_tf_get_le(p + 24, 8));
			p += 32;
		} while (p + 32 <= end);
		h = xrotl(v1, 1) + xrotl(v2, 7) + xrotl(v3, 12) + xrotl(v4, 18);
		h = xmerge(xmerge(xmerge(xmerge(h, v1), v2), v3), v4);
	} else {
		h = XP5;
	}
	h += len;
	for (; p + 8 <= end; p += 8)
		h = xrotl(h ^ xround(0, weft_tf_get_le(p, 8)), 27) * XP1 + XP4;
	if (p + 4 <= end) {
		h = xrotl(h ^ weft_tf_get_le(p, 4) * XP1, 23) * XP2 + XP3;
		p += 4;
	}
	for (; p < end; p++)
		h = xrotl(h ^ *p * XP5, 11) * XP1;
	h ^= h >> 33;
	h *= XP2;
	h ^= h >> 29;
	h *= XP3;
	return h ^ (h >> 32);
}

#define RAW_BLOCK (128 * 1024) /* zstd's largest block */

/*
 * @raw (1 byte to 1 MiB) as one zstd frame of raw (stored) blocks, with
 * its checksum: what a signal handler writes - no compression, no
 * allocation, only write(2). Any zstd decoder reads it.
 */
static size_t raw_frame_size(size_t n)
{
	return 9 + 3 * ((n + RAW_BLOCK - 1) / RAW_BLOCK) + n + 4;
}

static void write_raw_frame(const uint8_t *raw, size_t n)
{
	uint8_t h[9], b[3], c[4];

	weft_tf_put_le(h, 0xFD2FB528u, 4); /* magic */
	h[4] = 0xA4;                       /* 4-byte content size, one segment, checksum */
	weft_tf_put_le(h + 5, n, 4);
	write_all(h, sizeof(h));
	for (size_t off = 0; off < n; off += RAW_BLOCK) {
		size_t k = n - off < RAW_BLOCK ? n - off : RAW_BLOCK;
		weft_tf_put_le(b, (uint64_t)(k << 3) | (off + k == n), 3); /* raw, last? */
		write_all(b, sizeof(b));
		write_all(raw + off, k);
	}
	weft_tf_put_le(c, xxh64(raw, n), 4);
	write_all(c, sizeof(c));
}

static void write_chunk(int kind, int stream_kind, uint32_t id, uint32_t seq, uint64_t t0,
			uint64_t t1, uint32_t nev, const void *raw, size_t rawlen)
{
	uint8_t h[WEFT_TF_CHUNK_HEADER_SIZE];
	size_t z = 0;
	bool stored = TS.raw_only;

	if (!stored) {
		z = ZSTD_compress2(TS.zc, TS.zbuf, TS.zcap, raw, rawlen);
		stored = ZSTD_isError(z); /* out of memory on a death path: stored */
	}
	if (stored)
		z = raw_frame_size(rawlen);
	weft_tf_chunk_put(h, &(struct weft_tf_chunk){ .kind = (uint8_t)kind,
						    .stream_kind = (uint8_t)stream_kind,
						    .stream_id = id, .seq = seq,
						    .t_first = t0, .t_last = t1,
						    .zsize = (uint32_t)z,
						    .rawsize = (uint32_t)rawlen, .nev = nev });
	if (stored) {
		write_all(h, sizeof(h));
		write_raw_frame(raw, rawlen);
	} else {
		/* Header and payload in one call: a program killed between two
		 * writes would leave a header whose payload never came. */
		write_two(h, sizeof(h), TS.zbuf, z);
	}
	TS.raw_bytes += rawlen;
}

/* ---- names ----------------------------------------------------------------- */

/* Whether @key is new (and now known). A death path in a signal handler
 * does not grow the table: a key it has no room for stays unnamed. */
static bool seen_add(uint64_t key)
{
	if (TS.nseen * 2 >= TS.capseen) {
		size_t cap = TS.capseen ? TS.capseen * 2 : 256;
		uint64_t *n = TS.raw_only ? NULL : calloc(cap, sizeof(*n));
		if (!n)
			return false;
		for (size_t i = 0; i < TS.capseen; i++) {
			uint64_t k = TS.seen[i];
			if (!k)
				continue;
			size_t j = (k * 0x9E3779B97F4A7C15ULL) >> 7 & (cap - 1);
			while (n[j])
				j = (j + 1) & (cap - 1);
			n[j] = k;
		}
		free(TS.seen);
		TS.seen = n;
		TS.capseen = cap;
	}
	size_t j = (key * 0x9E3779B97F4A7C15ULL) >> 7 & (TS.capseen - 1);
	while (TS.seen[j]) {
		if (TS.seen[j] == key)
			return false;
		j = (j + 1) & (TS.capseen - 1);
	}
	TS.seen[j] = key;
	TS.nseen++;
	return true;
}

/* The strings chunk being gathered (static: the flusher's stack, and a
 * signal handler's alternate one, are small; the writer's only). */
static uint8_t names_out[BUF_SIZE];
static size_t names_len;
static uint32_t names_n;

static void names_flush(void)
{
	if (names_n)
		write_chunk(WEFT_TF_CHUNK_STRINGS, WEFT_TF_STREAM_M, 0, 0, 0, 0, names_n, names_out,
			    names_len);
	names_len = 0;
	names_n = 0;
}

/* Name @key (an entry function, or a call site if @site) once per file. */
static void name_key(uint64_t key, bool site)
{
	char name[256];

	if (!key || !seen_add(key))
		return;
	const char *addr = weft__trace_code_addr(key);
	/* A call site is a return address: name the call, one byte before. */
	if (weft__symbolize_cached(&TS.syms, site ? addr - 1 : addr, name, sizeof(name)) < 0) {
		struct weft__wbuf w = { name, 0, sizeof(name) };
		weft__wbuf_hex(&w, (uint64_t)(uintptr_t)addr);
	}
	size_t nl = strnlen(name, sizeof(name));
	if (names_len + 2 * WEFT_TF_UVARINT_MAX + nl > sizeof(names_out))
		names_flush();
	uint8_t *q = weft_tf_put_uvarint(names_out + names_len, key);
	q = weft_tf_put_uvarint(q, nl);
	memcpy(q, name, nl);
	names_len = (size_t)(q + nl - names_out);
	names_n++;
}

/* ---- buffers to chunks ------------------------------------------------------ */

static int stream_of(const struct weft__tbuf *b)
{
	return b->stream_kind == WEFT_TF_STREAM_P ? (int)b->stream_id : WEFT__TSTREAM_GLOBAL;
}

/*
 * Write the events of @b in [b->f_len, @to) as one events chunk, its
 * names first. A part that does not start the buffer is re-encoded into
 * TS.scratch from the tick and task id of the event before it, so that
 * it reads as a chunk of its own. False if the bytes do not decode (a
 * writer bug).
 */
static bool write_part(struct weft__tbuf *b, size_t to)
{
	size_t from = b->f_len;
	const uint8_t *p = b->data + from, *end = b->data + to;
	uint64_t tick = from ? b->f_tick : b->t_first, task = from ? b->f_task : 0;
	uint64_t t0 = tick, prev = 0, ntask = 0;
	uint8_t *q = TS.scratch;
	uint32_t nev = 0;
	bool recode = from > 0;
	int s = stream_of(b);

	while (p < end) {
		int type = *p++;
		const struct weft_tf_traits *tr = &weft_tf_traits[type];
		uint64_t a[WEFT_TRACE_MAX_ARGS] = { 0 }, d, sl;
		const uint8_t *str;

		if (!tr->valid || !(p = weft_tf_uvarint(p, end, &d)))
			return false;
		for (int i = 0; i < tr->nargs; i++)
			if (!(p = weft_tf_uvarint(p, end, &a[i])))
				return false;
		if ((tr->flags & WEFT_TF_TASK) && tr->nargs) {
			a[0] = weft_tf_unzigzag(a[0], task);
			task = a[0];
		}
		str = p;
		for (int i = 0; i < tr->nstr; i++) {
			if (!(p = weft_tf_uvarint(p, end, &sl)) || sl > (uint64_t)(end - p))
				return false;
			p += sl;
		}
		tick += d;
		if (nev == 0)
			t0 = prev = tick;
		if (recode) {
			q = weft_tf_put_event(q, type, tick - prev, tr->nargs, a, &ntask);
			memcpy(q, str, (size_t)(p - str));
			q += p - str;
		}
		prev = tick;
		if (tr->fn)
			name_key(a[tr->fn], false);
		if (tr->site)
			name_key(a[tr->site], true);
		nev++;
	}
	if (nev) {
		names_flush();
		write_chunk(WEFT_TF_CHUNK_EVENTS, b->stream_kind, b->stream_id, TS.wseq[s]++, t0,
			    tick, nev, recode ? TS.scratch : b->data + from,
			    recode ? (size_t)(q - TS.scratch) : to - from);
		TS.events += nev;
	}
	b->f_len = to;
	b->f_tick = tick;
	b->f_task = task;
	return true;
}

/* A buffer its filler handed over (from the queue): the rest of it. */
static void write_whole(struct weft__tbuf *b)
{
	int s = stream_of(b);

	if (b->f_len == 0 && !b->keys_new) {
		/* Nothing of it written, every key named before: as it is. */
		if (b->nev) {
			write_chunk(b->kind, b->stream_kind, b->stream_id, TS.wseq[s]++,
				    b->t_first, b->t_prev, b->nev, b->data, b->len);
			TS.events += b->nev;
		}
	} else if (!write_part(b, b->len) && !TS.raw_only) {
		weft__throw("trace: a buffer holds an event the writer cannot read");
	}
	TS.wnext[s] = b->seq + 1;
}

/* What stream @s's current buffer holds now and the file does not, once
 * its older buffers are written (else they are still queued: later). */
static void write_current(int s)
{
	struct weft__tbuf *b = atomic_load_explicit(&TS.cur[s], memory_order_acquire);
	size_t to;

	if (!b || b->seq != TS.wnext[s])
		return;
	to = __atomic_load_n(&b->len, __ATOMIC_ACQUIRE); /* weft__tbuf_publish_len */
	if (to > b->f_len && !write_part(b, to) && !TS.raw_only)
		weft__throw("trace: a buffer holds an event the writer cannot read");
}

/* The next queued buffer, written; false if none. */
static bool write_queued(bool recycle)
{
	struct cds_wfcq_node *node = __cds_wfcq_dequeue_blocking(&TS.q_head, &TS.q_tail);
	struct weft__tbuf *b;

	if (!node)
		return false;
	b = caa_container_of(node, struct weft__tbuf, node);
	WEFT__TSAN_ACQUIRE(b);
	write_whole(b);
	if (recycle)
		weft__tbuf_put(b);
	return true;
}

/* ---- signals ------------------------------------------------------------------ */

/*
 * SIGINT and SIGTERM finish the trace, then kill the process as the
 * signal would have: the handler records the signal and wakes the
 * flusher (both async-signal-safe), which takes the death path below
 * (normal thread context: compression and names as usual), puts the old
 * dispositions back and sends the signal again. No P needs to reach a
 * scheduling point: a program stuck in a loop ends as promptly. A second
 * signal while that runs kills at once. SIGABRT (abort(), a failed
 * assert) finishes the file in the handler itself (see "Dying"), then
 * dies of it. Each is installed only over the default disposition, and
 * put back at stop only if still ours: a program's own handler is left
 * alone.
 */
static const int fin_signals[3] = { SIGINT, SIGTERM, SIGABRT };
static struct sigaction fin_old[3];
static bool fin_installed[3];
static _Atomic int sig_pending; /* the signal to re-raise once finished */

static void on_fin_signal(int sig)
{
	int zero = 0, saved = errno;

	if (!atomic_compare_exchange_strong(&sig_pending, &zero, sig)) {
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	atomic_store(&TS.q_note, 1);
	weft__futex_wake(&TS.q_note, 1);
	errno = saved;
}

static void on_abort(int sig)
{
	int saved = errno;

	weft__trace_die(WEFT_TRACE_END_SIGNAL, sig, 1);
	signal(sig, SIG_DFL);
	raise(sig); /* blocked in here: it kills once the handler returns */
	errno = saved;
}

/* Armed by start. */
void weft__trace_signals_install(void)
{
	atomic_store(&sig_pending, 0);
	for (int i = 0; i < 3; i++) {
		struct sigaction sa;
		fin_installed[i] = false;
		if (sigaction(fin_signals[i], NULL, &fin_old[i]) != 0 ||
		    (fin_old[i].sa_flags & SA_SIGINFO) || fin_old[i].sa_handler != SIG_DFL)
			continue;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = fin_signals[i] == SIGABRT ? on_abort : on_fin_signal;
		sigemptyset(&sa.sa_mask);
		sa.sa_flags = SA_RESTART;
		fin_installed[i] = sigaction(fin_signals[i], &sa, NULL) == 0;
	}
}

/* Disarmed by stop (and by the death path of a SIGINT/SIGTERM); returns
 * the signal that came meanwhile, to re-raise once the file is finished
 * (0: none). */
int weft__trace_signals_restore(void)
{
	for (int i = 0; i < 3; i++)
		if (fin_installed[i]) {
			struct sigaction now;
			if (sigaction(fin_signals[i], NULL, &now) == 0 &&
			    !(now.sa_flags & SA_SIGINFO) &&
			    (now.sa_handler == on_fin_signal || now.sa_handler == on_abort))
				sigaction(fin_signals[i], &fin_old[i], NULL);
			fin_installed[i] = false;
		}
	return atomic_exchange(&sig_pending, 0);
}

/* The flusher, on a SIGINT/SIGTERM: finish the file, then die of it. */
static _Noreturn void finish_on_signal(int sig)
{
	weft__trace_die(WEFT_TRACE_END_SIGNAL, sig, 0);
	weft__trace_signals_restore();
	kill(getpid(), sig);
	for (;;)
		pause();
}

/* exit() while tracing: glibc's on_exit tells the status. */
#ifdef __GLIBC__
static void at_exit(int status, void *arg)
{
	(void)arg;
	weft__trace_die(WEFT_TRACE_END_EXIT, status & 0xff, 0);
}
#else
static void at_exit(void)
{
	weft__trace_die(WEFT_TRACE_END_EXIT, 0, 0);
}
#endif

/* Start (under the start lock): hook exit() once per process. */
void weft__trace_exit_hook(void)
{
	static bool hooked;

	if (hooked)
		return;
#ifdef __GLIBC__
	hooked = on_exit(at_exit, NULL) == 0;
#else
	hooked = atexit(at_exit) == 0;
#endif
}

/* ---- dying ------------------------------------------------------------------- */

static void say_end(int reason, int code)
{
	static const struct {
		int sig;
		const char *name;
	} names[] = { { SIGINT, "SIGINT" },   { SIGTERM, "SIGTERM" }, { SIGABRT, "SIGABRT" },
		      { SIGSEGV, "SIGSEGV" }, { SIGBUS, "SIGBUS" },   { SIGQUIT, "SIGQUIT" } };
	char line[800];
	struct weft__wbuf w = { line, 0, sizeof(line) };
	const char *sn = NULL;

	weft__wbuf_str(&w, "weft: trace ");
	weft__wbuf_str(&w, TS.path);
	weft__wbuf_str(&w, ": ");
	weft__wbuf_u64(&w, TS.events);
	weft__wbuf_str(&w, " events written, ended by ");
	switch (reason) {
	case WEFT_TRACE_END_SIGNAL:
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (names[i].sig == code)
				sn = names[i].name;
		if (sn) {
			weft__wbuf_str(&w, sn);
		} else {
			weft__wbuf_str(&w, "signal ");
			weft__wbuf_u64(&w, (uint64_t)code);
		}
		break;
	case WEFT_TRACE_END_FATAL:
		weft__wbuf_str(&w, "the fatal error");
		break;
	default:
		weft__wbuf_str(&w, "exit(");
		weft__wbuf_u64(&w, (uint64_t)code);
		weft__wbuf_str(&w, ")");
	}
	if (TS.err)
		weft__wbuf_str(&w, " (a write failed: the file is cut)");
	weft__wbuf_str(&w, "\n");
	weft__write_all(2, line, w.len);
}

/*
 * Dying. A trace is most wanted when the program dies, so every way it
 * can die with the trace running finishes the file: a weft fatal error
 * (weft__fatal, the deadlock report, a stack overflow), weft__throw,
 * abort() and a crash with no handler of its own (in their signal
 * handlers), exit() (on_exit), SIGINT and SIGTERM (through the flusher).
 * The first caller claims the death (TS.dying); a second one, on another
 * thread, waits up to two seconds for it to finish and returns, so that
 * its own _exit does not cut the file.
 *
 * Tracing is turned off, so that no new event is begun; the writer is
 * taken from the flusher (it finishes its chunk, then stops for good);
 * then everything the flusher had not written goes out: the queued
 * buffers, then each stream's current buffer up to its published length.
 * The Ps are not stopped: an M in the middle of an event when tracing
 * went off finishes it, and whether it is in the file depends on when
 * its stream was read. So each stream ends where its P was, not at one
 * cut: a wake recorded on one stream may be missing while the start it
 * caused is there. The header says how the trace ended (complete, with
 * the reason and code, and the tick when the copy was taken), and the
 * reader treats such a file as it does one cut short.
 *
 * In a signal handler (@in_signal) nothing here allocates, takes a lock
 * or calls zstd (a compression context in use is not async-signal-safe,
 * and abort() may come from inside malloc): the chunks are stored zstd
 * frames (raw blocks, checksum by hand), names are looked up as the
 * overflow report does (weft__symbolize) into the table's free room, and
 * the writes are write(2) and pwrite(2). Elsewhere the chunks are
 * compressed at level 1 at most: dying is no time for level 19.
 *
 * Not covered: _exit() and signals without a default disposition to
 * replace or with another handler; SIGKILL. The periodic flush bounds
 * what those lose to the last 100 ms of each P. A forked child does not
 * write its parent's file (TS.pid).
 */
void weft__trace_die(int reason, int code, int in_signal)
{
	int zero = 0, tid;

	if (!atomic_load(&TS.live) || getpid() != TS.pid)
		return;
	if (!atomic_compare_exchange_strong(&TS.dying, &zero, 1)) {
		for (int i = 0; i < 2000 && atomic_load(&TS.dying) == 1; i++)
			nap_ms();
		return;
	}
	atomic_store(&weft__trace_on, 0);
	tid = my_tid();
	if (!die_take(tid) || !atomic_load(&TS.live)) {
		atomic_store(&TS.dying, 2); /* the writer died writing, or stop finished */
		return;
	}
	TS.raw_only = in_signal;
	if (!in_signal && TS.level > 1)
		ZSTD_CCtx_setParameter(TS.zc, ZSTD_c_compressionLevel, 1);
	/* Buffers are not recycled: an M still in an event that stalled at
	 * the memory cap may wait for ever, the process is ending. */
	while (write_queued(false))
		;
	for (int s = 0; s <= WEFT__TSTREAM_GLOBAL; s++) {
		struct weft__tbuf *b = atomic_load_explicit(&TS.cur[s], memory_order_acquire);
		if (b && b->seq != TS.wnext[s]) /* rotated since the queue was empty */
			while (write_queued(false))
				;
		write_current(s);
	}
	names_flush();
	int64_t mono1 = weft__nanotime();
	uint64_t tick1 = weft__trace_ticks();
	weft__trace_write_header(weft__trace_freq(mono1, tick1), reason, code, tick1);
	say_end(reason, code);
	atomic_store(&TS.dying, 2); /* the writer stays ours: nothing more is written */
}

/* ---- the flusher ------------------------------------------------------------ */

/* A death path has the file: the process is ending. Wait for it here,
 * not by returning (a thread that ended unjoined is a leak to TSan). */
static _Noreturn void flusher_retire(void)
{
	for (;;)
		pause();
}

void *weft__trace_flusher_main(void *arg)
{
	int tid = my_tid();
	int64_t next = weft__nanotime() + WEFT__TFLUSH_PERIOD;

	(void)arg;
	for (;;) {
		int sig;
		bool stop;

		atomic_store(&TS.q_note, 0);
		if ((sig = atomic_load(&sig_pending)) != 0)
			finish_on_signal(sig);
		/* Read before the queue is emptied: the stopper enqueues the last
		 * buffers before it sets it. */
		stop = atomic_load(&TS.stopping);
		for (;;) {
			bool more;
			if (!flusher_take(tid))
				flusher_retire();
			more = write_queued(true);
			writer_put();
			if (!more || atomic_load(&sig_pending))
				break;
		}
		if (atomic_load(&sig_pending))
			continue;
		int64_t now = weft__nanotime();
		if (now >= next) {
			if (!flusher_take(tid))
				flusher_retire();
			for (int s = 0; s <= WEFT__TSTREAM_GLOBAL; s++)
				write_current(s);
			writer_put();
			next = now + WEFT__TFLUSH_PERIOD;
		}
		if (stop)
			break;
		weft__futex_wait(&TS.q_note, 0, next - now);
	}
	return NULL;
}

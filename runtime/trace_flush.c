/*
 * trace_flush.c - the flusher thread: takes full buffers off the queue,
 * names the code keys they mention for the first time (a strings chunk
 * before the events chunk), compresses each as one zstd frame and appends
 * the chunk; and the SIGINT/SIGTERM handler that finishes the file. The
 * design is in trace.c's essay ("Flushing", "Signals").
 *
 * Rejected: compressing on the emitting P, resolving names on the emit
 * path (see trace.c).
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "trace_emit.h"
#include "trace_writer.h"
#include "symbol.h"

/* ---- the flusher ------------------------------------------------------------ */

static void write_all(const void *p, size_t n)
{
	const char *c = p;

	while (n > 0 && !weft__tsess.err) {
		ssize_t w = write(weft__tsess.fd, c, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			weft__tsess.err = -errno;
			return;
		}
		c += w;
		n -= (size_t)w;
		weft__tsess.file_bytes += (size_t)w;
	}
}

static void write_chunk(int kind, int stream_kind, uint32_t id, uint32_t seq, uint64_t t0,
			uint64_t t1, uint32_t nev, const void *raw, size_t rawlen)
{
	uint8_t h[WEFT_TF_CHUNK_HEADER_SIZE];
	size_t z = ZSTD_compress2(weft__tsess.zc, weft__tsess.zbuf, weft__tsess.zcap, raw, rawlen);

	if (ZSTD_isError(z)) {
		if (!weft__tsess.err)
			weft__tsess.err = -EIO;
		return;
	}
	weft_tf_chunk_put(h, &(struct weft_tf_chunk){ .kind = (uint8_t)kind,
						    .stream_kind = (uint8_t)stream_kind,
						    .stream_id = id, .seq = seq,
						    .t_first = t0, .t_last = t1,
						    .zsize = (uint32_t)z,
						    .rawsize = (uint32_t)rawlen, .nev = nev });
	write_all(h, sizeof(h));
	write_all(weft__tsess.zbuf, z);
	weft__tsess.raw_bytes += rawlen;
}

static bool seen_add(uint64_t key)
{
	if (weft__tsess.nseen * 2 >= weft__tsess.capseen) {
		size_t cap = weft__tsess.capseen ? weft__tsess.capseen * 2 : 256;
		uint64_t *n = calloc(cap, sizeof(*n));
		if (!n)
			return false;
		for (size_t i = 0; i < weft__tsess.capseen; i++) {
			uint64_t k = weft__tsess.seen[i];
			if (!k)
				continue;
			size_t j = (k * 0x9E3779B97F4A7C15ULL) >> 7 & (cap - 1);
			while (n[j])
				j = (j + 1) & (cap - 1);
			n[j] = k;
		}
		free(weft__tsess.seen);
		weft__tsess.seen = n;
		weft__tsess.capseen = cap;
	}
	size_t j = (key * 0x9E3779B97F4A7C15ULL) >> 7 & (weft__tsess.capseen - 1);
	while (weft__tsess.seen[j]) {
		if (weft__tsess.seen[j] == key)
			return false;
		j = (j + 1) & (weft__tsess.capseen - 1);
	}
	weft__tsess.seen[j] = key;
	weft__tsess.nseen++;
	return true;
}

/* Name the entry functions that @b mentions for the first time. */
static void emit_names(struct weft__tbuf *b)
{
	static uint8_t out[BUF_SIZE];
	size_t len = 0;
	uint32_t n = 0;
	const uint8_t *p = b->data, *end = b->data + b->len;

	if (!b->keys_new)
		return; /* every key in it was named before (weft__trace_keys) */
	while (p < end) {
		int type = *p++;
		uint64_t a[WEFT_TRACE_MAX_ARGS], d;

		if (!weft_tf_traits[type].valid || !(p = weft_tf_uvarint(p, end, &d)))
			weft__throw("trace: a buffer holds an event the writer cannot read");
		for (int i = 0; i < weft_tf_traits[type].nargs; i++)
			if (!(p = weft_tf_uvarint(p, end, &a[i])))
				weft__throw("trace: a buffer holds a truncated event");
		for (int i = 0; i < weft_tf_traits[type].nstr; i++) {
			uint64_t sl;
			if (!(p = weft_tf_uvarint(p, end, &sl)) || sl > (uint64_t)(end - p))
				weft__throw("trace: a buffer holds a truncated string");
			p += sl;
		}
		const struct weft_tf_traits *tr = &weft_tf_traits[type];
		uint64_t keys[2] = { tr->fn ? a[tr->fn] : 0, tr->site ? a[tr->site] : 0 };
		for (int k = 0; k < 2; k++) {
		uint64_t key = keys[k];
		if (!key || !seen_add(key))
			continue;
		char name[256];
		const char *addr = weft__trace_code_addr(key);
		/* A call site is a return address: name the call, one byte before. */
		if (weft__symbolize(k ? addr - 1 : addr, name, sizeof(name)) < 0)
			snprintf(name, sizeof(name), "%p", (const void *)addr);
		size_t nl = strnlen(name, sizeof(name));
		if (len + 32 + nl > sizeof(out)) {
			write_chunk(WEFT_TF_CHUNK_STRINGS, WEFT_TF_STREAM_M, 0, 0, 0, 0, n, out, len);
			len = 0;
			n = 0;
		}
		uint8_t *q = weft_tf_put_uvarint(out + len, key);
		q = weft_tf_put_uvarint(q, nl);
		memcpy(q, name, nl);
		len = (size_t)(q + nl - out);
		n++;
		}
	}
	if (n)
		write_chunk(WEFT_TF_CHUNK_STRINGS, WEFT_TF_STREAM_M, 0, 0, 0, 0, n, out, len);
}

static void flush_one(struct weft__tbuf *b)
{
	emit_names(b);
	write_chunk(b->kind, b->stream_kind, b->stream_id, b->seq, b->t_first, b->t_prev, b->nev,
		    b->data, b->len);
	weft__tsess.events += b->nev;
}

/*
 * SIGINT and SIGTERM finalize the trace, then kill the process as the
 * signal would have. The handler only records the signal and wakes the
 * flusher (both async-signal-safe); the flusher starts a task that calls
 * weft_trace_stop(), which stops the trace like any other stop, finishes
 * the file and re-raises the signal with its old disposition back. A
 * second signal while that runs kills at once. Installed only over the
 * default disposition: a program's own handler is left alone.
 */
static const int fin_signals[2] = { SIGINT, SIGTERM };
static struct sigaction fin_old[2];
static bool fin_installed[2];
static _Atomic int sig_pending; /* the signal to re-raise once finalized */
static bool sig_stop_started;   /* flusher only */

static void on_fin_signal(int sig)
{
	int zero = 0, saved = errno;

	if (!atomic_compare_exchange_strong(&sig_pending, &zero, sig)) {
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	atomic_store(&weft__tsess.q_note, 1);
	weft__futex_wake(&weft__tsess.q_note, 1);
	errno = saved;
}

/* Armed by start (the flusher may start the stopping task again). */
void weft__trace_signals_install(void)
{
	sig_stop_started = false;
	for (int i = 0; i < 2; i++) {
		struct sigaction sa;
		fin_installed[i] = false;
		if (sigaction(fin_signals[i], NULL, &fin_old[i]) != 0 ||
		    (fin_old[i].sa_flags & SA_SIGINFO) || fin_old[i].sa_handler != SIG_DFL)
			continue;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_fin_signal;
		sigemptyset(&sa.sa_mask);
		sa.sa_flags = SA_RESTART;
		fin_installed[i] = sigaction(fin_signals[i], &sa, NULL) == 0;
	}
}

/* Disarmed by stop; returns the signal that asked for the stop, to
 * re-raise once the file is finished (0: none). */
int weft__trace_signals_restore(void)
{
	for (int i = 0; i < 2; i++)
		if (fin_installed[i]) {
			sigaction(fin_signals[i], &fin_old[i], NULL);
			fin_installed[i] = false;
		}
	return atomic_exchange(&sig_pending, 0);
}

static void sig_stop_task(void *arg)
{
	(void)arg;
	weft_trace_stop(); /* re-raises the signal */
}

void *weft__trace_flusher_main(void *arg)
{
	(void)arg;
	for (;;) {
		struct cds_wfcq_node *node;

		atomic_store(&weft__tsess.q_note, 0);
		/* A task, not this thread, stops: the stop joins this thread,
		 * and plain threads may not stop while the runtime runs. If
		 * none can be started (weft_main is ending), the stop
		 * weft_main makes re-raises the signal. */
		if (atomic_load(&sig_pending) && !sig_stop_started) {
			sig_stop_started = true;
			weft_go(sig_stop_task, NULL);
		}
		node = __cds_wfcq_dequeue_blocking(&weft__tsess.q_head, &weft__tsess.q_tail);
		if (node) {
			struct weft__tbuf *b = caa_container_of(node, struct weft__tbuf, node);
			WEFT__TSAN_ACQUIRE(b);
			flush_one(b);
			weft__tbuf_put(b);
			continue;
		}
		if (atomic_load(&weft__tsess.stopping))
			break;
		weft__futex_wait(&weft__tsess.q_note, 0, -1);
	}
	return NULL;
}


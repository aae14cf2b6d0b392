/*
 * reader.c - the trace reader library (include/weft/trace.h): open, close,
 * and the design of the whole (its stages are in the files internal.h lists).
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
 *   - weft_tr_next returns the events of a stream in the stream's order,
 *     and an event with an explicit seq s of task T only after T's event
 *     with seq s - 1.
 *   - An error sticks: once weft_tr_next failed it fails again.
 *
 * Lossy files. A file that ends inside a chunk (a killed writer) is read
 * up to its last whole chunk, then weft_tr_next() returns -EPIPE saying
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
#include "internal.h"

__attribute__((format(printf, 4, 5))) int weft__tr_fail(weft_tr *t, int err, uint64_t off,
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

int weft_tr_open(const char *path, weft_tr **out, char *errbuf, size_t errlen)
{
	weft_tr *t = calloc(1, sizeof(*t));
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
		err = weft__tr_fail(t, -ENOMEM, 0, "out of memory");
		goto out;
	}
	if (t->size < sizeof(h)) {
		err = weft__tr_fail(t, -EPROTO, 0, "too short for a weft trace header (%llu bytes)",
			   (unsigned long long)t->size);
		goto out;
	}
	if ((err = weft__tr_read_at(t, h, sizeof(h), 0)) < 0)
		goto out;
	struct weft_tf_header hd;
	if (!weft_tf_header_get(h, &hd)) {
		err = weft__tr_fail(t, -EPROTO, 0, "not a weft trace (bad magic)");
		goto out;
	}
	t->info.version = hd.version;
	if (hd.version < WEFT_TF_VERSION_MIN || hd.version > WEFT_TF_VERSION ||
	    hd.size != WEFT_TF_HEADER_SIZE) {
		err = weft__tr_fail(t, -EPROTO, WEFT_TF_H_VERSION,
			   "trace format version %d (header %u bytes); this reader knows "
			   "versions %d to %d",
			   t->info.version, hd.size, WEFT_TF_VERSION_MIN, WEFT_TF_VERSION);
		goto out;
	}
	t->delta_ids = t->info.version >= 3;
	t->info.clock = hd.clock;
	t->info.complete = (hd.flags & WEFT_TF_FLAG_COMPLETE) != 0;
	/* Before version 4 a complete file was stopped. */
	t->info.end_reason = hd.version >= 4 ? hd.end_reason : WEFT_TRACE_END_NONE;
	t->info.end_code = hd.version >= 4 ? hd.end_code : 0;
	if (t->info.complete && t->info.end_reason == WEFT_TRACE_END_NONE)
		t->info.end_reason = WEFT_TRACE_END_STOP;
	if ((!t->info.complete && t->info.end_reason != WEFT_TRACE_END_NONE) ||
	    t->info.end_reason > WEFT_TRACE_END_EXIT) {
		err = weft__tr_fail(t, -EPROTO, WEFT_TF_H_REASON,
				    "end reason %d with the complete flag %s", t->info.end_reason,
				    t->info.complete ? "set" : "clear");
		goto out;
	}
	t->info.ticks_per_sec = hd.ticks_per_sec;
	t->tick0 = hd.tick0;
	t->info.start_unix_ns = hd.start_unix_ns;
	t->info.procs = (int)hd.procs;
	t->info.pid = (int)hd.pid;
	if (t->info.clock > WEFT_TF_CLOCK_TSC || t->info.ticks_per_sec < 1000 ||
	    t->info.ticks_per_sec > 100000000000ULL) {
		err = weft__tr_fail(t, -EPROTO, WEFT_TF_H_CLOCK, "bad clock (kind %d, %llu ticks/s)",
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
		err = weft__tr_fail(t, -EPROTO, len,
			   "%llu bytes after the end of the trace (its header says the file is %llu "
			   "bytes long)",
			   (unsigned long long)(t->size - len), (unsigned long long)len);
		goto out;
	}
	if (len > t->size)
		t->whole_len = len; /* cut short: an error after every event in the file */
	if ((err = weft__tr_index(t)) < 0)
		goto out;
	/* A file finished by a dying program ends each stream where its P
	 * was: a wake may be lost on one stream and its start kept on another. */
	t->lossy = !t->info.complete || t->truncated_at || t->whole_len ||
		   t->info.end_reason != WEFT_TRACE_END_STOP;
	t->heap = malloc((t->nstreams + 1) * sizeof(*t->heap));
	if (!t->heap) {
		err = weft__tr_fail(t, -ENOMEM, 0, "out of memory");
		goto out;
	}
	weft__tr_helper_start(t);
	t->taken = NOT_STARTED;
	*out = t;
	return 0;
out:
	snprintf(errbuf, errlen, "%s: %s", path, t->msg);
	weft_tr_close(t);
	return err;
}

const char *weft_tr_error(const weft_tr *t)
{
	return t->failed ? t->msg : "no error";
}

void weft_tr_get_info(const weft_tr *t, weft_tr_info *info)
{
	*info = t->info;
}

void weft_tr_close(weft_tr *t)
{
	if (!t)
		return;
	weft__tr_helper_stop(t);
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

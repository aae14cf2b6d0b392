/*
 * pipe.h - reading a trace for a weft-trace command: open it, take its
 * events one at a time with progress on a terminal, close it.
 *
 * Events are read in batches. With more than one CPU a reader thread
 * fills them (weft_tr_next, strings copied into the batch) while the
 * command consumes the previous ones, so a command costs the slower of
 * the reader and its own analysis instead of their sum. TOOL_NBATCH
 * batches bound the memory (about 1.5 MB). WEFT_TRACE_THREADS=0 reads on
 * the calling thread (the same batches, filled when the last is used);
 * WEFT_TRACE_THREADS=1 starts the thread even on one CPU. The ring and
 * its synchronisation are pipe.c's essay.
 */
#ifndef WEFT_TRACE_PIPE_H
#define WEFT_TRACE_PIPE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <weft/trace.h>

#define TOOL_BATCH 4096
#define TOOL_NBATCH 4
#define TOOL_ARENA (16 * (WEFT_TRACE_MAX_STR + 1))

struct tool_batch {
	weft_tr_event ev[TOOL_BATCH];
	unsigned n;          /* events in ev */
	int r;               /* after them: 1 more to come, 0 the end, or a negative errno */
	size_t arena_len;
	char arena[TOOL_ARENA]; /* the events' strings */
};

struct tool_pipe;

struct tool_trace {
	weft_tr *t;
	const char *cmd, *path;
	int copy_fd;         /* "-" or a pipe: the anonymous copy read, or -1 */
	weft_tr_info info;
	weft_tr_event *cur, *end;       /* the batch being consumed */
	int end_r;                         /* its r */
	struct tool_batch *batch;          /* it */
	struct tool_pipe *pipe;            /* the reader thread, or NULL */
	uint64_t nread;      /* events returned so far */
	uint64_t next_tick;  /* nread at which to look at the clock again */
	uint64_t tick_every; /* events between two looks: 1 << 20 (tests: WEFT_TRACE_PROGRESS_EVERY) */
	double progress_s;   /* seconds between two updates: 0.25 (tests: 0) */
	bool progress;       /* stderr is a terminal */
	bool progress_shown;
	double last_progress;
	bool quiet;          /* no message on a damaged file: a second reader of it (the view's analysis) */
	/* Or NULL: while the CLOCK_MONOTONIC ns it holds are in the future,
	 * the command waits before taking a batch (and the reader thread,
	 * once the ring is full): the view's analysis yields to a page that
	 * is loading (view_analysis.c). */
	atomic_llong *hold;
};

/* Open @path ("-": standard input; a pipe or FIFO is read whole first);
 * on failure print why (the reader's message with its offset, or what the
 * path is instead of a trace) and return -1. */
int tool_open(struct tool_trace *tt, const char *cmd, const char *path);
/*
 * The next event in *@ev (the caller's to change until the next call): 1, 0 at the end, or
 * -1 after printing the reader's message (with the byte offset). Shows
 * progress on a terminal.
 */
int tool_next_slow(struct tool_trace *tt, weft_tr_event **ev);
static inline int tool_next(struct tool_trace *tt, weft_tr_event **ev)
{
	if (__builtin_expect(tt->cur < tt->end && tt->nread < tt->next_tick, 1)) {
		*ev = tt->cur++;
		tt->nread++;
		return 1;
	}
	return tool_next_slow(tt, ev);
}
void tool_close(struct tool_trace *tt);
/* Whether a command may use a helper thread: WEFT_TRACE_THREADS ("0" no,
 * anything else yes), else when this process has at least two CPUs. The
 * reader thread and out.c's deflate thread ask. */
bool tool_use_threads(void);

/*
 * A damaged file (cut inside a chunk, a bad chunk) after at least one good
 * event: tool_next returned -1 (the error printed with its offset), and
 * the commands that summarise (stats, tasks, gaps) still report what the
 * intact part holds, then exit 1. tool_partial() says whether that is the
 * case; tool_partial_text() prints the line that heads such a report and
 * tool_json_open() opens a JSON report ("{", and "partial":true,"error":
 * "..." when partial).
 */
bool tool_partial(const struct tool_trace *tt);
void tool_partial_text(const struct tool_trace *tt);
void tool_json_open(const struct tool_trace *tt);

#endif /* WEFT_TRACE_PIPE_H */

/*
 * pipe.c - the events of a trace, from the reader library to a command
 * (pipe.h): a ring of TOOL_NBATCH batches filled by a reader thread, or
 * one batch filled on the command's own thread; progress on a terminal.
 *
 * The reader thread. One mutex and two condition variables: a side waits
 * only when the ring is full (the reader) or empty (the command), and is
 * signalled only when it said it waits, so with batches of TOOL_BATCH
 * events the locking costs nothing measurable.
 *
 * Invariants. The reader has filled batches [used, filled) and fills
 * batch `filled` next; it never runs more than TOOL_NBATCH ahead of
 * `used` (the batch the command holds counts as used only when the
 * command asks for the next one, so it is never overwritten while read).
 * Both counters change under the mutex; a batch's contents are written
 * by the reader before `filled` passes it and read by the command after,
 * so the mutex orders them. Everything the reader thread touches in the
 * weft_tr is its own; the command may look names up meanwhile
 * (weft_tr_string() reads the name index, fixed at open). The message
 * of a failure is read after the failing batch was published under the
 * mutex. Who may call what while the reader thread runs:
 *
 *   reader thread   weft_tr_next (produce), filled++
 *   command         used++, weft_tr_string, weft_tr_error (after a
 *                   batch that ended with r < 0)
 *
 * Rejected: a lock-free ring with spinning, which on two CPUs takes one
 * from the reader's own decompression helper for no gain at this batch
 * size.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pipe.h"
#include "tool.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The ring: batch k is b[k % TOOL_NBATCH]; all counters under mu. */
struct tool_pipe {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t to_reader, to_user;
	unsigned filled;  /* batches published by the reader */
	unsigned used;    /* batches given back by the command */
	bool stop, reader_waits, user_waits;
	struct tool_batch b[TOOL_NBATCH];
};

/* Fill @b from the reader: up to TOOL_BATCH events, the strings copied. */
static void produce(weft_tr *t, struct tool_batch *b)
{
	b->n = 0;
	b->r = 1;
	b->arena_len = 0;
	while (b->n < TOOL_BATCH) {
		weft_tr_event *ev = &b->ev[b->n];
		int r = weft_tr_next(t, ev);
		if (r <= 0) {
			b->r = r;
			return;
		}
		b->n++;
		if (__builtin_expect(ev->str[0] != NULL || ev->str[1] != NULL, 0)) {
			for (int i = 0; i < 2; i++) {
				if (!ev->str[i])
					continue;
				/* strlen <= WEFT_TRACE_MAX_STR: the reader checks */
				memcpy(b->arena + b->arena_len, ev->str[i], ev->strlen[i]);
				b->arena[b->arena_len + ev->strlen[i]] = '\0';
				ev->str[i] = b->arena + b->arena_len;
				b->arena_len += ev->strlen[i] + 1;
			}
			if (TOOL_ARENA - b->arena_len < 2 * (WEFT_TRACE_MAX_STR + 1))
				return; /* no room for another event's strings */
		}
	}
}

static void *reader_main(void *arg)
{
	struct tool_trace *tt = arg;
	struct tool_pipe *pp = tt->pipe;

	for (unsigned k = 0;; k++) {
		pthread_mutex_lock(&pp->mu);
		while (k - pp->used == TOOL_NBATCH && !pp->stop) {
			pp->reader_waits = true;
			pthread_cond_wait(&pp->to_reader, &pp->mu);
		}
		pp->reader_waits = false;
		bool stop = pp->stop;
		pthread_mutex_unlock(&pp->mu);
		if (stop)
			return NULL;
		struct tool_batch *b = &pp->b[k % TOOL_NBATCH];
		produce(tt->t, b);
		pthread_mutex_lock(&pp->mu);
		pp->filled = k + 1;
		if (pp->user_waits)
			pthread_cond_signal(&pp->to_user);
		pthread_mutex_unlock(&pp->mu);
		if (b->r <= 0)
			return NULL;
	}
}

/* CPUs this process may run on. */
static int cpus(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		return CPU_COUNT(&set);
	return (int)sysconf(_SC_NPROCESSORS_ONLN);
}

bool tool_use_threads(void)
{
	const char *env = getenv("WEFT_TRACE_THREADS");

	/* unset: a thread if there is a CPU for it; "0": none; else: one */
	return env ? strcmp(env, "0") != 0 : cpus() >= 2;
}

/* Start the reader thread, or allocate the one batch of reading inline. */
static void pipe_start(struct tool_trace *tt)
{
	struct tool_pipe *pp = NULL;

	if (tool_use_threads())
		pp = calloc(1, sizeof(*pp));
	if (!pp) {
		tt->batch = tool_calloc(1, sizeof(*tt->batch));
		return;
	}
	pthread_mutex_init(&pp->mu, NULL);
	pthread_cond_init(&pp->to_reader, NULL);
	pthread_cond_init(&pp->to_user, NULL);
	tt->pipe = pp;
	if (pthread_create(&pp->thread, NULL, reader_main, tt) != 0) {
		tt->pipe = NULL; /* read on this thread */
		pthread_cond_destroy(&pp->to_reader);
		pthread_cond_destroy(&pp->to_user);
		pthread_mutex_destroy(&pp->mu);
		free(pp);
		tt->batch = tool_calloc(1, sizeof(*tt->batch));
	}
}

static void pipe_stop(struct tool_trace *tt)
{
	struct tool_pipe *pp = tt->pipe;

	if (!pp)
		return;
	pthread_mutex_lock(&pp->mu);
	pp->stop = true;
	pthread_cond_signal(&pp->to_reader);
	pthread_mutex_unlock(&pp->mu);
	pthread_join(pp->thread, NULL);
	pthread_cond_destroy(&pp->to_reader);
	pthread_cond_destroy(&pp->to_user);
	pthread_mutex_destroy(&pp->mu);
	free(pp);
	tt->pipe = NULL;
	tt->batch = NULL; /* it was one of pp->b */
}

/* Wait while *tt->hold is in the future (re-read every 20 ms: it may move). */
static void hold_wait(struct tool_trace *tt)
{
	for (;;) {
		struct timespec ts;
		long long now, until = atomic_load_explicit(tt->hold, memory_order_relaxed);

		clock_gettime(CLOCK_MONOTONIC, &ts);
		now = (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
		if (until <= now)
			return;
		if (until - now > 20000000LL)
			until = now + 20000000LL;
		ts.tv_sec = (time_t)(until / 1000000000LL);
		ts.tv_nsec = (long)(until % 1000000000LL);
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
	}
}

/* The next batch into tt->cur/end/end_r. */
static void next_batch(struct tool_trace *tt)
{
	struct tool_pipe *pp = tt->pipe;
	struct tool_batch *b;

	if (tt->hold)
		hold_wait(tt);

	if (!pp) {
		b = tt->batch;
		produce(tt->t, b);
	} else {
		pthread_mutex_lock(&pp->mu);
		if (tt->batch) {
			pp->used++;
			if (pp->reader_waits)
				pthread_cond_signal(&pp->to_reader);
		}
		while (pp->filled == pp->used) {
			pp->user_waits = true;
			pthread_cond_wait(&pp->to_user, &pp->mu);
		}
		pp->user_waits = false;
		b = tt->batch = &pp->b[pp->used % TOOL_NBATCH];
		pthread_mutex_unlock(&pp->mu);
	}
	tt->cur = b->ev;
	tt->end = b->ev + b->n;
	tt->end_r = b->r;
}

/*
 * "-" (standard input) or a pipe: the reader seeks (it indexes the
 * chunks first), so the bytes are copied into an anonymous file first.
 * Returns its descriptor, or -1 after a message.
 */
static int copy_stream(const char *cmd, const char *name, int in)
{
	char buf[1 << 16];
	ssize_t n;
	int fd = memfd_create("weft-trace-input", MFD_CLOEXEC);

	if (fd < 0) {
		tool_err(cmd, "%s: memfd_create: %s", name, strerror(errno));
		return -1;
	}
	while ((n = read(in, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || write(fd, buf, (size_t)n) != n) {
			tool_err(cmd, "%s: %s: %s", name, n < 0 ? "read" : "copying it",
				 strerror(errno));
			close(fd);
			return -1;
		}
	}
	return fd;
}

int tool_open(struct tool_trace *tt, const char *cmd, const char *path)
{
	char err[600], proc[64];
	const char *name = path, *open_path = path;
	struct stat st;
	int in = -1;

	memset(tt, 0, sizeof(*tt));
	tt->cmd = cmd;
	tt->path = path;
	tt->copy_fd = -1;
	if (strcmp(path, "-") == 0) {
		name = tt->path = "standard input";
		if (isatty(0)) {
			tool_err(cmd, "-: standard input is a terminal, not a trace (redirect a file into it)");
			return -1;
		}
		in = 0;
	} else if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		if (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)) {
			if ((in = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
				tool_err(cmd, "%s: %s", path, strerror(errno));
				return -1;
			}
		} else {
			tool_err(cmd, "%s: %s, not a trace file", path,
				 S_ISDIR(st.st_mode)   ? "a directory"
				 : S_ISCHR(st.st_mode) ? "a character device"
				 : S_ISBLK(st.st_mode) ? "a block device"
						       : "not a regular file");
			return -1;
		}
	}
	if (in >= 0) {
		tt->copy_fd = copy_stream(cmd, name, in);
		if (in != 0)
			close(in);
		if (tt->copy_fd < 0)
			return -1;
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", tt->copy_fd);
		open_path = proc;
	}
	if (weft_tr_open(open_path, &tt->t, err, sizeof(err)) < 0) {
		/* The reader names the path it opened: name ours. */
		size_t k = strlen(open_path);
		if (open_path != path && strncmp(err, open_path, k) == 0)
			tool_err(cmd, "%s%s", name, err + k);
		else
			tool_err(cmd, "%s", err);
		if (tt->copy_fd >= 0)
			close(tt->copy_fd);
		return -1;
	}
	weft_tr_get_info(tt->t, &tt->info);
	tt->progress = isatty(2) && !getenv("WEFT_TRACE_NO_PROGRESS");
	tt->tick_every = 1 << 20;
	tt->progress_s = 0.25;
	/* For tests: an update every N events, however fast (a pty sees it). */
	const char *every = getenv("WEFT_TRACE_PROGRESS_EVERY");
	if (every && atol(every) > 0) {
		tt->tick_every = (uint64_t)atol(every);
		tt->progress_s = 0;
	}
	tt->next_tick = tt->tick_every;
	tt->last_progress = now_s();
	tt->end_r = 1;
	pipe_start(tt);
	return 0;
}

static void progress_clear(struct tool_trace *tt)
{
	if (tt->progress_shown) {
		fputs("\r\033[K", stderr);
		tt->progress_shown = false;
	}
}

int tool_next_slow(struct tool_trace *tt, weft_tr_event **ev)
{
	for (;;) {
		if (tt->cur < tt->end) {
			if (tt->nread >= tt->next_tick) {
				tt->next_tick = tt->nread + tt->tick_every;
				double t = tt->progress ? now_s() : 0;
				if (tt->progress && t - tt->last_progress >= tt->progress_s) {
					double total = (double)tt->info.events;
					fprintf(stderr, "\rweft-trace %s: %.0f%% (%.1f of %.1f M events)",
						tt->cmd,
						total > 0 ? 100.0 * (double)tt->nread / total : 0.0,
						(double)tt->nread / 1e6, total / 1e6);
					tt->progress_shown = true;
					tt->last_progress = t;
				}
			}
			*ev = tt->cur++;
			tt->nread++;
			return 1;
		}
		if (tt->end_r <= 0)
			break;
		next_batch(tt);
	}
	progress_clear(tt);
	if (tt->end_r < 0) {
		if (!tt->quiet)
			tool_err(tt->cmd, "%s: %s", tt->path, weft_tr_error(tt->t));
		return -1;
	}
	return 0;
}

bool tool_partial(const struct tool_trace *tt)
{
	return tt->end_r < 0 && tt->nread > 0;
}

void tool_partial_text(const struct tool_trace *tt)
{
	if (tool_partial(tt))
		printf("PARTIAL: %s is damaged; this covers the %llu events before the damage "
		       "(%s)\n\n",
		       tt->path, (unsigned long long)tt->nread, weft_tr_error(tt->t));
}

void tool_json_open(const struct tool_trace *tt)
{
	putchar('{');
	if (tool_partial(tt)) {
		printf("\"partial\":true,\"error\":");
		json_str(stdout, weft_tr_error(tt->t));
		putchar(',');
	}
}

void tool_close(struct tool_trace *tt)
{
	progress_clear(tt);
	if (tt->pipe)
		pipe_stop(tt);
	else
		free(tt->batch);
	tt->batch = NULL;
	tt->cur = tt->end = NULL;
	weft_tr_close(tt->t);
	tt->t = NULL;
	if (tt->copy_fd >= 0)
		close(tt->copy_fd);
	tt->copy_fd = -1;
}

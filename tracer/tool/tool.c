/*
 * tool.c - the helpers every weft-trace command uses (tool.h): options,
 * opening and reading a trace (on a second thread when there is a CPU
 * for it) with progress on a terminal and the reader's offset message on
 * a bad file, number formatting, JSON strings, the bounded histogram and
 * the interning of code keys.
 *
 * The histogram is log-linear (HdrHistogram's idea with a fixed, coarse
 * precision): 16 sub-buckets per power of two, so every quantile is
 * within 1/32 of the value and the memory is 8 KiB per histogram however
 * many values go in. Rejected: keeping the values and sorting (memory
 * grows with the trace), t-digest or a GK sketch (more code and more
 * work per value for a precision nobody reads off a scheduling trace).
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tool.h"

/* ---- messages and options ------------------------------------------------------ */

void tool_err(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "weft-trace%s%s: ", cmd ? " " : "", cmd ? cmd : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void tool_oom(void)
{
	fputs("weft-trace: out of memory\n", stderr);
	exit(TOOL_EXIT_BAD);
}

void *tool_calloc(size_t n, size_t size)
{
	void *p = calloc(n, size);

	if (!p && n && size)
		tool_oom();
	return p;
}

void *tool_realloc(void *p, size_t n, size_t size)
{
	void *q;

	if (size && n > SIZE_MAX / size)
		tool_oom();
	if (!(q = realloc(p, n * size)) && n && size)
		tool_oom();
	return q;
}

void *tool_grow_zero(void *p, size_t *n, size_t i, size_t size)
{
	size_t want = i + 16;

	if (i < *n)
		return p;
	p = tool_realloc(p, want, size);
	memset((char *)p + *n * size, 0, (want - *n) * size);
	*n = want;
	return p;
}

int tool_usage(const struct tool_cmd *c, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "weft-trace %s: ", c->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(see: weft-trace help %s)\n", c->name);
	return TOOL_EXIT_USAGE;
}

int64_t tool_parse_us(const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= 0) || v > 9e12)
		return -1;
	return (int64_t)llround(v * 1000.0);
}

int tool_check_window(const struct tool_cmd *c, uint64_t from, uint64_t to)
{
	if (from <= to)
		return 0;
	return tool_usage(c, "--from %.3f is after --to %.3f", (double)from / 1e3, (double)to / 1e3);
}

int64_t tool_parse_uint(const char *s)
{
	char *end;
	unsigned long long v;

	if (!*s || *s == '-')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > INT64_MAX)
		return -1;
	return (int64_t)v;
}

int tool_getopt(const struct tool_cmd *c, int argc, char **argv, const struct tool_opt *opts,
		int (*opt)(void *ctx, const char *name, const char *value), void *ctx,
		const char **file, bool *json)
{
	struct option lo[32];
	int n = 0, r;

	for (; opts && opts[n].name && n < 28; n++)
		lo[n] = (struct option){ opts[n].name, opts[n].has_arg ? required_argument : no_argument,
					 NULL, 1000 + n };
	lo[n++] = (struct option){ "help", no_argument, NULL, 'h' };
	if (json)
		lo[n++] = (struct option){ "json", no_argument, NULL, 'j' };
	lo[n] = (struct option){ NULL, 0, NULL, 0 };
	*file = NULL;
	if (json)
		*json = false;
	optind = 0; /* glibc: full reinitialisation */
	opterr = 0;
	while ((r = getopt_long(argc, argv, "-ho:", lo, NULL)) != -1) {
		if (r == 'h') {
			fputs(c->help, stdout);
			exit(0);
		} else if (r == 'j') {
			*json = true;
		} else if (r == 1) {
			if (*file)
				return tool_usage(c, "one trace file only ('%s' and '%s')", *file,
						  optarg);
			*file = optarg;
		} else if (r == 'o' && opt) {
			int e = opt(ctx, "o", optarg);
			if (e)
				return e;
		} else if (r >= 1000 && opt) {
			int e = opt(ctx, opts[r - 1000].name, optarg);
			if (e)
				return e;
		} else if (r == ':' || (r == '?' && optopt)) {
			return tool_usage(c, "option needs a value or is unknown: %s",
					  argv[optind - 1]);
		} else {
			return tool_usage(c, "unknown option %s", argv[optind - 1]);
		}
	}
	if (!*file)
		return tool_usage(c, "no trace file given");
	return 0;
}

/* ---- reading ------------------------------------------------------------------- */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/*
 * The reader thread (tool.h). One mutex and two condition variables: a
 * side waits only when the ring is full (the reader) or empty (the
 * command), and is signalled only when it said it waits, so with batches
 * of 1024 events the locking costs nothing measurable. Rejected: a
 * lock-free ring with spinning, which on two CPUs takes one from the
 * reader's own decompression helper for no gain at this batch size.
 *
 * Everything the reader thread touches in the weft_trace is its own; the
 * command may look names up meanwhile (weft_trace_string() reads the name
 * index, fixed at open). The message of a failure is read after the
 * failing batch was published under the mutex.
 */
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
static void produce(weft_trace *t, struct tool_batch *b)
{
	b->n = 0;
	b->r = 1;
	b->arena_len = 0;
	while (b->n < TOOL_BATCH) {
		weft_trace_event *ev = &b->ev[b->n];
		int r = weft_trace_next(t, ev);
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

/* Start the reader thread, or allocate the one batch of reading inline. */
static void pipe_start(struct tool_trace *tt)
{
	const char *env = getenv("WEFT_TRACE_THREADS");
	struct tool_pipe *pp = NULL;

	/* unset: a thread if there is a CPU for it; "0": none; else: one */
	if (env ? strcmp(env, "0") != 0 : cpus() >= 2)
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

/* The next batch into tt->cur/end/end_r. */
static void next_batch(struct tool_trace *tt)
{
	struct tool_pipe *pp = tt->pipe;
	struct tool_batch *b;

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

int tool_open(struct tool_trace *tt, const char *cmd, const char *path)
{
	char err[600];

	memset(tt, 0, sizeof(*tt));
	tt->cmd = cmd;
	tt->path = path;
	if (weft_trace_open(path, &tt->t, err, sizeof(err)) < 0) {
		tool_err(cmd, "%s", err);
		return -1;
	}
	weft_trace_get_info(tt->t, &tt->info);
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

int tool_next_slow(struct tool_trace *tt, weft_trace_event **ev)
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
		tool_err(tt->cmd, "%s: %s", tt->path, weft_trace_error(tt->t));
		return -1;
	}
	return 0;
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
	weft_trace_close(tt->t);
	tt->t = NULL;
}

/* ---- formatting ---------------------------------------------------------------- */

const char *fmt_dur(char *buf, double ns)
{
	double a = fabs(ns);

	if (a < 1e3)
		snprintf(buf, 32, "%.0f ns", ns);
	else if (a < 1e6)
		snprintf(buf, 32, "%.3g us", ns / 1e3);
	else if (a < 1e9)
		snprintf(buf, 32, "%.3g ms", ns / 1e6);
	else
		snprintf(buf, 32, "%.3f s", ns / 1e9);
	return buf;
}

const char *fmt_count(char *buf, double n)
{
	if (n < 1e4)
		snprintf(buf, 32, "%.0f", n);
	else if (n < 1e6)
		snprintf(buf, 32, "%.1f k", n / 1e3);
	else if (n < 1e9)
		snprintf(buf, 32, "%.2f M", n / 1e6);
	else
		snprintf(buf, 32, "%.2f G", n / 1e9);
	return buf;
}

void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\u%04x", *p);
		else if (*p >= 0x80) {
			/* Pass valid UTF-8 through, replace anything else. */
			int n = (*p & 0xe0) == 0xc0 ? 1 : (*p & 0xf0) == 0xe0 ? 2 : (*p & 0xf8) == 0xf0 ? 3 : -1;
			int k;
			for (k = 1; n > 0 && k <= n; k++)
				if ((p[k] & 0xc0) != 0x80)
					break;
			if (n > 0 && k == n + 1) {
				fwrite(p, 1, (size_t)n + 1, f);
				p += n;
			} else {
				fputs("\\ufffd", f);
			}
		} else
			fputc(*p, f);
	}
	fputc('"', f);
}

/* ---- histogram ------------------------------------------------------------------- */

void hist_init(struct hist *h)
{
	memset(h, 0, sizeof(*h));
}

static inline unsigned hist_bucket(uint64_t v)
{
	if (v < HIST_SUB)
		return (unsigned)v;
	int e = 63 - __builtin_clzll(v); /* >= 4 */
	unsigned sub = (unsigned)(v >> (e - 4)) & (HIST_SUB - 1);
	return (unsigned)(e - 3) * HIST_SUB + sub;
}

/* The smallest value of bucket @b, and its width. */
static void hist_range(unsigned b, double *lo, double *w)
{
	if (b < HIST_SUB) {
		*lo = b;
		*w = 1;
		return;
	}
	int e = (int)(b / HIST_SUB) + 3;
	unsigned sub = b % HIST_SUB;
	*w = ldexp(1.0, e - 4);
	*lo = ldexp(1.0, e) + sub * *w;
}

void hist_add(struct hist *h, uint64_t v)
{
	if (h->n == 0 || v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
	h->n++;
	h->sum += (double)v;
	h->b[hist_bucket(v)]++;
}

uint64_t hist_quantile(const struct hist *h, double q)
{
	if (!h->n)
		return 0;
	if (q <= 0)
		return h->min;
	if (q >= 1)
		return h->max;
	uint64_t rank = (uint64_t)ceil(q * (double)h->n), acc = 0;
	if (rank < 1)
		rank = 1;
	for (unsigned b = 0; b < HIST_BUCKETS; b++) {
		acc += h->b[b];
		if (acc >= rank) {
			double lo, w;
			hist_range(b, &lo, &w);
			double v = lo + w / 2;
			if (v < (double)h->min)
				v = (double)h->min;
			if (v > (double)h->max)
				v = (double)h->max;
			return (uint64_t)v;
		}
	}
	return h->max;
}

/* ---- interning ------------------------------------------------------------------- */

static inline size_t hash64(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	return (size_t)k;
}

void names_init(struct names *nm, weft_trace *t)
{
	memset(nm, 0, sizeof(*nm));
	nm->t = t;
}

static void names_grow(struct names *nm)
{
	size_t cap = nm->cap ? 2 * nm->cap : 64;

	nm->keys = tool_realloc(nm->keys, cap, sizeof(*nm->keys));
	nm->name = tool_realloc(nm->name, cap, sizeof(*nm->name));
	nm->cap = cap;
	free(nm->slot);
	nm->nslot = 2 * cap;
	nm->slot = tool_calloc(nm->nslot, sizeof(*nm->slot));
	for (size_t i = 1; i < nm->n; i++) {
		size_t j = hash64(nm->keys[i]) & (nm->nslot - 1);
		while (nm->slot[j])
			j = (j + 1) & (nm->nslot - 1);
		nm->slot[j] = (uint32_t)i + 1;
	}
}

uint32_t names_intern(struct names *nm, uint64_t key)
{
	if (!key)
		return 0;
	if (key == nm->last_key && nm->n)
		return nm->last_idx;
	if (nm->n == 0) { /* index 0: no key */
		names_grow(nm);
		nm->keys[0] = 0;
		nm->name[0] = "-";
		nm->n = 1;
	}
	size_t j = hash64(key) & (nm->nslot - 1);
	while (nm->slot[j]) {
		uint32_t i = nm->slot[j] - 1;
		if (nm->keys[i] == key) {
			nm->last_key = key;
			nm->last_idx = i;
			return i;
		}
		j = (j + 1) & (nm->nslot - 1);
	}
	if (nm->n == nm->cap) {
		names_grow(nm);
		return names_intern(nm, key);
	}
	uint32_t i = (uint32_t)nm->n++;
	nm->keys[i] = key;
	nm->name[i] = NULL;
	nm->slot[j] = i + 1;
	return i;
}

const char *names_get(struct names *nm, uint32_t idx)
{
	if (idx == 0 || idx >= nm->n)
		return "-";
	if (!nm->name[idx]) {
		const char *s = weft_trace_string(nm->t, nm->keys[idx]);
		nm->name[idx] = s ? s : "?";
	}
	return nm->name[idx];
}

void names_free(struct names *nm)
{
	free(nm->keys);
	free(nm->name);
	free(nm->slot);
	memset(nm, 0, sizeof(*nm));
}

/* ---- u64map ------------------------------------------------------------------------ */

void *u64map_get(const struct u64map *mp, uint64_t key)
{
	if (!mp->cap || !key)
		return NULL;
	size_t j = hash64(key) & (mp->cap - 1);
	while (mp->keys[j]) {
		if (mp->keys[j] == key)
			return mp->vals[j];
		j = (j + 1) & (mp->cap - 1);
	}
	return NULL;
}

static void u64map_grow(struct u64map *mp)
{
	size_t cap = mp->cap ? 2 * mp->cap : 64;
	uint64_t *k = tool_calloc(cap, sizeof(*k));
	void **v = tool_calloc(cap, sizeof(*v));

	for (size_t i = 0; i < mp->cap; i++) {
		if (!mp->keys[i])
			continue;
		size_t j = hash64(mp->keys[i]) & (cap - 1);
		while (k[j])
			j = (j + 1) & (cap - 1);
		k[j] = mp->keys[i];
		v[j] = mp->vals[i];
	}
	free(mp->keys);
	free(mp->vals);
	mp->keys = k;
	mp->vals = v;
	mp->cap = cap;
}

void u64map_put(struct u64map *mp, uint64_t key, void *val)
{
	if (!key)
		return;
	if ((mp->n + 1) * 2 > mp->cap)
		u64map_grow(mp);
	size_t j = hash64(key) & (mp->cap - 1);
	while (mp->keys[j]) {
		if (mp->keys[j] == key) {
			mp->vals[j] = val;
			return;
		}
		j = (j + 1) & (mp->cap - 1);
	}
	mp->keys[j] = key;
	mp->vals[j] = val;
	mp->n++;
}

void *u64map_del(struct u64map *mp, uint64_t key)
{
	if (!mp->cap || !key)
		return NULL;
	size_t mask = mp->cap - 1, i = hash64(key) & mask;
	while (mp->keys[i] && mp->keys[i] != key)
		i = (i + 1) & mask;
	if (!mp->keys[i])
		return NULL;
	void *val = mp->vals[i];
	/* Backward-shift deletion. */
	size_t j = i;
	for (;;) {
		j = (j + 1) & mask;
		if (!mp->keys[j])
			break;
		size_t k = hash64(mp->keys[j]) & mask;
		if ((j > i && (k <= i || k > j)) || (j < i && (k <= i && k > j))) {
			mp->keys[i] = mp->keys[j];
			mp->vals[i] = mp->vals[j];
			i = j;
		}
	}
	mp->keys[i] = 0;
	mp->vals[i] = NULL;
	mp->n--;
	return val;
}

void u64map_free(struct u64map *mp)
{
	free(mp->keys);
	free(mp->vals);
	memset(mp, 0, sizeof(*mp));
}

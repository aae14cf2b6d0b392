/*
 * debug.c - /debug/weft/: the runtime's own debug server (Go's
 * net/http/pprof, for weft), served by tasks of the program over the
 * netpoller.
 *
 * What. weft_debug_serve(addr), or WEFT_DEBUG_ADDR=addr with no code
 * change, listens on @addr and answers HTTP/1.1 GET requests:
 *   /debug/weft/          an index page with the commands that read each
 *                         result;
 *   /debug/weft/trace     ?seconds=N (default 1, fractional, 0 < N <= 60):
 *                         weft_trace_start() into a memfd, weft_sleep(N),
 *                         weft_trace_stop(), then the file's bytes (a
 *                         mid-run start: the trace opens with the snapshot
 *                         of every live task); 409 while a trace runs;
 *   /debug/weft/tasks     the live task dump: one task a line (Go's
 *                         goroutine?debug=2), ?debug=1 grouped with counts,
 *                         ?format=json either way;
 *   /debug/weft/flight    404 until the flight recorder exists (issue 16
 *                         section 2); the route is kept for it.
 * One task accepts on each listening socket; each connection gets a task
 * of its own with a deadline for its request (10 s for the whole header,
 * at most 16 KiB of it: 431 beyond) and for its response, so a slow or
 * stuck client holds up its own task only. One request per connection
 * ("Connection: close").
 *
 * How long a task has waited. weft__park stamps t->wait_since with the
 * coarse clock S.coarse_ms (a relaxed load: no clock read on the park
 * path, which channel ping-pong takes twice per message); sysmon stores
 * it each tick and the netpoller after each epoll_wait. The dump reads the
 * real clock once and reports now - wait_since: late by at most a sysmon
 * tick (10 ms while a P runs; up to 100 ms when the task parked right
 * after an idle spell), in ms, wrapping after 49 days.
 *
 * The dump stops the world only to copy each descriptor's few fields into
 * an array (the slabs are walked with weft__tasks_foreach, as the deadlock
 * report does); symbolizing and formatting happen after the world is
 * started again, inside weft_syscall_enter/exit (symbolizing may read the
 * ELF file).
 *
 * Invariants:
 *   - the server's tasks are the ones whose entry function is
 *     accept_task or conn_task (weft__task_is_system): no flag in the
 *     descriptor. They wake no task of the program, so the deadlock check
 *     ignores them and their fd waits (netpoll.c user_waiters; fatal.c),
 *     and a program deadlocks with WEFT_DEBUG_ADDR set as it does without;
 *     like every task they end when the main task returns;
 *   - every fd the server opens is in owned[] until it is closed, and is
 *     taken out before it is closed (an fd number may be reused at once):
 *     weft__debug_fini closes what is left when weft_main returns. Nothing
 *     the server did not create is ever closed or deleted;
 *   - a handler never holds the world stopped across a wait, an
 *     allocation failure included.
 *
 * Security. Only loopback (127.0.0.0/8, ::1) and unix sockets are served:
 * the bound address is checked after weft_net_listen (so "localhost" and
 * other names work), and anything else is closed at once and refused with
 * -EPERM unless WEFT_DEBUG_PUBLIC=1, which prints a warning on stderr (the
 * dump names the program's functions and the traces hold its code
 * addresses: golang/go#22085).
 *
 * Rejected:
 *   - Common/http_req.c (Debian's http-parser): that library is optional
 *     in configure, and the server belongs to libweft, which must not
 *     depend on it; a GET with no body needs the request line and the end
 *     of the header only, which debug_req.c parses (apart from the I/O,
 *     so that tests/fuzz/fuzz_debug.c fuzzes it alone).
 *   - A thread for the server: it would be a possible waker for the
 *     deadlock check and would not be seen in the traces it takes.
 *   - A clock read at every park for the "how long": it costs a vDSO
 *     call (~20 ns) on the hottest path; a coarse stamp costs a load.
 *   - A flag bit in the descriptor for "system task": the entry function
 *     already says it, at no byte.
 *   - Streaming the trace as it is written: the writer owns its file;
 *     reading it back after weft_trace_stop sends a complete file with its
 *     Content-Length, and N <= 60 s of trace fits in memory.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "debug_req.h"
#include "internal.h"
#include "symbol.h"
#include "trace_emit.h"

#define S weft__sched

#define HDR_MAX (16 * 1024)                       /* request line and header */
#define READ_NS (10 * (int64_t)1000000000)        /* the whole request */
#define WRITE_NS (60 * (int64_t)1000000000)       /* the whole response */
#define LINGER_NS ((int64_t)1000000000)           /* draining after a response */
#define LINGER_MAX (64u << 20)                    /* bytes drained at most */
#define TRACE_MAX_S 60.0                          /* ?seconds= cap */
#define MAX_FDS 64                                /* listeners, connections, traces */

/* ---- fds the server owns ---------------------------------------------------- */

static _Atomic int owned[MAX_FDS]; /* fd + 1; 0: free slot */
/* What a server task holds, by its fd's slot (a connection's request
 * buffer; a listener's struct lst until its accept task runs): a task
 * still waiting, or not yet run, when the main task returns is abandoned
 * with its stack, and weft__debug_fini frees what it held (LeakSanitizer
 * saw both in CI rehearsal 27). */
static void *_Atomic slot_buf[MAX_FDS];

static int own(int fd)
{
	for (int i = 0; i < MAX_FDS; i++) {
		int zero = 0;
		if (atomic_compare_exchange_strong(&owned[i], &zero, fd + 1))
			return i;
	}
	return -1;
}

static void disown(int slot)
{
	atomic_store(&owned[slot], 0); /* before the close: the number may be reused */
}

static struct lst *env_pending;

void weft__debug_fini(void)
{
	free(env_pending); /* weft_main failed between listening and accepting */
	env_pending = NULL;
	for (int i = 0; i < MAX_FDS; i++) {
		int v = atomic_exchange(&owned[i], 0);
		if (v)
			close(v - 1); /* no M left: the netpoller forgets everything next */
		free(atomic_exchange(&slot_buf[i], NULL));
	}
}

/* ---- tasks of the server ------------------------------------------------------ */

static void accept_task(void *arg);
static void conn_task(void *arg);

/* Racy by design (the deadlock check walks every descriptor while tasks
 * are spawned): t->fn is stored and loaded relaxed, so that ThreadSanitizer
 * sees atomics (CI rehearsal 28 reported the plain pair). */
bool weft__task_is_system(const struct weft__task *t)
{
	weft_fn fn = __atomic_load_n(&t->fn, __ATOMIC_RELAXED);

	return fn == accept_task || fn == conn_task;
}

/*
 * weft_go, but a plain thread (weft_main's, for WEFT_DEBUG_ADDR) does not
 * become a possible waker for the deadlock check as weft_go's caller does:
 * it only queues a task of the server.
 */
static int spawn(weft_fn fn, void *arg)
{
	struct weft__m *m = weft__getm();
	struct weft__task *t;

	if (m && m->curg && m->p)
		return weft_go(fn, arg);
	atomic_fetch_add(&S.extern_go, 1); /* teardown waits for us (sched.c, weft_go) */
	if (!atomic_load(&S.running) || atomic_load(&S.shutdown)) {
		atomic_fetch_sub(&S.extern_go, 1);
		return -EINVAL;
	}
	if (!(t = weft__task_alloc(NULL))) {
		atomic_fetch_sub(&S.extern_go, 1);
		return -ENOMEM;
	}
	__atomic_store_n(&t->fn, fn, __ATOMIC_RELAXED); /* read racily: weft__task_is_system */
	t->arg = arg;
	t->id = weft__task_newid(NULL);
	atomic_store_explicit(&t->job, weft__nanotime(),
			      memory_order_relaxed); /* sched.c, "Jobs" */
	WEFT__TRACE_N(NULL, TASK_CREATE, 4, t->id, 0, weft__trace_code((void *)fn),
		      weft__trace_code(__builtin_return_address(0)), 0);
	t->tlastp = WEFT__TSTREAM_M;
	weft__inject(t);
	atomic_fetch_sub(&S.extern_go, 1);
	return 0;
}

/* ---- growing buffers ---------------------------------------------------------- */

struct dbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void dput(struct dbuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = 0;
}

static void dstr(struct dbuf *b, const char *s)
{
	dput(b, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) static void dprint(struct dbuf *b, const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		dput(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* A JSON string (quotes included). */
static void djson(struct dbuf *b, const char *s)
{
	dput(b, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			char e[2] = { '\\', (char)c };
			dput(b, e, 2);
		} else if (c < 0x20) {
			dprint(b, "\\u%04x", c);
		} else {
			dput(b, (const char *)&c, 1);
		}
	}
	dput(b, "\"", 1);
}

/* ---- responses ---------------------------------------------------------------- */

static const char *reason_phrase(int code)
{
	switch (code) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Error";
	}
}

static void respond(int fd, int code, const char *ctype, const char *extra, const void *body,
		    size_t len)
{
	char head[1024];
	int64_t deadline = weft_now() + WRITE_NS;
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			 "Cache-Control: no-store\r\nConnection: close\r\n%s\r\n",
			 code, reason_phrase(code), ctype, len, extra ? extra : "");

	if (weft_write(fd, head, (size_t)n, deadline) != n)
		return;
	if (len)
		weft_write(fd, body, len, deadline);
}

/* An error: a line of text saying what is wrong. */
static void fail(int fd, int code, const char *msg)
{
	char body[512];
	int n = snprintf(body, sizeof(body), "%d %s: %s\n", code, reason_phrase(code), msg);

	respond(fd, code, "text/plain; charset=utf-8",
		code == 405 ? "Allow: GET\r\n" : "X-Content-Type-Options: nosniff\r\n", body,
		(size_t)n);
}

/* ---- the request -------------------------------------------------------------- */

/* ---- /debug/weft/tasks -------------------------------------------------------- */

struct trec {
	uint64_t id;
	const void *fn, *site;
	uint32_t since;
	uint8_t st, reason;
	bool sys;
	uint32_t count; /* grouped: tasks in the group */
	uint32_t maxwait;
};

struct tvec {
	struct trec *v;
	size_t n, cap;
	bool oom;
};

/* World stopped: copy the fields, nothing else. */
static void collect(struct weft__task *t, void *arg)
{
	struct tvec *tv = arg;
	int st = atomic_load_explicit(&t->status, memory_order_relaxed);

	if (st == WEFT__T_FREE || st == WEFT__T_DEAD)
		return;
	if (tv->n == tv->cap) {
		size_t cap = tv->cap ? 2 * tv->cap : 1024;
		struct trec *v = realloc(tv->v, cap * sizeof(*v));
		if (!v) {
			tv->oom = true;
			return;
		}
		tv->v = v;
		tv->cap = cap;
	}
	tv->v[tv->n++] = (struct trec){
		.id = t->id,
		.fn = (const void *)__atomic_load_n(&t->fn, __ATOMIC_RELAXED),
		.site = st == WEFT__T_WAITING ? t->wait_site : NULL,
		.since = t->wait_since,
		.st = (uint8_t)st,
		/* sysmon's netpoll may ready a task while the world is stopped */
		.reason = st == WEFT__T_WAITING ? __atomic_load_n(&t->wait_reason, __ATOMIC_RELAXED) : 0,
		.sys = weft__task_is_system(t),
		.count = 1,
	};
}

static int by_id(const void *a, const void *b)
{
	const struct trec *x = a, *y = b;
	return x->id < y->id ? -1 : x->id > y->id;
}

static int by_key(const void *a, const void *b)
{
	const struct trec *x = a, *y = b;
	if (x->fn != y->fn)
		return (uintptr_t)x->fn < (uintptr_t)y->fn ? -1 : 1;
	if (x->st != y->st)
		return x->st < y->st ? -1 : 1;
	if (x->reason != y->reason)
		return x->reason < y->reason ? -1 : 1;
	if (x->site != y->site)
		return (uintptr_t)x->site < (uintptr_t)y->site ? -1 : 1;
	return by_id(a, b);
}

static int by_count(const void *a, const void *b)
{
	const struct trec *x = a, *y = b;
	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return by_id(a, b);
}

/* Names of code addresses, each symbolized once per dump. */
#define SYMC_N 4096
struct symc {
	const void *addr[SYMC_N];
	char *name[SYMC_N];
	char scratch[2][256];
};

static const char *sym(struct symc *c, const void *a, bool site, int k)
{
	size_t h = (size_t)(((uintptr_t)a >> 2) * 0x9e3779b97f4a7c15ull) & (SYMC_N - 1);

	for (size_t i = 0; i < SYMC_N; i++, h = (h + 1) & (SYMC_N - 1)) {
		if (c->addr[h] == a && c->name[h])
			return c->name[h];
		if (!c->addr[h]) {
			weft__symbolize(site ? (const char *)a - 1 : a, c->scratch[k],
					sizeof(c->scratch[k]));
			c->addr[h] = a;
			c->name[h] = strdup(c->scratch[k]);
			return c->name[h] ? c->name[h] : c->scratch[k];
		}
	}
	weft__symbolize(site ? (const char *)a - 1 : a, c->scratch[k], sizeof(c->scratch[k]));
	return c->scratch[k];
}

static const char *state_name(const struct trec *r)
{
	switch (r->st) {
	case WEFT__T_RUNNABLE: return "runnable";
	case WEFT__T_RUNNING: return "running";
	case WEFT__T_WAITING: return weft_tf_block_name(r->reason);
	case WEFT__T_SYSCALL: return "syscall";
	default: return "?";
	}
}

/* ", 1.4 s" - Go's "[chan receive, 1420 minutes]" with finer units below. */
static void dwait(struct dbuf *b, uint32_t ms)
{
	if (ms < 1000)
		dprint(b, ", %u ms", ms);
	else if (ms < 60000)
		dprint(b, ", %.1f s", ms / 1000.0);
	else
		dprint(b, ", %u minutes", ms / 60000);
}

static void tasks_text(struct dbuf *b, struct symc *c, struct trec *v, size_t n, bool grouped)
{
	for (size_t i = 0; i < n; i++) {
		const struct trec *r = &v[i];
		if (grouped)
			dprint(b, "%u @ [%s", r->count, state_name(r));
		else
			dprint(b, "task %llu [%s", (unsigned long long)r->id, state_name(r));
		if (r->st == WEFT__T_WAITING)
			dwait(b, r->maxwait);
		dstr(b, "]: ");
		dstr(b, sym(c, r->fn, false, 0));
		if (r->site) {
			dstr(b, " at ");
			dstr(b, sym(c, r->site, true, 1));
		}
		if (r->sys)
			dstr(b, " (debug server)");
		dstr(b, "\n");
	}
}

static void tasks_json(struct dbuf *b, struct symc *c, struct trec *v, size_t n, bool grouped)
{
	dstr(b, grouped ? ",\"groups\":[" : ",\"tasks\":[");
	for (size_t i = 0; i < n; i++) {
		const struct trec *r = &v[i];
		dstr(b, i ? ",\n{" : "\n{");
		if (grouped)
			dprint(b, "\"count\":%u,", r->count);
		else
			dprint(b, "\"id\":%llu,", (unsigned long long)r->id);
		dstr(b, "\"fn\":");
		djson(b, sym(c, r->fn, false, 0));
		dstr(b, ",\"state\":");
		djson(b, r->st == WEFT__T_WAITING ? "waiting" : state_name(r));
		if (r->st == WEFT__T_WAITING) {
			dstr(b, ",\"reason\":");
			djson(b, state_name(r));
			dstr(b, ",\"site\":");
			djson(b, r->site ? sym(c, r->site, true, 1) : "");
			if (grouped)
				dprint(b, ",\"max_wait_ms\":%u", r->maxwait);
			else
				dprint(b, ",\"since_ms\":%u,\"wait_ms\":%u", r->since, r->maxwait);
		}
		dprint(b, ",\"debug_server\":%s}", r->sys ? "true" : "false");
	}
	dstr(b, "]}\n");
}

static void serve_tasks(int fd, const char *query)
{
	struct tvec tv = { NULL, 0, 0, false };
	struct dbuf b = { NULL, 0, 0, false };
	struct symc *c;
	char val[32];
	bool json = false, grouped = false;
	size_t n;
	uint32_t now;

	if (weft__dreq_query(query, "format", val, sizeof(val))) {
		if (strcmp(val, "json") == 0)
			json = true;
		else if (strcmp(val, "text") != 0)
			return fail(fd, 400, "format: want text or json");
	}
	if (weft__dreq_query(query, "debug", val, sizeof(val))) {
		if (strcmp(val, "1") == 0)
			grouped = true;
		else if (strcmp(val, "0") != 0 && strcmp(val, "2") != 0)
			return fail(fd, 400, "debug: want 1 (grouped) or 2 (a task a line)");
	}
	if (!(c = calloc(1, sizeof(*c))) || !(tv.v = malloc(1024 * sizeof(*tv.v)))) {
		free(c);
		return fail(fd, 503, "out of memory");
	}
	tv.cap = 1024;
	weft_stop_the_world("debug_tasks");
	weft__tasks_foreach(collect, &tv);
	weft_start_the_world();
	now = (uint32_t)(weft__nanotime() / 1000000);
	if (tv.oom) {
		free(tv.v);
		free(c);
		return fail(fd, 503, "out of memory");
	}
	n = tv.n;
	for (size_t i = 0; i < n; i++)
		tv.v[i].maxwait = tv.v[i].st == WEFT__T_WAITING ? now - tv.v[i].since : 0;
	if (grouped) {
		size_t g = 0;
		qsort(tv.v, n, sizeof(*tv.v), by_key);
		for (size_t i = 0; i < n; i++) {
			if (g && tv.v[g - 1].fn == tv.v[i].fn && tv.v[g - 1].st == tv.v[i].st &&
			    tv.v[g - 1].reason == tv.v[i].reason && tv.v[g - 1].site == tv.v[i].site) {
				tv.v[g - 1].count++;
				if (tv.v[i].maxwait > tv.v[g - 1].maxwait)
					tv.v[g - 1].maxwait = tv.v[i].maxwait;
				continue;
			}
			tv.v[g++] = tv.v[i];
		}
		n = g;
		qsort(tv.v, n, sizeof(*tv.v), by_count);
	} else {
		qsort(tv.v, n, sizeof(*tv.v), by_id);
	}
	weft_syscall_enter(); /* symbolizing may read the ELF file */
	if (json) {
		dprint(&b, "{\"now_ms\":%u,\"resolution_ms\":10,\"count\":%zu", now, tv.n);
		tasks_json(&b, c, tv.v, n, grouped);
	} else {
		dprint(&b,
		       "weft tasks: %zu%s (waits from a clock of ~10 ms resolution; "
		       "?debug=1 groups, ?format=json)\n\n",
		       tv.n, grouped ? ", grouped by function, state and call site" : "");
		tasks_text(&b, c, tv.v, n, grouped);
	}
	weft_syscall_exit();
	for (size_t i = 0; i < SYMC_N; i++)
		free(c->name[i]);
	free(c);
	free(tv.v);
	if (b.oom)
		fail(fd, 503, "out of memory");
	else
		respond(fd, 200, json ? "application/json" : "text/plain; charset=utf-8",
			"X-Content-Type-Options: nosniff\r\n", b.p, b.len);
	free(b.p);
}

/* ---- /debug/weft/trace --------------------------------------------------------- */

static int private_file(void)
{
	int fd = memfd_create("weft-debug-trace", MFD_CLOEXEC);
	if (fd < 0) {
		const char *d = getenv("TMPDIR");
		/* Unnamed: nothing on disk to delete afterwards. */
		fd = open(d && *d ? d : "/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	}
	return fd < 0 ? -errno : fd;
}

static void serve_trace(int fd, const char *query)
{
	char val[64], path[64], *end;
	double secs = 1.0;
	int mfd, slot, err;
	struct stat sb;

	if (weft__dreq_query(query, "seconds", val, sizeof(val))) {
		errno = 0;
		secs = strtod(val, &end);
		if (!*val || *end || errno || !isfinite(secs) || secs <= 0 || secs > TRACE_MAX_S)
			return fail(fd, 400, "seconds: want a number of seconds, more than 0 "
					     "and at most 60 (default 1)");
	}
	if (weft_trace_enabled())
		return fail(fd, 409, "a trace is already being recorded");
	if ((mfd = private_file()) < 0)
		return fail(fd, 500, weft_strerror(mfd));
	if ((slot = own(mfd)) < 0) {
		close(mfd);
		return fail(fd, 503, "too many debug connections");
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", mfd);
	if ((err = weft_trace_start(path)) != 0) {
		disown(slot);
		close(mfd);
		if (err == -EBUSY)
			return fail(fd, 409, "a trace is already being recorded");
		return fail(fd, 500, weft_strerror(err));
	}
	weft_sleep((int64_t)(secs * 1e9));
	err = weft_trace_stop(); /* -EINVAL: the program stopped it first; send what is there */
	if (err != 0 && err != -EINVAL) {
		disown(slot);
		close(mfd);
		return fail(fd, 500, weft_strerror(err));
	}
	if (fstat(mfd, &sb) != 0 || sb.st_size <= 0) {
		disown(slot);
		close(mfd);
		return fail(fd, 500, "the trace file is empty");
	}
	void *p = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_SHARED, mfd, 0);
	if (p == MAP_FAILED) {
		disown(slot);
		close(mfd);
		return fail(fd, 500, "cannot map the trace");
	}
	respond(fd, 200, "application/octet-stream",
		"Content-Disposition: attachment; filename=\"weft.trace\"\r\n"
		"X-Content-Type-Options: nosniff\r\n",
		p, (size_t)sb.st_size);
	munmap(p, (size_t)sb.st_size);
	disown(slot);
	close(mfd);
}

/* ---- /debug/weft/ ------------------------------------------------------------------ */

static void serve_index(int fd, const char *host)
{
	struct dbuf b = { NULL, 0, 0, false };
	char h[128];

	weft__dreq_host(host, h, sizeof(h));
	dstr(&b, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>/debug/weft/</title>"
		 "</head>\n<body>\n<h1>/debug/weft/</h1>\n<p>This program's weft runtime. "
		 "Each result is read with <code>weft-trace</code> or read as it is.</p>\n<dl>\n");
	dprint(&b,
	       "<dt><a href=\"trace?seconds=1\">trace?seconds=N</a></dt><dd>an execution trace "
	       "of the next N seconds (default 1, at most 60; 409 while another trace runs):"
	       "<pre>curl -o t.wt 'http://%s/debug/weft/trace?seconds=5'\n"
	       "weft-trace stats t.wt\nweft-trace tasks t.wt\nweft-trace gaps t.wt\n"
	       "weft-trace view t.wt</pre></dd>\n",
	       h);
	dprint(&b,
	       "<dt><a href=\"tasks\">tasks</a></dt><dd>every live task, one a line: id, state "
	       "(the wait reason and how long, to ~10 ms), entry function, call site of the wait; "
	       "<a href=\"tasks?debug=1\">?debug=1</a> groups identical ones with counts; "
	       "<a href=\"tasks?format=json\">?format=json</a>:"
	       "<pre>curl 'http://%s/debug/weft/tasks?debug=1'</pre></dd>\n",
	       h);
	dstr(&b, "<dt><a href=\"flight\">flight</a></dt><dd>the flight recorder's last seconds "
		 "(not yet available: 404)</dd>\n</dl>\n</body></html>\n");
	if (b.oom)
		fail(fd, 503, "out of memory");
	else
		respond(fd, 200, "text/html; charset=utf-8", NULL, b.p, b.len);
	free(b.p);
}

/* ---- connections ------------------------------------------------------------------ */

struct conn {
	int fd, slot;
};

/* The request in @buf (NUL-terminated, header complete): route it. */
static void serve(int fd, char *buf)
{
	struct weft__dreq r;
	int status = weft__dreq_parse(buf, &r);

	if (status)
		return fail(fd, status, r.error);
	switch (r.route) {
	case WEFT__DREQ_TASKS:
		serve_tasks(fd, r.query);
		break;
	case WEFT__DREQ_TRACE:
		serve_trace(fd, r.query);
		break;
	case WEFT__DREQ_FLIGHT:
		fail(fd, 404, "the flight recorder is not running (weft has none yet)");
		break;
	default:
		serve_index(fd, r.host);
	}
}

static void conn_task(void *arg)
{
	struct conn c = *(struct conn *)arg;
	int64_t deadline = weft_now() + READ_NS;
	char *buf = malloc(HDR_MAX + 1);
	size_t n = 0;

	free(arg);
	if (!buf) {
		fail(c.fd, 503, "out of memory");
		goto out;
	}
	atomic_store(&slot_buf[c.slot], buf);
	buf[0] = 0;
	for (;;) {
		if (weft__dreq_complete(buf)) {
			serve(c.fd, buf);
			break;
		}
		if (n == HDR_MAX) {
			fail(c.fd, 431, "the request header is larger than 16 KiB");
			break;
		}
		ssize_t r = weft_read(c.fd, buf + n, HDR_MAX - n, deadline);
		if (r <= 0)
			goto out; /* the client left or was too slow: nothing to say */
		if (memchr(buf + n, 0, (size_t)r)) {
			fail(c.fd, 400, "a NUL byte in the request");
			break;
		}
		n += (size_t)r;
		buf[n] = 0;
	}
	/*
	 * Read what the client still sends for a while before closing: a
	 * close with unread bytes resets the connection, and the client may
	 * lose our response (a 431 to a 10 MB header).
	 */
	shutdown(c.fd, SHUT_WR);
	deadline = weft_now() + LINGER_NS;
	for (size_t drained = 0; drained < LINGER_MAX;) {
		ssize_t r = weft_read(c.fd, buf, HDR_MAX, deadline);
		if (r <= 0)
			break;
		drained += (size_t)r;
	}
out:
	atomic_store(&slot_buf[c.slot], NULL);
	free(buf);
	disown(c.slot);
	weft_close(c.fd);
}

struct lst {
	int fd, slot;
};

static void accept_task(void *arg)
{
	struct lst l = *(struct lst *)arg;

	atomic_store(&slot_buf[l.slot], NULL);
	free(arg);
	for (;;) {
		int fd = weft_net_accept(l.fd, -1);
		struct conn *c;

		if (fd == -ECANCELED || fd == -EBADF || fd == -EINVAL || fd == -ENOTSOCK)
			break; /* the runtime is closing it */
		if (fd < 0) {
			weft_sleep(10 * 1000000); /* -EMFILE and the like: let fds go */
			continue;
		}
		int slot = own(fd);
		if (slot < 0 || !(c = malloc(sizeof(*c)))) {
			if (slot >= 0)
				disown(slot);
			static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: "
						   "0\r\nConnection: close\r\n\r\n";
			weft_write(fd, busy, sizeof(busy) - 1, weft_now() + 100000000);
			weft_close(fd);
			continue;
		}
		c->fd = fd;
		c->slot = slot;
		if (weft_go(conn_task, c) != 0) {
			free(c);
			disown(slot);
			weft_close(fd);
		}
	}
	disown(l.slot);
}

/* ---- starting ------------------------------------------------------------------------ */

static bool loopback(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return false;
	if (ss.ss_family == AF_UNIX)
		return true;
	if (ss.ss_family == AF_INET)
		return (ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr) >> 24) == 127;
	if (ss.ss_family == AF_INET6) {
		const struct in6_addr *a = &((struct sockaddr_in6 *)&ss)->sin6_addr;
		return IN6_IS_ADDR_LOOPBACK(a) ||
		       (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
	}
	return false;
}

/* Listen on @addr and check it; the accept task's argument, or NULL with *err. */
static struct lst *listen_checked(const char *addr, int *err)
{
	struct lst *l;
	int fd, slot;
	const char *pub;

	if ((fd = weft_net_listen(addr, 0)) < 0) {
		*err = fd;
		return NULL;
	}
	if (!loopback(fd)) {
		if (!(pub = getenv("WEFT_DEBUG_PUBLIC")) || strcmp(pub, "1") != 0) {
			weft_close(fd);
			*err = -EPERM;
			return NULL;
		}
		fprintf(stderr,
			"weft: warning: the debug server listens on %s, beyond this machine "
			"(WEFT_DEBUG_PUBLIC=1): whoever reaches it reads this program's task "
			"names, code addresses and traces\n",
			addr);
	}
	if ((slot = own(fd)) < 0) {
		weft_close(fd);
		*err = -EMFILE;
		return NULL;
	}
	if (!(l = malloc(sizeof(*l)))) {
		disown(slot);
		weft_close(fd);
		*err = -ENOMEM;
		return NULL;
	}
	l->fd = fd;
	l->slot = slot;
	return l;
}

static int start_accepting(struct lst *l)
{
	int fd = l->fd, slot = l->slot, err;

	atomic_store(&slot_buf[slot], l); /* freed by fini if never run */
	if ((err = spawn(accept_task, l)) != 0) {
		atomic_store(&slot_buf[slot], NULL);
		free(l);
		disown(slot);
		weft_close(fd);
		return err;
	}
	return fd;
}

WEFT_API int weft_debug_serve(const char *addr)
{
	struct lst *l;
	int err;

	if (!addr || !atomic_load(&S.running) || atomic_load(&S.shutdown) ||
	    !atomic_load(&S.main_task))
		return -EINVAL;
	if (!(l = listen_checked(addr, &err)))
		return err;
	return start_accepting(l);
}

/*
 * WEFT_DEBUG_ADDR, in two steps on weft_main's thread: listen before the
 * main task is queued (so that the program's first instruction can
 * already be served, and the main task is task 1 as without the server),
 * start accepting once it is.
 */
static const char *env_addr;

static void env_error(const char *e, int r)
{
	fprintf(stderr, "weft: WEFT_DEBUG_ADDR=%s: cannot serve /debug/weft/: %s%s\n", e,
		weft_strerror(r),
		r == -EPERM ? " (not loopback nor a unix socket; WEFT_DEBUG_PUBLIC=1 allows it)"
			    : "");
}

void weft__debug_from_env(void)
{
	const char *e = getenv("WEFT_DEBUG_ADDR");
	int r;

	env_pending = NULL;
	if (!e || !*e)
		return;
	env_addr = e;
	if (!(env_pending = listen_checked(e, &r)))
		env_error(e, r);
}

void weft__debug_env_start(void)
{
	struct lst *l = env_pending;
	int r;

	env_pending = NULL;
	if (l && (r = start_accepting(l)) < 0)
		env_error(env_addr, r);
}

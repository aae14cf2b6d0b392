/*
 * mandelweb.c - the Mandelbrot web service of Dave Cheney's High
 * Performance Go Workshop (section 4.9, "Mandelweb"), on weft's
 * netpoller; the C side of bench/go/mandelweb. make bench-web loads both
 * with hey (bench/web.sh), as the workshop does.
 *
 *   GET /mandelbrot   the workshop's picture as image/png; query parameters
 *                     (the workshop's service has none and always draws
 *                     512x512 on NumCPU row workers: these defaults):
 *       size=N        the side in pixels, 1..2048 (default 512). The
 *                     picture covers the same square at every size: zoom
 *                     = 4 * 512 / N in mandel.h's kernel, so that 512 is
 *                     the workshop's picture bit for bit and a smaller
 *                     size a coarser one of the same square.
 *       mode=M        how the pixels are computed, as in the workshop's
 *                     chapter: row (default: a task per row, joined with a
 *                     wait group), seq (in the connection's task), px (a
 *                     task per pixel), workers (the workshop's mandelweb:
 *                     `workers` tasks take row numbers from a channel of
 *                     capacity N, which the request's task fills, closes,
 *                     and waits for with a wait group)
 *       workers=K     tasks of mode=workers, 1..1024 (default: the Ps)
 *                     A bad value is a 400 with a one-line reason (the
 *                     connection stays open); unknown parameters are
 *                     ignored, as net/http's handlers do.
 *   GET /             a short HTML index
 *   other paths       404; other methods on the two paths: 405 (HEAD is
 *                     GET without the body)
 *
 * HTTP/1.1 with keep-alive (and HTTP/1.0's keep-alive), pipelined requests
 * answered in order. A task per connection: weft_net_accept in the main
 * task, then each connection's task reads with a deadline (-idle, default
 * 60 s: an idle connection is closed then) and writes with one (the same
 * span for a whole response). Requests are parsed by http-parser through
 * http_req.c (fuzzed by tests/fuzz/fuzz_http.c). A request that is not
 * HTTP gets 400 (413, 414, 431 or 505 where they say more) and the
 * connection is closed; the others keep it unless the client asked
 * otherwise. Each response is one weft_write: the headers are written
 * into room kept in front of the body.
 *
 * Each request is a trace user task "request" (weft_trace_task_begin), its
 * fill and its PNG encode the regions "mandelbrot" and "png", so that a
 * trace (WEFT_TRACE=FILE) shows every request's tasks and their waits
 * ("net read", "net write", the wait group) by name.
 *
 * It prints "listening on http://ADDR/" on stdout, flushed, once it
 * accepts (-addr 127.0.0.1:0 picks a free port: read the line). SIGINT and
 * SIGTERM end it cleanly: they are blocked in every thread and read from a
 * signalfd by a task (weft_read), which closes the listener; the accept
 * loop then ends and the main task returns, so weft_main() stops a
 * WEFT_TRACE trace as at any normal end: the trace is complete.
 *
 * Flags (Go's flag syntax: -name value, -name=value, --name):
 *   -addr A     where to listen (default 127.0.0.1:8080; weft_net_listen's
 *               forms; 127.0.0.1:0 for any free port)
 *   -idle D     close a connection idle for D (Go duration: 500ms, 60s,
 *               2m; default 60s); also the limit of one response's write
 *   -debug A    serve weft's /debug/weft/ on A as well (weft_debug_serve:
 *               loopback or unix:PATH; it prints "debug on http://A/debug/weft/"
 *               before the "listening on" line): a trace of a live server
 *               with `curl -o t.wt http://A/debug/weft/trace?seconds=5`
 * WEFT_PROCS sets the Ps.
 *
 * Rejected: a task per request beside the connection's (HTTP/1.1 answers
 * in order, so the connection's task has nothing else to do meanwhile);
 * sendfile or writev (weft_write takes one buffer, and the body is built
 * in memory anyway); logging each request as the workshop's logRequest
 * does (stderr writes would be most of what the small-image benchmark
 * measures; the trace has every request).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <weft.h>

#include "common/http_req.h"
#include "examples/mandel.h"

#define MAX_SIDE 2048
#define MAX_WORKERS 1024
#define DEFAULT_SIDE 512
/* Room in front of a response body for its headers. */
#define HEAD_ROOM 512

static struct {
	const char *addr;
	const char *debug; /* -debug: where /debug/weft/ is served, or NULL */
	int64_t idle_ns;
	int lfd;
	int sfd;
	atomic_uint_fast64_t requests;
} srv = { .addr = "127.0.0.1:8080", .idle_ns = 60 * INT64_C(1000000000), .lfd = -1, .sfd = -1 };

enum mode { MODE_ROW, MODE_SEQ, MODE_PX, MODE_WORKERS };
static const char *const mode_names[] = {
	[MODE_ROW] = "row", [MODE_SEQ] = "seq", [MODE_PX] = "px", [MODE_WORKERS] = "workers",
};

/* ---- the picture ---------------------------------------------------------------- */

/*
 * One picture being computed for one request. Row and px tasks take the
 * next row or pixel number from @next (relaxed: the numbers only need to
 * be distinct; the wait group orders the pixels before the encode).
 */
struct picture {
	unsigned char *gray; /* side rows of side: gray[x * side + y] */
	int side;
	double zoom;
	atomic_long next;
	weft_chan *rows; /* workers */
	weft_wg wg;
};

static void paint_row(struct picture *p, int x)
{
	unsigned char *g = p->gray + (size_t)x * (size_t)p->side;

	for (int y = 0; y < p->side; y++)
		g[y] = mandel_gray(p->zoom, x, y);
}

static void row_task(void *arg)
{
	struct picture *p = arg;

	paint_row(p, (int)atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed));
	weft_wg_done(&p->wg);
}

static void px_task(void *arg)
{
	struct picture *p = arg;
	long i = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed);
	int x = (int)(i / p->side), y = (int)(i % p->side);

	p->gray[i] = mandel_gray(p->zoom, x, y);
	weft_wg_done(&p->wg);
}

static void worker_task(void *arg)
{
	struct picture *p = arg;
	int x;

	while (weft_chan_recv(p->rows, &x) == 0)
		paint_row(p, x);
	weft_wg_done(&p->wg);
}

/*
 * Spawn @n tasks of @fn on @p, counted in its wait group. A row or pixel
 * task that cannot be spawned (no memory for a descriptor) is run here
 * instead, so the picture is whole whatever happens; workers that cannot
 * be spawned are taken off the count. Returns the count of tasks doing
 * the work (for workers: 0 means none).
 */
static long spawn(void (*fn)(void *), struct picture *p, long n)
{
	weft_wg_add(&p->wg, n);
	for (long i = 0; i < n; i++) {
		if (weft_go(fn, p) == 0)
			continue;
		if (fn == worker_task) {
			weft_wg_add(&p->wg, -(n - i));
			return i;
		}
		fn(p);
	}
	return n;
}

/* Fill @p as @mode says: 0, or -ENOMEM. */
static int fill(struct picture *p, enum mode mode, int workers)
{
	long n = (long)p->side * p->side;

	atomic_init(&p->next, 0);
	switch (mode) {
	case MODE_SEQ:
		for (int x = 0; x < p->side; x++)
			paint_row(p, x);
		return 0;
	case MODE_ROW:
		spawn(row_task, p, p->side);
		break;
	case MODE_PX:
		spawn(px_task, p, n);
		break;
	case MODE_WORKERS:
		p->rows = weft_chan_make(sizeof(int), (size_t)p->side);
		if (!p->rows)
			return -ENOMEM;
		if (spawn(worker_task, p, workers) == 0) {
			weft_chan_free(p->rows);
			for (int x = 0; x < p->side; x++)
				paint_row(p, x);
			return 0;
		}
		for (int x = 0; x < p->side; x++)
			weft_chan_send(p->rows, &x); /* capacity side: never blocks */
		weft_chan_close(p->rows);
		weft_wg_wait(&p->wg);
		weft_chan_free(p->rows);
		return 0;
	}
	weft_wg_wait(&p->wg);
	return 0;
}

/* ---- responses -------------------------------------------------------------------- */

/* A response being built: HEAD_ROOM bytes, then the body. */
struct resp {
	char *buf;
	size_t len, cap; /* len counts HEAD_ROOM */
};

static int resp_reserve(struct resp *r, size_t more)
{
	size_t cap = r->cap ? r->cap : 8192;
	char *nb;

	if (more > SIZE_MAX / 2 - r->len)
		return -ENOMEM;
	while (cap < r->len + more)
		cap *= 2;
	if (cap == r->cap)
		return 0;
	nb = realloc(r->buf, cap);
	if (!nb)
		return -ENOMEM;
	r->buf = nb;
	r->cap = cap;
	return 0;
}

/* mandel_png's sink. */
static int resp_write(void *ctx, const void *data, size_t n)
{
	struct resp *r = ctx;
	int err = resp_reserve(r, n);

	if (err < 0)
		return err;
	memcpy(r->buf + r->len, data, n);
	r->len += n;
	return 0;
}

static int resp_start(struct resp *r)
{
	r->buf = NULL;
	r->len = r->cap = 0;
	if (resp_reserve(r, HEAD_ROOM) < 0)
		return -ENOMEM;
	r->len = HEAD_ROOM;
	return 0;
}

/*
 * Send @r (its body after HEAD_ROOM) with status @status and content type
 * @type; @close adds "Connection: close", @keep10 "Connection: keep-alive"
 * (an HTTP/1.0 client that asked for it); @head sends the headers only.
 * 0, or -errno of the write.
 */
static int resp_send(int fd, struct resp *r, int status, const char *type, const char *extra,
		     bool close, bool keep10, bool head)
{
	char h[HEAD_ROOM], date[64];
	size_t body = r->len - HEAD_ROOM;
	struct tm tm;
	time_t now = time(NULL);
	int n;
	ssize_t w;

	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	n = snprintf(h, sizeof(h),
		     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
		     "Date: %s\r\n%s%s\r\n",
		     status, http_status_text(status), type, body, date, extra ? extra : "",
		     close ? "Connection: close\r\n" : keep10 ? "Connection: keep-alive\r\n" : "");
	if (n < 0 || n >= HEAD_ROOM)
		return -EOVERFLOW;
	memcpy(r->buf + HEAD_ROOM - n, h, (size_t)n);
	w = weft_write(fd, r->buf + HEAD_ROOM - n, (size_t)n + (head ? 0 : body),
		       weft_now() + srv.idle_ns);
	if (w < 0)
		return (int)w;
	return (size_t)w == (size_t)n + (head ? 0 : body) ? 0 : -EIO;
}

/* A short text response (errors, the index). */
static int send_text(int fd, int status, const char *type, const char *text, const char *extra,
		     bool close, bool keep10, bool head)
{
	struct resp r;
	int err;

	if (resp_start(&r) < 0)
		return -ENOMEM;
	err = resp_write(&r, text, strlen(text));
	if (err == 0)
		err = resp_send(fd, &r, status, type, extra, close, keep10, head);
	free(r.buf);
	return err;
}

static const char index_html[] =
	"<!DOCTYPE html>\n"
	"<html><head><title>mandelweb</title></head><body>\n"
	"<h1>mandelweb</h1>\n"
	"<p>The Mandelbrot of the High Performance Go Workshop, served by weft.</p>\n"
	"<ul>\n"
	"<li><a href=\"/mandelbrot\">/mandelbrot</a>: the workshop's 512x512 picture</li>\n"
	"<li><a href=\"/mandelbrot?size=64&amp;mode=seq\">/mandelbrot?size=64&amp;mode=seq</a>:"
	" size=1..2048, mode=row|seq|px|workers, workers=1..1024</li>\n"
	"</ul>\n"
	"</body></html>\n";

#define TEXT_PLAIN "text/plain; charset=utf-8"

/* Parse a decimal in lo..hi: the value, or -1. */
static long parse_range(const char *s, long lo, long hi)
{
	char *end;
	long v;

	if (!*s || *s == '+' || *s == '-' || *s == ' ')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return -1;
	return v;
}

/* GET /mandelbrot: 0, or -errno of the write (the connection then closes). */
static int serve_mandelbrot(int fd, const struct http_req *q, bool close, bool keep10)
{
	char v[64], msg[160];
	long side = DEFAULT_SIDE, workers = weft_procs();
	enum mode mode = MODE_ROW;
	struct picture p = { .wg = WEFT_WG_INIT };
	struct resp r;
	int n, err;

	if ((n = http_req_query(q, "size", v, sizeof(v))) != -1 &&
	    (n < 0 || (side = parse_range(v, 1, MAX_SIDE)) < 0)) {
		snprintf(msg, sizeof(msg), "bad size: want an integer in 1..%d\n", MAX_SIDE);
		return send_text(fd, 400, TEXT_PLAIN, msg, NULL, close, keep10, q->head);
	}
	if ((n = http_req_query(q, "mode", v, sizeof(v))) != -1) {
		size_t m;

		for (m = 0; n >= 0 && m < sizeof(mode_names) / sizeof(mode_names[0]); m++)
			if (strcmp(v, mode_names[m]) == 0)
				break;
		if (n < 0 || m == sizeof(mode_names) / sizeof(mode_names[0]))
			return send_text(fd, 400, TEXT_PLAIN,
					 "bad mode: want row, seq, px or workers\n", NULL, close,
					 keep10, q->head);
		mode = (enum mode)m;
	}
	if ((n = http_req_query(q, "workers", v, sizeof(v))) != -1 &&
	    (n < 0 || (workers = parse_range(v, 1, MAX_WORKERS)) < 0)) {
		snprintf(msg, sizeof(msg), "bad workers: want an integer in 1..%d\n", MAX_WORKERS);
		return send_text(fd, 400, TEXT_PLAIN, msg, NULL, close, keep10, q->head);
	}

	p.side = (int)side;
	p.zoom = 4.0 * DEFAULT_SIDE / (double)side;
	p.gray = malloc((size_t)side * (size_t)side);
	if (!p.gray || resp_start(&r) < 0) {
		free(p.gray);
		return send_text(fd, 500, TEXT_PLAIN, "out of memory\n", NULL, true, false,
				 q->head);
	}
	weft_trace_region_begin("mandelbrot");
	err = fill(&p, mode, (int)workers);
	weft_trace_region_end();
	if (err == 0) {
		weft_trace_region_begin("png");
		err = mandel_png(p.gray, p.side, p.side, resp_write, &r);
		weft_trace_region_end();
	}
	free(p.gray);
	if (err == 0) {
		err = resp_send(fd, &r, 200, "image/png", NULL, close, keep10, q->head);
	} else {
		send_text(fd, 500, TEXT_PLAIN, "cannot draw the picture\n", NULL, true, false,
			  q->head);
		err = -EPROTO; /* and close */
	}
	free(r.buf);
	return err;
}

/* Answer @q: 0 to go on with the connection, -1 to close it. */
static int serve(int fd, const struct http_req *q)
{
	bool close = !q->keep_alive;
	bool keep10 = q->keep_alive && q->parser.http_minor == 0;
	bool get = q->method == HTTP_GET || q->head;
	bool is_index = q->path_len == 1 && q->path[0] == '/';
	bool mandel = q->path_len == 11 && memcmp(q->path, "/mandelbrot", 11) == 0;
	int err;

	atomic_fetch_add_explicit(&srv.requests, 1, memory_order_relaxed);
	if (!is_index && !mandel)
		err = send_text(fd, 404, TEXT_PLAIN, "404 page not found\n", NULL, close, keep10,
				q->head);
	else if (!get)
		err = send_text(fd, 405, TEXT_PLAIN, "405 method not allowed\n",
				"Allow: GET, HEAD\r\n", close, keep10, false);
	else if (is_index)
		err = send_text(fd, 200, "text/html; charset=utf-8", index_html, NULL, close,
				keep10, q->head);
	else
		err = serve_mandelbrot(fd, q, close, keep10);
	return err < 0 || close ? -1 : 0;
}

/* ---- connections ---------------------------------------------------------------------- */

static void conn_task(void *arg)
{
	int fd = (int)(intptr_t)arg;
	struct http_req q;
	char buf[8192];

	http_req_init(&q);
	for (;;) {
		ssize_t n = weft_read(fd, buf, sizeof(buf), weft_now() + srv.idle_ns);
		size_t off = 0;

		if (n <= 0)
			break; /* end of file, idle too long, reset, shut down */
		while (off < (size_t)n) {
			size_t used;
			enum http_req_state st;
			uint64_t ut;
			int keep;

			st = http_req_feed(&q, buf + off, (size_t)n - off, &used);
			off += used;
			if (st == HTTP_REQ_MORE)
				break;
			if (st == HTTP_REQ_BAD) {
				char msg[128];

				snprintf(msg, sizeof(msg), "%d %s: %s\n", q.status,
					 http_status_text(q.status), q.error);
				send_text(fd, q.status, TEXT_PLAIN, msg, NULL, true, false, false);
				goto out;
			}
			ut = weft_trace_task_begin("request");
			keep = serve(fd, &q);
			weft_trace_task_end(ut);
			if (keep < 0)
				goto out;
		}
	}
out:
	weft_close(fd);
}

/* SIGINT or SIGTERM: close the listener, which ends the accept loop. */
static void signal_task(void *arg)
{
	struct signalfd_siginfo si;
	ssize_t n;

	(void)arg;
	do
		n = weft_read(srv.sfd, &si, sizeof(si), -1);
	while (n == -EINTR || n == -EAGAIN);
	if (n == (ssize_t)sizeof(si))
		fprintf(stderr, "mandelweb: %s: shutting down (%" PRIuFAST64 " requests served)\n",
			strsignal((int)si.ssi_signo),
			atomic_load_explicit(&srv.requests, memory_order_relaxed));
	weft_close(srv.lfd);
}

static void main_task(void *arg)
{
	char addr[256];
	int64_t backoff = 0;
	int err;

	(void)arg;
	srv.lfd = weft_net_listen(srv.addr, 0);
	if (srv.lfd < 0) {
		fprintf(stderr, "mandelweb: listen %s: %s\n", srv.addr, weft_strerror(srv.lfd));
		exit(1);
	}
	err = weft_net_addr(srv.lfd, addr, sizeof(addr));
	if (err < 0) {
		fprintf(stderr, "mandelweb: %s: %s\n", srv.addr, weft_strerror(err));
		exit(1);
	}
	err = weft_go(signal_task, NULL);
	if (err < 0) {
		fprintf(stderr, "mandelweb: weft_go: %s\n", weft_strerror(err));
		exit(1);
	}
	if (srv.debug) {
		char daddr[256];
		int dfd = weft_debug_serve(srv.debug);
		if (dfd < 0 || weft_net_addr(dfd, daddr, sizeof(daddr)) < 0) {
			fprintf(stderr, "mandelweb: -debug %s: %s\n", srv.debug,
				weft_strerror(dfd < 0 ? dfd : -EBADF));
			exit(1);
		}
		printf("debug on http://%s/debug/weft/\n", daddr);
	}
	printf("listening on http://%s/\n", addr);
	fflush(stdout);
	for (;;) {
		int fd = weft_net_accept(srv.lfd, -1);

		if (fd >= 0) {
			backoff = 0;
			if (weft_go(conn_task, (void *)(intptr_t)fd) < 0)
				weft_close(fd);
			continue;
		}
		if (fd == -ECANCELED || fd == -EBADF)
			break; /* the signal task closed the listener */
		if (fd == -EMFILE || fd == -ENFILE || fd == -ENOBUFS || fd == -ENOMEM) {
			/* As net/http: retry after 5 ms, doubling up to 1 s. */
			backoff = backoff ? backoff * 2 : 5000000;
			if (backoff > 1000000000)
				backoff = 1000000000;
			fprintf(stderr, "mandelweb: accept: %s; retrying in %" PRId64 " ms\n",
				weft_strerror(fd), backoff / 1000000);
			weft_sleep(backoff);
		}
		/* Others (ECONNABORTED: a peer that left the backlog): go on. */
	}
}

/* ---- flags ----------------------------------------------------------------------------- */

static _Noreturn void usage(int status)
{
	fprintf(status ? stderr : stdout,
		"usage: mandelweb [-addr HOST:PORT] [-idle DURATION] [-debug HOST:PORT]\n"
		"  -addr  where to listen (default 127.0.0.1:8080; port 0: any free port)\n"
		"  -debug serve weft's /debug/weft/ there too (loopback or unix:PATH)\n"
		"  -idle  close connections idle that long (default 60s; 500ms, 2m, ...)\n"
		"Serves GET /mandelbrot?size=1..%d&mode=row|seq|px|workers&workers=1..%d\n"
		"and GET / (an index). WEFT_PROCS sets the number of Ps.\n",
		MAX_SIDE, MAX_WORKERS);
	exit(status);
}

/* A Go duration without fractions ("60s", "500ms", "2m", "1h"): ns, or -1. */
static int64_t parse_duration(const char *s)
{
	static const struct {
		const char *unit;
		int64_t ns;
	} units[] = { { "ns", 1 }, { "us", 1000 }, { "ms", 1000000 }, { "s", 1000000000 },
		      { "m", INT64_C(60000000000) }, { "h", INT64_C(3600000000000) } };
	char *end;
	long long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || v <= 0)
		return -1;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strcmp(end, units[i].unit) == 0)
			return v > INT64_MAX / units[i].ns ? -1 : v * units[i].ns;
	return -1;
}

static void parse_flags(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *name = argv[i], *val, *eq;
		size_t len;

		if (name[0] != '-' || name[1] == '\0') {
			fprintf(stderr, "mandelweb: unexpected argument '%s'\n", name);
			usage(2);
		}
		name += name[1] == '-' ? 2 : 1;
		if (strcmp(name, "help") == 0 || strcmp(name, "h") == 0)
			usage(0);
		eq = strchr(name, '=');
		len = eq ? (size_t)(eq - name) : strlen(name);
		if (eq) {
			val = eq + 1;
		} else if (i + 1 < argc) {
			val = argv[++i];
		} else {
			fprintf(stderr, "mandelweb: flag needs a value: %s\n", argv[i]);
			usage(2);
		}
		if (len == 4 && strncmp(name, "addr", 4) == 0) {
			srv.addr = val;
		} else if (len == 5 && strncmp(name, "debug", 5) == 0) {
			srv.debug = val;
		} else if (len == 4 && strncmp(name, "idle", 4) == 0) {
			srv.idle_ns = parse_duration(val);
			if (srv.idle_ns < 0) {
				fprintf(stderr,
					"mandelweb: -idle: want a duration (500ms, 2m), got '%s'\n",
					val);
				usage(2);
			}
		} else {
			fprintf(stderr, "mandelweb: unknown flag -%.*s\n", (int)len, name);
			usage(2);
		}
	}
}

int main(int argc, char **argv)
{
	sigset_t set;
	int err;

	parse_flags(argc, argv);
	/* Blocked here, before weft_main starts its threads: every thread inherits it. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	err = pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (err == 0 && (srv.sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
		err = errno;
	if (err) {
		fprintf(stderr, "mandelweb: signalfd: %s\n", strerror(err));
		return 1;
	}
	err = weft_main(main_task, NULL);
	if (err < 0) {
		fprintf(stderr, "mandelweb: weft_main: %s\n", weft_strerror(err));
		return 1;
	}
	return 0;
}

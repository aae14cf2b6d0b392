/*
 * cmd_view.c - weft-trace view: index a trace (view_index.c) and serve the
 * PROCS timeline page on loopback, offline, to any browser.
 *
 * What. One streaming pass builds the index; then the command becomes a
 * weft program (weft_main): an HTTP/1.1 server on the netpoller, a task
 * per connection, requests parsed by Debian's http-parser through
 * common/http_req.c (the parser the fuzz target drives). It serves the
 * page's files (tracer/view/: installed under $(pkgdatadir)/view, or
 * $WEFT_VIEW_DIR; index.html with /api/meta's answer in it, so that the
 * page's script needs no request before it asks for its first window)
 * and a JSON API whose answers are bounded by the window the page shows,
 * never by the trace's size:
 *   /api/meta                 the trace: duration, Ps, names, counts, error
 *   /api/procs?t0=&t1=&w=     per P, the runs and merged runs of a window
 *                             at w pixels (at most 2w + 2 items per P)
 *     &hl=SPEC                and per P "hl": the runs that match SPEC
 *                             merged the same way ([t0, dur, n], at most
 *                             2w + 2), "hl_runs" their number; SPEC is
 *                             fn:F (entry function index), site:R:S (ended
 *                             blocked, reason R at site index S), task:ID,
 *                             v:K (verdict K's subject); another is a 400
 *                             (view_match.c)
 *   /api/run?p=&i=            one run: task, function, why it ended, who
 *                             created the task, who woke it, its
 *                             previous and next runs
 *   /api/task?id=             one task's runs and the states between them
 *   /api/fns                  per entry function, as weft-trace tasks
 *                             counts: tasks, runs, running, runnable and
 *                             blocked time by reason
 *   /api/threads?t0=&t1=&w=   per M (thread, by id): the Ps it held
 *                             ([t0, dur, p], p -1 for merged ones), its
 *                             syscalls ([t0, dur, task, site, i]) and
 *                             merged syscalls ([t0, dur, n, busy]), by the
 *                             runs' level of detail (view_threads.c)
 *   /api/syscall?m=&i=        one syscall: task, function, site, start,
 *                             duration, whether its P was handed off
 *   /api/counters?t0=&t1=&w=  runnable, running, syscall, spinning: per
 *                             pixel min, max and time-weighted mean (null
 *                             where no data), and the bucket size `res`
 *                             (view_counters.c)
 *   /api/user?t0=&t1=&w=      a row per (user task or region, type):
 *                             items and merged blocks with their count;
 *                             logs as marks or blocks (view_user.c)
 *   /api/user/item?kind=&i=   one user task, region or log
 *   /api/verdicts             {"ready":false} until the analysis is done;
 *                             then weft-trace gaps' verdicts, each with its
 *                             text, the range to zoom to (or null) and its
 *                             highlight ("v:K"); a critical path with its
 *                             chain's runs and run time
 *   /api/blocks               the block profile by call site (as go tool
 *                             pprof's): per (reason, site) the waits, the
 *                             time blocked and the longest, most first
 *                             (at most 500), each with its highlight
 * The analysis (weft-trace gaps' pass, view_analysis.c) runs on a thread
 * of its own after the index build, so the server starts when the index
 * is ready, as without it; the tasks read its results only after an
 * acquire load sees them published. Serving the page holds it back until
 * the first window is answered and drawn (vana_hold, vana_release), so
 * that its two threads leave the CPU to the server and the browser. A highlight walks the window's runs:
 * on the 10 M-event trace, hl=fn: of the function with half the runs at
 * full zoom-out (w=1600, 4.4 M runs walked) took 33 ms at the server
 * (median of 5; 2 cores at load 7; the plain query's p95 was 2.7 ms).
 * --perfetto hands over to Perfetto's UI instead, as Perfetto's own
 * open_trace_in_ui does: the export (gzip'd protobuf) is written to a
 * directory of ours and served on 127.0.0.1:9001, the one origin the UI's
 * content security policy lets it fetch from, with the CORS header naming
 * https://ui.perfetto.dev; the link to open is printed.
 * JSON, not a binary format: a window's answer is a few tens of KB, which
 * the page parses in well under a millisecond.
 *
 * Loopback. The default address is 127.0.0.1 with a free port; an address
 * that is not loopback is refused unless --allow-remote says so, because
 * the page shows the program's function names and timings to whoever
 * connects.
 *
 * Invariants: the index is read-only once the server starts, so tasks
 * share it without locks; each response is built whole in memory and
 * sent with one weft_write. SIGINT/SIGTERM (a signalfd read by a task)
 * close the listener; the accept loop then shuts every open connection
 * down (their reads see end of file, each task closes its own fd) and
 * waits for their tasks, so nothing is left when weft_main returns.
 *
 * Rejected:
 *   - Embedding the page in the binary: the page's files are plain files
 *     installed with weft, which a user can read and a test can serve as
 *     they are; $WEFT_VIEW_DIR points at a working copy.
 *   - A thread per connection (the tool's other commands have no
 *     runtime): the viewer is the netpoller's first user among our tools,
 *     and the issue asks for it.
 *   - Serving any path under the directory: only flat names of the
 *     page's kinds (html, js, css, svg, png) are served, so no request
 *     can leave the directory.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <weft.h>

#include "common/http_req.h"
#include "tool.h"
#include "view_analysis.h"
#include "view_index.h"
#include "view_match.h"

static const char help[] =
	"usage: weft-trace view [--addr HOST:PORT] [--allow-remote] [--open] [--perfetto] FILE\n"
	"\n"
	"Index the trace in one pass and serve its PROCS timeline on loopback:\n"
	"a row per P with every run of a task (coloured by entry function),\n"
	"stop-the-world bands, a ruler; zoom with the wheel or W/S, pan by\n"
	"dragging or A/D; click a run for its task, why it ended, who woke it.\n"
	"The server sends at most about one rectangle per pixel per row, so\n"
	"zooming stays fast on ten million events.\n"
	"Besides the Ps the server answers for a row per thread (M) with the Ps\n"
	"it held and its syscalls, four counters (tasks runnable, Ps running,\n"
	"tasks in a syscall, Ps spinning), user tasks and regions by type, and\n"
	"logs, all bounded by the window's width.\n"
	"Beside it, the verdicts of weft-trace gaps (computed on a second thread\n"
	"while the page is served; each selects and zooms to what it speaks of)\n"
	"and the block profile by call site.\n"
	"\n"
	"  --addr HOST:PORT  where to listen (default 127.0.0.1:0, a free port);\n"
	"                    the URL is printed on standard output\n"
	"  --allow-remote    allow an address that is not loopback (the page shows\n"
	"                    the program's function names to whoever connects)\n"
	"  --open            open the page with xdg-open\n"
	"  --perfetto        hand over to Perfetto's UI instead: export the trace\n"
	"                    (Perfetto's format, gzip'd) and serve it on\n"
	"                    127.0.0.1:9001 (the port Perfetto's UI may fetch from)\n"
	"                    with the CORS header it needs; prints the\n"
	"                    https://ui.perfetto.dev/#!/?url=... link to open\n"
	"\n"
	"The page's files come from $WEFT_VIEW_DIR, else the installed copy.\n"
	"SIGINT or SIGTERM stops the server. Exit status 1 on a file that is not\n"
	"a trace; a file damaged part-way is served up to the damage, with the\n"
	"reader's message on the page.\n";

static struct {
	struct vindex idx;
	const char *path;
	const char *addr;
	const char *dir;
	bool allow_remote, open, perfetto, addr_given;
	int lfd, sfd;
	char url[512];
	char pf_dir[256], pf_file[400], pf_name[128]; /* --perfetto: the export we made */
} V = { .addr = "127.0.0.1:0", .lfd = -1, .sfd = -1 };

/* ---- a growable buffer -------------------------------------------------- */

struct buf {
	char *p;
	size_t len, cap;
};

static void buf_reserve(struct buf *b, size_t more)
{
	if (b->len + more <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap < b->len + more)
		cap *= 2;
	b->p = tool_realloc(b->p, cap, 1);
	b->cap = cap;
}

static void buf_add(struct buf *b, const void *s, size_t n)
{
	buf_reserve(b, n);
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

__attribute__((format(printf, 2, 3))) static void bprintf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	buf_reserve(b, 128);
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= b->cap - b->len) {
		buf_reserve(b, (size_t)n + 1);
		va_start(ap, fmt);
		vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
}

static void bjson_str(struct buf *b, const char *s)
{
	buf_add(b, "\"", 1);
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			char e[2] = { '\\', (char)c };
			buf_add(b, e, 2);
		} else if (c < 0x20) {
			bprintf(b, "\\u%04x", c);
		} else {
			buf_add(b, s, 1);
		}
	}
	buf_add(b, "\"", 1);
}

/* ---- responses ------------------------------------------------------------ */

/* Send @body with its headers in one write. 0, or -errno. */
static int send_resp(int fd, int status, const char *type, const struct buf *body, bool close,
		     bool head, const char *extra)
{
	struct buf out = { 0 };
	ssize_t w;
	int err = 0;

	bprintf(&out,
		"HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
		"Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n%s%s\r\n",
		status, http_status_text(status), type, body ? body->len : 0, extra ? extra : "",
		close ? "Connection: close\r\n" : "");
	if (body && !head)
		buf_add(&out, body->p, body->len);
	w = weft_write(fd, out.p, out.len, weft_now() + 30 * 1000000000LL);
	if (w < 0)
		err = (int)w;
	else if ((size_t)w != out.len)
		err = -EIO;
	free(out.p);
	return err;
}

static int send_error(int fd, int status, const char *msg, bool close)
{
	struct buf b = { 0 };
	int err;

	bprintf(&b, "%d %s: %s\n", status, http_status_text(status), msg);
	err = send_resp(fd, status, "text/plain; charset=utf-8", &b, close, false, NULL);
	free(b.p);
	return err;
}

/* ---- the API ---------------------------------------------------------------- */

static const char *why_name(int why)
{
	switch (why) {
	case WHY_END: return "end";
	case WHY_YIELD: return "yield";
	case WHY_BLOCK: return "block";
	case WHY_SYSCALL: return "syscall";
	case WHY_HANDOFF: return "handoff";
	case WHY_LOST: return "lost";
	case WHY_TRACE_END: return "trace end";
	default: return "?";
	}
}

static const char *fn_name(uint32_t fn)
{
	return fn < V.idx.nfn ? V.idx.fn_names[fn] : "?";
}

static const char *site_name(uint32_t site)
{
	return site < V.idx.nsite ? V.idx.site_names[site] : "?";
}

/* A query parameter as an unsigned integer; false if absent or malformed. */
static bool q_u64(const struct http_req *q, const char *name, uint64_t *v)
{
	char s[32], *end;

	if (http_req_query(q, name, s, sizeof(s)) <= 0)
		return false;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return !errno && *end == 0 && s[0] != '-';
}

static void api_meta_rows(struct buf *b);

static void api_meta(struct buf *b)
{
	const struct vindex *x = &V.idx;
	const char *base = strrchr(V.path, '/');

	bprintf(b, "{\"file\":");
	bjson_str(b, base ? base + 1 : V.path);
	bprintf(b, ",\"duration\":%" PRIu64 ",\"procs\":%d,\"events\":%" PRIu64
		   ",\"runs\":%" PRIu64 ",\"tasks\":%zu,\"fns\":[",
		x->duration, x->np, x->nevents, x->nruns, x->ntasks);
	for (size_t i = 0; i < x->nfn; i++) {
		if (i)
			buf_add(b, ",", 1);
		bjson_str(b, x->fn_names[i]);
	}
	bprintf(b, "],\"sites\":[");
	for (size_t i = 0; i < x->nsite; i++) {
		if (i)
			buf_add(b, ",", 1);
		bjson_str(b, x->site_names[i]);
	}
	bprintf(b, "]");
	api_meta_rows(b);
	bprintf(b, ",\"error\":");
	if (x->partial) {
		bprintf(b, "{\"message\":");
		bjson_str(b, x->err);
		bprintf(b, "}");
	} else {
		bprintf(b, "null");
	}
	bprintf(b, "}");
}

/* ---- the analysis: verdicts, block profile, highlights ---------------------------------- */

/* The gaps analysis, on a thread of its own until ready (view_analysis.c). */
static struct vanalysis VA;

/*
 * The hl= parameter of /api/procs: 0 absent, 1 parsed into *@m, -1 bad.
 * fn:F (entry function index), site:R:S (block reason, site index),
 * task:ID, v:K (verdict K's subject, once the analysis is ready).
 */
static int hl_parse(const struct http_req *q, struct vmatch *m)
{
	char s[64], *e;
	unsigned long long a, c;
	int n = http_req_query(q, "hl", s, sizeof(s));

	memset(m, 0, sizeof(*m));
	if (n == -1)
		return 0;
	if (n <= 0)
		return -1;
	errno = 0;
	if (!strncmp(s, "fn:", 3)) {
		a = strtoull(s + 3, &e, 10);
		if (errno || e == s + 3 || *e || a >= V.idx.nfn)
			return -1;
		m->kind = VM_FN;
		m->fn = (uint32_t)a;
	} else if (!strncmp(s, "site:", 5)) {
		a = strtoull(s + 5, &e, 10);
		if (errno || e == s + 5 || *e != ':' || a >= WEFT_TRACE_BLOCK_MAX)
			return -1;
		const char *f = e + 1;
		c = strtoull(f, &e, 10);
		if (errno || e == f || *e || c >= V.idx.nsite)
			return -1;
		m->kind = VM_SITES;
		m->nsite = 1;
		m->reason[0] = (uint8_t)a;
		m->site[0] = (uint32_t)c;
	} else if (!strncmp(s, "task:", 5)) {
		const struct vtask *vt;
		a = strtoull(s + 5, &e, 10);
		if (errno || e == s + 5 || *e || !(vt = vindex_task(&V.idx, a)))
			return -1;
		m->kind = VM_TASK;
		m->task = (uint32_t)(vt - V.idx.vt);
	} else if (!strncmp(s, "v:", 2)) {
		a = strtoull(s + 2, &e, 10);
		if (errno || e == s + 2 || *e || !vana_ready(&VA) || a >= (unsigned long long)VA.nv)
			return -1;
		*m = VA.v[a].m;
	} else {
		return -1;
	}
	return 1;
}

/* A row's highlight: ,"hl":[[t0,dur,n],...]; the matches counted into *@total. */
static void hl_row(struct buf *b, const struct vmatch *m, int p, uint64_t t0, uint64_t t1, int w,
		   uint64_t *total)
{
	struct vhl *it;
	uint64_t nm;
	long n = vmatch_query(&V.idx, m, p, t0, t1, w, &it, &nm);

	bprintf(b, ",\"hl\":[");
	for (long k = 0; k < n; k++)
		bprintf(b, "%s[%" PRIu64 ",%" PRIu64 ",%" PRIu64 "]", k ? "," : "", it[k].t0,
			it[k].t1 - it[k].t0, it[k].n);
	bprintf(b, "]");
	*total += nm;
	free(it);
}

/* GET /api/verdicts: {"ready":false} until the analysis is done. */
static void api_verdicts(struct buf *b)
{
	if (!vana_ready(&VA)) {
		bprintf(b, "{\"ready\":false}");
		return;
	}
	bprintf(b, "{\"ready\":true,\"error\":");
	if (VA.rc != 0)
		bjson_str(b, VA.err);
	else
		bprintf(b, "null");
	bprintf(b, ",\"verdicts\":[");
	for (int i = 0; i < VA.nv; i++) {
		const struct va_verdict *v = &VA.v[i];
		bprintf(b, "%s{\"kind\":\"%s\",\"text\":", i ? "," : "", v->kind);
		bjson_str(b, v->text);
		if (v->has_range)
			bprintf(b, ",\"range\":[%" PRIu64 ",%" PRIu64 "]", v->r0, v->r1);
		else
			bprintf(b, ",\"range\":null");
		if (v->m.kind == VM_CHAIN)
			bprintf(b, ",\"chain\":{\"runs\":%zu,\"ns\":%" PRIu64 ",\"hops\":%u"
				   ",\"exact\":%s}",
				VA.nchain, VA.chain_ns, VA.chain_hops, VA.chain_exact ? "true" : "false");
		bprintf(b, ",\"hl\":\"v:%d\"}", i);
	}
	bprintf(b, "]}");
}

/* GET /api/blocks: the block profile by call site, most blocked time first. */
static void api_blocks(struct buf *b)
{
	if (!vana_ready(&VA)) {
		bprintf(b, "{\"ready\":false}");
		return;
	}
	bprintf(b, "{\"ready\":true,\"blocks\":[");
	for (size_t i = 0; i < VA.nblocks; i++) {
		const struct va_block *x = &VA.blocks[i];
		bprintf(b, "%s{\"reason\":", i ? "," : "");
		bjson_str(b, weft_tr_block_name(x->reason));
		bprintf(b, ",\"reason_id\":%u,\"site\":%u,\"site_name\":", x->reason, x->site);
		bjson_str(b, site_name(x->site));
		bprintf(b, ",\"waits\":%" PRIu64 ",\"ns\":%" PRIu64 ",\"max_ns\":%" PRIu64
			   ",\"hl\":\"site:%u:%u\"}",
			x->waits, x->ns, x->max_ns, x->reason, x->site);
	}
	bprintf(b, "]}");
}

/* The analysis's endpoints: their status, or 404 for another path. */
static int api_analysis(const char *path, struct buf *b)
{
	if (!strcmp(path, "/api/verdicts")) {
		api_verdicts(b);
		return 200;
	}
	if (!strcmp(path, "/api/blocks")) {
		api_blocks(b);
		return 200;
	}
	return 404;
}

/* The merged items of a level-of-detail answer (runs or syscalls), as
 * [t0, dur, count, busy], comma-separated. */
static void merged_json(struct buf *b, const struct vitem *it, long n)
{
	bool first = true;

	for (long k = 0; k < n; k++) {
		if (it[k].nruns == 1)
			continue;
		bprintf(b, "%s[%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 "]", first ? "" : ",",
			it[k].t0, it[k].t1 - it[k].t0, it[k].nruns, it[k].busy);
		first = false;
	}
}

static int api_procs(const struct http_req *q, struct buf *b)
{
	uint64_t t0, t1, w;

	if (!q_u64(q, "t0", &t0) || !q_u64(q, "t1", &t1) || !q_u64(q, "w", &w) || t1 <= t0 ||
	    w == 0 || w > 100000)
		return 400;
	struct vmatch hlm;
	int hl = hl_parse(q, &hlm);
	uint64_t hl_runs = 0;
	if (hl < 0)
		return 400;
	bprintf(b, "{\"t0\":%" PRIu64 ",\"t1\":%" PRIu64 ",\"w\":%" PRIu64 ",\"rows\":[", t0, t1,
		w);
	for (int p = 0; p < V.idx.np; p++) {
		const struct vproc *vp = &V.idx.ps[p];
		struct vitem *it;
		long n = vindex_query(&V.idx, p, t0, t1, (int)w, &it);
		bool first = true;

		bprintf(b, "%s{\"p\":%d,\"runs\":[", p ? "," : "", p);
		for (long k = 0; k < n; k++) {
			if (it[k].nruns != 1)
				continue;
			const struct vtask *vt = &V.idx.vt[vp->runs[it[k].i].task];
			bprintf(b, "%s[%" PRIu64 ",%" PRIu64 ",%u,%" PRIu64 ",%" PRIu64 "]",
				first ? "" : ",", it[k].t0, it[k].t1 - it[k].t0, vt->fn, vt->id, it[k].i);
			first = false;
		}
		bprintf(b, "],\"blocks\":[");
		merged_json(b, it, n);
		bprintf(b, "],\"stw\":[");
		first = true;
		for (size_t k = 0; k < vp->nstw; k++) {
			if (vp->stw[k].t1 <= t0 || vp->stw[k].t0 >= t1)
				continue;
			bprintf(b, "%s[%" PRIu64 ",%" PRIu64 "]", first ? "" : ",", vp->stw[k].t0,
				vp->stw[k].t1 - vp->stw[k].t0);
			first = false;
		}
		bprintf(b, "]");
		if (hl)
			hl_row(b, &hlm, p, t0, t1, (int)w, &hl_runs);
		bprintf(b, "}");
		free(it);
	}
	bprintf(b, "]");
	if (hl)
		bprintf(b, ",\"hl_runs\":%" PRIu64, hl_runs);
	bprintf(b, "}");
	return 200;
}

static void ref_json(struct buf *b, vref r)
{
	if (!r)
		bprintf(b, "null");
	else
		bprintf(b, "{\"p\":%d,\"i\":%" PRIu64 "}", VREF_P(r), VREF_I(r));
}

static int api_run(const struct http_req *q, struct buf *b)
{
	uint64_t p, i;
	const struct vrun *r;
	const struct vtask *vt;

	if (!q_u64(q, "p", &p) || !q_u64(q, "i", &i))
		return 400;
	if (p >= (uint64_t)V.idx.np || i >= V.idx.ps[p].n)
		return 404;
	r = &V.idx.ps[p].runs[i];
	vt = &V.idx.vt[r->task];
	bprintf(b, "{\"p\":%" PRIu64 ",\"i\":%" PRIu64 ",\"task\":%" PRIu64 ",\"fn\":", p, i, vt->id);
	bjson_str(b, fn_name(vt->fn));
	bprintf(b, ",\"start\":%" PRIu64 ",\"dur\":%" PRIu64 ",\"end\":", r->t0,
		vrun_dur(&V.idx.ps[p], i));
	bjson_str(b, why_name(r->why));
	bprintf(b, ",\"reason\":");
	if (r->why == WHY_BLOCK || r->why == WHY_SYSCALL)
		bjson_str(b, weft_tr_block_name(r->reason));
	else
		bprintf(b, "null");
	bprintf(b, ",\"site\":");
	if (r->site)
		bjson_str(b, site_name(r->site));
	else
		bprintf(b, "null");
	bprintf(b, ",\"created_by\":%" PRIu64 ",\"woken_by\":", vtask_creator_id(V.idx.vt, vt));
	if (r->waker) {
		const struct vrun *w = &V.idx.ps[VREF_P(r->waker)].runs[VREF_I(r->waker)];
		bprintf(b, "{\"task\":%" PRIu64 ",\"p\":%d,\"i\":%" PRIu64 "}",
			V.idx.vt[w->task].id, VREF_P(r->waker), VREF_I(r->waker));
	} else {
		bprintf(b, "null");
	}
	bprintf(b, ",\"prev\":");
	ref_json(b, r->prev);
	bprintf(b, ",\"next\":");
	ref_json(b, r->next);
	bprintf(b, "}");
	return 200;
}

/* A state between or during a task's runs, for /api/task. */
enum { TS_RUNNING, TS_RUNNABLE, TS_BLOCKED, TS_SYSCALL, TS_MAX };
static const char *const ts_name[TS_MAX] = { "running", "runnable", "blocked", "syscall" };

/* The state that follows run @x of a task until its next run. */
static int ts_after(const struct vrun *x)
{
	return x->why == WHY_BLOCK ? TS_BLOCKED : x->why == WHY_SYSCALL ? TS_SYSCALL : TS_RUNNABLE;
}

/* Runs the statements for each state of @vt's life in order, with s0, sd
 * (its start and length), st (TS_*) and rsn (the block reason, or -1). */
#define FOR_TASK_STATES(vt, ...)                                                           \
	do {                                                                               \
		const struct vrun *prev_ = NULL;                                           \
		uint64_t prev_t1_ = 0;                                                     \
		for (vref r_ = (vt)->first; r_;) {                                         \
			const struct vproc *vp_ = &V.idx.ps[VREF_P(r_)];                   \
			const struct vrun *x_ = &vp_->runs[VREF_I(r_)];                    \
			if (prev_) {                                                       \
				uint64_t s0 = prev_t1_;                                    \
				uint64_t sd = x_->t0 > prev_t1_ ? x_->t0 - prev_t1_ : 0;   \
				int st = ts_after(prev_);                                  \
				int rsn = prev_->why == WHY_BLOCK ? prev_->reason : -1;    \
				(void)rsn;                                                 \
				__VA_ARGS__                                                \
			}                                                                  \
			{                                                                  \
				uint64_t s0 = x_->t0, sd = vrun_dur(vp_, VREF_I(r_));      \
				int st = TS_RUNNING, rsn = -1;                             \
				(void)rsn;                                                 \
				__VA_ARGS__                                                \
			}                                                                  \
			prev_ = x_;                                                        \
			prev_t1_ = vrun_t1(vp_, VREF_I(r_));                               \
			r_ = x_->next;                                                     \
		}                                                                          \
	} while (0)

/*
 * One task's life: its runs and the states between them (blocked with the
 * reason, in a syscall, runnable), and the exact time in each (totals). A
 * task with more states than 4 x @w (w= query, default 2000) is answered
 * at the level of detail of a strip @w pixels wide, as the timeline is:
 * per pixel, the time in each state there ([t0 of the pixel, ns, state,
 * null]), "merged": true, and its first 2 x @w runs only ("nruns" says how
 * many there are): a main task that hands out half a million items would
 * otherwise be a 50 MB answer.
 */
static int api_task(const struct http_req *q, struct buf *b)
{
	uint64_t id, w = 2000, nstates = 0, nruns = 0, a = 0, z = 0;
	uint64_t tot[TS_MAX] = { 0 }, blk[WEFT_TRACE_BLOCK_MAX] = { 0 };
	const struct vtask *vt;
	bool merged, first = true;

	if (!q_u64(q, "id", &id))
		return 400;
	if (http_req_query(q, "w", (char[2]){ 0 }, 1) != -1 && (!q_u64(q, "w", &w) || w == 0 || w > 100000))
		return 400;
	if (!(vt = vindex_task(&V.idx, id)))
		return 404;
	FOR_TASK_STATES(vt, {
		if (!nstates)
			a = s0;
		z = s0 + sd;
		nstates++;
		tot[st] += sd;
		if (st == TS_BLOCKED && rsn >= 0 && rsn < WEFT_TRACE_BLOCK_MAX)
			blk[rsn] += sd;
		nruns += st == TS_RUNNING;
	});
	merged = nstates > 4 * w;
	bprintf(b, "{\"id\":%" PRIu64 ",\"fn\":", id);
	bjson_str(b, fn_name(vt->fn));
	bprintf(b, ",\"created_by\":%" PRIu64 ",\"nruns\":%" PRIu64 ",\"merged\":%s,\"totals\":[",
		vtask_creator_id(V.idx.vt, vt), nruns, merged ? "true" : "false");
	for (int k = 0; k < TS_MAX; k++) {
		if (k == TS_BLOCKED) {
			for (int r = 0; r < WEFT_TRACE_BLOCK_MAX; r++) {
				if (!blk[r])
					continue;
				bprintf(b, "%s[\"blocked: %s\",%" PRIu64 "]", first ? "" : ",",
					r ? weft_tr_block_name(r) : "other", blk[r]);
				first = false;
			}
			continue;
		}
		if (!tot[k])
			continue;
		bprintf(b, "%s[\"%s\",%" PRIu64 "]", first ? "" : ",", ts_name[k], tot[k]);
		first = false;
	}
	bprintf(b, "],\"runs\":[");
	first = true;
	uint64_t k = 0;
	for (vref r = vt->first; r && (!merged || k < 2 * w); k++) {
		const struct vproc *vp = &V.idx.ps[VREF_P(r)];
		const struct vrun *x = &vp->runs[VREF_I(r)];
		bprintf(b, "%s[%d,%" PRIu64 ",%" PRIu64 ",%" PRIu64 "]", first ? "" : ",", VREF_P(r),
			VREF_I(r), x->t0, vrun_dur(vp, VREF_I(r)));
		first = false;
		r = x->next;
	}
	bprintf(b, "],\"states\":[");
	first = true;
	if (!merged) {
		FOR_TASK_STATES(vt, {
			bprintf(b, "%s[%" PRIu64 ",%" PRIu64 ",\"%s\",", first ? "" : ",", s0, sd,
				ts_name[st]);
			if (rsn >= 0)
				bjson_str(b, weft_tr_block_name(rsn));
			else
				bprintf(b, "null");
			bprintf(b, "]");
			first = false;
		});
	} else {
		/* Per pixel of [a, z): the time in each state there. */
		uint64_t span = z > a ? z - a : 1, *px = tool_calloc(w * TS_MAX, sizeof(*px));
		FOR_TASK_STATES(vt, {
			uint64_t t = s0, e = s0 + sd;
			while (t < e) {
				uint64_t i = (uint64_t)(((unsigned __int128)(t - a) * w) / span);
				if (i >= w)
					i = w - 1;
				uint64_t pend = a + (uint64_t)(((unsigned __int128)(i + 1) * span + w - 1) / w);
				uint64_t cut = pend < e && pend > t ? pend : e;
				px[i * TS_MAX + st] += cut - t;
				t = cut;
			}
		});
		for (uint64_t i = 0; i < w; i++) {
			uint64_t p0 = a + (uint64_t)(((unsigned __int128)i * span + w - 1) / w);
			for (int st = 0; st < TS_MAX; st++) {
				if (!px[i * TS_MAX + st])
					continue;
				bprintf(b, "%s[%" PRIu64 ",%" PRIu64 ",\"%s\",null]", first ? "" : ",",
					p0, px[i * TS_MAX + st], ts_name[st]);
				first = false;
			}
		}
		free(px);
	}
	bprintf(b, "]}");
	return 200;
}

static int by_exec(const void *a, const void *b)
{
	const struct vfn *x = &V.idx.fns[*(const uint32_t *)a], *y = &V.idx.fns[*(const uint32_t *)b];
	if (x->exec != y->exec)
		return x->exec < y->exec ? 1 : -1;
	return *(const uint32_t *)a < *(const uint32_t *)b ? -1 : 1;
}

/* Per entry function, as weft-trace tasks: by time running, most first. */
static void api_fns(struct buf *b)
{
	uint32_t *order = tool_calloc(V.idx.nfn ? V.idx.nfn : 1, sizeof(*order));
	size_t n = 0;

	for (size_t i = 0; i < V.idx.nfn && i < V.idx.capfns; i++)
		if (V.idx.fns[i].runs || V.idx.fns[i].tasks)
			order[n++] = (uint32_t)i;
	qsort(order, n, sizeof(*order), by_exec);
	bprintf(b, "{\"fns\":[");
	for (size_t k = 0; k < n; k++) {
		const struct vfn *f = &V.idx.fns[order[k]];
		bool first = true;
		bprintf(b, "%s{\"fn\":%u,\"name\":", k ? "," : "", order[k]);
		bjson_str(b, fn_name(order[k]));
		bprintf(b, ",\"tasks\":%" PRIu64 ",\"runs\":%" PRIu64 ",\"exec\":%" PRIu64
			   ",\"wait\":%" PRIu64 ",\"blocked\":{",
			f->tasks, f->runs, f->exec, f->wait);
		for (int r = 0; r < WEFT_TRACE_BLOCK_MAX; r++) {
			if (!f->blocked[r])
				continue;
			if (!first)
				buf_add(b, ",", 1);
			bjson_str(b, r ? weft_tr_block_name(r) : "other");
			bprintf(b, ":%" PRIu64, f->blocked[r]);
			first = false;
		}
		bprintf(b, "}}");
	}
	bprintf(b, "]}");
	free(order);
}

/* ---- the rows besides the Ps (view_rows.h) -------------------------------------- */

/* The window's parameters t0, t1, w: false if absent or bad. */
static bool q_window(const struct http_req *q, uint64_t *t0, uint64_t *t1, uint64_t *w)
{
	return q_u64(q, "t0", t0) && q_u64(q, "t1", t1) && q_u64(q, "w", w) && *t1 > *t0 &&
	       *w > 0 && *w <= 100000;
}

static void api_meta_rows(struct buf *b)
{
	const struct vrows *r = &V.idx.rows;

	bprintf(b, ",\"ms\":%zu,\"utasks\":%zu,\"regions\":%zu,\"logs\":%zu,\"syscalls\":%" PRIu64,
		r->th.n, r->user.nut, r->user.nrg, r->user.nlg, r->th.nsys);
}

/* Per M: the Ps it held and its syscalls, at the level of detail of the runs. */
static int api_threads(const struct http_req *q, struct buf *b)
{
	const struct vthreads *th = &V.idx.rows.th;
	uint64_t t0, t1, w;

	if (!q_window(q, &t0, &t1, &w))
		return 400;
	bprintf(b, "{\"t0\":%" PRIu64 ",\"t1\":%" PRIu64 ",\"w\":%" PRIu64 ",\"rows\":[", t0, t1,
		w);
	for (size_t k = 0; k < th->n; k++) {
		const struct vthread *t = &th->ms[k];
		struct vlod hv = { t->held, sizeof(*t->held), t->hbusy, t->nheld };
		struct vlod sv = { t->sys, sizeof(*t->sys), t->sbusy, t->nsys };
		struct vitem *it;
		long n;
		bool first = true;

		bprintf(b, "%s{\"m\":%" PRId64 ",\"tid\":%" PRIu64 ",\"held\":[", k ? "," : "", t->m,
			t->tid);
		n = vlod_query(&hv, t0, t1, (int)w, &it);
		for (long i = 0; i < n; i++)
			bprintf(b, "%s[%" PRIu64 ",%" PRIu64 ",%d]", i ? "," : "", it[i].t0,
				it[i].t1 - it[i].t0, it[i].nruns == 1 ? t->held[it[i].i].p : -1);
		free(it);
		bprintf(b, "],\"sys\":[");
		n = vlod_query(&sv, t0, t1, (int)w, &it);
		for (long i = 0; i < n; i++) {
			if (it[i].nruns != 1)
				continue;
			const struct vsys *s = &t->sys[it[i].i];
			bprintf(b, "%s[%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%u,%" PRIu64 "]",
				first ? "" : ",", it[i].t0, it[i].t1 - it[i].t0, V.idx.vt[s->task].id,
				s->site, it[i].i);
			first = false;
		}
		bprintf(b, "],\"sysblocks\":[");
		merged_json(b, it, n);
		free(it);
		bprintf(b, "]}");
	}
	bprintf(b, "]}");
	return 200;
}

static int api_syscall(const struct http_req *q, struct buf *b)
{
	const struct vthreads *th = &V.idx.rows.th;
	const struct vthread *t = NULL;
	const struct vtask *vt;
	const struct vsys *s;
	uint64_t m, i;
	char ms[32];

	/* m may be -1 (syscalls on no known M). */
	if (http_req_query(q, "m", ms, sizeof(ms)) <= 0 || !q_u64(q, "i", &i))
		return 400;
	if (!strcmp(ms, "-1")) {
		m = UINT64_MAX;
	} else if (!q_u64(q, "m", &m)) {
		return 400;
	}
	for (size_t k = 0; k < th->n; k++)
		if ((uint64_t)th->ms[k].m == m)
			t = &th->ms[k];
	if (!t || i >= t->nsys)
		return 404;
	s = &t->sys[i];
	vt = &V.idx.vt[s->task];
	bprintf(b, "{\"m\":%" PRId64 ",\"i\":%" PRIu64 ",\"task\":%" PRIu64 ",\"fn\":", t->m, i,
		vt->id);
	bjson_str(b, fn_name(vt->fn));
	bprintf(b, ",\"site\":");
	bjson_str(b, site_name(s->site));
	bprintf(b, ",\"start\":%" PRIu64 ",\"dur\":%" PRIu64 ",\"handoff\":%s}", s->t0,
		vsys_dur(t, i), s->handoff ? "true" : "false");
	return 200;
}

/* Pixel k of w in [t0, t1): [t0 + k(t1 - t0)/w, t0 + (k + 1)(t1 - t0)/w). */
static uint64_t pixel_at(uint64_t t0, uint64_t t1, uint64_t w, uint64_t k)
{
	return t0 + (uint64_t)((unsigned __int128)(t1 - t0) * k / w);
}

static int api_counters(const struct http_req *q, struct buf *b)
{
	const struct vcounters *c = &V.idx.rows.ctr;
	uint64_t t0, t1, w;

	if (!q_window(q, &t0, &t1, &w))
		return 400;
	bprintf(b, "{\"t0\":%" PRIu64 ",\"t1\":%" PRIu64 ",\"w\":%" PRIu64 ",\"res\":%" PRIu64
		   ",\"counters\":[",
		t0, t1, w, c->res);
	for (int k = 0; k < VC_N; k++) {
		uint64_t *mn = tool_calloc(w, sizeof(*mn)), *mx = tool_calloc(w, sizeof(*mx));
		double *mean = tool_calloc(w, sizeof(*mean));
		bool *ok = tool_calloc(w, sizeof(*ok));

		for (uint64_t x = 0; x < w; x++)
			ok[x] = vc_pixel(c, k, pixel_at(t0, t1, w, x), pixel_at(t0, t1, w, x + 1),
					 &mn[x], &mx[x], &mean[x]) == 0;
		bprintf(b, "%s{\"name\":\"%s\",\"max_ever\":%" PRIu64 ",\"min\":[", k ? "," : "",
			vc_name[k], c->max_ever[k]);
		for (uint64_t x = 0; x < w; x++) {
			if (ok[x])
				bprintf(b, "%s%" PRIu64, x ? "," : "", mn[x]);
			else
				bprintf(b, "%snull", x ? "," : "");
		}
		bprintf(b, "],\"max\":[");
		for (uint64_t x = 0; x < w; x++) {
			if (ok[x])
				bprintf(b, "%s%" PRIu64, x ? "," : "", mx[x]);
			else
				bprintf(b, "%snull", x ? "," : "");
		}
		bprintf(b, "],\"mean\":[");
		for (uint64_t x = 0; x < w; x++) {
			if (ok[x])
				bprintf(b, "%s%.6g", x ? "," : "", mean[x]);
			else
				bprintf(b, "%snull", x ? "," : "");
		}
		bprintf(b, "]}");
		free(mn);
		free(mx);
		free(mean);
		free(ok);
	}
	bprintf(b, "]}");
	return 200;
}

static const char *uname(uint32_t k)
{
	const struct vuser *u = &V.idx.rows.user;
	return k == VU_OTHER ? "other" : k < u->nnames ? u->names[k] : "?";
}

static int api_user(const struct http_req *q, struct buf *b)
{
	const struct vuser *u = &V.idx.rows.user;
	uint64_t t0, t1, w;
	struct vuitem *it;
	long n;

	if (!q_window(q, &t0, &t1, &w))
		return 400;
	bprintf(b, "{\"t0\":%" PRIu64 ",\"t1\":%" PRIu64 ",\"w\":%" PRIu64 ",\"rows\":[", t0, t1,
		w);
	for (size_t r = 0; r < u->nrows; r++) {
		bool first = true;

		bprintf(b, "%s{\"kind\":\"%s\",\"type\":", r ? "," : "",
			u->rows[r].kind ? "region" : "utask");
		bjson_str(b, uname(u->rows[r].type));
		bprintf(b, ",\"items\":[");
		n = vu_query(u, r, t0, t1, (int)w, &it);
		for (long k = 0; k < n; k++) {
			if (it[k].n != 1)
				continue;
			bprintf(b, "%s[%" PRIu64 ",%" PRIu64 ",%" PRIu64 "]", first ? "" : ",",
				it[k].t0, it[k].t1 - it[k].t0, it[k].i);
			first = false;
		}
		bprintf(b, "],\"blocks\":[");
		first = true;
		for (long k = 0; k < n; k++) {
			if (it[k].n == 1)
				continue;
			bprintf(b, "%s[%" PRIu64 ",%" PRIu64 ",%" PRIu64 "]", first ? "" : ",",
				it[k].t0, it[k].t1 - it[k].t0, it[k].n);
			first = false;
		}
		free(it);
		bprintf(b, "]}");
	}
	bprintf(b, "],\"logs\":{\"items\":[");
	n = vu_logs(u, t0, t1, (int)w, &it);
	bool first = true;
	for (long k = 0; k < n; k++) {
		if (it[k].n != 1)
			continue;
		bprintf(b, "%s[%" PRIu64 ",%" PRIu64 "]", first ? "" : ",", it[k].t0, it[k].i);
		first = false;
	}
	bprintf(b, "],\"blocks\":[");
	first = true;
	for (long k = 0; k < n; k++) {
		if (it[k].n == 1)
			continue;
		bprintf(b, "%s[%" PRIu64 ",%" PRIu64 ",%" PRIu64 "]", first ? "" : ",", it[k].t0,
			it[k].t1 - it[k].t0, it[k].n);
		first = false;
	}
	free(it);
	bprintf(b, "]}}");
	return 200;
}

/* The task of an annotation by id: its entry function's name. */
static const char *task_fn(uint64_t id)
{
	const struct vtask *vt = vindex_task(&V.idx, id);
	return vt ? fn_name(vt->fn) : "?";
}

static int api_user_item(const struct http_req *q, struct buf *b)
{
	const struct vuser *u = &V.idx.rows.user;
	char kind[16];
	uint64_t i;

	if (http_req_query(q, "kind", kind, sizeof(kind)) <= 0 || !q_u64(q, "i", &i))
		return 400;
	if (!strcmp(kind, "utask")) {
		if (i >= u->nut)
			return 404;
		const struct vutask *x = &u->ut[i];
		bprintf(b, "{\"kind\":\"utask\",\"id\":%" PRIu64 ",\"type\":", x->id);
		bjson_str(b, uname(x->type));
		bprintf(b, ",\"parent\":%" PRIu64 ",\"task\":%" PRIu64 ",\"start\":%" PRIu64
			   ",\"dur\":",
			x->parent, x->task, x->t0);
		if (x->t1 == VU_OPEN)
			bprintf(b, "null}");
		else
			bprintf(b, "%" PRIu64 "}", x->t1 - x->t0);
	} else if (!strcmp(kind, "region")) {
		if (i >= u->nrg)
			return 404;
		const struct vregion *x = &u->rg[i];
		uint64_t t1 = x->t1 == VU_OPEN ? V.idx.duration : x->t1;
		bprintf(b, "{\"kind\":\"region\",\"type\":");
		bjson_str(b, uname(x->type));
		bprintf(b, ",\"task\":%" PRIu64 ",\"fn\":", x->task);
		bjson_str(b, task_fn(x->task));
		bprintf(b, ",\"utask\":%" PRIu64 ",\"start\":%" PRIu64 ",\"dur\":%" PRIu64
			   ",\"depth\":%u}",
			x->utask, x->t0, t1 > x->t0 ? t1 - x->t0 : 0, x->depth);
	} else if (!strcmp(kind, "log")) {
		if (i >= u->nlg)
			return 404;
		const struct vlog *x = &u->lg[i];
		bprintf(b, "{\"kind\":\"log\",\"t\":%" PRIu64 ",\"task\":%" PRIu64 ",\"fn\":", x->t,
			x->task);
		bjson_str(b, task_fn(x->task));
		bprintf(b, ",\"utask\":%" PRIu64 ",\"category\":", x->utask);
		bjson_str(b, uname(x->cat));
		bprintf(b, ",\"message\":");
		bjson_str(b, u->arena + x->msg);
		bprintf(b, "}");
	} else {
		return 400;
	}
	return 200;
}

/* The routes of the rows besides the Ps: true if @path is one of them. */
static bool api_rows(const char *path, const struct http_req *q, struct buf *b, int *status)
{
	if (!strcmp(path, "/api/threads"))
		*status = api_threads(q, b);
	else if (!strcmp(path, "/api/syscall"))
		*status = api_syscall(q, b);
	else if (!strcmp(path, "/api/counters"))
		*status = api_counters(q, b);
	else if (!strcmp(path, "/api/user"))
		*status = api_user(q, b);
	else if (!strcmp(path, "/api/user/item"))
		*status = api_user_item(q, b);
	else
		return false;
	return true;
}

/* ---- static files --------------------------------------------------------------- */

static const char *file_type(const char *name)
{
	const char *dot = strrchr(name, '.');

	if (!dot)
		return NULL;
	if (!strcmp(dot, ".html"))
		return "text/html; charset=utf-8";
	if (!strcmp(dot, ".js"))
		return "text/javascript; charset=utf-8";
	if (!strcmp(dot, ".css"))
		return "text/css; charset=utf-8";
	if (!strcmp(dot, ".svg"))
		return "image/svg+xml";
	if (!strcmp(dot, ".png"))
		return "image/png";
	return NULL;
}

/* A flat name of the page's files: letters, digits, '-', '_', one '.'. */
static bool safe_name(const char *s, size_t n)
{
	int dots = 0;

	if (n == 0 || n > 64 || s[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '.')
			dots++;
		else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			   c == '-' || c == '_'))
			return false;
	}
	return dots == 1;
}

static int serve_file(int fd, const char *name, bool close, bool head)
{
	char path[4096];
	struct buf b = { 0 };
	const char *type = file_type(name);
	FILE *f;
	int err;

	if (!type)
		return send_error(fd, 404, "no such page", close);
	snprintf(path, sizeof(path), "%s/%s", V.dir, name);
	if (!(f = fopen(path, "rbe")))
		return send_error(fd, 404, "no such page", close);
	for (;;) {
		buf_reserve(&b, 65536);
		size_t n = fread(b.p + b.len, 1, b.cap - b.len, f);
		if (n == 0)
			break;
		b.len += n;
	}
	fclose(f);
	err = send_resp(fd, 200, type, &b, close, head, NULL);
	free(b.p);
	return err;
}

/*
 * The page: index.html with /api/meta's answer in place of its marker, as
 * <script type="application/json" id="weft-meta">, so that the page's
 * script starts without a request (a '<' in it is written \u003c, so no
 * name in it can end the element). Serving it also holds the analysis
 * back while the page loads (vana_hold; the first window's answer lets it
 * go on, vana_release).
 */
static int serve_page(int fd, bool close, bool head)
{
	static const char marker[] = "<!--weft:meta-->";
	char path[4096];
	struct buf b = { 0 }, m = { 0 }, out = { 0 };
	const char *at;
	FILE *f;
	int err;

	snprintf(path, sizeof(path), "%s/index.html", V.dir);
	if (!(f = fopen(path, "rbe")))
		return send_error(fd, 404, "no such page", close);
	for (;;) {
		buf_reserve(&b, 65536);
		size_t n = fread(b.p + b.len, 1, b.cap - b.len - 1, f);
		if (n == 0)
			break;
		b.len += n;
	}
	fclose(f);
	buf_reserve(&b, 1);
	b.p[b.len] = 0;
	if (!head)
		vana_hold(&VA, 2000);
	if (!(at = strstr(b.p, marker))) {
		err = send_resp(fd, 200, "text/html; charset=utf-8", &b, close, head, NULL);
		free(b.p);
		return err;
	}
	api_meta(&m);
	buf_add(&out, b.p, (size_t)(at - b.p));
	bprintf(&out, "<script type=\"application/json\" id=\"weft-meta\">");
	for (size_t i = 0; i < m.len; i++) {
		if (m.p[i] == '<')
			buf_add(&out, "\\u003c", 6);
		else
			buf_add(&out, m.p + i, 1);
	}
	bprintf(&out, "</script>");
	at += sizeof(marker) - 1;
	buf_add(&out, at, b.len - (size_t)(at - b.p));
	err = send_resp(fd, 200, "text/html; charset=utf-8", &out, close, head, NULL);
	free(b.p);
	free(m.p);
	free(out.p);
	return err;
}

/* --perfetto: the export, with the header that lets ui.perfetto.dev fetch it. */
static int serve_export(int fd, bool close, bool head)
{
	struct buf b = { 0 };
	FILE *f = fopen(V.pf_file, "rbe");
	int err;

	if (!f)
		return send_error(fd, 500, "the export is gone", close);
	for (;;) {
		buf_reserve(&b, 1 << 20);
		size_t n = fread(b.p + b.len, 1, b.cap - b.len, f);
		if (n == 0)
			break;
		b.len += n;
	}
	fclose(f);
	err = send_resp(fd, 200, "application/octet-stream", &b, close, head,
			"Access-Control-Allow-Origin: https://ui.perfetto.dev\r\n");
	free(b.p);
	return err;
}

/* One request: 0 to go on with the connection, -1 to close it. */
static int serve(int fd, const struct http_req *q)
{
	bool close = !q->keep_alive, head = q->head;
	const char *path = q->path;
	size_t n = q->path_len;
	struct buf b = { 0 };
	int status = 404, err;

	if (q->method != HTTP_GET && !q->head) {
		send_error(fd, 405, "GET or HEAD only", true);
		return -1;
	}
	if (memchr(path, 0, n)) {
		err = send_error(fd, 400, "a NUL byte in the path", close);
		return err < 0 || close ? -1 : 0;
	}
	if (V.perfetto) {
		/* Only the export, to Perfetto's UI (as its open_trace_in_ui does). */
		if (n == 1 + strlen(V.pf_name) && !strcmp(path + 1, V.pf_name))
			err = serve_export(fd, close, head);
		else
			err = send_error(fd, 404, "only the trace is served here", close);
		return err < 0 || close ? -1 : 0;
	}
	if ((n == 1 && path[0] == '/') || (n == 11 && !memcmp(path, "/index.html", 11)))
		err = serve_page(fd, close, head);
	else if (n > 5 && !memcmp(path, "/api/", 5)) {
		int64_t t0 = weft_now();
		char timing[64];

		if (!strcmp(path, "/api/meta")) {
			api_meta(&b);
			status = 200;
		} else if (!strcmp(path, "/api/procs")) {
			status = api_procs(q, &b);
			if (status == 200)
				vana_release(&VA, 300); /* the page draws it, then may analyse */
		} else if (!strcmp(path, "/api/run")) {
			status = api_run(q, &b);
		} else if (!strcmp(path, "/api/task")) {
			status = api_task(q, &b);
		} else if (!strcmp(path, "/api/fns")) {
			api_fns(&b);
			status = 200;
		} else if (api_rows(path, q, &b, &status)) {
			/* the rows besides the Ps: threads, counters, user */
		}
		/* The analysis panel's endpoints (view_analysis.c). */
		if (status == 404)
			status = api_analysis(path, &b);
		/* The time the answer took to build, as the standard header that
		 * browsers' network panels and bench/view.sh read. */
		snprintf(timing, sizeof(timing), "Server-Timing: q;dur=%.3f\r\n",
			 (double)(weft_now() - t0) / 1e6);
		if (status == 200)
			err = send_resp(fd, 200, "application/json", &b, close, head, timing);
		else
			err = send_error(fd, status,
					 status == 400 ? "bad or missing query parameters"
						       : "not found",
					 close);
	} else if (path[0] == '/' && safe_name(path + 1, n - 1)) {
		err = serve_file(fd, path + 1, close, head);
	} else {
		err = send_error(fd, 404, "no such page", close);
	}
	free(b.p);
	return err < 0 || close ? -1 : 0;
}

/* Open connections, so that a shutdown can end them (shutdown(2) wakes
 * their reads with end of file; each task then closes its own fd). */
static struct {
	weft_mutex mu;
	int *fd;
	size_t n, cap;
	bool closing;
	weft_wg wg;
} C = { .mu = WEFT_MUTEX_INIT, .wg = WEFT_WG_INIT };

static bool conn_add(int fd)
{
	bool ok = true;

	weft_mutex_lock(&C.mu);
	if (C.closing) {
		ok = false;
	} else {
		if (C.n == C.cap) {
			C.cap = C.cap ? 2 * C.cap : 64;
			C.fd = tool_realloc(C.fd, C.cap, sizeof(*C.fd));
		}
		C.fd[C.n++] = fd;
	}
	weft_mutex_unlock(&C.mu);
	return ok;
}

static void conn_del(int fd)
{
	weft_mutex_lock(&C.mu);
	for (size_t i = 0; i < C.n; i++)
		if (C.fd[i] == fd) {
			C.fd[i] = C.fd[--C.n];
			break;
		}
	weft_mutex_unlock(&C.mu);
}

static void conn_task(void *arg)
{
	int fd = (int)(intptr_t)arg;
	struct http_req *q = malloc(sizeof(*q)); /* 16 KB: not on the task's stack */
	char buf[8192];

	if (!q || !conn_add(fd)) {
		free(q);
		weft_close(fd);
		weft_wg_done(&C.wg);
		return;
	}
	http_req_init(q);
	for (;;) {
		/* An idle connection is closed after two minutes. */
		ssize_t n = weft_read(fd, buf, sizeof(buf), weft_now() + 120 * 1000000000LL);
		size_t off = 0;

		if (n <= 0)
			break;
		while (off < (size_t)n) {
			size_t used;
			enum http_req_state st = http_req_feed(q, buf + off, (size_t)n - off, &used);

			off += used;
			if (st == HTTP_REQ_MORE)
				break;
			if (st == HTTP_REQ_BAD) {
				send_error(fd, q->status, q->error, true);
				goto out;
			}
			if (serve(fd, q) < 0)
				goto out;
		}
	}
out:
	free(q);
	conn_del(fd);
	weft_close(fd);
	weft_wg_done(&C.wg);
}

static void signal_task(void *arg)
{
	struct signalfd_siginfo si;
	ssize_t n;

	(void)arg;
	do
		n = weft_read(V.sfd, &si, sizeof(si), -1);
	while (n == -EINTR || n == -EAGAIN);
	weft_close(V.lfd);
}

/* Is @addr's host a loopback address (or empty: weft_net_listen's 127.0.0.1)? */
static bool loopback(const char *addr)
{
	char host[256];
	const char *colon = strrchr(addr, ':');
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	bool all = true;
	size_t n;

	if (!strncmp(addr, "unix:", 5))
		return true;
	if (!colon)
		return false;
	n = (size_t)(colon - addr);
	if (n >= sizeof(host))
		return false;
	memcpy(host, addr, n);
	host[n] = 0;
	if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
		memmove(host, host + 1, n - 2);
		host[n - 2] = 0;
	}
	if (!host[0])
		return true;
	if (getaddrinfo(host, NULL, &hints, &res) != 0)
		return false;
	for (ai = res; ai; ai = ai->ai_next) {
		if (ai->ai_family == AF_INET) {
			uint32_t a = ntohl(((struct sockaddr_in *)ai->ai_addr)->sin_addr.s_addr);
			all = all && (a >> 24) == 127;
		} else if (ai->ai_family == AF_INET6) {
			all = all && IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr);
		} else {
			all = false;
		}
	}
	freeaddrinfo(res);
	return all;
}

static void main_task(void *arg)
{
	char addr[256];

	(void)arg;
	V.lfd = weft_net_listen(V.addr, 0);
	if (V.lfd < 0) {
		tool_err("view", "listen %s: %s", V.addr, weft_strerror(V.lfd));
		exit(TOOL_EXIT_BAD);
	}
	if (weft_net_addr(V.lfd, addr, sizeof(addr)) < 0)
		snprintf(addr, sizeof(addr), "%s", V.addr);
	snprintf(V.url, sizeof(V.url), "http://%s/", addr);
	if (V.perfetto) {
		snprintf(V.url, sizeof(V.url), "https://ui.perfetto.dev/#!/?url=http://%s/%s", addr,
			 V.pf_name);
		printf("weft-trace view: serving the Perfetto export of %s; open %s\n", V.path,
		       V.url);
	} else {
		printf("weft-trace view: %" PRIu64 " events, %" PRIu64 " runs on %d Ps; serving %s\n",
		       V.idx.nevents, V.idx.nruns, V.idx.np, V.url);
	}
	fflush(stdout);
	if (V.open) {
		pid_t pid = fork();
		if (pid == 0) {
			execlp("xdg-open", "xdg-open", V.url, (char *)NULL);
			_exit(127);
		}
	}
	if (V.sfd >= 0)
		weft_go(signal_task, NULL);
	for (;;) {
		int fd = weft_net_accept(V.lfd, -1);
		if (fd >= 0) {
			weft_wg_add(&C.wg, 1);
			if (weft_go(conn_task, (void *)(intptr_t)fd) != 0) {
				weft_close(fd);
				weft_wg_done(&C.wg);
			}
			continue;
		}
		if (fd == -ECANCELED || fd == -EBADF)
			break; /* closed by the signal task */
		if (fd == -EMFILE || fd == -ENFILE || fd == -ENOBUFS || fd == -ENOMEM)
			weft_sleep(10 * 1000000LL); /* out of fds: let connections end */
	}
	/* Shutting down: end every connection and wait for their tasks. */
	weft_mutex_lock(&C.mu);
	C.closing = true;
	for (size_t i = 0; i < C.n; i++)
		shutdown(C.fd[i], SHUT_RDWR);
	weft_mutex_unlock(&C.mu);
	weft_wg_wait(&C.wg);
	free(C.fd);
}

/*
 * The page's directory: $WEFT_VIEW_DIR; then the copy installed beside
 * this binary (BIN/../share/weft/view: an install moved elsewhere, or one
 * made with DESTDIR, serves its own files, not an older copy at the
 * configured prefix); then the configured prefix's; then the source
 * tree's (a build that was never installed).
 */
static const char *page_dir(void)
{
	static char rel[4096];
	const char *env = getenv("WEFT_VIEW_DIR");
	struct stat st;
	char exe[4096], *slash;
	ssize_t n;

	if (env && *env)
		return env;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = 0;
		if ((slash = strrchr(exe, '/'))) {
			*slash = 0;
			if ((size_t)snprintf(rel, sizeof(rel), "%s/../share/%s/view/index.html", exe,
					     PACKAGE) < sizeof(rel) &&
			    stat(rel, &st) == 0) {
				*strrchr(rel, '/') = 0;
				return rel;
			}
		}
	}
#ifdef WEFT_VIEW_DATADIR
	if (stat(WEFT_VIEW_DATADIR "/index.html", &st) == 0)
		return WEFT_VIEW_DATADIR;
#endif
#ifdef WEFT_VIEW_SRCDIR
	if (stat(WEFT_VIEW_SRCDIR "/index.html", &st) == 0)
		return WEFT_VIEW_SRCDIR;
#endif
	return NULL;
}

/* The SIGINT/SIGTERM signalfd, and the server until it closes. */
static int serve_until_signal(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) == 0)
		V.sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	return weft_main(main_task, NULL) == 0 ? 0 : TOOL_EXIT_BAD;
}

/* --perfetto: export into a directory of our own, serve it, remove both. */
static int run_perfetto(void)
{
	const char *tmp = getenv("TMPDIR");
	const char *base = strrchr(V.path, '/');
	char *args[5];
	int r;

	if (!V.addr_given)
		V.addr = "127.0.0.1:9001"; /* the one port Perfetto's UI may fetch from */
	snprintf(V.pf_dir, sizeof(V.pf_dir), "%s/weft-view.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(V.pf_dir)) {
		tool_err("view", "a directory for the export in %s: %s", tmp && *tmp ? tmp : "/tmp",
			 strerror(errno));
		return TOOL_EXIT_BAD;
	}
	snprintf(V.pf_name, sizeof(V.pf_name), "%.100s.pftrace.gz", base ? base + 1 : V.path);
	for (char *c = V.pf_name; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
		      *c == '.' || *c == '-' || *c == '_'))
			*c = '_'; /* a name that needs no escaping in the link */
	snprintf(V.pf_file, sizeof(V.pf_file), "%s/%s", V.pf_dir, V.pf_name);
	args[0] = (char *)"export";
	args[1] = (char *)"-o";
	args[2] = V.pf_file;
	args[3] = (char *)V.path;
	args[4] = NULL;
	optind = 0; /* getopt_long again, from the start */
	r = cmd_export.run(4, args);
	if (r == 0)
		r = serve_until_signal();
	unlink(V.pf_file);
	rmdir(V.pf_dir);
	return r;
}

static int opt(void *ctx, const char *name, const char *value)
{
	(void)ctx;
	if (!strcmp(name, "addr"))
		V.addr = value;
	else if (!strcmp(name, "allow-remote"))
		V.allow_remote = true;
	else if (!strcmp(name, "open"))
		V.open = true;
	else if (!strcmp(name, "perfetto"))
		V.perfetto = true;
	if (!strcmp(name, "addr"))
		V.addr_given = true;
	return 0;
}

static int run(int argc, char **argv)
{
	static const struct tool_opt opts[] = { { "addr", true },
						{ "allow-remote", false },
						{ "open", false },
						{ "perfetto", false },
						{ NULL, false } };
	struct timespec a, b;
	bool json;
	int r;

	if ((r = tool_getopt(&cmd_view, argc, argv, opts, opt, NULL, &V.path, &json)) != 0)
		return r;
	(void)json;
	if (!V.allow_remote && !loopback(V.addr))
		return tool_usage(&cmd_view,
				  "--addr %s is not a loopback address: the page would show this "
				  "program's names and timings to the network (--allow-remote "
				  "allows it)",
				  V.addr);
	if (V.perfetto)
		return run_perfetto();
	if (!(V.dir = page_dir())) {
		tool_err("view", "the page's files are not installed (set WEFT_VIEW_DIR to a "
				 "directory holding index.html)");
		return TOOL_EXIT_BAD;
	}
	clock_gettime(CLOCK_MONOTONIC, &a);
	/* The gaps analysis on a thread of its own, beside the index build. */
	if (vana_start(&VA, V.path) == -1) {
		vana_stop(&VA);
		return TOOL_EXIT_BAD;
	}
	if (vindex_build(&V.idx, V.path) < 0) {
		vana_stop(&VA);
		return TOOL_EXIT_BAD;
	}
	vana_index_ready(&VA, &V.idx);
	clock_gettime(CLOCK_MONOTONIC, &b);
	fprintf(stderr, "weft-trace view: indexed in %.3f s; the page's files from %s\n",
		(double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9, V.dir);
	if (V.idx.partial)
		fprintf(stderr, "weft-trace view: %s (showing what came before)\n", V.idx.err);
	/* SIGINT/SIGTERM end the server through a signalfd read by a task. */
	r = serve_until_signal();
	vana_stop(&VA); /* the thread may still read the index */
	vindex_free(&V.idx);
	return r;
}

const struct tool_cmd cmd_view = { "view", "serve the PROCS timeline page on loopback", help,
				   run };

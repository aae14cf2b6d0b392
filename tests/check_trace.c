/*
 * check_trace.c - Check suite "trace": programs of known shape write a
 * trace, the reader library reads it back, and the events must be exactly
 * the ones the program implies; corrupt and truncated files must be
 * reported with their offset.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <weft/trace.h>

#include "testutil.h"

#define MS 1000000LL

static char path[256];

static void make_path(const char *tag)
{
	snprintf(path, sizeof(path), "%s/weft-check-trace-%s-%d.wt",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", tag, (int)getpid());
}

/* Every event of the file at @p, or fail the case. */
struct evs {
	weft_trace_event *v;
	size_t n, cap;
	int end;              /* what weft_trace_next returned last */
	char err[512];
	weft_trace *t;        /* kept open for name lookups */
};

static void read_all(const char *p, struct evs *e)
{
	weft_trace_event ev;
	int r;

	memset(e, 0, sizeof(*e));
	r = weft_trace_open(p, &e->t, e->err, sizeof(e->err));
	ck_assert_msg(r == 0, "open: %s", e->err);
	while ((r = weft_trace_next(e->t, &ev)) > 0) {
		if (e->n == e->cap) {
			e->cap = e->cap ? 2 * e->cap : 1024;
			e->v = realloc(e->v, e->cap * sizeof(*e->v));
			ck_assert_ptr_nonnull(e->v);
		}
		e->v[e->n++] = ev;
	}
	e->end = r;
	if (r < 0)
		snprintf(e->err, sizeof(e->err), "%s", weft_trace_error(e->t));
}

static void free_all(struct evs *e)
{
	weft_trace_close(e->t);
	free(e->v);
}

static size_t count(const struct evs *e, int type, int argi, uint64_t val)
{
	size_t n = 0;

	for (size_t i = 0; i < e->n; i++)
		if (e->v[i].type == type && (argi < 0 || e->v[i].args[argi] == val))
			n++;
	return n;
}

/* ---- spawns ----------------------------------------------------------------- */

#define NSPAWN 5000
static weft_wg spawned = WEFT_WG_INIT;

static void spawn_child(void *arg)
{
	(void)arg;
	weft_wg_done(&spawned);
}

static uint64_t main_id;

static void main_spawns(void *arg)
{
	(void)arg;
	main_id = weft_self();
	ck_assert_int_eq(weft_trace_start(path), 0);
	ck_assert_int_eq(weft_trace_enabled(), 1);
	ck_assert_int_eq(weft_trace_start(path), -EBUSY);
	weft_wg_add(&spawned, NSPAWN);
	for (int i = 0; i < NSPAWN; i++)
		go_ok(spawn_child, NULL);
	weft_wg_wait(&spawned);
	ck_assert_int_eq(weft_trace_stop(), 0);
	ck_assert_int_eq(weft_trace_enabled(), 0);
	ck_assert_int_eq(weft_trace_stop(), -EINVAL);
}

START_TEST(test_spawns)
{
	struct evs e;
	size_t creates = 0, starts = 0, ends = 0;

	make_path("spawn");
	run_main(_i + 1, main_spawns, NULL);
	read_all(path, &e);
	ck_assert_msg(e.end == 0, "read: %s", e.err);
	for (size_t i = 0; i < e.n; i++) {
		const weft_trace_event *v = &e.v[i];
		if (v->type == WEFT_TEV_TASK_CREATE && v->args[1] == main_id) {
			const char *name = weft_trace_fn_name(e.t, v->args[2]);
			ck_assert_msg(name && strcmp(name, "spawn_child") == 0, "fn name %s",
				      name ? name : "(none)");
			creates++;
			/* Each child starts and ends exactly once, after its create. */
			size_t st = 0, en = 0;
			for (size_t k = i + 1; k < e.n; k++) {
				if (e.v[k].args[0] != v->args[0])
					continue;
				if (e.v[k].type == WEFT_TEV_TASK_START)
					st++;
				else if (e.v[k].type == WEFT_TEV_TASK_END)
					en++;
			}
			if (st != 1 || en != 1)
				ck_abort_msg("task %llu: %zu starts, %zu ends",
					     (unsigned long long)v->args[0], st, en);
			starts += st;
			ends += en;
		}
		if (i > 0 && v->ts < e.v[i - 1].ts)
			ck_abort_msg("event %zu goes back in time", i);
	}
	ck_assert_uint_eq(creates, NSPAWN);
	ck_assert_uint_eq(starts, NSPAWN);
	ck_assert_uint_eq(ends, NSPAWN);
	/* The main task was running when the trace started. */
	ck_assert_uint_eq(count(&e, WEFT_TEV_TASK_STATE, 0, main_id), 1);
	free_all(&e);
	unlink(path);
}
END_TEST

/* ---- ping-pong, sleep, select timeout, syscall, stop-the-world ------------------ */

#define K 1000
static weft_chan *ca, *cb;
static weft_wg pong_done = WEFT_WG_INIT;
static uint64_t ponger_id;

static void ponger(void *arg)
{
	long v;

	(void)arg;
	ponger_id = weft_self();
	for (int i = 0; i < K; i++) {
		weft_chan_recv(ca, &v);
		weft_chan_send(cb, &v);
	}
	weft_wg_done(&pong_done);
}

static int pipefd[2];

static void pipe_writer(void *arg)
{
	(void)arg;
	if (write(pipefd[1], "x", 1) != 1)
		ck_abort_msg("pipe write failed");
}

static void main_mix(void *arg)
{
	long v = 0;

	(void)arg;
	main_id = weft_self();
	ca = weft_chan_make(sizeof(long), 0);
	cb = weft_chan_make(sizeof(long), 0);
	weft_wg_add(&pong_done, 1);
	ck_assert_int_eq(weft_trace_start(path), 0);
	go_ok(ponger, NULL);
	for (long i = 0; i < K; i++) {
		weft_chan_send(ca, &i);
		weft_chan_recv(cb, &v);
	}
	weft_wg_wait(&pong_done);
	weft_sleep(1 * MS);
	weft_case cs[1] = { { ca, WEFT_RECV, &v, 0 } };
	ck_assert_int_eq(weft_select(cs, 1, 1 * MS), -ETIMEDOUT);
	/*
	 * A syscall that only a task queued on this P can end: it blocks on a
	 * pipe the task writes to. With one P the task runs only once the
	 * monitor has handed the P off, so the HANDOFF event must be there.
	 */
	ck_assert_int_eq(pipe(pipefd), 0);
	go_ok(pipe_writer, NULL);
	char c;
	weft_syscall_enter();
	ssize_t got = read(pipefd[0], &c, 1);
	weft_syscall_exit();
	ck_assert_int_eq(got, 1);
	close(pipefd[0]);
	close(pipefd[1]);
	int procs = weft_procs();
	ck_assert_int_eq(weft_set_procs(procs), procs);
	ck_assert_int_eq(weft_trace_stop(), 0);
	weft_chan_free(ca);
	weft_chan_free(cb);
}

START_TEST(test_mix)
{
	struct evs e;
	size_t blocks = 0, unblocks = 0;

	make_path("mix");
	run_main(_i + 1, main_mix, NULL);
	read_all(path, &e);
	ck_assert_msg(e.end == 0, "read: %s", e.err);
	/* Every ping-pong round blocks each side once on a channel. */
	for (size_t i = 0; i < e.n; i++) {
		const weft_trace_event *v = &e.v[i];
		bool ours = v->args[0] == main_id || v->args[0] == ponger_id;
		if (v->type == WEFT_TEV_TASK_BLOCK && ours &&
		    (v->args[1] == WEFT_TRACE_BLOCK_CHAN_SEND ||
		     v->args[1] == WEFT_TRACE_BLOCK_CHAN_RECV))
			blocks++;
		if (v->type == WEFT_TEV_TASK_UNBLOCK && ours &&
		    (v->args[1] == main_id || v->args[1] == ponger_id))
			unblocks++;
	}
	/* Each round trip: each side blocks once (the other finds it waiting). */
	ck_assert_msg(blocks >= 2 * K - 2 && blocks <= 2 * K + 2, "%zu channel blocks", blocks);
	ck_assert_msg(unblocks >= 2 * K - 2, "%zu unblocks between the two", unblocks);
	/* The sleep and the select timeout, each blocked then woken by a timer. */
	ck_assert_uint_eq(count(&e, WEFT_TEV_TASK_BLOCK, 1, WEFT_TRACE_BLOCK_SLEEP), 1);
	ck_assert_uint_eq(count(&e, WEFT_TEV_TASK_BLOCK, 1, WEFT_TRACE_BLOCK_SELECT), 1);
	ck_assert_uint_eq(count(&e, WEFT_TEV_SYSCALL_ENTER, 0, main_id), 1);
	ck_assert_uint_eq(count(&e, WEFT_TEV_SYSCALL_EXIT, 0, main_id), 1);
	if (_i == 0) /* at two Ps the other P may run the writer without a handoff */
		ck_assert_uint_ge(count(&e, WEFT_TEV_SYSCALL_HANDOFF, -1, 0), 1);
	ck_assert_uint_eq(count(&e, WEFT_TEV_STW_BEGIN, 0, WEFT_TRACE_STW_SET_PROCS), 1);
	ck_assert_uint_ge(count(&e, WEFT_TEV_STW_END, -1, 0), 2); /* trace start, set_procs */
	free_all(&e);
	unlink(path);
}
END_TEST

/* ---- start and stop mid-run, a blocked task in the snapshot ---------------------- */

static weft_chan *never;
static uint64_t blocked_id;
static weft_wg blocked_started = WEFT_WG_INIT;

static void blocked(void *arg)
{
	int v;

	(void)arg;
	blocked_id = weft_self();
	weft_wg_done(&blocked_started);
	weft_chan_recv(never, &v); /* until main closes it */
}

static void main_restart(void *arg)
{
	char p2[300];

	(void)arg;
	never = weft_chan_make(sizeof(int), 0);
	weft_wg_add(&blocked_started, 1);
	go_ok(blocked, NULL);
	/* One P: the child runs from here until it blocks on the channel (its
	 * wg_done only queues us), so it is blocked when we resume. */
	weft_wg_wait(&blocked_started);
	for (int round = 0; round < 3; round++) {
		snprintf(p2, sizeof(p2), "%s.%d", path, round);
		ck_assert_int_eq(weft_trace_start(p2), 0);
		weft_yield();
		ck_assert_int_eq(weft_trace_stop(), 0);
	}
	weft_chan_close(never);
}

START_TEST(test_restart_snapshot)
{
	char p2[300];

	make_path("restart");
	run_main(1, main_restart, NULL);
	for (int round = 0; round < 3; round++) {
		struct evs e;
		bool seen = false;

		snprintf(p2, sizeof(p2), "%s.%d", path, round);
		read_all(p2, &e);
		ck_assert_msg(e.end == 0, "read: %s", e.err);
		for (size_t i = 0; i < e.n; i++)
			if (e.v[i].type == WEFT_TEV_TASK_STATE && e.v[i].args[0] == blocked_id) {
				ck_assert_int_eq(e.v[i].args[1], WEFT_TRACE_STATE_BLOCKED);
				ck_assert_int_eq(e.v[i].args[2], WEFT_TRACE_BLOCK_CHAN_RECV);
				const char *name = weft_trace_fn_name(e.t, e.v[i].args[3]);
				ck_assert_msg(name && strcmp(name, "blocked") == 0, "name %s",
					      name ? name : "(none)");
				seen = true;
			}
		ck_assert_msg(seen, "round %d: no snapshot of the blocked task", round);
		free_all(&e);
		unlink(p2);
	}
}
END_TEST

/* ---- WEFT_TRACE and bad files ------------------------------------------------------ */

static void main_small(void *arg)
{
	(void)arg;
	weft_wg_add(&spawned, 100);
	for (int i = 0; i < 100; i++)
		go_ok(spawn_child, NULL);
	weft_wg_wait(&spawned);
}

/* A trace of a small program, via the environment, kept at @path. */
static void small_trace(void)
{
	setenv("WEFT_TRACE", path, 1);
	run_main(2, main_small, NULL);
	unsetenv("WEFT_TRACE");
}

START_TEST(test_env)
{
	struct evs e;

	make_path("env");
	small_trace();
	read_all(path, &e);
	ck_assert_msg(e.end == 0, "read: %s", e.err);
	ck_assert_uint_ge(count(&e, WEFT_TEV_TASK_CREATE, -1, 0), 101); /* main + 100 */
	ck_assert_uint_ge(count(&e, WEFT_TEV_TASK_END, -1, 0), 101);
	free_all(&e);
	unlink(path);
}
END_TEST

static void *slurp(const char *p, size_t *n)
{
	struct stat st;
	int fd = open(p, O_RDONLY);
	char *buf;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	buf = malloc((size_t)st.st_size);
	ck_assert_int_eq(read(fd, buf, (size_t)st.st_size), st.st_size);
	close(fd);
	*n = (size_t)st.st_size;
	return buf;
}

static void spit(const char *p, const void *buf, size_t n)
{
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, buf, n), (ssize_t)n);
	close(fd);
}

/* Open and read everything; return the error text (empty if none). */
static int try_read(const char *p, char *msg, size_t len)
{
	weft_trace *t;
	weft_trace_event ev;
	int r = weft_trace_open(p, &t, msg, len);

	if (r < 0)
		return r;
	while ((r = weft_trace_next(t, &ev)) > 0)
		;
	snprintf(msg, len, "%s", r < 0 ? weft_trace_error(t) : "");
	weft_trace_close(t);
	return r;
}

START_TEST(test_bad_files)
{
	char bad[300], msg[512];
	size_t n;
	uint8_t *buf;

	make_path("bad");
	small_trace();
	buf = slurp(path, &n);
	snprintf(bad, sizeof(bad), "%s.bad", path);

	/* Not a trace at all. */
	spit(bad, "hello, world, this is not a trace file at all.................."
		  "..........", 74);
	ck_assert_int_eq(try_read(bad, msg, sizeof(msg)), -EPROTO);
	ck_assert_msg(strstr(msg, "offset 0: not a weft trace"), "%s", msg);

	/* A version from the future. */
	uint8_t version = buf[8];
	buf[8] = 99;
	spit(bad, buf, n);
	ck_assert_int_eq(try_read(bad, msg, sizeof(msg)), -EPROTO);
	ck_assert_msg(strstr(msg, "offset 8: trace format version 99"), "%s", msg);
	buf[8] = version;

	/* A flipped byte inside the first chunk's payload: zstd's checksum. */
	buf[64 + 48 + 10] ^= 0x55;
	spit(bad, buf, n);
	ck_assert_int_eq(try_read(bad, msg, sizeof(msg)), -EPROTO);
	ck_assert_msg(strstr(msg, "offset 64:"), "%s", msg);
	buf[64 + 48 + 10] ^= 0x55;

	/* A chunk header claiming a huge payload. */
	buf[64 + 36 + 3] = 0x7f;
	spit(bad, buf, n);
	ck_assert_int_eq(try_read(bad, msg, sizeof(msg)), -EPROTO);
	ck_assert_msg(strstr(msg, "offset 64: chunk sizes out of bounds"), "%s", msg);
	buf[64 + 36 + 3] = 0;

	/* Cut short: the complete chunks are read, then where it ends. */
	spit(bad, buf, n - 5);
	ck_assert_int_eq(try_read(bad, msg, sizeof(msg)), -EPIPE);
	ck_assert_msg(strstr(msg, "ends inside a chunk"), "%s", msg);

	/* Every truncation point gives an error or a clean read, never a crash. */
	for (size_t cut = 0; cut < n; cut += 1 + cut / 16) {
		spit(bad, buf, cut);
		int r = try_read(bad, msg, sizeof(msg));
		if (r != 0 && r != -EPROTO && r != -EPIPE)
			ck_abort_msg("cut at %zu: %d %s", cut, r, msg);
	}
	free(buf);
	unlink(bad);
	unlink(path);
}
END_TEST

static Suite *trace_suite(void)
{
	Suite *s = suite_create("trace");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_spawns, 0, 2);
	tcase_add_loop_test(tc, test_mix, 0, 2);
	tcase_add_test(tc, test_restart_snapshot);
	tcase_add_test(tc, test_env);
	tcase_add_test(tc, test_bad_files);
	suite_add_tcase(s, tc);
	return s;
}

WEFT_CHECK_MAIN(trace_suite)

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
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
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
	weft_tr_event *v;
	size_t n, cap;
	int end;              /* what weft_tr_next returned last */
	char err[512];
	weft_tr *t;        /* kept open for name lookups */
};

static void read_all(const char *p, struct evs *e)
{
	weft_tr_event ev;
	int r;

	memset(e, 0, sizeof(*e));
	r = weft_tr_open(p, &e->t, e->err, sizeof(e->err));
	ck_assert_msg(r == 0, "open: %s", e->err);
	while ((r = weft_tr_next(e->t, &ev)) > 0) {
		if (e->n == e->cap) {
			e->cap = e->cap ? 2 * e->cap : 1024;
			e->v = realloc(e->v, e->cap * sizeof(*e->v));
			ck_assert_ptr_nonnull(e->v);
		}
		/* The strings live until the next call: keep copies. */
		for (int i = 0; i < 2; i++)
			if (ev.str[i])
				ck_assert_ptr_nonnull(ev.str[i] = strdup(ev.str[i]));
		e->v[e->n++] = ev;
	}
	e->end = r;
	if (r < 0)
		snprintf(e->err, sizeof(e->err), "%s", weft_tr_error(e->t));
}

static void free_all(struct evs *e)
{
	for (size_t i = 0; i < e->n; i++)
		for (int k = 0; k < 2; k++)
			free((char *)e->v[i].str[k]);
	weft_tr_close(e->t);
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

static void spawn_child_of(void *arg)
{
	weft_wg_done(arg);
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
		const weft_tr_event *v = &e.v[i];
		if (v->type == WEFT_TEV_TASK_CREATE && v->args[1] == main_id) {
			const char *name = weft_tr_fn_name(e.t, v->args[2]);
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
		const weft_tr_event *v = &e.v[i];
		bool ours = v->args[0] == main_id || v->args[0] == ponger_id;
		if (v->type == WEFT_TEV_TASK_BLOCK && ours &&
		    (v->args[1] == WEFT_TRACE_BLOCK_CHAN_SEND ||
		     v->args[1] == WEFT_TRACE_BLOCK_CHAN_RECV))
			blocks++;
		if (v->type == WEFT_TEV_TASK_UNBLOCK && ours &&
		    (v->args[1] == main_id || v->args[1] == ponger_id))
			unblocks++;
	}
	/* The ponger blocks in its channel calls: the call site names it. */
	size_t named = 0;
	for (size_t i = 0; i < e.n; i++) {
		const weft_tr_event *v = &e.v[i];
		if (v->type == WEFT_TEV_TASK_BLOCK && v->args[0] == ponger_id &&
		    (v->args[1] == WEFT_TRACE_BLOCK_CHAN_RECV ||
		     v->args[1] == WEFT_TRACE_BLOCK_CHAN_SEND)) {
			const char *site = weft_tr_string(e.t, v->args[3]);
			ck_assert_msg(site && strncmp(site, "ponger+0x", 9) == 0, "site %s",
				      site ? site : "(none)");
			named++;
		}
	}
	ck_assert_uint_ge(named, 1);
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

/* ---- stops of the world that move running tasks ---------------------------------- */

/*
 * A stop of the world preempts a running task at its safepoint, and
 * weft_set_procs() moves its caller to P0 when its own P is retired: both
 * must be in the trace (the reader rejects a task that starts again, or
 * shows up on another P, without having left its P).
 */
#define MOVE_ROUNDS 20
static _Atomic int mv_a, mv_stop, mv_running;
static weft_wg mv_done = WEFT_WG_INIT;
static uint64_t spinner_id;

static void spinner(void *arg)
{
	(void)arg;
	spinner_id = weft_self();
	while (!atomic_load(&mv_stop)) {
		atomic_store(&mv_running, 1);
		weft_safepoint();
	}
	weft_wg_done(&mv_done);
}

/* Runs while main spins on P0, so on P1, and shrinks to one P. */
static void mover(void *arg)
{
	(void)arg;
	atomic_store(&mv_a, 1);
	ck_assert_int_ge(weft_set_procs(1), 1);
	weft_wg_done(&mv_done);
}

static void main_moves(void *arg)
{
	(void)arg;
	ck_assert_int_eq(weft_trace_start(path), 0);
	weft_wg_add(&mv_done, 1);
	go_ok(spinner, NULL);
	/* Each stop finds the spinner running on the other P (or it left its
	 * P since it last ran, preempted by the monitor): a YIELD each time. */
	for (int i = 0; i < 3; i++) {
		atomic_store(&mv_running, 0);
		while (!atomic_load(&mv_running))
			weft_safepoint();
		weft_stop_the_world(NULL);
		weft_start_the_world();
	}
	atomic_store(&mv_stop, 1);
	weft_wg_wait(&mv_done);
	for (int round = 0; round < MOVE_ROUNDS; round++) {
		ck_assert_int_ge(weft_set_procs(2), 1);
		atomic_store(&mv_a, 0);
		weft_wg_add(&mv_done, 1);
		go_ok(mover, NULL);
		while (!atomic_load(&mv_a))
			weft_safepoint();
		weft_wg_wait(&mv_done);
	}
	ck_assert_int_eq(weft_trace_stop(), 0);
}

START_TEST(test_stw_moves)
{
	struct evs e;
	size_t in_stw = 0, moved = 0;

	make_path("moves");
	run_main(2, main_moves, NULL);
	read_all(path, &e);
	ck_assert_msg(e.end == 0, "read: %s", e.err);
	ck_assert_uint_ge(count(&e, WEFT_TEV_TASK_YIELD, 0, spinner_id), 3);
	/* A START inside a stop of the world is a set_procs caller moved to
	 * P0, right after its YIELD on the retired P. */
	for (size_t i = 0; i < e.n; i++) {
		const weft_tr_event *v = &e.v[i];
		if (v->type == WEFT_TEV_STW_BEGIN)
			in_stw = 1;
		else if (v->type == WEFT_TEV_STW_END)
			in_stw = 0;
		else if (in_stw && v->type == WEFT_TEV_TASK_START) {
			ck_assert_int_eq(v->p, 0);
			size_t j = i;
			while (j-- > 0 && e.v[j].args[0] != v->args[0])
				;
			ck_assert_msg(j < i && e.v[j].type == WEFT_TEV_TASK_YIELD && e.v[j].p >= 1,
				      "task %llu started in a stop without leaving another P",
				      (unsigned long long)v->args[0]);
			moved++;
		}
	}
	ck_assert_msg(moved >= 1, "no set_procs caller on P1 in %d rounds", MOVE_ROUNDS);
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
				const char *name = weft_tr_fn_name(e.t, e.v[i].args[3]);
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

/* ---- stopping while the other Ps keep emitting ------------------------------------ */

/*
 * weft_trace_stop() does not stop the world: it waits for a grace period
 * while everyone else runs on. Here, while it waits, other tasks bounce
 * values over channels, spawn, log, enter syscalls, poll weft_safepoint()
 * and stop the world themselves; each of several traces started and
 * stopped among them must read back complete and consistent (the reader
 * checks every task's state machine and the causal order across
 * streams), and record no stop of the world for the stop itself.
 */
#define BUSY_ROUNDS 6
#define BUSY_PAIRS 2
#define BUSY_STEPS 3000 /* ping-pong round trips per trace, at least */

static _Atomic int busy_quit;
static _Atomic unsigned long busy_steps;
static weft_wg busy_done = WEFT_WG_INIT;
static weft_chan *busy_ping[BUSY_PAIRS], *busy_pong[BUSY_PAIRS];

static void busy_ponger(void *arg)
{
	long i = (long)(intptr_t)arg, v;

	for (;;) {
		if (weft_chan_recv(busy_ping[i], &v) != 0)
			ck_abort_msg("ponger recv");
		if (v < 0)
			break;
		weft_chan_send(busy_pong[i], &v);
	}
	weft_wg_done(&busy_done);
}

static void busy_pinger(void *arg)
{
	long i = (long)(intptr_t)arg, v, stop = -1;

	for (v = 0; !atomic_load(&busy_quit); v++) {
		long w;
		weft_chan_send(busy_ping[i], &v);
		weft_chan_recv(busy_pong[i], &w);
		if (w != v)
			ck_abort_msg("pong %ld for ping %ld", w, v);
		atomic_fetch_add(&busy_steps, 1);
	}
	weft_chan_send(busy_ping[i], &stop);
	weft_wg_done(&busy_done);
}

static void busy_spawner(void *arg)
{
	weft_wg wg = WEFT_WG_INIT;

	(void)arg;
	while (!atomic_load(&busy_quit)) {
		weft_wg_add(&wg, 64);
		for (int i = 0; i < 64; i++)
			go_ok(spawn_child_of, &wg);
		weft_trace_log("busy", "spawned %d", 64);
		weft_wg_wait(&wg);
	}
	weft_wg_done(&busy_done);
}

static void busy_syscaller(void *arg)
{
	(void)arg;
	while (!atomic_load(&busy_quit)) {
		weft_syscall_enter();
		(void)getppid();
		weft_syscall_exit();
		weft_yield();
	}
	weft_wg_done(&busy_done);
}

static void busy_stopper(void *arg)
{
	(void)arg;
	while (!atomic_load(&busy_quit)) {
		weft_stop_the_world(NULL);
		weft_start_the_world();
		for (int i = 0; i < 20 && !atomic_load(&busy_quit); i++)
			weft_yield();
	}
	weft_wg_done(&busy_done);
}

static void busy_poller(void *arg)
{
	(void)arg;
	while (!atomic_load(&busy_quit))
		weft_safepoint(); /* no yield, no block: only the safepoint */
	weft_wg_done(&busy_done);
}

static void main_busy(void *arg)
{
	char p2[300];

	(void)arg;
	atomic_store(&busy_quit, 0);
	for (int i = 0; i < BUSY_PAIRS; i++) {
		busy_ping[i] = weft_chan_make(sizeof(long), 0);
		busy_pong[i] = weft_chan_make(sizeof(long), 0);
	}
	weft_wg_add(&busy_done, 2 * BUSY_PAIRS + 4);
	for (int i = 0; i < BUSY_PAIRS; i++) {
		go_ok(busy_ponger, (void *)(intptr_t)i);
		go_ok(busy_pinger, (void *)(intptr_t)i);
	}
	go_ok(busy_spawner, NULL);
	go_ok(busy_syscaller, NULL);
	go_ok(busy_stopper, NULL);
	go_ok(busy_poller, NULL);
	for (int round = 0; round < BUSY_ROUNDS; round++) {
		unsigned long base;

		snprintf(p2, sizeof(p2), "%s.%d", path, round);
		if (weft_trace_start(p2) != 0)
			ck_abort_msg("round %d: trace start failed", round);
		/* Until the others have been busy for a while (no clock). */
		base = atomic_load(&busy_steps);
		while (atomic_load(&busy_steps) - base < BUSY_STEPS)
			weft_yield();
		if (weft_trace_stop() != 0)
			ck_abort_msg("round %d: trace stop failed", round);
	}
	atomic_store(&busy_quit, 1);
	weft_wg_wait(&busy_done);
	for (int i = 0; i < BUSY_PAIRS; i++) {
		weft_chan_free(busy_ping[i]);
		weft_chan_free(busy_pong[i]);
	}
}

START_TEST(test_stop_busy)
{
	static const int procs[3] = { 2, 3, 4 };
	char p2[300];

	make_path("busy");
	run_main(procs[_i], main_busy, NULL);
	for (int round = 0; round < BUSY_ROUNDS; round++) {
		struct evs e;
		weft_tr_info info;
		size_t other_ps = 0, pings = 0;

		snprintf(p2, sizeof(p2), "%s.%d", path, round);
		read_all(p2, &e);
		ck_assert_msg(e.end == 0, "round %d: read: %s", round, e.err);
		weft_tr_get_info(e.t, &info);
		ck_assert_int_eq(info.complete, 1);
		ck_assert_int_eq(info.end_reason, WEFT_TRACE_END_STOP);
		for (size_t i = 0; i < e.n; i++) {
			if (e.v[i].p > 0)
				other_ps++;
			if (e.v[i].type == WEFT_TEV_TASK_BLOCK &&
			    (e.v[i].args[1] == WEFT_TRACE_BLOCK_CHAN_SEND ||
			     e.v[i].args[1] == WEFT_TRACE_BLOCK_CHAN_RECV))
				pings++;
		}
		ck_assert_msg(e.n > 0 && info.end_ts >= e.v[e.n - 1].ts,
			      "round %d: the trace ends at %llu ns, before its last event", round,
			      (unsigned long long)info.end_ts);
		ck_assert_uint_ge(other_ps, 1);
		ck_assert_uint_ge(pings, 1);
		/* The start stopped the world (one STW_BEGIN, reason trace); the stop did not. */
		ck_assert_uint_eq(count(&e, WEFT_TEV_STW_BEGIN, 0, WEFT_TRACE_STW_TRACE), 1);
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
	weft_tr *t;
	weft_tr_event ev;
	int r = weft_tr_open(p, &t, msg, len);

	if (r < 0)
		return r;
	while ((r = weft_tr_next(t, &ev)) > 0)
		;
	snprintf(msg, len, "%s", r < 0 ? weft_tr_error(t) : "");
	weft_tr_close(t);
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
	ck_assert_msg(strstr(msg, "ends inside the chunk"), "%s", msg);

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


/* ---- user tasks, regions and logs ---------------------------------------------- */

static uint64_t ann_handle, child_id;
static weft_wg ann_done = WEFT_WG_INIT;

static void ann_child(void *arg)
{
	(void)arg;
	child_id = weft_self();
	weft_trace_log("child", "inherits %s", "the user task");
	weft_wg_done(&ann_done);
}

static void main_annotations(void *arg)
{
	(void)arg;
	main_id = weft_self();
	ck_assert_int_eq(weft_trace_start(path), 0);
	ann_handle = weft_trace_task_begin("request");
	ck_assert_uint_ne(ann_handle, 0);
	weft_trace_region_begin("outer");
	weft_trace_region_begin("inner");
	weft_trace_log("cat", "x=%d", 42);
	weft_wg_add(&ann_done, 1);
	go_ok(ann_child, NULL);
	weft_wg_wait(&ann_done);
	weft_trace_region_end();
	weft_trace_region_end();
	weft_trace_task_end(ann_handle);
	weft_trace_log("cat", "after");
	ck_assert_int_eq(weft_trace_stop(), 0);
}

START_TEST(test_annotations)
{
	struct evs e;
	uint64_t utask;
	size_t rb = 0, re = 0, logs = 0;

	make_path("ann");
	run_main(_i + 1, main_annotations, NULL);
	utask = ann_handle & 0xffffffffu;
	read_all(path, &e);
	ck_assert_msg(e.end == 0, "read: %s", e.err);
	ck_assert_uint_eq(count(&e, WEFT_TEV_UTASK_BEGIN, 0, utask), 1);
	ck_assert_uint_eq(count(&e, WEFT_TEV_UTASK_END, 0, utask), 1);
	for (size_t i = 0; i < e.n; i++) {
		const weft_tr_event *v = &e.v[i];
		switch (v->type) {
		case WEFT_TEV_UTASK_BEGIN:
			ck_assert_uint_eq(v->args[1], 0); /* no parent */
			ck_assert_uint_eq(v->args[2], main_id);
			ck_assert_str_eq(v->str[0], "request");
			break;
		case WEFT_TEV_REGION_BEGIN:
			ck_assert_uint_eq(v->args[0], main_id);
			ck_assert_uint_eq(v->args[1], utask);
			ck_assert_str_eq(v->str[0], rb++ == 0 ? "outer" : "inner");
			break;
		case WEFT_TEV_REGION_END:
			ck_assert_uint_eq(v->args[0], main_id);
			ck_assert_uint_eq(rb, 2); /* both began first */
			re++;
			break;
		case WEFT_TEV_LOG:
			if (logs == 0) {
				ck_assert_uint_eq(v->args[0], main_id);
				ck_assert_uint_eq(v->args[1], utask);
				ck_assert_str_eq(v->str[0], "cat");
				ck_assert_str_eq(v->str[1], "x=42");
				ck_assert_uint_eq(v->strlen[1], 4);
			} else if (logs == 1) {
				ck_assert_uint_eq(v->args[0], child_id);
				ck_assert_uint_eq(v->args[1], utask); /* inherited */
				ck_assert_str_eq(v->str[0], "child");
				ck_assert_str_eq(v->str[1], "inherits the user task");
			} else {
				ck_assert_uint_eq(v->args[1], 0); /* the user task ended */
				ck_assert_str_eq(v->str[1], "after");
			}
			logs++;
			break;
		}
	}
	ck_assert_uint_eq(rb, 2);
	ck_assert_uint_eq(re, 2);
	ck_assert_uint_eq(logs, 3);
	free_all(&e);
	unlink(path);
}
END_TEST

/* ---- a tiny memory cap: the writer stalls, nothing is lost ---------------------- */

#define NTINY 100000

static void main_tiny(void *arg)
{
	(void)arg;
	main_id = weft_self();
	ck_assert_int_eq(weft_trace_start(path), 0);
	weft_wg_add(&spawned, NTINY);
	for (int i = 0; i < NTINY; i++)
		go_ok(spawn_child, NULL);
	weft_wg_wait(&spawned);
	ck_assert_int_eq(weft_trace_stop(), 0);
}

START_TEST(test_tiny_mem)
{
	struct evs e;
	size_t creates = 0;

	make_path("tiny");
	/* The smallest cap (a buffer per P and two spare) and the slowest
	 * compression: the Ps fill buffers far faster than the flusher empties
	 * them, so they must wait for it. */
	setenv("WEFT_TRACE_MAX_MEM", "1", 1);
	setenv("WEFT_TRACE_LEVEL", "19", 1);
	run_main(_i + 1, main_tiny, NULL);
	unsetenv("WEFT_TRACE_MAX_MEM");
	unsetenv("WEFT_TRACE_LEVEL");
	read_all(path, &e);
	ck_assert_msg(e.end == 0, "read: %s", e.err);
#ifndef __SANITIZE_THREAD__
	/* Under TSan the Ps run ~10x slower while zstd (not instrumented)
	 * does not, so the flusher may keep up; the count below still holds. */
	ck_assert_uint_ge(count(&e, WEFT_TEV_STALL, -1, 0), 1);
#endif
	for (size_t i = 0; i < e.n; i++)
		if (e.v[i].type == WEFT_TEV_TASK_CREATE && e.v[i].args[1] == main_id)
			creates++;
	ck_assert_uint_eq(creates, NTINY);
	/* main's children and main itself end; no END is missing. */
	ck_assert_uint_eq(count(&e, WEFT_TEV_TASK_END, -1, 0), NTINY);
	free_all(&e);
	unlink(path);
}
END_TEST

/* ---- killed writers --------------------------------------------------------------- */

extern char **environ;

/* Run tests/progs/tracesig writing to @path, wait for "ready", send @sig;
 * returns the wait status. */
static int kill_tracer(int sig)
{
	const char *dir = getenv("WEFT_TEST_PROGS");
	char prog[4096], buf[16];
	char *argv[3];
	int pfd[2], st;
	pid_t pid;
	posix_spawn_file_actions_t fa;

	ck_assert_msg(dir != NULL, "WEFT_TEST_PROGS is not set (run through make check)");
	snprintf(prog, sizeof(prog), "%s/tracesig", dir);
	argv[0] = prog;
	argv[1] = path;
	argv[2] = NULL;
	ck_assert_int_eq(pipe(pfd), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
	posix_spawn_file_actions_addclose(&fa, pfd[0]);
	ck_assert_int_eq(posix_spawn(&pid, prog, &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	close(pfd[1]);
	ck_assert_int_eq(read(pfd[0], buf, 6), 6); /* "ready\n": a few chunks are out */
	ck_assert_int_eq(kill(pid, sig), 0);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	close(pfd[0]);
	return st;
}

START_TEST(test_sigkill)
{
	struct evs e;
	weft_tr_info info;
	weft_tr_event ev;
	int r;

	make_path("kill");
	int st = kill_tracer(SIGKILL);
	ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	memset(&e, 0, sizeof(e));
	r = weft_tr_open(path, &e.t, e.err, sizeof(e.err));
	ck_assert_msg(r == 0, "open: %s", e.err);
	weft_tr_get_info(e.t, &info);
	ck_assert_int_eq(info.complete, 0); /* the loss is visible */
	ck_assert_int_eq(info.end_reason, WEFT_TRACE_END_NONE);
	size_t n = 0;
	while ((r = weft_tr_next(e.t, &ev)) > 0)
		n++;
	/* Everything up to the last whole chunk, then the cut (if any). */
	ck_assert_msg(r == 0 || r == -EPIPE, "%d %s", r, weft_tr_error(e.t));
	ck_assert_uint_ge(n, 10000);
	weft_tr_close(e.t);
	unlink(path);
}
END_TEST

START_TEST(test_sigint)
{
	static const int sigs[2] = { SIGINT, SIGTERM };
	struct evs e;
	weft_tr_info info;

	make_path("int");
#ifdef __SANITIZE_THREAD__
	/* TSan defers an asynchronous signal until the thread that got it
	 * calls an intercepted function; threads asleep in a raw futex never
	 * do, so the handler may never run. Covered by the other builds. */
	fprintf(stderr, "test_sigint: skipped under ThreadSanitizer (deferred signals)\n");
	return;
#endif
	int st = kill_tracer(sigs[_i]);
	/* It still dies of the signal, after finishing the file. */
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == sigs[_i], "status %#x", st);
	read_all(path, &e);
	ck_assert_msg(e.end == 0, "read: %s", e.err);
	weft_tr_get_info(e.t, &info);
	ck_assert_int_eq(info.complete, 1);
	ck_assert_int_eq(info.end_reason, WEFT_TRACE_END_SIGNAL);
	ck_assert_int_eq(info.end_code, sigs[_i]);
	ck_assert_uint_ge(e.n, 10000);
	ck_assert_uint_ge(count(&e, WEFT_TEV_STW_BEGIN, 0, WEFT_TRACE_STW_TRACE), 1);
	free_all(&e);
	unlink(path);
}
END_TEST

/* ---- programs that die ------------------------------------------------------------ */

/*
 * Run tests/progs/tracedie @mode writing to path at @procs Ps; with @sig,
 * wait for its "ready" and send @sig. Returns the wait status. A child
 * that never ends (a signal that does nothing) fails the case by the
 * Check timeout: that is the hang these cases exist to catch.
 */
static int run_tracedie(const char *mode, int sig, int procs)
{
	const char *dir = getenv("WEFT_TEST_PROGS");
	char prog[4096], buf[16], np[16];
	char *argv[4];
	int pfd[2], st;
	pid_t pid;
	posix_spawn_file_actions_t fa;

	ck_assert_msg(dir != NULL, "WEFT_TEST_PROGS is not set (run through make check)");
	snprintf(prog, sizeof(prog), "%s/tracedie", dir);
	snprintf(np, sizeof(np), "%d", procs);
	setenv("WEFT_PROCS", np, 1);
	argv[0] = prog;
	argv[1] = (char *)mode;
	argv[2] = path;
	argv[3] = NULL;
	ck_assert_int_eq(pipe(pfd), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
	posix_spawn_file_actions_addclose(&fa, pfd[0]);
	ck_assert_int_eq(posix_spawn(&pid, prog, &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	close(pfd[1]);
	unsetenv("WEFT_PROCS");
	if (sig) {
		ck_assert_int_eq(read(pfd[0], buf, 6), 6);
		ck_assert_int_eq(kill(pid, sig), 0);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	close(pfd[0]);
	return st;
}

/* The trace of a tracedie run holds what it recorded before dying: the
 * three children's creates (named) and starts (before their wg_done; a
 * child's END may come after the main task went on to die), and the
 * marker. */
static void check_died(int reason, int code)
{
	bool complete = reason != WEFT_TRACE_END_NONE;
	struct evs e;
	weft_tr_info info;
	uint64_t kids[3];
	size_t creates = 0, starts = 0, marks = 0;

	read_all(path, &e);
	/* A SIGKILL may cut the chunk being written: the ones before it read. */
	ck_assert_msg(e.end == 0 || (!complete && e.end == -EPIPE), "read: %s", e.err);
	weft_tr_get_info(e.t, &info);
	ck_assert_int_eq(info.complete, complete);
	ck_assert_int_eq(info.end_reason, reason);
	ck_assert_int_eq(info.end_code, code);
	for (size_t i = 0; i < e.n; i++) {
		const weft_tr_event *v = &e.v[i];
		if (v->type == WEFT_TEV_TASK_CREATE) {
			const char *name = weft_tr_fn_name(e.t, v->args[2]);
			if (name && strcmp(name, "die_child") == 0 && creates < 3)
				kids[creates++] = v->args[0];
		} else if (v->type == WEFT_TEV_TASK_START) {
			for (size_t k = 0; k < creates; k++)
				starts += v->args[0] == kids[k];
		} else if (v->type == WEFT_TEV_LOG && v->str[1] && strcmp(v->str[1], "marker") == 0) {
			marks++;
		}
	}
	ck_assert_msg(creates == 3, "%zu creates of die_child in %zu events", creates, e.n);
	ck_assert_uint_ge(starts, 3);
	ck_assert_uint_eq(marks, 1);
	free_all(&e);
	unlink(path);
}

/* Deadlock report, weft: fatal, stack overflow, abort(), exit() from a
 * task: at one P and at two. */
static const struct {
	const char *mode;
	int status; /* exit status, or -signal */
	int reason; /* what the trace's header says */
} deaths[] = {
	{ "deadlock", 2, WEFT_TRACE_END_FATAL },   { "fatal", 2, WEFT_TRACE_END_FATAL },
	{ "overflow", 2, WEFT_TRACE_END_FATAL },   { "abort", -SIGABRT, WEFT_TRACE_END_SIGNAL },
	{ "exit", 3, WEFT_TRACE_END_EXIT },
};
#define NDEATHS (int)(sizeof(deaths) / sizeof(deaths[0]))

START_TEST(test_died)
{
	int k = _i % NDEATHS, st;

	make_path("died");
	st = run_tracedie(deaths[k].mode, 0, 1 + _i / NDEATHS);
	if (deaths[k].status >= 0)
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == deaths[k].status,
			      "%s: status %#x", deaths[k].mode, st);
	else
		ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == -deaths[k].status,
			      "%s: status %#x", deaths[k].mode, st);
	check_died(deaths[k].reason, abs(deaths[k].status));
}
END_TEST

/* A task spins with no scheduling point: SIGINT and SIGTERM still end
 * the program, by the signal, with every event recorded before on disk. */
START_TEST(test_sig_spin)
{
	static const int sigs[2] = { SIGINT, SIGTERM };
	int sig = sigs[_i % 2], st;

#ifdef __SANITIZE_THREAD__
	fprintf(stderr, "test_sig_spin: skipped under ThreadSanitizer (deferred signals)\n");
	return;
#endif
	make_path("spin");
	st = run_tracedie("spin", sig, 1 + _i / 2);
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == sig, "status %#x", st);
	check_died(WEFT_TRACE_END_SIGNAL, sig);
}
END_TEST

/* SIGKILL once the periodic flush has written the marker: the events
 * recorded before it are in the file, though no buffer was ever full. */
START_TEST(test_kill_periodic)
{
	int st;

	make_path("periodic");
	st = run_tracedie("killed", SIGKILL, 1 + _i);
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "status %#x", st);
	check_died(WEFT_TRACE_END_NONE, 0);
}
END_TEST

/* ---- WEFT_TRACE and the programs a traced program runs -------------------------- */

/* Run tests/progs/envcheck spawn (a weft program that runs itself as a
 * child and waits) with WEFT_TRACE=@trace; return the two pids. */
static void run_spawner(const char *trace, int *parent, int *child)
{
	const char *dir = getenv("WEFT_TEST_PROGS");
	char prog[4096], out[4096];
	char *argv[3];
	int pfd[2], st;
	pid_t pid;
	size_t len = 0;
	ssize_t n;
	posix_spawn_file_actions_t fa;

	ck_assert_msg(dir != NULL, "WEFT_TEST_PROGS is not set (run through make check)");
	snprintf(prog, sizeof(prog), "%s/envcheck", dir);
	argv[0] = prog;
	argv[1] = (char *)"spawn";
	argv[2] = NULL;
	setenv("WEFT_TRACE", trace, 1);
	ck_assert_int_eq(pipe(pfd), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
	posix_spawn_file_actions_addclose(&fa, pfd[0]);
	ck_assert_int_eq(posix_spawn(&pid, prog, &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	unsetenv("WEFT_TRACE");
	close(pfd[1]);
	while ((n = read(pfd[0], out + len, sizeof(out) - 1 - len)) > 0)
		len += (size_t)n;
	out[len] = 0;
	close(pfd[0]);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "envcheck spawn: status %d:\n%s", st,
		      out);
	const char *l = strstr(out, "parent=");
	ck_assert_msg(l && sscanf(l, "parent=%d child=%d", parent, child) == 2, "output:\n%s", out);
}

/* The trace at @p reads back whole and was written by process @pid. */
static void expect_trace_of(const char *p, int pid)
{
	char err[512];
	weft_tr *t;
	ck_assert_msg(weft_tr_open(p, &t, err, sizeof(err)) == 0, "%s: %s", p, err);
	weft_tr_info info;
	weft_tr_get_info(t, &info);
	weft_tr_close(t);
	ck_assert_msg(info.pid == pid, "%s was written by pid %d, not %d", p, info.pid, pid);
	struct evs e;
	read_all(p, &e);
	ck_assert_msg(e.end == 0, "%s: %s", p, e.err);
	free_all(&e);
}

/* A traced program that runs another weft program: the child used to
 * inherit WEFT_TRACE and write over the parent's file (unreadable, or
 * the child's trace). weft_main takes the variable out of the
 * environment once read; with %p in the path it stays, and each process
 * writes its own file. */
START_TEST(test_env_child)
{
	int parent, child;
	char p2[300], pc[300];

	make_path("envchild");
	run_spawner(path, &parent, &child);
	expect_trace_of(path, parent);
	unlink(path);

	snprintf(p2, sizeof(p2), "%s.%%p", path);
	run_spawner(p2, &parent, &child);
	snprintf(pc, sizeof(pc), "%s.%d", path, parent);
	expect_trace_of(pc, parent);
	unlink(pc);
	snprintf(pc, sizeof(pc), "%s.%d", path, child);
	expect_trace_of(pc, child);
	unlink(pc);
}
END_TEST

/* ---- weft_set_procs and fork while tracing --------------------------------------- */

/*
 * weft_set_procs(256) while tracing under a small WEFT_TRACE_MAX_MEM: the
 * new Ps need a buffer each, with the world stopped, and the cap left
 * none to give (it waited for ever). The trace then reads back whole.
 */
static void main_grow(void *arg)
{
	(void)arg;
	ck_assert_int_eq(weft_trace_start(path), 0);
	ck_assert_int_eq(weft_set_procs(WEFT_MAX_PROCS), 2); /* the previous count */
	weft_yield();
	ck_assert_int_eq(weft_set_procs(2), WEFT_MAX_PROCS);
	ck_assert_int_eq(weft_trace_stop(), 0);
}

START_TEST(test_set_procs_small_mem)
{
	struct evs e;

	make_path("grow");
	setenv("WEFT_TRACE_MAX_MEM", "1M", 1);
	run_main(2, main_grow, NULL);
	unsetenv("WEFT_TRACE_MAX_MEM");
	read_all(path, &e);
	ck_assert_msg(e.end == 0, "read: %s", e.err);
	free_all(&e);
	unlink(path);
}
END_TEST

/*
 * A traced program forks, and the child goes on using weft on its one
 * thread: it has no trace writer (threads do not survive fork), so it
 * used to hang when its buffers filled. The child stops tracing at fork;
 * the parent's trace goes on and reads back whole.
 */
static void fork_child_task(void *arg)
{
	(void)arg;
}

static void main_fork(void *arg)
{
	pid_t pid;
	int st;

	(void)arg;
	ck_assert_int_eq(weft_trace_start(path), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		/* Far more events than the buffers hold (1M of memory). */
		for (int i = 0; i < 300000; i++) {
			if (weft_go(fork_child_task, NULL) != 0)
				_exit(3);
			weft_yield();
		}
		_exit(weft_trace_enabled() ? 4 : 0);
	}
	weft_syscall_enter();
	pid_t w = waitpid(pid, &st, 0);
	weft_syscall_exit();
	ck_assert_int_eq(w, pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the forked child: status %d", st);
	for (int i = 0; i < 1000; i++)
		go_ok(fork_child_task, NULL);
	ck_assert_int_eq(weft_trace_stop(), 0);
}

START_TEST(test_fork_while_tracing)
{
	struct evs e;

	make_path("fork");
	setenv("WEFT_TRACE_MAX_MEM", "1M", 1);
	run_main(1, main_fork, NULL);
	unsetenv("WEFT_TRACE_MAX_MEM");
	read_all(path, &e);
	ck_assert_msg(e.end == 0, "read: %s", e.err);
	ck_assert_uint_ge(count(&e, WEFT_TEV_TASK_CREATE, -1, 0), 1000);
	free_all(&e);
	unlink(path);
}
END_TEST

/* ---- start in one task racing stop in another --------------------------------- */

/*
 * weft_trace_start() in one task and weft_trace_stop() in another, at the
 * same moment, many times: start used to make the session active before
 * its buffers were installed, and a stop that came in between took
 * buffers that did not exist yet (a crash every run). Each pair must end
 * with a start that returned 0 or -EBUSY, a stop that returned 0 or
 * -EINVAL, and, once both are done, a session that stops cleanly.
 */
#define RACE_ROUNDS 200

static _Atomic int race_go;
static int race_start_r, race_stop_r;
static weft_wg race_wg = WEFT_WG_INIT;

static void race_starter(void *arg)
{
	(void)arg;
	while (!atomic_load(&race_go))
		weft_yield();
	race_start_r = weft_trace_start(path);
	weft_wg_done(&race_wg);
}

static void race_stopper(void *arg)
{
	(void)arg;
	while (!atomic_load(&race_go))
		weft_yield();
	race_stop_r = weft_trace_stop();
	weft_wg_done(&race_wg);
}

static void main_race(void *arg)
{
	(void)arg;
	for (int i = 0; i < RACE_ROUNDS; i++) {
		atomic_store(&race_go, 0);
		weft_wg_add(&race_wg, 2);
		go_ok(race_starter, NULL);
		go_ok(race_stopper, NULL);
		weft_yield();
		atomic_store(&race_go, 1);
		weft_wg_wait(&race_wg);
		ck_assert_msg(race_start_r == 0 || race_start_r == -EBUSY, "start: %d", race_start_r);
		ck_assert_msg(race_stop_r == 0 || race_stop_r == -EINVAL, "stop: %d", race_stop_r);
		int r = weft_trace_stop(); /* whatever is left running */
		ck_assert_msg(r == 0 || r == -EINVAL, "final stop: %d", r);
		ck_assert_int_eq(weft_trace_enabled(), 0);
	}
}

/* ---- no file opened while the program runs ------------------------------- */

#define NOFILE_TASKS 200
static weft_wg nofile_wg = WEFT_WG_INIT;

/* Static: only the executable's .symtab names it (dladdr cannot). */
static void nofile_child(void *arg)
{
	(void)arg;
	weft_yield();
	weft_wg_done(&nofile_wg);
}

static void main_nofile(void *arg)
{
	struct rlimit old, rl;
	int fds[64], n = 0;

	(void)arg;
	ck_assert_int_eq(weft_trace_start(path), 0);
	/* Every fd number below a lowered limit taken: an open now fails. */
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
	fds[n] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fds[n], 0);
	rl = old;
	rl.rlim_cur = (rlim_t)fds[n++] + 32;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	while (n < 64 && (fds[n] = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
		n++;
	ck_assert_int_lt(n, 64);
	ck_assert_int_eq(errno, EMFILE);
	weft_wg_add(&nofile_wg, NOFILE_TASKS);
	for (int i = 0; i < NOFILE_TASKS; i++)
		go_ok(nofile_child, NULL);
	weft_wg_wait(&nofile_wg);
	ck_assert_int_eq(weft_trace_stop(), 0);
	while (n > 0)
		close(fds[--n]);
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
}

/*
 * The tracer names functions from the ELF files it opened at
 * weft_trace_start, and opens nothing afterwards: a runtime that opens
 * files on its own threads takes fd numbers the program counts on (a
 * close then dup2 onto the number fails with EBUSY; close(0) then open()
 * no longer gets 0). It used to open the executable on the flusher
 * thread for each new function; with the fd table full, it named
 * nofile_child in hex.
 */
START_TEST(test_no_files_while_running)
{
	struct evs e;
	size_t named = 0;

	make_path("nofile");
	run_main(2, main_nofile, NULL);
	read_all(path, &e);
	ck_assert_msg(e.end == 0, "read: %s", e.err);
	for (size_t i = 0; i < e.n; i++) {
		const char *name;
		if (e.v[i].type != WEFT_TEV_TASK_CREATE)
			continue;
		name = weft_tr_fn_name(e.t, e.v[i].args[2]);
		if (name && strcmp(name, "nofile_child") == 0)
			named++;
	}
	ck_assert_uint_eq(named, NOFILE_TASKS);
	free_all(&e);
	unlink(path);
}
END_TEST

START_TEST(test_start_stop_race)
{
	make_path("race");
	run_main(2, main_race, NULL);
	struct evs e;
	read_all(path, &e); /* the last session's file reads back whole */
	ck_assert_msg(e.end == 0, "read: %s", e.err);
	free_all(&e);
	unlink(path);
}
END_TEST

static Suite *trace_suite(void)
{
	Suite *s = suite_create("trace");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_spawns, 0, 2);
	tcase_add_loop_test(tc, test_mix, 0, 2);
	tcase_add_test(tc, test_stw_moves);
	tcase_add_test(tc, test_restart_snapshot);
	tcase_add_loop_test(tc, test_stop_busy, 0, 3);
	tcase_add_test(tc, test_env);
	tcase_add_test(tc, test_bad_files);
	tcase_add_loop_test(tc, test_annotations, 0, 2);
	tcase_add_loop_test(tc, test_tiny_mem, 0, 2);
	tcase_add_test(tc, test_sigkill);
	tcase_add_loop_test(tc, test_sigint, 0, 2);
	tcase_add_test(tc, test_start_stop_race);
	tcase_add_test(tc, test_no_files_while_running);
	tcase_add_test(tc, test_env_child);
	tcase_add_test(tc, test_set_procs_small_mem);
	tcase_add_test(tc, test_fork_while_tracing);
	suite_add_tcase(s, tc);
	/* Programs that die or hang: a hang is the failure, so a shorter limit. */
	tc = tcase_create("death");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_died, 0, 2 * NDEATHS);
	tcase_add_loop_test(tc, test_sig_spin, 0, 4);
	tcase_add_loop_test(tc, test_kill_periodic, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}

WEFT_CHECK_MAIN(trace_suite)

/*
 * check_sched.c - Check suite "sched": spawning, running, yielding and the
 * life of the runtime.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

/* ---- a million tasks, each run exactly once ---------------------------- */

#define MILLION 1000000

struct many {
	_Atomic unsigned char *ran;
	weft_wg wg;
	_Atomic long next; /* hands each task its index */
};

static struct many many;

static void mark(void *arg)
{
	long i = (long)(intptr_t)arg;

	atomic_fetch_add_explicit(&many.ran[i], 1, memory_order_relaxed);
	weft_wg_done(&many.wg);
}

static void spawn_million(void *arg)
{
	(void)arg;
	weft_wg_add(&many.wg, MILLION);
	for (long i = 0; i < MILLION; i++)
		go_ok(mark, (void *)(intptr_t)i);
	weft_wg_wait(&many.wg);
}

static void check_million(int procs)
{
	many.ran = calloc(MILLION, 1);
	ck_assert_ptr_nonnull(many.ran);
	memset(&many.wg, 0, sizeof(many.wg));
	run_main(procs, spawn_million, NULL);
	for (long i = 0; i < MILLION; i++)
		if (many.ran[i] != 1)
			ck_abort_msg("task %ld ran %d times at WEFT_PROCS=%d", i, (int)many.ran[i],
				     procs);
	free((void *)many.ran);
}

START_TEST(test_million_p1)
{
	check_million(1);
}
END_TEST

START_TEST(test_million_p2)
{
	check_million(2);
}
END_TEST

START_TEST(test_million_p8)
{
	check_million(8);
}
END_TEST

/* ---- nested fork-join: fib(25) with a task per call --------------------- */

struct fib {
	int n;
	long result;
	weft_wg *parent;
};

static _Atomic long fib_calls;

static void fib_task(void *arg)
{
	struct fib *f = arg;

	atomic_fetch_add_explicit(&fib_calls, 1, memory_order_relaxed);
	if (f->n < 2) {
		f->result = f->n;
	} else {
		weft_wg wg = WEFT_WG_INIT;
		struct fib a = { f->n - 1, 0, &wg }, b = { f->n - 2, 0, &wg };
		weft_wg_add(&wg, 2);
		go_ok(fib_task, &a);
		go_ok(fib_task, &b);
		weft_wg_wait(&wg);
		f->result = a.result + b.result;
	}
	if (f->parent)
		weft_wg_done(f->parent);
}

static void fib_main(void *arg)
{
	fib_task(arg);
}

static void check_fib(int procs)
{
	struct fib f = { 25, 0, NULL };

	atomic_store(&fib_calls, 0);
	run_main(procs, fib_main, &f);
	ck_assert_int_eq(f.result, 75025);
	/* calls(n) = 2*fib(n+1) - 1 */
	ck_assert_int_eq(atomic_load(&fib_calls), 2 * 121393 - 1);
}

START_TEST(test_fib_p1)
{
	check_fib(1);
}
END_TEST

START_TEST(test_fib_p2)
{
	check_fib(2);
}
END_TEST

/* ---- yield alternates two tasks on one P ------------------------------- */

#define ROUNDS 1000

struct alt {
	char log[2 * ROUNDS + 1];
	_Atomic int len;
	weft_wg wg;
};

static struct alt alt;

static void alternate(void *arg)
{
	char me = (char)(intptr_t)arg;

	for (int i = 0; i < ROUNDS; i++) {
		alt.log[atomic_fetch_add(&alt.len, 1)] = me;
		weft_yield();
	}
	weft_wg_done(&alt.wg);
}

static void alt_main(void *arg)
{
	(void)arg;
	weft_wg_add(&alt.wg, 2);
	go_ok(alternate, (void *)(intptr_t)'A');
	go_ok(alternate, (void *)(intptr_t)'B');
	weft_wg_wait(&alt.wg);
}

START_TEST(test_yield_alternates)
{
	memset(&alt, 0, sizeof(alt));
	run_main(1, alt_main, NULL);
	ck_assert_int_eq(alt.len, 2 * ROUNDS);
	for (int i = 1; i < 2 * ROUNDS; i++)
		if (alt.log[i] == alt.log[i - 1])
			ck_abort_msg(
				     "no alternation at step %d: ...%.8s...", i,
				     &alt.log[i > 4 ? i - 4 : 0]);
}
END_TEST

/* weft_yield with nothing else runnable returns at once, and outside a task too. */
static void yield_alone(void *arg)
{
	int *n = arg;
	for (int i = 0; i < 1000; i++)
		weft_yield();
	*n = 1;
}

START_TEST(test_yield_alone)
{
	int n = 0;

	weft_yield(); /* plain thread: sched_yield */
	run_main(2, yield_alone, &n);
	ck_assert_int_eq(n, 1);
}
END_TEST

/* ---- fairness: LIFO work does not starve an old task -------------------- */

struct fair {
	_Atomic int victim_ran;
	_Atomic long chain_len;
	weft_wg wg;
};

static struct fair fair;

static void victim(void *arg)
{
	(void)arg;
	atomic_store(&fair.victim_ran, 1);
	weft_wg_done(&fair.wg);
}

/* Each link spawns the next and exits: under pure LIFO the newest task
 * always runs next and the victim, queued first, never would. */
static void chain(void *arg)
{
	(void)arg;
	atomic_fetch_add(&fair.chain_len, 1);
	if (!atomic_load(&fair.victim_ran))
		go_ok(chain, NULL);
	else
		weft_wg_done(&fair.wg);
}

static void fair_main(void *arg)
{
	(void)arg;
	weft_wg_add(&fair.wg, 2);
	go_ok(victim, NULL);
	go_ok(chain, NULL);
	weft_wg_wait(&fair.wg);
}

static const int fair_procs[] = { 1, 2, 8 };

START_TEST(test_no_starvation)
{
	memset(&fair, 0, sizeof(fair));
	run_main(fair_procs[_i], fair_main, NULL);
	ck_assert_int_eq(atomic_load(&fair.victim_ran), 1);
	/*
	 * At one P the rule bounds the wait: the old task runs within a few
	 * ticks. At more Ps the victim is usually stolen at once (it is the
	 * oldest), but the M that took it may then be descheduled by the OS
	 * while the other Ms go on chaining (at 8 Ps on 2 loaded cores: 56,351
	 * links, before and after the runnext change): there the case asserts
	 * only that the victim runs and the chain ends.
	 */
	if (fair_procs[_i] == 1)
		ck_assert_int_lt(atomic_load(&fair.chain_len), 1000);
}
END_TEST

/* ---- requests served in arrival order (bench/mandelweb's shape) --------- */

/*
 * Requests arrive one after another from outside the runtime (here a plain
 * thread's weft_go; in bench/mandelweb a connection's read, readied by the
 * netpoller), each spawns REQ_KIDS children and waits for them, as a
 * request of the web service spawns a task per row. Every child takes a
 * number from one global counter when it runs. The next request arrives
 * while this one's children are all still queued (the feeder waits until
 * the request task has spawned them, and the request task holds its P
 * until the feeder has sent the next): an overloaded server. Under a
 * run queue popped newest first, a later request's children ran before an
 * earlier one's, and the first request finished last (sched.c, "Jobs").
 * Asserted: how many later requests started before request i's last child
 * ran ("lag"). At one P none may (the old order: 11, request 0 served
 * last, every time). At two Ps each P serves its own deque oldest job
 * first, but the two deques are not one queue (nor are Go's): a P whose M
 * the OS deschedules keeps an older request's children while the other
 * serves newer ones, so lags of 0-8 are seen; the case asserts only that
 * no request is overtaken by every later one (the old order did that in
 * 5 of 30 runs at two Ps).
 */
#define REQS 12
#define REQ_KIDS 256

struct reqs {
	_Atomic long seq;             /* the order in which children run */
	long kid_seq[REQS][REQ_KIDS]; /* each written by its child */
	weft_wg wg[REQS];             /* a request's children */
	weft_wg done;                 /* the requests */
	_Atomic int spawned;          /* requests whose children are queued */
	_Atomic int sent;             /* requests the feeder has spawned */
	int feed_err;
};

static struct reqs reqs;

struct req_kid {
	short req, kid;
};

static struct req_kid req_kids[REQS][REQ_KIDS];

static void req_child(void *arg)
{
	struct req_kid *k = arg;

	reqs.kid_seq[k->req][k->kid] =
		atomic_fetch_add_explicit(&reqs.seq, 1, memory_order_relaxed);
	weft_wg_done(&reqs.wg[k->req]);
}

static void request(void *arg)
{
	int i = (int)(intptr_t)arg;

	weft_wg_add(&reqs.wg[i], REQ_KIDS);
	for (int k = 0; k < REQ_KIDS; k++)
		go_ok(req_child, &req_kids[i][k]);
	/* pairs with the acquire load in req_feeder */
	atomic_store_explicit(&reqs.spawned, i + 1, memory_order_release);
	/* Keep the P (sched_yield is no weft scheduling point) until the next
	 * request is queued: it arrives while all of ours wait. */
	while (i + 1 < REQS && atomic_load_explicit(&reqs.sent, memory_order_acquire) < i + 2)
		sched_yield();
	weft_wg_wait(&reqs.wg[i]);
	weft_wg_done(&reqs.done);
}

static void *req_feeder(void *arg)
{
	(void)arg;
	for (int i = 0; i < REQS; i++) {
		/* pairs with the release store in request */
		while (atomic_load_explicit(&reqs.spawned, memory_order_acquire) < i)
			sched_yield();
		int err = weft_go(request, (void *)(intptr_t)i);
		if (err) {
			reqs.feed_err = err;
			weft_wg_add(&reqs.done, -(REQS - i));
			atomic_store_explicit(&reqs.sent, REQS + 1, memory_order_release);
			return NULL;
		}
		/* pairs with the acquire load in request */
		atomic_store_explicit(&reqs.sent, i + 1, memory_order_release);
	}
	return NULL;
}

static void req_main(void *arg)
{
	pthread_t th;

	(void)arg;
	weft_wg_add(&reqs.done, REQS);
	ck_assert_int_eq(pthread_create(&th, NULL, req_feeder, NULL), 0);
	weft_wg_wait(&reqs.done);
	pthread_join(th, NULL); /* every request has run: the feeder is done */
}

static void init_req_kids(void)
{
	for (int i = 0; i < REQS; i++)
		for (int k = 0; k < REQ_KIDS; k++)
			req_kids[i][k] = (struct req_kid){ (short)i, (short)k };
}

/* The most later requests (of the first @n) that started before one
 * request's last child ran; which one in *@worst_i. */
static int worst_lag(int n, int *worst_i)
{
	int worst = 0;

	*worst_i = 0;
	for (int i = 0; i < n; i++) {
		long last = -1;
		int lag = 0;
		for (int k = 0; k < REQ_KIDS; k++)
			if (reqs.kid_seq[i][k] > last)
				last = reqs.kid_seq[i][k];
		for (int j = i + 1; j < n; j++) {
			long first = LONG_MAX;
			for (int k = 0; k < REQ_KIDS; k++)
				if (reqs.kid_seq[j][k] < first)
					first = reqs.kid_seq[j][k];
			lag += first < last;
		}
		if (lag > worst) {
			worst = lag;
			*worst_i = i;
		}
	}
	return worst;
}

static const int req_procs[] = { 1, 2 };
static const int req_lag[] = { 0, REQS - 2 };

START_TEST(test_requests_in_order)
{
	int procs = req_procs[_i], worst, worst_i;

	memset(&reqs, 0, sizeof(reqs));
	init_req_kids();
	run_main(procs, req_main, NULL);
	ck_assert_int_eq(reqs.feed_err, 0);
	ck_assert_int_eq(atomic_load(&reqs.seq), REQS * REQ_KIDS);
	worst = worst_lag(REQS, &worst_i);
	if (getenv("WEFT_TEST_VERBOSE"))
		fprintf(stderr, "requests_in_order: P=%d worst lag %d (request %d)\n", procs, worst,
			worst_i);
	if (worst > req_lag[_i])
		ck_abort_msg("at WEFT_PROCS=%d, %d later requests started before request %d's "
			     "last child ran (at most %d allowed)",
			     procs, worst, worst_i, req_lag[_i]);
}
END_TEST

/*
 * The same order when the requests come over connections that all wait
 * before the server looks (bench/mandelweb's first five requests): the
 * accept loop takes them without blocking, and each connection's task finds
 * its request without blocking. Each accept and each read that finds data
 * starts a job (sched.c, weft__job_arrived); without that the five were
 * one job, served newest first. At one P, connection i's children all run
 * before any of connection i+1's.
 */
#define CONNS 5

struct conns {
	char addr[64];
	_Atomic int ready; /* the clients' connections made and written to */
	int cfd[CONNS];    /* client ends */
	int sfd[CONNS];    /* server ends, in the order accepted */
	int err;
};

static struct conns conns;

static void *conn_client(void *arg)
{
	(void)arg;
	for (int i = 0; i < CONNS; i++) {
		int fd = weft_net_dial(conns.addr, -1);
		if (fd < 0 || weft_write(fd, "r", 1, -1) != 1) {
			conns.err = fd < 0 ? fd : -EIO;
			break;
		}
		conns.cfd[i] = fd;
	}
	/* pairs with the acquire load in conn_main */
	atomic_store_explicit(&conns.ready, 1, memory_order_release);
	return NULL;
}

static void conn_task(void *arg)
{
	int i = (int)(intptr_t)arg;
	char c;

	if (weft_read(conns.sfd[i], &c, 1, -1) != 1)
		ck_abort_msg("connection %d: no request", i);
	weft_wg_add(&reqs.wg[i], REQ_KIDS);
	for (int k = 0; k < REQ_KIDS; k++)
		go_ok(req_child, &req_kids[i][k]);
	weft_wg_wait(&reqs.wg[i]);
	weft_close(conns.sfd[i]);
	weft_wg_done(&reqs.done);
}

static void conn_main(void *arg)
{
	int lfd = weft_net_listen("127.0.0.1:0", 16);
	pthread_t th;

	(void)arg;
	ck_assert_int_ge(lfd, 0);
	ck_assert_int_gt(weft_net_addr(lfd, conns.addr, sizeof(conns.addr)), 0);
	weft_wg_add(&reqs.done, CONNS);
	ck_assert_int_eq(pthread_create(&th, NULL, conn_client, NULL), 0);
	/* Hold the P (no weft scheduling point) until every client waits. */
	while (!atomic_load_explicit(&conns.ready, memory_order_acquire))
		sched_yield();
	pthread_join(th, NULL);
	ck_assert_int_eq(conns.err, 0);
	for (int i = 0; i < CONNS; i++) {
		conns.sfd[i] = weft_net_accept(lfd, -1);
		ck_assert_int_ge(conns.sfd[i], 0);
		go_ok(conn_task, (void *)(intptr_t)i);
	}
	weft_wg_wait(&reqs.done);
	for (int i = 0; i < CONNS; i++)
		close(conns.cfd[i]);
	weft_close(lfd);
}

START_TEST(test_connections_in_order)
{
	int worst_i, worst;

	memset(&reqs, 0, sizeof(reqs));
	memset(&conns, 0, sizeof(conns));
	init_req_kids();
	run_main(1, conn_main, NULL);
	ck_assert_int_eq(atomic_load(&reqs.seq), CONNS * REQ_KIDS);
	worst = worst_lag(CONNS, &worst_i);
	if (worst > 0)
		ck_abort_msg("%d later connections' requests started before connection %d's "
			     "last child ran",
			     worst, worst_i);
}
END_TEST

/* ---- runnext is not starved behind a task that keeps its P --------------- */

/*
 * A task readies a partner into its P's runnext and then computes without
 * a scheduling point, polling a flag that only the partner sets. The
 * partner must be run by another P: a thief takes a running P's runnext
 * after a grace (sched.c, steal_runnext), meant for a readier that is about
 * to block; this readier never does. The bound is a count of the poller's
 * own rounds, each of which gives its CPU away (sched_yield, not a weft
 * scheduling point: the task keeps its P), so that the Ms that must steal
 * get to run on a loaded machine; it is far beyond what the steal takes
 * (a few microseconds after the woken M runs). Were runnext never stolen,
 * the partner would wait for the poller's next scheduling point, which
 * comes only after the bound: the case fails.
 */
#define RUNNEXT_ROUNDS 200000

struct rn {
	weft_chan *c;
	_Atomic int partner_ran;
	long rounds;
	long tries;
};

static struct rn rn;

static void rn_partner(void *arg)
{
	long v;

	(void)arg;
	if (weft_chan_recv(rn.c, &v) == 0 && v == 42)
		atomic_store(&rn.partner_ran, 1);
}

static void rn_main(void *arg)
{
	long v = 42, n;

	(void)arg;
	go_ok(rn_partner, NULL);
	/*
	 * Succeeds only once the partner is blocked in its receive, and then
	 * readies it into this P's runnext (weft__ready). Until then the
	 * partner runs here (yield) or on another P.
	 */
	while (weft_chan_try_send(rn.c, &v) == -EAGAIN) {
		rn.tries++;
		weft_yield();
	}
	for (n = 0; n < RUNNEXT_ROUNDS && !atomic_load(&rn.partner_ran); n++)
		sched_yield();
	rn.rounds = n;
}

static const int rn_procs[] = { 2, 8 };

START_TEST(test_runnext_stolen)
{
	for (int round = 0; round < 20; round++) {
		memset(&rn, 0, sizeof(rn));
		rn.c = weft_chan_make(sizeof(long), 0);
		ck_assert_ptr_nonnull(rn.c);
		run_main(rn_procs[_i], rn_main, NULL);
		if (rn.rounds >= RUNNEXT_ROUNDS)
			ck_abort_msg("at WEFT_PROCS=%d (round %d) the task readied into runnext "
				     "did not run within %d rounds of the task that keeps the P",
				     rn_procs[_i], round, RUNNEXT_ROUNDS);
		weft_chan_free(rn.c);
	}
}
END_TEST

/* ---- tasks spawned from a plain thread run ------------------------------ */

#define FROM_THREAD 10000

struct ext {
	weft_wg wg;
	_Atomic long ran;
	_Atomic long self_nonzero;
	int self_in_thread;
	int spawn_err;
};

static struct ext ext;

static void ext_task(void *arg)
{
	(void)arg;
	if (weft_self() != 0)
		atomic_fetch_add(&ext.self_nonzero, 1);
	atomic_fetch_add(&ext.ran, 1);
	weft_wg_done(&ext.wg);
}

static void *ext_thread(void *arg)
{
	(void)arg;
	ext.self_in_thread = (int)weft_self();
	for (int i = 0; i < FROM_THREAD; i++) {
		int err = weft_go(ext_task, NULL);
		if (err) {
			ext.spawn_err = err;
			weft_wg_add(&ext.wg, -(FROM_THREAD - i));
			break;
		}
	}
	return NULL;
}

static void ext_main(void *arg)
{
	pthread_t th;

	(void)arg;
	weft_wg_add(&ext.wg, FROM_THREAD);
	ck_assert_int_eq(pthread_create(&th, NULL, ext_thread, NULL), 0);
	weft_wg_wait(&ext.wg);
	/* Blocking the P in pthread_join is fine here: every task has run. */
	pthread_join(th, NULL);
}

START_TEST(test_spawn_from_thread)
{
	memset(&ext, 0, sizeof(ext));
	run_main(2, ext_main, NULL);
	ck_assert_int_eq(ext.spawn_err, 0);
	ck_assert_int_eq(ext.ran, FROM_THREAD);
	ck_assert_int_eq(ext.self_nonzero, FROM_THREAD);
	ck_assert_int_eq(ext.self_in_thread, 0);
}
END_TEST

/* ---- API edges ------------------------------------------------------------ */

static void nop(void *arg)
{
	(void)arg;
}

struct edges {
	int go_null, nested_main, procs, self;
	uint64_t ids[64];
	weft_wg wg;
};

static void record_id(void *arg)
{
	uint64_t *slot = arg;
	__atomic_store_n(slot, weft_self(), __ATOMIC_RELEASE);
}

static void edges_main(void *arg)
{
	struct edges *e = arg;

	e->go_null = weft_go(NULL, NULL);
	e->nested_main = weft_main(nop, NULL);
	e->procs = weft_procs();
	e->self = (int)weft_self();
	for (int i = 0; i < 64; i++)
		go_ok(record_id, &e->ids[i]);
	/* Let them all run: yield until each recorded its id. */
	for (int i = 0; i < 64; i++)
		while (__atomic_load_n(&e->ids[i], __ATOMIC_ACQUIRE) == 0)
			weft_yield();
}

START_TEST(test_api_edges)
{
	struct edges e;

	memset(&e, 0, sizeof(e));
	ck_assert_int_eq(weft_main(NULL, NULL), -EINVAL);
	ck_assert_int_eq(weft_go(nop, NULL), -EINVAL); /* runtime not running */
	ck_assert_int_eq(weft_procs(), 0);
	ck_assert_int_eq(weft_self(), 0);
	run_main(3, edges_main, &e);
	ck_assert_int_eq(e.go_null, -EINVAL);
	ck_assert_int_eq(e.nested_main, -EBUSY);
	ck_assert_int_eq(e.procs, 3);
	ck_assert_int_ne(e.self, 0);
	for (int i = 0; i < 64; i++) {
		ck_assert_int_ne(e.ids[i], 0);
		ck_assert_int_ne(e.ids[i], (uint64_t)e.self);
		for (int j = 0; j < i; j++)
			ck_assert_int_ne(e.ids[i], e.ids[j]);
	}
	setenv("WEFT_PROCS", "zero", 1);
	ck_assert_int_eq(weft_main(nop, NULL), -EINVAL);
	setenv("WEFT_PROCS", "2", 1);
	setenv("WEFT_STACK", "12q", 1);
	ck_assert_int_eq(weft_main(nop, NULL), -EINVAL);
	unsetenv("WEFT_STACK");
	ck_assert_str_eq(weft_strerror(-EPIPE), "channel closed");
	ck_assert_str_eq(weft_strerror(-EINVAL), "invalid argument");
	ck_assert_ptr_nonnull(weft_strerror(-9999));
}
END_TEST

/* ---- the end of weft_main: left-over tasks, and running it again --------- */

static weft_wg never = WEFT_WG_INIT;

static void blocked_forever(void *arg)
{
	(void)arg;
	weft_wg_wait(&never);
}

static void spinner(void *arg)
{
	_Atomic int *started = arg;
	atomic_store(started, 1);
	for (;;)
		weft_safepoint();
}

static void leave_tasks_behind(void *arg)
{
	_Atomic int *started = arg;

	weft_wg_add(&never, 1);
	for (int i = 0; i < 100; i++)
		go_ok(blocked_forever, NULL);
	for (int i = 0; i < 100; i++)
		go_ok(nop, NULL); /* some never get to run */
	go_ok(spinner, started);
	while (!atomic_load(started))
		weft_yield();
}

START_TEST(test_exit_leaves_tasks)
{
	_Atomic int started = 0;

	for (int round = 0; round < 3; round++) {
		atomic_store(&started, 0);
		memset(&never, 0, sizeof(never));
		run_main(2, leave_tasks_behind, &started);
		ck_assert_int_eq(atomic_load(&started), 1);
		ck_assert_int_eq(weft_procs(), 0);
	}
}
END_TEST

/*
 * The main task returns while tasks sit in the global run queue: a plain
 * thread keeps spawning into it (weft_go from a plain thread injects
 * there) and, at one P, the main task busy-waits without a scheduling
 * point, so none of them runs. The end must free them all (teardown once
 * drained that queue after freeing the descriptors its nodes live in: a
 * crash every time), and the thread's weft_go, racing the end, must get
 * -EINVAL and never touch freed memory.
 */
static _Atomic long gq_spawned;
static _Atomic int gq_last_err;

static void *gq_spawner(void *arg)
{
	(void)arg;
	for (;;) {
		int r = weft_go(nop, NULL);
		if (r) {
			atomic_store(&gq_last_err, r);
			return NULL;
		}
		atomic_fetch_add(&gq_spawned, 1);
	}
}

static void return_with_global_queue(void *arg)
{
	pthread_t *th = arg;

	ck_assert_int_eq(pthread_create(th, NULL, gq_spawner, NULL), 0);
	while (atomic_load(&gq_spawned) < 2000)
		; /* no scheduling point: at one P, nothing else runs */
}

START_TEST(test_exit_with_global_queue)
{
	for (int round = 0; round < 5; round++) {
		pthread_t th;
		atomic_store(&gq_spawned, 0);
		atomic_store(&gq_last_err, 0);
		run_main(1, return_with_global_queue, &th);
		pthread_join(th, NULL);
		ck_assert_int_eq(atomic_load(&gq_last_err), -EINVAL);
		ck_assert_int_ge(atomic_load(&gq_spawned), 2000);
	}
}
END_TEST

/* ---- many tasks blocked at once (issue 20) ------------------------------ */

/* ThreadSanitizer maps a fiber per task: a million do not fit. */
static bool tsan(void)
{
#ifdef __SANITIZE_THREAD__
	return true;
#else
	const char *san = getenv("WEFT_SAN_CFLAGS");

	return san && strstr(san, "-fsanitize=thread");
#endif
}

/*
 * Does this kernel have guard regions (MADV_GUARD_INSTALL, Linux 6.13)?
 * Without them every stack keeps a mapping of its own (stack.c), the old
 * cap of about 32 thousand live stacks holds, and the scale cases skip.
 */
static bool guard_regions(void)
{
	long page = sysconf(_SC_PAGESIZE);
	void *p = mmap(NULL, (size_t)page * 2, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	bool ok;

	if (p == MAP_FAILED)
		return false;
	ok = madvise(p, (size_t)page, 102 /* MADV_GUARD_INSTALL */) == 0;
	munmap(p, (size_t)page * 2);
	if (!ok)
		fprintf(stderr, "check_sched: no guard regions in this kernel (Linux < 6.13): "
				"the slab stack cases skip\n");
	return ok;
}

/* ASan (or another sanitizer): shadow memory for every stack page. */
static bool sanitized(void)
{
	const char *san = getenv("WEFT_SAN_CFLAGS");

	return san && strstr(san, "-fsanitize=");
}

struct blocked {
	long n;
	weft_chan *gate;
	weft_wg started, finished;
	_Atomic long alive, got;
	long alive_at_once; /* alive when the last one started */
	long maps_at_once;  /* lines of /proc/self/maps then */
};

static struct blocked blk;

static long maps_count(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	long n = 0;
	int c;

	if (!f)
		return -1;
	while ((c = getc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

static void block_on_gate(void *arg)
{
	int v = 0;

	(void)arg;
	atomic_fetch_add(&blk.alive, 1);
	weft_wg_done(&blk.started);
	if (weft_chan_recv(blk.gate, &v) != 0 || v != 1)
		ck_abort_msg("weft_chan_recv: got %d", v);
	atomic_fetch_add(&blk.got, 1);
	atomic_fetch_sub(&blk.alive, 1);
	weft_wg_done(&blk.finished);
}

/* Spawn blk.n tasks that block on one channel; when all have started (all
 * alive at once, each with a stack), release them with one send each. */
static void block_many(void *arg)
{
	int one = 1;

	(void)arg;
	blk.gate = weft_chan_make(sizeof(int), 0);
	weft_wg_add(&blk.started, blk.n);
	weft_wg_add(&blk.finished, blk.n);
	for (long i = 0; i < blk.n; i++)
		go_ok(block_on_gate, NULL);
	weft_wg_wait(&blk.started);
	blk.alive_at_once = atomic_load(&blk.alive);
	blk.maps_at_once = maps_count();
	for (long i = 0; i < blk.n; i++)
		if (weft_chan_send(blk.gate, &one) != 0)
			ck_abort_msg("weft_chan_send failed at %ld", i);
	weft_wg_wait(&blk.finished);
	weft_chan_free(blk.gate);
}

static void run_blocked(int procs, long n, const char *mappings)
{
	memset(&blk, 0, sizeof(blk));
	blk.n = n;
	if (mappings)
		setenv("WEFT_STACK_MAPPINGS", mappings, 1);
	run_main(procs, block_many, NULL);
	unsetenv("WEFT_STACK_MAPPINGS");
	ck_assert_int_eq(blk.alive_at_once, n);
	ck_assert_int_eq(atomic_load(&blk.got), n);
	ck_assert_int_eq(atomic_load(&blk.alive), 0);
}

/*
 * A million tasks blocked at once on a channel, at the default settings
 * and whatever vm.max_map_count is (a stack of its own is two mappings:
 * at 65530 the program died at about 32 thousand). Skipped under TSan;
 * under ASan, whose shadow of every stack page is memory too, 20 thousand
 * with a budget of 1000 own mappings take the same paths.
 */
START_TEST(test_million_blocked)
{
	if (tsan()) {
		fprintf(stderr, "test_million_blocked: skipped under ThreadSanitizer "
				"(a fiber per task)\n");
		return;
	}
	if (!guard_regions())
		return;
	if (sanitized())
		run_blocked(2, 20000, "1000");
	else
		run_blocked(2, MILLION, NULL);
}
END_TEST

/*
 * Beyond the budget of own mappings (0 here) stacks come from slabs: 3000
 * blocked tasks take far fewer mappings than the 6000 of their own; four
 * times, so that the slabs emptied by a round are unmapped and made again,
 * at one P and at two. (Under TSan, which maps several regions per fiber,
 * the count says nothing and is not asserted.)
 */
START_TEST(test_slab_stacks)
{
	if (!guard_regions())
		return;
	for (int round = 0; round < 4; round++) {
		run_blocked(1 + round % 2, 3000, "0");
		if (!tsan())
			ck_assert_msg(blk.maps_at_once > 0 && blk.maps_at_once < 1000,
				      "%ld mappings with 3000 tasks alive", blk.maps_at_once);
	}
}
END_TEST

static Suite *sched_suite(void)
{
	Suite *s = suite_create("sched");
	TCase *tc = tcase_create("sched");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_million_p1);
	tcase_add_test(tc, test_million_p2);
	tcase_add_test(tc, test_million_p8);
	tcase_add_test(tc, test_fib_p1);
	tcase_add_test(tc, test_fib_p2);
	tcase_add_test(tc, test_yield_alternates);
	tcase_add_test(tc, test_yield_alone);
	tcase_add_loop_test(tc, test_no_starvation, 0, 3);
	tcase_add_loop_test(tc, test_requests_in_order, 0, 2);
	tcase_add_test(tc, test_connections_in_order);
	tcase_add_loop_test(tc, test_runnext_stolen, 0, 2);
	tcase_add_test(tc, test_spawn_from_thread);
	tcase_add_test(tc, test_api_edges);
	tcase_add_test(tc, test_exit_leaves_tasks);
	tcase_add_test(tc, test_exit_with_global_queue);
	tcase_add_test(tc, test_slab_stacks);
	suite_add_tcase(s, tc);
	tc = tcase_create("scale");
	tcase_set_timeout(tc, 900);
	tcase_add_test(tc, test_million_blocked);
	suite_add_tcase(s, tc);
	return s;
}

WEFT_CHECK_MAIN(sched_suite)

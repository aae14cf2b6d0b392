/*
 * check_chan.c - Check suite "chan": channel semantics and exactly-once
 * delivery under load.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "testutil.h"

/* ---- unbuffered ping-pong delivers values in order ---------------------- */

#define PINGS 10000

struct pp {
	weft_chan *ping, *pong;
	long bad;
	weft_wg wg;
};

static void ponger(void *arg)
{
	struct pp *p = arg;
	long v;

	for (long i = 0; i < PINGS; i++) {
		if (weft_chan_recv(p->ping, &v) != 0 || v != i)
			p->bad++;
		v = -v;
		if (weft_chan_send(p->pong, &v) != 0)
			p->bad++;
	}
	weft_wg_done(&p->wg);
}

static void pp_main(void *arg)
{
	struct pp *p = arg;
	long v;

	weft_wg_add(&p->wg, 1);
	go_ok(ponger, p);
	for (long i = 0; i < PINGS; i++) {
		if (weft_chan_send(p->ping, &i) != 0)
			p->bad++;
		if (weft_chan_recv(p->pong, &v) != 0 || v != -i)
			p->bad++;
	}
	weft_wg_wait(&p->wg);
}

static void check_pingpong(int procs)
{
	struct pp p;

	memset(&p, 0, sizeof(p));
	p.ping = weft_chan_make(sizeof(long), 0);
	p.pong = weft_chan_make(sizeof(long), 0);
	ck_assert_ptr_nonnull(p.ping);
	run_main(procs, pp_main, &p);
	ck_assert_int_eq(p.bad, 0);
	ck_assert_int_eq(weft_chan_len(p.ping), 0);
	ck_assert_int_eq(weft_chan_cap(p.ping), 0);
	weft_chan_free(p.ping);
	weft_chan_free(p.pong);
}

START_TEST(test_pingpong_p1)
{
	check_pingpong(1);
}
END_TEST

START_TEST(test_pingpong_p2)
{
	check_pingpong(2);
}
END_TEST

/* ---- buffered: FIFO, len, cap, try ops ----------------------------------- */

static void buffered_main(void *arg)
{
	int *bad = arg;
	weft_chan *c = weft_chan_make(sizeof(int), 4);
	int v;

	*bad |= weft_chan_cap(c) != 4;
	for (int i = 0; i < 4; i++)
		*bad |= weft_chan_try_send(c, &i) != 0;
	*bad |= weft_chan_len(c) != 4;
	v = 99;
	*bad |= weft_chan_try_send(c, &v) != -EAGAIN;
	for (int i = 0; i < 4; i++) {
		*bad |= weft_chan_recv(c, &v) != 0;
		*bad |= v != i;
	}
	*bad |= weft_chan_try_recv(c, &v) != -EAGAIN;
	*bad |= weft_chan_len(c) != 0;
	/* Wrap around the ring several times. */
	for (int i = 0; i < 100; i++) {
		*bad |= weft_chan_send(c, &i) != 0;
		if (i % 3 == 2)
			for (int k = 0; k < 3; k++) {
				static int expect;
				*bad |= weft_chan_recv(c, &v) != 0 || v != expect++;
			}
	}
	weft_chan_free(c);
	/* Unbuffered try ops with nobody there. */
	c = weft_chan_make(sizeof(int), 0);
	*bad |= weft_chan_try_send(c, &v) != -EAGAIN;
	*bad |= weft_chan_try_recv(c, &v) != -EAGAIN;
	weft_chan_free(c);
}

START_TEST(test_buffered_fifo)
{
	int bad = 0;

	run_main(2, buffered_main, &bad);
	ck_assert_int_eq(bad, 0);
}
END_TEST

/* ---- close semantics -------------------------------------------------------- */

struct closing {
	weft_chan *c;
	_Atomic int started;
	int res[8];
	long vals[8];
	weft_wg wg;
};

static void blocked_sender(void *arg)
{
	struct closing *k = arg;
	int i = atomic_fetch_add(&k->started, 1);
	long v = 7;

	k->res[i] = weft_chan_send(k->c, &v);
	weft_wg_done(&k->wg);
}

static void blocked_receiver(void *arg)
{
	struct closing *k = arg;
	int i = atomic_fetch_add(&k->started, 1);

	k->vals[i] = 12345;
	k->res[i] = weft_chan_recv(k->c, &k->vals[i]);
	weft_wg_done(&k->wg);
}

static void close_main(void *arg)
{
	int *bad = arg;
	struct closing k;
	long v = 1;

	/* Send on closed; recv drains then -EPIPE zero-filled; double close. */
	weft_chan *c = weft_chan_make(sizeof(long), 2);
	*bad |= weft_chan_send(c, &v) != 0;
	v = 2;
	*bad |= weft_chan_send(c, &v) != 0;
	*bad |= weft_chan_close(c) != 0;
	*bad |= weft_chan_send(c, &v) != -EPIPE;
	*bad |= weft_chan_try_send(c, &v) != -EPIPE;
	*bad |= weft_chan_recv(c, &v) != 0 || v != 1;
	*bad |= weft_chan_recv(c, &v) != 0 || v != 2;
	v = 77;
	*bad |= weft_chan_recv(c, &v) != -EPIPE || v != 0;
	v = 77;
	*bad |= weft_chan_try_recv(c, &v) != -EPIPE || v != 0;
	*bad |= weft_chan_close(c) != -EPIPE;
	weft_chan_free(c);

	/* Close wakes blocked senders and receivers. */
	for (int kind = 0; kind < 2; kind++) {
		memset(&k, 0, sizeof(k));
		k.c = weft_chan_make(sizeof(long), 0);
		weft_wg_add(&k.wg, 4);
		for (int i = 0; i < 4; i++)
			go_ok(kind ? blocked_receiver : blocked_sender, &k);
		while (atomic_load(&k.started) < 4)
			weft_yield();
		for (int i = 0; i < 10; i++)
			weft_yield(); /* let them block */
		*bad |= weft_chan_close(k.c) != 0;
		weft_wg_wait(&k.wg);
		for (int i = 0; i < 4; i++) {
			*bad |= k.res[i] != -EPIPE;
			if (kind)
				*bad |= k.vals[i] != 0;
		}
		weft_chan_free(k.c);
	}
}

START_TEST(test_close)
{
	int bad = 0;

	run_main(1, close_main, &bad);
	ck_assert_int_eq(bad, 0);
	bad = 0;
	run_main(2, close_main, &bad);
	ck_assert_int_eq(bad, 0);
}
END_TEST

/* ---- exactly once: 4 producers, 4 consumers, 1e6 items ---------------------- */

#define ITEMS 1000000
#define PRODUCERS 4
#define CONSUMERS 4

struct flow {
	weft_chan *c[2]; /* unbuffered and buffered */
	_Atomic unsigned char *seen;
	_Atomic long received;
	_Atomic long long sum;
	weft_wg producers, consumers;
};

static struct flow flow;

static void producer(void *arg)
{
	long id = (long)(intptr_t)arg;

	for (long i = id; i < ITEMS; i += PRODUCERS) {
		weft_chan *c = flow.c[i & 1];
		if ((i & 6) == 0) {
			/* try first, block if it would */
			if (weft_chan_try_send(c, &i) == -EAGAIN)
				weft_chan_send(c, &i);
		} else {
			weft_chan_send(c, &i);
		}
	}
	weft_wg_done(&flow.producers);
}

static void consumer(void *arg)
{
	long id = (long)(intptr_t)arg;
	int open = 2;
	long v;

	/* Each consumer drains both channels until both are closed. */
	while (open > 0) {
		int got = 0;
		for (int k = 0; k < 2; k++) {
			int r = (id & 1) ? weft_chan_try_recv(flow.c[k], &v)
					  : weft_chan_try_recv(flow.c[k ^ 1], &v);
			if (r == 0) {
				atomic_fetch_add(&flow.seen[v], 1);
				atomic_fetch_add(&flow.received, 1);
				atomic_fetch_add(&flow.sum, v);
				got = 1;
			}
		}
		if (got)
			continue;
		/* Nothing ready: block on one of them. */
		int k = (int)(id & 1);
		int r = weft_chan_recv(flow.c[k], &v);
		if (r == 0) {
			atomic_fetch_add(&flow.seen[v], 1);
			atomic_fetch_add(&flow.received, 1);
			atomic_fetch_add(&flow.sum, v);
		} else {
			/* This one is closed and drained: drain the other. */
			while (weft_chan_recv(flow.c[k ^ 1], &v) == 0) {
				atomic_fetch_add(&flow.seen[v], 1);
				atomic_fetch_add(&flow.received, 1);
				atomic_fetch_add(&flow.sum, v);
			}
			open = 0;
		}
	}
	weft_wg_done(&flow.consumers);
}

static void flow_main(void *arg)
{
	(void)arg;
	weft_wg_add(&flow.producers, PRODUCERS);
	weft_wg_add(&flow.consumers, CONSUMERS);
	for (long i = 0; i < CONSUMERS; i++)
		go_ok(consumer, (void *)(intptr_t)i);
	for (long i = 0; i < PRODUCERS; i++)
		go_ok(producer, (void *)(intptr_t)i);
	weft_wg_wait(&flow.producers);
	weft_chan_close(flow.c[0]);
	weft_chan_close(flow.c[1]);
	weft_wg_wait(&flow.consumers);
}

static void check_flow(int procs)
{
	memset(&flow, 0, sizeof(flow));
	flow.c[0] = weft_chan_make(sizeof(long), 0);
	flow.c[1] = weft_chan_make(sizeof(long), 64);
	flow.seen = calloc(ITEMS, 1);
	run_main(procs, flow_main, NULL);
	ck_assert_int_eq(atomic_load(&flow.received), ITEMS);
	ck_assert(atomic_load(&flow.sum) == (long long)ITEMS * (ITEMS - 1) / 2);
	for (long i = 0; i < ITEMS; i++)
		if (flow.seen[i] != 1)
			ck_abort_msg("item %ld received %d times", i, (int)flow.seen[i]);
	free((void *)flow.seen);
	weft_chan_free(flow.c[0]);
	weft_chan_free(flow.c[1]);
}

START_TEST(test_exactly_once_p1)
{
	check_flow(1);
}
END_TEST

START_TEST(test_exactly_once_p2)
{
	check_flow(2);
}
END_TEST

/* ---- the concurrent prime sieve (seed 002) ----------------------------------- */

#define NPRIMES 1000

struct filter {
	weft_chan *in, *out;
	int prime;
	weft_wg *wg;
};

struct sieve {
	int primes[NPRIMES];
	weft_chan *chans[NPRIMES + 1];
	struct filter filters[NPRIMES];
	weft_wg wg;
};

static void generate(void *arg)
{
	struct sieve *s = arg;

	for (int i = 2;; i++)
		if (weft_chan_send(s->chans[0], &i) != 0)
			break;
	weft_wg_done(&s->wg);
}

/* Pass on what the prime does not divide; close the output when the input
 * closes, so that the whole chain winds down from its head. */
static void filter(void *arg)
{
	struct filter *f = arg;
	int v;

	while (weft_chan_recv(f->in, &v) == 0)
		if (v % f->prime != 0)
			weft_chan_send(f->out, &v);
	weft_chan_close(f->out);
	weft_wg_done(f->wg);
}

static void sieve_main(void *arg)
{
	struct sieve *s = arg;
	int v;

	s->chans[0] = weft_chan_make(sizeof(int), 0);
	weft_wg_add(&s->wg, NPRIMES + 1);
	go_ok(generate, s);
	for (int i = 0; i < NPRIMES; i++) {
		struct filter *f = &s->filters[i];
		weft_chan_recv(s->chans[i], &s->primes[i]);
		s->chans[i + 1] = weft_chan_make(sizeof(int), 0);
		*f = (struct filter){ s->chans[i], s->chans[i + 1], s->primes[i], &s->wg };
		go_ok(filter, f);
	}
	/* Wind down: stop the generator, drain the tail, wait for every filter. */
	weft_chan_close(s->chans[0]);
	while (weft_chan_recv(s->chans[NPRIMES], &v) == 0)
		;
	weft_wg_wait(&s->wg);
	for (int i = 0; i <= NPRIMES; i++)
		weft_chan_free(s->chans[i]);
}

START_TEST(test_prime_sieve)
{
	static struct sieve s;
	int *primes = s.primes;
	int n = 0;

	memset(&s, 0, sizeof(s));
	run_main(2, sieve_main, &s);
	for (int c = 2; n < NPRIMES; c++) {
		int prime = 1;
		for (int d = 2; d * d <= c; d++)
			if (c % d == 0) {
				prime = 0;
				break;
			}
		if (prime) {
			ck_assert_int_eq(primes[n], c);
			n++;
		}
	}
	ck_assert_int_eq(primes[NPRIMES - 1], 7919);
}
END_TEST

/* ---- a plain thread and a task talk through channels; signal channels ------ */

struct thr {
	weft_chan *req, *rep, *sig;
	long sum;
	int bad;
};

static void echo_task(void *arg)
{
	struct thr *t = arg;
	long v;

	while (weft_chan_recv(t->req, &v) == 0) {
		v *= 2;
		weft_chan_send(t->rep, &v);
	}
	weft_chan_send(t->sig, NULL); /* zero-size element */
}

static void *talker(void *arg)
{
	struct thr *t = arg;
	long v;

	for (long i = 1; i <= 1000; i++) {
		t->bad |= weft_chan_send(t->req, &i) != 0;
		t->bad |= weft_chan_recv(t->rep, &v) != 0;
		t->sum += v;
	}
	weft_chan_close(t->req);
	return NULL;
}

static void thr_main(void *arg)
{
	struct thr *t = arg;
	pthread_t th;

	go_ok(echo_task, t);
	ck_assert_int_eq(pthread_create(&th, NULL, talker, t), 0);
	t->bad |= weft_chan_recv(t->sig, NULL) != 0;
	weft_syscall_enter();
	pthread_join(th, NULL);
	weft_syscall_exit();
}

START_TEST(test_plain_thread)
{
	struct thr t;

	memset(&t, 0, sizeof(t));
	t.req = weft_chan_make(sizeof(long), 0);
	t.rep = weft_chan_make(sizeof(long), 0);
	t.sig = weft_chan_make(0, 0);
	run_main(2, thr_main, &t);
	ck_assert_int_eq(t.bad, 0);
	ck_assert_int_eq(t.sum, 1000 * 1001);
	weft_chan_free(t.req);
	weft_chan_free(t.rep);
	weft_chan_free(t.sig);
}
END_TEST

/* ---- select ------------------------------------------------------------------ */

#define K 4
#define SELECTS 100000

static void select_fair_main(void *arg)
{
	long *hits = arg;
	weft_chan *c[K];
	weft_case cs[K];
	long v = 1;

	for (int i = 0; i < K; i++) {
		c[i] = weft_chan_make(sizeof(long), 1);
		cs[i] = (weft_case){ c[i], WEFT_RECV, &v, 0 };
		weft_chan_send(c[i], &v);
	}
	/* Every case is always ready: refill the one that fired. */
	for (long n = 0; n < SELECTS; n++) {
		int i = weft_select(cs, K, -1);
		if (i < 0 || i >= K || cs[i].result != 0)
			ck_abort_msg("select returned %d (result %d)", i, i >= 0 ? cs[i].result : 0);
		hits[i]++;
		weft_chan_send(c[i], &v);
	}
	for (int i = 0; i < K; i++)
		weft_chan_free(c[i]);
}

START_TEST(test_select_uniform)
{
	long hits[K] = { 0 };

	run_main(1, select_fair_main, hits);
	for (int i = 0; i < K; i++) {
		double share = (double)hits[i] / SELECTS;
		ck_assert_msg(share > 0.9 / K && share < 1.1 / K, "case %d chosen %ld of %d times",
			      i, hits[i], SELECTS);
	}
}
END_TEST

struct sel_edges {
	int nonblock, nonblock_empty, null_ignored, closed_idx, closed_res, closed_send_res;
	long got;
	int bad_op, woke_idx;
	long woke_val;
};

static void late_sender(void *arg)
{
	weft_chan *c = arg;
	long v = 42;

	for (int i = 0; i < 5; i++)
		weft_yield();
	weft_chan_send(c, &v);
}

static void select_edges_main(void *arg)
{
	struct sel_edges *e = arg;
	weft_chan *a = weft_chan_make(sizeof(long), 0);
	weft_chan *b = weft_chan_make(sizeof(long), 1);
	long v = 5;

	/* Timeout 0 with nothing ready. */
	weft_case cs[3] = { { a, WEFT_RECV, &e->got, 0 }, { b, WEFT_RECV, &e->got, 0 },
			    { NULL, WEFT_SEND, &v, 0 } };
	e->nonblock = weft_select(cs, 3, 0);
	/* Only NULL channels, timeout 0. */
	weft_case none[1] = { { NULL, WEFT_RECV, &e->got, 0 } };
	e->nonblock_empty = weft_select(none, 1, 0);
	/* A NULL case is never chosen; the buffered send fires. */
	weft_case send[2] = { { NULL, WEFT_RECV, &e->got, 0 }, { b, WEFT_SEND, &v, 0 } };
	e->null_ignored = weft_select(send, 2, -1);
	/* Blocking: woken by a sender on the unbuffered channel. */
	weft_chan_recv(b, &e->got); /* empty b again */
	go_ok(late_sender, a);
	e->woke_idx = weft_select(cs, 2, -1);
	e->woke_val = e->got;
	/* A closed channel's case fires with -EPIPE. */
	weft_chan_close(a);
	e->got = 99;
	e->closed_idx = weft_select(cs, 2, -1);
	e->closed_res = cs[e->closed_idx].result;
	weft_case sc[1] = { { a, WEFT_SEND, &v, 0 } };
	weft_select(sc, 1, -1);
	e->closed_send_res = sc[0].result;
	weft_case bad[1] = { { b, 7, &v, 0 } };
	e->bad_op = weft_select(bad, 1, 0);
	weft_chan_free(a);
	weft_chan_free(b);
}

START_TEST(test_select_edges)
{
	struct sel_edges e;

	memset(&e, 0, sizeof(e));
	run_main(2, select_edges_main, &e);
	ck_assert_int_eq(e.nonblock, -EAGAIN);
	ck_assert_int_eq(e.nonblock_empty, -EAGAIN);
	ck_assert_int_eq(e.null_ignored, 1);
	ck_assert_int_eq(e.woke_idx, 0);
	ck_assert_int_eq(e.woke_val, 42);
	ck_assert_int_eq(e.closed_idx, 0);
	ck_assert_int_eq(e.closed_res, -EPIPE);
	ck_assert_int_eq(e.got, 0);
	ck_assert_int_eq(e.closed_send_res, -EPIPE);
	ck_assert_int_eq(e.bad_op, -EINVAL);
}
END_TEST

/* Exactly one case fires: many selectors on two channels, many senders. */
#define SEL_ITEMS 200000

struct sel_flow {
	weft_chan *c[2], *done;
	_Atomic unsigned char *seen;
	_Atomic long got;
	weft_wg senders, receivers;
};

static struct sel_flow sf;

static void sel_sender(void *arg)
{
	long id = (long)(intptr_t)arg;

	for (long i = id; i < SEL_ITEMS; i += 4)
		weft_chan_send(sf.c[i & 1], &i);
	weft_wg_done(&sf.senders);
}

static void sel_receiver(void *arg)
{
	long v;
	weft_case cs[3] = { { sf.c[0], WEFT_RECV, &v, 0 }, { sf.c[1], WEFT_RECV, &v, 0 },
			    { sf.done, WEFT_RECV, NULL, 0 } };

	(void)arg;
	for (;;) {
		int i = weft_select(cs, 3, -1);
		if (i == 2)
			break; /* done closed: the senders are finished and drained */
		if (cs[i].result != 0)
			ck_abort_msg("select: case %d result %d", i, cs[i].result);
		atomic_fetch_add(&sf.seen[v], 1);
		atomic_fetch_add(&sf.got, 1);
	}
	weft_wg_done(&sf.receivers);
}

static void sel_flow_main(void *arg)
{
	(void)arg;
	weft_wg_add(&sf.senders, 4);
	weft_wg_add(&sf.receivers, 4);
	for (long i = 0; i < 4; i++)
		go_ok(sel_receiver, NULL);
	for (long i = 0; i < 4; i++)
		go_ok(sel_sender, (void *)(intptr_t)i);
	weft_wg_wait(&sf.senders);
	/* Unbuffered channels: every send completed means every item was
	 * received; now release the receivers. */
	weft_chan_close(sf.done);
	weft_wg_wait(&sf.receivers);
}

static void check_sel_flow(int procs)
{
	memset(&sf, 0, sizeof(sf));
	sf.c[0] = weft_chan_make(sizeof(long), 0);
	sf.c[1] = weft_chan_make(sizeof(long), 0);
	sf.done = weft_chan_make(0, 0);
	sf.seen = calloc(SEL_ITEMS, 1);
	run_main(procs, sel_flow_main, NULL);
	ck_assert_int_eq(atomic_load(&sf.got), SEL_ITEMS);
	for (long i = 0; i < SEL_ITEMS; i++)
		if (sf.seen[i] != 1)
			ck_abort_msg("item %ld received %d times", i, (int)sf.seen[i]);
	free((void *)sf.seen);
	weft_chan_free(sf.c[0]);
	weft_chan_free(sf.c[1]);
	weft_chan_free(sf.done);
}

START_TEST(test_select_exactly_once_p1)
{
	check_sel_flow(1);
}
END_TEST

START_TEST(test_select_exactly_once_p2)
{
	check_sel_flow(2);
}
END_TEST

/* A NULL channel is Go's nil channel (weft.h): trying never succeeds, its
 * length and capacity are 0 (the blocking calls block for ever:
 * check_fatal's nil cases). Any caller, no runtime needed. */
START_TEST(test_nil_chan)
{
	int v = 7;

	ck_assert_int_eq(weft_chan_try_send(NULL, &v), -EAGAIN);
	ck_assert_int_eq(weft_chan_try_recv(NULL, &v), -EAGAIN);
	ck_assert_int_eq(v, 7);
	ck_assert_uint_eq(weft_chan_len(NULL), 0);
	ck_assert_uint_eq(weft_chan_cap(NULL), 0);
	weft_chan_free(NULL);
}
END_TEST

static Suite *chan_suite(void)
{
	Suite *s = suite_create("chan");
	TCase *tc = tcase_create("chan");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_nil_chan);
	tcase_add_test(tc, test_pingpong_p1);
	tcase_add_test(tc, test_pingpong_p2);
	tcase_add_test(tc, test_buffered_fifo);
	tcase_add_test(tc, test_close);
	tcase_add_test(tc, test_exactly_once_p1);
	tcase_add_test(tc, test_exactly_once_p2);
	tcase_add_test(tc, test_prime_sieve);
	tcase_add_test(tc, test_plain_thread);
	tcase_add_test(tc, test_select_uniform);
	tcase_add_test(tc, test_select_edges);
	tcase_add_test(tc, test_select_exactly_once_p1);
	tcase_add_test(tc, test_select_exactly_once_p2);
	suite_add_tcase(s, tc);
	return s;
}

WEFT_CHECK_MAIN(chan_suite)

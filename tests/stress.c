/*
 * stress.c - randomized torture of the scheduler (make stress).
 *
 *   stress [-s SEED] [-r ROUNDS] [-m tree|pc|net] [-P PROCS] [-i] [-t TRACE]
 *
 * Each round picks a number of Ps and grows a random tree of tasks from
 * the seed: every task draws its own actions (spawn children and wait for
 * them, yield, a short syscall, a long blocking one on a pipe, a
 * safepoint, a short sleep, a select with a timeout that other tasks may
 * meet on a shared channel) from a generator seeded by (seed, task
 * number), and the main task now and then changes the number of Ps or stops the world. At the end
 * every task must have run exactly once and the tree's checksum must match
 * the one computed from the seed alone. Thread interleavings differ from
 * run to run, the work does not: a failing seed replays the same program.
 *
 * -m net: the netpoller. Each round draws from the seed a number of
 * clients (16 to 215) that connect at random moments to an echo server
 * on 127.0.0.1 (one to three tasks accepting on one listener, a task per
 * connection) and exchange 5 to 44 messages of up to 16 KiB, every byte
 * checked; each read, write and accept has a random deadline (none, past,
 * or up to 2 ms: -ETIMEDOUT, never before the deadline, is retried, and a
 * short write count continues);
 * some clients first dial a port nobody listens on (-ECONNREFUSED). A
 * quarter of the clients are victims: a racer task weft_close()s their fd
 * at a random moment while the client and up to two weft_fd_wait tasks
 * may be waiting on it, and must see only -ECANCELED, -EBADF, a broken
 * connection or end of file, never a hang or a wrong byte. (The racer
 * then puts /dev/null on the number with dup2, and dials and accepts hold
 * a mutex that the racer holds around close + dup2, so the victim's later
 * calls never reach another connection that reused its number: POSIX
 * gives no protection from that, and it is not what is tested. It holds
 * only if nothing else in the process makes fds meanwhile: the runtime
 * opens none while it runs (symbol.h); its trace flusher once opened the
 * executable for each new function, which took the racer's number
 * between close and dup2 - EBUSY, or another connection's fd closed
 * under it, one round in forty.) A round
 * whose tasks are not all done 120 s after they should be fails, naming
 * what was left; weft_main must return 0 (no false deadlock report) and
 * the round must leave as many fds open as it found.
 *
 * -m pc: producers and consumers instead of a tree. Each round draws from
 * the seed how many producers and consumers, the channel's capacity (0,
 * 1 or 16) and how each side sends or receives (a plain send or receive,
 * a select with a timeout, a try in a loop with yields, short sleeps);
 * every value sent must be received exactly once, and weft_main must
 * return 0 (a false deadlock report exits 2). -P fixes the number of Ps;
 * -i fires SIGALRM from an interval timer every 50-200 us (drawn from the
 * seed; no SA_RESTART: every wait in the runtime is interrupted) as a
 * sampling profiler would; -t FILE traces each round to FILE (make stress
 * then checks every trace with weft-trace stats: readable, 0 anomalies).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <weft.h>

#include "netutil.h"

#define MAX_TASKS 200000

struct node {
	uint64_t rng;
	int depth;
	uint32_t index;
	weft_wg *parent;
};

static _Atomic unsigned char ran[MAX_TASKS];
static _Atomic uint32_t next_index;
static _Atomic uint64_t checksum;
static int pipefd[2];
static weft_chan *shared; /* unbuffered: selects meet here or time out */
static uint64_t seed;
static int fixed_procs; /* -P: every round starts with this many Ps */

static uint64_t mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

static uint32_t draw(uint64_t *s, uint32_t n)
{
	*s = mix(*s + 0x9e3779b97f4a7c15ULL);
	return (uint32_t)(*s % n);
}

static void task(void *arg);

static void spawn_child(struct node *parent, weft_wg *wg, struct node *kids, int k)
{
	uint32_t idx = atomic_fetch_add(&next_index, 1);

	kids[k].rng = mix(parent->rng ^ (uint64_t)(k + 1));
	kids[k].depth = parent->depth + 1;
	kids[k].index = idx;
	kids[k].parent = wg;
	if (idx >= MAX_TASKS) {
		weft_wg_done(wg);
		return;
	}
	if (weft_go(task, &kids[k]) != 0) {
		fprintf(stderr, "stress: weft_go failed\n");
		exit(1);
	}
}

static void task(void *arg)
{
	struct node *n = arg;
	uint64_t s = n->rng;
	int steps = (int)draw(&s, 6);
	uint64_t local = n->rng;

	atomic_fetch_add(&ran[n->index], 1);
	for (int i = 0; i < steps; i++) {
		switch (draw(&s, 10)) {
		case 0:
		case 1:
			weft_yield();
			break;
		case 2:
			weft_syscall_enter();
			(void)getppid();
			weft_syscall_exit();
			break;
		case 3:
			weft_safepoint();
			break;
		case 4: {
			/* A blocking call: a byte through the pipe and back. */
			char c = 'x';
			weft_syscall_enter();
			if (write(pipefd[1], &c, 1) != 1 || read(pipefd[0], &c, 1) != 1)
				abort();
			weft_syscall_exit();
			break;
		}
		case 5:
			weft_sleep((int64_t)((s >> 40) % 50) * 1000);
			break;
		case 6: {
			int v = (int)n->index, got = 0;
			weft_case cs[2] = { { shared, WEFT_SEND, &v, 0 }, { shared, WEFT_RECV, &got, 0 } };
			int r = weft_select(cs, 2, (int64_t)((s >> 32) % 30) * 1000 + 1);
			if (r != -ETIMEDOUT && (r < 0 || r > 1 || cs[r].result != 0)) {
				fprintf(stderr, "stress: select returned %d\n", r);
				abort();
			}
			break;
		}
		default:
			for (int k = 0; k < 2000; k++)
				local = mix(local);
			break;
		}
	}
	if (n->depth < 12) {
		int kids_n = (int)draw(&s, n->depth < 3 ? 8 : 4);
		struct node kids[8];
		weft_wg wg = WEFT_WG_INIT;

		weft_wg_add(&wg, kids_n);
		for (int k = 0; k < kids_n; k++)
			spawn_child(n, &wg, kids, k);
		weft_wg_wait(&wg);
	}
	atomic_fetch_add(&checksum, n->rng & 0xffff);
	if (n->parent)
		weft_wg_done(n->parent);
}

/* ---- producers and consumers (-m pc) -------------------------------------------- */

#define PC_MAX_VALUES 200000

static _Atomic unsigned char got[PC_MAX_VALUES];
static weft_chan *pc_chan;
static uint32_t pc_nvalues;
static _Atomic uint32_t pc_next; /* the next value to send */
static weft_wg pc_producers = WEFT_WG_INIT, pc_consumers = WEFT_WG_INIT;
static _Atomic unsigned long alarms;

static void pc_producer(void *arg)
{
	uint64_t s = mix(seed ^ (uintptr_t)arg);
	uint32_t v;

	while ((v = atomic_fetch_add(&pc_next, 1)) < pc_nvalues) {
		switch (draw(&s, 8)) {
		case 0: {
			weft_case cs[1] = { { pc_chan, WEFT_SEND, &v, 0 } };
			int r;
			while ((r = weft_select(cs, 1, 1 + (int64_t)draw(&s, 50) * 1000)) == -ETIMEDOUT)
				;
			if (r != 0 || cs[0].result != 0)
				abort();
			break;
		}
		case 1: {
			/* Tries, then a plain send: two sides that only try never
			 * meet on an unbuffered channel (nor would they in Go). */
			int r = -EAGAIN;
			for (int k = 0; k < 50 && (r = weft_chan_try_send(pc_chan, &v)) == -EAGAIN; k++)
				weft_yield();
			if (r == -EAGAIN && weft_chan_send(pc_chan, &v) != 0)
				abort();
			break;
		}
		case 2:
			weft_sleep((int64_t)draw(&s, 20) * 1000);
			/* fall through */
		default:
			if (weft_chan_send(pc_chan, &v) != 0)
				abort();
		}
	}
	weft_wg_done(&pc_producers);
}

static void pc_consumer(void *arg)
{
	uint64_t s = mix(seed ^ ((uintptr_t)arg << 32));
	uint32_t v;

	for (;;) {
		int r;
		switch (draw(&s, 8)) {
		case 0: {
			weft_case cs[1] = { { pc_chan, WEFT_RECV, &v, 0 } };
			while ((r = weft_select(cs, 1, 1 + (int64_t)draw(&s, 50) * 1000)) == -ETIMEDOUT)
				;
			r = r == 0 ? cs[0].result : r;
			break;
		}
		case 1:
			r = -EAGAIN;
			for (int k = 0; k < 50 && (r = weft_chan_try_recv(pc_chan, &v)) == -EAGAIN; k++)
				weft_yield();
			if (r == -EAGAIN)
				r = weft_chan_recv(pc_chan, &v);
			break;
		default:
			r = weft_chan_recv(pc_chan, &v);
		}
		if (r == -EPIPE)
			break;
		if (r != 0 || v >= pc_nvalues) {
			fprintf(stderr, "stress: receive returned %d, value %u\n", r, v);
			abort();
		}
		atomic_fetch_add(&got[v], 1);
	}
	weft_wg_done(&pc_consumers);
}

static void pc_main(void *arg)
{
	uint64_t s = mix(seed ^ 0x5043);
	static const size_t caps[] = { 0, 1, 16 };
	int np = 1 + (int)draw(&s, 4), nc = 1 + (int)draw(&s, 4);

	(void)arg;
	pc_nvalues = 20000 + draw(&s, 30000);
	pc_chan = weft_chan_make(sizeof(uint32_t), caps[draw(&s, 3)]);
	atomic_store(&pc_next, 0);
	weft_wg_add(&pc_producers, np);
	weft_wg_add(&pc_consumers, nc);
	for (int i = 0; i < np; i++)
		weft_go(pc_producer, (void *)(uintptr_t)(i + 1));
	for (int i = 0; i < nc; i++)
		weft_go(pc_consumer, (void *)(uintptr_t)(i + 1));
	weft_wg_wait(&pc_producers);
	weft_chan_close(pc_chan);
	weft_wg_wait(&pc_consumers);
	weft_chan_free(pc_chan);
}

/* ---- the netpoller (-m net) ---------------------------------------------------- */

#define NET_PAT (1u << 20)
#define NET_MAX_MSG 16384
#define NET_SLACK_NS (120 * 1000000000LL)

/*
 * Under TSan a racer closes a victim's fd only once its client is done
 * with it (the fd_wait tasks may still be parked on it): a close racing a
 * read(2) in flight on another thread is the caller's race (weft.h,
 * weft_close), and TSan reports it as one, rightly.
 */
#ifdef __SANITIZE_THREAD__
#define NET_CLOSE_AFTER_SESSION 1
#else
#define NET_CLOSE_AFTER_SESSION 0
#endif

struct net_client {
	uint64_t rng;
	int fd;
	bool victim;
	weft_wg helpers; /* the racer and the fd_wait tasks */
	weft_wg session; /* NET_CLOSE_AFTER_SESSION: the client's calls are over */
};

static unsigned char *net_pat; /* NET_PAT + NET_MAX_MSG: the tail repeats the head */
static char net_addr[128], net_refused[128];
static int net_lfd, net_null;
static weft_mutex net_fdmu = WEFT_MUTEX_INIT; /* dial, accept, and a racer's close + dup2 */
static weft_wg net_clients_wg = WEFT_WG_INIT, net_servers_wg = WEFT_WG_INIT;
static _Atomic int net_clients_left, net_servers_left;
static _Atomic long net_msgs, net_cut, net_timeouts, net_refusals;

static void net_fail(const char *what, long r)
{
	printf("FAIL: %s: %ld%s%s%s (replay: stress -m net -s %" PRIu64 " -r 1)\n", what, r,
	       r < 0 ? " (" : "", r < 0 ? weft_strerror((int)r) : "", r < 0 ? ")" : "", seed);
	fflush(stdout);
	if (weft_trace_enabled())
		weft_trace_stop(); /* the round's trace, for weft-trace tasks */
	_exit(1);
}

/* A deadline: none, already past, or up to 2 ms from now. */
static int64_t net_deadline(uint64_t *s)
{
	switch (draw(s, 4)) {
	case 0:
		return -1;
	case 1:
		return weft_now() - 1;
	default:
		return weft_now() + (int64_t)draw(s, 2000) * 1000;
	}
}

/* A call with deadline @d said -ETIMEDOUT: never before @d. */
static void net_timed_out(int64_t d, const char *what)
{
	int64_t now = weft_now();

	if (d < 0 || now < d)
		net_fail(what, d < 0 ? -1 : (long)(d - now));
	atomic_fetch_add_explicit(&net_timeouts, 1, memory_order_relaxed);
}

/* Write all of @buf; 0, or the error that ended it (never -ETIMEDOUT). */
static long net_write_all(int fd, const void *buf, size_t n, uint64_t *s)
{
	const char *p = buf;

	while (n > 0) {
		int64_t d = net_deadline(s);
		ssize_t r = weft_write(fd, p, n, d);
		if (r > 0) {
			p += r;
			n -= (size_t)r;
		} else if (r == -ETIMEDOUT) {
			net_timed_out(d, "weft_write timed out early (ns)");
		} else {
			return r;
		}
	}
	return 0;
}

static void net_server_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	uint64_t s = mix(seed ^ (uint64_t)fd ^ 0x5e);
	char buf[NET_MAX_MSG];

	for (;;) {
		int64_t d = net_deadline(&s);
		ssize_t n = weft_read(fd, buf, 1 + draw(&s, sizeof(buf)), d);
		long r;
		if (n == -ETIMEDOUT) {
			net_timed_out(d, "server: weft_read timed out early (ns)");
			continue;
		}
		if (n == 0 || n == -ECONNRESET)
			break;
		if (n < 0)
			net_fail("server: weft_read", n);
		r = net_write_all(fd, buf, (size_t)n, &s);
		if (r == -EPIPE || r == -ECONNRESET)
			break;
		if (r)
			net_fail("server: weft_write", r);
	}
	if (weft_close(fd) != 0)
		net_fail("server: weft_close", -1);
	atomic_fetch_sub(&net_servers_left, 1);
	weft_wg_done(&net_servers_wg);
}

static void net_acceptor(void *arg)
{
	uint64_t s = mix(seed ^ (uintptr_t)arg ^ 0xacc);

	for (;;) {
		int fd, r;

		weft_mutex_lock(&net_fdmu);
		fd = weft_net_accept(net_lfd, 0); /* a past deadline: never waits */
		weft_mutex_unlock(&net_fdmu);
		if (fd >= 0) {
			weft_wg_add(&net_servers_wg, 1);
			atomic_fetch_add(&net_servers_left, 1);
			if (weft_go(net_server_conn, (void *)(intptr_t)fd) != 0)
				net_fail("weft_go", -1);
			continue;
		}
		if (fd == -ECANCELED || fd == -EBADF)
			break;
		if (fd != -ETIMEDOUT)
			net_fail("weft_net_accept", fd);
		int64_t d = net_deadline(&s);
		r = weft_fd_wait(net_lfd, WEFT_FD_READ, d);
		if (r == -ECANCELED || r == -EBADF)
			break;
		if (r == -ETIMEDOUT)
			net_timed_out(d, "weft_fd_wait on the listener timed out early (ns)");
		if (r != 0 && r != -ETIMEDOUT)
			net_fail("weft_fd_wait on the listener", r);
	}
	atomic_fetch_sub(&net_servers_left, 1);
	weft_wg_done(&net_servers_wg);
}

/* Closes a victim's fd under its waiters, then puts /dev/null on the number. */
static void net_racer(void *arg)
{
	struct net_client *c = arg;
	uint64_t s = mix(c->rng ^ 0xc1);

	if (NET_CLOSE_AFTER_SESSION)
		weft_wg_wait(&c->session);
	if (draw(&s, 2))
		weft_sleep((int64_t)draw(&s, 300) * 1000);
	else
		for (uint32_t k = draw(&s, 20); k > 0; k--)
			weft_yield();
	weft_mutex_lock(&net_fdmu);
	if (weft_close(c->fd) != 0)
		net_fail("racer: weft_close", -1);
	if (dup2(net_null, c->fd) != c->fd)
		net_fail("racer: dup2", -errno);
	weft_mutex_unlock(&net_fdmu);
	weft_wg_done(&c->helpers);
}

/* Waits on a victim's fd beside the client: half of them with no deadline,
 * so that one left parked after the racer's close hangs the round. */
static void net_fd_waiter(void *arg)
{
	struct net_client *c = arg;
	uint64_t s = mix(c->rng ^ 0xfd ^ (uint64_t)weft_self() << 32);
	int64_t d = draw(&s, 2) ? -1 : weft_now() + (int64_t)draw(&s, 3000) * 1000;
	int r = weft_fd_wait(c->fd, WEFT_FD_READ, d);

	if (r != 0 && r != -ETIMEDOUT && r != -ECANCELED && r != -EBADF && r != -EPERM)
		net_fail("a victim's weft_fd_wait", r);
	weft_wg_done(&c->helpers);
}

/* Did a victim's call end its session? Anything else is a failure. */
static bool net_cut_off(struct net_client *c, long r, const char *what)
{
	if (c->victim &&
	    (r == 0 || r == -ECANCELED || r == -EBADF || r == -EPIPE || r == -ECONNRESET)) {
		atomic_fetch_add_explicit(&net_cut, 1, memory_order_relaxed);
		return true;
	}
	net_fail(what, r);
	return true;
}

static void net_client(void *arg)
{
	struct net_client *c = arg;
	uint64_t s = c->rng;
	size_t base = draw(&s, NET_PAT), off = 0;
	unsigned char back[NET_MAX_MSG];
	int msgs = 5 + (int)draw(&s, 40);

	for (uint32_t k = draw(&s, 30); k > 0; k--)
		weft_yield();
	if (draw(&s, 8) == 0) {
		int r;
		weft_mutex_lock(&net_fdmu); /* it makes an fd too */
		r = weft_net_dial(net_refused, weft_now() + 10000000000LL);
		weft_mutex_unlock(&net_fdmu);
		if (r != -ECONNREFUSED)
			net_fail("dial a closed port", r);
		atomic_fetch_add_explicit(&net_refusals, 1, memory_order_relaxed);
	}
	weft_mutex_lock(&net_fdmu);
	c->fd = weft_net_dial(net_addr, weft_now() + 10000000000LL);
	weft_mutex_unlock(&net_fdmu);
	if (c->fd < 0)
		net_fail("weft_net_dial", c->fd);
	if (c->victim) {
		uint32_t waiters = draw(&s, 3);
		weft_wg_add(&c->session, 1);
		weft_wg_add(&c->helpers, 1 + (int64_t)waiters);
		if (weft_go(net_racer, c) != 0)
			net_fail("weft_go", -1);
		for (uint32_t k = 0; k < waiters; k++)
			if (weft_go(net_fd_waiter, c) != 0)
				net_fail("weft_go", -1);
	}
	for (int m = 0; m < msgs; m++) {
		size_t len = (size_t)1 << draw(&s, 15), have = 0;
		long r;

		len += draw(&s, (uint32_t)len);
		if (len > NET_MAX_MSG)
			len = NET_MAX_MSG;
		r = net_write_all(c->fd, net_pat + (base + off) % NET_PAT, len, &s);
		if (r && net_cut_off(c, r, "client: weft_write"))
			goto out;
		while (have < len) {
			int64_t d = net_deadline(&s);
			ssize_t n = weft_read(c->fd, back + have, len - have, d);
			if (n == -ETIMEDOUT) {
				net_timed_out(d, "client: weft_read timed out early (ns)");
				continue;
			}
			if (n <= 0 && net_cut_off(c, n, "client: weft_read"))
				goto out;
			have += (size_t)n;
		}
		if (memcmp(back, net_pat + (base + off) % NET_PAT, len) != 0)
			net_fail("client: the echo differs", (long)m);
		off += len;
		atomic_fetch_add_explicit(&net_msgs, 1, memory_order_relaxed);
	}
out:
	if (c->victim)
		weft_wg_done(&c->session);
	weft_wg_wait(&c->helpers);
	weft_mutex_lock(&net_fdmu);
	weft_close(c->fd); /* the socket, or the racer's /dev/null */
	weft_mutex_unlock(&net_fdmu);
	atomic_fetch_sub(&net_clients_left, 1);
	weft_wg_done(&net_clients_wg);
}

struct net_waiting {
	weft_wg *wg;
	weft_chan *done;
};

static void net_signal_done(void *arg)
{
	struct net_waiting *w = arg;
	int one = 1;

	weft_wg_wait(w->wg);
	weft_chan_send(w->done, &one);
}

/* Wait for @wg, failing after the slack with what is left. */
static void net_wait(weft_wg *wg)
{
	struct net_waiting w = { wg, weft_chan_make(sizeof(int), 1) };
	weft_case cs[1] = { { w.done, WEFT_RECV, NULL, 0 } };

	if (!w.done || weft_go(net_signal_done, &w) != 0)
		net_fail("weft_go", -1);
	if (weft_select(cs, 1, NET_SLACK_NS) != 0) {
		printf("FAIL: %d clients and %d server tasks still running 120 s on (replay: "
		       "stress -m net -s %" PRIu64 " -r 1)\n",
		       atomic_load(&net_clients_left), atomic_load(&net_servers_left), seed);
		fflush(stdout);
		if (weft_trace_enabled())
			weft_trace_stop(); /* weft-trace tasks FILE: who is left, blocked where */
		_exit(1);
	}
	weft_chan_free(w.done);
}

static void net_main(void *arg)
{
	uint64_t s = mix(seed ^ 0x4e4554);
	int nclients = 16 + (int)draw(&s, 200), nacc = 1 + (int)draw(&s, 3);
	struct net_client *cs = calloc((size_t)nclients, sizeof(*cs));
	int refuser;

	(void)arg;
	if (!cs)
		net_fail("calloc", -ENOMEM);
	atomic_store(&net_msgs, 0);
	atomic_store(&net_cut, 0);
	atomic_store(&net_timeouts, 0);
	atomic_store(&net_refusals, 0);
	/* A port nobody listens on, held by a socket never put in listen(). */
	refuser = refusing_port(net_refused, sizeof(net_refused));
	if (refuser < 0)
		net_fail("refusing_port", -errno);
	net_lfd = weft_net_listen("127.0.0.1:0", 0);
	if (net_lfd < 0 || weft_net_addr(net_lfd, net_addr, sizeof(net_addr)) < 0)
		net_fail("weft_net_listen", net_lfd);
	atomic_store(&net_servers_left, nacc);
	weft_wg_add(&net_servers_wg, nacc);
	for (int i = 0; i < nacc; i++)
		if (weft_go(net_acceptor, (void *)(intptr_t)(i + 1)) != 0)
			net_fail("weft_go", -1);
	atomic_store(&net_clients_left, nclients);
	weft_wg_add(&net_clients_wg, nclients);
	for (int i = 0; i < nclients; i++) {
		cs[i].rng = mix(seed ^ ((uint64_t)(i + 1) << 20));
		cs[i].victim = draw(&s, 4) == 0;
		if (weft_go(net_client, &cs[i]) != 0)
			net_fail("weft_go", -1);
		if (draw(&s, 8) == 0)
			weft_sleep((int64_t)draw(&s, 500) * 1000);
	}
	net_wait(&net_clients_wg);
	/* The acceptors wake from their waits with -ECANCELED, or find it closed. */
	weft_mutex_lock(&net_fdmu);
	weft_close(net_lfd);
	weft_mutex_unlock(&net_fdmu);
	net_wait(&net_servers_wg);
	close(refuser);
	free(cs);
}

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* One -m net round: 0, or 1 after saying what went wrong. */
static int net_round(void)
{
	int before;

	if (!net_pat) {
		net_pat = malloc(NET_PAT + NET_MAX_MSG);
		net_null = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (!net_pat || net_null < 0)
			return 1;
		for (size_t i = 0; i < NET_PAT; i += 8) {
			uint64_t x = mix(i ^ 0x9a7);
			memcpy(net_pat + i, &x, 8);
		}
		memcpy(net_pat + NET_PAT, net_pat, NET_MAX_MSG);
	}
	atomic_store(&alarms, 0);
	before = open_fds();
	if (weft_main(net_main, NULL) != 0) {
		printf("FAIL: weft_main (replay: stress -m net -s %" PRIu64 " -r 1)\n", seed);
		return 1;
	}
	if (open_fds() != before) {
		printf("FAIL: %d fds open before the round, %d after (replay: stress -m net -s %" PRIu64
		       " -r 1)\n",
		       before, open_fds(), seed);
		return 1;
	}
	printf("ok, %ld messages, %ld sessions cut by weft_close, %ld timeouts, %ld refused, %lu "
	       "alarms\n",
	       atomic_load(&net_msgs), atomic_load(&net_cut), atomic_load(&net_timeouts),
	       atomic_load(&net_refusals), atomic_load(&alarms));
	return 0;
}

static void on_alarm(int sig)
{
	(void)sig;
	atomic_fetch_add_explicit(&alarms, 1, memory_order_relaxed);
}

/* SIGALRM every @us microseconds (0: off). */
static void storm(long us)
{
	struct sigaction sa;
	struct itimerval it = { { 0, us }, { 0, us } };

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = us ? on_alarm : SIG_IGN;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL); /* no SA_RESTART: waits are interrupted */
	setitimer(ITIMER_REAL, &it, NULL);
}

/* One -m pc round: 0, or 1 after saying what went wrong. */
static int pc_round(void)
{
	memset((void *)got, 0, sizeof(got));
	atomic_store(&alarms, 0);
	if (weft_main(pc_main, NULL) != 0) {
		printf("FAIL: weft_main (replay: stress -m pc -s %" PRIu64 " -r 1)\n", seed);
		return 1;
	}
	for (uint32_t v = 0; v < pc_nvalues; v++)
		if (got[v] != 1) {
			printf("FAIL: value %u received %d times (replay: stress -m pc -s %" PRIu64
			       " -r 1)\n",
			       v, (int)got[v], seed);
			return 1;
		}
	printf("ok, %u values, %lu alarms\n", pc_nvalues, atomic_load(&alarms));
	return 0;
}

/* The same tree, walked sequentially from the seed alone. */
static void expected(uint64_t rng, int depth, uint32_t *count, uint64_t *sum)
{
	uint64_t s = rng;
	int steps = (int)draw(&s, 6);

	(*count)++;
	for (int i = 0; i < steps; i++)
		(void)draw(&s, 10);
	if (depth < 12) {
		int kids_n = (int)draw(&s, depth < 3 ? 8 : 4);
		for (int k = 0; k < kids_n; k++)
			expected(mix(rng ^ (uint64_t)(k + 1)), depth + 1, count, sum);
	}
	*sum += rng & 0xffff;
}

static void stress_main(void *arg)
{
	struct node root = { .rng = mix(seed), .depth = 0, .index = 0, .parent = NULL };
	weft_wg wg = WEFT_WG_INIT;
	uint64_t s = seed;
	int changes = (int)draw(&s, 6);

	(void)arg;
	atomic_store(&next_index, 1);
	root.parent = &wg;
	weft_wg_add(&wg, 1);
	weft_go(task, &root);
	for (int i = 0; i < changes; i++) {
		for (int k = 0; k < 100; k++)
			weft_yield();
		if (draw(&s, 2)) {
			/* With -P above 4 (the many-Ps tier), between 1 and -P:
			 * Ps retire by the hundred and come back. */
			weft_set_procs(1 + (int)draw(&s, fixed_procs > 4 ? (uint32_t)fixed_procs : 4));
		} else {
			weft_stop_the_world("stress");
			weft_start_the_world();
		}
	}
	weft_wg_wait(&wg);
}

int main(int argc, char **argv)
{
	int rounds = 20;
	bool pc = false, net = false, alarm_storm = false;
	const char *trace = NULL;
	uint64_t base = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-s") == 0 && i + 1 < argc)
			base = strtoull(argv[++i], NULL, 0);
		else if (strcmp(argv[i], "-r") == 0 && i + 1 < argc)
			rounds = atoi(argv[++i]);
		else if (strcmp(argv[i], "-m") == 0 && i + 1 < argc) {
			pc = strcmp(argv[++i], "pc") == 0;
			net = strcmp(argv[i], "net") == 0;
		} else if (strcmp(argv[i], "-P") == 0 && i + 1 < argc)
			fixed_procs = atoi(argv[++i]);
		else if (strcmp(argv[i], "-i") == 0)
			alarm_storm = true;
		else if (strcmp(argv[i], "-t") == 0 && i + 1 < argc)
			trace = argv[++i];
		else {
			fprintf(stderr,
				"usage: stress [-s SEED] [-r ROUNDS] [-m tree|pc|net] [-P PROCS] [-i] "
				"[-t TRACE]\n");
			return 2;
		}
	}
	if (pipe(pipefd) != 0 || !(shared = weft_chan_make(sizeof(int), 0)))
		return 1;
	for (int r = 0; r < rounds; r++) {
		uint64_t expect = 0;
		uint32_t total;
		char procs[16];

		seed = base + (uint64_t)r;
		snprintf(procs, sizeof(procs), "%d",
			 fixed_procs > 0 ? fixed_procs : 1 + (int)(mix(seed) % 4));
		setenv("WEFT_PROCS", procs, 1);
		if (trace)
			setenv("WEFT_TRACE", trace, 1); /* weft_main takes it out once read */
		long us = alarm_storm ? 50 + (long)(mix(seed ^ 0xa1) % 151) : 0;
		printf("stress: %sseed=%" PRIu64 " procs=%s%s%s ... ",
		       pc    ? "pc "
		       : net ? "net "
			     : "",
		       seed, procs, us ? " itimer=" : "", us ? "on" : "");
		fflush(stdout);
		storm(us);
		if (pc || net) {
			int bad = pc ? pc_round() : net_round();
			storm(0);
			if (bad)
				return 1;
			continue;
		}
		memset((void *)ran, 0, sizeof(ran));
		atomic_store(&checksum, 0);
		if (weft_main(stress_main, NULL) != 0) {
			storm(0);
			printf("FAIL: weft_main\n");
			return 1;
		}
		storm(0);
		total = atomic_load(&next_index);
		if (total > MAX_TASKS)
			total = MAX_TASKS;
		for (uint32_t i = 0; i < total; i++) {
			if (ran[i] != 1) {
				printf("FAIL: task %u ran %d times (replay: stress -s %" PRIu64
				       " -r 1)\n",
				       i, (int)ran[i], seed);
				return 1;
			}
		}
		/* The tree computed from the seed alone must be the one that ran. */
		uint32_t want_n = 0;
		expected(mix(seed), 0, &want_n, &expect);
		if (want_n <= MAX_TASKS &&
		    (want_n != total || expect != atomic_load(&checksum))) {
			printf("FAIL: %u tasks (want %u), checksum %" PRIu64 " (want %" PRIu64
			       ") (replay: stress -s %" PRIu64 " -r 1)\n",
			       total, want_n, atomic_load(&checksum), expect, seed);
			return 1;
		}
		printf("ok, %u tasks\n", total);
	}
	return 0;
}

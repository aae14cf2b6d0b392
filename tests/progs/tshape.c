/*
 * tshape.c - programs of known shape that write a trace, for the
 * weft-trace tests (tests/weft-trace.test).
 *
 *   tshape MODE FILE [N]
 *
 *   mix      one P: seven tasks that each block exactly once for a known
 *            reason (chan receive, chan send, select, mutex, wait group,
 *            sleep, syscall), with user tasks, regions and logs; prints
 *            "name=id" for each task so the test can find them.
 *   tiny     one task per tiny item: N (default 20000) tasks of a few
 *            additions each.
 *   contend  eight workers receive N (default 20000) items from one
 *            unbuffered channel fed by the main task.
 *   serial   eight tasks compute in parallel, then the main task computes
 *            alone as long as all of them together: the serial phase is
 *            about two thirds of the run at two Ps.
 *   chain    100 tasks hand one token along a chain of channels, each
 *            computing a little before passing it on: the critical path
 *            is the whole run.
 *   objs     N (default 20000) requests in parallel, each making its own
 *            unbuffered channel and receiving one result on it from a
 *            helper task, both computing ~20 us: every wait is on a
 *            different object, no phase is serial and no chain is long.
 *   handoff  eight tasks make N (default 20000) blocking syscalls between
 *            them (nanosleep of 20-300 us, marked with weft_syscall_enter/
 *            exit), computing a little between two: the monitor hands
 *            their Ps off again and again, and a P handed off is often in
 *            a syscall of another task when the first one returns.
 *   strings  N (default 20000) tasks, each logging one numbered message
 *            of about 1000 bytes under a region: many events with long
 *            strings, for the reading of strings across batches.
 *   wake     one P: four waiters block receiving; a waker wakes two of
 *            them, blocks once (receiving its go-ahead from main), wakes
 *            the other two and computes (10 UNIT) before it ends: those two
 *            wait runnable for that long, woken after the waker's block
 *            site (the first two, woken before it, hardly wait); main waits
 *            on a wait group all the while.
 *   net      waits on sockets, both ways. (1) net_server listens on
 *            127.0.0.1 (weft_net_listen, port 0), accepts a client that is
 *            a plain thread - the world outside the program - and waits in
 *            weft_read while the client computes (10 UNIT) before it sends
 *            its request; the Ps have nothing to run meanwhile. Then it
 *            answers with weft_write. (2) Over a socketpair whose sender
 *            has a small buffer (SO_SNDBUF 4 KiB), net_writer writes 64
 *            KiB in one weft_write to net_reader, who first waits in
 *            weft_fd_wait for the socket to be readable, then reads 4 KiB
 *            at a time and computes (UNIT / 16) after each: the writer fills the
 *            buffer and waits in net write, again and again (at one P the
 *            reader, already blocked in net read, runs only when the writer
 *            blocks). net_server's read is the longest network wait by far.
 *   netherd  four herd_waiter tasks wait in weft_fd_wait (then read(2)) on
 *            one socket; herd_pitcher sends one byte N times (default
 *            20000), each time waiting in weft_read for the reply of the
 *            waiter that got it, then closes its end (the herd reads the
 *            end of file and ends). Every run ends waiting on that one
 *            socket, several tasks at once: the shape of contention on one
 *            object, but on the network.
 *   bus      seed 004's pub/sub bus: four producers send N (default 4000)
 *            messages into one buffered channel; one bus task receives each,
 *            works on it (BUS_WORK: ten times a producer's or a consumer's
 *            share) and forwards it to one of four consumers' buffered
 *            channels. The producers fill the bus's channel and wait on it,
 *            the consumers wait for it: the bus runs all the time, the other
 *            P idles most of it. Prints "bus=ID".
 *   busfan   the same fanned out: the bus hands each message to a deliver
 *            task of its own, which does BUS_WORK and forwards it.
 *   pool     the buffered Mandelbrot's shape: N (default 2) workers receive
 *            POOL_ITEMS items (POOL_WORK each) from a channel that holds them
 *            all; prints "worker=ID" for each worker.
 *   grain    per-item tasks of N iterations of compute each (default 750:
 *            about 1 us; 75 is about 100 ns, 75000 about 100 us), GRAIN_TOTAL
 *            iterations in all but at least 1000 tasks, spawned by main and
 *            awaited on a wait group.
 *   stw      a stop-the-world of at least 20 ms (a nanosleep in a marked
 *            syscall with the world stopped: no P runs a task in it)
 *            between two stretches of computing on every P: main
 *            computes, the other Ps' spinners compute in chunks with
 *            weft_safepoint() between two until main says stop.
 *
 * The trace runs from weft_trace_start() in the main task to
 * weft_trace_stop() at its end. Nothing here measures time: the shapes
 * come from the amount of computation and the order of operations.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <weft.h>

static const char *mode, *path;
static long n_items;
static _Atomic unsigned long sink; /* atomic: parallel tasks write it (TSan) */

static void die(const char *what)
{
	fprintf(stderr, "tshape: %s\n", what);
	exit(1);
}

/* go and spawn_blocked are inlined even at -O0 (--enable-debug): the tool
 * tests expect the spawn site in main_*, not in a helper. */
static inline __attribute__((always_inline)) void go(weft_fn fn, void *arg)
{
	if (weft_go(fn, arg) != 0)
		die("weft_go failed");
}

/* Work that takes time proportional to @n and cannot be optimised away. */
static void compute(long n)
{
	unsigned long x = atomic_load_explicit(&sink, memory_order_relaxed) + 1;

	for (long i = 0; i < n; i++)
		x = x * 6364136223846793005UL + 1442695040888963407UL;
	atomic_store_explicit(&sink, x, memory_order_relaxed);
}

/* ---- mix -------------------------------------------------------------------- */

static weft_chan *c_recv, *c_send, *c_sel1, *c_sel2;
static weft_mutex mu = WEFT_MUTEX_INIT;
static weft_wg wg_gate = WEFT_WG_INIT, wg_all = WEFT_WG_INIT;
static int pfd[2];

static void recv_waiter(void *a)
{
	int v;
	(void)a;
	weft_chan_recv(c_recv, &v);
	weft_wg_done(&wg_all);
}

static void send_waiter(void *a)
{
	int v = 1;
	(void)a;
	weft_chan_send(c_send, &v);
	weft_wg_done(&wg_all);
}

static void select_waiter(void *a)
{
	int v;
	weft_case cs[2] = { { c_sel1, WEFT_RECV, &v, 0 }, { c_sel2, WEFT_RECV, &v, 0 } };
	(void)a;
	weft_select(cs, 2, -1);
	weft_wg_done(&wg_all);
}

static void mutex_waiter(void *a)
{
	(void)a;
	weft_mutex_lock(&mu);
	weft_mutex_unlock(&mu);
	weft_wg_done(&wg_all);
}

static void wg_waiter(void *a)
{
	(void)a;
	weft_wg_wait(&wg_gate);
	weft_wg_done(&wg_all);
}

static void sleeper(void *a)
{
	(void)a;
	weft_sleep(2000000);
	weft_wg_done(&wg_all);
}

static void syscaller(void *a)
{
	char c;
	(void)a;
	weft_syscall_enter();
	ssize_t r = read(pfd[0], &c, 1);
	weft_syscall_exit();
	if (r != 1)
		die("read");
	weft_wg_done(&wg_all);
}

static void pipe_writer(void *a)
{
	(void)a;
	if (write(pfd[1], "x", 1) != 1)
		die("write");
}

/* Spawn @fn and let it run until it blocks (one P: it runs before us). */
static inline __attribute__((always_inline)) uint64_t spawn_blocked(weft_fn fn)
{
	go(fn, NULL);
	weft_yield();
	return 0;
}

__attribute__((noinline)) static void main_mix(void)
{
	int v = 7;

	c_recv = weft_chan_make(sizeof(int), 0);
	c_send = weft_chan_make(sizeof(int), 0);
	c_sel1 = weft_chan_make(sizeof(int), 0);
	c_sel2 = weft_chan_make(sizeof(int), 0);
	if (pipe(pfd) != 0)
		die("pipe");
	uint64_t req = weft_trace_task_begin("request");
	weft_trace_region_begin("setup");
	weft_trace_log("phase", "spawning %d waiters", 7);
	weft_wg_add(&wg_all, 7);
	weft_wg_add(&wg_gate, 1);
	weft_mutex_lock(&mu);
	spawn_blocked(recv_waiter);
	spawn_blocked(send_waiter);
	spawn_blocked(select_waiter);
	spawn_blocked(mutex_waiter);
	spawn_blocked(wg_waiter);
	spawn_blocked(sleeper);
	weft_trace_region_end();
	weft_trace_region_begin("release");
	weft_trace_region_begin("inner");
	weft_chan_send(c_recv, &v);
	weft_chan_recv(c_send, &v);
	weft_chan_send(c_sel2, &v);
	weft_mutex_unlock(&mu);
	weft_wg_done(&wg_gate);
	weft_trace_region_end();
	weft_trace_region_end();
	/* The syscall last: with one P, it blocks until the monitor hands the
	 * P to the writer. */
	go(syscaller, NULL);
	go(pipe_writer, NULL);
	weft_wg_wait(&wg_all);
	weft_trace_log("phase", "all done");
	weft_trace_task_end(req);
	close(pfd[0]);
	close(pfd[1]);
	weft_chan_free(c_recv);
	weft_chan_free(c_send);
	weft_chan_free(c_sel1);
	weft_chan_free(c_sel2);
}

/* ---- tiny ------------------------------------------------------------------- */

static weft_wg wg = WEFT_WG_INIT;

static void tiny_item(void *a)
{
	atomic_fetch_add_explicit(&sink, (unsigned long)a * 3 + 1, memory_order_relaxed);
	weft_wg_done(&wg);
}

__attribute__((noinline)) static void main_tiny(void)
{
	weft_wg_add(&wg, n_items);
	for (long i = 0; i < n_items; i++)
		go(tiny_item, (void *)i);
	weft_wg_wait(&wg);
}

/* ---- contend ------------------------------------------------------------------- */

static weft_chan *work;

static void worker(void *a)
{
	long item;
	(void)a;
	while (weft_chan_recv(work, &item) == 0)
		compute(200);
	weft_wg_done(&wg);
}

__attribute__((noinline)) static void main_contend(void)
{
	work = weft_chan_make(sizeof(long), 0);
	weft_wg_add(&wg, 8);
	for (int i = 0; i < 8; i++)
		go(worker, NULL);
	for (long i = 0; i < n_items; i++)
		weft_chan_send(work, &i);
	weft_chan_close(work);
	weft_wg_wait(&wg);
	weft_chan_free(work);
}

/* ---- serial ------------------------------------------------------------------ */

#define UNIT 2000000L

static void part(void *a)
{
	(void)a;
	compute(UNIT);
	weft_wg_done(&wg);
}

__attribute__((noinline)) static void main_serial(void)
{
	weft_wg_add(&wg, 8);
	for (int i = 0; i < 8; i++)
		go(part, NULL);
	weft_wg_wait(&wg);
	compute(8 * UNIT); /* "write the image": alone */
}

/* ---- chain ------------------------------------------------------------------- */

#define CHAIN 100
static weft_chan *links[CHAIN + 1];

static void link_task(void *a)
{
	long i = (long)a, tok;
	weft_chan_recv(links[i], &tok);
	/* Long enough that the chain outweighs the other tasks' first runs,
	 * which race it at the start (slow under ASan: new stacks). */
	compute(1000000);
	tok++;
	weft_chan_send(links[i + 1], &tok);
}

__attribute__((noinline)) static void main_chain(void)
{
	long tok = 0;

	for (int i = 0; i <= CHAIN; i++)
		links[i] = weft_chan_make(sizeof(long), 0);
	for (long i = 0; i < CHAIN; i++)
		go(link_task, (void *)i);
	weft_chan_send(links[0], &tok);
	weft_chan_recv(links[CHAIN], &tok);
	if (tok != CHAIN)
		die("the token lost its way");
	for (int i = 0; i <= CHAIN; i++)
		weft_chan_free(links[i]);
}

/* ---- strings ------------------------------------------------------------------ */

static void log_item(void *a)
{
	long i = (long)a;

	weft_trace_region_begin("log-item");
	/* 1000 bytes: the message number, then a filler that repeats it */
	weft_trace_log("strings", "msg %06ld %0990ld", i, i);
	weft_trace_region_end();
	weft_wg_done(&wg);
}

__attribute__((noinline)) static void main_strings(void)
{
	weft_wg_add(&wg, n_items);
	for (long i = 0; i < n_items; i++)
		go(log_item, (void *)i);
	weft_wg_wait(&wg);
}

/* ---- objs ------------------------------------------------------------------- */

static void objs_helper(void *a)
{
	long v = 1;

	compute(20000);
	if (weft_chan_send(a, &v) != 0)
		die("objs: send failed");
}

static weft_chan **objs_chans; /* freed at the end: every address distinct */

static void objs_request(void *a)
{
	weft_chan *c = objs_chans[(long)a];
	long v = 0;

	go(objs_helper, c);
	if (weft_chan_recv(c, &v) != 0 || v != 1)
		die("objs: recv failed");
	compute(20000); /* the response */
	weft_wg_done(&wg);
}

__attribute__((noinline)) static void main_objs(void)
{
	if (!(objs_chans = calloc((size_t)n_items, sizeof(*objs_chans))))
		die("objs: out of memory");
	for (long i = 0; i < n_items; i++)
		if (!(objs_chans[i] = weft_chan_make(sizeof(long), 0)))
			die("objs: chan_make failed");
	weft_wg_add(&wg, n_items);
	for (long i = 0; i < n_items; i++)
		go(objs_request, (void *)i);
	weft_wg_wait(&wg);
	for (long i = 0; i < n_items; i++)
		weft_chan_free(objs_chans[i]);
	free(objs_chans);
}

/* ---- handoff ---------------------------------------------------------------- */

static _Atomic long handoff_left;

static void handoff_worker(void *a)
{
	unsigned seed = (unsigned)(uintptr_t)a * 2654435761u + 1;
	(void)a;
	while (atomic_fetch_sub(&handoff_left, 1) > 0) {
		seed = seed * 1103515245u + 12345u;
		struct timespec ts = { 0, 20000 + (long)(seed >> 8) % 280000 };
		weft_syscall_enter();
		nanosleep(&ts, NULL);
		weft_syscall_exit();
		compute(2000);
	}
	weft_wg_done(&wg);
}

__attribute__((noinline)) static void main_handoff(void)
{
	atomic_store(&handoff_left, n_items);
	weft_wg_add(&wg, 8);
	for (long i = 0; i < 8; i++)
		go(handoff_worker, (void *)i);
	weft_wg_wait(&wg);
}

/* ---- wake ------------------------------------------------------------------- */

#define WAKE_N 4
static weft_chan *c_go, *c_wake;

static void wake_waiter(void *a)
{
	int v;
	(void)a;
	weft_chan_recv(c_wake, &v);
	weft_wg_done(&wg);
}

static void waker(void *a)
{
	int v = 1;
	(void)a;
	/* A waiter is there: each send readies it and does not block. */
	for (int i = 0; i < WAKE_N / 2; i++)
		weft_chan_send(c_wake, &v);
	weft_chan_recv(c_go, &v); /* its one block */
	for (int i = 0; i < WAKE_N / 2; i++)
		weft_chan_send(c_wake, &v);
	compute(10 * UNIT); /* one P: the last two wait runnable meanwhile */
}

__attribute__((noinline)) static void main_wake(void)
{
	int v = 1;

	c_go = weft_chan_make(sizeof(int), 0);
	c_wake = weft_chan_make(sizeof(int), 0);
	weft_wg_add(&wg, WAKE_N);
	for (int i = 0; i < WAKE_N; i++)
		spawn_blocked(wake_waiter);
	spawn_blocked(waker);
	weft_chan_send(c_go, &v);
	weft_wg_wait(&wg);
	weft_chan_free(c_go);
	weft_chan_free(c_wake);
}

/* ---- net -------------------------------------------------------------------- */

#define NET_BYTES (64 << 10)
#define NET_CHUNK 4096
#define NET_REQ "request"

static pthread_t net_peer_thread;
static bool net_peer_started;
static int net_sp[2];

/* The client: a plain thread, outside the scheduler, with plain POSIX calls. */
static void *net_peer(void *a)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons((uint16_t)(uintptr_t)a) };
	char buf[8];
	size_t got = 0;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		die("net: the client cannot connect");
	compute(10 * UNIT); /* it thinks before it asks: the server waits in net read */
	if (write(fd, NET_REQ, strlen(NET_REQ)) != (ssize_t)strlen(NET_REQ))
		die("net: the client's write");
	while (got < 2) {
		ssize_t n = read(fd, buf + got, sizeof(buf) - got);
		if (n <= 0)
			die("net: the client's read");
		got += (size_t)n;
	}
	if (memcmp(buf, "ok", 2) != 0)
		die("net: the client's answer");
	close(fd);
	return NULL;
}

static void net_server(void *a)
{
	char addr[64], req[sizeof(NET_REQ)];
	size_t got = 0;
	(void)a;
	int lfd = weft_net_listen("127.0.0.1:0", 4);
	if (lfd < 0 || weft_net_addr(lfd, addr, sizeof(addr)) < 0 || !strrchr(addr, ':'))
		die("net: listen");
	long port = atol(strrchr(addr, ':') + 1);
	if (pthread_create(&net_peer_thread, NULL, net_peer, (void *)(uintptr_t)port) != 0)
		die("net: pthread_create");
	net_peer_started = true;
	int fd = weft_net_accept(lfd, -1);
	if (fd < 0)
		die("net: accept");
	while (got < strlen(NET_REQ)) {
		ssize_t n = weft_read(fd, req + got, strlen(NET_REQ) - got, -1);
		if (n <= 0)
			die("net: the server's read");
		got += (size_t)n;
	}
	if (memcmp(req, NET_REQ, got) != 0 || weft_write(fd, "ok", 2, -1) != 2)
		die("net: the server's answer");
	weft_close(fd);
	weft_close(lfd);
	weft_wg_done(&wg);
}

static void net_reader(void *a)
{
	char buf[NET_CHUNK];
	long got = 0;
	(void)a;
	if (weft_fd_wait(net_sp[1], WEFT_FD_READ, -1) != 0) /* at one P: before the writer runs */
		die("net: the reader's wait");
	while (got < NET_BYTES) {
		ssize_t n = weft_read(net_sp[1], buf, sizeof(buf), -1);
		if (n <= 0)
			die("net: the reader's read");
		got += n;
		compute(UNIT / 16 * n / NET_CHUNK); /* slower than the writer */
	}
	weft_wg_done(&wg);
}

static void net_writer(void *a)
{
	static char buf[NET_BYTES];
	(void)a;
	memset(buf, 'w', sizeof(buf));
	if (weft_write(net_sp[0], buf, sizeof(buf), -1) != (ssize_t)sizeof(buf))
		die("net: the writer's write");
	weft_wg_done(&wg);
}

__attribute__((noinline)) static void main_net(void)
{
	int small = 4096;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, net_sp) != 0 ||
	    setsockopt(net_sp[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)) != 0)
		die("net: socketpair");
	weft_wg_add(&wg, 1);
	go(net_server, NULL);
	weft_wg_wait(&wg);
	weft_wg_add(&wg, 2);
	spawn_blocked(net_reader);
	spawn_blocked(net_writer);
	weft_wg_wait(&wg);
	weft_close(net_sp[0]);
	weft_close(net_sp[1]);
}

/* ---- netherd ---------------------------------------------------------------- */

#define HERD 4
static int herd_sp[2];

/* read(2) and weft_fd_wait, four tasks on one fd: a waiter whose read
 * said EAGAIN before an edge that another waiter's wake took must still
 * see the byte (or the end of file) and not sleep for ever. */
static void herd_waiter(void *a)
{
	char ch;
	(void)a;
	for (;;) {
		ssize_t n = read(herd_sp[1], &ch, 1);
		if (n == 0)
			break; /* the pitcher closed its end */
		if (n == 1) {
			if (weft_write(herd_sp[1], &ch, 1, -1) != 1)
				die("netherd: the reply");
			continue;
		}
		if (errno != EAGAIN)
			die("netherd: read");
		if (weft_fd_wait(herd_sp[1], WEFT_FD_READ, -1) != 0)
			die("netherd: weft_fd_wait");
	}
	weft_wg_done(&wg);
}

static void herd_pitcher(void *a)
{
	char ch = 'p';
	(void)a;
	for (long i = 0; i < n_items; i++)
		if (weft_write(herd_sp[0], &ch, 1, -1) != 1 ||
		    weft_read(herd_sp[0], &ch, 1, -1) != 1)
			die("netherd: the pitch");
	weft_close(herd_sp[0]); /* the herd reads the end of file */
	weft_wg_done(&wg);
}

__attribute__((noinline)) static void main_netherd(void)
{
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, herd_sp) != 0)
		die("netherd: socketpair");
	weft_wg_add(&wg, HERD + 1);
	for (int i = 0; i < HERD; i++)
		spawn_blocked(herd_waiter);
	go(herd_pitcher, NULL);
	weft_wg_wait(&wg);
	weft_close(herd_sp[1]);
}

/* ---- bus, busfan ------------------------------------------------------------ */

#define BUS_PRODUCERS 4
#define BUS_CONSUMERS 4
#define BUS_WORK 20000L  /* per message, in the bus (or its deliver task) */
#define BUS_EDGE 1000L   /* per message, in a producer and in a consumer */
static weft_chan *bus_in, *bus_out[BUS_CONSUMERS];
static weft_wg bus_wg = WEFT_WG_INIT, bus_deliveries = WEFT_WG_INIT;
static bool bus_fan;

static void bus_producer(void *a)
{
	long first = (long)a;
	for (long i = first; i < n_items; i += BUS_PRODUCERS) {
		compute(BUS_EDGE);
		if (weft_chan_send(bus_in, &i) != 0)
			die("bus: send");
	}
	weft_wg_done(&bus_wg);
}

static void bus_consumer(void *a)
{
	long msg;

	while (weft_chan_recv(bus_out[(long)a], &msg) == 0)
		compute(BUS_EDGE);
	weft_wg_done(&bus_wg);
}

/* One message's work and its hand-off to its subscriber. */
static void bus_forward(long msg)
{
	compute(BUS_WORK);
	if (weft_chan_send(bus_out[msg % BUS_CONSUMERS], &msg) != 0)
		die("bus: forward");
}

static void bus_deliver(void *a)
{
	bus_forward((long)a);
	weft_wg_done(&bus_deliveries);
}

static void bus(void *a)
{
	long msg;
	(void)a;
	printf("bus=%llu\n", (unsigned long long)weft_self());
	for (long i = 0; i < n_items; i++) {
		if (weft_chan_recv(bus_in, &msg) != 0)
			die("bus: receive");
		if (bus_fan) {
			weft_wg_add(&bus_deliveries, 1);
			go(bus_deliver, (void *)msg);
		} else {
			bus_forward(msg);
		}
	}
	weft_wg_wait(&bus_deliveries);
	for (int i = 0; i < BUS_CONSUMERS; i++)
		weft_chan_close(bus_out[i]);
	weft_wg_done(&bus_wg);
}

__attribute__((noinline)) static void main_bus(void)
{
	bus_in = weft_chan_make(sizeof(long), 16);
	for (int i = 0; i < BUS_CONSUMERS; i++)
		bus_out[i] = weft_chan_make(sizeof(long), 16);
	weft_wg_add(&bus_wg, BUS_PRODUCERS + BUS_CONSUMERS + 1);
	for (long i = 0; i < BUS_CONSUMERS; i++)
		go(bus_consumer, (void *)i);
	go(bus, NULL);
	for (long i = 0; i < BUS_PRODUCERS; i++)
		go(bus_producer, (void *)i);
	weft_wg_wait(&bus_wg);
	weft_chan_free(bus_in);
	for (int i = 0; i < BUS_CONSUMERS; i++)
		weft_chan_free(bus_out[i]);
}

/* ---- pool -------------------------------------------------------------------- */

#define POOL_ITEMS 2000
#define POOL_WORK 20000L
static weft_chan *pool_items;

static void pool_worker(void *a)
{
	long item;
	(void)a;
	printf("worker=%llu\n", (unsigned long long)weft_self());
	while (weft_chan_recv(pool_items, &item) == 0)
		compute(POOL_WORK);
	weft_wg_done(&wg);
}

__attribute__((noinline)) static void main_pool(void)
{
	pool_items = weft_chan_make(sizeof(long), POOL_ITEMS);
	weft_wg_add(&wg, n_items);
	for (long i = 0; i < n_items; i++)
		go(pool_worker, NULL);
	for (long i = 0; i < POOL_ITEMS; i++)
		if (weft_chan_send(pool_items, &i) != 0)
			die("pool: send");
	weft_chan_close(pool_items);
	weft_wg_wait(&wg);
	weft_chan_free(pool_items);
}

/* ---- grain ------------------------------------------------------------------- */

#define GRAIN_TOTAL 8000000L

static void grain_item(void *a)
{
	compute((long)a);
	weft_wg_done(&wg);
}

__attribute__((noinline)) static void main_grain(void)
{
	long each = n_items > 0 ? n_items : 1, n = GRAIN_TOTAL / each;

	if (n < 1000)
		n = 1000; /* coarse items: enough that one stretched by the OS is not the span */
	weft_wg_add(&wg, n);
	for (long i = 0; i < n; i++)
		go(grain_item, (void *)each);
	weft_wg_wait(&wg);
}

/* ---- stw --------------------------------------------------------------------- */

#define STW_WORK 8000000L
static _Atomic bool stw_stop;

static void stw_spinner(void *a)
{
	(void)a;
	while (!atomic_load_explicit(&stw_stop, memory_order_relaxed)) {
		compute(10000);
		weft_safepoint();
	}
	weft_wg_done(&wg);
}

__attribute__((noinline)) static void main_stw(void)
{
	struct timespec ts = { 0, 20 * 1000000L };
	int others = weft_procs() - 1;

	weft_wg_add(&wg, others);
	for (int i = 0; i < others; i++)
		go(stw_spinner, NULL);
	compute(STW_WORK);
	weft_stop_the_world("tshape");
	/* The pause: at least 20 ms, whatever the machine (EINTR: the rest), in a
	 * marked syscall, so that no P runs a task in it. */
	weft_syscall_enter();
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
	weft_syscall_exit();
	weft_start_the_world();
	compute(STW_WORK);
	atomic_store_explicit(&stw_stop, true, memory_order_relaxed);
	weft_wg_wait(&wg);
}

/* ---- main ------------------------------------------------------------------- */

static void main_task(void *a)
{
	(void)a;
	if (weft_trace_start(path) != 0)
		die("weft_trace_start failed");
	printf("main=%llu\n", (unsigned long long)weft_self());
	if (strcmp(mode, "mix") == 0)
		main_mix();
	else if (strcmp(mode, "tiny") == 0)
		main_tiny();
	else if (strcmp(mode, "contend") == 0)
		main_contend();
	else if (strcmp(mode, "serial") == 0)
		main_serial();
	else if (strcmp(mode, "chain") == 0)
		main_chain();
	else if (strcmp(mode, "strings") == 0)
		main_strings();
	else if (strcmp(mode, "objs") == 0)
		main_objs();
	else if (strcmp(mode, "handoff") == 0)
		main_handoff();
	else if (strcmp(mode, "wake") == 0)
		main_wake();
	else if (strcmp(mode, "net") == 0)
		main_net();
	else if (strcmp(mode, "netherd") == 0)
		main_netherd();
	else if (strcmp(mode, "bus") == 0)
		main_bus();
	else if (strcmp(mode, "busfan") == 0)
		bus_fan = true, main_bus();
	else if (strcmp(mode, "pool") == 0)
		main_pool();
	else if (strcmp(mode, "grain") == 0)
		main_grain();
	else if (strcmp(mode, "stw") == 0)
		main_stw();
	else
		die("unknown mode");
	if (weft_trace_stop() != 0)
		die("weft_trace_stop failed");
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fputs("usage: tshape mix|tiny|contend|serial|chain|objs|strings|handoff|wake|net|netherd|"
		      "bus|busfan|pool|grain|stw FILE [N]\n",
		      stderr);
		return 2;
	}
	mode = argv[1];
	path = argv[2];
	n_items = argc > 3 ? atol(argv[3])
		  : !strcmp(mode, "bus") || !strcmp(mode, "busfan") ? 4000
		  : !strcmp(mode, "pool")			     ? 2
		  : !strcmp(mode, "grain")			     ? 750
								     : 20000;
	setvbuf(stdout, NULL, _IOLBF, 0);
	int r = weft_main(main_task, NULL);
	if (net_peer_started)
		pthread_join(net_peer_thread, NULL); /* a plain thread again: it may block */
	return r == 0 ? 0 : 1;
}

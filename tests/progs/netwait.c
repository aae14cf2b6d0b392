/*
 * netwait.c - child program for check_net: the deadlock report and tasks
 * that wait on sockets.
 *
 *   netwait read ADDR    dial ADDR (the test's listener); three tasks wait
 *                        on a channel, the main task prints "ready" and
 *                        waits in weft_read for the test to write "go":
 *                        NOT a deadlock (the peer is outside the program),
 *                        must print "woken by the socket" and exit 0
 *   netwait fdwait ADDR  the same, waiting in weft_fd_wait(WEFT_FD_READ)
 *   netwait accept       listen on 127.0.0.1:0, print "ready ADDR", wait
 *                        in weft_net_accept for the test to connect and
 *                        write "go": NOT a deadlock, must exit 0
 *   netwait chans        a task's socket read times out (a 20 ms
 *                        deadline), another's is woken by data, an accept
 *                        is ended by weft_close; then every task waits on
 *                        a channel nobody sends on: a deadlock, which the
 *                        runtime must report (status 2) although tasks
 *                        waited on sockets before
 *   netwait lastwaiter   one task waits on a socket with no deadline (no
 *                        timer anywhere), so the idle P's M becomes the
 *                        poller in epoll_wait(-1); main computes ~30 ms,
 *                        writes, and then blocks: its P's poll takes the
 *                        edge, the waiter leaves as the last one, and both
 *                        block on a channel: a deadlock, to be reported.
 *                        With WEFT_DEBUG_POLL_DELAY_US (--enable-debug) the
 *                        poller waits between deciding to block and
 *                        blocking, so the last waiter leaves just then: a
 *                        poller that blocked anyway (nobody left to wake
 *                        it) hid the deadlock for ever
 * Anything unexpected prints "netwait: ..." and exits 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft.h>

static weft_chan *never;
static weft_wg parked = WEFT_WG_INIT;
static weft_wg finished = WEFT_WG_INIT;

static void die(const char *what, long r)
{
	printf("netwait: %s: %ld (%s)\n", what, r, r < 0 ? weft_strerror((int)r) : "");
	fflush(stdout);
	exit(1);
}

/* Waits on the channel until it is closed. */
static void chan_waiter(void *arg)
{
	int v;

	(void)arg;
	weft_wg_done(&parked);
	if (weft_chan_recv(never, &v) != -EPIPE)
		die("chan_waiter: the channel was not closed", 0);
	weft_wg_done(&finished);
}

static void start_chan_waiters(void)
{
	never = weft_chan_make(sizeof(int), 0);
	weft_wg_add(&parked, 3);
	weft_wg_add(&finished, 3);
	for (int i = 0; i < 3; i++)
		weft_go(chan_waiter, NULL);
	weft_wg_wait(&parked);
}

/* Reads "go" from @fd, waiting as @mode says; then ends the waiters. */
static void wait_go(int fd, const char *mode)
{
	char buf[8] = { 0 };
	ssize_t n;

	if (strcmp(mode, "fdwait") == 0) {
		int r = weft_fd_wait(fd, WEFT_FD_READ, -1);
		if (r != 0)
			die("weft_fd_wait", r);
	}
	n = weft_read(fd, buf, 2, -1);
	if (n != 2 || memcmp(buf, "go", 2) != 0)
		die("weft_read (want \"go\")", (long)n);
	weft_chan_close(never);
	weft_wg_wait(&finished);
	weft_chan_free(never);
	weft_close(fd);
	printf("woken by the socket\n");
	fflush(stdout);
}

struct args {
	const char *mode, *addr;
};

static void main_read(void *arg)
{
	struct args *a = arg;
	int fd = weft_net_dial(a->addr, -1);

	if (fd < 0)
		die("weft_net_dial", fd);
	start_chan_waiters();
	printf("ready\n");
	fflush(stdout);
	wait_go(fd, a->mode);
}

static void main_accept(void *arg)
{
	char addr[128];
	int lfd = weft_net_listen("127.0.0.1:0", 0), fd, r;

	(void)arg;
	if (lfd < 0)
		die("weft_net_listen", lfd);
	if ((r = weft_net_addr(lfd, addr, sizeof(addr))) < 0)
		die("weft_net_addr", r);
	start_chan_waiters();
	printf("ready %s\n", addr);
	fflush(stdout);
	fd = weft_net_accept(lfd, -1);
	if (fd < 0)
		die("weft_net_accept", fd);
	weft_close(lfd);
	wait_go(fd, "read");
}

/* ---- chans: socket waits that end, then a real deadlock ------------------ */

static int pair_a, pair_b, chans_lfd;
static weft_wg net_done = WEFT_WG_INIT;

static void times_out(void *arg)
{
	char c;
	ssize_t n = weft_read(pair_a, &c, 1, weft_now() + 20 * 1000000LL);

	(void)arg;
	if (n != -ETIMEDOUT)
		die("a read on a silent socket (want -ETIMEDOUT)", (long)n);
	weft_wg_done(&net_done);
}

static void gets_data(void *arg)
{
	char c;
	ssize_t n = weft_read(pair_b, &c, 1, -1);

	(void)arg;
	if (n != 1)
		die("a read woken by data", (long)n);
	weft_wg_done(&net_done);
}

static weft_chan *handshake;

static void accept_closed(void *arg)
{
	int r, one = 1;

	(void)arg;
	/* At one P the main task runs again only once this task parked in
	 * the accept (it keeps the P after the send); at two it may run at
	 * once, and the close may come first (-EBADF). */
	weft_chan_send(handshake, &one);
	r = weft_net_accept(chans_lfd, -1);
	if (r != -ECANCELED && r != -EBADF)
		die("an accept ended by weft_close", r);
	weft_wg_done(&net_done);
}

static void stuck(void *arg)
{
	int v;

	(void)arg;
	weft_chan_recv(never, &v);
}

static void main_chans(void *arg)
{
	char addr[128];
	int lfd = weft_net_listen("127.0.0.1:0", 0), r;

	(void)arg;
	if (lfd < 0 || weft_net_addr(lfd, addr, sizeof(addr)) < 0)
		die("weft_net_listen", lfd);
	pair_a = weft_net_dial(addr, -1);
	pair_b = weft_net_accept(lfd, -1);
	if (pair_a < 0 || pair_b < 0)
		die("dial/accept", pair_a < 0 ? pair_a : pair_b);
	chans_lfd = weft_net_listen("127.0.0.1:0", 0);
	if (chans_lfd < 0)
		die("weft_net_listen", chans_lfd);
	handshake = weft_chan_make(sizeof(int), 0);
	weft_wg_add(&net_done, 3);
	weft_go(times_out, NULL);
	weft_go(gets_data, NULL);
	weft_go(accept_closed, NULL);
	weft_chan_recv(handshake, &r);
	weft_yield();
	if (weft_write(pair_a, "x", 1, -1) != 1)
		die("weft_write", -1);
	weft_close(chans_lfd);
	weft_wg_wait(&net_done);
	never = weft_chan_make(sizeof(int), 0);
	weft_go(stuck, NULL);
	weft_go(stuck, NULL);
	printf("every socket wait is over\n");
	fflush(stdout);
	stuck(NULL);
}

/* ---- lastwaiter: the last waiter leaves while the poller decides to block ---- */

static void last_waiter(void *arg)
{
	gets_data(arg);
	stuck(NULL);
}

static void main_lastwaiter(void *arg)
{
	char addr[128];
	int lfd = weft_net_listen("127.0.0.1:0", 0);
	int64_t until;

	(void)arg;
	if (lfd < 0 || weft_net_addr(lfd, addr, sizeof(addr)) < 0)
		die("weft_net_listen", lfd);
	pair_a = weft_net_dial(addr, -1);
	pair_b = weft_net_accept(lfd, -1);
	if (pair_a < 0 || pair_b < 0)
		die("dial/accept", pair_a < 0 ? pair_a : pair_b);
	weft_close(lfd);
	never = weft_chan_make(sizeof(int), 0);
	weft_wg_add(&net_done, 1);
	weft_go(last_waiter, NULL);
	/* Compute, holding this P and arming no timer, while the waiter
	 * parks and the other P's M goes to the poller. */
	until = weft_now() + 30 * 1000000LL;
	while (weft_now() < until)
		weft_safepoint();
	if (weft_write(pair_a, "x", 1, -1) != 1)
		die("weft_write", -1);
	weft_wg_wait(&net_done);
	printf("every socket wait is over\n");
	fflush(stdout);
	stuck(NULL);
}

int main(int argc, char **argv)
{
	struct args a = { argc > 1 ? argv[1] : "", argc > 2 ? argv[2] : "" };
	weft_fn fn;

	if (strcmp(a.mode, "read") == 0 || strcmp(a.mode, "fdwait") == 0)
		fn = main_read;
	else if (strcmp(a.mode, "accept") == 0)
		fn = main_accept;
	else if (strcmp(a.mode, "chans") == 0)
		fn = main_chans;
	else if (strcmp(a.mode, "lastwaiter") == 0)
		fn = main_lastwaiter;
	else {
		fprintf(stderr, "usage: netwait read|fdwait ADDR | accept | chans | lastwaiter\n");
		return 1;
	}
	return weft_main(fn, &a) == 0 ? 0 : 1;
}

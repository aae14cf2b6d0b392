/*
 * check_net.c - Check suite "net": sockets and file descriptors on the
 * scheduler (weft_fd_wait, weft_read, weft_write, weft_close,
 * weft_net_listen/accept/dial/addr), written black-box from their doc
 * blocks in weft.h.
 *
 * What is asserted: every byte of many concurrent echoes comes back in
 * order; 10,000 tasks blocked in weft_read cost no thread each and all wake;
 * a deadline never returns early and a past one never waits; weft_close
 * wakes waiters with -ECANCELED; regular files work and do not hold the
 * P; the deadlock report never fires while a task waits on a socket and
 * still does when all wait on channels (child program tests/progs/netwait);
 * bad input gets its -errno; plain threads get blocking POSIX behaviour;
 * weft_write's short-count convention; -EPIPE, never SIGPIPE; unix and
 * IPv6 addresses; port 0.
 *
 * Timing is asserted only as a lower bound (a deadline is not early).
 * Nothing synchronises by sleeping: where a test needs a task to be parked
 * before it acts, it runs at one P, where a task that handed a value over
 * a channel keeps the P until it parks (see close_waiters_park).
 *
 * Scale under sanitizers: the echo test sends 200 messages per connection
 * in a plain build, 50 when WEFT_SAN_CFLAGS (which make check exports
 * from configure: the ASan, UBSan and TSan stages of .ci/run set it) names
 * a sanitizer, 20 under TSan (50 took 100 s a run there, on 2 CPUs); the
 * 2,000 connections stay. Under TSan, 4,000 idle connections instead of
 * 10,000 (test_idle_connections says why).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <linux/netlink.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "netutil.h"
#include "testutil.h"

#define MS 1000000LL

extern char **environ;

static int procs_of(int i)
{
	return i % 2 + 1;
}

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static uint32_t draw(uint64_t *s, uint32_t n)
{
	*s = mix(*s);
	return (uint32_t)(*s % n);
}

/* A sanitizer build: WEFT_SAN_CFLAGS is configure's SAN_CFLAGS, which
 * make check exports (the ASan, UBSan and TSan stages of .ci/run set it). */
static bool sanitized(void)
{
	const char *san = getenv("WEFT_SAN_CFLAGS");

	return san && strstr(san, "-fsanitize=");
}

/* ThreadSanitizer: the build says so even when run by hand. */
static bool tsan(void)
{
#ifdef __SANITIZE_THREAD__
	return true;
#else
	const char *san = getenv("WEFT_SAN_CFLAGS");

	return san && strstr(san, "-fsanitize=thread");
#endif
}

/* Threads of this process now (/proc/self/status). */
static int threads_now(void)
{
	char line[256];
	int n = -1;
	FILE *f = fopen("/proc/self/status", "r");

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "Threads:", 8) == 0)
			n = atoi(line + 8);
	fclose(f);
	return n;
}

/*
 * At least @need descriptors: the soft limit up to the hard one, and the
 * hard one too if we may (root with CAP_SYS_RESOURCE); otherwise fail
 * saying so.
 */
static void raise_nofile(rlim_t need)
{
	struct rlimit rl;

	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_cur >= need)
		return;
	if (rl.rlim_max < need) {
		struct rlimit up = { need, need };
		if (setrlimit(RLIMIT_NOFILE, &up) == 0)
			return;
		ck_abort_msg(
			"this test needs %lu file descriptors, but RLIMIT_NOFILE's hard limit "
			"is %lu and cannot be raised here: run it with `ulimit -Hn %lu` or more",
			(unsigned long)need, (unsigned long)rl.rlim_max, (unsigned long)need);
	}
	rl.rlim_cur = rl.rlim_max;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
}

/* Listen on @addr and put the address it got in @out; fail on error. */
static int listen_at(const char *addr, char *out, size_t len)
{
	int fd = weft_net_listen(addr, 0), r;

	if (fd < 0)
		ck_abort_msg("weft_net_listen(\"%s\"): %s", addr, weft_strerror(fd));
	r = weft_net_addr(fd, out, len);
	if (r <= 0)
		ck_abort_msg("weft_net_addr: %s", weft_strerror(r));
	return fd;
}

/* A connected TCP pair over loopback: *a dialed, *b accepted. */
static void tcp_pair(int *a, int *b)
{
	char addr[128];
	int lfd = listen_at("127.0.0.1:0", addr, sizeof(addr));

	*a = weft_net_dial(addr, -1);
	if (*a < 0)
		ck_abort_msg("weft_net_dial(%s): %s", addr, weft_strerror(*a));
	*b = weft_net_accept(lfd, -1);
	if (*b < 0)
		ck_abort_msg("weft_net_accept: %s", weft_strerror(*b));
	ck_assert_int_eq(weft_close(lfd), 0);
}

/* Write all of @s, or fail. */
static void put(int fd, const char *s)
{
	ssize_t n = weft_write(fd, s, strlen(s), -1);

	if (n != (ssize_t)strlen(s))
		ck_abort_msg("weft_write: %zd (%s)", n, n < 0 ? weft_strerror((int)n) : "short");
}

/* Read exactly @len bytes into @buf, or fail. */
static void get(int fd, void *buf, size_t len, int64_t deadline)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = weft_read(fd, (char *)buf + got, len - got, deadline);
		if (n <= 0)
			ck_abort_msg("weft_read after %zu of %zu bytes: %zd (%s)", got, len, n,
				     n < 0 ? weft_strerror((int)n) : "end of file");
		got += (size_t)n;
	}
}

/* ---- echo: 2,000 connections, 200 messages each ----------------------------
 *
 * Message sizes up to 64 KiB from a seeded generator, log-uniform: a
 * power of two 2^e with e uniform in 0..15, then uniform in [2^e, 2^(e+1)].
 * Half the messages are under 256 bytes, as in real traffic, and every
 * size class up to 64 KiB is hit thousands of times; the mean is ~6 KiB,
 * so one run echoes ~2.4 GB. Uniform sizes would mean 32 KiB and echo
 * ~13 GB per run: minutes, and more in sanitizer builds, for no more
 * coverage of the code paths (a partial write is a partial write).
 *
 * Contents: each connection's byte stream is a window of a 4 MiB random
 * pattern starting at an offset of its own, so a byte lost, doubled,
 * reordered, or taken from another connection fails the comparison.
 * The writer and the reader of a client are separate tasks (a client
 * that wrote a whole 64 KiB message before reading could fill both
 * directions' buffers and wait for ever, with the server), and the writer
 * is at most two messages ahead of the reader (credits on a channel): with
 * 2,000 writers free to run ahead, the kernel buffered hundreds of MB,
 * went into TCP memory pressure, dropped segments (TcpExtTCPRcvQDrop) and
 * left connections stalled in retransmission back-off for minutes.
 */
#define ECHO_CONNS 2000
#define ECHO_MSGS 200
#define ECHO_MSGS_SAN 50
#define ECHO_MSGS_TSAN 20
#define ECHO_MAX 65536
#define PAT_LEN (4u << 20)

#define ECHO_AHEAD 2

struct echo_client {
	uint64_t seed;
	size_t base; /* offset of the stream in the pattern */
	uint64_t total;
	int fd;
	weft_chan *credits; /* ECHO_AHEAD tokens: messages sent, not yet back */
};

static unsigned char *pat; /* PAT_LEN + ECHO_MAX: the tail repeats the head */
static char echo_addr[128];
static int echo_msgs;
static struct echo_client *clients;
static weft_wg echo_wg = WEFT_WG_INIT;
static _Atomic uint64_t echoed;
static _Atomic int echo_accepted;

static void make_pattern(uint64_t seed)
{
	pat = malloc(PAT_LEN + ECHO_MAX);
	ck_assert_ptr_nonnull(pat);
	for (size_t i = 0; i < PAT_LEN; i += 8) {
		uint64_t x = mix(seed + i);
		memcpy(pat + i, &x, 8);
	}
	memcpy(pat + PAT_LEN, pat, ECHO_MAX);
}

static size_t msg_size(uint64_t *s)
{
	uint32_t e = draw(s, 16);

	return ((size_t)1 << e) + draw(s, (1u << e) + 1);
}

static void echo_server_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char buf[16384];
	ssize_t n;

	while ((n = weft_read(fd, buf, sizeof(buf), -1)) > 0) {
		ssize_t w = weft_write(fd, buf, (size_t)n, -1);
		if (w != n)
			ck_abort_msg("server: weft_write of %zd: %zd (%s)", n, w,
				     w < 0 ? weft_strerror((int)w) : "short");
	}
	if (n < 0)
		ck_abort_msg("server: weft_read: %s", weft_strerror((int)n));
	ck_assert_int_eq(weft_close(fd), 0);
	weft_wg_done(&echo_wg);
}

static void echo_acceptor(void *arg)
{
	int lfd = (int)(intptr_t)arg;

	for (int i = 0; i < ECHO_CONNS; i++) {
		int fd = weft_net_accept(lfd, -1);
		if (fd < 0)
			ck_abort_msg("weft_net_accept #%d: %s", i, weft_strerror(fd));
		atomic_fetch_add(&echo_accepted, 1);
		go_ok(echo_server_conn, (void *)(intptr_t)fd);
	}
}

static void echo_reader(void *arg)
{
	struct echo_client *c = arg;
	unsigned char buf[32768];
	uint64_t got = 0, s = c->seed, msg_end;
	int token = 1, m = 0;
	ssize_t n;

	msg_end = echo_msgs ? msg_size(&s) : 0;
	while ((n = weft_read(c->fd, buf, sizeof(buf), -1)) > 0) {
		if (got + (uint64_t)n > c->total)
			ck_abort_msg("client %ld: %llu bytes back, more than the %llu sent",
				     (long)(c - clients), (unsigned long long)(got + (uint64_t)n),
				     (unsigned long long)c->total);
		if (memcmp(buf, pat + (c->base + got) % PAT_LEN, (size_t)n) != 0)
			ck_abort_msg("client %ld: bytes %llu..%llu came back different",
				     (long)(c - clients), (unsigned long long)got,
				     (unsigned long long)(got + (uint64_t)n));
		got += (uint64_t)n;
		/* A credit back for each message complete. */
		while (m < echo_msgs && got >= msg_end) {
			if (weft_chan_send(c->credits, &token) != 0)
				ck_abort_msg("client %ld: credits", (long)(c - clients));
			if (++m < echo_msgs)
				msg_end += msg_size(&s);
		}
	}
	if (n < 0)
		ck_abort_msg("client %ld: weft_read: %s", (long)(c - clients),
			     weft_strerror((int)n));
	if (got != c->total)
		ck_abort_msg("client %ld: end of file after %llu of %llu bytes",
			     (long)(c - clients), (unsigned long long)got,
			     (unsigned long long)c->total);
	atomic_fetch_add(&echoed, got);
	ck_assert_int_eq(weft_close(c->fd), 0);
	weft_chan_free(c->credits);
	weft_wg_done(&echo_wg);
}

static void echo_client(void *arg)
{
	struct echo_client *c = arg;
	uint64_t s = c->seed, off = 0;
	int token;

	c->fd = weft_net_dial(echo_addr, -1);
	if (c->fd < 0)
		ck_abort_msg("client %ld: weft_net_dial: %s", (long)(c - clients),
			     weft_strerror(c->fd));
	c->credits = weft_chan_make(sizeof(int), ECHO_AHEAD + 1);
	ck_assert_ptr_nonnull(c->credits);
	for (int k = 0; k < ECHO_AHEAD; k++)
		ck_assert_int_eq(weft_chan_send(c->credits, &k), 0);
	go_ok(echo_reader, c);
	for (int m = 0; m < echo_msgs; m++) {
		size_t len = msg_size(&s);
		ssize_t w;

		if (weft_chan_recv(c->credits, &token) != 0)
			ck_abort_msg("client %ld: credits", (long)(c - clients));
		w = weft_write(c->fd, pat + (c->base + off) % PAT_LEN, len, -1);
		if (w != (ssize_t)len)
			ck_abort_msg("client %ld: weft_write of %zu: %zd (%s)", (long)(c - clients),
				     len, w, w < 0 ? weft_strerror((int)w) : "short");
		off += len;
	}
	/* Our end of the stream: the server sees end of file, closes, and the
	 * reader sees it after the last byte. */
	ck_assert_int_eq(shutdown(c->fd, SHUT_WR), 0);
}

static void main_echo(void *arg)
{
	int lfd = listen_at("127.0.0.1:0", echo_addr, sizeof(echo_addr));
	uint64_t want = 0;

	(void)arg;
	weft_wg_add(&echo_wg, 2 * ECHO_CONNS);
	go_ok(echo_acceptor, (void *)(intptr_t)lfd);
	for (int i = 0; i < ECHO_CONNS; i++) {
		struct echo_client *c = &clients[i];
		uint64_t s;

		c->seed = mix(0xec40 + (uint64_t)i);
		c->base = (size_t)(mix(c->seed) % PAT_LEN);
		s = c->seed;
		c->total = 0;
		for (int m = 0; m < echo_msgs; m++)
			c->total += msg_size(&s);
		want += c->total;
		go_ok(echo_client, c);
	}
	weft_wg_wait(&echo_wg);
	ck_assert_int_eq(atomic_load(&echo_accepted), ECHO_CONNS);
	ck_assert_uint_eq(atomic_load(&echoed), want);
	ck_assert_int_eq(weft_close(lfd), 0);
}

START_TEST(test_echo)
{
	raise_nofile(4 * ECHO_CONNS + 64);
	atomic_store(&echoed, 0);
	atomic_store(&echo_accepted, 0);
	echo_msgs = tsan() ? ECHO_MSGS_TSAN : sanitized() ? ECHO_MSGS_SAN : ECHO_MSGS;
	make_pattern(0x5eed);
	clients = calloc(ECHO_CONNS, sizeof(*clients));
	ck_assert_ptr_nonnull(clients);
	run_main(procs_of(_i), main_echo, NULL);
	free(clients);
	free(pat);
}
END_TEST

/* ---- 10,000 idle connections -------------------------------------------------
 *
 * The peers live in a child process forked before weft_main (a plain
 * program: connect, wait for "go" on a pipe, write a byte to every
 * connection, read every reply), so this process holds only its 10,000
 * ends: CI's hard limit of descriptors may be 20,000, and both ends in one
 * process would not fit.
 *
 * Under ThreadSanitizer, 4,000: every task is a TSan fiber, and TSan's
 * internal allocator runs out between 6,000 and 8,000 live ones ("FATAL:
 * ThreadSanitizer: internal allocator is out of memory", seen with tasks
 * that only wait on a channel).
 */
#define IDLE_CONNS 10000
#define IDLE_CONNS_TSAN 4000

static _Atomic int idle_entered;
static int idle_conns;
static weft_wg idle_wg = WEFT_WG_INIT;
static int idle_lfd, idle_go;
static int idle_threads, idle_threads_before;

static void idle_reader(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char c = 0;
	ssize_t n;

	atomic_fetch_add(&idle_entered, 1);
	n = weft_read(fd, &c, 1, -1);
	if (n != 1 || c != 'x')
		ck_abort_msg("idle reader: weft_read: %zd (%s), byte %d", n,
			     n < 0 ? weft_strerror((int)n) : "", c);
	if (weft_write(fd, "y", 1, -1) != 1)
		ck_abort_msg("idle reader: weft_write failed");
	ck_assert_int_eq(weft_close(fd), 0);
	weft_wg_done(&idle_wg);
}

static void main_idle(void *arg)
{
	int64_t give_up = weft_now() + 120000 * MS;

	(void)arg;
	weft_wg_add(&idle_wg, idle_conns);
	for (int i = 0; i < idle_conns; i++) {
		int fd = weft_net_accept(idle_lfd, give_up);
		if (fd < 0)
			ck_abort_msg("accepted %d of %d connections, then: %s", i, idle_conns,
				     weft_strerror(fd));
		go_ok(idle_reader, (void *)(intptr_t)fd);
	}
	/* Every reader has called weft_read; let the last ones park. */
	while (atomic_load(&idle_entered) < idle_conns)
		weft_yield();
	for (int i = 0; i < 100; i++)
		weft_yield();
	idle_threads = threads_now();
	ck_assert_int_eq(write(idle_go, "g", 1), 1);
	weft_wg_wait(&idle_wg);
}

static void idle_peer(const struct sockaddr_in *sa, int go)
{
	static int fds[IDLE_CONNS];
	char c;

	for (int i = 0; i < idle_conns; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fds[i] < 0 || connect(fds[i], (const struct sockaddr *)sa, sizeof(*sa)) != 0) {
			fprintf(stderr, "idle peer: connection %d: %s\n", i, strerror(errno));
			_exit(10);
		}
	}
	if (read(go, &c, 1) != 1)
		_exit(11);
	for (int i = 0; i < idle_conns; i++)
		if (write(fds[i], "x", 1) != 1)
			_exit(12);
	for (int i = 0; i < idle_conns; i++)
		if (read(fds[i], &c, 1) != 1 || c != 'y') {
			fprintf(stderr, "idle peer: no reply on connection %d\n", i);
			_exit(13);
		}
	_exit(0);
}

START_TEST(test_idle_connections)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t slen = sizeof(sa);
	int go[2], st, procs = procs_of(_i);
	pid_t pid;

	idle_conns = tsan() ? IDLE_CONNS_TSAN : IDLE_CONNS;
	raise_nofile((rlim_t)idle_conns + 64);
	atomic_store(&idle_entered, 0);
	idle_lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(idle_lfd, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(idle_lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(idle_lfd, 4096), 0);
	ck_assert_int_eq(getsockname(idle_lfd, (struct sockaddr *)&sa, &slen), 0);
	ck_assert_int_eq(pipe2(go, O_CLOEXEC), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(go[1]);
		close(idle_lfd);
		idle_peer(&sa, go[0]);
	}
	close(go[0]);
	idle_go = go[1];
	idle_threads_before = threads_now();
	run_main(procs, main_idle, NULL);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the peer process: status %#x", st);
	/* The thread that called weft_main (and any a sanitizer had) is in
	 * idle_threads_before; then an M per P, the monitor, and a few
	 * more (a spare M, the poller's) - never one per connection. */
	ck_assert_msg(idle_threads <= idle_threads_before + procs + 3,
		      "%d threads with %d connections blocked in weft_read at %d P (%d before "
		      "weft_main)",
		      idle_threads, idle_conns, procs, idle_threads_before);
	fprintf(stderr,
		"check_net: %d threads with %d connections blocked in weft_read at %d P (%d "
		"before weft_main)\n",
		idle_threads, idle_conns, procs, idle_threads_before);
	close(go[1]);
	close(idle_lfd);
}
END_TEST

/* ---- deadlines ------------------------------------------------------------------ */

static _Atomic int flag_ran;

static void set_flag(void *arg)
{
	(void)arg;
	atomic_store(&flag_ran, 1);
}

/* "late" to @fd, 60 ms from now: after the deadlines of the reads before. */
static void later_write(void *arg)
{
	int fd = (int)(intptr_t)arg;

	weft_sleep(60 * MS);
	put(fd, "late");
}

static void main_deadlines(void *arg)
{
	int a, b, lfd, procs = (int)(intptr_t)arg;
	char addr[128], buf[16];
	int64_t d;
	ssize_t n;

	tcp_pair(&a, &b);
	lfd = listen_at("127.0.0.1:0", addr, sizeof(addr));

	/* 50 ms on a silent peer: -ETIMEDOUT, and not before the deadline. */
	d = weft_now() + 50 * MS;
	n = weft_read(a, buf, sizeof(buf), d);
	ck_assert_int_eq(n, -ETIMEDOUT);
	ck_assert_msg(weft_now() >= d, "weft_read returned %lld ns before its deadline",
		      (long long)(d - weft_now()));
	d = weft_now() + 50 * MS;
	ck_assert_int_eq(weft_net_accept(lfd, d), -ETIMEDOUT);
	ck_assert_msg(weft_now() >= d, "weft_net_accept returned %lld ns early",
		      (long long)(d - weft_now()));
	d = weft_now() + 50 * MS;
	ck_assert_int_eq(weft_fd_wait(a, WEFT_FD_READ, d), -ETIMEDOUT);
	ck_assert_msg(weft_now() >= d, "weft_fd_wait returned %lld ns early",
		      (long long)(d - weft_now()));

	/*
	 * A deadline in the past: -ETIMEDOUT at once. "At once" without a
	 * clock: at one P a task spawned just before cannot run unless the
	 * call parks or yields.
	 */
	static const int64_t past[] = { 0, 1 };
	for (int i = 0; i < 3; i++) {
		int64_t p = i < 2 ? past[i] : weft_now() - 1;
		atomic_store(&flag_ran, 0);
		go_ok(set_flag, NULL);
		if (procs == 1)
			ck_assert_int_eq(atomic_load(&flag_ran), 0);
		ck_assert_int_eq(weft_read(a, buf, sizeof(buf), p), -ETIMEDOUT);
		ck_assert_int_eq(weft_net_accept(lfd, p), -ETIMEDOUT);
		ck_assert_int_eq(weft_fd_wait(a, WEFT_FD_READ, p), -ETIMEDOUT);
		if (procs == 1)
			ck_assert_msg(atomic_load(&flag_ran) == 0,
				      "a call with a past deadline (%lld) let another task run",
				      (long long)p);
		while (!atomic_load(&flag_ran))
			weft_yield();
	}

	/* What needs no wait still happens with a past deadline (weft_fd_wait:
	 * test_fd_wait_ready). */
	put(b, "hello");
	d = weft_now() - 1;
	n = weft_read(a, buf, sizeof(buf), d);
	ck_assert_int_eq(n, 5);
	ck_assert_int_eq(memcmp(buf, "hello", 5), 0);
	ck_assert_int_eq(weft_write(a, "hi", 2, d), 2);
	get(b, buf, 2, -1);
	ck_assert_int_eq(memcmp(buf, "hi", 2), 0);
	ck_assert_int_eq(weft_read(a, buf, sizeof(buf), d), -ETIMEDOUT);

	/* Data that comes before the deadline wins; the disarmed deadline does
	 * not strike a later wait on the same fd (the write comes 60 ms later,
	 * well past the first deadline). */
	d = weft_now() + 5000 * MS;
	go_ok(later_write, (void *)(intptr_t)b);
	ck_assert_int_eq(weft_fd_wait(a, WEFT_FD_READ, d), 0);
	get(a, buf, 4, d);
	ck_assert_int_eq(memcmp(buf, "late", 4), 0);
	put(b, "x");
	n = weft_read(a, buf, sizeof(buf), weft_now() + 20 * MS);
	ck_assert_int_eq(n, 1);
	go_ok(later_write, (void *)(intptr_t)b);
	get(a, buf, 4, -1);
	ck_assert_int_eq(memcmp(buf, "late", 4), 0);

	/* A write that cannot finish by its deadline: see test_write_short. */
	ck_assert_int_eq(weft_close(a), 0);
	ck_assert_int_eq(weft_close(b), 0);
	ck_assert_int_eq(weft_close(lfd), 0);
}

START_TEST(test_deadlines)
{
	run_main(procs_of(_i), main_deadlines, (void *)(intptr_t)procs_of(_i));
}
END_TEST

/*
 * weft_fd_wait with a past deadline on an fd that is ready: nothing to
 * wait for, so 0 (the header: "what needs no wait still happens"), for a
 * socket with bytes buffered and one with room to write, whether or not
 * the poller has seen the edge yet.
 */
static void main_fd_wait_ready(void *arg)
{
	int a, b;
	char buf[8];
	int64_t d;

	(void)arg;
	tcp_pair(&a, &b);
	d = weft_now() - 1;
	/* A fresh socket has room to write. */
	ck_assert_int_eq(weft_fd_wait(a, WEFT_FD_WRITE, d), 0);
	put(b, "hello");
	ck_assert_int_eq(weft_fd_wait(a, WEFT_FD_READ, d), 0);
	ck_assert_int_eq(weft_fd_wait(a, WEFT_FD_READ | WEFT_FD_WRITE, d), 0);
	/* After a wait that the edge ended (the poller saw it). */
	get(a, buf, 5, -1);
	weft_yield();
	put(b, "again");
	ck_assert_int_eq(weft_fd_wait(a, WEFT_FD_READ, -1), 0);
	ck_assert_int_eq(weft_fd_wait(a, WEFT_FD_READ, d), 0);
	get(a, buf, 5, -1);
	weft_close(a);
	weft_close(b);
}

START_TEST(test_fd_wait_ready)
{
	run_main(procs_of(_i), main_fd_wait_ready, NULL);
}
END_TEST

/* Many readers with deadlines spread over 1..30 ms, on silent sockets:
 * every one times out, none before its deadline. */
#define NDEAD 200

static _Atomic int dead_early, dead_bad;
static weft_wg dead_wg = WEFT_WG_INIT;

static void deadline_reader(void *arg)
{
	int fd = (int)(intptr_t)arg & 0xffff, k = (int)(intptr_t)arg >> 16;
	char c;
	int64_t d = weft_now() + (1 + k % 30) * MS;
	ssize_t n = k % 2 ? weft_read(fd, &c, 1, d) : weft_fd_wait(fd, WEFT_FD_READ, d);

	if (n != -ETIMEDOUT)
		atomic_fetch_add(&dead_bad, 1);
	if (weft_now() < d)
		atomic_fetch_add(&dead_early, 1);
	weft_wg_done(&dead_wg);
}

static void main_many_deadlines(void *arg)
{
	int a[10], b[10];

	(void)arg;
	for (int i = 0; i < 10; i++)
		tcp_pair(&a[i], &b[i]);
	weft_wg_add(&dead_wg, NDEAD);
	for (int k = 0; k < NDEAD; k++)
		go_ok(deadline_reader, (void *)(intptr_t)(a[k % 10] | k << 16));
	weft_wg_wait(&dead_wg);
	for (int i = 0; i < 10; i++) {
		weft_close(a[i]);
		weft_close(b[i]);
	}
}

START_TEST(test_many_deadlines)
{
	atomic_store(&dead_early, 0);
	atomic_store(&dead_bad, 0);
	run_main(procs_of(_i), main_many_deadlines, NULL);
	ck_assert_msg(atomic_load(&dead_bad) == 0,
		      "%d of %d waits on a silent socket ended without "
		      "-ETIMEDOUT",
		      atomic_load(&dead_bad), NDEAD);
	ck_assert_msg(atomic_load(&dead_early) == 0,
		      "%d of %d waits timed out before their deadline", atomic_load(&dead_early),
		      NDEAD);
}
END_TEST

/* ---- weft_close wakes the waiters -------------------------------------------------
 *
 * close_waiters_park: at one P a waiter that sent on an unbuffered channel
 * to the main task (which then becomes runnable) keeps the P until it
 * parks in its wait; only then can the main task run. So once the main
 * task has received from every waiter, each is parked in its call, and
 * the weft_close that follows must wake it.
 */
struct waiter {
	int kind; /* 0 read, 1 fd_wait read, 2 read with a far deadline, 3 accept */
	int fd;
	long result;
};

static weft_chan *ready;
static weft_wg waiters_wg = WEFT_WG_INIT;

static void waiter_task(void *arg)
{
	struct waiter *w = arg;
	char c;
	int one = 1;

	weft_chan_send(ready, &one);
	switch (w->kind) {
	case 0:
		w->result = weft_read(w->fd, &c, 1, -1);
		break;
	case 1:
		w->result = weft_fd_wait(w->fd, WEFT_FD_READ, -1);
		break;
	case 2:
		w->result = weft_read(w->fd, &c, 1, weft_now() + 600000 * MS);
		break;
	default:
		w->result = weft_net_accept(w->fd, -1);
		break;
	}
	weft_wg_done(&waiters_wg);
}

static void close_waiters_park(struct waiter *ws, int n)
{
	int v;

	weft_wg_add(&waiters_wg, n);
	for (int i = 0; i < n; i++) {
		go_ok(waiter_task, &ws[i]);
		ck_assert_int_eq(weft_chan_recv(ready, &v), 0);
	}
}

static void *thread_closes(void *arg)
{
	return (void *)(intptr_t)weft_close((int)(intptr_t)arg);
}

static void main_close_wakes(void *arg)
{
	struct waiter ws[4];
	int a, b, lfd;
	char addr[128], c;
	pthread_t th;
	void *ret;

	(void)arg;
	ready = weft_chan_make(sizeof(int), 0);
	tcp_pair(&a, &b);
	lfd = listen_at("127.0.0.1:0", addr, sizeof(addr));
	for (int i = 0; i < 4; i++)
		ws[i] = (struct waiter){ i, i == 3 ? lfd : a, 1 };
	/* Three waiters on one socket and one in accept, all parked. */
	close_waiters_park(ws, 4);
	ck_assert_int_eq(weft_close(a), 0);
	ck_assert_int_eq(weft_close(lfd), 0);
	weft_wg_wait(&waiters_wg);
	for (int i = 0; i < 4; i++)
		ck_assert_msg(ws[i].result == -ECANCELED, "waiter %d (kind %d): %ld (%s)", i,
			      ws[i].kind, ws[i].result, weft_strerror((int)ws[i].result));
	/* The fd is closed now. */
	ck_assert_int_eq(weft_read(a, &c, 1, -1), -EBADF);
	ck_assert_int_eq(weft_close(a), -EBADF);

	/* A plain thread's weft_close wakes a parked task too. */
	int a2, b2;
	tcp_pair(&a2, &b2);
	ws[0] = (struct waiter){ 0, a2, 1 };
	close_waiters_park(ws, 1);
	ck_assert_int_eq(pthread_create(&th, NULL, thread_closes, (void *)(intptr_t)a2), 0);
	weft_syscall_enter();
	pthread_join(th, &ret);
	weft_syscall_exit();
	ck_assert_int_eq((int)(intptr_t)ret, 0);
	weft_wg_wait(&waiters_wg);
	ck_assert_int_eq(ws[0].result, -ECANCELED);

	/* A number reused by a new socket starts afresh: a wait on it is a wait
	 * on the new socket, and the old peers' closing does not touch it. */
	int a3, b3;
	tcp_pair(&a3, &b3);
	ws[0] = (struct waiter){ 0, a3, 1 };
	close_waiters_park(ws, 1);
	ck_assert_int_eq(weft_close(b), 0);
	ck_assert_int_eq(weft_close(b2), 0);
	put(b3, "z");
	weft_wg_wait(&waiters_wg);
	ck_assert_int_eq(ws[0].result, 1);
	weft_close(a3);
	weft_close(b3);
	weft_chan_free(ready);
}

START_TEST(test_close_wakes_waiters)
{
	run_main(1, main_close_wakes, NULL);
}
END_TEST

/*
 * At two Ps the waiter may not have parked yet when the fd is closed:
 * then its call finds the fd closed (-EBADF). Either way it returns, and
 * nothing else: over many rounds, no waiter hangs or gets another answer.
 * A waiter that is still waiting 20 s after the close has parked after it
 * and nothing will wake it: the case fails then, naming the waiter (the
 * bound only turns a hang into a message).
 */
static const char *waiter_kind(int k)
{
	static const char *const names[] = { "weft_read", "weft_fd_wait",
					     "weft_read with a far deadline" };

	if (tsan())
		return k == 2 ? "weft_fd_wait with a far deadline" : "weft_fd_wait";
	return names[k];
}
static weft_chan *finished;

static void race_waiter(void *arg)
{
	struct waiter *w = arg;
	char c;
	int kind = w->kind;

	/* Under TSan a weft_read is an fd_wait (see main_close_race). */
	if (tsan())
		kind = kind == 2 ? 3 : 1;
	switch (kind) {
	case 0:
		w->result = weft_read(w->fd, &c, 1, -1);
		break;
	case 1:
		w->result = weft_fd_wait(w->fd, WEFT_FD_READ, -1);
		break;
	case 2:
		w->result = weft_read(w->fd, &c, 1, weft_now() + 600000 * MS);
		break;
	default:
		w->result = weft_fd_wait(w->fd, WEFT_FD_READ, weft_now() + 600000 * MS);
		break;
	}
	weft_chan_send(finished, &w->kind);
}

/*
 * Under ThreadSanitizer the waiters call weft_fd_wait only: a weft_read
 * that has not parked yet is in read(2) on the fd that weft_close closes,
 * and TSan reports that pair of syscalls as a data race (it is one at the
 * POSIX level; the netpoller does not hold close(2) back until calls in
 * flight leave, as Go's fdMutex does).
 */
static void main_close_race(void *arg)
{
	struct waiter ws[3];
	int v;

	(void)arg;
	finished = weft_chan_make(sizeof(int), 3);
	for (int round = 0; round < 2000; round++) {
		int a, b, done = 0;
		tcp_pair(&a, &b);
		for (int i = 0; i < 3; i++) {
			ws[i] = (struct waiter){ i, a, 1 };
			go_ok(race_waiter, &ws[i]);
		}
		for (int i = 0; i < round % 4; i++)
			weft_yield();
		ck_assert_int_eq(weft_close(a), 0);
		for (int i = 0; i < 3; i++) {
			weft_case cs[1] = { { finished, WEFT_RECV, &v, 0 } };
			if (weft_select(cs, 1, 20000 * MS) != 0) {
				for (int k = 0; k < 3; k++)
					if (!(done & 1 << k))
						ck_abort_msg(
							"round %d: %s still waits 20 s after weft_close "
							"of its fd",
							round, waiter_kind(k));
			}
			done |= 1 << v;
		}
		for (int i = 0; i < 3; i++)
			if (ws[i].result != -ECANCELED && ws[i].result != -EBADF)
				ck_abort_msg("round %d, %s: %ld (%s)", round, waiter_kind(i),
					     ws[i].result, weft_strerror((int)ws[i].result));
		weft_close(b);
	}
	weft_chan_free(finished);
}

START_TEST(test_close_race)
{
	run_main(2, main_close_race, NULL);
}
END_TEST

/* ---- regular files ------------------------------------------------------------------ */

#define FILE_LEN (1u << 20)

static char file_path[64];
static _Atomic long ticks;
static _Atomic int stop_ticking;

static void ticker(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop_ticking)) {
		atomic_fetch_add(&ticks, 1);
		weft_yield();
	}
}

static void main_regular_file(void *arg)
{
	unsigned char *want = malloc(FILE_LEN), *buf = malloc(FILE_LEN);
	int fd;
	size_t got = 0;
	ssize_t n;

	(void)arg;
	ck_assert_ptr_nonnull(want);
	ck_assert_ptr_nonnull(buf);
	for (size_t i = 0; i < FILE_LEN; i += 8) {
		uint64_t x = mix(i);
		memcpy(want + i, &x, 8);
	}
	/* Written with weft_write (a past deadline does not apply to files). */
	fd = open(file_path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(weft_write(fd, want, FILE_LEN, 1), FILE_LEN);
	ck_assert_int_eq(weft_close(fd), 0);
	/* Read back in odd-sized pieces, then end of file. */
	fd = open(file_path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	while ((n = weft_read(fd, buf + got, got + 77777 > FILE_LEN ? FILE_LEN - got : 77777, 1)) >
	       0)
		got += (size_t)n;
	ck_assert_int_eq(n, 0);
	ck_assert_uint_eq(got, FILE_LEN);
	ck_assert_int_eq(memcmp(buf, want, FILE_LEN), 0);
	/* epoll refuses a regular file: weft_fd_wait says so. */
	ck_assert_int_eq(weft_fd_wait(fd, WEFT_FD_READ, -1), -EPERM);

	/*
	 * The reads do not hold the P. One P; the ticker can run only when the
	 * main task gives the P up. It spawned the ticker and then does
	 * nothing but weft_read of the file from the start, again and again:
	 * a weft_read done inside weft_syscall_enter/exit lets the monitor
	 * hand the P to the ticker while a read is in the kernel; a
	 * weft_read that held the P would spin here until the bound below.
	 * (The bound only turns a hang into a message; the pass does not
	 * depend on any timing.)
	 */
	atomic_store(&ticks, 0);
	atomic_store(&stop_ticking, 0);
	go_ok(ticker, NULL);
	ck_assert_int_eq(atomic_load(&ticks), 0);
	int64_t give_up = weft_now() + 20000 * MS;
	long reads = 0;
	while (atomic_load(&ticks) == 0) {
		if (weft_now() > give_up)
			ck_abort_msg("%ld reads of a regular file in 20 s at one P, and another "
				     "task never ran",
				     reads);
		ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
		n = weft_read(fd, buf, FILE_LEN, -1);
		if (n != FILE_LEN)
			ck_abort_msg("weft_read of the file: %zd", n);
		reads++;
	}
	atomic_store(&stop_ticking, 1);
	ck_assert_int_eq(weft_close(fd), 0);
	free(want);
	free(buf);
}

START_TEST(test_regular_file)
{
	const char *tmp = getenv("TMPDIR");
	int fd;

	snprintf(file_path, sizeof(file_path), "%s/weft-net-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	fd = mkstemp(file_path);
	ck_assert_int_ge(fd, 0);
	close(fd);
	run_main(1, main_regular_file, NULL);
	unlink(file_path);
}
END_TEST

/* ---- the deadlock report (child program tests/progs/netwait) ------------------------ */

struct child {
	pid_t pid;
	int out; /* the read end of its stdout and stderr */
	char text[16384];
	size_t len;
};

static void spawn_child(struct child *c, const char *const args[], const char *procs)
{
	const char *dir = getenv("WEFT_TEST_PROGS");
	char path[4096];
	char *argv[4] = { path, (char *)args[0], (char *)args[1], NULL };
	int pfd[2];
	posix_spawn_file_actions_t fa;

	ck_assert_msg(dir != NULL, "WEFT_TEST_PROGS is not set (run through make check)");
	snprintf(path, sizeof(path), "%s/netwait", dir);
	setenv("WEFT_PROCS", procs, 1);
	ck_assert_int_eq(pipe2(pfd, O_CLOEXEC), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 2);
	ck_assert_int_eq(posix_spawn(&c->pid, path, &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	close(pfd[1]);
	c->out = pfd[0];
	c->len = 0;
	c->text[0] = 0;
}

/* Read the child's output until a line starting with @prefix (or the end). */
static const char *child_line(struct child *c, const char *prefix)
{
	for (;;) {
		for (char *l = c->text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
			if (strncmp(l, prefix, strlen(prefix)) == 0 && strchr(l, '\n'))
				return l;
		ssize_t n = read(c->out, c->text + c->len, sizeof(c->text) - 1 - c->len);
		if (n <= 0)
			return NULL;
		c->len += (size_t)n;
		c->text[c->len] = 0;
	}
}

/*
 * Read the rest of the output; the exit status (or 128 + signal). A child
 * that has not ended 60 s after the call is killed and the case fails:
 * the bound only turns a hang into a message with the output so far.
 */
static int child_end(struct child *c)
{
	int64_t give_up = weft_now() + 60000 * MS;
	ssize_t n;
	int st;

	for (;;) {
		struct pollfd p = { c->out, POLLIN, 0 };
		int64_t left = give_up - weft_now();
		if (left <= 0 || poll(&p, 1, (int)(left / MS) + 1) == 0) {
			kill(c->pid, SIGKILL);
			waitpid(c->pid, &st, 0);
			ck_abort_msg("the child had not ended 60 s later (killed); its output:\n%s",
				     c->text);
		}
		n = read(c->out, c->text + c->len, sizeof(c->text) - 1 - c->len);
		if (n <= 0)
			break;
		c->len += (size_t)n;
		c->text[c->len] = 0;
	}
	close(c->out);
	ck_assert_int_eq(waitpid(c->pid, &st, 0), c->pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/*
 * 1 once every thread of @pid sleeps (state S in /proc/PID/task/N/stat),
 * 0 if some thread does not, -1 if the process is gone or a zombie.
 */
static int all_asleep(pid_t pid)
{
	char path[320], buf[512];
	int asleep = 1, seen = 0;
	struct dirent *e;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	if (!(d = opendir(path)))
		return -1;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/stat", (int)pid, e->d_name);
		FILE *f = fopen(path, "r");
		size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
		if (f)
			fclose(f);
		buf[n] = 0;
		char *rp = strrchr(buf, ')');
		if (!rp || rp[1] != ' ')
			continue; /* the thread just left */
		seen++;
		if (rp[2] == 'Z' || rp[2] == 'X') {
			asleep = -1;
			break;
		}
		if (rp[2] != 'S')
			asleep = 0;
	}
	closedir(d);
	return seen ? asleep : -1;
}

/*
 * Until every thread of the child sleeps. This is not a sleep to
 * synchronise: it observes the state in which the bug would show. The
 * child's tasks are all parked once it printed "ready" and each of its
 * threads is asleep; a deadlock check that counted the socket waiter as
 * blocked for good fires when the last M goes idle, that is before every
 * thread is seen asleep here, and the child is then dead with status 2.
 * The state is required on 20 consecutive looks (a thread may sleep a
 * moment on a lock while another works).
 */
static void wait_all_asleep(struct child *c)
{
	int in_a_row = 0;
	struct timespec ts = { 0, 200000 };

	for (long i = 0; in_a_row < 20; i++) {
		int r = all_asleep(c->pid);
		if (r < 0)
			return;
		in_a_row = r ? in_a_row + 1 : 0;
		ck_assert_msg(i < 600000, "the child's threads never all slept");
		nanosleep(&ts, NULL);
	}
}

START_TEST(test_no_deadlock_socket_wait)
{
	static const char *const modes[] = { "read", "fdwait" };
	const char *procs = _i % 2 ? "2" : "1";
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t slen = sizeof(sa);
	char addr[64];
	struct child c;
	int lfd, fd, st;

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(lfd, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(lfd, 4), 0);
	ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&sa, &slen), 0);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", ntohs(sa.sin_port));
	spawn_child(&c, (const char *const[]){ modes[_i / 2], addr }, procs);
	/* It prints "ready" once connected: the accept cannot hang. */
	ck_assert_msg(child_line(&c, "ready") != NULL, "no \"ready\" from the child:\n%s", c.text);
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	wait_all_asleep(&c);
	ck_assert_int_eq(write(fd, "go", 2), 2);
	st = child_end(&c);
	ck_assert_msg(st == 0, "netwait %s at %s P: status %d, output:\n%s", modes[_i / 2], procs,
		      st, c.text);
	ck_assert_msg(strstr(c.text, "woken by the socket"), "output:\n%s", c.text);
	close(fd);
	close(lfd);
}
END_TEST

START_TEST(test_no_deadlock_accept_wait)
{
	const char *procs = _i ? "2" : "1";
	struct child c;
	const char *line;
	char addr[128];
	int fd, st, port;
	struct sockaddr_in sa = { .sin_family = AF_INET };

	spawn_child(&c, (const char *const[]){ "accept", NULL }, procs);
	line = child_line(&c, "ready ");
	ck_assert_msg(line != NULL, "no \"ready ADDR\" from the child:\n%s", c.text);
	ck_assert_int_eq(sscanf(line, "ready %127s", addr), 1);
	ck_assert_msg(strncmp(addr, "127.0.0.1:", 10) == 0, "address %s", addr);
	port = atoi(addr + 10);
	wait_all_asleep(&c);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || write(fd, "go", 2) != 2) {
		st = child_end(&c);
		ck_abort_msg(
			"netwait accept at %s P: could not connect to it; status %d, output:\n%s",
			procs, st, c.text);
	}
	st = child_end(&c);
	ck_assert_msg(st == 0, "netwait accept at %s P: status %d, output:\n%s", procs, st, c.text);
	ck_assert_msg(strstr(c.text, "woken by the socket"), "output:\n%s", c.text);
	close(fd);
}
END_TEST

START_TEST(test_deadlock_after_socket_waits)
{
	const char *procs = _i ? "2" : "1";
	struct child c;
	int st;

	spawn_child(&c, (const char *const[]){ "chans", NULL }, procs);
	st = child_end(&c);
	ck_assert_msg(st == 2, "netwait chans at %s P: status %d, output:\n%s", procs, st, c.text);
	ck_assert_msg(strstr(c.text, "every socket wait is over"), "output:\n%s", c.text);
	ck_assert_msg(strstr(c.text, "weft: fatal: all tasks are asleep - deadlock!"),
		      "output:\n%s", c.text);
	ck_assert_msg(strstr(c.text, "(stuck): blocked on chan receive"), "output:\n%s", c.text);
	ck_assert_msg(!strstr(c.text, "net read") && !strstr(c.text, "netwait: "), "output:\n%s",
		      c.text);
}
END_TEST

/*
 * The last socket waiter leaves (its edge taken by a busy P's poll) just as
 * the idle P's M decides to block in epoll_wait with no timer: the poller
 * must not block for ever then, or the deadlock that follows is never
 * reported (the program hangs). WEFT_DEBUG_POLL_DELAY_US widens that
 * window in --enable-debug builds (netpoll.c), so that there the old code
 * hung every time; elsewhere the case checks the same outcome.
 */
START_TEST(test_deadlock_after_last_waiter)
{
	struct child c;
	int st;

	setenv("WEFT_DEBUG_POLL_DELAY_US", "300000", 1);
	spawn_child(&c, (const char *const[]){ "lastwaiter", NULL }, "2");
	unsetenv("WEFT_DEBUG_POLL_DELAY_US");
	st = child_end(&c);
	ck_assert_msg(st == 2, "netwait lastwaiter at 2 Ps: status %d, output:\n%s", st, c.text);
	ck_assert_msg(strstr(c.text, "every socket wait is over"), "output:\n%s", c.text);
	ck_assert_msg(strstr(c.text, "weft: fatal: all tasks are asleep - deadlock!"),
		      "output:\n%s", c.text);
	ck_assert_msg(strstr(c.text, "(last_waiter): blocked on chan receive"), "output:\n%s",
		      c.text);
}
END_TEST

/* ---- bad input ------------------------------------------------------------------------ */

static void main_bad_input(void *arg)
{
	static const char *const bad[] = {
		"",
		"nohost",
		"1.2.3.4",
		"[::1",
		"[::1]",
		"::1:80",
		"127.0.0.1:99999",
		"localhost:99999",
		"127.0.0.1:",
		"127.0.0.1:abc",
		"127.0.0.1:-1",
		"127.0.0.1:8x",
		"1.2.3.4.5:80x",
		"[::1]x:80",
		"unix:",
	};
	char addr[128], longpath[256], buf[64], c;
	int a, b, lfd, r, p[2];

	(void)arg;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = weft_net_listen(bad[i], 0);
		if (r != -EINVAL)
			ck_abort_msg("weft_net_listen(\"%s\"): %d (%s), want -EINVAL", bad[i], r,
				     weft_strerror(r));
		r = weft_net_dial(bad[i], -1);
		if (r != -EINVAL)
			ck_abort_msg("weft_net_dial(\"%s\"): %d (%s), want -EINVAL", bad[i], r,
				     weft_strerror(r));
	}
	ck_assert_int_eq(weft_net_listen(NULL, 0), -EINVAL);
	ck_assert_int_eq(weft_net_dial(NULL, -1), -EINVAL);
	/* A unix path longer than sun_path. */
	memset(longpath, 'a', sizeof(longpath));
	memcpy(longpath, "unix:/tmp/", 10);
	longpath[sizeof(longpath) - 1] = 0;
	r = weft_net_listen(longpath, 0);
	ck_assert_msg(r == -EINVAL || r == -ENAMETOOLONG, "listen on a %zu-byte unix path: %d (%s)",
		      strlen(longpath), r, weft_strerror(r));
	r = weft_net_dial(longpath, -1);
	ck_assert_msg(r == -EINVAL || r == -ENAMETOOLONG, "dial a %zu-byte unix path: %d (%s)",
		      strlen(longpath), r, weft_strerror(r));

	/* A port in use. */
	lfd = listen_at("127.0.0.1:0", addr, sizeof(addr));
	ck_assert_int_eq(weft_net_listen(addr, 0), -EADDRINUSE);

	/* A connection refused: a port bound by a socket that does not listen. */
	ck_assert_int_eq(weft_close(lfd), 0);
	lfd = refusing_port(addr, sizeof(addr));
	ck_assert_int_ge(lfd, 0);
	r = weft_net_dial(addr, weft_now() + 10000 * MS);
	ck_assert_msg(r == -ECONNREFUSED, "dial %s, not listening: %d (%s)", addr, r,
		      weft_strerror(r));
	close(lfd);

	/* Closed fds: -EBADF from every call. */
	tcp_pair(&a, &b);
	lfd = listen_at("127.0.0.1:0", addr, sizeof(addr));
	ck_assert_int_eq(weft_close(a), 0);
	ck_assert_int_eq(weft_close(lfd), 0);
	ck_assert_int_eq(weft_read(a, &c, 1, -1), -EBADF);
	ck_assert_int_eq(weft_write(a, "x", 1, -1), -EBADF);
	ck_assert_int_eq(weft_fd_wait(a, WEFT_FD_READ, -1), -EBADF);
	ck_assert_int_eq(weft_fd_wait(a, WEFT_FD_WRITE, -1), -EBADF);
	ck_assert_int_eq(weft_net_accept(lfd, -1), -EBADF);
	ck_assert_int_eq(weft_net_addr(a, buf, sizeof(buf)), -EBADF);
	ck_assert_int_eq(weft_close(a), -EBADF);
	static const int never_open[] = { -1, 99999, 1 << 20 };
	for (int i = 0; i < 3; i++) {
		int fd = never_open[i];
		ck_assert_int_eq(weft_read(fd, &c, 1, -1), -EBADF);
		ck_assert_int_eq(weft_write(fd, "x", 1, -1), -EBADF);
		ck_assert_int_eq(weft_fd_wait(fd, WEFT_FD_READ, -1), -EBADF);
		ck_assert_int_eq(weft_net_accept(fd, -1), -EBADF);
		ck_assert_int_eq(weft_close(fd), -EBADF);
	}

	/* Events with neither bit. */
	ck_assert_int_eq(weft_fd_wait(b, 0, -1), -EINVAL);
	ck_assert_int_eq(weft_fd_wait(b, 4, -1), -EINVAL);

	/* weft_net_addr: a buffer too small (even by the NUL), not a socket,
	 * not an internet or unix socket. */
	r = weft_net_addr(b, buf, sizeof(buf));
	ck_assert_int_gt(r, 0);
	ck_assert_int_eq((int)strlen(buf), r);
	memset(buf, 'q', sizeof(buf));
	ck_assert_int_eq(weft_net_addr(b, buf, 4), -ENOSPC);
	ck_assert_str_eq(buf, "");
	memset(buf, 'q', sizeof(buf));
	ck_assert_int_eq(weft_net_addr(b, buf, (size_t)r), -ENOSPC);
	ck_assert_str_eq(buf, "");
	ck_assert_int_eq(weft_net_addr(b, buf, 1), -ENOSPC);
	ck_assert_int_eq(weft_net_addr(b, buf, (size_t)r + 1), r);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	ck_assert_int_eq(weft_net_addr(p[0], buf, sizeof(buf)), -ENOTSOCK);
	ck_assert_int_eq(weft_net_accept(p[0], -1), -ENOTSOCK);
	close(p[0]);
	close(p[1]);
	int nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (nl >= 0) {
		ck_assert_int_eq(weft_net_addr(nl, buf, sizeof(buf)), -EAFNOSUPPORT);
		close(nl);
	}
	/* accept on a connected socket is the kernel's -EINVAL. */
	ck_assert_int_eq(weft_net_accept(b, -1), -EINVAL);
	/* n == 0 reads nothing. */
	ck_assert_int_eq(weft_read(b, buf, 0, -1), 0);
	ck_assert_int_eq(weft_close(b), 0);
}

START_TEST(test_bad_input)
{
	run_main(1, main_bad_input, NULL);
}
END_TEST

/* ---- plain threads ------------------------------------------------------------------- */

static char plain_addr[128];

static void plain_echo_server(void *arg)
{
	int lfd = (int)(intptr_t)arg, fd;
	char buf[4096];
	ssize_t n;

	fd = weft_net_accept(lfd, -1);
	ck_assert_int_ge(fd, 0);
	while ((n = weft_read(fd, buf, sizeof(buf), -1)) > 0)
		if (weft_write(fd, buf, (size_t)n, -1) != n)
			ck_abort_msg("task: weft_write failed");
	ck_assert_int_eq(n, 0);
	weft_close(fd);
}

/* NULL, or what went wrong. */
static const char *plain_calls(void)
{
	static char why[256];
	char buf[300], want[300];
	int a, b, lfd, r;
	int64_t d;
	ssize_t n;

	/* An echo with a task, from this plain thread. */
	a = weft_net_dial(plain_addr, -1);
	if (a < 0)
		return "dial";
	for (int i = 0; i < 500; i++) {
		size_t len = 1 + (size_t)i % sizeof(want);
		memset(want, 'a' + i % 26, len);
		if (weft_write(a, want, len, -1) != (ssize_t)len)
			return "weft_write to the task";
		for (size_t got = 0; got < len; got += (size_t)n)
			if ((n = weft_read(a, buf + got, len - got, -1)) <= 0)
				return "weft_read from the task";
		if (memcmp(buf, want, len) != 0)
			return "the task's echo differs";
	}
	weft_close(a);
	/* A silent pair, all from this thread. */
	lfd = weft_net_listen("127.0.0.1:0", 0);
	if (lfd < 0 || weft_net_addr(lfd, buf, sizeof(buf)) <= 0)
		return "listen";
	a = weft_net_dial(buf, -1);
	b = weft_net_accept(lfd, -1);
	if (a < 0 || b < 0)
		return "dial/accept";
	d = weft_now() + 50 * MS;
	n = weft_read(a, buf, 1, d);
	if (n != -ETIMEDOUT || weft_now() < d) {
		snprintf(why, sizeof(why), "weft_read with a deadline: %zd, %lld ns early", n,
			 (long long)(d - weft_now()));
		return why;
	}
	d = weft_now() + 50 * MS;
	r = weft_fd_wait(a, WEFT_FD_READ, d);
	if (r != -ETIMEDOUT || weft_now() < d)
		return "weft_fd_wait with a deadline";
	d = weft_now() + 50 * MS;
	r = weft_net_accept(lfd, d);
	if (r != -ETIMEDOUT || weft_now() < d)
		return "weft_net_accept with a deadline";
	if (weft_read(a, buf, 1, 0) != -ETIMEDOUT)
		return "weft_read with a past deadline";
	if (weft_write(b, "ok", 2, -1) != 2 || weft_fd_wait(a, WEFT_FD_READ, -1) != 0 ||
	    weft_read(a, buf, sizeof(buf), -1) != 2)
		return "data on the pair";
	if (weft_close(a) || weft_close(b) || weft_close(lfd) || weft_close(a) != -EBADF)
		return "weft_close";
	return NULL;
}

static void *plain_thread(void *arg)
{
	(void)arg;
	return (void *)(uintptr_t)plain_calls();
}

static void main_plain_threads(void *arg)
{
	pthread_t th;
	void *why;
	int lfd = listen_at("127.0.0.1:0", plain_addr, sizeof(plain_addr));

	(void)arg;
	go_ok(plain_echo_server, (void *)(intptr_t)lfd);
	ck_assert_int_eq(pthread_create(&th, NULL, plain_thread, NULL), 0);
	weft_syscall_enter();
	pthread_join(th, &why);
	weft_syscall_exit();
	ck_assert_msg(why == NULL, "plain thread: %s", (const char *)why);
	weft_close(lfd);
}

START_TEST(test_plain_threads)
{
	run_main(procs_of(_i), main_plain_threads, NULL);
}
END_TEST

/* Outside weft_main: the thread is plain, the calls are POSIX's, and a
 * broken pipe is -EPIPE without any weft_main to ignore SIGPIPE. */
START_TEST(test_no_runtime)
{
	char addr[128], buf[8];
	int a, b, lfd;
	ssize_t n;

	signal(SIGPIPE, SIG_DFL);
	lfd = weft_net_listen("127.0.0.1:0", 0);
	ck_assert_int_ge(lfd, 0);
	ck_assert_int_gt(weft_net_addr(lfd, addr, sizeof(addr)), 0);
	a = weft_net_dial(addr, -1);
	b = weft_net_accept(lfd, -1);
	ck_assert_int_ge(a, 0);
	ck_assert_int_ge(b, 0);
	ck_assert_int_eq(weft_write(a, "ping", 4, -1), 4);
	get(b, buf, 4, -1);
	ck_assert_int_eq(weft_read(b, buf, 4, weft_now() + 10 * MS), -ETIMEDOUT);
	ck_assert_int_eq(weft_close(b), 0);
	n = 0;
	for (int i = 0; i < 100 && n >= 0; i++)
		n = weft_write(a, "x", 1, -1);
	ck_assert_int_eq(n, -EPIPE);
	ck_assert_int_eq(weft_close(a), 0);
	ck_assert_int_eq(weft_close(lfd), 0);
}
END_TEST

/* ---- weft_write: short counts, -EPIPE ---------------------------------------------- */

#define BIG (32u << 20)

static void main_write_short(void *arg)
{
	unsigned char *big = malloc(BIG), *back = malloc(BIG);
	int a, b;
	int64_t d;
	ssize_t n;
	size_t sent = 0, got = 0;

	(void)arg;
	ck_assert_ptr_nonnull(big);
	ck_assert_ptr_nonnull(back);
	for (size_t i = 0; i < BIG; i += 8) {
		uint64_t x = mix(i ^ 0xb16);
		memcpy(big + i, &x, 8);
	}
	tcp_pair(&a, &b);
	/* Nobody reads b: the kernel takes a few MB, then the deadline. */
	d = weft_now() + 50 * MS;
	n = weft_write(a, big, BIG, d);
	ck_assert_msg(n > 0 && n < (ssize_t)BIG, "32 MiB to a peer that does not read: %zd (%s)", n,
		      n < 0 ? weft_strerror((int)n) : "");
	ck_assert_msg(weft_now() >= d, "short count %lld ns before the deadline",
		      (long long)(d - weft_now()));
	sent = (size_t)n;
	/* The next call with the rest says why: -ETIMEDOUT (after any bytes
	 * the kernel took meanwhile, each reported). */
	while ((n = weft_write(a, big + sent, BIG - sent, d)) > 0)
		sent += (size_t)n;
	ck_assert_msg(n == -ETIMEDOUT, "the call after a short count: %zd (%s)", n,
		      weft_strerror((int)n));
	/* Exactly the reported bytes arrive, in order, and nothing more. */
	while (got < sent) {
		n = weft_read(b, back + got, sent - got, -1);
		if (n <= 0)
			ck_abort_msg("reading back after %zu of %zu: %zd", got, sent, n);
		got += (size_t)n;
	}
	ck_assert_int_eq(memcmp(back, big, sent), 0);
	n = weft_read(b, back, 1, weft_now() + 100 * MS);
	ck_assert_msg(n == -ETIMEDOUT, "%zd more bytes than weft_write reported", n);

	ck_assert_int_eq(weft_close(a), 0);
	ck_assert_int_eq(weft_close(b), 0);
	free(big);
	free(back);
}

/* A reader that goes away with bytes unread (its close sends a reset):
 * the writer gets the short count, then the error on the next call. No
 * SIGPIPE: the case would die of it. */
static int short_b;
static void close_after_some(void *arg)
{
	static unsigned char buf[65536];
	(void)arg;
	get(short_b, buf, sizeof(buf), -1);
	ck_assert_int_eq(weft_close(short_b), 0);
}

static void main_write_broken(void *arg)
{
	unsigned char *big = malloc(BIG);
	int a;
	ssize_t n;

	(void)arg;
	ck_assert_ptr_nonnull(big);
	memset(big, 'b', BIG);
	tcp_pair(&a, &short_b);
	go_ok(close_after_some, NULL);
	n = weft_write(a, big, BIG, -1);
	ck_assert_msg(n >= 65536 && n < (ssize_t)BIG, "32 MiB to a peer that leaves: %zd (%s)", n,
		      n < 0 ? weft_strerror((int)n) : "");
	n = weft_write(a, big + n, BIG - (size_t)n, -1);
	ck_assert_msg(n == -EPIPE || n == -ECONNRESET, "the call after the short count: %zd (%s)",
		      n, weft_strerror((int)n));
	n = weft_write(a, "x", 1, -1);
	ck_assert_msg(n == -EPIPE || n == -ECONNRESET, "and after: %zd (%s)", n,
		      weft_strerror((int)n));
	ck_assert_int_eq(weft_close(a), 0);

	/* A peer that closed cleanly: -EPIPE, once the kernel knows. */
	int b;
	tcp_pair(&a, &b);
	ck_assert_int_eq(weft_close(b), 0);
	n = 0;
	for (int i = 0; i < 100 && n >= 0; i++)
		n = weft_write(a, "x", 1, -1);
	ck_assert_msg(n == -EPIPE, "writing to a closed peer: %zd (%s)", n, weft_strerror((int)n));
	ck_assert_int_eq(weft_close(a), 0);
	free(big);
}

START_TEST(test_write_short)
{
	signal(SIGPIPE, SIG_DFL);
	run_main(procs_of(_i), _i >= 2 ? main_write_broken : main_write_short, NULL);
}
END_TEST

/* ---- unix sockets, IPv6, port 0 --------------------------------------------------------- */

/* @n round trips of growing messages on a connected pair. */
static void round_trips(int a, int b, int n)
{
	char buf[2048], back[2048];

	for (int i = 0; i < n; i++) {
		size_t len = 1 + (size_t)(i * 37) % sizeof(buf);
		memset(buf, 'A' + i % 26, len);
		ck_assert_int_eq(weft_write(a, buf, len, -1), (ssize_t)len);
		get(b, back, len, -1);
		ck_assert_int_eq(weft_write(b, back, len, -1), (ssize_t)len);
		get(a, back, len, -1);
		if (memcmp(back, buf, len) != 0)
			ck_abort_msg("round trip %d differs", i);
	}
}

static char unix_dir[64];

static void main_unix(void *arg)
{
	char addr[256], got[256];
	struct stat stbuf;
	int lfd, a, b, r;

	(void)arg;
	snprintf(addr, sizeof(addr), "unix:%s/s", unix_dir);
	lfd = weft_net_listen(addr, 0);
	ck_assert_msg(lfd >= 0, "listen %s: %s", addr, weft_strerror(lfd));
	r = weft_net_addr(lfd, got, sizeof(got));
	ck_assert_int_eq(r, (int)strlen(addr));
	ck_assert_str_eq(got, addr);
	/* A path that exists is an error, and is left alone. */
	ck_assert_int_eq(weft_net_listen(addr, 0), -EADDRINUSE);
	ck_assert_int_eq(stat(addr + 5, &stbuf), 0);
	ck_assert(S_ISSOCK(stbuf.st_mode));
	a = weft_net_dial(addr, -1);
	ck_assert_msg(a >= 0, "dial %s: %s", addr, weft_strerror(a));
	b = weft_net_accept(lfd, -1);
	ck_assert_int_ge(b, 0);
	round_trips(a, b, 200);
	ck_assert_int_eq(weft_close(a), 0);
	ck_assert_int_eq(weft_read(b, got, 1, -1), 0);
	ck_assert_int_eq(weft_close(b), 0);
	ck_assert_int_eq(weft_close(lfd), 0);
	/* The socket file stays; nobody listens on it now. */
	ck_assert_int_eq(weft_net_dial(addr, -1), -ECONNREFUSED);
	ck_assert_int_eq(unlink(addr + 5), 0);
	ck_assert_int_eq(weft_net_dial(addr, -1), -ENOENT);
}

START_TEST(test_unix)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(unix_dir, sizeof(unix_dir), "%s/weft-net-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(unix_dir));
	run_main(procs_of(_i), main_unix, NULL);
	ck_assert_int_eq(rmdir(unix_dir), 0);
}
END_TEST

static bool have_ipv6_loopback(void)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;

	if (fd >= 0)
		close(fd);
	return ok;
}

static void main_ipv6(void *arg)
{
	char addr[128], got[128];
	int lfd, a, b;

	(void)arg;
	lfd = listen_at("[::1]:0", addr, sizeof(addr));
	ck_assert_msg(strncmp(addr, "[::1]:", 6) == 0 && atoi(addr + 6) > 0, "address %s", addr);
	a = weft_net_dial(addr, -1);
	ck_assert_msg(a >= 0, "dial %s: %s", addr, weft_strerror(a));
	b = weft_net_accept(lfd, -1);
	ck_assert_int_ge(b, 0);
	ck_assert_int_gt(weft_net_addr(b, got, sizeof(got)), 0);
	ck_assert_str_eq(got, addr);
	ck_assert_int_gt(weft_net_addr(a, got, sizeof(got)), 0);
	ck_assert_msg(strncmp(got, "[::1]:", 6) == 0, "dialed end %s", got);
	round_trips(a, b, 100);
	weft_close(a);
	weft_close(b);
	weft_close(lfd);
	ck_assert_int_eq(weft_net_dial(addr, -1), -ECONNREFUSED);
}

START_TEST(test_ipv6)
{
	if (!have_ipv6_loopback()) {
		fprintf(stderr, "check_net: test_ipv6 skipped: no IPv6 loopback (::1) here\n");
		return;
	}
	run_main(procs_of(_i), main_ipv6, NULL);
}
END_TEST

static void check_fd_flags(int fd, bool tcp)
{
	int fl = fcntl(fd, F_GETFL), fdfl = fcntl(fd, F_GETFD), one = 0;
	socklen_t len = sizeof(one);

	ck_assert_msg(fl >= 0 && (fl & O_NONBLOCK), "fd %d is blocking", fd);
	ck_assert_msg(fdfl >= 0 && (fdfl & FD_CLOEXEC), "fd %d is not close-on-exec", fd);
	if (tcp) {
		ck_assert_int_eq(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, &len), 0);
		ck_assert_msg(one, "fd %d has no TCP_NODELAY", fd);
	}
}

static void main_port0(void *arg)
{
	char addr[128], got[128];
	int lfd, a, b, port;

	(void)arg;
	lfd = listen_at("127.0.0.1:0", addr, sizeof(addr));
	port = atoi(addr + 10);
	ck_assert_msg(strncmp(addr, "127.0.0.1:", 10) == 0 && port > 0 && port < 65536,
		      "address %s", addr);
	check_fd_flags(lfd, false);
	a = weft_net_dial(addr, -1);
	ck_assert_int_ge(a, 0);
	b = weft_net_accept(lfd, -1);
	ck_assert_int_ge(b, 0);
	check_fd_flags(a, true);
	check_fd_flags(b, true);
	ck_assert_int_gt(weft_net_addr(b, got, sizeof(got)), 0);
	ck_assert_str_eq(got, addr);
	ck_assert_int_gt(weft_net_addr(a, got, sizeof(got)), 0);
	ck_assert_msg(strncmp(got, "127.0.0.1:", 10) == 0 && atoi(got + 10) != port,
		      "dialed end %s", got);
	round_trips(a, b, 50);
	weft_close(a);
	weft_close(b);
	weft_close(lfd);
	/* An empty host is 127.0.0.1, for listening and dialing. */
	lfd = listen_at(":0", addr, sizeof(addr));
	ck_assert_msg(strncmp(addr, "127.0.0.1:", 10) == 0, "\":0\" listens on %s", addr);
	snprintf(got, sizeof(got), ":%d", atoi(addr + 10));
	a = weft_net_dial(got, -1);
	ck_assert_msg(a >= 0, "dial %s: %s", got, weft_strerror(a));
	b = weft_net_accept(lfd, -1);
	ck_assert_int_ge(b, 0);
	round_trips(a, b, 10);
	weft_close(a);
	weft_close(b);
	weft_close(lfd);
	/* A name, resolved: localhost. */
	lfd = listen_at("localhost:0", addr, sizeof(addr));
	ck_assert_msg(strncmp(addr, "127.0.0.1:", 10) == 0 || strncmp(addr, "[::1]:", 6) == 0,
		      "localhost:0 listens on %s", addr);
	snprintf(got, sizeof(got), "localhost:%s", strrchr(addr, ':') + 1);
	a = weft_net_dial(got, -1);
	ck_assert_msg(a >= 0, "dial %s: %s", got, weft_strerror(a));
	b = weft_net_accept(lfd, -1);
	ck_assert_int_ge(b, 0);
	round_trips(a, b, 10);
	weft_close(a);
	weft_close(b);
	weft_close(lfd);
}

START_TEST(test_port0)
{
	run_main(procs_of(_i), main_port0, NULL);
}
END_TEST

/* One case per subject, so that CK_RUN_CASE=echo ./tests/check_net runs one. */
static Suite *net_suite(void)
{
	Suite *s = suite_create("net");
	struct {
		const char *name;
		const TTest *tests[4];
		int loops[4];
	} cases[] = {
		{ "echo", { test_echo }, { 2 } },
		{ "idle", { test_idle_connections }, { 2 } },
		{ "deadline",
		  { test_deadlines, test_many_deadlines, test_fd_wait_ready },
		  { 2, 2, 2 } },
		{ "close", { test_close_wakes_waiters, test_close_race }, { 1, 1 } },
		{ "file", { test_regular_file }, { 1 } },
		{ "deadlock",
		  { test_no_deadlock_socket_wait, test_no_deadlock_accept_wait,
		    test_deadlock_after_socket_waits, test_deadlock_after_last_waiter },
		  { 4, 2, 2, 1 } },
		{ "input", { test_bad_input }, { 1 } },
		{ "threads", { test_plain_threads, test_no_runtime }, { 2, 1 } },
		{ "write", { test_write_short }, { 4 } },
		{ "addr", { test_unix, test_ipv6, test_port0 }, { 2, 2, 2 } },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		TCase *tc = tcase_create(cases[i].name);
		tcase_set_timeout(tc, 240);
		for (int k = 0; k < 4 && cases[i].tests[k]; k++)
			tcase_add_loop_test(tc, cases[i].tests[k], 0, cases[i].loops[k]);
		suite_add_tcase(s, tc);
	}
	return s;
}

WEFT_CHECK_MAIN(net_suite)

/*
 * echo.c - an echo server and its clients over TCP on loopback through
 * weft's netpoller; the C side of bench/go/echo (make bench-web runs both
 * through bench/run.sh).
 *
 * Two processes of this program: the server (the one started) and the
 * clients (a copy of itself it starts with -client ADDR). One process
 * cannot hold 10,000 connections' both ends where RLIMIT_NOFILE's hard
 * limit is 20,000 and may not be raised (this project's machines: no
 * CAP_SYS_RESOURCE), so each side has its own 10,000 fds. Both run on
 * weft with the same WEFT_PROCS (Go's twin: both on Go with the same
 * GOMAXPROCS). Each raises RLIMIT_NOFILE's soft limit to the hard limit,
 * and the hard one too where it may and must (Go raises the soft limit by
 * itself since Go 1.19; bench/go/echo raises the hard one as this does).
 * A WEFT_TRACE trace is the server's (weft_main takes the variable out of
 * the environment before the client is started).
 *
 * The server: a listener on 127.0.0.1 (a free port), an accept loop in a
 * task, a task per connection that reads up to 4 KiB and writes back what
 * it read, until end of file. It waits for the client process on a pidfd
 * (weft_fd_wait), and ends with the client's exit status.
 *
 * Throughput (the default): for C in 1, 100 and 10,000 connections, the
 * client process's C tasks dial (a thousand at a time, so that the accept
 * queue never overflows into SYN retransmits), wait until all are
 * connected, then each sends -size bytes (default 128) and reads the echo
 * back, -msgs / C times (default 200,000 messages in all); the time from
 * the start signal (a channel closed) to the last echo read, per message:
 *   "echo-1: X ns/op", "echo-100: X ns/op", "echo-10000: X ns/op"
 * (messages/s = 1e9 / X), printed by the client.
 *
 * -idle [N]: N connections (default 10,000) whose server tasks (the echo
 * tasks above) each wait for their first bytes (weft_fd_wait, a "net
 * read" wait), and whose client tasks are each blocked in weft_read; once
 * all are, the server prints its resident memory
 * ("# idle-rss-kib: X", VmRSS), then writes a byte into each connection,
 * which the client's task sends back, the server's task echoes, and the
 * client reads before it closes: "idle-wake: X ms", until every server
 * task has ended.
 *
 * In every mode the server prints "# peak-rss-kib: X" last (its own peak,
 * what bench/run.sh tabulates), the client "# client-peak-rss-kib: X".
 * -conns C measures C connections only (instead of 1, 100, 10,000).
 *
 * Rejected: a fork() without exec for the client (a forked child of a
 * multithreaded weft program may not start its own runtime safely; the
 * Go twin cannot fork either, and execs itself as this does); counting
 * connect time (it is the kernel's, and the accept queue's).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

extern char **environ;

#define BATCH 1000
#define MAX_SIZE 4096

static struct {
	long msgs;	/* messages in all, per measurement */
	int size;	/* bytes a message */
	long conns;	/* one measurement of this many, or 0: 1, 100, 10000 */
	long idle;	/* -idle: this many idle connections */
	const char *client; /* -client ADDR: the client process */
	char addr[64];	/* the listener's */
	int lfd;
	int status;	/* the server's exit status */
} cfg = { .msgs = 200000, .size = 128 };

static struct {
	long per_conn;		/* messages each client sends */
	weft_chan *start;	/* closed to start every client at once */
	weft_wg connected;	/* a batch of clients dialed */
	weft_wg done;		/* every connection finished */
	weft_wg blocked;	/* -idle: server tasks about to read */
	int *fds;		/* -idle: the server's connections */
	atomic_long nfds;
	atomic_long failed;
} rd;

static _Noreturn void die(const char *what, long err)
{
	fprintf(stderr, "echo%s: %s: %s\n", cfg.client ? " (client)" : "", what,
		weft_strerror((int)err));
	exit(1);
}

/* Read exactly @n bytes: 0, or -errno (-EPIPE at an early end of file). */
static int read_full(int fd, char *buf, size_t n)
{
	while (n > 0) {
		ssize_t k = weft_read(fd, buf, n, -1);

		if (k <= 0)
			return k == 0 ? -EPIPE : (int)k;
		buf += k;
		n -= (size_t)k;
	}
	return 0;
}

/* VmRSS of /proc/self/status in KiB, or -1. */
static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &v) == 1)
			break;
	fclose(f);
	return v;
}

/* ---- server ---------------------------------------------------------------------- */

/* Echo until end of file or an error. Its 4 KiB buffer lives in this
 * frame, below the connection task's first one: see echo_task. */
static __attribute__((noinline)) void echo_loop(int fd)
{
	char buf[MAX_SIZE];

	for (;;) {
		ssize_t n = weft_read(fd, buf, sizeof(buf), -1);

		if (n <= 0 || weft_write(fd, buf, (size_t)n, -1) != n)
			break;
	}
}

/*
 * A connection of the server. With -idle it also records its fd for the
 * main task and says when it is about to block in its first wait, and
 * when it ends.
 *
 * It waits for the first bytes (weft_fd_wait) before it enters the frame
 * that holds the buffer: a task's memory is the stack pages it touched,
 * so an idle connection costs one page, not the two or three that a 4 KiB
 * buffer spans with its stack probes. Go's twin gets the same for free:
 * its make([]byte, 4096) is zeroed memory that nobody touches until the
 * first read fills it.
 */
static void echo_task(void *arg)
{
	int fd = (int)(intptr_t)arg;

	if (cfg.idle) {
		rd.fds[atomic_fetch_add(&rd.nfds, 1)] = fd;
		weft_wg_done(&rd.blocked);
	}
	if (weft_fd_wait(fd, WEFT_FD_READ, -1) == 0)
		echo_loop(fd);
	weft_close(fd);
	if (cfg.idle)
		weft_wg_done(&rd.done);
}

static void accept_task(void *arg)
{
	long n = 0;

	(void)arg;
	for (;;) {
		int fd = weft_net_accept(cfg.lfd, -1);

		if (fd == -ECANCELED || fd == -EBADF)
			return;
		if (fd < 0)
			die("accept", fd);
		if (cfg.idle && n++ >= cfg.idle)
			die("accept", -EPROTO); /* more connections than asked */
		if (weft_go(echo_task, (void *)(intptr_t)fd) < 0)
			die("weft_go", -ENOMEM);
	}
}

/* Start the client process: its pid, or die. */
static pid_t spawn_client(const char *self)
{
	char msgs[32], size[32], n[32];
	const char *argv[12];
	int argc = 0, err;
	pid_t pid;

	snprintf(msgs, sizeof(msgs), "%ld", cfg.msgs);
	snprintf(size, sizeof(size), "%d", cfg.size);
	argv[argc++] = self;
	argv[argc++] = "-client";
	argv[argc++] = cfg.addr;
	argv[argc++] = "-msgs";
	argv[argc++] = msgs;
	argv[argc++] = "-size";
	argv[argc++] = size;
	if (cfg.idle || cfg.conns) {
		snprintf(n, sizeof(n), "%ld", cfg.idle ? cfg.idle : cfg.conns);
		argv[argc++] = cfg.idle ? "-idle" : "-conns";
		argv[argc++] = n;
	}
	argv[argc] = NULL;
	fflush(stdout);
	weft_syscall_enter();
	err = posix_spawn(&pid, "/proc/self/exe", NULL, NULL, (char *const *)argv, environ);
	weft_syscall_exit();
	if (err)
		die("posix_spawn /proc/self/exe", -err);
	return pid;
}

static void idle_server(void)
{
	uint64_t t0;

	weft_wg_wait(&rd.blocked);
	/*
	 * Every server task is in (or entering) weft_read with nothing to
	 * read: the memory of cfg.idle idle connections of the echo server.
	 * Then a byte into each: the client's task echoes it, this server's
	 * task echoes it back, the client closes, the server's task ends.
	 */
	printf("# idle-conns: %ld\n# idle-rss-kib: %ld\n", cfg.idle, rss_kib());
	fflush(stdout);
	t0 = bench_now_ns();
	for (long i = 0; i < cfg.idle; i++)
		if (weft_write(rd.fds[i], "i", 1, -1) != 1)
			die("idle write", -EIO);
	weft_wg_wait(&rd.done);
	printf("idle-wake: %.2f ms\n", (double)(bench_now_ns() - t0) / 1e6);
}

static void server_main(void *arg)
{
	const char *self = arg;
	pid_t pid;
	int pidfd, err, st;

	cfg.lfd = weft_net_listen("127.0.0.1:0", 0);
	if (cfg.lfd < 0)
		die("listen", cfg.lfd);
	err = weft_net_addr(cfg.lfd, cfg.addr, sizeof(cfg.addr));
	if (err < 0)
		die("weft_net_addr", err);
	if (cfg.idle) {
		rd.fds = calloc((size_t)cfg.idle, sizeof(int));
		if (!rd.fds)
			die("idle", -ENOMEM);
		weft_wg_add(&rd.blocked, cfg.idle);
		weft_wg_add(&rd.done, cfg.idle);
	}
	if ((err = weft_go(accept_task, NULL)) < 0)
		die("weft_go", err);
	pid = spawn_client(self);
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0)
		die("pidfd_open", -errno);
	if (cfg.idle)
		idle_server();
	/* The client's end: its pidfd becomes readable. */
	err = weft_fd_wait(pidfd, WEFT_FD_READ, -1);
	if (err < 0)
		die("weft_fd_wait(pidfd)", err);
	weft_syscall_enter();
	err = waitpid(pid, &st, 0) < 0 ? -errno : 0;
	weft_syscall_exit();
	if (err < 0)
		die("waitpid", err);
	cfg.status = WIFEXITED(st) ? WEXITSTATUS(st) : 1;
	weft_close(pidfd);
	weft_close(cfg.lfd);
}

/* ---- the client process ------------------------------------------------------------ */

static void client_task(void *arg)
{
	char msg[MAX_SIZE], back[MAX_SIZE];
	int fd = weft_net_dial(cfg.client, -1), err = 0;
	char c;

	(void)arg;
	if (fd < 0)
		die("dial", fd);
	weft_wg_done(&rd.connected);
	weft_chan_recv(rd.start, &c); /* -EPIPE once closed: go */
	memset(msg, 'x', (size_t)cfg.size);
	for (long i = 0; i < rd.per_conn && err == 0; i++) {
		msg[0] = (char)i;
		if (weft_write(fd, msg, (size_t)cfg.size, -1) != cfg.size)
			err = -EIO;
		else if ((err = read_full(fd, back, (size_t)cfg.size)) == 0 && back[0] != msg[0])
			err = -EPROTO;
	}
	if (err)
		atomic_fetch_add_explicit(&rd.failed, 1, memory_order_relaxed);
	weft_wg_done(&rd.done);
	weft_close(fd);
}

/* -idle: dial, block reading; send the server's byte back, read its echo, close. */
static void idle_client_task(void *arg)
{
	int fd = weft_net_dial(cfg.client, -1);
	char c;

	(void)arg;
	if (fd < 0)
		die("dial", fd);
	weft_wg_done(&rd.connected);
	if (read_full(fd, &c, 1) < 0 || c != 'i' || weft_write(fd, &c, 1, -1) != 1 ||
	    read_full(fd, &c, 1) < 0 || c != 'i')
		atomic_fetch_add_explicit(&rd.failed, 1, memory_order_relaxed);
	weft_wg_done(&rd.done);
	weft_close(fd);
}

/* Spawn @n tasks of @fn, BATCH at a time, each batch connected before the next. */
static void dial_all(weft_fn fn, long n)
{
	for (long i = 0; i < n; i += BATCH) {
		long k = n - i < BATCH ? n - i : BATCH;

		weft_wg_add(&rd.connected, k);
		for (long j = 0; j < k; j++)
			if (weft_go(fn, NULL) < 0)
				die("weft_go", -ENOMEM);
		weft_wg_wait(&rd.connected);
	}
}

static void measure(long conns)
{
	char name[32];
	uint64_t t0, ns;

	rd.per_conn = cfg.msgs / conns > 0 ? cfg.msgs / conns : 1;
	rd.start = weft_chan_make(1, 0);
	if (!rd.start)
		die("weft_chan_make", -ENOMEM);
	weft_wg_add(&rd.done, conns);
	dial_all(client_task, conns);
	snprintf(name, sizeof(name), "echo-%ld", conns);
	bench_section_begin(name);
	t0 = bench_now_ns();
	weft_chan_close(rd.start);
	weft_wg_wait(&rd.done);
	ns = bench_now_ns() - t0;
	bench_section_end(conns * rd.per_conn);
	weft_chan_free(rd.start);
	if (atomic_load(&rd.failed))
		die(name, -EIO);
	printf("%s: %.1f ns/op\n", name, (double)ns / (double)(conns * rd.per_conn));
	fflush(stdout);
}

static void client_main(void *arg)
{
	(void)arg;
	printf("# weft procs=%d size=%d msgs=%ld (client and server processes)\n", weft_procs(),
	       cfg.size, cfg.msgs);
	if (cfg.idle) {
		weft_wg_add(&rd.done, cfg.idle);
		dial_all(idle_client_task, cfg.idle);
		weft_wg_wait(&rd.done);
		if (atomic_load(&rd.failed))
			die("idle", -EIO);
	} else if (cfg.conns) {
		measure(cfg.conns);
	} else {
		measure(1);
		measure(100);
		measure(10000);
	}
}

/* ---- both ----------------------------------------------------------------------------- */

/* One fd a connection, and some to spare: raise RLIMIT_NOFILE as far as needed and allowed. */
static void raise_nofile(long conns)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)(conns + 64);

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want) {
		struct rlimit up = { want, want };

		if (setrlimit(RLIMIT_NOFILE, &up) == 0)
			return;
	}
	setrlimit(RLIMIT_NOFILE, &rl);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur < want) {
		fprintf(stderr, "echo: %ld connections need %lu fds; RLIMIT_NOFILE allows %lu "
			"(raise the hard limit: ulimit -Hn, as root)\n",
			conns, (unsigned long)want, (unsigned long)rl.rlim_cur);
		exit(1);
	}
}

static _Noreturn void usage(void)
{
	fprintf(stderr, "usage: echo [-msgs N] [-size BYTES] [-conns C] [-idle [N]]\n");
	exit(2);
}

static long parse_long(const char *s, long lo, long hi, const char *flag)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi) {
		fprintf(stderr, "echo: %s: want an integer in %ld..%ld, got '%s'\n", flag, lo, hi,
			s);
		usage();
	}
	return v;
}

int main(int argc, char **argv)
{
	struct rusage ru;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "-idle") == 0) {
			cfg.idle = 10000;
			if (i + 1 < argc && argv[i + 1][0] != '-')
				cfg.idle = parse_long(argv[++i], 1, 1000000, a);
		} else if (i + 1 < argc && strcmp(a, "-msgs") == 0) {
			cfg.msgs = parse_long(argv[++i], 1, 1L << 40, a);
		} else if (i + 1 < argc && strcmp(a, "-size") == 0) {
			cfg.size = (int)parse_long(argv[++i], 1, MAX_SIZE, a);
		} else if (i + 1 < argc && strcmp(a, "-conns") == 0) {
			cfg.conns = parse_long(argv[++i], 1, 1000000, a);
		} else if (i + 1 < argc && strcmp(a, "-client") == 0) {
			cfg.client = argv[++i];
		} else {
			usage();
		}
	}
	raise_nofile(cfg.idle ? cfg.idle : cfg.conns ? cfg.conns : 10000);
	if (cfg.client) {
		bench_run("echo (client)", client_main, NULL);
		if (getrusage(RUSAGE_SELF, &ru) == 0)
			printf("# client-peak-rss-kib: %ld\n", ru.ru_maxrss);
		return 0;
	}
	bench_run("echo", server_main, argv[0]);
	bench_print_rss();
	return cfg.status;
}

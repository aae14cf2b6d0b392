/*
 * echo.c - an echo server and its clients in one process, over TCP on
 * loopback through weft's netpoller; the C side of bench/go/echo.
 *
 * The server: the main task's listener (127.0.0.1, a free port), an
 * accept loop in a task, a task per connection that reads up to 4 KiB and
 * writes back what it read, until end of file.
 *
 * Throughput (the default): for C in 1, 100 and 10,000 connections, C
 * client tasks dial (a thousand at a time, so that the accept queue never
 * overflows into SYN retransmits), wait until all are connected, then each
 * sends -size bytes (default 128) and reads the echo back, -msgs / C
 * times (default 200,000 messages in all); the time from the start signal
 * (a channel closed) to the last echo read, per message:
 *   "echo-1: X ns/op", "echo-100: X ns/op", "echo-10000: X ns/op"
 * (messages/s = 1e9 / X). Then "# peak-rss-kib: X".
 *
 * -idle N: N connections (default 10,000) dialed, each with a client task
 * and a server task blocked in weft_read; when all are blocked, the
 * process's resident memory ("# idle-rss-kib: X", VmRSS) and its peak
 * ("# peak-rss-kib: X", what bench/run.sh tabulates); then each client
 * writes one byte and reads its echo, which wakes all 2N tasks:
 * "idle-wake: X ms".
 *
 * -conns C measures C connections only (instead of 1, 100, 10,000).
 * WEFT_PROCS sets the Ps. The process raises its RLIMIT_NOFILE soft limit
 * to the hard limit, and the hard limit too when that is not enough and
 * it may (two fds a connection; Go's runtime raises the soft limit by
 * itself since Go 1.19, and bench/go/echo raises the hard one the same way).
 *
 * Rejected: server and clients in two processes (the figure would mix two
 * schedulers, and Go's twin would need the same split; one process is
 * the shape of the Go benchmarks this follows); counting connect time
 * (it is the kernel's, and the accept queue's).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench.h"

#define BATCH 1000
#define MAX_SIZE 4096

static struct {
	long msgs;	/* messages in all, per measurement */
	int size;	/* bytes a message */
	long conns;	/* one measurement of this many, or 0: 1, 100, 10000 */
	long idle;	/* -idle: this many idle connections */
	char addr[64];	/* the listener's */
	int lfd;
} cfg = { .msgs = 200000, .size = 128, .idle = 0 };

/* One measurement (or the idle run). */
static struct round {
	long per_conn;		/* messages each client sends */
	weft_chan *start;	/* closed to start every client at once */
	weft_wg connected;	/* a batch of clients dialed */
	weft_wg done;		/* every client finished */
	weft_wg blocked;	/* -idle: server tasks about to read */
	int *fds;		/* -idle: the clients' fds */
	atomic_long failed;
} rd;

static _Noreturn void die(const char *what, long err)
{
	fprintf(stderr, "echo: %s: %s\n", what, weft_strerror((int)err));
	exit(1);
}

/* ---- server ---------------------------------------------------------------------- */

static void serve_task(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char buf[MAX_SIZE];

	if (cfg.idle)
		weft_wg_done(&rd.blocked);
	for (;;) {
		ssize_t n = weft_read(fd, buf, sizeof(buf), -1);

		if (n <= 0 || weft_write(fd, buf, (size_t)n, -1) != n)
			break;
	}
	weft_close(fd);
}

static void accept_task(void *arg)
{
	(void)arg;
	for (;;) {
		int fd = weft_net_accept(cfg.lfd, -1);

		if (fd == -ECANCELED || fd == -EBADF)
			return;
		if (fd < 0)
			die("accept", fd);
		if (weft_go(serve_task, (void *)(intptr_t)fd) < 0)
			die("weft_go", -ENOMEM);
	}
}

/* ---- clients --------------------------------------------------------------------- */

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

static void client_task(void *arg)
{
	char msg[MAX_SIZE], back[MAX_SIZE];
	int fd = weft_net_dial(cfg.addr, -1), err = 0;
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

/*
 * -idle: dial, then block reading. The main task wakes the connection by
 * writing a byte into this fd (towards the server): the server's task
 * echoes it, and this read returns it.
 */
static void idle_task(void *arg)
{
	long i = (long)(intptr_t)arg;
	int fd = weft_net_dial(cfg.addr, -1);
	char back;

	if (fd < 0)
		die("dial", fd);
	rd.fds[i] = fd;
	weft_wg_done(&rd.connected);
	if (read_full(fd, &back, 1) < 0 || back != 'i')
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
			if (weft_go(fn, (void *)(intptr_t)(i + j)) < 0)
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

static void idle(long conns)
{
	uint64_t t0;

	rd.fds = calloc((size_t)conns, sizeof(int));
	if (!rd.fds)
		die("idle", -ENOMEM);
	weft_wg_add(&rd.done, conns);
	weft_wg_add(&rd.blocked, conns);
	dial_all(idle_task, conns);
	weft_wg_wait(&rd.blocked);
	/*
	 * Every client task and every server task is in (or entering)
	 * weft_read with nothing to read: the memory of conns idle
	 * connections, 2 * conns tasks, as Go's of as many goroutines.
	 */
	printf("# idle-conns: %ld\n# idle-rss-kib: %ld\n", conns, rss_kib());
	fflush(stdout);
	t0 = bench_now_ns();
	for (long i = 0; i < conns; i++)
		if (weft_write(rd.fds[i], "i", 1, -1) != 1)
			die("idle write", -EIO);
	weft_wg_wait(&rd.done);
	printf("idle-wake: %.2f ms\n", (double)(bench_now_ns() - t0) / 1e6);
	free(rd.fds);
	if (atomic_load(&rd.failed))
		die("idle", -EIO);
}

static void main_task(void *arg)
{
	int err;

	(void)arg;
	cfg.lfd = weft_net_listen("127.0.0.1:0", 0);
	if (cfg.lfd < 0)
		die("listen", cfg.lfd);
	err = weft_net_addr(cfg.lfd, cfg.addr, sizeof(cfg.addr));
	if (err < 0)
		die("weft_net_addr", err);
	if ((err = weft_go(accept_task, NULL)) < 0)
		die("weft_go", err);
	printf("# weft procs=%d size=%d msgs=%ld\n", weft_procs(), cfg.size, cfg.msgs);
	if (cfg.idle) {
		idle(cfg.idle);
	} else if (cfg.conns) {
		measure(cfg.conns);
	} else {
		measure(1);
		measure(100);
		measure(10000);
	}
	weft_close(cfg.lfd);
}

/* Two fds a connection, and some to spare: raise RLIMIT_NOFILE as far as needed and allowed. */
static void raise_nofile(long conns)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)(2 * conns + 64);

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want) {
		struct rlimit up = { want, want };

		if (setrlimit(RLIMIT_NOFILE, &up) == 0)
			return;
	}
	setrlimit(RLIMIT_NOFILE, &rl);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
		fprintf(stderr, "echo: %ld connections need %lu fds; RLIMIT_NOFILE allows %lu "
			"(raise the hard limit: ulimit -Hn, as root)\n",
			conns, (unsigned long)want, (unsigned long)rl.rlim_cur);
		exit(1);
	}
}

static long parse_long(const char *s, long lo, long hi, const char *flag)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi) {
		fprintf(stderr, "echo: %s: want an integer in %ld..%ld, got '%s'\n", flag, lo, hi, s);
		fprintf(stderr, "usage: echo [-msgs N] [-size BYTES] [-conns C] [-idle [N]]\n");
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
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
		} else {
			fprintf(stderr, "usage: echo [-msgs N] [-size BYTES] [-conns C] [-idle [N]]\n");
			return 2;
		}
	}
	raise_nofile(cfg.idle ? cfg.idle : cfg.conns ? cfg.conns : 10000);
	bench_run("echo", main_task, NULL);
	bench_print_rss();
	return 0;
}

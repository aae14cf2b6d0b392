/*
 * mandelbrot.c - the Mandelbrot program of Dave Cheney's High Performance
 * Go Workshop (chapter 4, "Execution Tracer"), on weft; the C side of
 * bench/go/mandelbrot. An example of the project (make examples), and a
 * benchmark too: it prints bench/run.sh's lines (bench/bench.h).
 *
 * The workshop uses it to show what a profiler cannot: the same kernel,
 * filled five ways, is sequential, drowned in scheduling, well batched, or
 * stalled on a channel, and only a trace of the scheduler tells which.
 *
 *   seq       every pixel in turn, in the main task
 *   px        one task per pixel, a wait group
 *   row       one task per row, a wait group
 *   workers   -workers tasks receive every pixel (x, y) from an unbuffered
 *             channel that the main task sends them through, then closes;
 *             a wait group for the workers
 *   buffered  the same through a channel of capacity h*w
 *   plain     seq on the process's own thread, without weft_main(): the
 *             plain-C reference for seq (no runtime, so no -trace)
 *
 * The kernel is the workshop's to the bit (mandel_gray of mandel.h at zoom
 * 2, shared with bench/mandelweb), so that the checksum (the sum of the
 * gray levels) is the Go program's: pixel (x, y) of an image of h rows and
 * w columns is C = (2x/1000 - 1.5) + (2y/1000 - 1)i - the scale is the
 * iteration count n = 1000, not the image size, so a 1024x1024 image covers
 * [-1.5, 0.546] x [-1, 1.046]. The workshop's 1024x1024 picture sums to
 * 16949539. Two details keep that exact (mandel.h says more): the
 * conversion of the product to a byte goes through long, exact because -h
 * and -w are bounded (MAX_SIDE keeps |C| < 92 and the product far below
 * 2^31); and `2 * zr * zi + ci` must not become a fused multiply-add:
 * Makefile.am builds this file with -ffp-contract=off (GCC ignores the
 * FP_CONTRACT pragma), and the Go twin rounds the product with an explicit
 * float64() conversion for the same reason on arm64.
 *
 * The image: gray[x * w + y], row x holding one real part, as the
 * workshop's [][]color.RGBA (one byte a pixel here, four there). Its PNG
 * is h pixels wide and w tall, the real axis running left to right, as the
 * workshop's; mandel_png (mandel.c) writes it, 8-bit RGB, with libpng's
 * defaults, which match Go's: zlib level 6, adaptive filters.
 *
 * Flags (Go's flag syntax: -name value, -name=value, --name):
 *   -mode M       seq (default), px, row, workers, buffered, plain
 *   -workers N    tasks of workers and buffered (default 1, the workshop's)
 *   -h N, -w N    image size (default 1024 each; 1..MAX_SIDE)
 *   -o FILE       the PNG (default mandelbrot.png); -o '' or -o - computes
 *                 only: no PNG, no encode line. -o /dev/null encodes and
 *                 throws the bytes away. libpng is optional to the build
 *                 (HAVE_LIBPNG, from configure): without it -o FILE is
 *                 refused with a message naming libpng, and the default
 *                 is no PNG.
 *   -trace FILE   weft_trace_start(FILE) before the fill and
 *                 weft_trace_stop() after the PNG is written
 *
 * Output, for bench/run.sh:
 *   "compute: <ms> ms"   the fill, from the first spawn to the last wait
 *   "encode: <ms> ms"    PNG encode and write, file closed
 *   "checksum: <sum>"    the sum of the gray levels
 *   "# peak-rss-kib: X"
 * WEFT_PROCS sets the Ps.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <unistd.h>

#include "../bench/bench.h"
#include "mandel.h"

#define MAX_SIDE 32768

#ifndef HAVE_LIBPNG
#define NO_PNG \
	"built without libpng, so no PNG (Debian: libpng-dev, then ./configure and make again)"
#endif

enum mode { MODE_SEQ, MODE_PX, MODE_ROW, MODE_WORKERS, MODE_BUFFERED, MODE_PLAIN };

static const char *const mode_names[] = {
	[MODE_SEQ] = "seq", [MODE_PX] = "px", [MODE_ROW] = "row",
	[MODE_WORKERS] = "workers", [MODE_BUFFERED] = "buffered", [MODE_PLAIN] = "plain",
};

struct pixel {
	int x, y;
};

/* -o's default (a build without libpng: none, with a note). */
static const char default_out[] = "mandelbrot.png";

/*
 * One picture per process, so that a px or row task carries its pixel or
 * row in its argument and nothing is allocated per task (the Go closures
 * capture the image; here it is a file-scope variable). The wait group,
 * which every px task decrements, has a cache line of its own: sharing one
 * with gray and w, which every pixel reads, would bounce that line between
 * the Ps once per pixel (Go's WaitGroup is a separate object too).
 */
static struct mandel {
	int h, w;
	unsigned char *gray;	/* h rows of w: gray[x * w + y] */
	weft_chan *c;		/* workers, buffered */
	enum mode mode;
	int workers;
	const char *out;	/* NULL: no PNG */
	const char *trace;	/* NULL: no trace */
	int procs;
	double compute_ms, encode_ms;
	_Alignas(64) weft_wg wg;
	char pad_[64 - sizeof(weft_wg)];
} mb = { .h = 1024, .w = 1024, .mode = MODE_SEQ, .workers = 1, .out = default_out };

static _Noreturn void die(const char *what, int err)
{
	fprintf(stderr, "mandelbrot: %s: %s\n", what, weft_strerror(err));
	exit(1);
}

/* The workshop's fillPixel and paint (mandel.h), at its zoom 2. */
static void paint(int x, int y)
{
	mb.gray[(size_t)x * mb.w + y] = mandel_gray(2, x, y);
}

static void go_or_die(weft_fn fn, void *arg)
{
	int err = weft_go(fn, arg);

	if (err < 0)
		die("weft_go", err);
}

static void fill_seq(void)
{
	for (int x = 0; x < mb.h; x++)
		for (int y = 0; y < mb.w; y++)
			paint(x, y);
}

static void px_task(void *arg)
{
	size_t i = (uintptr_t)arg;

	paint((int)(i / (size_t)mb.w), (int)(i % (size_t)mb.w));
	weft_wg_done(&mb.wg);
}

static void fill_px(void)
{
	size_t n = (size_t)mb.h * (size_t)mb.w;

	weft_wg_add(&mb.wg, (int64_t)n);
	for (size_t i = 0; i < n; i++)
		go_or_die(px_task, (void *)(uintptr_t)i);
	weft_wg_wait(&mb.wg);
}

static void row_task(void *arg)
{
	int x = (int)(uintptr_t)arg;

	for (int y = 0; y < mb.w; y++)
		paint(x, y);
	weft_wg_done(&mb.wg);
}

static void fill_row(void)
{
	weft_wg_add(&mb.wg, mb.h);
	for (int x = 0; x < mb.h; x++)
		go_or_die(row_task, (void *)(uintptr_t)x);
	weft_wg_wait(&mb.wg);
}

static void worker_task(void *arg)
{
	struct pixel p;

	while (weft_chan_recv(mb.c, &p) == 0)
		paint(p.x, p.y);
	weft_wg_done(&mb.wg);
}

/* workers (capacity 0) and buffered (capacity h*w). */
static void fill_workers(size_t capacity)
{
	int err;

	mb.c = weft_chan_make(sizeof(struct pixel), capacity);
	if (!mb.c)
		die("weft_chan_make", -ENOMEM);
	weft_wg_add(&mb.wg, mb.workers);
	for (int i = 0; i < mb.workers; i++)
		go_or_die(worker_task, NULL);
	for (int x = 0; x < mb.h; x++) {
		for (int y = 0; y < mb.w; y++) {
			struct pixel p = { x, y };

			err = weft_chan_send(mb.c, &p);
			if (err < 0)
				die("weft_chan_send", err);
		}
	}
	weft_chan_close(mb.c);
	weft_wg_wait(&mb.wg);
	weft_chan_free(mb.c);
	mb.c = NULL;
}

static void fill(void)
{
	switch (mb.mode) {
	case MODE_SEQ:
	case MODE_PLAIN:
		fill_seq();
		break;
	case MODE_PX:
		fill_px();
		break;
	case MODE_ROW:
		fill_row();
		break;
	case MODE_WORKERS:
		fill_workers(0);
		break;
	case MODE_BUFFERED:
		fill_workers((size_t)mb.h * (size_t)mb.w);
		break;
	}
}

#ifdef HAVE_LIBPNG
/*
 * PNG output. mandel_png (libpng) writes through png_out_write into a
 * 64 KiB buffer; only the write(2) of a full buffer is a system call, and
 * it is marked as one (weft_syscall_enter/exit, as are open and close) so
 * that a trace shows it where Go's shows its own writes.
 */
struct png_out {
	int fd;
	size_t len;
	unsigned char buf[1 << 16];
};

/*
 * open, write and close as system calls of the task (the P may be handed
 * off while they block): the result, or -errno. errno is read here, before
 * weft_syscall_exit(): the task may resume on another thread after it, and
 * glibc's __errno_location() is a const function whose result the compiler
 * may keep across calls - so errno is never read in a caller.
 */
static __attribute__((noinline)) int task_open(const char *path)
{
	int fd;

	weft_syscall_enter();
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (fd < 0)
		fd = -errno;
	weft_syscall_exit();
	return fd;
}

static __attribute__((noinline)) ssize_t task_write(int fd, const void *buf, size_t size)
{
	ssize_t n;

	weft_syscall_enter();
	n = write(fd, buf, size);
	if (n < 0)
		n = -errno;
	weft_syscall_exit();
	return n;
}

static __attribute__((noinline)) int task_close(int fd)
{
	int err;

	weft_syscall_enter();
	err = close(fd) < 0 ? -errno : 0;
	weft_syscall_exit();
	return err;
}

/* Write out the buffer: 0 or -errno. */
static int out_flush(struct png_out *o)
{
	size_t done = 0;

	while (done < o->len) {
		ssize_t n = task_write(o->fd, o->buf + done, o->len - done);

		if (n == -EINTR)
			continue;
		if (n < 0)
			return (int)n;
		if (n == 0)
			return -EIO;
		done += (size_t)n;
	}
	o->len = 0;
	return 0;
}

/* mandel_png's sink: 0 or -errno. */
static int png_out_write(void *ctx, const void *data, size_t size)
{
	struct png_out *o = ctx;
	const unsigned char *p = data;

	while (size > 0) {
		size_t room = sizeof(o->buf) - o->len;
		size_t k = size < room ? size : room;

		memcpy(o->buf + o->len, p, k);
		o->len += k;
		p += k;
		size -= k;
		if (o->len == sizeof(o->buf)) {
			int err = out_flush(o);

			if (err < 0)
				return err;
		}
	}
	return 0;
}

/* Write the PNG to @path: 0, or -1 with a message printed. */
static int write_png(const char *path)
{
	struct png_out *o = malloc(sizeof(*o));
	int ret = -1, err;

	if (!o) {
		fprintf(stderr, "mandelbrot: out of memory\n");
		goto out;
	}
	o->len = 0;
	o->fd = task_open(path);
	if (o->fd < 0) {
		fprintf(stderr, "mandelbrot: %s: %s\n", path, strerror(-o->fd));
		goto out;
	}
	/* Its other errors, libpng has printed ("libpng error: ..."). */
	err = mandel_png(mb.gray, mb.h, mb.w, png_out_write, o);
	if (err == -ENOMEM)
		fprintf(stderr, "mandelbrot: libpng: out of memory\n");
	if (err < 0)
		goto out_close;
	err = out_flush(o);
	if (err < 0) {
		fprintf(stderr, "mandelbrot: %s: %s\n", path, strerror(-err));
		goto out_close;
	}
	ret = 0;
out_close:
	err = task_close(o->fd);
	if (err < 0 && ret == 0) {
		fprintf(stderr, "mandelbrot: %s: %s\n", path, strerror(-err));
		ret = -1;
	}
out:
	free(o);
	return ret;
}
#else
/* Never called: parse_flags refuses -o FILE in a build without libpng. */
static int write_png(const char *path)
{
	fprintf(stderr, "mandelbrot: -o %s: %s\n", path, NO_PNG);
	return -1;
}
#endif

static double ms_since(uint64_t t0)
{
	return (double)(bench_now_ns() - t0) / 1e6;
}

/* Fill, then encode: the whole run, as the main task (or plainly). */
static void run(void)
{
	uint64_t t0;

	t0 = bench_now_ns();
	fill();
	mb.compute_ms = ms_since(t0);
	if (mb.out) {
		t0 = bench_now_ns();
		if (write_png(mb.out) < 0)
			exit(1);
		mb.encode_ms = ms_since(t0);
	}
}

static void main_task(void *arg)
{
	int err;

	mb.procs = weft_procs();
	if (mb.trace && (err = weft_trace_start(mb.trace)) < 0)
		die(mb.trace, err);
	run();
	if (mb.trace && (err = weft_trace_stop()) < 0)
		die(mb.trace, err);
}

static _Noreturn void usage(int status)
{
	fprintf(status ? stderr : stdout,
		"usage: mandelbrot [-mode seq|px|row|workers|buffered|plain] [-workers N]\n"
		"                  [-h N] [-w N] [-o FILE] [-trace FILE]\n"
		"  -h, -w      image size, 1..%d (default 1024; -h runs along the real axis\n"
		"              and is the PNG's width, as in the workshop)\n"
		"  -workers N  tasks of the workers and buffered modes (default 1)\n"
#ifdef HAVE_LIBPNG
		"  -o FILE     PNG to write (default mandelbrot.png); '' or - writes none\n"
#else
		"  -o FILE     PNG to write: not in this build (no libpng); '' or - writes none\n"
#endif
		"  -trace FILE weft execution trace of the fill and the encode\n"
		"WEFT_PROCS sets the number of Ps.\n", MAX_SIDE);
	exit(status);
}

static int parse_int(const char *s, int lo, int hi, const char *name)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end != '\0' || v < lo || v > hi) {
		fprintf(stderr, "mandelbrot: -%s: want an integer in %d..%d, got '%s'\n",
			name, lo, hi, s);
		usage(2);
	}
	return (int)v;
}

static void parse_flags(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *name = argv[i], *val, *eq;
		size_t len;
		size_t m;

		if (name[0] != '-' || name[1] == '\0') {
			fprintf(stderr, "mandelbrot: unexpected argument '%s'\n", name);
			usage(2);
		}
		name += name[1] == '-' ? 2 : 1;
		if (strcmp(name, "help") == 0)
			usage(0);
		eq = strchr(name, '=');
		len = eq ? (size_t)(eq - name) : strlen(name);
		if (eq) {
			val = eq + 1;
		} else if (i + 1 < argc) {
			val = argv[++i];
		} else {
			fprintf(stderr, "mandelbrot: flag needs a value: %s\n", argv[i]);
			usage(2);
		}
#define IS(flag) (len == strlen(flag) && strncmp(name, flag, len) == 0)
		if (IS("mode")) {
			for (m = 0; m < sizeof(mode_names) / sizeof(mode_names[0]); m++)
				if (strcmp(val, mode_names[m]) == 0)
					break;
			if (m == sizeof(mode_names) / sizeof(mode_names[0])) {
				fprintf(stderr, "mandelbrot: unknown mode '%s'\n", val);
				usage(2);
			}
			mb.mode = (enum mode)m;
		} else if (IS("workers")) {
			mb.workers = parse_int(val, 1, 1 << 20, "workers");
		} else if (IS("h")) {
			mb.h = parse_int(val, 1, MAX_SIDE, "h");
		} else if (IS("w")) {
			mb.w = parse_int(val, 1, MAX_SIDE, "w");
		} else if (IS("o")) {
			mb.out = (val[0] == '\0' || strcmp(val, "-") == 0) ? NULL : val;
		} else if (IS("trace")) {
			mb.trace = val[0] ? val : NULL;
		} else {
			fprintf(stderr, "mandelbrot: unknown flag -%.*s\n", (int)len, name);
			usage(2);
		}
#undef IS
	}
	if (mb.mode == MODE_PLAIN && mb.trace) {
		fprintf(stderr, "mandelbrot: -mode plain runs without the runtime: no -trace\n");
		usage(2);
	}
#ifndef HAVE_LIBPNG
	if (mb.out == default_out) {
		fprintf(stderr, "mandelbrot: %s\n", NO_PNG);
		mb.out = NULL;
	} else if (mb.out) {
		fprintf(stderr, "mandelbrot: -o %s: %s; -o '' computes only\n", mb.out, NO_PNG);
		exit(1);
	}
#endif
}

int main(int argc, char **argv)
{
	uint64_t sum = 0;
	size_t n;

	parse_flags(argc, argv);
	n = (size_t)mb.h * (size_t)mb.w;
	mb.gray = malloc(n);
	if (!mb.gray)
		die("image", -ENOMEM);

	if (mb.mode == MODE_PLAIN)
		run();
	else
		bench_run("mandelbrot", main_task, NULL);

	for (size_t i = 0; i < n; i++)
		sum += mb.gray[i];
	if (mb.mode == MODE_PLAIN)
		printf("# plain C (no runtime) mode=plain h=%d w=%d\n", mb.h, mb.w);
	else
		printf("# weft procs=%d mode=%s workers=%d h=%d w=%d\n", mb.procs,
		       mode_names[mb.mode], mb.workers, mb.h, mb.w);
	printf("compute: %.2f ms\n", mb.compute_ms);
	if (mb.out)
		printf("encode: %.2f ms\n", mb.encode_ms);
	printf("checksum: %llu\n", (unsigned long long)sum);
	bench_print_rss();
	free(mb.gray);
	return 0;
}

/*
 * out.c - a command's output file: temporary beside the name, renamed
 * when complete; gzip through a glibc cookie stream (out.h says why).
 *
 * The gzip layer is fopencookie(): the command keeps writing with stdio
 * (fprintf, fwrite, putc) into a 1 MB buffer, and each flush of that
 * buffer reaches gz_write. Deflate is the most expensive step of a
 * Perfetto export (zlib's level 1 is about half the CPU of the whole
 * command), so when the process has a second CPU (tool_use_threads, as
 * for the reader) a deflate thread does it: gz_write copies the bytes
 * into one of four 1 MB slots and hands each full slot over (a mutex and
 * two condition variables; the writer waits only when all four are
 * full), the thread deflates them in order into the file. One CPU, or
 * WEFT_TRACE_THREADS=0: deflate inline, the same bytes.
 *
 * Invariants: o->f is the only stream the command sees; o->raw is the
 * file (or stdout) and is closed last; the deflate thread alone touches
 * the z_stream and o->raw while it runs, and is joined before either is
 * closed; after a failed deflate or write the thread keeps emptying
 * slots (so the writer never waits for ever) and the next gz_write
 * fails with the saved errno; the temporary is removed on every path
 * that does not rename it; only a regular file (or a new name) is ever
 * replaced, and through a symbolic link the file it points to is, not
 * the link. Anything else (/dev/null, a FIFO, /dev/stdout and the other
 * names of an open descriptor, whatever they lead to) is written in place
 * and left where it is, whatever happens.
 *
 * Rejected: gzopen()/gzwrite (zlib's gz* layer would do, but it cannot
 * write to an already-open stdout without dup games, and the cookie keeps
 * one FILE * for both cases); pigz-style parallel deflate of independent
 * blocks (one more thread buys nothing on the 2 CPUs we measure on, and
 * the reader already has the other); a lower level than 1 (zlib has
 * none: level 0 stores, 7x the bytes).
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "out.h"
#include "pipe.h"
#include "tool.h"

#define OUT_BUF (1 << 20)
#define GZ_BUF (256 << 10)
#define GZ_SLOTS 4
#define GZ_SLOT (1 << 20)

struct tool_out_gz {
	z_stream z;
	FILE *raw;
	unsigned long long in;
	bool err;            /* deflate or the write failed: under mu when threaded */
	int err_no;
	/* The deflate thread (threaded): slots [tail, tail + nfull) are full
	 * and its to compress; slot head % GZ_SLOTS is the writer's to fill. */
	bool threaded, done;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t filled, freed;
	unsigned head, tail, nfull;
	size_t fill;         /* bytes in the writer's slot */
	unsigned char *slot[GZ_SLOTS];
	size_t len[GZ_SLOTS];
	unsigned char out[GZ_BUF];
};

/* Deflate @n bytes at @in (none with Z_FINISH) into the file. */
static bool gz_deflate(struct tool_out_gz *g, const unsigned char *in, size_t n, int flush)
{
	int r;

	g->z.next_in = (unsigned char *)in;
	g->z.avail_in = (uInt)n;
	do {
		g->z.next_out = g->out;
		g->z.avail_out = GZ_BUF;
		r = deflate(&g->z, flush);
		if (r == Z_STREAM_ERROR)
			return false;
		size_t k = GZ_BUF - g->z.avail_out;
		if (k && fwrite(g->out, 1, k, g->raw) != k)
			return false;
	} while (g->z.avail_out == 0 || (flush == Z_FINISH && r != Z_STREAM_END));
	return true;
}

static void gz_fail(struct tool_out_gz *g)
{
	g->err_no = errno ? errno : EIO;
	g->err = true;
}

static void *gz_main(void *arg)
{
	struct tool_out_gz *g = arg;

	pthread_mutex_lock(&g->mu);
	for (;;) {
		while (g->nfull == 0 && !g->done)
			pthread_cond_wait(&g->filled, &g->mu);
		if (g->nfull == 0)
			break;
		unsigned i = g->tail % GZ_SLOTS;
		bool ok = !g->err;
		pthread_mutex_unlock(&g->mu);
		/* After a failure the slots are only emptied, so the writer
		 * never waits for ever. */
		if (ok && !gz_deflate(g, g->slot[i], g->len[i], Z_NO_FLUSH))
			ok = false;
		pthread_mutex_lock(&g->mu);
		if (!ok && !g->err)
			gz_fail(g);
		g->tail++;
		g->nfull--;
		pthread_cond_signal(&g->freed);
	}
	if (!g->err && !gz_deflate(g, NULL, 0, Z_FINISH))
		gz_fail(g);
	pthread_mutex_unlock(&g->mu);
	return NULL;
}

/* Hand the writer's slot to the deflate thread; wait for a free one. */
static bool gz_publish(struct tool_out_gz *g)
{
	bool ok;

	pthread_mutex_lock(&g->mu);
	g->len[g->head % GZ_SLOTS] = g->fill;
	g->head++;
	g->nfull++;
	pthread_cond_signal(&g->filled);
	while (g->nfull == GZ_SLOTS)
		pthread_cond_wait(&g->freed, &g->mu);
	ok = !g->err;
	pthread_mutex_unlock(&g->mu);
	g->fill = 0;
	return ok;
}

static ssize_t gz_write(void *cookie, const char *buf, size_t n)
{
	struct tool_out_gz *g = cookie;
	size_t done = 0;

	if (!g->threaded) {
		if (g->err || !gz_deflate(g, (const unsigned char *)buf, n, Z_NO_FLUSH)) {
			if (!g->err)
				gz_fail(g);
			errno = g->err_no;
			return -1;
		}
		g->in += n;
		return (ssize_t)n;
	}
	while (done < n) {
		size_t k = n - done;
		if (k > GZ_SLOT - g->fill)
			k = GZ_SLOT - g->fill;
		memcpy(g->slot[g->head % GZ_SLOTS] + g->fill, buf + done, k);
		g->fill += k;
		done += k;
		if (g->fill == GZ_SLOT && !gz_publish(g)) {
			errno = g->err_no;
			return -1;
		}
	}
	g->in += n;
	return (ssize_t)n;
}

static int gz_close(void *cookie)
{
	struct tool_out_gz *g = cookie;
	int r = 0;

	if (g->threaded) {
		if (g->fill)
			gz_publish(g);
		pthread_mutex_lock(&g->mu);
		g->done = true;
		pthread_cond_signal(&g->filled);
		pthread_mutex_unlock(&g->mu);
		pthread_join(g->thread, NULL);
		for (int i = 0; i < GZ_SLOTS; i++)
			free(g->slot[i]);
		pthread_mutex_destroy(&g->mu);
		pthread_cond_destroy(&g->filled);
		pthread_cond_destroy(&g->freed);
	} else if (!g->err && !gz_deflate(g, NULL, 0, Z_FINISH)) {
		gz_fail(g);
	}
	if (g->err) {
		errno = g->err_no;
		r = -1;
	}
	deflateEnd(&g->z);
	return r;
}

/* A deflate thread when there is a CPU for it (tool_use_threads). */
static void gz_start_thread(struct tool_out_gz *g)
{
	if (!tool_use_threads())
		return;
	for (int i = 0; i < GZ_SLOTS; i++)
		g->slot[i] = tool_calloc(1, GZ_SLOT);
	pthread_mutex_init(&g->mu, NULL);
	pthread_cond_init(&g->filled, NULL);
	pthread_cond_init(&g->freed, NULL);
	g->threaded = pthread_create(&g->thread, NULL, gz_main, g) == 0;
	if (!g->threaded) {
		for (int i = 0; i < GZ_SLOTS; i++)
			free(g->slot[i]);
		pthread_mutex_destroy(&g->mu);
		pthread_cond_destroy(&g->filled);
		pthread_cond_destroy(&g->freed);
	}
}

/*
 * @path names an open descriptor (/dev/stdout, /dev/fd/N, /proc/self/fd/N,
 * or a link to one): the shell's redirection, written in place even when
 * it is a regular file - renaming over it would leave the descriptor on
 * the old file.
 */
static bool fd_alias(const char *path)
{
	char target[64];
	ssize_t n;

	if (strncmp(path, "/dev/fd/", 8) == 0 || strncmp(path, "/proc/", 6) == 0)
		return true;
	if ((n = readlink(path, target, sizeof(target) - 1)) <= 0)
		return false;
	target[n] = 0;
	return strncmp(target, "/proc/", 6) == 0 || strncmp(target, "/dev/fd/", 8) == 0;
}

FILE *tool_out_open(struct tool_out *o, const char *cmd, const char *path, bool gzip, int level)
{
	struct stat st;

	memset(o, 0, sizeof(*o));
	o->cmd = cmd;
	if (!path || strcmp(path, "-") == 0) {
		o->raw = stdout;
	} else if ((stat(path, &st) == 0 && !S_ISREG(st.st_mode)) || fd_alias(path)) {
		/* A device, a FIFO, a terminal (or a link to one): write to it
		 * as it is; it is never renamed over or removed. */
		o->path = path;
		if (!(o->raw = fopen(path, "w"))) {
			tool_err(cmd, "%s: %s", path, strerror(errno));
			return NULL;
		}
	} else {
		/* A regular file or a new name: a temporary beside it (beside
		 * the file a symbolic link points to, so the link stays). */
		char *real = lstat(path, &st) == 0 && S_ISLNK(st.st_mode) ? realpath(path, NULL) : NULL;
		const char *target = real ? real : path;
		size_t n = strlen(target);
		o->path = path;
		o->target = real;
		o->tmp = tool_calloc(n + 8, 1);
		memcpy(o->tmp, target, n);
		memcpy(o->tmp + n, ".XXXXXX", 8);
		int fd = mkstemp(o->tmp);
		if (fd < 0 || !(o->raw = fdopen(fd, "w"))) {
			tool_err(cmd, "%s: cannot create %s: %s", path, o->tmp, strerror(errno));
			if (fd >= 0) {
				close(fd);
				unlink(o->tmp);
			}
			free(o->tmp);
			free(o->target);
			o->tmp = o->target = NULL;
			return NULL;
		}
		/* mkstemp makes it 0600; a new file is 0666 less the umask, a
		 * replaced one keeps its mode. */
		mode_t um = umask(0);
		umask(um);
		fchmod(fd, stat(target, &st) == 0 ? st.st_mode & 07777 : 0666 & ~um);
	}
	if (!gzip) {
		o->f = o->raw;
		setvbuf(o->f, NULL, _IOFBF, OUT_BUF);
		return o->f;
	}
	o->gz = tool_calloc(1, sizeof(*o->gz));
	o->gz->raw = o->raw;
	/* windowBits 15 + 16: a gzip header and trailer instead of zlib's. */
	if (deflateInit2(&o->gz->z, level ? level : Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		tool_oom();
	gz_start_thread(o->gz);
	o->f = fopencookie(o->gz, "w",
			   (cookie_io_functions_t){ .write = gz_write, .close = gz_close });
	if (!o->f)
		tool_oom();
	setvbuf(o->f, NULL, _IOFBF, OUT_BUF);
	return o->f;
}

unsigned long long tool_out_bytes(const struct tool_out *o)
{
	if (o->gz)
		return o->gz->in;
	long p = o->f ? ftell(o->f) : -1;
	return p > 0 ? (unsigned long long)p : 0;
}

int tool_out_close(struct tool_out *o, bool ok)
{
	int werr = 0, e = 0;

	if (!o->f)
		return -1;
	if (ferror(o->f) || fflush(o->f) != 0)
		werr = 1, e = errno;
	if (o->gz) {
		if (fclose(o->f) != 0 && !werr)
			werr = 1, e = errno;
		free(o->gz);
		o->gz = NULL;
	}
	if (o->raw != stdout || o->f != o->raw) {
		if (o->raw == stdout) {
			if (fflush(stdout) != 0 && !werr)
				werr = 1, e = errno;
		} else if (fclose(o->raw) != 0 && !werr) {
			werr = 1, e = errno;
		}
	} else if (ferror(stdout)) {
		werr = 1;
	}
	o->f = o->raw = NULL;
	if (werr && ok)
		tool_err(o->cmd, "%s: write error: %s", o->path ? o->path : "standard output",
			 e ? strerror(e) : "I/O error");
	if (o->tmp) {
		if (ok && !werr && rename(o->tmp, o->target ? o->target : o->path) != 0) {
			tool_err(o->cmd, "%s: cannot rename %s over it: %s", o->path, o->tmp,
				 strerror(errno));
			werr = 1;
		}
		if (!ok || werr)
			unlink(o->tmp);
		free(o->tmp);
		free(o->target);
		o->tmp = o->target = NULL;
	}
	return werr || !ok ? -1 : 0;
}

/*
 * out.c - a command's output file: temporary beside the name, renamed
 * when complete; gzip through a glibc cookie stream (out.h says why).
 *
 * The gzip layer is fopencookie(): the command keeps writing with stdio
 * (fprintf, fwrite, putc) into a 1 MB buffer, and each flush of that
 * buffer is one deflate() call into the file. deflate's output buffer is
 * 256 KB, written with fwrite to the raw file.
 *
 * Invariants: o->f is the only stream the command sees; o->raw is the
 * file (or stdout) and is closed last; the temporary is removed on every
 * path that does not rename it; only a regular file (or a new name) is
 * ever replaced, and through a symbolic link the file it points to is,
 * not the link. Anything else (/dev/null, a FIFO, /dev/stdout) is written
 * in place and left where it is, whatever happens.
 *
 * Rejected: gzopen()/gzwrite (zlib's gz* layer would do, but it cannot
 * write to an already-open stdout without dup games, and the cookie keeps
 * one FILE * for both cases); a deflate thread (measured: see
 * bench/RESULTS.md, issue 14).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "out.h"
#include "tool.h"

#define OUT_BUF (1 << 20)
#define GZ_BUF (256 << 10)

struct tool_out_gz {
	z_stream z;
	FILE *raw;
	unsigned long long in;
	bool err;
	unsigned char out[GZ_BUF];
};

static bool gz_drain(struct tool_out_gz *g, int flush)
{
	int r;

	do {
		g->z.next_out = g->out;
		g->z.avail_out = GZ_BUF;
		r = deflate(&g->z, flush);
		if (r == Z_STREAM_ERROR)
			return false;
		size_t n = GZ_BUF - g->z.avail_out;
		if (n && fwrite(g->out, 1, n, g->raw) != n)
			return false;
	} while (g->z.avail_out == 0 || (flush == Z_FINISH && r != Z_STREAM_END));
	return true;
}

static ssize_t gz_write(void *cookie, const char *buf, size_t n)
{
	struct tool_out_gz *g = cookie;

	if (g->err) {
		errno = EIO;
		return -1;
	}
	g->z.next_in = (unsigned char *)buf;
	g->z.avail_in = (uInt)n; /* stdio hands us at most its buffer */
	if (!gz_drain(g, Z_NO_FLUSH)) {
		g->err = true;
		errno = errno ? errno : EIO;
		return -1;
	}
	g->in += n;
	return (ssize_t)n;
}

static int gz_close(void *cookie)
{
	struct tool_out_gz *g = cookie;
	int r = 0;

	g->z.next_in = NULL;
	g->z.avail_in = 0;
	if (g->err || !gz_drain(g, Z_FINISH))
		r = -1;
	deflateEnd(&g->z);
	return r;
}

FILE *tool_out_open(struct tool_out *o, const char *cmd, const char *path, bool gzip, int level)
{
	struct stat st;

	memset(o, 0, sizeof(*o));
	o->cmd = cmd;
	if (!path || strcmp(path, "-") == 0) {
		o->raw = stdout;
	} else if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
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

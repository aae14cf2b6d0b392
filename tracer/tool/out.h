/*
 * out.h - the file a command writes (export, pprof): a stdio stream that
 * is gzip'd on the way if asked, and that appears under its name only
 * when it is complete.
 *
 * tool_out_open() creates "NAME.XXXXXX" beside NAME and returns a FILE *
 * on it (through zlib's deflate when @gzip); tool_out_close(ok) flushes,
 * finishes the gzip member and renames the temporary over NAME, or, when
 * !ok or a write failed, removes the temporary. So a bad trace, a full
 * disk or a crash never leaves half a file under NAME, and a file that
 * was already there is replaced only by a complete one: nothing we did
 * not create is ever deleted. To standard output (NAME NULL or "-"), and
 * to anything that is not a regular file (/dev/null, a FIFO), the bytes
 * go as they come and nothing is ever removed.
 *
 * Rejected: unlinking NAME on failure (the old export did: it deletes what
 * was there before we ran); piping through gzip(1) (a process to manage,
 * and no error reporting); our own stored-deflate gzip (zlib is in every
 * distribution and compresses 8x).
 */
#ifndef WEFT_TRACE_OUT_H
#define WEFT_TRACE_OUT_H

#include <stdbool.h>
#include <stdio.h>

struct tool_out_gz;

struct tool_out {
	FILE *f;           /* what the command writes to */
	const char *cmd;   /* for messages */
	const char *path;  /* NAME, or NULL for standard output */
	char *tmp;         /* NAME.XXXXXX while writing */
	char *target;      /* what NAME links to (the file replaced), or NULL */
	FILE *raw;         /* the file under the gzip stream */
	struct tool_out_gz *gz;
	bool werr;         /* a write failed (the gzip layer's own errors) */
};

/*
 * Open @path (NULL or "-": standard output) for @cmd; @gzip: deflate
 * what is written, gzip framing, level @level (1..9, 0: zlib's default).
 * NULL after printing why.
 */
FILE *tool_out_open(struct tool_out *o, const char *cmd, const char *path, bool gzip, int level);
/*
 * Finish: @ok false (the command failed) removes the temporary. Returns 0,
 * or -1 after printing "CMD: NAME: write error: ..." (and removing it).
 */
int tool_out_close(struct tool_out *o, bool ok);
/* Bytes written so far before compression (for size warnings). */
unsigned long long tool_out_bytes(const struct tool_out *o);

#endif /* WEFT_TRACE_OUT_H */

/*
 * export.h - the formats of `weft-trace export` (cmd_export.c parses the
 * options, opens the trace and the output, and calls one of these).
 *
 * A format reads the whole trace through tt (tool_next), writes to f, and
 * keeps memory bounded by the model, never by the trace's length: what
 * it writes is streamed as the events come.
 */
#ifndef WEFT_TRACE_EXPORT_H
#define WEFT_TRACE_EXPORT_H

#include <stdint.h>
#include <stdio.h>

#include "out.h"
#include "pipe.h"

struct export_args {
	struct tool_trace *tt; /* open, nothing read yet */
	FILE *f;               /* the output (gzip'd underneath if the format asked) */
	struct tool_out *out;
	uint64_t from, to;     /* the window in ns since the trace's start; to: UINT64_MAX */
	uint64_t nevents;      /* out: events read */
};

/* Each returns 0 when the whole trace was written, or -1 after the
 * reader's message (a bad trace); write errors are the caller's (ferror). */
int export_chrome(struct export_args *a);
int export_perfetto(struct export_args *a);
int export_go(struct export_args *a);

#endif /* WEFT_TRACE_EXPORT_H */

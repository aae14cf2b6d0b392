/*
 * tracedie - a child for check_trace's death cases: a short traced
 * program that dies, whose trace must still hold what it recorded.
 *
 *   tracedie MODE FILE
 *
 * The main task traces to FILE, runs three tasks (die_child) to their
 * end, records a log event ("die", "marker"), then:
 *
 *   deadlock  blocks for ever with its children gone: the deadlock report
 *   fatal     makes a wait group negative: "weft: fatal", exit status 2
 *   overflow  runs a task off its stack: the overflow report, status 2
 *   abort     calls abort()
 *   exit      calls exit(3)
 *   spin      writes "ready\n" and spins with no scheduling point; the
 *             parent then sends SIGINT or SIGTERM
 *   killed    waits (spinning, no event) until the file has grown after
 *             the marker, i.e. the periodic flush wrote it, and ends with
 *             whole chunks (a growth seen between two writes of the
 *             flusher is not yet the flush: the parent once killed it
 *             there and found no event), writes "ready\n" and spins; the
 *             parent then sends SIGKILL
 */
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <weft.h>

#include "common/trace_format.h"

static const char *mode, *path;

/* The file is the header and whole chunks (each header's payload is all
 * there), read with the format's own header layout. */
static int whole_chunks(const char *file)
{
	uint8_t h[WEFT_TF_CHUNK_HEADER_SIZE];
	struct weft_tf_chunk c;
	struct stat st;
	off_t off = WEFT_TF_HEADER_SIZE;
	int fd = open(file, O_RDONLY), ok = 0;

	if (fd < 0)
		return 0;
	if (fstat(fd, &st) == 0) {
		while (off + (off_t)sizeof(h) <= st.st_size &&
		       pread(fd, h, sizeof(h), off) == (ssize_t)sizeof(h)) {
			weft_tf_chunk_get(h, &c);
			off += (off_t)sizeof(h) + (off_t)c.zsize;
		}
		ok = off == st.st_size;
	}
	close(fd);
	return ok;
}
static weft_wg wg = WEFT_WG_INIT;
static volatile int limit = 1 << 30; /* never reached: the stack ends first */
static volatile unsigned long spins;

static void die_child(void *arg)
{
	(void)arg;
	weft_wg_done(&wg);
}

__attribute__((noinline)) static int deep(int n, volatile char *prev)
{
	volatile char frame[1024];

	if (n >= limit)
		return 0;
	memset((char *)frame, n & 0xff, sizeof(frame));
	frame[0] = prev ? prev[0] : 0;
	return deep(n + 1, frame) + frame[n % 1024];
}

static void runaway_recursion(void *arg)
{
	(void)arg;
	printf("%d\n", deep(0, NULL));
}

static off_t size_of(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 ? st.st_size : -1;
}

static void ready(void)
{
	if (write(1, "ready\n", 6) != 6)
		exit(1);
}

/* No scheduling point and no event: a stuck task. */
static void spin(void)
{
	for (;;)
		spins++;
}

static void main_task(void *arg)
{
	(void)arg;
	if (weft_trace_start(path) != 0) {
		fprintf(stderr, "tracedie: cannot start the trace\n");
		exit(1);
	}
	weft_wg_add(&wg, 3);
	for (int i = 0; i < 3; i++)
		weft_go(die_child, NULL);
	weft_wg_wait(&wg);
	off_t before = size_of(path);
	weft_trace_log("die", "marker");
	if (strcmp(mode, "deadlock") == 0) {
		weft_wg_add(&wg, 1);
		weft_wg_wait(&wg);
	} else if (strcmp(mode, "fatal") == 0) {
		weft_wg_done(&wg);
	} else if (strcmp(mode, "overflow") == 0) {
		weft_go(runaway_recursion, NULL);
		weft_wg_add(&wg, 1);
		weft_wg_wait(&wg);
	} else if (strcmp(mode, "abort") == 0) {
		abort();
	} else if (strcmp(mode, "exit") == 0) {
		exit(3);
	} else if (strcmp(mode, "spin") == 0) {
		ready();
		spin();
	} else if (strcmp(mode, "killed") == 0) {
		/* A plain sleep, not weft_sleep: no event, so only the periodic
		 * flush can make the file grow. */
		while (size_of(path) <= before || !whole_chunks(path))
			nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
		ready();
		spin();
	}
	fprintf(stderr, "tracedie: %s: still alive\n", mode);
	exit(1);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: tracedie MODE FILE\n");
		return 2;
	}
	mode = argv[1];
	path = argv[2];
	return weft_main(main_task, NULL) == 0 ? 0 : 1;
}

/*
 * tracesig - a child for check_trace's signal cases: traces a busy
 * program to argv[1] forever. Once the trace file has grown past a few
 * chunks it writes "ready\n" to stdout; the parent then kills it with a
 * signal and reads what was left.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <weft.h>

static weft_wg wg = WEFT_WG_INIT;

static void leaf(void *arg)
{
	(void)arg;
	weft_wg_done(&wg);
}

static void main_task(void *arg)
{
	const char *path = arg;
	int ready = 0;

	if (weft_trace_start(path) != 0) {
		fprintf(stderr, "tracesig: cannot start the trace\n");
		exit(1);
	}
	for (;;) {
		struct stat st;
		weft_wg_add(&wg, 1000);
		for (int i = 0; i < 1000; i++)
			weft_go(leaf, NULL);
		weft_wg_wait(&wg);
		if (!ready && stat(path, &st) == 0 && st.st_size > 256 * 1024) {
			ready = 1;
			if (write(1, "ready\n", 6) != 6)
				exit(1);
		}
	}
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: tracesig FILE\n");
		return 2;
	}
	return weft_main(main_task, argv[1]) == 0 ? 0 : 1;
}

/*
 * envcheck.c - the README's hello world with the environment as the user
 * sets it, for check_fatal's "config" cases: weft_main's status and
 * what it printed.
 *
 *   envcheck                 weft_main(hello); prints "status=N"
 *   envcheck trace FILE      also weft_trace_start(FILE) in the main task,
 *                            printing "trace_start=N" (and stopping it)
 *   envcheck before FILE     weft_trace_start(FILE) before weft_main,
 *                            printing "before_main=N", then as above
 *
 * Exit status: 0 when weft_main returned 0, else 1.
 */
#include <stdio.h>
#include <string.h>

#include <weft.h>

static const char *trace_path;

static void hello(void *arg)
{
	(void)arg;
	if (trace_path) {
		int r = weft_trace_start(trace_path);
		printf("trace_start=%d\n", r);
		if (r == 0)
			weft_trace_stop();
	}
	printf("hello from task %llu\n", (unsigned long long)weft_self());
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc > 2 && strcmp(argv[1], "trace") == 0)
		trace_path = argv[2];
	if (argc > 2 && strcmp(argv[1], "before") == 0)
		printf("before_main=%d\n", weft_trace_start(argv[2]));
	int r = weft_main(hello, NULL);
	printf("status=%d\n", r);
	return r == 0 ? 0 : 1;
}

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
 *   envcheck spawn           the main task runs `envcheck` (a weft program
 *                            too) with this environment and waits for it:
 *                            prints "parent=PID child=PID"
 *
 * Exit status: 0 when weft_main returned 0, else 1.
 */
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <weft.h>

extern char **environ;

static const char *trace_path;
static const char *self_path;

static void hello_child(void *arg)
{
	(void)arg;
}

static void hello(void *arg)
{
	(void)arg;
	if (trace_path) {
		int r = weft_trace_start(trace_path);
		printf("trace_start=%d\n", r);
		if (r == 0)
			weft_trace_stop();
	}
	if (self_path) {
		char *argv[] = { (char *)self_path, NULL };
		pid_t pid;
		int st;
		if (posix_spawn(&pid, self_path, NULL, NULL, argv, environ) != 0) {
			printf("spawn failed\n");
			return;
		}
		weft_syscall_enter();
		waitpid(pid, &st, 0);
		weft_syscall_exit();
		printf("parent=%d child=%d\n", (int)getpid(), (int)pid);
	}
	for (int i = 0; i < 10; i++) /* something to trace */
		weft_go(hello_child, NULL);
	printf("hello from task %llu\n", (unsigned long long)weft_self());
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc > 2 && strcmp(argv[1], "trace") == 0)
		trace_path = argv[2];
	if (argc > 1 && strcmp(argv[1], "spawn") == 0)
		self_path = argv[0];
	if (argc > 2 && strcmp(argv[1], "before") == 0)
		printf("before_main=%d\n", weft_trace_start(argv[2]));
	int r = weft_main(hello, NULL);
	printf("status=%d\n", r);
	return r == 0 ? 0 : 1;
}

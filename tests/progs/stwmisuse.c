/*
 * stwmisuse.c - child program for check_fatal: calls made while the
 * calling task holds the world stopped (weft_stop_the_world).
 *
 *   stwmisuse sleep|chan|mutex|wg|select|nested|setprocs|trace   a call
 *            that would wait for ever: must die with "CALL while the world
 *            is stopped" (exit 2), never hang
 *   stwmisuse syscall   a marked syscall (weft_syscall_enter/exit around
 *            a write) while stopped: legitimate, must exit 0
 *
 * Each runs at WEFT_PROCS=2 with a second task spinning on
 * weft_safepoint(), so that the stop has another P to stop.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <weft.h>

static const char *mode;
static _Atomic int quit;

static void spinner(void *arg)
{
	(void)arg;
	while (!atomic_load(&quit))
		weft_safepoint();
}

static void main_task(void *arg)
{
	weft_chan *c = weft_chan_make(sizeof(int), 0);
	weft_mutex mu = WEFT_MUTEX_INIT;
	weft_wg wg = WEFT_WG_INIT;
	int v = 0;
	(void)arg;

	weft_go(spinner, NULL);
	weft_yield();
	weft_mutex_lock(&mu);
	weft_wg_add(&wg, 1);
	weft_stop_the_world("misuse");
	printf("stopped\n");
	if (strcmp(mode, "sleep") == 0) {
		weft_sleep(1000000);
	} else if (strcmp(mode, "chan") == 0) {
		weft_chan_recv(c, &v);
	} else if (strcmp(mode, "mutex") == 0) {
		weft_mutex_lock(&mu);
	} else if (strcmp(mode, "wg") == 0) {
		weft_wg_wait(&wg);
	} else if (strcmp(mode, "select") == 0) {
		weft_case cs[1] = { { c, WEFT_RECV, &v, 0 } };
		weft_select(cs, 1, -1);
	} else if (strcmp(mode, "nested") == 0) {
		weft_stop_the_world("again");
	} else if (strcmp(mode, "setprocs") == 0) {
		weft_set_procs(1);
	} else if (strcmp(mode, "trace") == 0) {
		weft_trace_start("/dev/null");
	} else if (strcmp(mode, "syscall") == 0) {
		weft_syscall_enter();
		ssize_t n = write(1, "written while stopped\n", 22);
		weft_syscall_exit();
		if (n != 22)
			printf("write failed\n");
	}
	weft_start_the_world();
	atomic_store(&quit, 1);
	weft_mutex_unlock(&mu);
	weft_wg_done(&wg);
	weft_chan_free(c);
	printf("done\n");
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	mode = argc > 1 ? argv[1] : "syscall";
	return weft_main(main_task, NULL) == 0 ? 0 : 1;
}

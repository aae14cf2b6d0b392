/*
 * deadlock.c - child program for check_fatal: blocks every task.
 *
 *   deadlock wg      the main task waits on a wait group nobody completes
 *   deadlock many    main and three workers wait on different wait groups
 *   deadlock thread  main waits on a wait group that a plain thread
 *                    completes: NOT a deadlock, must exit 0
 *   deadlock chan    main receives from a channel nobody else holds
 *   deadlock free    a channel is freed while a task waits on it (misuse)
 *   deadlock sleeper main receives from a task that first sleeps 250 ms:
 *                    NOT a deadlock (every P idles meanwhile), must exit 0
 *   deadlock syscall the same with a task blocked 250 ms in a syscall
 *   deadlock after   a task sleeps 50 ms and exits; main waits forever on
 *                    a channel: a deadlock once the sleeper is gone
 *   deadlock wgthread a plain thread made before weft_main waits on a wait
 *                    group a task completes, then completes the one main
 *                    waits on: NOT a deadlock while it could, must exit 0
 *   deadlock wgafter a plain thread waits on a wait group a task completes
 *                    and exits; main then waits on a wait group nobody
 *                    completes: a deadlock once the thread is gone
 *   deadlock nilsend the main task sends on a NULL channel (Go's nil
 *                    channel: blocks for ever, so a deadlock)
 *   deadlock nilclose the main task closes a NULL channel (a fatal misuse)
 *   deadlock selthread a plain thread selects on no case with no timeout
 *                    (blocks for ever, as a task would) while the main
 *                    task returns: NOT a misuse, must exit 0
 *   deadlock prethread a plain thread made before weft_main sends to the
 *                    main task on a channel 100 ms after it blocked: NOT
 *                    a deadlock (the thread may call in), must exit 0
 *   deadlock itimer  SIGALRM every 50 us (an interval timer, as a sampling
 *                    profiler sets) while tasks sleep and finish: no false
 *                    report at start-up or later, must exit 0
 *   deadlock netclose a task blocks reading a socket while main computes
 *                    (so another M becomes the poller and blocks in
 *                    epoll_wait), then main closes the socket with
 *                    weft_close (the reader wakes with -ECANCELED and ends)
 *                    and receives from a channel nobody holds: a deadlock
 *                    once no task waits on an fd (the poller must give up)
 *   deadlock fdfull  the main task fills the fd table up to RLIMIT_NOFILE,
 *                    then waits on a wait group nobody completes: still a
 *                    deadlock (the check used to open /proc/self/stat each
 *                    time, failed with EMFILE and never reported: a hang)
 * The runtime must print "weft: fatal: all tasks are asleep - deadlock!"
 * and each blocked task, and exit with status 2.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <weft.h>

static weft_wg never = WEFT_WG_INIT;
static weft_wg others[3] = { WEFT_WG_INIT, WEFT_WG_INIT, WEFT_WG_INIT };
static weft_wg started = WEFT_WG_INIT;

static void stuck_worker(void *arg)
{
	weft_wg *wg = arg;
	weft_wg_done(&started);
	weft_wg_wait(wg);
}

static void *late_thread(void *arg)
{
	weft_wg *wg = arg;
	/* Long enough for every M to go idle first. */
	for (int i = 0; i < 200000; i++)
		sched_yield();
	weft_wg_done(wg);
	return NULL;
}

static void main_wg(void *arg)
{
	(void)arg;
	weft_wg_add(&never, 1);
	weft_wg_wait(&never);
}

static void main_many(void *arg)
{
	(void)arg;
	weft_wg_add(&started, 3);
	for (int i = 0; i < 3; i++) {
		weft_wg_add(&others[i], 1);
		weft_go(stuck_worker, &others[i]);
	}
	weft_wg_wait(&started);
	weft_wg_add(&never, 1);
	weft_wg_wait(&never);
}

static void main_chan(void *arg)
{
	weft_chan *c = weft_chan_make(sizeof(int), 0);
	int v;
	(void)arg;
	weft_chan_recv(c, &v);
}

static void chan_waiter(void *arg)
{
	int v;
	weft_chan_recv(arg, &v);
}

static void main_free(void *arg)
{
	weft_chan *c = weft_chan_make(sizeof(int), 0);
	(void)arg;
	weft_go(chan_waiter, c);
	for (int i = 0; i < 10; i++)
		weft_yield();
	weft_chan_free(c);
}

static void main_thread(void *arg)
{
	pthread_t th;
	(void)arg;
	weft_wg_add(&never, 1);
	pthread_create(&th, NULL, late_thread, &never);
	weft_wg_wait(&never);
	pthread_join(th, NULL);
	printf("woken by a plain thread\n");
}

/* wgthread and wgafter: a plain thread that waits on a wait group. */
static weft_wg thread_waits = WEFT_WG_INIT;
static weft_wg thread_done = WEFT_WG_INIT;

static void *waiting_thread(void *arg)
{
	weft_wg_wait(&thread_waits);
	if (arg) {
		/* Long enough for every M to go idle first. */
		for (int i = 0; i < 200000; i++)
			sched_yield();
		weft_wg_done(&thread_done);
	}
	return NULL;
}

static void completer(void *arg)
{
	(void)arg;
	for (int i = 0; i < 100; i++)
		weft_yield();
	weft_wg_done(&thread_waits);
}

static void main_wgthread(void *arg)
{
	(void)arg;
	weft_go(completer, NULL);
	weft_wg_wait(&thread_done);
	printf("woken by a thread that waited\n");
}

static void main_wgafter(void *arg)
{
	pthread_t th;
	(void)arg;
	weft_wg_add(&thread_waits, 1);
	pthread_create(&th, NULL, waiting_thread, NULL);
	weft_go(completer, NULL);
	weft_syscall_enter();
	pthread_join(th, NULL);
	weft_syscall_exit();
	weft_wg_add(&never, 1);
	weft_wg_wait(&never);
}

static void late_sender(void *arg)
{
	int v = 42;
	weft_sleep(250 * 1000000LL);
	weft_chan_send(arg, &v);
}

static void syscall_sender(void *arg)
{
	struct timespec ts = { 0, 250 * 1000000L };
	int v = 43;
	weft_syscall_enter();
	while (nanosleep(&ts, &ts) != 0)
		;
	weft_syscall_exit();
	weft_chan_send(arg, &v);
}

static void short_sleeper(void *arg)
{
	(void)arg;
	weft_sleep(50 * 1000000LL);
}

static void main_late(weft_fn sender)
{
	weft_chan *c = weft_chan_make(sizeof(int), 0);
	int v = 0;
	weft_go(sender, c);
	weft_chan_recv(c, &v);
	printf("received %d\n", v);
	weft_chan_free(c);
}

static void main_sleeper(void *arg)
{
	(void)arg;
	main_late(late_sender);
}

static void main_syscall(void *arg)
{
	(void)arg;
	main_late(syscall_sender);
}

static void main_after(void *arg)
{
	weft_chan *c = weft_chan_make(sizeof(int), 0);
	int v;
	(void)arg;
	weft_go(short_sleeper, NULL);
	weft_chan_recv(c, &v);
}

static void main_nilsend(void *arg)
{
	int v = 1;
	(void)arg;
	weft_chan_send(NULL, &v);
}

static void main_nilclose(void *arg)
{
	(void)arg;
	weft_chan_close(NULL);
}

static _Atomic int selthread_tid;

static void *selecting_thread(void *arg)
{
	(void)arg;
	atomic_store(&selthread_tid, (int)gettid());
	weft_select(NULL, 0, -1);
	puts("an empty select returned");
	return NULL;
}

/* Until the thread sleeps (its state in /proc is S): it is then inside
 * the select, which must not have killed the program. */
static void main_selthread(void *arg)
{
	pthread_t th;
	char path[64], buf[256];
	(void)arg;
	pthread_create(&th, NULL, selecting_thread, NULL);
	for (;;) {
		int tid = atomic_load(&selthread_tid);
		if (tid) {
			snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
			FILE *f = fopen(path, "r");
			size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
			if (f)
				fclose(f);
			buf[n] = 0;
			char *rp = strrchr(buf, ')');
			if (rp && rp[1] == ' ' && rp[2] == 'S')
				break;
		}
		weft_yield();
	}
	puts("the thread sleeps in its empty select");
}

static void on_alarm(int sig)
{
	(void)sig;
}

static weft_chan *pre_chan;
static _Atomic int pre_blocked;

static void *pre_thread(void *arg)
{
	int v = 42;
	(void)arg;
	/* Not a weft call until the send: the runtime cannot know of us. */
	while (!atomic_load(&pre_blocked))
		sched_yield();
	struct timespec ts = { 0, 100000000 };
	nanosleep(&ts, NULL);
	weft_chan_send(pre_chan, &v);
	return NULL;
}

static void main_prethread(void *arg)
{
	int v = 0;
	(void)arg;
	atomic_store(&pre_blocked, 1);
	weft_chan_recv(pre_chan, &v);
	printf("received %d from a thread made before weft_main\n", v);
}

static void itimer_done(void *arg)
{
	weft_sleep(200000);
	weft_wg_done(arg);
}

static void main_itimer(void *arg)
{
	weft_wg wg = WEFT_WG_INIT;
	(void)arg;
	for (int round = 0; round < 20; round++) {
		weft_wg_add(&wg, 4);
		for (int i = 0; i < 4; i++)
			weft_go(itimer_done, &wg);
		weft_wg_wait(&wg);
	}
	puts("itimer: done");
}

static int net_sv[2];

static void net_reader(void *arg)
{
	char c;
	(void)arg;
	printf("reader: %s\n", weft_strerror((int)weft_read(net_sv[0], &c, 1, -1)));
	fflush(stdout);
}

static void main_netclose(void *arg)
{
	weft_chan *ch = weft_chan_make(1, 0);
	volatile unsigned long spin = 0;
	int64_t t0;
	char c;

	(void)arg;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, net_sv) != 0)
		return;
	weft_go(net_reader, NULL);
	/* Compute, keeping this P, while the reader parks on the other. */
	t0 = weft_now();
	while (weft_now() - t0 < 50000000)
		spin++;
	weft_close(net_sv[0]);
	weft_chan_recv(ch, &c);
}

static void main_fdfull(void *arg)
{
	struct rlimit rl;
	int fd;

	(void)arg;
	/* A low soft limit: the table fills with a few dozen opens. */
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	rl.rlim_cur = (rlim_t)fd + 32;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	while (open("/dev/null", O_RDONLY | O_CLOEXEC) >= 0)
		;
	weft_wg_add(&never, 1);
	weft_wg_wait(&never);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "wg";
	weft_fn fn = main_wg;

	if (strcmp(mode, "netclose") == 0)
		fn = main_netclose;
	else if (strcmp(mode, "fdfull") == 0)
		fn = main_fdfull;
	else if (strcmp(mode, "many") == 0)
		fn = main_many;
	else if (strcmp(mode, "thread") == 0)
		fn = main_thread;
	else if (strcmp(mode, "chan") == 0)
		fn = main_chan;
	else if (strcmp(mode, "free") == 0)
		fn = main_free;
	else if (strcmp(mode, "sleeper") == 0)
		fn = main_sleeper;
	else if (strcmp(mode, "syscall") == 0)
		fn = main_syscall;
	else if (strcmp(mode, "after") == 0)
		fn = main_after;
	else if (strcmp(mode, "wgafter") == 0)
		fn = main_wgafter;
	else if (strcmp(mode, "nilsend") == 0)
		fn = main_nilsend;
	else if (strcmp(mode, "nilclose") == 0)
		fn = main_nilclose;
	else if (strcmp(mode, "selthread") == 0)
		fn = main_selthread;
	else if (strcmp(mode, "prethread") == 0) {
		pthread_t th;
		pre_chan = weft_chan_make(sizeof(int), 0);
		pthread_create(&th, NULL, pre_thread, NULL);
		int r = weft_main(main_prethread, NULL);
		pthread_join(th, NULL);
		return r == 0 ? 0 : 1;
	} else if (strcmp(mode, "itimer") == 0) {
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_alarm;
		sa.sa_flags = SA_RESTART;
		sigaction(SIGALRM, &sa, NULL);
		struct itimerval it = { { 0, 50 }, { 0, 50 } };
		setitimer(ITIMER_REAL, &it, NULL);
		return weft_main(main_itimer, NULL) == 0 ? 0 : 1;
	} else if (strcmp(mode, "wgthread") == 0) {
		/* The thread exists before weft_main: only its waiting tells the
		 * deadlock detector that it may still wake a task. */
		pthread_t th;
		int r;
		weft_wg_add(&thread_waits, 1);
		weft_wg_add(&thread_done, 1);
		pthread_create(&th, NULL, waiting_thread, &thread_done);
		r = weft_main(main_wgthread, NULL);
		pthread_join(th, NULL);
		return r == 0 ? 0 : 1;
	}
	return weft_main(fn, NULL) == 0 ? 0 : 1;
}

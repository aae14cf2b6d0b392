/*
 * demo.c - the quick-start demo: spawn tasks, let them yield and block,
 * and print which OS thread (M) ran each step.
 *
 * Every task runs three steps separated by weft_yield(); a step records
 * the thread it ran on. The main task waits on a wait group and prints a
 * table: a task that moved between threads was stolen by another P or
 * resumed elsewhere after a yield.
 */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <weft.h>

#define NTASKS 12
#define STEPS 3

struct job {
	int index;
	uint64_t id;
	long tid[STEPS];
	double sum;
	weft_wg *wg;
};

static long gettid_(void)
{
	return (long)syscall(SYS_gettid);
}

static void worker(void *arg)
{
	struct job *j = arg;

	j->id = weft_self();
	for (int s = 0; s < STEPS; s++) {
		j->tid[s] = gettid_();
		/* A little work so that the other P has time to steal. */
		for (int i = 1; i < 200000 * (j->index + 1); i++)
			j->sum += 1.0 / i;
		weft_yield();
	}
	weft_wg_done(j->wg);
}

static void main_task(void *arg)
{
	struct job jobs[NTASKS];
	weft_wg wg = WEFT_WG_INIT;
	long main_tid = gettid_();
	int moved = 0;

	(void)arg;
	printf("weft %s demo: %d Ps, main task %llu on thread %ld\n", WEFT_VERSION_STRING,
	       weft_procs(), (unsigned long long)weft_self(), main_tid);
	weft_wg_add(&wg, NTASKS);
	for (int i = 0; i < NTASKS; i++) {
		jobs[i] = (struct job){ .index = i, .wg = &wg };
		int err = weft_go(worker, &jobs[i]);
		if (err) {
			fprintf(stderr, "weft_go: %s\n", weft_strerror(err));
			exit(1);
		}
	}
	weft_wg_wait(&wg);
	printf("%-6s %-8s %s\n", "task", "H(n)", "thread of step 1, 2, 3");
	for (int i = 0; i < NTASKS; i++) {
		struct job *j = &jobs[i];
		printf("%-6llu %-8.3f %ld, %ld, %ld%s\n", (unsigned long long)j->id, j->sum,
		       j->tid[0], j->tid[1], j->tid[2],
		       (j->tid[0] != j->tid[1] || j->tid[1] != j->tid[2]) ? "  (moved)" : "");
		moved += j->tid[0] != j->tid[2];
	}
	printf("%d of %d tasks ended on another thread than they started on\n", moved, NTASKS);
}

int main(void)
{
	int err = weft_main(main_task, NULL);

	if (err) {
		fprintf(stderr, "weft_main: %s\n", weft_strerror(err));
		return 1;
	}
	return 0;
}

/*
 * overflow.c - child program for check_fatal: a task recurses until it
 * runs off its stack. The runtime must name the task and exit with 2.
 */
#include <stdio.h>
#include <string.h>

#include <weft.h>

static volatile int limit = 1 << 30; /* never reached: the stack ends first */

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

static void main_task(void *arg)
{
	weft_wg wg = WEFT_WG_INIT;
	(void)arg;
	weft_go(runaway_recursion, NULL);
	weft_wg_add(&wg, 1);
	weft_wg_wait(&wg);
}

int main(void)
{
	return weft_main(main_task, NULL) == 0 ? 0 : 1;
}

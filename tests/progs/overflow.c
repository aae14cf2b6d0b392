/*
 * overflow.c - child program for check_fatal: a task runs off its stack.
 * The runtime must name the task and exit with 2; never exit 0 with
 * another task's stack overwritten, never die of a bare SIGSEGV.
 *
 *   overflow         a task recurses until it runs off its stack
 *   overflow frame   a task calls a function with one 60 KiB frame (less
 *                    than the 64 KiB that stack-clash protection may leave
 *                    unprobed) on a stack of WEFT_STACK=32k, while the task
 *                    whose stack was mapped right after it (so just below
 *                    it) holds a canary. Built as overflow-noprobe (no
 *                    stack-clash protection): the frame's far end must
 *                    fault in the gap below the stack, not in the victim.
 *   overflow huge    the same with a 200 KiB frame (WEFT_STACK=64k), which
 *                    jumps any gap: only stack-clash protection (this
 *                    build's, weft.pc's recommendation) makes its probes
 *                    fault in the gap.
 *   overflow jump    built as overflow-noprobe, on a 32 KiB stack: a frame
 *                    of two gaps and a half stack whose far end lands in
 *                    the gap below the victim's stack (past its own gap and
 *                    the victim's stack, which it does not write): the
 *                    fault is in another stack's gap, and the frame moved
 *                    the stack pointer there, so it is still named as
 *                    big_frame's overflow. Exits 77 (nothing to check)
 *                    when the victim's stack is not right below.
 *                    (Below a one-page guard, the far end lands below
 *                    the victim, in whatever lies there.)
 *   overflow null    a task writes through a NULL pointer: an ordinary
 *                    crash (SIGSEGV), which must not be called an overflow.
 *   overflow slab    with WEFT_STACK_MAPPINGS=0 (no stack has a mapping of
 *                    its own: all come from slabs, runtime/stack.c), 2000
 *                    tasks block, then one recurses off its stack as in
 *                    plain "overflow". Exits 4 if the 2000 stacks took 1000
 *                    mappings or more (they are not slab stacks; not
 *                    checked under TSan, which maps per fiber), 77 when
 *                    the kernel has no guard regions (Linux < 6.13: then
 *                    no stack comes from a slab).
 *   overflow slabframe  "frame" (the 60 KiB frame, built as overflow-noprobe)
 *                    on slab stacks: it must fault in the slot's guard.
 * When the victim finds its canary overwritten it says so and the program
 * exits with 3 (what a one-page guard let happen, silently). frame, huge
 * and jump run on one P (WEFT_PROCS=1 unless set), so that no new M's thread
 * stack is mapped between the two tasks' stacks.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

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

/* ---- one large frame beside a victim ------------------------------------------ */

static volatile char *volatile canary; /* in the victim's frame */
static weft_chan *ready, *go, *done, *check;

/*
 * Write one byte at the far (lowest) end of the frame @buf of @n bytes. If
 * the victim's canary lies inside the frame - the frame covers the
 * neighbour's stack, as it did below a one-page guard - write it there
 * instead, as a function filling its buffer would: that write does not
 * fault, and only the victim can tell.
 */
__attribute__((noinline)) static void touch(volatile char *buf, size_t n)
{
	uintptr_t lo = (uintptr_t)buf, c = (uintptr_t)canary;

	if (c >= lo && c - lo < n)
		buf[c - lo] = 'X';
	else
		buf[0] = 'X';
}

__attribute__((noinline)) static void frame_60k(void)
{
	volatile char buf[60 * 1024];

	touch(buf, sizeof(buf));
}

__attribute__((noinline)) static void frame_200k(void)
{
	volatile char buf[200 * 1024];

	touch(buf, sizeof(buf));
}

/* runtime/stack.h's gap: 64 KiB in whole pages, and a page. */
static size_t gap_size(void)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	return ((64 * 1024 + page - 1) & ~(page - 1)) + page;
}

#define JUMP_STACK (32 * 1024)

/* A frame whose far end lies half a stack below two gaps and a stack
 * below the caller's stack top, written there only. */
__attribute__((noinline)) static void frame_jump(void)
{
	size_t n = JUMP_STACK + 2 * gap_size() + JUMP_STACK / 2;
	volatile char *buf = __builtin_alloca(n);

	buf[0] = 'X';
	buf[n - 1] = 'X';
}

static void big_frame(void *arg)
{
	volatile char here;
	int one = 1;
	int how = *(int *)arg;

	if (getenv("OVERFLOW_VERBOSE"))
		printf("big_frame: stack near %p\n", (void *)&here);
	weft_chan_send(ready, &one); /* we have a stack now */
	weft_chan_recv(go, &one);
	if (how == 'j') {
		/* The victim's stack must be the one right below ours (below
		 * our gap, or below a one-page guard): its canary less than a
		 * gap and a stack below our stack. */
		uintptr_t top = (uintptr_t)&here, c = (uintptr_t)canary;

		if (c >= top - JUMP_STACK || c < top - 2 * JUMP_STACK - gap_size()) {
			printf("big_frame: the victim's stack is not right below ours; "
			       "nothing to check\n");
			exit(77);
		}
		frame_jump();
	} else if (how == 'h') {
		frame_200k();
	} else {
		frame_60k();
	}
	printf("big_frame: returned\n");
	weft_chan_send(done, &one);
}

static void victim(void *arg)
{
	volatile char mine[64];
	int one = 1;

	(void)arg;
	memset((char *)mine, 'v', sizeof(mine));
	canary = &mine[32];
	if (getenv("OVERFLOW_VERBOSE"))
		printf("victim: canary at %p\n", (void *)canary);
	weft_chan_send(ready, &one);
	weft_chan_recv(check, &one);
	if (mine[32] != 'v') {
		printf("victim: my stack was overwritten by another task's frame\n");
		exit(3);
	}
	weft_chan_send(done, &one);
}

static void neighbours(int how)
{
	static int how_;
	int one = 1;

	ready = weft_chan_make(sizeof(int), 0);
	go = weft_chan_make(sizeof(int), 0);
	done = weft_chan_make(sizeof(int), 0);
	check = weft_chan_make(sizeof(int), 0);
	/* One at a time, so that the victim's stack is mapped right after
	 * (and so, on Linux, right below) the big frame's. */
	how_ = how;
	weft_go(big_frame, &how_);
	weft_chan_recv(ready, &one);
	weft_go(victim, NULL);
	weft_chan_recv(ready, &one);
	weft_chan_send(go, &one);
	weft_chan_recv(done, &one);  /* big_frame returned (it must not) */
	weft_chan_send(check, &one); /* the victim checks its canary */
	weft_chan_recv(done, &one);
	printf("victim: canary intact\n");
}

/* ---- not an overflow ------------------------------------------------------------ */

static int *volatile nowhere;

static void null_write(void *arg)
{
	(void)arg;
	*nowhere = 1;
	printf("null_write: survived\n");
}

/* ---- beyond the budget of own mappings ---------------------------------- */

static long maps_count(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	long n = 0;
	int c;

	if (!f)
		return -1;
	while ((c = getc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

static void parked(void *arg)
{
	int v;

	weft_wg_done(arg);
	weft_chan_recv(go, &v); /* forever: the overflow ends the program */
}

static void slab_overflow(void)
{
	weft_wg wg = WEFT_WG_INIT;
	long maps;

	go = weft_chan_make(sizeof(int), 0);
	weft_wg_add(&wg, 2000);
	for (int i = 0; i < 2000; i++)
		weft_go(parked, &wg);
	weft_wg_wait(&wg);
	maps = maps_count();
	printf("slab: %ld mappings with 2000 tasks blocked\n", maps);
#ifdef __SANITIZE_THREAD__
	maps = 0; /* TSan maps several regions per fiber: the count says nothing */
#endif
	if (maps < 0 || maps >= 1000) {
		printf("slab: the stacks are not slab slots\n");
		exit(4);
	}
	weft_go(runaway_recursion, NULL);
	weft_wg_add(&wg, 1);
	weft_wg_wait(&wg);
}

/* Does this kernel have guard regions (MADV_GUARD_INSTALL, 102)? */
static int have_guard_regions(void)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	void *p = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int ok;

	if (p == MAP_FAILED)
		return 0;
	ok = madvise(p, page, 102) == 0;
	munmap(p, 2 * page);
	return ok;
}

static const char *mode;

static void main_task(void *arg)
{
	weft_wg wg = WEFT_WG_INIT;
	(void)arg;
	if (mode && (!strcmp(mode, "frame") || !strcmp(mode, "huge") || !strcmp(mode, "jump"))) {
		neighbours(mode[0]);
		return;
	}
	if (mode && !strcmp(mode, "slabframe")) {
		neighbours('f');
		return;
	}
	if (mode && !strcmp(mode, "slab")) {
		slab_overflow();
		return;
	}
	weft_go(mode && !strcmp(mode, "null") ? null_write : runaway_recursion, NULL);
	weft_wg_add(&wg, 1);
	weft_wg_wait(&wg);
}

int main(int argc, char **argv)
{
	mode = argc > 1 ? argv[1] : NULL;
	if (mode && (!strcmp(mode, "frame") || !strcmp(mode, "huge") || !strcmp(mode, "jump")))
		setenv("WEFT_PROCS", "1", 0);
	if (mode && !strcmp(mode, "jump"))
		setenv("WEFT_STACK", "32k", 1);
	if (mode && (!strcmp(mode, "slab") || !strcmp(mode, "slabframe"))) {
		if (!have_guard_regions()) {
			printf("overflow: no guard regions in this kernel: no slab stacks\n");
			return 77;
		}
		setenv("WEFT_STACK_MAPPINGS", "0", 1);
		if (!strcmp(mode, "slabframe")) {
			setenv("WEFT_PROCS", "1", 0);
			setenv("WEFT_STACK", "32k", 1);
		}
	}
	setvbuf(stdout, NULL, _IONBF, 0);
	return weft_main(main_task, NULL) == 0 ? 0 : 1;
}

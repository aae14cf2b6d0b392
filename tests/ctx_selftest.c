/*
 * ctx_selftest.c - the context switch alone (runtime/ctx.c and the
 * assembly for this CPU), without the scheduler: contexts ping-pong and
 * hand each other values, keep their callee-saved state across switches,
 * and each keeps its own floating-point rounding mode (the control words
 * the ABI says a call preserves).
 *
 * Standalone (no Check) so that it also runs on a cross-compiled target
 * under qemu-user. Prints "N passed, N failed".
 */
#include "config.h"

#include <fenv.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "ctx.h"
#include "fatal.h"

static int passed, failed;

#define EXPECT(c)                                                                  \
	do {                                                                       \
		if (c) {                                                           \
			passed++;                                                  \
		} else {                                                           \
			failed++;                                                  \
			fprintf(stderr, "%s:%d: expected %s\n", __FILE__, __LINE__, #c); \
		}                                                                  \
	} while (0)

void weft__throw(const char *why) /* the runtime's, without the runtime */
{
	fprintf(stderr, "throw: %s\n", why);
	abort();
}

static struct weft__ctx main_ctx, a_ctx, b_ctx;
static int order[64];
static int norder;

#define ROUNDS 1000

static void ctx_a(void *xfer)
{
	uintptr_t v = (uintptr_t)xfer;
	double acc = 1.0;
	long keep1 = 11, keep2 = 22, keep3 = 33, keep4 = 44, keep5 = 55;

	weft__ctx_started();
	EXPECT(v == 1);
	for (int i = 0; i < ROUNDS; i++) {
		if (norder < 64)
			order[norder++] = 'a';
		acc = acc * 1.0001 + (double)i;
		keep1 += i, keep2 ^= i, keep3 -= i, keep4 += 2 * i, keep5 ^= 3 * i;
		v = (uintptr_t)weft__ctx_jump(&a_ctx, &b_ctx, (void *)(v + 1), false);
		if (v != (uintptr_t)(2 * i + 3)) {
			EXPECT(v == (uintptr_t)(2 * i + 3));
			break;
		}
	}
	/* Values live across 2000 switches are intact. */
	long e1 = 11, e2 = 22, e3 = 33, e4 = 44, e5 = 55;
	double eacc = 1.0;
	for (int i = 0; i < ROUNDS; i++) {
		eacc = eacc * 1.0001 + (double)i;
		e1 += i, e2 ^= i, e3 -= i, e4 += 2 * i, e5 ^= 3 * i;
	}
	EXPECT(keep1 == e1 && keep2 == e2 && keep3 == e3 && keep4 == e4 && keep5 == e5);
	EXPECT(acc == eacc);

	/* Rounding mode: ours stays ours while b runs with its own. */
	EXPECT(fesetround(FE_UPWARD) == 0);
	weft__ctx_jump(&a_ctx, &b_ctx, (void *)0x100, false);
	EXPECT(fegetround() == FE_UPWARD);
	fesetround(FE_TONEAREST);
	weft__ctx_jump(&a_ctx, &main_ctx, (void *)0x200, true);
	abort();
}

static void ctx_b(void *xfer)
{
	uintptr_t v = (uintptr_t)xfer;

	weft__ctx_started();
	for (int i = 0; i < ROUNDS; i++) {
		if (norder < 64)
			order[norder++] = 'b';
		EXPECT(v == (uintptr_t)(2 * i + 2));
		v = (uintptr_t)weft__ctx_jump(&b_ctx, &a_ctx, (void *)(v + 1), false);
	}
	EXPECT(v == 0x100);
	EXPECT(fegetround() == FE_TONEAREST);
	weft__ctx_jump(&b_ctx, &a_ctx, NULL, true);
	abort();
}

static void *stack(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		abort();
	return p;
}

int main(void)
{
	size_t size = 256 * 1024;
	void *x;

	weft__ctx_defaults_init();
	weft__ctx_init_thread(&main_ctx);
	weft__ctx_make(&a_ctx, stack(size), size, ctx_a);
	weft__ctx_make(&b_ctx, stack(size), size, ctx_b);
	x = weft__ctx_jump(&main_ctx, &a_ctx, (void *)1, false);
	EXPECT(x == (void *)0x200);
	EXPECT(norder == 64 && order[0] == 'a' && order[1] == 'b' && order[63] == 'b');
	EXPECT(fegetround() == FE_TONEAREST);
	printf("ctx_selftest: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}

/*
 * ctx.c - building fresh contexts; the ucontext fallback of the switch.
 *
 * The assembly switch expects, at a saved stack pointer, the frame that
 * switch.S documents. A fresh context gets that frame built by hand at the
 * top of its stack: control words copied from the running thread (so a
 * task starts with the process's rounding mode, as a new thread would),
 * the entry function in the register weft__ctx_start calls through, and
 * weft__ctx_start as the return address. The frame is placed so that the
 * entry function sees the stack alignment its ABI promises (16 bytes at
 * the call).
 */
#include "ctx.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "fatal.h"

#ifdef WEFT_ASAN
#include <sanitizer/asan_interface.h>
#endif

/*
 * A recycled stack still carries the shadow of its previous task's frames
 * (redzones poisoned, never unpoisoned because that task did not return
 * through them). A fresh context starts with a clean shadow.
 */
static void set_bounds(struct weft__ctx *c, void *lo, size_t size)
{
#ifdef WEFT_ASAN
	c->stack_lo = lo;
	c->stack_size = size;
#else
	(void)c;
	(void)lo;
	(void)size;
#endif
}

static void fresh_shadow(void *lo, size_t size)
{
#ifdef WEFT_ASAN
	__asan_unpoison_memory_region(lo, size);
#else
	(void)lo;
	(void)size;
#endif
}

#ifdef WEFT_CTX_UCONTEXT
/*
 * makecontext() passes int arguments only, so the entry and the first xfer
 * travel through the thread: the switching thread stores them just before
 * swapcontext() and the fresh context reads them on the same thread.
 */
static __thread void *uc_xfer;
static __thread weft__ctx_entry uc_entry;

/* Never inlined, never treated as pure: see ctx.h on hoisted TLS reads. */
__attribute__((noinline)) static void *uc_take_xfer(void)
{
	void *x;
	__asm__ __volatile__("" ::: "memory");
	x = uc_xfer;
	return x;
}

__attribute__((noinline)) static weft__ctx_entry uc_take_entry(void)
{
	weft__ctx_entry e;
	__asm__ __volatile__("" ::: "memory");
	e = uc_entry;
	return e;
}

static void uc_trampoline(void)
{
	weft__ctx_entry e = uc_take_entry();
	e(uc_take_xfer());
	weft__throw("context entry returned");
}

struct uc_fresh {
	weft__ctx_entry entry;
};

void *weft__ctx_swap_uc(struct weft__ctx *from, struct weft__ctx *to, void *xfer)
{
	uc_xfer = xfer;
	uc_entry = (weft__ctx_entry)to->sp; /* fresh contexts keep their entry in sp */
	to->sp = NULL;
	if (swapcontext(&from->uc, &to->uc) != 0)
		weft__throw("swapcontext failed");
	return uc_take_xfer();
}

void weft__ctx_defaults_init(void)
{
}

void weft__ctx_make(struct weft__ctx *c, void *lo, size_t size, weft__ctx_entry entry)
{
	if (getcontext(&c->uc) != 0)
		weft__throw("getcontext failed");
	fresh_shadow(lo, size);
	c->uc.uc_stack.ss_sp = lo;
	c->uc.uc_stack.ss_size = size;
	c->uc.uc_link = NULL;
	makecontext(&c->uc, uc_trampoline, 0);
	c->sp = (void *)entry;
	set_bounds(c, lo, size);
#ifdef WEFT_TSAN
	if (!c->tsan_fiber)
		c->tsan_fiber = __tsan_create_fiber(0);
#endif
}

#elif defined(__x86_64__)

/*
 * The control words a task starts with: those of the thread that called
 * weft_main(), read once (reading them costs more than the rest of
 * building a context; fnstcw waits for the x87 unit).
 */
static uint64_t ctl_words;

void weft__ctx_defaults_init(void)
{
	uint32_t mxcsr;
	uint16_t fpucw;

	__asm__ __volatile__("stmxcsr %0" : "=m"(mxcsr));
	__asm__ __volatile__("fnstcw %0" : "=m"(fpucw));
	ctl_words = (uint64_t)mxcsr | ((uint64_t)fpucw << 32);
}

void weft__ctx_make(struct weft__ctx *c, void *lo, size_t size, weft__ctx_entry entry)
{
	uintptr_t top = ((uintptr_t)lo + size) & ~(uintptr_t)15;
	/*
	 * weft__ctx_start runs with rsp = top - 8 after the final ret... we
	 * want rsp % 16 == 0 at its "call", so the return-address slot sits at
	 * top - 16 and the frame (7 slots + control words) below it.
	 */
	uint64_t *sp = (uint64_t *)(top - 16);

	fresh_shadow(lo, size);
	*--sp = (uint64_t)(uintptr_t)weft__ctx_start; /* return address */
	*--sp = 0;                                    /* rbp */
	*--sp = 0;                                    /* rbx */
	*--sp = (uint64_t)(uintptr_t)entry;           /* r12 */
	*--sp = 0;                                    /* r13 */
	*--sp = 0;                                    /* r14 */
	*--sp = 0;                                    /* r15 */
	*--sp = ctl_words;
	c->sp = sp;
	set_bounds(c, lo, size);
#ifdef WEFT_TSAN
	if (!c->tsan_fiber)
		c->tsan_fiber = __tsan_create_fiber(0);
#endif
}

#elif defined(__aarch64__)

static uint64_t fpcr_default;

void weft__ctx_defaults_init(void)
{
	__asm__ __volatile__("mrs %0, fpcr" : "=r"(fpcr_default));
}

void weft__ctx_make(struct weft__ctx *c, void *lo, size_t size, weft__ctx_entry entry)
{
	uintptr_t top = ((uintptr_t)lo + size) & ~(uintptr_t)15;
	uint64_t *f = (uint64_t *)(top - 176);
	fresh_shadow(lo, size);
	memset(f, 0, 176);
	f[0] = (uint64_t)(uintptr_t)entry;           /* x19 */
	f[11] = (uint64_t)(uintptr_t)weft__ctx_start; /* x30 */
	f[20] = fpcr_default;
	c->sp = f;
	set_bounds(c, lo, size);
#ifdef WEFT_TSAN
	if (!c->tsan_fiber)
		c->tsan_fiber = __tsan_create_fiber(0);
#endif
}

#else
#error "no assembly context switch for this CPU: configure --with-context=ucontext"
#endif

void weft__ctx_init_thread(struct weft__ctx *c)
{
	pthread_attr_t a;
	void *lo = NULL;
	size_t size = 0;

	memset(c, 0, sizeof(*c));
	if (pthread_getattr_np(pthread_self(), &a) == 0) {
		pthread_attr_getstack(&a, &lo, &size);
		pthread_attr_destroy(&a);
	}
	set_bounds(c, lo, size);
#ifdef WEFT_TSAN
	c->tsan_fiber = __tsan_get_current_fiber();
#endif
}

void weft__ctx_release(struct weft__ctx *c)
{
#ifdef WEFT_TSAN
	if (c->tsan_fiber) {
		__tsan_destroy_fiber(c->tsan_fiber);
		c->tsan_fiber = NULL;
	}
#else
	(void)c;
#endif
}

/*
 * ctx.h - execution contexts and the switch between them (internal).
 *
 * A context is a stack plus the callee-saved registers parked on it. The
 * switch is runtime/arch/<cpu>/switch.S (a dozen instructions) or, where
 * configure found no assembly for the CPU (or was told --with-context=
 * ucontext), swapcontext(3), which also saves the signal mask with a
 * system call and so costs about a microsecond.
 *
 * The switch carries one pointer, xfer, from the context that leaves to
 * the context that resumes. The scheduler passes the current M in it: code
 * that resumes after a switch may be on another OS thread than before, and
 * a thread-local read of "my M" right after the switch is exactly what
 * compilers like to hoist above the call (they treat the thread pointer as
 * constant within a function). Receiving the M as the switch's return value
 * makes the question moot and costs nothing.
 *
 * Sanitizers are told about every switch: ASan through
 * __sanitizer_{start,finish}_switch_fiber (so that it knows which stack is
 * live and does not report the other stacks' frames as use-after-return),
 * TSan through __tsan_switch_to_fiber (so that each task has its own
 * happens-before clock and shadow call stack).
 */
#ifndef WEFT_CTX_H
#define WEFT_CTX_H

#include "config.h"

#include <stdbool.h>
#include <stddef.h>

#if defined(__SANITIZE_ADDRESS__)
#define WEFT_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__)
#define WEFT_TSAN 1
#endif
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#undef WEFT_ASAN
#define WEFT_ASAN 1
#endif
#if __has_feature(thread_sanitizer)
#undef WEFT_TSAN
#define WEFT_TSAN 1
#endif
#endif

#ifdef WEFT_ASAN
#include <sanitizer/common_interface_defs.h>
#endif
#ifdef WEFT_TSAN
#include <sanitizer/tsan_interface.h>
#endif

#ifdef WEFT_CTX_UCONTEXT
#include <ucontext.h>
#endif

struct weft__ctx {
	void *sp; /* saved stack pointer (assembly switch) */
#ifdef WEFT_CTX_UCONTEXT
	ucontext_t uc;
#endif
#ifdef WEFT_ASAN
	void *stack_lo; /* usable stack, told to ASan at each switch */
	size_t stack_size;
	void *asan_fake;
#endif
#ifdef WEFT_TSAN
	void *tsan_fiber;
#endif
};

/* Entry of a fresh context: receives the first switch's xfer; never returns. */
typedef void (*weft__ctx_entry)(void *xfer);

/*
 * weft__ctx_make - prepare @c to start running @entry on the stack
 * [@lo, @lo + @size) at the first switch into it.
 */
void weft__ctx_make(struct weft__ctx *c, void *lo, size_t size, weft__ctx_entry entry);

/* Read once the control words fresh contexts start with (weft_main). */
void weft__ctx_defaults_init(void);

/* weft__ctx_init_thread - describe the calling thread's own stack as @c. */
void weft__ctx_init_thread(struct weft__ctx *c);

/* weft__ctx_release - forget sanitizer state of a context that ended. */
void weft__ctx_release(struct weft__ctx *c);

#ifdef WEFT_CTX_UCONTEXT
void *weft__ctx_swap_uc(struct weft__ctx *from, struct weft__ctx *to, void *xfer);
#else
void *weft__ctx_switch(void **save_sp, void *load_sp, void *xfer);
/* switch.S: the first frame of a fresh context (not called from C; ctx.c
 * plants its address as the return address of a fresh stack). */
void weft__ctx_start(void);
#endif

/* To be called first by a fresh context's entry (finishes the sanitizer switch). */
static inline void weft__ctx_started(void)
{
#ifdef WEFT_ASAN
	__sanitizer_finish_switch_fiber(NULL, NULL, NULL);
#endif
}

/*
 * weft__ctx_jump - save the current context into @from, resume @to, and
 * return the xfer of whoever later resumes @from. @from_dying says that
 * @from will never be resumed (its stack is about to be reused).
 */
static inline void *weft__ctx_jump(struct weft__ctx *from, struct weft__ctx *to, void *xfer,
				   bool from_dying)
{
#ifdef WEFT_ASAN
	__sanitizer_start_switch_fiber(from_dying ? NULL : &from->asan_fake, to->stack_lo,
				       to->stack_size);
#else
	(void)from_dying;
#endif
#ifdef WEFT_TSAN
	__tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
#ifdef WEFT_CTX_UCONTEXT
	xfer = weft__ctx_swap_uc(from, to, xfer);
#else
	xfer = weft__ctx_switch(&from->sp, to->sp, xfer);
#endif
#ifdef WEFT_ASAN
	__sanitizer_finish_switch_fiber(from->asan_fake, NULL, NULL);
#endif
	return xfer;
}

#endif /* WEFT_CTX_H */

/*
 * fence.h - the full memory fence, and how ThreadSanitizer gets one.
 *
 * ThreadSanitizer does not model atomic_thread_fence (GCC warns, and
 * -Werror stops the build). In TSan builds the fence becomes a seq_cst
 * read-modify-write of one shared word: on x86 the same barrier, and for
 * TSan a synchronization point it understands (stronger than a fence, which
 * can only hide races, not invent them).
 */
#ifndef WEFT_FENCE_H
#define WEFT_FENCE_H

#include <stdatomic.h>

#if defined(__SANITIZE_THREAD__)
#define WEFT__TSAN_FENCE 1
#endif
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WEFT__TSAN_FENCE 1
#endif
#endif

#ifdef WEFT__TSAN_FENCE
extern _Atomic int weft__fence_word; /* deque.c */
#define weft__fence() ((void)atomic_fetch_add_explicit(&weft__fence_word, 0, memory_order_seq_cst))
#else
#define weft__fence() atomic_thread_fence(memory_order_seq_cst)
#endif

#endif /* WEFT_FENCE_H */

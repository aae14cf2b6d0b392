/*
 * stack.h - task stacks (internal).
 *
 * A stack is one anonymous mapping: a PROT_NONE guard page at the low end
 * and the usable part above it. Stacks are made on first run of a task and
 * recycled through a per-P cache (WEFT__STACK_CACHE entries), then a global
 * cache, then munmap. A million short tasks thus reuse a handful of warm
 * stacks; a spawned task that has not run yet owns none.
 *
 * Each stack is two VMAs (guard and body). Linux caps a process at
 * vm.max_map_count mappings (65530 by default), so about 32 thousand tasks
 * can be alive *with a stack* (running or blocked) at once; spawned but not
 * yet run tasks do not count. weft_go never fails for it; the first run of
 * a task that cannot get a stack is a fatal error naming the limit.
 *
 * Sizes. Every task stack of one weft_main() run has the same usable size
 * (S.stack_size: WEFT_STACK, at least WEFT__STACK_MIN, whole pages), so a
 * stack is passed around as the address of its mapping alone, and this
 * file is the one place that knows what the mapping adds to the usable
 * size (the guard page) and where the usable part starts.
 *
 * Who may call: any thread. The global cache has its own mutex, held only
 * around an array push or pop; the per-P caches are the Ps' (proc.c).
 */
#ifndef WEFT_STACK_H
#define WEFT_STACK_H

#include <stddef.h>

struct weft__stack {
	void *map;       /* start of the mapping (the guard page) */
	size_t map_size; /* guard + usable */
};

#define WEFT__STACK_DEFAULT (256 * 1024)
#define WEFT__STACK_MIN (16 * 1024)
#define WEFT__STACK_MAX (1LL << 36)

size_t weft__page_size(void);

/*
 * The usable size of task stacks for WEFT_STACK=@spec ("65536", "64k",
 * "2M"; NULL or empty: WEFT__STACK_DEFAULT): raised to WEFT__STACK_MIN,
 * rounded up to whole pages. 0 with *@usable set, or -EINVAL when @spec is
 * malformed or above WEFT__STACK_MAX.
 */
int weft__stack_size_parse(const char *spec, size_t *usable);

/* The size of the mapping of a stack with @usable bytes (guard included). */
static inline size_t weft__stack_map_size(size_t usable)
{
	return usable + weft__page_size();
}

/* The lowest usable byte of the stack mapped at @map: the guard page's end. */
static inline void *weft__stack_base(void *map)
{
	return (char *)map + weft__page_size();
}

/* 0, or -ENOMEM when the mapping could not be made. */
int weft__stack_map(struct weft__stack *s, size_t usable);
void weft__stack_unmap(struct weft__stack *s);

/* Global cache shared by all Ps (its own lock). */
int weft__stack_global_get(struct weft__stack *s);
void weft__stack_global_put(struct weft__stack *s);
void weft__stack_global_drain(void);

#endif /* WEFT_STACK_H */

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

size_t weft__page_size(void);
/* 0, or -ENOMEM when the mapping could not be made. */
int weft__stack_map(struct weft__stack *s, size_t usable);
void weft__stack_unmap(struct weft__stack *s);
static inline void *weft__stack_lo(const struct weft__stack *s, size_t page)
{
	return (char *)s->map + page;
}

/* Global cache shared by all Ps (its own lock). */
int weft__stack_global_get(struct weft__stack *s);
void weft__stack_global_put(struct weft__stack *s);
void weft__stack_global_drain(void);

#endif /* WEFT_STACK_H */

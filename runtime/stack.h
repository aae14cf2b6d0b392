/*
 * stack.h - task stacks (internal).
 *
 * A stack is a PROT_NONE gap at the low end and the usable part above
 * it: its own anonymous mapping, or a slot of a slab of them whose gaps are
 * guard regions (stack.c: which, when, and why). Stacks are made on first
 * run of a task and recycled through a per-P cache (WEFT__STACK_CACHE
 * entries), then a global cache, then munmap (or back to the slab). A
 * million short tasks thus reuse a handful of warm stacks; a spawned task
 * that has not run yet owns none.
 *
 * The gap. Stacks grow down, and the kernel places one mapping right below
 * the previous one, so what lies below a stack's lowest byte is usually
 * another task's stack. The gap between them is WEFT__STACK_GAP bytes (64
 * KiB and one page) of address space that is never accessible: a frame that
 * runs off its stack by less than that faults in its own gap, and fatal.c
 * names the overflow. 64 KiB is the largest distance that code compiled
 * with -fstack-clash-protection may reach below the last address it
 * touched without probing (GCC's guard size on AArch64; 4 KiB on x86-64,
 * where every larger frame is probed page by page); the extra page covers
 * the x86-64 red zone and AArch64's 1 KiB of unprobed outgoing arguments.
 * So with stack-clash protection no frame can reach a neighbour: a large
 * one probes its way down into the gap and faults there. Without it, a
 * frame larger than the gap may land in the neighbour and write there
 * without a fault; configure builds libweft with the protection and
 * weft.pc recommends it to programs (weft.h, WEFT_STACK).
 *
 * Cost: address space only. The gap of an own mapping is PROT_NONE and
 * MAP_NORESERVE, so it takes no memory, no commit charge and no page
 * tables (a slab's guard regions take page-table entries, no memory); at
 * the default 256 KiB a stack takes 324 KiB of address space, a million of
 * them 324 GiB of the 128 TiB a 47-bit user space has. What bounded live
 * stacks was the mapping count instead (below).
 *
 * Mappings. A stack of its own is two VMAs (gap and body), and Linux caps
 * a process at vm.max_map_count of them (65530 by default), which capped
 * live stacks at about 32 thousand; past a budget of own mappings, stacks
 * come from slabs, one VMA for up to a thousand (stack.c), so a million
 * blocked tasks fit. weft_go never fails for a stack; the first run of a
 * task that cannot get one is a fatal error naming the limit.
 *
 * Sizes. Every task stack of one weft_main() run has the same usable size
 * (S.stack_size: WEFT_STACK, at least WEFT__STACK_MIN, whole pages), so a
 * stack is passed around as the address of its mapping alone, and this
 * file is the one place that knows what the mapping adds to the usable
 * size (the gap) and where the usable part starts.
 *
 * Who may call: any thread. The global cache has its own mutex, held only
 * around an array push or pop; the per-P caches are the Ps' (proc.c).
 *
 * Rejected: a one-page guard (what this was): a frame of a few KiB more
 * than the page jumped it into the neighbour's stack, silently. A gap
 * as large as a whole stack, to catch larger unprotected frames too: it
 * only moves the size that jumps, and the protection catches them all.
 */
#ifndef WEFT_STACK_H
#define WEFT_STACK_H

#include <stddef.h>

struct weft__stack {
	void *map;       /* start of the mapping or slot (the gap) */
	size_t map_size; /* gap + usable */
};

#define WEFT__STACK_DEFAULT (256 * 1024)
#define WEFT__STACK_MIN (16 * 1024)
#define WEFT__STACK_MAX (1LL << 36)

size_t weft__page_size(void);

/* The PROT_NONE gap below every stack (see above): 64 KiB rounded up to
 * whole pages, and one page more. Async-signal-safe once a stack exists. */
#define WEFT__STACK_PROBE_MAX (64 * 1024)
size_t weft__stack_gap(void);

/*
 * The usable size of task stacks for WEFT_STACK=@spec ("65536", "64k",
 * "2M"; NULL or empty: WEFT__STACK_DEFAULT): raised to WEFT__STACK_MIN,
 * rounded up to whole pages. 0 with *@usable set, or -EINVAL when @spec is
 * malformed or above WEFT__STACK_MAX.
 */
int weft__stack_size_parse(const char *spec, size_t *usable);

/* The size of the mapping of a stack with @usable bytes (gap included). */
static inline size_t weft__stack_map_size(size_t usable)
{
	return usable + weft__stack_gap();
}

/* The lowest usable byte of the stack mapped at @map: the gap's end. */
static inline void *weft__stack_base(void *map)
{
	return (char *)map + weft__stack_gap();
}

/*
 * How many stacks may have a mapping of their own (stack.c) for
 * WEFT_STACK_MAPPINGS=@spec, a whole number >= 0 (NULL or empty:
 * vm.max_map_count / 4). 0, or -EINVAL when @spec is malformed. Read by
 * weft_main() before any stack is made.
 */
int weft__stack_mappings_parse(const char *spec);

/* A stack of @usable bytes with its gap, @s->map at the gap (own mapping or
 * slab slot): 0, or -ENOMEM when it could not be made. */
int weft__stack_map(struct weft__stack *s, size_t usable);
/* Give back a stack of weft__stack_map (either kind). */
void weft__stack_unmap(struct weft__stack *s);

/* Global cache shared by all Ps (its own lock). */
int weft__stack_global_get(struct weft__stack *s);
void weft__stack_global_put(struct weft__stack *s);
void weft__stack_global_drain(void);

#endif /* WEFT_STACK_H */

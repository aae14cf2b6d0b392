/*
 * stack.c - mapping, guarding and the global cache of task stacks.
 *
 * A stack is a usable part of S.stack_size bytes with a gap below it that
 * is never accessible (stack.h says how large the gap is and why). Two
 * ways to make one, picked per stack:
 *
 *  - A mapping of its own (the only way until issue 20): one mmap of gap
 *    and stack, PROT_NONE, then the usable part opened with mprotect. Two
 *    VMAs per stack. munmap gives it all back.
 *  - A slot of a slab: one mmap (read-write, MAP_NORESERVE, never huge
 *    pages) holds up to SLAB_SLOTS stacks side by side with the same
 *    geometry - gap, usable, gap, usable - and the gaps are made
 *    inaccessible with guard regions (MADV_GUARD_INSTALL, Linux 6.13): the
 *    kernel marks their page-table entries, so a touch faults exactly as
 *    in a PROT_NONE mapping, but the VMA is not split. One VMA for a whole
 *    slab. The guards of all its slots are installed when the slab is made,
 *    in one process_madvise call. A slot freed goes back to its slab; a
 *    slab whose last slot comes back is unmapped (but for the last slab
 *    with room, kept against churn at its edge until weft_main() ends).
 *
 * Which. Linux caps a process at vm.max_map_count VMAs (65530 by default),
 * so own mappings allow about 32 thousand live stacks and then the program
 * dies. A stack gets its own mapping while fewer than the budget of them
 * are alive - vm.max_map_count / 4 stacks, read once (16382 by default:
 * half the VMAs, the other half left to the program, its threads, libraries
 * and malloc) or WEFT_STACK_MAPPINGS=N - and a slab slot beyond that. So a
 * program with a usual number of tasks runs exactly as before, and one
 * with a million blocked tasks runs too: 1M stacks are about 16 thousand
 * mappings and 2.5 thousand slabs. The fault handler (fatal.c) needs no
 * change: a slot's gap is where a mapping's is, below the usable part, and
 * faults the same way, so every overflow is still named, beyond the budget
 * too.
 *
 * Why not slabs for all stacks: a freed own mapping goes straight back to
 * the kernel (munmap), while a slab keeps the pages its freed slots touched
 * until its last slot comes back; and slabs need guard regions, which
 * kernels before 6.13 lack. There (madvise fails with EINVAL on the first
 * slab) every stack gets its own mapping, budget or not: the old limit, and
 * the old fatal error naming vm.max_map_count, rather than stacks that
 * overflow silently into their neighbours.
 *
 * Measured (issue 20; bench/million.c, bench/RESULTS.md has the run): a
 * million tasks blocked on a channel take 4181 bytes of RSS each - one
 * stack page, the descriptor - against Go's 2736; page tables, not in RSS,
 * add 650 bytes per stack (a 2 MiB page table covers six 324 KiB slots and
 * holds their guard markers). Making a slab's guards cost 1.4-3.7 us per
 * slot on the loaded 2-core VM, paid once per slot; the first touch of
 * each stack's top page costs more (7-35 us there, 1.02 faults per task),
 * and no layout avoids that one. Not done: populating the top pages of a
 * run of slots in one process_madvise(MADV_POPULATE_WRITE), which measured
 * 25% cheaper per page than the faults, at the price of pages for slots
 * that may never be used.
 *
 * Rejected (for the stacks beyond the budget):
 *  - Unguarded slab slots with a canary at the low end of each stack,
 *    checked at every switch away and by the fault handler (Folly's fibers
 *    cap their guard pages the same way, and past the cap detect nothing).
 *    The check costs every switch a load from a cold line, and a canary
 *    written in the stack's own lowest page makes that page resident: two
 *    pages per blocked task instead of one, past the 4.5 KB budget; a
 *    canary put in the neighbour's top page drifts the stack tops off page
 *    boundaries, and some tasks' frames straddle two pages; a canary of
 *    zeroes (read only) maps the zero page, one more page fault per stack.
 *    And a canary sees only the writes that land on it: a large frame, or
 *    a probe that writes zero, jumps it, and the neighbour is overwritten
 *    before anyone looks. A guard faults at the first touch.
 *  - Own mappings with a smaller guard (one page): fewer VMAs only if the
 *    guard were not a VMA; it is.
 *  - Reserving one huge PROT_NONE range up front and opening slots in it
 *    with mprotect: every opened slot splits the range, two VMAs again.
 *
 * Who may call: any thread. The global cache and the slabs share one mutex
 * (glock), held around an array push or pop, a slot's carving and the
 * making or unmapping of a slab (with its mmap, guards or munmap: about a
 * millisecond, once per few hundred stacks); the per-P caches are the
 * Ps' (proc.c). A first run may make a stack inside a park window, with
 * the parker's spin lock held (HACKING.md §12, item 1): an own mapping's
 * mmap did so before slabs, a slab's making now too.
 */
#include "config.h"

#include "ctx.h" /* WEFT_ASAN */
#include "os.h"
#include "stack.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#ifdef WEFT_ASAN
#include <sanitizer/asan_interface.h>
#endif

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102 /* Linux 6.13 */
#endif

#define GLOBAL_CACHE_MAX 256
#define SLAB_BYTES ((size_t)128 << 20) /* address space a slab aims at */
#define SLAB_SLOTS 1024                /* at most (one process_madvise call) */

static pthread_mutex_t glock = PTHREAD_MUTEX_INITIALIZER;
static struct weft__stack gcache[GLOBAL_CACHE_MAX];
static int ngcache;

/* A slab of stacks (glock). */
struct slab {
	char *lo;              /* the mapping; slot i at lo + i * slot */
	size_t slot;           /* gap + usable of its stacks */
	unsigned n;            /* slots */
	unsigned carved;       /* slots handed out at least once (from 0 up) */
	unsigned used;         /* slots in use (not in nfree) */
	unsigned nfree;        /* freed slots, indices in free[] */
	uint32_t *free;
	struct slab *partial;  /* next slab with a free or uncarved slot */
	bool on_partial;
};

static struct slab **slabs; /* by address (glock) */
static int nslabs, slabs_cap;
static struct slab *partial; /* slabs with room (glock) */

/* Stacks with a mapping of their own that are alive (mapped, cached or in
 * use), against the budget; both relaxed: the budget is a soft bound (two
 * Ps may both take the last unit), and nothing else is published by them. */
static _Atomic long nmapped;
static _Atomic long budget = -1; /* -1: not read yet */
/* Guard regions: 1 work, 0 do not (old kernel), -1 unknown (glock). */
static int guards_ok = -1;
static int pidfd = -1; /* for process_madvise; of pidfd_pid (glock) */
static pid_t pidfd_pid;

size_t weft__page_size(void)
{
	static size_t page;

	if (!page)
		page = (size_t)sysconf(_SC_PAGESIZE);
	return page;
}

size_t weft__stack_gap(void)
{
	static size_t gap;

	if (!gap) {
		size_t page = weft__page_size();
		gap = ((WEFT__STACK_PROBE_MAX + page - 1) & ~(page - 1)) + page;
	}
	return gap;
}

int weft__stack_size_parse(const char *spec, size_t *usable)
{
	size_t page = weft__page_size();
	long long v;

	(void)weft__stack_gap(); /* set it here, before any M reads it */
	*usable = WEFT__STACK_DEFAULT;
	if (!spec || !*spec)
		return 0;
	v = weft__parse_size(spec);
	if (v < 0 || v > WEFT__STACK_MAX)
		return -EINVAL;
	if (v < WEFT__STACK_MIN)
		v = WEFT__STACK_MIN;
	*usable = ((size_t)v + page - 1) & ~(page - 1);
	return 0;
}

/* The default budget: a quarter of vm.max_map_count, in stacks. */
static long default_budget(void)
{
	long max = 65530;
	char buf[32];
	int fd = open("/proc/sys/vm/max_map_count", O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		ssize_t n = read(fd, buf, sizeof(buf) - 1);
		if (n > 0) {
			buf[n] = 0;
			long v = strtol(buf, NULL, 10);
			if (v > 0)
				max = v;
		}
		close(fd);
	}
	return max / 4;
}

int weft__stack_mappings_parse(const char *spec)
{
	long v;
	char *end;

	if (!spec || !*spec) {
		atomic_store_explicit(&budget, default_budget(), memory_order_relaxed);
		return 0;
	}
	errno = 0;
	v = strtol(spec, &end, 10);
	if (errno || *end || v < 0)
		return -EINVAL;
	atomic_store_explicit(&budget, v, memory_order_relaxed);
	return 0;
}

/*
 * The whole range is reserved inaccessible, then the usable part opened:
 * the gap is never writable, so it never counts against the commit limit
 * (vm.overcommit_memory=2 ignores MAP_NORESERVE for writable mappings).
 */
static int map_own(struct weft__stack *s, size_t usable)
{
	size_t gap = weft__stack_gap();
	size_t size = gap + usable;
	void *p;

	p = mmap(NULL, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -ENOMEM;
	if (mprotect((char *)p + gap, usable, PROT_READ | PROT_WRITE) != 0) {
		munmap(p, size);
		return -ENOMEM;
	}
	s->map = p;
	s->map_size = size;
	return 0;
}

/* glock held: make every slot's gap of @sl a guard region. 0 or -errno. */
static int install_guards(struct slab *sl)
{
	size_t gap = weft__stack_gap();
	struct iovec *iov;
	long done = -1;

	if (pidfd < 0 || pidfd_pid != getpid()) {
		/* Ours, and not the parent's of a fork. */
		if (pidfd >= 0)
			close(pidfd);
		pidfd_pid = getpid();
		pidfd = (int)syscall(SYS_pidfd_open, pidfd_pid, 0);
	}
	iov = malloc(sl->n * sizeof(*iov));
	if (pidfd >= 0 && iov) {
		for (unsigned i = 0; i < sl->n; i++) {
			iov[i].iov_base = sl->lo + (size_t)i * sl->slot;
			iov[i].iov_len = gap;
		}
		done = syscall(SYS_process_madvise, pidfd, iov, (size_t)sl->n, MADV_GUARD_INSTALL,
			       0U);
	}
	free(iov);
	if (done == (long)(sl->n * gap))
		return 0;
	/* No process_madvise for this advice (6.13 allowed it on oneself):
	 * one madvise per slot. Installing a guard twice is harmless. */
	for (unsigned i = 0; i < sl->n; i++)
		if (madvise(sl->lo + (size_t)i * sl->slot, gap, MADV_GUARD_INSTALL) != 0)
			return -errno;
	return 0;
}

static void slab_unmap(struct slab *sl)
{
#ifdef WEFT_ASAN
	__asan_unpoison_memory_region(sl->lo, (size_t)sl->n * sl->slot);
#endif
	munmap(sl->lo, (size_t)sl->n * sl->slot);
	free(sl->free);
	free(sl);
}

/* glock held: a new slab of stacks of @slot bytes, registered and on the
 * partial list; NULL if it cannot be made or guarded. */
static struct slab *slab_new(size_t slot)
{
	struct slab *sl = calloc(1, sizeof(*sl));
	size_t n = SLAB_BYTES / slot;
	int i;

	if (!sl)
		return NULL;
	if (n < 1)
		n = 1;
	if (n > SLAB_SLOTS)
		n = SLAB_SLOTS;
	sl->n = (unsigned)n;
	sl->slot = slot;
	sl->free = malloc(n * sizeof(*sl->free));
	if (nslabs == slabs_cap) {
		int cap = slabs_cap ? 2 * slabs_cap : 64;
		struct slab **a = realloc(slabs, (size_t)cap * sizeof(*a));
		if (!a) {
			free(sl->free);
			sl->free = NULL;
		} else {
			slabs = a;
			slabs_cap = cap;
		}
	}
	if (!sl->free) {
		free(sl);
		return NULL;
	}
	sl->lo = mmap(NULL, n * slot, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (sl->lo == MAP_FAILED) {
		free(sl->free);
		free(sl);
		return NULL;
	}
	/* One page per blocked task, not a 2 MiB one (THP "always"). */
	madvise(sl->lo, n * slot, MADV_NOHUGEPAGE);
	if (install_guards(sl) != 0) {
		guards_ok = 0;
		munmap(sl->lo, n * slot);
		free(sl->free);
		free(sl);
		return NULL;
	}
	guards_ok = 1;
#ifdef WEFT_ASAN
	/* Fresh from the kernel: shadow left by an earlier mapping here is stale. */
	__asan_unpoison_memory_region(sl->lo, n * slot);
#endif
	for (i = nslabs; i > 0 && slabs[i - 1]->lo > sl->lo; i--)
		slabs[i] = slabs[i - 1];
	slabs[i] = sl;
	nslabs++;
	sl->partial = partial;
	partial = sl;
	sl->on_partial = true;
	return sl;
}

/* glock held: the slab holding @p, or NULL (an own mapping). */
static struct slab *slab_of(const void *p)
{
	int lo = 0, hi = nslabs - 1;
	const char *a = p;

	while (lo <= hi) {
		int mid = (lo + hi) / 2;
		struct slab *sl = slabs[mid];

		if (a < sl->lo)
			hi = mid - 1;
		else if (a >= sl->lo + (size_t)sl->n * sl->slot)
			lo = mid + 1;
		else
			return sl;
	}
	return NULL;
}

/* A slot of a slab, or -ENOMEM (no memory, or no guard regions). */
static int map_slot(struct weft__stack *s, size_t usable)
{
	size_t slot = weft__stack_gap() + usable;
	struct slab *sl, **pp;
	unsigned i;

	pthread_mutex_lock(&glock);
	/* The first slab with room for this size (a slab of an earlier
	 * weft_main() with another WEFT_STACK may linger: abandoned stacks). */
	for (pp = &partial; (sl = *pp) && sl->slot != slot; pp = &sl->partial)
		;
	if (!sl && guards_ok != 0) {
		sl = slab_new(slot);
		pp = &partial;
	}
	if (!sl) {
		pthread_mutex_unlock(&glock);
		return -ENOMEM;
	}
	i = sl->nfree > 0 ? sl->free[--sl->nfree] : sl->carved++;
	if (++sl->used == sl->n) {
		*pp = sl->partial; /* full */
		sl->on_partial = false;
	}
	pthread_mutex_unlock(&glock);
	s->map = sl->lo + (size_t)i * slot;
	s->map_size = slot;
	return 0;
}

int weft__stack_map(struct weft__stack *s, size_t usable)
{
	long b = atomic_load_explicit(&budget, memory_order_relaxed);

	if (b < 0) {
		weft__stack_mappings_parse(NULL); /* not through weft_main (tests) */
		b = atomic_load_explicit(&budget, memory_order_relaxed);
	}
	if (atomic_fetch_add_explicit(&nmapped, 1, memory_order_relaxed) < b) {
		if (map_own(s, usable) == 0)
			return 0;
		/* Out of VMAs early (the program holds many): try a slab. */
	}
	atomic_fetch_sub_explicit(&nmapped, 1, memory_order_relaxed);
	if (map_slot(s, usable) == 0)
		return 0;
	/* No guard regions here (Linux < 6.13): own mappings past the budget. */
	atomic_fetch_add_explicit(&nmapped, 1, memory_order_relaxed);
	if (map_own(s, usable) == 0)
		return 0;
	atomic_fetch_sub_explicit(&nmapped, 1, memory_order_relaxed);
	return -ENOMEM;
}

/* glock held: take the empty slab @sl off the lists and unmap it. */
static void slab_drop(struct slab *sl)
{
	struct slab **pp;
	int i;

	for (pp = &partial; *pp != sl; pp = &(*pp)->partial)
		;
	*pp = sl->partial;
	for (i = 0; slabs[i] != sl; i++)
		;
	memmove(&slabs[i], &slabs[i + 1], (size_t)(nslabs - i - 1) * sizeof(*slabs));
	nslabs--;
	slab_unmap(sl);
}

/*
 * glock held: @sl's slot at @p comes back. A slab left empty is unmapped
 * when another slab of its size has room; the last one with room stays,
 * so that a count of live stacks that hovers at a slab's edge does not
 * map, guard and unmap a slab each time (the end of weft_main() unmaps it).
 */
static void slot_free(struct slab *sl, char *p)
{
	sl->free[sl->nfree++] = (uint32_t)((size_t)(p - sl->lo) / sl->slot);
	if (!sl->on_partial) {
		sl->partial = partial;
		partial = sl;
		sl->on_partial = true;
	}
	if (--sl->used == 0) {
		for (struct slab *o = partial; o; o = o->partial)
			if (o != sl && o->slot == sl->slot) {
				slab_drop(sl);
				return;
			}
	}
}

void weft__stack_unmap(struct weft__stack *s)
{
	struct slab *sl;

	if (!s->map)
		return;
#ifdef WEFT_ASAN
	/*
	 * The frames of tasks that never returned left their redzones
	 * poisoned; the kernel may hand these addresses out again (to a
	 * descriptor slab, to malloc), where stale poison would be reported
	 * as an overflow. Clean the shadow before giving the range back.
	 */
	__asan_unpoison_memory_region(s->map, s->map_size);
#endif
	pthread_mutex_lock(&glock);
	sl = slab_of(s->map);
	if (sl)
		slot_free(sl, s->map);
	pthread_mutex_unlock(&glock);
	if (!sl) {
		munmap(s->map, s->map_size);
		atomic_fetch_sub_explicit(&nmapped, 1, memory_order_relaxed);
	}
	s->map = NULL;
	s->map_size = 0;
}

int weft__stack_global_get(struct weft__stack *s)
{
	int ok = 0;

	pthread_mutex_lock(&glock);
	if (ngcache > 0) {
		*s = gcache[--ngcache];
		ok = 1;
	}
	pthread_mutex_unlock(&glock);
	return ok;
}

void weft__stack_global_put(struct weft__stack *s)
{
	pthread_mutex_lock(&glock);
	if (ngcache < GLOBAL_CACHE_MAX) {
		gcache[ngcache++] = *s;
		s->map = NULL;
	}
	pthread_mutex_unlock(&glock);
	if (s->map)
		weft__stack_unmap(s);
}

/*
 * The end of weft_main(): every stack but abandoned ones (syscall.c) came
 * back. Slabs that still hold one stay until its M frees it.
 */
void weft__stack_global_drain(void)
{
	struct weft__stack s;

	while (weft__stack_global_get(&s))
		weft__stack_unmap(&s);
	pthread_mutex_lock(&glock);
	for (int i = nslabs - 1; i >= 0; i--)
		if (slabs[i]->used == 0)
			slab_drop(slabs[i]);
	if (pidfd >= 0)
		close(pidfd);
	pidfd = -1;
	pthread_mutex_unlock(&glock);
	atomic_store_explicit(&budget, -1, memory_order_relaxed);
}

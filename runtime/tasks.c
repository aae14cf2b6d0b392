/*
 * tasks.c - task descriptors: allocation, ids, and the walk over all of them.
 *
 * Descriptors are carved from slabs that double in size (SLAB_MIN to
 * SLAB_MAX descriptors; the large ones are 2 MiB mappings that the kernel
 * may back with one huge page, so a million-task spawn takes tens of page
 * faults instead of tens of thousands) and are never returned to the
 * system while the runtime runs: a dead task's descriptor goes to its P's
 * free list (owner only, no atomics), which spills half to a global list
 * when it grows past WEFT__TFREE_MAX; an empty P list refills from the
 * global one, then from a new slab. Because descriptors stay put, the
 * deadlock report, the tracer's start-of-trace snapshot and the debug
 * server's task dump (debug.c) can walk every task that exists - the
 * slabs are the "allgs" of Go's runtime - without a per-spawn
 * registration on a shared list.
 *
 * Ids come from a global counter in batches of ID_BATCH per P, so a spawn
 * does no atomic read-modify-write on a shared line (Go's goidcache).
 * Ids are unique and grow per P; they are not ordered across Ps.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "internal.h"

#ifdef WEFT_ASAN
#include <sanitizer/asan_interface.h>
#endif

#define S weft__sched
#define SLAB_MIN 256
#define SLAB_MAX ((2u << 20) / sizeof(struct weft__task)) /* one 2 MiB huge page */
#define ID_BATCH 64

struct weft__slab {
	struct weft__slab *next;
	size_t n;     /* descriptors in the mapping */
	size_t bytes; /* size of the mapping; its address follows this header */
};

static size_t next_slab_n = SLAB_MIN;

/* The descriptor lock (S.tlock); WEFT_DEBUG builds record who holds it,
 * as weft__sched_lock does for the sched lock. */
static inline void tlock(void)
{
	WEFT__ASSERT(weft__spin_nheld() == 0); /* HACKING.md §4.1: no pthread lock */
	weft__mutex_lock(&S.tlock, &S.dbg_tlock_holder);
}

static inline void tunlock(void)
{
	weft__mutex_unlock(&S.tlock, &S.dbg_tlock_holder);
}

static struct weft__slab *slab_new(void)
{
	size_t n = next_slab_n;
	size_t bytes = n * sizeof(struct weft__task);
	struct weft__slab *s;
	void *p;

	/* The header lives outside the big mapping so that the mapping stays
	 * exactly 2 MiB and huge-page aligned. */
	s = malloc(sizeof(*s) + sizeof(struct weft__task *));
	if (!s)
		return NULL;
	p = mmap(NULL, bytes + (2u << 20), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		 -1, 0);
	if (p == MAP_FAILED) {
		free(s);
		return NULL;
	}
	/* Align to 2 MiB and give back the slack. */
	uintptr_t a = ((uintptr_t)p + (2u << 20) - 1) & ~(uintptr_t)((2u << 20) - 1);
	if (a > (uintptr_t)p)
		munmap(p, a - (uintptr_t)p);
	munmap((void *)(a + bytes), (uintptr_t)p + bytes + (2u << 20) - (a + bytes));
	if (bytes >= (2u << 20))
		madvise((void *)a, bytes, MADV_HUGEPAGE);
#ifdef WEFT_ASAN
	/* Fresh from the kernel: any shadow left by an earlier mapping at
	 * these addresses (a thread's stack, say) is stale. */
	__asan_unpoison_memory_region((void *)a, bytes);
#endif
	s->n = n;
	s->bytes = bytes;
	*(struct weft__task **)(s + 1) = (struct weft__task *)a;
	if (next_slab_n < SLAB_MAX)
		next_slab_n *= 2;
	return s;
}

static inline struct weft__task *slab_tasks(struct weft__slab *s)
{
	return *(struct weft__task **)(s + 1);
}

/* tlock held: a descriptor from the global list or a new slab. */
static struct weft__task *global_take(void)
{
	struct weft__task *t = S.tfree;
	struct weft__slab *s;

	WEFT__ASSERT(atomic_load_explicit(&S.dbg_tlock_holder, memory_order_relaxed) ==
		     weft__dbg_tid());

	if (t) {
		S.tfree = t->link;
		S.ntfree--;
		return t;
	}
	s = slab_new();
	if (!s)
		return NULL;
	s->next = S.slabs;
	S.slabs = s;
	t = slab_tasks(s);
	for (size_t i = s->n - 1; i > 0; i--) {
		t[i].link = S.tfree;
		S.tfree = &t[i];
		S.ntfree++;
	}
	return &t[0];
}

static void reset(struct weft__task *t)
{
	/* Keep ctx's sanitizer fiber (released in recycle) and nothing else. */
	t->stack = NULL;
	__atomic_store_n(&t->wait_reason, WEFT_TRACE_BLOCK_NONE, __ATOMIC_RELAXED);
	t->wait_obj = NULL;
	t->link = NULL;
	t->tseq = 0;
	t->tlastp = 0;
	t->utask = 0;
	t->rdepth = 0;
	atomic_store_explicit(&t->status, WEFT__T_RUNNABLE, memory_order_relaxed);
}

struct weft__task *weft__task_alloc(struct weft__p *p)
{
	struct weft__task *t;

	WEFT__ASSERT(!p || weft__owns(p));

	if (p && (t = p->tfree)) {
		p->tfree = t->link;
		p->ntfree--;
		reset(t);
		return t;
	}
	tlock();
	if (p) {
		/* Refill half a cache at once so the next spawns stay local. */
		for (int i = 0; i < WEFT__TFREE_MAX / 2 && S.tfree; i++) {
			t = S.tfree;
			S.tfree = t->link;
			S.ntfree--;
			t->link = p->tfree;
			p->tfree = t;
			p->ntfree++;
		}
		if ((t = p->tfree)) {
			p->tfree = t->link;
			p->ntfree--;
			tunlock();
			reset(t);
			return t;
		}
	}
	t = global_take();
	tunlock();
	if (t)
		reset(t);
	return t;
}

void weft__task_free(struct weft__p *p, struct weft__task *t)
{
	WEFT__ASSERT(!p || weft__owns(p));
	atomic_store_explicit(&t->status, WEFT__T_FREE, memory_order_relaxed);
	__atomic_store_n(&t->fn, NULL, __ATOMIC_RELAXED);
	t->arg = NULL;
	if (p) {
		t->link = p->tfree;
		p->tfree = t;
		if (++p->ntfree <= WEFT__TFREE_MAX)
			return;
		/* Spill half to the global list. */
		struct weft__task *head = NULL, *tail = NULL;
		int n = 0;
		while (p->ntfree > WEFT__TFREE_MAX / 2) {
			t = p->tfree;
			p->tfree = t->link;
			p->ntfree--;
			t->link = head;
			head = t;
			if (!tail)
				tail = t;
			n++;
		}
		tlock();
		tail->link = S.tfree;
		S.tfree = head;
		S.ntfree += n;
		tunlock();
		return;
	}
	tlock();
	t->link = S.tfree;
	S.tfree = t;
	S.ntfree++;
	tunlock();
}

uint64_t weft__task_newid(struct weft__p *p)
{
	WEFT__ASSERT(!p || weft__owns(p)); /* p->id_next: owner only */
	if (!p)
		return atomic_fetch_add_explicit(&S.next_id, 1, memory_order_relaxed);
	if (p->id_next == p->id_end) {
		p->id_next = atomic_fetch_add_explicit(&S.next_id, ID_BATCH, memory_order_relaxed);
		p->id_end = p->id_next + ID_BATCH;
	}
	return p->id_next++;
}

/*
 * Call @fn for every descriptor that is not free. The caller makes sure the
 * set does not change under it (deadlock: every M idle; shutdown: every M
 * gone; the tracer: the world stopped).
 */
void weft__tasks_foreach(void (*fn)(struct weft__task *, void *), void *arg)
{
	WEFT__ASSERT(weft__sched_locked() || weft__world_stopped() || S.mcount == 0);
	tlock();
	for (struct weft__slab *s = S.slabs; s; s = s->next) {
		struct weft__task *t = slab_tasks(s);
		for (size_t i = 0; i < s->n; i++)
			if (atomic_load_explicit(&t[i].status, memory_order_relaxed) !=
			    WEFT__T_FREE)
				fn(&t[i], arg);
	}
	tunlock();
}

/* Shutdown: free every slab (stacks were released by the caller). */
void weft__tasks_destroy(void)
{
	struct weft__slab *s, *n;

	WEFT__ASSERT(S.mcount == 0);
	for (s = S.slabs; s; s = n) {
		struct weft__task *t = slab_tasks(s);
		n = s->next;
		for (size_t i = 0; i < s->n; i++)
			weft__ctx_release(&t[i].ctx);
		munmap(t, s->bytes);
		free(s);
	}
	S.slabs = NULL;
	next_slab_n = SLAB_MIN;
	S.tfree = NULL;
	S.ntfree = 0;
}

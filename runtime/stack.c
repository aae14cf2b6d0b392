/*
 * stack.c - mapping, guarding and the global cache of task stacks
 * (see stack.h for the design and its limits).
 */
#include "config.h"

#include "ctx.h" /* WEFT_ASAN */
#include "os.h"
#include "stack.h"

#include <errno.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#ifdef WEFT_ASAN
#include <sanitizer/asan_interface.h>
#endif

#define GLOBAL_CACHE_MAX 256

static pthread_mutex_t glock = PTHREAD_MUTEX_INITIALIZER;
static struct weft__stack gcache[GLOBAL_CACHE_MAX];
static int ngcache;

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

/*
 * The whole range is reserved inaccessible, then the usable part opened:
 * the gap is never writable, so it never counts against the commit limit
 * (vm.overcommit_memory=2 ignores MAP_NORESERVE for writable mappings).
 */
int weft__stack_map(struct weft__stack *s, size_t usable)
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

void weft__stack_unmap(struct weft__stack *s)
{
#ifdef WEFT_ASAN
	/*
	 * The frames of tasks that never returned left their redzones
	 * poisoned; the kernel may hand these addresses out again (to a
	 * descriptor slab, to malloc), where stale poison would be reported
	 * as an overflow. Clean the shadow before giving the range back.
	 */
	if (s->map)
		__asan_unpoison_memory_region(s->map, s->map_size);
#endif
	if (s->map)
		munmap(s->map, s->map_size);
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

void weft__stack_global_drain(void)
{
	pthread_mutex_lock(&glock);
	while (ngcache > 0)
		weft__stack_unmap(&gcache[--ngcache]);
	pthread_mutex_unlock(&glock);
}

/*
 * trace_user.c - the annotation API of weft.h: user tasks (inherited by
 * the tasks they spawn), regions and logs, recorded with their strings on
 * the caller's P or the global buffer.
 *
 * Each string is written with its event, cut at WEFT_TRACE_MAX_STR bytes.
 *
 * Rejected: a table of open user tasks in the runtime: the handle that
 * weft_trace_task_begin() returns packs the new id with the one it
 * replaced as current, so ending it restores the parent with nothing to
 * keep or free.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "trace_emit.h"
#include "trace_writer.h"

static _Atomic uint32_t utask_next; /* user task ids */

/* ---- user annotations ---------------------------------------------------------- */

static struct weft__task *cur_task(struct weft__m **mp)
{
	struct weft__m *m = weft__getm();

	*mp = m;
	return m ? m->curg : NULL;
}

static size_t cut(const char *s)
{
	return s ? strnlen(s, WEFT_TRACE_MAX_STR) : 0;
}

/*
 * The handle returned packs the new user task's id (low 32 bits) with the
 * one it replaced as current (high 32 bits), so that ending it restores
 * the parent with no table to keep.
 */
WEFT_API uint64_t weft_trace_task_begin(const char *type)
{
	struct weft__m *m;
	struct weft__task *t = cur_task(&m);
	uint32_t id = atomic_fetch_add_explicit(&utask_next, 1, memory_order_relaxed) + 1;
	uint32_t parent = t ? t->utask : 0;

	if (!id) /* wrapped: 0 means none */
		id = atomic_fetch_add_explicit(&utask_next, 1, memory_order_relaxed) + 1;
	if (t)
		t->utask = id;
	if (atomic_load_explicit(&weft__trace_on, memory_order_relaxed)) {
		uint64_t a[3] = { id, parent, t ? t->id : 0 };
		const char *str[1] = { type ? type : "" };
		size_t len[1] = { cut(type) };
		weft__trace_ev_str(weft__trace_p(m), WEFT_TEV_UTASK_BEGIN, 3, a, 1, str, len);
	}
	return (uint64_t)parent << 32 | id;
}

WEFT_API void weft_trace_task_end(uint64_t utask)
{
	struct weft__m *m;
	struct weft__task *t = cur_task(&m);
	uint32_t id = (uint32_t)utask, parent = (uint32_t)(utask >> 32);

	if (!id)
		return;
	if (t && t->utask == id)
		t->utask = parent;
	WEFT__TRACE(weft__trace_p(m), UTASK_END, 2, id, t ? t->id : 0, 0);
}

WEFT_API void weft_trace_region_begin(const char *type)
{
	struct weft__m *m;
	struct weft__task *t = cur_task(&m);

	if (!t)
		return; /* regions belong to tasks */
	t->rdepth++;
	if (atomic_load_explicit(&weft__trace_on, memory_order_relaxed)) {
		uint64_t a[2] = { t->id, t->utask };
		const char *str[1] = { type ? type : "" };
		size_t len[1] = { cut(type) };
		weft__trace_ev_str(weft__trace_p(m), WEFT_TEV_REGION_BEGIN, 2, a, 1, str, len);
	}
}

WEFT_API void weft_trace_region_end(void)
{
	struct weft__m *m;
	struct weft__task *t = cur_task(&m);

	if (!t)
		return;
	if (t->rdepth == 0)
		weft__fatal("weft_trace_region_end in task %llu, which has no region open",
			    (unsigned long long)t->id);
	t->rdepth--;
	WEFT__TRACE(weft__trace_p(m), REGION_END, 1, t->id, 0, 0);
}

WEFT_API void weft_trace_log(const char *category, const char *fmt, ...)
{
	struct weft__m *m;
	struct weft__task *t;
	char msg[WEFT_TRACE_MAX_STR + 1];
	va_list ap;
	int n;

	if (!atomic_load_explicit(&weft__trace_on, memory_order_relaxed))
		return; /* no formatting when off */
	t = cur_task(&m);
	va_start(ap, fmt);
	n = fmt ? vsnprintf(msg, sizeof(msg), fmt, ap) : 0;
	va_end(ap);
	if (n < 0)
		n = 0;
	uint64_t a[2] = { t ? t->id : 0, t ? t->utask : 0 };
	const char *str[2] = { category ? category : "", msg };
	size_t len[2] = { cut(category), (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1 };
	weft__trace_ev_str(weft__trace_p(m), WEFT_TEV_LOG, 2, a, 2, str, len);
}

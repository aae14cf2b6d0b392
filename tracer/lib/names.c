/*
 * names.c - names: of event types, argument names and block reasons (from
 * the public tables of weft/trace.h), and of code keys, the strings chunks
 * of the file (entry functions and call sites the writer named).
 *
 * The code-key names are loaded while the file is indexed, before the
 * first event is read, into one pool of NUL-terminated strings with an
 * open-addressing index; after weft_tr_open() they are read-only, which
 * is why weft_tr_string() may be called from another thread while one
 * reads events (weft-trace does).
 *
 * Rejected:
 *   - Loading names lazily as the strings chunks come in the merge: a
 *     viewer asks for names of events it has not reached, and a second
 *     thread could not read them without a lock.
 */
#include "internal.h"

static const char *const ev_names[WEFT_TEV_MAX] = {
#define NAME_(name, num, ...) [num] = #name,
	WEFT_TRACE_EVENTS(NAME_)
#undef NAME_
};

static const char *const ev_argnames[WEFT_TEV_MAX][WEFT_TRACE_MAX_ARGS + 1] = {
#define ARGN_(name, num, nargs, nstr, ...) [num] = { __VA_ARGS__ },
	WEFT_TRACE_EVENTS(ARGN_)
#undef ARGN_
};

const char *weft_tr_event_name(int type)
{
	return type > 0 && type < WEFT_TEV_MAX ? ev_names[type] : NULL;
}

int weft_tr_event_nargs(int type)
{
	return type > 0 && type < WEFT_TEV_MAX && ev_names[type] ? weft_tf_traits[type].nargs : -1;
}

int weft_tr_event_nstr(int type)
{
	return type > 0 && type < WEFT_TEV_MAX && ev_names[type] ? weft_tf_traits[type].nstr : -1;
}

const char *weft_tr_arg_name(int type, int i)
{
	if (weft_tr_event_nargs(type) < 0 || i < 0 || i >= weft_tf_traits[type].nargs)
		return NULL;
	return ev_argnames[type][i];
}

const char *weft_tr_block_name(int reason)
{
	return weft_tf_block_name(reason);
}

/* ---- names of code keys ------------------------------------------------------- */

static size_t hash_slot(uint64_t key, size_t cap)
{
	return (size_t)((key * 0x9E3779B97F4A7C15ULL) >> 32) & (cap - 1);
}

/* The slot of @key in the name index: its own, or the empty one it would take. */
static size_t name_slot(const weft_tr *t, uint64_t key)
{
	size_t j = hash_slot(key, t->name_cap);

	while (t->name_idx[j] && t->names[t->name_idx[j] - 1].key != key)
		j = (j + 1) & (t->name_cap - 1);
	return j;
}

static int grow_names(weft_tr *t)
{
	size_t cap = t->name_cap ? 2 * t->name_cap : 64;
	uint32_t *idx = calloc(cap, sizeof(*idx));

	if (!idx)
		return -ENOMEM;
	free(t->name_idx);
	t->name_idx = idx;
	t->name_cap = cap;
	for (size_t i = 0; i < t->nnames; i++)
		t->name_idx[name_slot(t, t->names[i].key)] = (uint32_t)i + 1;
	return 0;
}

/* Add the @n name records of a strings chunk (at @off); a key named again keeps its first name. */
int weft__tr_add_names(weft_tr *t, uint64_t off, const uint8_t *p, size_t len, uint32_t n)
{
	const uint8_t *end = p + len;

	for (uint32_t i = 0; i < n; i++) {
		uint64_t key, sl;
		if (!(p = weft_tf_uvarint(p, end, &key)) || !(p = weft_tf_uvarint(p, end, &sl)) ||
		    sl > (uint64_t)(end - p))
			return weft__tr_fail(t, -EPROTO, off, "string record %u is truncated", i);
		if (sl > MAX_NAME)
			return weft__tr_fail(t, -EPROTO, off, "string record %u is %llu bytes long", i,
				    (unsigned long long)sl);
		if (2 * (t->nnames + 1) > t->name_cap && grow_names(t) < 0)
			return weft__tr_fail(t, -ENOMEM, off, "out of memory for names");
		size_t j = name_slot(t, key);
		if (t->name_idx[j]) {
			p += sl;
			continue;
		}
		/* Each name costs its bytes, its record and two index slots. */
		if (t->pool_len + sl + 1 + (t->nnames + 1) * (sizeof(struct name) + 8) > MAX_NAMES)
			return weft__tr_fail(t, -EPROTO, off, "more than %d MiB of names", MAX_NAMES >> 20);
		struct name *names = weft__tr_grow(t->names, &t->capnames, t->nnames + 1,
						   sizeof(*names), 64);
		if (names)
			t->names = names;
		char *pool = names ? weft__tr_grow(t->pool, &t->pool_cap, t->pool_len + sl + 1, 1, 4096)
				   : NULL;
		if (!pool)
			return weft__tr_fail(t, -ENOMEM, off, "out of memory for names");
		t->pool = pool;
		memcpy(t->pool + t->pool_len, p, sl);
		t->pool[t->pool_len + sl] = 0;
		t->names[t->nnames].key = key;
		t->names[t->nnames].off = t->pool_len;
		t->name_idx[j] = (uint32_t)++t->nnames;
		t->pool_len += sl + 1;
		p += sl;
	}
	if (p != end)
		return weft__tr_fail(t, -EPROTO, off, "string chunk has %zu bytes after its %u records",
			    (size_t)(end - p), n);
	return 0;
}

const char *weft_tr_string(const weft_tr *t, uint64_t key)
{
	if (!t->name_cap)
		return NULL;
	for (size_t j = hash_slot(key, t->name_cap); t->name_idx[j]; j = (j + 1) & (t->name_cap - 1))
		if (t->names[t->name_idx[j] - 1].key == key)
			return t->pool + t->names[t->name_idx[j] - 1].off;
	return NULL;
}

const char *weft_tr_fn_name(const weft_tr *t, uint64_t fn)
{
	return weft_tr_string(t, fn);
}


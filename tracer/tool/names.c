/*
 * names.c - interning of code keys for the weft-trace commands (names.h).
 *
 * Indices are dense and given in the order keys are first seen, so a
 * command's per-function arrays grow one entry at a time and its output
 * does not depend on the hash. Names are looked up in the reader only
 * when a command asks for one (most keys of a trace are never printed),
 * and stay valid until the trace is closed.
 *
 * Rejected: keeping the name (or the key) in every task and every
 * aggregate: a pointer or a key per task and a string compare per
 * aggregation, where a trace of a million tasks names a handful of
 * functions.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "names.h"
#include "tool.h"
#include "u64map.h"

void names_init(struct names *nm, weft_trace *t)
{
	memset(nm, 0, sizeof(*nm));
	nm->t = t;
}

static void names_grow(struct names *nm)
{
	size_t cap = nm->cap ? 2 * nm->cap : 64;

	nm->keys = tool_realloc(nm->keys, cap, sizeof(*nm->keys));
	nm->name = tool_realloc(nm->name, cap, sizeof(*nm->name));
	nm->cap = cap;
	free(nm->slot);
	nm->nslot = 2 * cap;
	nm->slot = tool_calloc(nm->nslot, sizeof(*nm->slot));
	for (size_t i = 1; i < nm->n; i++) {
		size_t j = hash64(nm->keys[i]) & (nm->nslot - 1);
		while (nm->slot[j])
			j = (j + 1) & (nm->nslot - 1);
		nm->slot[j] = (uint32_t)i + 1;
	}
}

uint32_t names_intern(struct names *nm, uint64_t key)
{
	if (!key)
		return 0;
	if (key == nm->last_key && nm->n)
		return nm->last_idx;
	if (nm->n == 0) { /* index 0: no key */
		names_grow(nm);
		nm->keys[0] = 0;
		nm->name[0] = "-";
		nm->n = 1;
	}
	size_t j = hash64(key) & (nm->nslot - 1);
	while (nm->slot[j]) {
		uint32_t i = nm->slot[j] - 1;
		if (nm->keys[i] == key) {
			nm->last_key = key;
			nm->last_idx = i;
			return i;
		}
		j = (j + 1) & (nm->nslot - 1);
	}
	if (nm->n == nm->cap) {
		names_grow(nm);
		return names_intern(nm, key);
	}
	uint32_t i = (uint32_t)nm->n++;
	nm->keys[i] = key;
	nm->name[i] = NULL;
	nm->slot[j] = i + 1;
	return i;
}

const char *names_get(struct names *nm, uint32_t idx)
{
	if (idx == 0 || idx >= nm->n)
		return "-";
	if (!nm->name[idx]) {
		const char *s = weft_trace_string(nm->t, nm->keys[idx]);
		nm->name[idx] = s ? s : "?";
	}
	return nm->name[idx];
}

void names_free(struct names *nm)
{
	free(nm->keys);
	free(nm->name);
	free(nm->slot);
	memset(nm, 0, sizeof(*nm));
}

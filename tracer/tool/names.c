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

void names_init(struct names *nm, weft_tr *t)
{
	memset(nm, 0, sizeof(*nm));
	nm->t = t;
	u64map_init(&nm->idx, sizeof(uint32_t), U64MAP_MIXED);
}

uint32_t names_intern(struct names *nm, uint64_t key)
{
	bool added;
	uint32_t *idx;

	if (!key)
		return 0;
	if (key == nm->last_key && nm->n)
		return nm->last_idx;
	if (nm->n == nm->cap) {
		nm->cap = nm->cap ? 2 * nm->cap : 64;
		nm->keys = tool_realloc(nm->keys, nm->cap, sizeof(*nm->keys));
		nm->name = tool_realloc(nm->name, nm->cap, sizeof(*nm->name));
	}
	if (nm->n == 0) { /* index 0: no key */
		nm->keys[0] = 0;
		nm->name[0] = "-";
		nm->n = 1;
	}
	idx = u64map_insert(&nm->idx, key, &added);
	if (!added) {
		nm->last_key = key;
		nm->last_idx = *idx;
		return *idx;
	}
	*idx = (uint32_t)nm->n++;
	nm->keys[*idx] = key;
	nm->name[*idx] = NULL;
	return *idx;
}

const char *names_get(struct names *nm, uint32_t idx)
{
	if (idx == 0 || idx >= nm->n)
		return "-";
	if (!nm->name[idx]) {
		const char *s = weft_tr_string(nm->t, nm->keys[idx]);
		nm->name[idx] = s ? s : "?";
	}
	return nm->name[idx];
}

void names_free(struct names *nm)
{
	free(nm->keys);
	free(nm->name);
	u64map_free(&nm->idx);
	memset(nm, 0, sizeof(*nm));
}

/*
 * names.h - code keys (entry functions, call sites) to small indices, each
 * name looked up in the reader once. Index 0 is "no key" (key 0).
 *
 * A task carries a uint32_t index instead of a 64-bit key and a string,
 * and the commands aggregate per function by indexing an array with it.
 */
#ifndef WEFT_TRACE_NAMES_H
#define WEFT_TRACE_NAMES_H

#include <stddef.h>
#include <stdint.h>

#include <weft/trace.h>

#include "u64map.h"

struct names {
	weft_tr *t;
	uint64_t *keys;       /* by index */
	const char **name;    /* by index, resolved lazily */
	size_t n, cap;        /* indices given (with 0), room in keys and name */
	struct u64map idx;    /* key -> uint32_t index */
	uint64_t last_key;    /* a one-entry cache: spawn loops repeat one key */
	uint32_t last_idx;
};
void names_init(struct names *nm, weft_tr *t);
uint32_t names_intern(struct names *nm, uint64_t key);
const char *names_get(struct names *nm, uint32_t idx); /* "?" if unnamed, "-" for 0 */
void names_free(struct names *nm);

#endif /* WEFT_TRACE_NAMES_H */

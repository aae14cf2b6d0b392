/*
 * u64map.h - a map from non-zero 64-bit keys to pointers (open addressing).
 */
#ifndef WEFT_TRACE_U64MAP_H
#define WEFT_TRACE_U64MAP_H

#include <stddef.h>
#include <stdint.h>

static inline size_t hash64(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	return (size_t)k;
}

struct u64map {
	uint64_t *keys;
	void **vals;
	size_t n, cap;
};
void *u64map_get(const struct u64map *mp, uint64_t key);
void u64map_put(struct u64map *mp, uint64_t key, void *val); /* replaces */
void *u64map_del(struct u64map *mp, uint64_t key);           /* the value, or NULL */
void u64map_free(struct u64map *mp);                         /* not the values */

#endif /* WEFT_TRACE_U64MAP_H */

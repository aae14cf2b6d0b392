/* u64map.c - the map of u64map.h. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "tool.h"
#include "u64map.h"

void *u64map_get(const struct u64map *mp, uint64_t key)
{
	if (!mp->cap || !key)
		return NULL;
	size_t j = hash64(key) & (mp->cap - 1);
	while (mp->keys[j]) {
		if (mp->keys[j] == key)
			return mp->vals[j];
		j = (j + 1) & (mp->cap - 1);
	}
	return NULL;
}

static void u64map_grow(struct u64map *mp)
{
	size_t cap = mp->cap ? 2 * mp->cap : 64;
	uint64_t *k = tool_calloc(cap, sizeof(*k));
	void **v = tool_calloc(cap, sizeof(*v));

	for (size_t i = 0; i < mp->cap; i++) {
		if (!mp->keys[i])
			continue;
		size_t j = hash64(mp->keys[i]) & (cap - 1);
		while (k[j])
			j = (j + 1) & (cap - 1);
		k[j] = mp->keys[i];
		v[j] = mp->vals[i];
	}
	free(mp->keys);
	free(mp->vals);
	mp->keys = k;
	mp->vals = v;
	mp->cap = cap;
}

void u64map_put(struct u64map *mp, uint64_t key, void *val)
{
	if (!key)
		return;
	if ((mp->n + 1) * 2 > mp->cap)
		u64map_grow(mp);
	size_t j = hash64(key) & (mp->cap - 1);
	while (mp->keys[j]) {
		if (mp->keys[j] == key) {
			mp->vals[j] = val;
			return;
		}
		j = (j + 1) & (mp->cap - 1);
	}
	mp->keys[j] = key;
	mp->vals[j] = val;
	mp->n++;
}

void *u64map_del(struct u64map *mp, uint64_t key)
{
	if (!mp->cap || !key)
		return NULL;
	size_t mask = mp->cap - 1, i = hash64(key) & mask;
	while (mp->keys[i] && mp->keys[i] != key)
		i = (i + 1) & mask;
	if (!mp->keys[i])
		return NULL;
	void *val = mp->vals[i];
	/* Backward-shift deletion. */
	size_t j = i;
	for (;;) {
		j = (j + 1) & mask;
		if (!mp->keys[j])
			break;
		size_t k = hash64(mp->keys[j]) & mask;
		if ((j > i && (k <= i || k > j)) || (j < i && (k <= i && k > j))) {
			mp->keys[i] = mp->keys[j];
			mp->vals[i] = mp->vals[j];
			i = j;
		}
	}
	mp->keys[i] = 0;
	mp->vals[i] = NULL;
	mp->n--;
	return val;
}

void u64map_free(struct u64map *mp)
{
	free(mp->keys);
	free(mp->vals);
	memset(mp, 0, sizeof(*mp));
}

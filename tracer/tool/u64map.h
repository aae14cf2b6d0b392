/*
 * u64map.h - the one hash table of weft-trace: non-zero 64-bit keys to
 * values of a fixed size kept in the table itself. The model's live tasks
 * (by id, the value a whole struct mtask), the names index (code key to
 * index), gaps' block objects (object to the first of its tallies) and
 * export's open regions, user tasks and syscalls (by task or user-task
 * id) are all one of these.
 *
 * Layout. Open addressing with linear probing over a power-of-two number
 * of slots: keys[i] == 0 is an empty slot, and the value of keys[i] is
 * the i-th value of vsize bytes in vals. Keys sit apart from the values,
 * so a probe reads one cache line of keys however large the values are.
 *
 * Deletion shifts back: the entries after the hole are moved into it
 * unless their home slot lies cyclically in (hole, entry], so every probe
 * chain stays unbroken and there are no tombstones; a table that sees
 * millions of inserts and deletes (tasks come and go) never degrades and
 * never needs a rebuild.
 *
 * Invariants: at most load/4 of the slots are full (checked before each
 * insert, so an insert finds an empty slot); every key lies between its
 * home slot and the first empty slot after it. A pointer to a value is
 * good until the next insert (which may grow the table) or remove (which
 * may move entries); callers look a value up again after either.
 *
 * Two kinds of keys, one choice at init (enum u64map_kind): MIXED keys
 * (code keys and object addresses: aligned, so their low bits say
 * nothing) go through a full mixer, and the table is kept half empty;
 * IDS (task ids, handed out consecutively) are spread evenly by Fibonacci
 * hashing, which costs one multiply, and the table, the largest of the
 * tool with a whole task per slot, may be three quarters full and starts
 * large (every trace has tasks). The kind also fixes the slot order in
 * which model_finish and export's end visit the entries that are left, so
 * the output depends on it: changing a kind changes the order of the last
 * lines of an export.
 *
 * Rejected: chaining (an allocation per entry and a pointer chase per
 * probe); tombstones (the task table would fill with them and need
 * rebuilds); a macro that generates a table per value type (khash's way:
 * a second language to read, for a table whose values are copied with
 * memcpy at a grow or a delete only); a hash function pointer (an
 * indirect call on every lookup of the model's hottest path).
 */
#ifndef WEFT_TRACE_U64MAP_H
#define WEFT_TRACE_U64MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

enum u64map_kind {
	U64MAP_MIXED, /* any keys: mixed; at most half full; 64 slots first */
	U64MAP_IDS,   /* consecutive ids: Fibonacci hashing; 3/4 full; 1024 slots first */
};

struct u64map {
	uint64_t *keys; /* [cap]; 0: an empty slot */
	void *vals;     /* [cap] values of vsize bytes, value i for keys[i] */
	size_t n, cap;  /* entries; slots (0 or a power of two) */
	size_t vsize;
	enum u64map_kind kind;
};

/* An empty table of values of @vsize bytes; nothing is allocated before the first insert. */
static inline void u64map_init(struct u64map *mp, size_t vsize, enum u64map_kind kind)
{
	memset(mp, 0, sizeof(*mp));
	mp->vsize = vsize;
	mp->kind = kind;
}

/* The value in slot @i (whether or not keys[i] holds a key). */
static inline void *u64map_val(const struct u64map *mp, size_t i)
{
	return (char *)mp->vals + i * mp->vsize;
}

/* The slot where a probe for @key starts. cap > 0. */
static inline size_t u64map_home(const struct u64map *mp, uint64_t key)
{
	if (mp->kind == U64MAP_IDS)
		return (size_t)((key * 0x9E3779B97F4A7C15ULL) >> 20) & (mp->cap - 1);
	key ^= key >> 33; /* murmur3's finalizer, first half */
	key *= 0xff51afd7ed558ccdULL;
	key ^= key >> 33;
	return (size_t)key & (mp->cap - 1);
}

/* The value of @key, or NULL if it has none (key 0 never has one). */
static inline void *u64map_find(const struct u64map *mp, uint64_t key)
{
	if (!mp->cap || !key)
		return NULL;
	for (size_t j = u64map_home(mp, key);; j = (j + 1) & (mp->cap - 1)) {
		if (mp->keys[j] == key)
			return u64map_val(mp, j);
		if (!mp->keys[j])
			return NULL;
	}
}

/* Double the slots (or make the first ones) and put every entry back, in slot order. */
static inline void u64map_grow(struct u64map *mp)
{
	size_t cap = mp->cap ? 2 * mp->cap : mp->kind == U64MAP_IDS ? 1024 : 64;
	struct u64map old = *mp;

	mp->keys = tool_calloc(cap, sizeof(*mp->keys));
	mp->vals = tool_calloc(cap, mp->vsize);
	mp->cap = cap;
	for (size_t i = 0; i < old.cap; i++) {
		if (!old.keys[i])
			continue;
		size_t j = u64map_home(mp, old.keys[i]);
		while (mp->keys[j])
			j = (j + 1) & (cap - 1);
		mp->keys[j] = old.keys[i];
		memcpy(u64map_val(mp, j), u64map_val(&old, i), mp->vsize);
	}
	free(old.keys);
	free(old.vals);
}

/*
 * The value of @key, made (zeroed) if it had none; *@added (if not NULL)
 * says which. NULL for key 0, which is never stored. May grow the table:
 * earlier value pointers are then stale.
 */
static inline void *u64map_insert(struct u64map *mp, uint64_t key, bool *added)
{
	if (added)
		*added = false;
	if (!key)
		return NULL;
	if ((mp->n + 1) * 4 > mp->cap * (mp->kind == U64MAP_IDS ? 3 : 2))
		u64map_grow(mp);
	size_t j = u64map_home(mp, key);
	while (mp->keys[j]) {
		if (mp->keys[j] == key)
			return u64map_val(mp, j);
		j = (j + 1) & (mp->cap - 1);
	}
	mp->keys[j] = key;
	memset(u64map_val(mp, j), 0, mp->vsize);
	mp->n++;
	if (added)
		*added = true;
	return u64map_val(mp, j);
}

/*
 * Remove the entry whose value is at @val (from find or insert), by
 * backward shift: entries after it may move, so earlier value pointers
 * are stale.
 */
static inline void u64map_remove(struct u64map *mp, void *val)
{
	size_t mask = mp->cap - 1, i = (size_t)((char *)val - (char *)mp->vals) / mp->vsize, j = i;

	for (;;) {
		j = (j + 1) & mask;
		if (!mp->keys[j])
			break;
		size_t k = u64map_home(mp, mp->keys[j]);
		/* Move j to i if its home k is not cyclically in (i, j]. */
		if ((j > i && (k <= i || k > j)) || (j < i && (k <= i && k > j))) {
			mp->keys[i] = mp->keys[j];
			memcpy(u64map_val(mp, i), u64map_val(mp, j), mp->vsize);
			i = j;
		}
	}
	mp->keys[i] = 0;
	mp->n--;
}

/* Empty the table, keeping its slots. */
static inline void u64map_clear(struct u64map *mp)
{
	if (mp->cap)
		memset(mp->keys, 0, mp->cap * sizeof(*mp->keys));
	mp->n = 0;
}

/* Free the slots (not what pointer values point to); the table is empty and can be used again. */
static inline void u64map_free(struct u64map *mp)
{
	free(mp->keys);
	free(mp->vals);
	u64map_init(mp, mp->vsize, mp->kind);
}

/* ---- tables of pointers (vsize == sizeof(void *)) ---- */

/* The pointer stored for @key, or NULL. */
static inline void *u64map_get_ptr(const struct u64map *mp, uint64_t key)
{
	void **v = u64map_find(mp, key);

	return v ? *v : NULL;
}

/* Store @p for @key, replacing what was there; key 0 is ignored. */
static inline void u64map_put_ptr(struct u64map *mp, uint64_t key, void *p)
{
	void **v = u64map_insert(mp, key, NULL);

	if (v)
		*v = p;
}

/* Remove @key and return its pointer, or NULL if it had none. */
static inline void *u64map_take_ptr(struct u64map *mp, uint64_t key)
{
	void **v = u64map_find(mp, key), *p;

	if (!v)
		return NULL;
	p = *v;
	u64map_remove(mp, v);
	return p;
}

#endif /* WEFT_TRACE_U64MAP_H */

/*
 * index.c - the file's index, built when it is opened: every chunk header
 * walked (pread of 48 bytes each, payloads skipped), checked against the
 * format's bounds and the file's length, the string chunks loaded
 * (names.c), and per stream the list of its event chunks, sorted and
 * checked for gaps. What a bad file makes it say: doc/trace-format.md.
 *
 * Rejected: see reader.c (reading chunks in file order).
 */
#include "internal.h"

/* ---- indexing ----------------------------------------------------------------- */

static int cmp_chunk(const void *a, const void *b)
{
	const struct chunk_ref *x = a, *y = b;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* P streams by number, then the global one: the order of ties. */
static int cmp_stream(const void *a, const void *b)
{
	const struct stream *x = a, *y = b;
	unsigned kx = x->kind == WEFT_TF_STREAM_P ? (unsigned)x->id : WEFT_TF_MAX_PROCS;
	unsigned ky = y->kind == WEFT_TF_STREAM_P ? (unsigned)y->id : WEFT_TF_MAX_PROCS;
	return kx < ky ? -1 : kx > ky;
}

int weft__tr_index(weft_tr *t)
{
	uint64_t off = WEFT_TF_HEADER_SIZE;
	uint8_t h[WEFT_TF_CHUNK_HEADER_SIZE];
	uint8_t *raw = NULL;
	int16_t by_id[WEFT_TF_MAX_PROCS + 1]; /* stream index by P id; the global one last */
	int err = 0;

	memset(by_id, -1, sizeof(by_id));
	while (off < t->size) {
		if (t->size - off < sizeof(h)) {
			t->truncated_at = off;
			break;
		}
		if ((err = weft__tr_read_at(t, h, sizeof(h), off)) < 0)
			break;
		struct weft_tf_chunk ch;
		weft_tf_chunk_get(h, &ch);
		uint32_t magic = ch.magic, zsize = ch.zsize, rawsize = ch.rawsize, nev = ch.nev;
		int kind = ch.kind, skind = ch.stream_kind;
		if (magic != WEFT_TF_CHUNK_MAGIC) {
			err = weft__tr_fail(t, -EPROTO, off, "not a chunk header (magic %08x)", magic);
			break;
		}
		if (rawsize > WEFT_TF_MAX_RAW || zsize > t->zcap || zsize == 0) {
			err = weft__tr_fail(t, -EPROTO, off, "chunk sizes out of bounds (%u compressed, %u raw)",
				   zsize, rawsize);
			break;
		}
		if (t->size - off - sizeof(h) < zsize) {
			t->truncated_at = off;
			break;
		}
		if (kind == WEFT_TF_CHUNK_STRINGS) {
			if (!raw && !(raw = malloc(WEFT_TF_MAX_RAW))) {
				err = weft__tr_fail(t, -ENOMEM, off, "out of memory");
				break;
			}
			if ((err = weft__tr_load(t, off, zsize, rawsize, raw)) < 0 ||
			    (err = weft__tr_add_names(t, off, raw, rawsize, nev)) < 0)
				break;
		} else if (kind == WEFT_TF_CHUNK_EVENTS) {
			uint32_t id = ch.stream_id;
			if (skind != WEFT_TF_STREAM_P && skind != WEFT_TF_STREAM_M) {
				err = weft__tr_fail(t, -EPROTO, off, "unknown stream kind %d", skind);
				break;
			}
			if (nev > rawsize / 2) {
				err = weft__tr_fail(t, -EPROTO, off, "%u events cannot fit in %u bytes", nev,
					   rawsize);
				break;
			}
			if (skind == WEFT_TF_STREAM_P ? id >= WEFT_TF_MAX_PROCS : id != 0) {
				err = weft__tr_fail(t, -EPROTO, off, "stream id %u out of bounds", id);
				break;
			}
			int key = skind == WEFT_TF_STREAM_P ? (int)id : WEFT_TF_MAX_PROCS;
			if (by_id[key] < 0) {
				struct stream *all = weft__tr_grow(t->streams, &t->capstreams,
								   t->nstreams + 1, sizeof(*all), 4);
				if (!all) {
					err = weft__tr_fail(t, -ENOMEM, off, "out of memory for the index");
					break;
				}
				t->streams = all;
				by_id[key] = (int16_t)t->nstreams;
				struct stream *ns = &t->streams[t->nstreams++];
				memset(ns, 0, sizeof(*ns));
				ns->kind = skind;
				ns->id = (int)id;
				ns->p = skind == WEFT_TF_STREAM_P ? (int)id : GLOBAL;
			}
			struct stream *s = &t->streams[by_id[key]];
			struct chunk_ref *refs = weft__tr_grow(s->chunks, &s->cap, s->n + 1,
							       sizeof(*refs), 16);
			if (!refs) {
				err = weft__tr_fail(t, -ENOMEM, off, "out of memory for the index");
				break;
			}
			s->chunks = refs;
			s->chunks[s->n++] = (struct chunk_ref){ off, zsize, rawsize, nev, ch.seq,
								ch.t_first };
			if (rawsize > s->rawcap)
				s->rawcap = rawsize;
			t->info.events += nev;
		} else {
			err = weft__tr_fail(t, -EPROTO, off, "unknown chunk kind %d", kind);
			break;
		}
		t->info.chunks++;
		t->info.raw_bytes += rawsize;
		off += sizeof(h) + zsize;
	}
	free(raw);
	if (err)
		return err;
	if (t->nstreams > 1)
		qsort(t->streams, t->nstreams, sizeof(*t->streams), cmp_stream);
	for (size_t i = 0; i < t->nstreams; i++) {
		struct stream *s = &t->streams[i];
		qsort(s->chunks, s->n, sizeof(*s->chunks), cmp_chunk);
		for (size_t k = 1; k < s->n; k++)
			if (s->chunks[k].seq != s->chunks[k - 1].seq + 1)
				return weft__tr_fail(t, -EPROTO, s->chunks[k].off,
					    "stream %s%d: chunk %u follows chunk %u (%s)",
					    s->kind == WEFT_TF_STREAM_P ? "P" : "M", s->id,
					    s->chunks[k].seq, s->chunks[k - 1].seq,
					    s->chunks[k].seq == s->chunks[k - 1].seq ? "twice"
										     : "one is missing");
		if (s->n && s->chunks[0].seq != 0)
			return weft__tr_fail(t, -EPROTO, s->chunks[0].off,
				    "stream %s%d starts at chunk %u (the first ones are missing)",
				    s->kind == WEFT_TF_STREAM_P ? "P" : "M", s->id, s->chunks[0].seq);
		if (!(s->raw = malloc(s->rawcap ? s->rawcap : 1)) ||
		    (s->n > 1 && !(s->spare = malloc(s->rawcap ? s->rawcap : 1))))
			return weft__tr_fail(t, -ENOMEM, 0, "out of memory");
	}
	return 0;
}


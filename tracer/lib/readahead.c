/*
 * readahead.c - loading a chunk's payload (pread, zstd), and the helper
 * thread that decompresses each stream's next chunk while the reading
 * thread decodes the current one.
 *
 * Rejected: see reader.c (decoding in the helper too; mmap).
 */
#include "internal.h"

int weft__tr_read_at(weft_tr *t, void *buf, size_t n, uint64_t off)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = pread(t->fd, (char *)buf + got, n - got, (off_t)(off + got));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return weft__tr_fail(t, -errno, off, "read error: %s", strerror(errno));
		}
		if (r == 0)
			return weft__tr_fail(t, -EPIPE, off, "unexpected end of file");
		got += (size_t)r;
	}
	return 0;
}

/* Read and decompress the payload of the chunk at @off into @dst (rawsize bytes). */
static void unpack(int fd, void *zbuf, ZSTD_DCtx *dctx, uint64_t off, uint32_t zsize,
		   uint32_t rawsize, uint8_t *dst, struct zres *res)
{
	size_t got = 0;

	*res = (struct zres){ 0 };
	while (got < zsize) {
		ssize_t r = pread(fd, (char *)zbuf + got, zsize - got,
				  (off_t)(off + WEFT_TF_CHUNK_HEADER_SIZE + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			res->err = r < 0 ? -errno : -EPIPE;
			return;
		}
		got += (size_t)r;
	}
	res->got = ZSTD_decompressDCtx(dctx, dst, rawsize, zbuf, zsize);
	if (ZSTD_isError(res->got)) {
		res->err = -EPROTO;
		res->zerr = ZSTD_getErrorName(res->got);
	} else if (res->got != rawsize) {
		res->err = -EPROTO;
	}
}

static int unpack_failed(weft_tr *t, uint64_t off, uint32_t rawsize, const struct zres *res)
{
	uint64_t at = off + WEFT_TF_CHUNK_HEADER_SIZE;

	if (res->err == -EPIPE)
		return weft__tr_fail(t, -EPIPE, at, "unexpected end of file");
	if (res->err != -EPROTO)
		return weft__tr_fail(t, res->err, at, "read error: %s", strerror(-res->err));
	if (res->zerr)
		return weft__tr_fail(t, -EPROTO, off, "chunk payload does not decompress: %s", res->zerr);
	return weft__tr_fail(t, -EPROTO, off, "chunk payload is %zu bytes, its header says %u", res->got,
		    rawsize);
}

/* Decompress the payload of the chunk at @off into @dst (rawsize bytes). */
int weft__tr_load(weft_tr *t, uint64_t off, uint32_t zsize, uint32_t rawsize,
			uint8_t *dst)
{
	struct zres res;

	unpack(t->fd, t->zbuf, t->dctx, off, zsize, rawsize, dst, &res);
	return res.err ? unpack_failed(t, off, rawsize, &res) : 0;
}

/* ---- reading ahead ------------------------------------------------------------------ */

/*
 * While the reading thread decodes a stream's chunk, a helper thread reads
 * and decompresses the stream's next one into a spare buffer: zstd is a
 * fifth to a third of the time per event, and a second CPU takes it off
 * the reading one (+30% events/s on two idle CPUs; nothing gained, and
 * 10-15% more CPU time, when the other CPU is busy). Requests are a FIFO of
 * streams, at most one pending chunk each. The reading thread takes a
 * finished chunk by swapping buffers, waits for one in progress, and reads
 * a still queued one itself. The helper's lock orders all they share: the
 * queue, quit, and the ah_* fields and the spare buffer of every stream
 * (its contents pass with the lock: AH_DONE is set under it after the
 * write, and read under it before the swap). If the thread cannot be
 * made, the reader goes without.
 */
struct helper {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t work, done;
	struct stream *head, *tail; /* queued */
	bool quit;
	int fd;
	void *zbuf;
	ZSTD_DCtx *dctx;
};

static void *helper_main(void *arg)
{
	struct helper *h = arg;

	pthread_mutex_lock(&h->lock);
	for (;;) {
		struct stream *s = h->head;
		struct zres res;
		if (h->quit)
			break;
		if (!s) {
			pthread_cond_wait(&h->work, &h->lock);
			continue;
		}
		h->head = s->ah_next;
		if (!h->head)
			h->tail = NULL;
		s->ah_state = AH_BUSY;
		struct chunk_ref *c = &s->chunks[s->ah_chunk];
		uint8_t *dst = s->spare;
		pthread_mutex_unlock(&h->lock);
		unpack(h->fd, h->zbuf, h->dctx, c->off, c->zsize, c->rawsize, dst, &res);
		pthread_mutex_lock(&h->lock);
		s->ah_res = res;
		s->ah_state = AH_DONE;
		pthread_cond_broadcast(&h->done);
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

static void helper_free(struct helper *h)
{
	pthread_mutex_destroy(&h->lock);
	pthread_cond_destroy(&h->work);
	pthread_cond_destroy(&h->done);
	free(h->zbuf);
	ZSTD_freeDCtx(h->dctx);
	free(h);
}

/* Start the helper if some stream has more than one chunk (else it has nothing to do). */
void weft__tr_helper_start(weft_tr *t)
{
	struct helper *h;
	bool useful = false;

	for (size_t i = 0; i < t->nstreams; i++)
		useful |= t->streams[i].spare != NULL;
	if (!useful || !(h = calloc(1, sizeof(*h))))
		return;
	h->fd = t->fd;
	h->zbuf = malloc(t->zcap);
	h->dctx = ZSTD_createDCtx();
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->work, NULL);
	pthread_cond_init(&h->done, NULL);
	if (!h->zbuf || !h->dctx || pthread_create(&h->thread, NULL, helper_main, h) != 0) {
		helper_free(h);
		return;
	}
	t->helper = h;
}

void weft__tr_helper_stop(weft_tr *t)
{
	struct helper *h = t->helper;

	if (!h)
		return;
	pthread_mutex_lock(&h->lock);
	h->quit = true;
	pthread_cond_signal(&h->work);
	pthread_mutex_unlock(&h->lock);
	pthread_join(h->thread, NULL);
	helper_free(h);
	t->helper = NULL;
}

/* Ask the helper for chunk @k of @s. */
void weft__tr_ask_ahead(weft_tr *t, struct stream *s, size_t k)
{
	struct helper *h = t->helper;

	s->asked = true;
	pthread_mutex_lock(&h->lock);
	s->ah_state = AH_QUEUED;
	s->ah_chunk = k;
	s->ah_next = NULL;
	if (h->tail)
		h->tail->ah_next = s;
	else
		h->head = s;
	h->tail = s;
	pthread_cond_signal(&h->work);
	pthread_mutex_unlock(&h->lock);
}

/* Chunk @k of @s, which was asked for (the next one), into s->raw. */
int weft__tr_take_ahead(weft_tr *t, struct stream *s, size_t k)
{
	struct helper *h = t->helper;
	struct chunk_ref *c = &s->chunks[k];
	struct zres res;

	s->asked = false;
	pthread_mutex_lock(&h->lock);
	if (s->ah_state == AH_QUEUED) { /* not started: out of the queue, read it here */
		struct stream **pp = &h->head, *prev = NULL;
		while (*pp != s) {
			prev = *pp;
			pp = &(*pp)->ah_next;
		}
		*pp = s->ah_next;
		if (h->tail == s)
			h->tail = prev;
		s->ah_state = AH_NONE;
		pthread_mutex_unlock(&h->lock);
		return weft__tr_load(t, c->off, c->zsize, c->rawsize, s->raw);
	}
	while (s->ah_state == AH_BUSY)
		pthread_cond_wait(&h->done, &h->lock);
	s->ah_state = AH_NONE;
	res = s->ah_res;
	pthread_mutex_unlock(&h->lock);
	if (res.err)
		return unpack_failed(t, c->off, c->rawsize, &res);
	uint8_t *tmp = s->raw;
	s->raw = s->spare;
	s->spare = tmp;
	return 0;
}


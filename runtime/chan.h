/*
 * chan.h - a channel's insides, for chan.c and select.c (internal).
 *
 * What. struct weft_chan (opaque in weft.h): a spin lock, a ring buffer
 * of cap elements (none when unbuffered), and the queues of blocked
 * senders and receivers (waitq.h). The protocol is chan.c's essay; it is
 * here because select locks several channels and polls each with the
 * same one-attempt operations a plain send or receive uses.
 *
 * Invariants (under c->lock; chan.c lists them with the reasons):
 *   - recvq non-empty => the buffer is empty; sendq non-empty => it is
 *     full (unbuffered: always "full");
 *   - a closed channel has empty queues;
 *   - count is written under the lock only; weft_chan_len reads it racily.
 *
 * Who may call: the try_*_locked verbs with c->lock held (select holds the
 * locks of all its channels, taken in address order); whoever gets a
 * waiter back in *wake wakes it after unlocking (waitq.h). elem_size, cap
 * and buf never change after weft_chan_make.
 *
 * Rejected: exposing the channel layout in weft.h for inline fast paths
 * (the lock is needed on every path anyway, and the layout would become
 * ABI).
 */
#ifndef WEFT_CHAN_H
#define WEFT_CHAN_H

#include <stdatomic.h>
#include <stddef.h>

#include "spin.h"
#include "waitq.h"

struct weft_chan {
	weft__spin lock;
	int closed;
	size_t elem_size;
	size_t cap;
	_Atomic size_t count; /* buffered elements (read racily by weft_chan_len) */
	size_t head;          /* next to receive */
	size_t tail;          /* next free slot */
	struct weft__waitq recvq, sendq;
	char *buf;
};

/* Lock held: one send / receive attempt without blocking. Returns 0 or
 * -EPIPE when done (with *@wake set to a waiter to wake after unlocking, or
 * NULL), -EAGAIN when it would block. */
int weft__chan_try_send_locked(struct weft_chan *c, const void *elem, struct weft__waiter **wake);
/* Block for ever, as Go does on a nil channel and an empty select: a task
 * parks with @reason (the deadlock check sees it), a plain thread sleeps. */
__attribute__((noreturn)) void weft__block_forever(int reason);
int weft__chan_try_recv_locked(struct weft_chan *c, void *elem, struct weft__waiter **wake);

#endif /* WEFT_CHAN_H */

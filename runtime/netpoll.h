/*
 * netpoll.h - the epoll netpoller's verbs for the scheduler (internal; the
 * design, with what was rejected, is netpoll.c's essay).
 *
 * What. Tasks that wait for an fd (weft_fd_wait, weft_read, ...) park on
 * the fd's descriptor; the scheduler finds them ready by polling epoll:
 * without blocking before a P steals (weft__netpoll_find), blocking in
 * the timer sleeper when every P is idle (timer.c calls weft__netpoll
 * with the time to the next timer), and from sysmon when nobody polled
 * for 10 ms (weft__netpoll_sysmon). Woken waiters are handed back as a
 * list (struct weft__netlist), which the caller readies where it can.
 *
 * Invariants:
 *   - weft__netpoll_waiting() > 0 while any task is parked on an fd (the
 *     deadlock check, and whether anyone polls at all, read it);
 *   - a waiter on a netlist is off every wait list and has its result:
 *     nobody else readies it (its deadline timer finds it done).
 *
 * Who may call what:
 *   weft__netpoll_inited, _waiting    any thread (one load)
 *   weft__netpoll                     an M with no P (the timer sleeper),
 *                                     or via _find / _sysmon
 *   weft__netlist_ready               the poller that filled the list:
 *                                     @p owned by it, or NULL (global queue)
 *   weft__netpoll_find                owner of @p, out of local work (g0)
 *   weft__netpoll_sysmon              sysmon
 *   weft__netpoll_break               any thread: the blocked poller returns
 *   weft__netpoll_fini                teardown, no M left
 */
#ifndef WEFT_NETPOLL_H
#define WEFT_NETPOLL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "internal.h"

struct weft__pwait;

/* Waiters woken by a poll, to be readied (their pwait records, linked). */
struct weft__netlist {
	struct weft__pwait *head;
	int n;
};

struct weft__netpoll_state {
	_Atomic int inited;           /* epoll and the eventfd exist */
	_Atomic long waiters;         /* tasks parked on an fd */
	_Atomic long user_waiters;    /* of which not the debug server's: only
				       * these may be woken from outside for the
				       * deadlock check (one counter, read alone) */
	_Atomic uint64_t pollgen;     /* +1 before and after each blocking
				       * epoll_wait: odd while an M may sit in it
				       * having taken no event (checkdead) */
	_Atomic int64_t lastpoll;     /* weft__nanotime() of the last poll; 0 while
				       * an M blocks in epoll_wait */
};
extern struct weft__netpoll_state weft__np;

static inline bool weft__netpoll_inited(void)
{
	return atomic_load_explicit(&weft__np.inited, memory_order_acquire) != 0;
}

static inline bool weft__netpoll_waiting(void)
{
	return atomic_load(&weft__np.waiters) > 0;
}

/* Waiters that the program's own tasks are (not the debug server's): an
 * fd wait of those may be woken from outside, one of the server's wakes
 * only the server. For the deadlock check. */
static inline bool weft__netpoll_user_waiting(void)
{
	return atomic_load(&weft__np.user_waiters) > 0;
}

/* Poll epoll: @timeout_ns 0 does not block, < 0 blocks until an event or
 * weft__netpoll_break. Woken waiters are added to @l; how many. */
int weft__netpoll(int64_t timeout_ns, struct weft__netlist *l);
/* Make @l's tasks runnable: on @p's deque (owned by the caller) or, with
 * @p NULL, on the global queue. */
void weft__netlist_ready(struct weft__netlist *l, struct weft__p *p);
/* Owner of @p, out of work: poll without blocking if tasks wait and nobody
 * blocks in epoll; true if it readied any onto @p. */
bool weft__netpoll_find(struct weft__p *p);
/* sysmon: poll if tasks wait and nobody polled for 10 ms. */
void weft__netpoll_sysmon(int64_t now);
/* Wake the M blocked in epoll_wait (deduplicated). */
void weft__netpoll_break(void);
/* Close epoll and free the descriptors. */
void weft__netpoll_fini(void);

#endif /* WEFT_NETPOLL_H */

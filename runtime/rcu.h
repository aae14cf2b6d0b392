/*
 * rcu.h - the Ms as readers of liburcu's QSBR flavour (internal; the
 * protocol, where the quiescent states are and what was rejected is
 * rcu.c's essay).
 *
 * What. Every M is a registered urcu-qsbr reader from its thread's start
 * to its end, so that a grace period (weft__rcu_synchronize) proves that
 * no M still touches what was unpublished before it: weft_trace_stop()
 * takes the per-P trace buffers back that way without stopping the world.
 * The check at a schedule point is inlined here and is two loads and a
 * compare (no thread-local access, see rcu.c) unless a grace period waits.
 *
 * Invariants:
 *   - An M is online while it may touch a P's trace buffer, offline
 *     wherever it may sleep for long (parked without a P, the timer
 *     sleeper, a stopper waiting, a task in a syscall); a quiescent state
 *     asked for while offline does nothing.
 *   - The reader's two words (struct weft__rcu_reader, in struct weft__m)
 *     are set once by weft__rcu_register on the M's thread and never
 *     change.
 *
 * Who may call what:
 *   weft__rcu_register/_unregister   the M's own thread, at start / end
 *   weft__rcu_quiescent(_slow)       the M's own thread, at a schedule point
 *   weft__rcu_offline/_online        the M's own thread, paired
 *   weft__rcu_synchronize            any thread outside a read-side section
 *   weft__rcu_mutex_lock             any thread (an online M waits offline)
 *
 * Rejected: see rcu.c (liburcu's inline QSBR calls at schedule points;
 * other threads as readers).
 */
#ifndef WEFT_RCU_H
#define WEFT_RCU_H

#include <pthread.h>

/* An M's reader state, cached so that a quiescent state needs no TLS:
 * liburcu's grace-period counter and this thread's reader counter. */
struct weft__rcu_reader {
	const unsigned long *gp;
	unsigned long *ctr;
};

void weft__rcu_register(struct weft__rcu_reader *r);
void weft__rcu_unregister(void);
void weft__rcu_quiescent_slow(void);
void weft__rcu_offline(void);
void weft__rcu_online(void);
void weft__rcu_synchronize(void);
void weft__rcu_mutex_lock(pthread_mutex_t *l);

/* A quiescent state of the calling M, whose reader is @r (&m->rcu). */
static inline void weft__rcu_quiescent(const struct weft__rcu_reader *r)
{
	if (__builtin_expect(__atomic_load_n(r->gp, __ATOMIC_RELAXED) !=
				     __atomic_load_n(r->ctr, __ATOMIC_RELAXED),
			     0))
		weft__rcu_quiescent_slow();
}

#endif /* WEFT_RCU_H */

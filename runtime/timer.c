/*
 * timer.c - timers: weft_sleep(), select timeouts, and the M that sleeps
 * until the next deadline.
 *
 * What. Every P has a timer heap: a 4-ary min-heap of struct weft__timer
 * ordered by (deadline, insertion number), so timers with one deadline
 * fire in the order they were set. A task arms its timer on the heap of
 * the P it runs on; the heap's lock (a spin lock) is taken by that P, and
 * now and then by another P that runs expired timers for it, so it is
 * uncontended in practice. p->timer0 mirrors the earliest deadline (0 when
 * the heap is empty) so that "anything due?" is one load.
 *
 * Who runs them. Timers are run by the scheduler itself - no timer thread:
 *   - a P checks its own heap at every schedule (pick_local) and every
 *     yield, when timer0 says a deadline exists (then a clock read) and
 *     runnext is free, and fires the earliest due timer: its task takes
 *     runnext and runs next. One at a time, so the woken tasks run in
 *     deadline order, each before the next fires. Runnext kept busy by a
 *     ping-pong would starve the timers, so the fairness tick fires one
 *     anyway (the partner moves to the deque);
 *   - a P that ran out of local work runs every P's expired timers before
 *     it steals (the heap's owner may be busy in a long task, or idle);
 *   - when every P is idle, one M - the timer sleeper - sleeps until the
 *     earliest deadline of all heaps, then takes an idle P and goes
 *     through the scheduler loop, which runs the timers. So an idle
 *     program sleeps exactly until its next timer, not a fixed tick. A
 *     task that arms an earlier timer than the sleeper's deadline kicks it
 *     (the futex word tnote) and it recomputes.
 * The sleeper is also the netpoller's (netpoll.c): once the program has
 * used the netpoller, it sleeps in epoll_wait with the same timeout
 * instead of on the futex, as Go's findrunnable does, and holds the role
 * while tasks wait on fds even with no timer; a kick then also writes the
 * eventfd (S.tpolling says it is in epoll_wait). Tasks the poll readies
 * go to the idle P it takes, or to the global queue if none is idle. One
 * sleeper, not two.
 * The sleeper is not on the idle M list, so the deadlock check (which
 * fires only when every M is idle) never fires while a timer is pending:
 * a sleeping task is not deadlocked.
 *
 * Finding the earliest. A P out of work and the sleeper look at every
 * P's heap; at 256 Ps that was 256 loads of timer0, each on a line its
 * owner writes at every schedule (doc/scaling.md), on every trip of a P
 * through findrunnable. S.timerp has a bit per P that may have timers
 * (Go's timerpMask): the owner sets it when it arms a timer and the bit
 * is clear, pidleput clears it when the heap is empty, so the scan reads
 * one word per 64 Ps and the timer0 of the Ps with timers. A P that runs
 * keeps its bit (no shared write per timer, as Go decided: a program
 * that goes between no timers and one would write the mask at every
 * sleep); an idle P cannot arm one, so its empty heap stays empty.
 *
 * Firing. fn runs after the timer is off its heap and with no lock held;
 * it readies tasks on the firing M's P (@runp). t->firing is 1 while fn
 * runs; weft__timer_del() unqueues a timer or waits for its fn to return,
 * so the owner may then reuse or drop the memory (a timer lives on its
 * owner's stack). Timers that fire together ready their tasks so that they
 * run in deadline order (and insertion order for equal deadlines). A select's timeout races the select's channels for
 * sel->done; whichever wins serves the select (select.c).
 *
 * Invariants:
 *   - t->p != NULL exactly while t is in t->p's heap (under t->p->tlock);
 *   - p->timer0 == heap[0]->when, or 0 when the heap is empty (tlock);
 *   - a P with a non-empty heap has its bit in S.timerp (set before the
 *     first timer is published; cleared only by pidleput, on an empty heap);
 *   - at most one M holds the sleeper role (S.tsleeper); tsleep_until is
 *     its deadline while it sleeps, 0 otherwise. While a timer is pending
 *     or a task waits on an fd, and every P is idle, some M holds the role: an M that goes idle
 *     tries to take it after putting its P idle, and the holder gives it
 *     up only in the sched-lock section that looks for an idle P.
 *   - No lost kick in epoll_wait: the kicker stores tnote then reads
 *     tpolling, the sleeper stores tpolling then reads tnote (seq_cst).
 *   - No lost kick: timer_add publishes timer0 then reads tsleep_until;
 *     the sleeper publishes tsleep_until then reads every timer0 (seq_cst
 *     both): one of the two sees the other.
 *
 * Rejected:
 *   - One global heap with a lock: every sleep and select timeout would
 *     meet on one line (the brief asks for per-P heaps, as Go 1.14).
 *   - A timer thread (Go before 1.14): two context switches per expiry and
 *     a thread that wakes whatever the Ps are doing.
 *   - A timer wheel: O(1) inserts, but a P that sleeps until the next
 *     deadline needs the minimum, which a wheel makes expensive; deadlines
 *     here are few and short-lived.
 *   - Lazy deletion (Go marks deleted timers and sweeps): deletion happens
 *     once per select with a timeout, and an exact removal under the
 *     uncontended lock is as cheap as a mark and keeps the heap small.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "internal.h"
#include "os.h"
#include "rcu.h"
#include "spin.h"
#include "timer.h"
#include "netpoll.h"
#include "trace_emit.h"

#define S weft__sched

static inline bool before(const struct weft__timer *a, const struct weft__timer *b)
{
	return a->when < b->when || (a->when == b->when && a->seq < b->seq);
}

static inline void place(struct weft__p *p, int i, struct weft__timer *t)
{
	p->timers[i] = t;
	t->idx = i;
}

static void sift_up(struct weft__p *p, int i)
{
	struct weft__timer *t = p->timers[i];

	while (i > 0) {
		int parent = (i - 1) / 4;
		if (!before(t, p->timers[parent]))
			break;
		place(p, i, p->timers[parent]);
		i = parent;
	}
	place(p, i, t);
}

static void sift_down(struct weft__p *p, int i)
{
	struct weft__timer *t = p->timers[i];
	int n = p->ntimers;

	for (;;) {
		int c = 4 * i + 1, best = -1;
		if (c >= n)
			break;
		for (int k = c; k < c + 4 && k < n; k++)
			if (best < 0 || before(p->timers[k], p->timers[best]))
				best = k;
		if (!before(p->timers[best], t))
			break;
		place(p, i, p->timers[best]);
		i = best;
	}
	place(p, i, t);
}

static void update_timer0(struct weft__p *p)
{
	atomic_store(&p->timer0, p->ntimers ? p->timers[0]->when : 0);
}

/* tlock held: take the timer at @i out of @p's heap. */
static void heap_remove(struct weft__p *p, int i)
{
	struct weft__timer *t = p->timers[i];
	int last;

	WEFT__ASSERT(weft__spin_held(&p->tlock));
	last = --p->ntimers;

	if (i != last) {
		place(p, i, p->timers[last]);
		if (i > 0 && before(p->timers[i], p->timers[(i - 1) / 4]))
			sift_up(p, i);
		else
			sift_down(p, i);
	}
	p->timers[last] = NULL;
	atomic_store_explicit(&t->p, NULL, memory_order_relaxed);
	t->idx = -1;
	if (i == 0 || p->ntimers == 0)
		update_timer0(p);
}

/*
 * @p may have timers from now on: its bit in S.timerp, set before the
 * timer is published in timer0 (seq_cst), so that the sleeper, which
 * publishes tsleep_until then reads the mask, either sees the bit or is
 * seen by timer_add (the invariant "no lost kick"). Only @p's owner (or
 * the world stopped) arms timers on @p and only pidleput clears the bit,
 * so a set bit read here stays set: one relaxed load, no write, while @p
 * runs.
 */
static inline void timerp_set(struct weft__p *p)
{
	_Atomic uint64_t *w = &S.timerp[p->id / 64];
	uint64_t bit = 1ULL << (p->id % 64);

	if (!(atomic_load_explicit(w, memory_order_relaxed) & bit))
		atomic_fetch_or(w, bit);
}

/* tlock held. */
static void heap_push(struct weft__p *p, struct weft__timer *t)
{
	WEFT__ASSERT(weft__spin_held(&p->tlock));
	timerp_set(p);
	if (p->ntimers == p->tcap) {
		int cap = p->tcap ? 2 * p->tcap : 64;
		struct weft__timer **a = realloc(p->timers, (size_t)cap * sizeof(*a));
		if (!a)
			weft__fatal("out of memory for the timer heap of P %d (%d timers)", p->id,
				    p->ntimers);
		p->timers = a;
		p->tcap = cap;
	}
	t->seq = p->tseq++;
	atomic_store_explicit(&t->p, p, memory_order_relaxed);
	atomic_store_explicit(&t->firing, 0, memory_order_relaxed);
	place(p, p->ntimers++, t);
	sift_up(p, t->idx);
	if (t->idx == 0)
		update_timer0(p);
}

void weft__timers_kick(void)
{
	atomic_store(&S.tnote, 1);
	weft__futex_wake(&S.tnote, 1);
	/* seq_cst both: the sleeper stores tpolling, then reads tnote. */
	if (atomic_load(&S.tpolling))
		weft__netpoll_break();
}

/*
 * Arm @t (when, fn, arg set) on @p's heap. The caller runs on @p, or the
 * world is stopped.
 */
void weft__timer_add(struct weft__p *p, struct weft__timer *t)
{
	int64_t when = t->when, until;
	bool first;

	WEFT__ASSERT(weft__owns(p) || weft__world_stopped());
	weft__spin_lock(&p->tlock);
	heap_push(p, t);
	first = t->idx == 0;
	weft__spin_unlock(&p->tlock);
	/* From here @t may fire and its owner free it: use the copies. */
	if (!first)
		return;
	/* An earlier deadline than the sleeping M's: it must recompute. */
	weft__fence();
	until = atomic_load(&S.tsleep_until);
	if (until != 0 && when < until)
		weft__timers_kick();
}

/*
 * Disarm @t. True if it was still queued (its fn will not run); false if
 * it fired or was never armed - then its fn has returned by now.
 */
bool weft__timer_del(struct weft__timer *t)
{
	struct weft__p *p;

	while ((p = atomic_load_explicit(&t->p, memory_order_acquire))) {
		weft__spin_lock(&p->tlock);
		if (atomic_load_explicit(&t->p, memory_order_relaxed) == p) {
			heap_remove(p, t->idx);
			weft__spin_unlock(&p->tlock);
			return true;
		}
		weft__spin_unlock(&p->tlock);
	}
	/* Its fn may still be running on another M: wait for it. */
	for (unsigned n = 0; atomic_load_explicit(&t->firing, memory_order_acquire); n++)
		if (n > 64)
			sched_yield();
	return false;
}

/*
 * Run @heap's timers that are due at @now, at most @max (<= BATCH) of
 * them, readying tasks on @runp (owned by the caller). @trylock: give up
 * if the heap is busy (another P's). Returns how many fired. The batch is
 * taken under one lock hold and its fns are called latest deadline first:
 * each readied task takes runnext and pushes the previous one to the
 * bottom of the deque, which the owner pops LIFO - so they run in deadline
 * order.
 */
int weft__timers_run(struct weft__p *heap, struct weft__p *runp, int64_t now, bool trylock, int max)
{
	struct weft__timer *due[WEFT__TIMER_BATCH];
	int n = 0;

	WEFT__ASSERT(weft__owns(runp));
	if (max > WEFT__TIMER_BATCH)
		max = WEFT__TIMER_BATCH;
	if (trylock) {
		if (!weft__spin_trylock(&heap->tlock))
			return 0;
	} else {
		weft__spin_lock(&heap->tlock);
	}
	while (n < max && heap->ntimers > 0 && heap->timers[0]->when <= now) {
		struct weft__timer *t = heap->timers[0];
		atomic_store_explicit(&t->firing, 1, memory_order_relaxed);
		heap_remove(heap, 0);
		due[n++] = t;
	}
	weft__spin_unlock(&heap->tlock);
	for (int i = n; i-- > 0;) {
		struct weft__timer *t = due[i];
		t->fn(t, runp);
		atomic_store_explicit(&t->firing, 0, memory_order_release);
	}
	return n;
}

/*
 * The next P at or after @i, below @n, that may have timers; @n if none.
 * Reads a word of the mask per 64 Ps: a P out of work no longer loads the
 * timer0 line of every P (each written by its owner at every schedule).
 */
static int timerp_next(int i, int n)
{
	while (i < n) {
		uint64_t bits = atomic_load(&S.timerp[i / 64]) >> (i % 64);
		if (bits)
			return i + __builtin_ctzll(bits) < n ? i + __builtin_ctzll(bits) : n;
		i = (i / 64 + 1) * 64;
	}
	return n;
}

/* The earliest deadline of all heaps, 0 if none. */
static int64_t timers_next(void)
{
	return weft__timers_next();
}

int64_t weft__timers_next(void)
{
	int n = atomic_load_explicit(&S.nprocs, memory_order_acquire);
	int64_t next = 0;

	for (int i = timerp_next(0, n); i < n; i = timerp_next(i + 1, n)) {
		int64_t w = atomic_load(&S.allp[i]->timer0);
		if (w && (!next || w < next))
			next = w;
	}
	return next;
}

/* Owner of @runp, out of local work: run every P's expired timers. */
bool weft__timers_steal(struct weft__p *runp)
{
	int n = atomic_load_explicit(&S.nprocs, memory_order_acquire);
	int64_t now = 0;
	int fired = 0;

	WEFT__ASSERT(weft__owns(runp));
	for (int i = timerp_next(0, n); i < n; i = timerp_next(i + 1, n)) {
		struct weft__p *p = S.allp[i];
		int64_t w = atomic_load_explicit(&p->timer0, memory_order_relaxed);

		if (!w)
			continue;
		if (!now)
			now = weft__nanotime();
		if (w <= now)
			fired += weft__timers_run(p, runp, now, p != runp, WEFT__TIMER_BATCH);
	}
	return fired > 0;
}

/*
 * Called by an M about to park (no P held, no work seen). If timers are
 * pending and nobody sleeps on them, sleep until the earliest, then take
 * an idle P: returns true with m->p set (or on shutdown), so the caller
 * goes round the scheduler loop, which runs the timers. Returns false when
 * the caller should park as usual.
 */
bool weft__timers_sleep(struct weft__m *m)
{
	struct weft__netlist l = { NULL, 0 };
	struct weft__p *p;

	WEFT__ASSERT(m == weft__getm() && !m->curg && !m->p);
	for (;;) {
		int64_t next = timers_next(), now;
		bool due = false, poll = weft__netpoll_waiting();

		if (!next && !poll)
			return false;
		if (atomic_exchange(&S.tsleeper, 1)) {
			/* Another M has the role; make sure it knows our deadline. */
			int64_t until = atomic_load(&S.tsleep_until);
			if (until && next && next < until)
				weft__timers_kick();
			return false;
		}
		for (;;) {
			atomic_store(&S.tnote, 0);
			next = timers_next();
			poll = weft__netpoll_waiting();
			atomic_store(&S.tsleep_until, next ? next : INT64_MAX);
			weft__fence();
			int64_t again = timers_next();
			if (again && (!next || again < next))
				continue; /* an earlier timer arrived meanwhile */
			if ((!next && !poll) || atomic_load(&S.shutdown))
				break;
			now = weft__nanotime();
			if (next && next <= now) {
				due = true;
				break;
			}
			weft__rcu_offline(); /* no P, maybe for long (rcu.c) */
			if (weft__netpoll_inited()) {
				/* The poller: epoll_wait until the next timer (netpoll.c). */
				atomic_store(&S.tpolling, 1);
				if (!atomic_load(&S.tnote))
					weft__netpoll(next ? next - now : -1, &l);
				atomic_store(&S.tpolling, 0);
			} else {
				weft__futex_wait(&S.tnote, 0, next ? next - now : -1);
			}
			weft__rcu_online();
			if (l.n)
				break;
		}
		atomic_store(&S.tsleep_until, 0);
		if (atomic_load(&S.shutdown)) {
			atomic_store(&S.tsleeper, 0);
			weft__netlist_ready(&l, NULL);
			return true;
		}
		if (due || l.n) {
			/*
			 * Take an idle P and give up the role in one critical
			 * section: an M that puts its P idle after this sees
			 * the role free and takes it; one that did so before
			 * left us its P.
			 */
			weft__sched_lock();
			p = weft__pidleget();
			atomic_store(&S.tsleeper, 0);
			weft__sched_unlock();
			if (!p) {
				/* Every P is busy; they run their own timers, and
				 * take what the network readied from the global queue. */
				weft__netlist_ready(&l, NULL);
				return false;
			}
			weft__acquirep(m, p);
			weft__netlist_ready(&l, p);
			return true;
		}
		/*
		 * Nothing to wait for. An M that failed to take the role
		 * meanwhile relies on us: give it up, then look again (seq_cst
		 * both).
		 */
		atomic_store(&S.tsleeper, 0);
	}
}

/* World stopped: @from is being removed; its timers move to @to. */
void weft__timers_move(struct weft__p *from, struct weft__p *to)
{
	WEFT__ASSERT(weft__world_stopped());
	weft__spin_lock(&from->tlock);
	weft__spin_lock(&to->tlock);
	while (from->ntimers > 0) {
		struct weft__timer *t = from->timers[from->ntimers - 1];
		uint64_t seq = t->seq;

		heap_remove(from, from->ntimers - 1);
		heap_push(to, t);
		t->seq = seq; /* keep the insertion order among equal deadlines */
	}
	weft__spin_unlock(&to->tlock);
	weft__spin_unlock(&from->tlock);
}

/* Teardown: the heap's array (timers themselves belong to their owners). */
void weft__timers_free(struct weft__p *p)
{
	WEFT__ASSERT(weft__sched.mcount == 0);
	free(p->timers);
	p->timers = NULL;
	p->ntimers = p->tcap = 0;
	atomic_store(&p->timer0, 0);
}

/* ---- public API ------------------------------------------------------------ */

WEFT_API int64_t weft_now(void)
{
	return weft__nanotime();
}

static void sleep_fire(struct weft__timer *t, struct weft__p *runp)
{
	weft__ready_on(runp, t->arg);
}

/* After the sleeping task is off its stack (weft__park's unlockf). */
static void sleep_arm(void *arg)
{
	struct weft__m *m = weft__getm();

	WEFT__ASSERT(weft__in_unlockf());
	weft__timer_add(m->p, arg);
}

WEFT_API void weft_sleep(int64_t ns)
{
	struct weft__m *m = weft__getm();
	int64_t now = weft__nanotime();
	int64_t when = ns > INT64_MAX - now ? INT64_MAX : now + ns;
	struct weft__timer t;

	WEFT__SITE();
	if (ns <= 0)
		return;
	if (!m || !m->curg) {
		/* A plain thread: the kernel sleeps it. */
		struct timespec ts = { when / 1000000000, when % 1000000000 };
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			;
		return;
	}
	t.when = when;
	t.fn = sleep_fire;
	t.arg = m->curg;
	atomic_init(&t.p, NULL);
	atomic_init(&t.firing, 0);
	weft__park(WEFT_TRACE_BLOCK_SLEEP, NULL, sleep_arm, &t);
	weft__timer_del(&t); /* waits until the firing M is done with t */
}

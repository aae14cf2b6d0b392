/*
 * sched.c - the M:N scheduler: tasks (G) on threads (M) through logical
 * processors (P).
 *
 * Glossary (the same as Go's runtime, whose proc.go this design learns
 * from; Tokio's 2019 scheduler rewrite reached the same shape):
 *
 *   G  a task: a descriptor (struct weft__task) plus, once it has run, a
 *      stack. Cooperative: it leaves the CPU only at a scheduling point
 *      (yield, block, exit, syscall handoff, safepoint).
 *   M  an OS thread (struct weft__m). Its own pthread stack is "g0", where
 *      the scheduler loop runs when there is nothing to switch to directly.
 *   P  a logical processor (struct weft__p): the right to run task code,
 *      and the home of a run queue and of caches. There are WEFT_PROCS Ps;
 *      an M must hold a P to run a task. Ms without a P are idle or in a
 *      syscall. So parallelism is bounded by Ps while the number of threads
 *      can grow when tasks block in the kernel.
 *
 * Where a runnable task can be (searched in this order by a P):
 *   1. p->runnext: the task most recently readied by the running task (a
 *      channel partner, a woken waiter). It runs next, on this P, while the
 *      data it was handed is hot in cache. A thief takes it only on its
 *      last round, and from a running P only after a grace (below).
 *   2. p->rq: a Chase-Lev deque (deque.h). Spawns and requeued tasks are
 *      pushed at the bottom and popped LIFO by the owner; idle Ps steal
 *      half from the top of a random victim.
 *   3. the global queue (liburcu wfcqueue): tasks made runnable off-P (by a
 *      plain thread, by a syscall that lost its P, by a removed P). Enqueue
 *      is wait-free; a P takes a batch (its fair share) at a time.
 * Tasks waiting for a deadline (weft_sleep, select timeouts) are not in
 * any queue: their timers sit in the P's timer heap (timer.c), and a P
 * checks it at each schedule when a deadline exists; the fired task takes
 * runnext. An M with nothing to do sleeps until the earliest deadline.
 * Tasks waiting on an fd are parked on its descriptor (netpoll.c); a P out
 * of local work polls epoll without blocking before it steals, and the M
 * that sleeps until the next deadline sleeps in epoll_wait.
 * Fairness: LIFO is unfair by construction, and runnext lets two tasks
 * ping-pong forever. So every WEFT__FAIR_TICK-th schedule of a P first
 * looks at the global queue and then takes the *oldest* local task (from
 * the top of its own deque), which bounds how long any runnable task can
 * wait behind newer work (Go checks the global queue every 61 ticks for
 * the same reason). weft_yield() runs, in order, runnext and the oldest
 * task of the deque, and puts the yielder at the bottom, so yielding tasks
 * round-robin behind the work that was already queued and stay stealable.
 * (An owner-only yield queue, tried once, saved half a nanosecond per yield
 * and hid yielded tasks from idle Ps: a task that yielded behind one that
 * never reaches a scheduling point starved while another P sat idle.)
 * Jobs: the order of arrival between unrelated work. Newest first is what
 * makes fork-join cheap: a parent's children run while what it handed them
 * is in cache, the tree is walked depth first so that a few dozen stacks
 * are alive instead of a level's worth, and a task that ends hands its
 * stack to the never-run task it spawned (task_exit). Between unrelated
 * work it is a stack of arrivals: under overload a web service whose
 * requests spawn a task per row (bench/mandelweb) ran the last request's
 * rows before the first one's, whose rows got one schedule in
 * WEFT__FAIR_TICK, and the first requests finished last (traced, in order
 * of arrival: 8.8 s, 3.3 s, 0.5 s, 1.1 s; bench/RESULTS.md). So each task
 * carries a job: when the outside event whose work it does arrived - the
 * poll of the netpoller that readied it, the deadline that fired, the
 * plain thread that spawned or readied it (weft__nanotime). A task spawned
 * or readied by a task inherits that task's job. The owner pops the newest
 * task of its deque, unless the oldest one (top) belongs to an older job
 * than the newest (bottom): then it takes the oldest (runq_get). So jobs
 * are served in the order they arrived and each one newest first (the
 * children a task of the oldest job spawns go to the bottom with its job
 * and run first, depth first); a thief steals the oldest, so it too works
 * on the oldest job. A read that finds data and an accept start a new job
 * for the task that made them (weft__job_arrived): an accept loop that
 * takes five connections without blocking, or a connection's task that
 * finds its next request waiting, would otherwise make one job of several
 * arrivals and serve them newest first again (seen: the first five
 * requests of a mandelweb run finished in reverse order until it did). A
 * program that is one job - fib, the Mandelbrot modes, anything spawned
 * from weft_main's task and woken only by its own tasks - pops exactly as
 * before, for two loads of the deque's ends and two of descriptors.
 * Measured (bench/mandelweb under hey -c 5 -n 50 -q 5, medians of 3
 * alternated with Go on a shared 2-core machine, load 4-7): p99 23.6 s ->
 * 3.4 s at 1 P (Go 3.9), 10.5 s -> 3.1 s at 2 Ps (Go 5.2); p50 0.6 s ->
 * 2.9 s and 0.6 -> 1.2 s (Go 2.2 and 1.3): served in order, a request
 * waits for the ones before it, as in Go. tests/check_sched,
 * "requests_in_order", holds the order at 1 P.
 *
 * Switching. A task that stops (yield, park, exit) switches *directly* to
 * the next local task when there is one; only when the P has no local work
 * (or the world is stopping) does it switch to g0, which steals, spins and
 * parks. Whatever the stopping task still needs done after it is off its
 * stack - requeue it, release the lock protecting the wait queue it joined,
 * recycle its stack - is left in m->after and done by the context that
 * resumes on that M (after_switch). That is Go's gopark/unlockf trick: a
 * waker cannot see a parked task before its registers are saved.
 *
 * Spawning. weft_go() allocates a descriptor from the P's free list,
 * pushes it on the deque and returns; the task gets a stack when it first
 * runs. When a task returns and the next local task has never run, that
 * task takes over the dead task's stack and runs in place (task_exit): a
 * burst of short tasks costs a function call each, not two switches. A
 * spawner that gets more than WEFT__SPAWN_BACKLOG tasks ahead of the Ps
 * steps aside to the global queue until half are done, so a loop spawning a
 * million tasks keeps a few thousand descriptors alive, hot in cache.
 *
 * Parking and spinning (the wake-up protocol). An M that finds no work
 * becomes "spinning" (sched.nmspinning) if fewer than half the busy Ps
 * already spin, and tries to steal for a few rounds; then it gives its P
 * back (idle list), stops spinning, and parks on a futex. Whoever makes a
 * task runnable then checks: if there is an idle P and no spinning M, wake
 * one (wakep). A woken M starts spinning; the spinner that finds work stops
 * spinning and, if it was the last spinner, wakes another - so while work
 * appears faster than it is taken, there is always one M looking, and at
 * most half the Ps burn CPU looking.
 * Stealing runnext. Whoever readies a task wakes an idle P as for any new
 * work (Go's ready() calls wakep() too), and the woken M, spinning, finds
 * the partner in runnext just as the readier is about to block and run it
 * itself: a ping-pong whose two ends a thief pulls apart pays a cross-P
 * wake-up per message. So a thief leaves runnext alone but on the last of
 * its rounds, and then, if the victim P is running, waits up to
 * WEFT__RUNNEXT_GRACE_NS (3 us, some 50 channel hand-offs) watching its
 * schedtick: if the victim schedules meanwhile it was not stuck, and the
 * thief leaves runnext, whatever is there now, alone. Only a runnext
 * behind a task that readied it and did not schedule for the whole grace
 * (it computes on) is taken, so it cannot starve behind a busy P while
 * another P idles (tests/check_sched, "runnext_stolen"). A P in a syscall
 * loses runnext at once.
 * Lingering. Waking an M costs the waker a futex wake, and parking one
 * costs every running M an interrupt (the parker's membarrier, below).
 * Tasks that ready each other into runnext ready work every ~100 ns; a
 * woken M that looked for a few rounds and parked again lived a few
 * microseconds, so one hand-off in 10 to 60 paid for both (perf, 2 Ps:
 * 20,700 membarriers and 42,000 futex calls for the 262,144 pixels of
 * the workers Mandelbrot at 512x512 with one worker). linger() lets a
 * spinning M that found nothing go on looking - steal rounds, runnext
 * graces included - for WEFT__SPIN_LINGER_NS while another P runs, before
 * it parks; while it looks, nmspinning > 0 and readiers wake no one. It
 * lingers once per wake-up, and not at all when no other P runs.
 * It is off (0 ns) by default. At 50 us it cut the futex calls per
 * hand-off 4-8x and won 14-42% on a loaded machine, where a woken M waits
 * for a core; on an idle one, where the second M has a core of its own at
 * once, it cost spawn-seq +59%, spawn-burst +135%, the buffered channel
 * +36% and select +38-44% at 2 Ps (bench/builds.sh, quiet, medians of 9;
 * bench/RESULTS.md): an M that stays awake steals what the P that made it
 * was about to run itself, and its probes pull that P's deque and runnext
 * lines across. 10 us halved the loss but kept it (chan-buffered +76%
 * against no lingering); the runnext grace alone measured even with the
 * code before both. The figures we publish are taken idle, so the knob
 * stays for experiments (-DWEFT__SPIN_LINGER_NS=N) and is not used.
 * No lost wake-up: the submitter does (1) publish the task, (2) fence, (3)
 * read npidle/nmspinning; the parker does (1) put its P idle and drop
 * nmspinning, (2) fence, (3) recheck every queue. One of the two sees the
 * other. The fence on the submit side is on every spawn and ready, so it is
 * made free: the parker issues membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED),
 * which runs a full barrier on every thread of the process, and the submit
 * side needs only a compiler barrier (the asymmetric Dekker that liburcu's
 * membarrier flavour uses). Without membarrier both sides use seq_cst
 * fences.
 *
 * Invariants:
 *   - A P is owned by at most one M; an M runs task code only with a P.
 *   - p->rq, runnext push/pop by the owner only; others steal.
 *   - A task is in at most one run queue, and only after its context was
 *     saved (enforced by m->after).
 *   - nmspinning counts exactly the Ms with m->spinning set, plus a
 *     transient +1 from wakep for the M it is about to start.
 *   - An idle P has an empty deque and runnext at the moment it goes idle
 *     (work arriving later is found by the recheck or by wakep).
 *   - Ps are never freed while the runtime runs (weft_set_procs marks them
 *     dead), so a thief may read any allp[i] without a lock.
 *
 * Rejected:
 *   - One global run queue with a lock (the first Go scheduler): every
 *     spawn and switch contends on one line.
 *   - Always going through g0 to switch (Go's mcall(schedule)): two
 *     context switches per yield instead of one.
 *   - Spinning without bound, or parking at once: the first burns a core
 *     per idle P, the second pays a futex wake per spawn. (Lingering, above,
 *     was a bounded middle - 50 us per wake-up, only while another P runs -
 *     and is off by default: it lost on an idle machine.)
 *   - Preempting with signals: stacks here are C stacks, and C code is not
 *     async-safe. Long loops call weft_safepoint() instead; sysmon asks for
 *     it after 10 ms.
 *   - Stealing runnext at once, as weft did until issue 20: at 2 Ps the
 *     woken M took the partner of nearly every hand-off its wake-up raced.
 *   - Go's grace as written (runqgrab: usleep(3), then a CAS that succeeds
 *     if runnext holds the same task): nanosleep's 50 us timer slack makes
 *     the 3 us some 55, and in a ping-pong the same task is back in runnext
 *     (ABA) half the time, so the steal it meant to avoid still happens.
 *     Watching schedtick sees every schedule in between and ends the wait
 *     as soon as the victim schedules.
 *   - FIFO owner pops (Go's runqget takes the head) for the fairness of
 *     jobs: fork-join is then walked breadth first, and every task of a
 *     level starts, and takes a stack, before a leaf ends: fib(25) (a task
 *     per call) took 1.80 s and 296 MB at 1 P against 0.18 s and 13 MB
 *     newest first. FIFO for spawned tasks and LIFO for readied ones (the
 *     newest popped only if it has run): the same walk, 2.20 s and 297 MB.
 *   - A tighter fairness tick (the oldest task every N schedules): it
 *     gives the oldest request 1/N of the P and the ones between nothing;
 *     in check_sched's request shape the first request still finished
 *     last (lag 11 of 11) with N = 8 and N = 2, as with 61. An age limit
 *     (take the oldest once it waited K schedules) would turn fork-join
 *     breadth first too: there the oldest task, the root's second child,
 *     waits for the first subtree by design.
 *   - Not waking anyone for a task readied into an empty runnext (the
 *     readier usually blocks at once): a ping-pong then pays no wake-up at
 *     all, but a producer that readies its consumer and goes on filling a
 *     buffer keeps the second P idle (chan-buffered, the buffered
 *     Mandelbrot), and a readier that computes on leaves its partner to
 *     sysmon's tick (20 us to 10 ms).
 */
#include "config.h"

#include "internal.h"
#include "os.h"
#include "netpoll.h"
#include "rcu.h"
#include "timer.h"
#include "trace_emit.h"

#include <errno.h>
#include <linux/membarrier.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

struct weft__sched weft__sched;
_Atomic int weft__safepoint_pending;
#define S weft__sched

/* The calling thread's M (initial-exec: no call to __tls_get_addr). */
__thread struct weft__m *weft__tls_m __attribute__((tls_model("initial-exec")));

/*
 * Never inlined and never treated as pure: a caller that switched contexts
 * since its last call may be on another thread (see ctx.h).
 */
__attribute__((noinline)) struct weft__m *weft__getm_slow(void)
{
	struct weft__m *m;

	__asm__ __volatile__("" ::: "memory");
	m = weft__tls_m;
	return m;
}

static void setm(struct weft__m *m)
{
	weft__tls_m = m;
}

#define relaxed memory_order_relaxed

/* ---- fences ------------------------------------------------------------- */

void weft__heavy_fence(void)
{
	if (S.membarrier) {
		if (syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0)
			return;
		weft__throw("membarrier failed after registration");
	}
	weft__fence();
}

static bool membarrier_register(void)
{
	long r = syscall(__NR_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);

	if (r < 0 || !(r & MEMBARRIER_CMD_PRIVATE_EXPEDITED))
		return false;
	return syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
}

/* ---- small helpers ------------------------------------------------------ */

static inline uint32_t fastrand(struct weft__m *m)
{
	/* xorshift64*, per M */
	uint64_t x = m->rand;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	m->rand = x;
	return (uint32_t)((x * 0x2545F4914F6CDD1DULL) >> 32);
}

uint32_t weft__rand(void)
{
	static __thread uint64_t plain;
	struct weft__m *m = weft__getm();

	if (m)
		return fastrand(m);
	if (!plain)
		plain = (uint64_t)weft__nanotime() | 1;
	plain ^= plain >> 12;
	plain ^= plain << 25;
	plain ^= plain >> 27;
	return (uint32_t)((plain * 0x2545F4914F6CDD1DULL) >> 32);
}

static inline bool stw_or_exit_pending(void)
{
	return atomic_load_explicit(&weft__safepoint_pending, relaxed) & WEFT__SP_STOP;
}

/* ---- P lists (pidleput, pidleget: sched lock held) ----------------------- */

void weft__pidleput(struct weft__p *p)
{
	WEFT__ASSERT(weft__sched_locked());
	WEFT__ASSERT(weft__deque_size_hint(&p->rq) == 0);
	p->m = NULL;
	atomic_store_explicit(&p->status, WEFT__P_IDLE, relaxed);
	p->link = S.pidle;
	S.pidle = p;
	weft__timerp_idle(p);
	atomic_fetch_or(&S.idlep[p->id / 64], 1ULL << (p->id % 64));
	atomic_fetch_add(&S.npidle, 1);
}

struct weft__p *weft__pidleget(void)
{
	struct weft__p *p = S.pidle;

	WEFT__ASSERT(weft__sched_locked());
	if (p) {
		S.pidle = p->link;
		p->link = NULL;
		/* Before the P's new owner can queue work on it: a parking
		 * M's recheck that still sees the bit missed that work, and
		 * then its queuer sees the P it put idle (work_anywhere). */
		atomic_fetch_and(&S.idlep[p->id / 64], ~(1ULL << (p->id % 64)));
		atomic_fetch_sub(&S.npidle, 1);
		atomic_store_explicit(&p->status, WEFT__P_RUNNING, relaxed);
	}
	return p;
}

/*
 * @m's own thread, holding no P (or, in weft_set_procs, the caller's P
 * that was just retired), takes @p, which it was handed (pidleget,
 * startm's nextp, a P stopped or taken from a syscall) and nobody else
 * runs. Without the sched lock: every caller has dropped it.
 */
void weft__acquirep(struct weft__m *m, struct weft__p *p)
{
	WEFT__ASSERT(m == weft__getm() && (!m->p || weft__world_stopped()));
	m->p = p;
	p->m = m;
	atomic_store_explicit(&p->status, WEFT__P_RUNNING, relaxed);
	WEFT__TRACE(p, PROC_START, 2, p->id, m->id, 0);
}

/* ---- global queue --------------------------------------------------------- */

void weft__inject(struct weft__task *t)
{
	atomic_store_explicit(&t->status, WEFT__T_RUNNABLE, relaxed);
	cds_wfcq_node_init(&t->gnode);
	atomic_fetch_add_explicit(&S.gq_len, 1, relaxed);
	WEFT__TSAN_RELEASE(t);
	cds_wfcq_enqueue(&S.gq_head, &S.gq_tail, &t->gnode);
	weft__light_fence();
	if (atomic_load_explicit(&S.npidle, relaxed) > 0 &&
	    atomic_load_explicit(&S.nmspinning, relaxed) == 0)
		weft__wakep();
}

/*
 * Take up to @max tasks (0: a fair share) from the global queue: return one,
 * push the rest on @p's deque. Owner of @p only.
 */
static struct weft__task *gq_get(struct weft__p *p, int64_t max)
{
	int64_t n = atomic_load_explicit(&S.gq_len, relaxed);
	int procs = atomic_load_explicit(&S.nprocs, relaxed);
	struct weft__task *first = NULL;
	struct cds_wfcq_node *node;

	WEFT__ASSERT(weft__owns(p));
	if (n <= 0)
		return NULL;
	n = n / procs + 1;
	if (max > 0 && n > max)
		n = max;
	if (n > WEFT__STEAL_MAX)
		n = WEFT__STEAL_MAX;
	cds_wfcq_dequeue_lock(&S.gq_head, &S.gq_tail);
	while (n-- > 0) {
		node = __cds_wfcq_dequeue_blocking(&S.gq_head, &S.gq_tail);
		if (!node)
			break;
		atomic_fetch_sub_explicit(&S.gq_len, 1, relaxed);
		struct weft__task *t = caa_container_of(node, struct weft__task, gnode);
		WEFT__TSAN_ACQUIRE(t);
		if (!first)
			first = t;
		else if (weft__deque_push(&p->rq, t) != 0) {
			/* No memory to grow the deque: leave the rest queued. */
			cds_wfcq_enqueue(&S.gq_head, &S.gq_tail, &t->gnode);
			atomic_fetch_add_explicit(&S.gq_len, 1, relaxed);
			break;
		}
	}
	cds_wfcq_dequeue_unlock(&S.gq_head, &S.gq_tail);
	return first;
}

static bool gq_nonempty(void)
{
	return atomic_load_explicit(&S.gq_len, relaxed) > 0;
}

/* ---- local queues ----------------------------------------------------------- */

static inline void wake_if_idle(void)
{
	weft__light_fence();
	if (atomic_load_explicit(&S.npidle, relaxed) > 0 &&
	    atomic_load_explicit(&S.nmspinning, relaxed) == 0)
		weft__wakep();
}

/* Owner of @p: make @t runnable at the bottom of the deque. */
static inline void runq_put(struct weft__p *p, struct weft__task *t)
{
	WEFT__ASSERT(weft__owns(p));
	atomic_store_explicit(&t->status, WEFT__T_RUNNABLE, relaxed);
	if (__builtin_expect(weft__deque_push(&p->rq, t) != 0, 0)) {
		weft__inject(t);
		return;
	}
	wake_if_idle();
}

/* Owner of @p: the oldest local task (top of the deque), or NULL. */
static struct weft__task *take_oldest(struct weft__p *p)
{
	WEFT__ASSERT(weft__owns(p));
	return weft__deque_take_top(&p->rq);
}

/* ---- jobs (see the essay) ------------------------------------------------ */

/* relaxed: a hint for the order of the deque (internal.h, job) */
static inline int64_t job_of(struct weft__task *t)
{
	return atomic_load_explicit(&t->job, relaxed);
}

static inline void job_set(struct weft__task *t, int64_t job)
{
	atomic_store_explicit(&t->job, job, relaxed);
}

/*
 * The running task's input arrived just now without a wait (a read that
 * found data, an accept): its job starts here, so that an accept loop or a
 * connection's task that finds one request after another does not make
 * them one job. A plain thread: nothing.
 */
void weft__job_arrived(void)
{
	struct weft__m *m = weft__getm();

	if (m && m->curg)
		job_set(m->curg, weft__nanotime());
}

/*
 * Owner of @p: the next task of its deque. The newest (LIFO), unless the
 * oldest belongs to an older job than the newest: then the oldest, so that
 * jobs are served in the order they arrived and each one newest first.
 */
static inline struct weft__task *runq_get(struct weft__p *p)
{
	struct weft__task *oldest, *newest, *t;

	WEFT__ASSERT(weft__owns(p));
	if (weft__deque_peek_ends(&p->rq, &oldest, &newest) && job_of(oldest) < job_of(newest) &&
	    (t = take_oldest(p)))
		return t;
	return weft__deque_pop(&p->rq);
}

/* Owner of @p: the next local task, or NULL. */
static inline struct weft__task *pick_local(struct weft__p *p)
{
	struct weft__task *t;
	uint32_t tick;

	WEFT__ASSERT(weft__owns(p));
	tick = weft__tick(&p->schedtick);

	if (__builtin_expect(tick % WEFT__FAIR_TICK == 0, 0)) {
		weft__timers_check(p, true);
		if (gq_nonempty() && (t = gq_get(p, 1)))
			return t;
		if ((t = take_oldest(p)))
			return t;
	} else {
		weft__timers_check(p, false);
	}
	if (atomic_load_explicit(&p->runnext, relaxed) &&
	    (t = atomic_exchange_explicit(&p->runnext, NULL, memory_order_acquire)))
		return t;
	return runq_get(p);
}

bool weft__p_has_work(struct weft__p *p)
{
	return weft__deque_size_hint(&p->rq) > 0 ||
	       atomic_load_explicit(&p->runnext, memory_order_acquire) != NULL;
}

/*
 * Any work visible anywhere (used after the parking fence). Idle Ps are
 * skipped (S.idlep): a P is put idle with empty queues and only its next
 * owner queues on it, after pidleget cleared its bit; a bit read stale
 * here means the clear, and so the work queued after it, came after our
 * fence, and the queuer's check then sees our P idle and wakes one (the
 * protocol of the essay). So the recheck reads the queues of the busy
 * Ps, not all 256 (Go's checkRunqsNoP skips idle Ps the same way).
 */
static bool work_anywhere(void)
{
	int n = atomic_load_explicit(&S.nprocs, relaxed);

	if (gq_nonempty())
		return true;
	for (int w = 0; w * 64 < n; w++) {
		uint64_t busy = ~atomic_load(&S.idlep[w]);
		if (n - w * 64 < 64)
			busy &= (1ULL << (n - w * 64)) - 1;
		while (busy) {
			int i = w * 64 + __builtin_ctzll(busy);
			busy &= busy - 1;
			if (weft__p_has_work(S.allp[i]))
				return true;
		}
	}
	return false;
}

/* STW only (every P stopped): move @p's queued tasks to the global queue. */
void weft__move_p_work_to_global(struct weft__p *p)
{
	struct weft__task *t;

	WEFT__ASSERT(weft__world_stopped());
	if ((t = atomic_exchange(&p->runnext, NULL)))
		weft__inject(t);
	while ((t = weft__deque_pop(&p->rq)))
		weft__inject(t);
}

/* ---- stealing --------------------------------------------------------------- */

/*
 * @v's runnext, for a thief on its last round (steal_work). A running @v
 * gets WEFT__RUNNEXT_GRACE_NS to schedule first: the task that readied its
 * runnext usually blocks within a channel operation's time, and @v then runs
 * it, in cache, on the same P (Go's runqgrab sleeps 3 us for this). If @v
 * schedules in the meantime (its schedtick moves) it is not stuck, and
 * whatever is in runnext now was readied by a task that still runs: leave
 * it. Only a @v that has not scheduled for the whole grace (a task that
 * readied a partner and computes on) loses its runnext. A @v that is not
 * running (in a syscall) loses it at once.
 */
static struct weft__task *steal_runnext(struct weft__p *v)
{
	struct weft__task *t = atomic_load_explicit(&v->runnext, relaxed);

	if (!t)
		return NULL;
	/* status and schedtick relaxed: hints; the CAS below decides. */
	if (atomic_load_explicit(&v->status, relaxed) == WEFT__P_RUNNING) {
		uint32_t tick = atomic_load_explicit(&v->schedtick, relaxed);
		int64_t until = weft__nanotime() + WEFT__RUNNEXT_GRACE_NS;

		do {
			weft__cpu_relax();
			if (atomic_load_explicit(&v->schedtick, relaxed) != tick)
				return NULL;
		} while (weft__nanotime() < until);
	}
	/* acquire: pairs with the readier's acq_rel exchange (weft__ready). */
	if (!atomic_compare_exchange_strong_explicit(&v->runnext, &t, NULL,
						     memory_order_acquire, relaxed))
		return NULL;
	return t;
}

/* Steal half of @v's deque (at most WEFT__STEAL_MAX) into @p's; return one. */
static struct weft__task *steal_from(struct weft__p *p, struct weft__p *v, bool runnext_too,
				    int *count)
{
	int64_t n = (weft__deque_size_hint(&v->rq) + 1) / 2;
	struct weft__task *first = NULL, *t;
	int aborts = 0;

	WEFT__ASSERT(weft__owns(p)); /* pushes on its deque */
	if (n > WEFT__STEAL_MAX)
		n = WEFT__STEAL_MAX;
	while (n > 0) {
		t = weft__deque_steal(&v->rq);
		if (t == WEFT__DEQUE_ABORT) {
			if (++aborts > 8)
				break;
			continue;
		}
		if (!t)
			break;
		n--;
		(*count)++;
		if (!first)
			first = t;
		else if (weft__deque_push(&p->rq, t) != 0) {
			weft__inject(t);
			break;
		}
	}
	if (!first && runnext_too && (first = steal_runnext(v)))
		(*count)++;
	return first;
}

static struct weft__task *steal_work(struct weft__m *m)
{
	struct weft__p *p = m->p;
	int failed = 0;

	for (int round = 0; round < 4; round++) {
		int n = atomic_load_explicit(&S.nprocs, relaxed);
		uint32_t start = fastrand(m) % (uint32_t)n;

		for (int i = 0; i < n; i++) {
			struct weft__p *v = S.allp[(start + (uint32_t)i) % (uint32_t)n];
			struct weft__task *t;

			if (v == p)
				continue;
			/* An idle P has empty queues until its next owner takes
			 * it (work_anywhere): one word per 64 Ps, rarely written,
			 * instead of three lines its owner writes (Go's stealWork
			 * skips idlepMask's Ps). Relaxed: a hint, as the probe. */
			if (atomic_load_explicit(&S.idlep[v->id / 64], relaxed) & (1ULL << (v->id % 64)))
				continue;
			if (!weft__p_has_work(v))
				continue;
			int count = 0;
			if ((t = steal_from(p, v, round == 3, &count))) {
				WEFT__TRACE(p, STEAL, 3, v->id, count, failed);
				return t;
			}
			failed++;
		}
		if (stw_or_exit_pending() || gq_nonempty())
			return NULL;
	}
	return NULL;
}

/* Another P than @p is running: it may ready a task any moment. */
static bool others_running(struct weft__p *p)
{
	int n = atomic_load_explicit(&S.nprocs, relaxed);

	for (int i = 0; i < n; i++) {
		struct weft__p *v = S.allp[i];
		/* relaxed: a hint; the steals decide */
		if (v != p && atomic_load_explicit(&v->status, relaxed) == WEFT__P_RUNNING)
			return true;
	}
	return false;
}

/*
 * A spinning M that found nothing goes on looking for up to
 * WEFT__SPIN_LINGER_NS while another P runs, once per wake-up (see the
 * essay, "Lingering"). The task it found, or NULL.
 */
static struct weft__task *linger(struct weft__m *m)
{
	struct weft__task *t = NULL;
	int64_t until;

	if (WEFT__SPIN_LINGER_NS <= 0 || m->lingered)
		return NULL;
	m->lingered = true;
	until = weft__nanotime() + WEFT__SPIN_LINGER_NS;
	while (!stw_or_exit_pending() && !gq_nonempty() && others_running(m->p) &&
	       weft__nanotime() < until) {
		if ((t = steal_work(m)))
			break;
		weft__cpu_relax();
	}
	return t;
}

/* ---- waking and parking Ms ------------------------------------------------- */

static void *mstart(void *arg);

static struct weft__m *newm(struct weft__p *p, bool spinning)
{
	struct weft__m *m = calloc(1, sizeof(*m));
	pthread_attr_t attr;
	int err;

	if (!m)
		return NULL;
	m->nextp = p;
	m->spinning = spinning;
	weft__sched_lock();
	m->id = S.mnext++;
	m->rand = 0x9E3779B97F4A7C15ULL * (uint64_t)(m->id + 1) ^ (uint64_t)weft__nanotime();
	if (!m->rand)
		m->rand = 1;
	m->alllink = S.allm;
	S.allm = m;
	S.mcount++;
	weft__sched_unlock();
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	err = pthread_create(&m->thread, &attr, mstart, m);
	pthread_attr_destroy(&attr);
	if (err) {
		weft__sched_lock();
		S.mcount--;
		m->exited = true; /* kept on allm, freed at shutdown */
		weft__sched_unlock();
		return NULL;
	}
	return m;
}

/*
 * Start an M running @p (an idle P if NULL). @spinning: the caller
 * incremented nmspinning for it (wakep).
 */
void weft__startm(struct weft__p *p, bool spinning)
{
	struct weft__m *m;

	WEFT__ASSERT(!spinning || atomic_load_explicit(&S.nmspinning, relaxed) > 0);
	weft__sched_lock();
	if (!p && !(p = weft__pidleget())) {
		weft__sched_unlock();
		if (spinning)
			atomic_fetch_sub(&S.nmspinning, 1);
		return;
	}
	m = S.midle;
	if (m) {
		S.midle = m->link;
		S.nmidle--;
	}
	weft__sched_unlock();
	if (!m) {
		if (!newm(p, spinning)) {
			/* No thread: give the P back; a later wake-up retries. */
			weft__sched_lock();
			weft__pidleput(p);
			weft__sched_unlock();
			if (spinning)
				atomic_fetch_sub(&S.nmspinning, 1);
		}
		return;
	}
	m->nextp = p;
	m->spinning = spinning;
	atomic_store_explicit(&m->park, 1, memory_order_release);
	weft__futex_wake(&m->park, 1);
}

void weft__wakep(void)
{
	int zero = 0;

	if (atomic_load_explicit(&S.npidle, relaxed) == 0)
		return;
	if (atomic_load_explicit(&S.nmspinning, relaxed) != 0 ||
	    !atomic_compare_exchange_strong(&S.nmspinning, &zero, 1))
		return;
	weft__startm(NULL, true);
}

/* Park the calling M until startm hands it a P (or shutdown). */
void weft__stopm(struct weft__m *m)
{
	WEFT__ASSERT(m == weft__getm() && !m->curg && !m->p);
	weft__sched_lock();
	if (atomic_load(&S.shutdown)) {
		/* shutdown_begin already woke the idle list: do not join it. */
		weft__sched_unlock();
		return;
	}
	atomic_store_explicit(&m->park, 0, relaxed);
	m->link = S.midle;
	S.midle = m;
	S.nmidle++;
	weft__checkdead();
	weft__sched_unlock();
	weft__rcu_offline(); /* no P: holds up no grace period while parked */
	while (atomic_load_explicit(&m->park, memory_order_acquire) == 0)
		weft__futex_wait(&m->park, 0, -1);
	m->lingered = false;
	weft__rcu_online();
	if (m->nextp) {
		weft__acquirep(m, m->nextp);
		m->nextp = NULL;
	}
}

/* Give away @p (taken from a syscall): to an M if it has work, else idle. */
void weft__handoffp(struct weft__p *p)
{
	/* sysmon, which won the CAS SYSCALL -> RUNNING */
	WEFT__ASSERT(weft__on_plain() && atomic_load(&p->status) == WEFT__P_RUNNING);
	p->m = NULL;
	if (weft__p_has_work(p) || gq_nonempty()) {
		weft__startm(p, false);
		return;
	}
	/* No local work: make sure someone still spins if needed, else idle. */
	if (atomic_load(&S.nmspinning) == 0 && atomic_load(&S.npidle) == 0) {
		int zero = 0;
		if (atomic_compare_exchange_strong(&S.nmspinning, &zero, 1)) {
			weft__startm(p, true);
			return;
		}
	}
	weft__sched_lock();
	if (atomic_load(&weft__safepoint_pending) & WEFT__SP_STOP) {
		/* The world is stopping: count this P as stopped. */
		atomic_store(&p->status, WEFT__P_STOPPED);
		if (--S.stopwait == 0) {
			atomic_store(&S.stopnote, 1);
			weft__futex_wake(&S.stopnote, 1);
		}
		weft__sched_unlock();
		return;
	}
	weft__pidleput(p);
	weft__sched_unlock();
	/* A task may have been queued while we decided: recheck (see essay). */
	weft__heavy_fence();
	if (work_anywhere())
		weft__wakep();
}

/* ---- switching ----------------------------------------------------------------- */

static void task_entry(void *xfer);

static void recycle(struct weft__p *p, struct weft__task *t)
{
	WEFT__ASSERT(!p || weft__owns(p)); /* p->stacks: owner only */
	weft__ctx_release(&t->ctx);
	if (t->stack) {
		if (p && p->nstacks < WEFT__STACK_CACHE) {
			p->stacks[p->nstacks++] = t->stack;
		} else {
			struct weft__stack s = { t->stack, weft__stack_map_size(S.stack_size) };
			weft__stack_global_put(&s);
		}
		t->stack = NULL;
	}
	weft__task_free(p, t);
}

/* Work the previous context left for us (see the essay). */
static inline void after_switch(struct weft__m *m)
{
	int a = m->after;

	if (__builtin_expect(a == WEFT__A_NONE, 0))
		return;
	m->after = WEFT__A_NONE;
	switch (a) {
	case WEFT__A_REQUEUE:
		runq_put(m->p, m->after_task);
		break;
	case WEFT__A_UNLOCK:
#ifdef WEFT_DEBUG
		m->dbg_unlockf = true;
		m->after_fn(m->after_arg);
		m->dbg_unlockf = false;
#else
		m->after_fn(m->after_arg);
#endif
		break;
	case WEFT__A_FREE:
		recycle(m->p, m->after_task);
		break;
	case WEFT__A_INJECT:
		weft__inject(m->after_task);
		break;
	case WEFT__A_ABANDON:
	{
		struct weft__stack s = { m->sys_stack, m->sys_stack_size };
		weft__stack_unmap(&s);
		m->sys_stack = NULL;
	}
		break;
	}
}

static void give_stack(struct weft__p *p, struct weft__task *t)
{
	struct weft__stack s;

	WEFT__ASSERT(weft__owns(p)); /* p->stacks: owner only */
	if (p->nstacks > 0)
		t->stack = p->stacks[--p->nstacks];
	else if (weft__stack_global_get(&s) || weft__stack_map(&s, S.stack_size) == 0)
		t->stack = s.map;
	else
		weft__fatal("cannot map a %zu-byte stack for task %llu: out of memory or "
			    "of mappings (vm.max_map_count); too many tasks alive at once",
			    S.stack_size, (unsigned long long)t->id);
	weft__ctx_make(&t->ctx, weft__stack_base(t->stack), S.stack_size, task_entry);
}

/* Run @t, saving the current context in @from. Returns on resumption of @from. */
static inline struct weft__m *run_task(struct weft__m *m, struct weft__ctx *from,
				      struct weft__task *t, bool dying)
{
	if (!t->stack)
		give_stack(m->p, t);
	weft__rcu_quiescent(&m->rcu);
	WEFT__TRACE_START(m->p, t);
	m->curg = t;
	atomic_store_explicit(&t->status, WEFT__T_RUNNING, relaxed);
	m = weft__ctx_jump(from, &t->ctx, m, dying);
	after_switch(m);
	return m;
}

static struct weft__m *to_g0(struct weft__m *m, struct weft__ctx *from, bool dying)
{
	m->curg = NULL;
	if (m->p)
		m->p->tswitch = false; /* the next START is not right after */
	m = weft__ctx_jump(from, &m->g0, m, dying);
	after_switch(m);
	return m;
}

/* The running task @cur stops: run the next local task or go to g0. */
static struct weft__m *schedule_away(struct weft__m *m, struct weft__task *cur, bool dying)
{
	struct weft__task *next;

	WEFT__ASSERT(m == weft__getm() && m->curg == cur);
	if (__builtin_expect(!stw_or_exit_pending(), 1) && (next = pick_local(m->p)))
		return run_task(m, &cur->ctx, next, dying);
	return to_g0(m, &cur->ctx, dying);
}

/* From a task: switch to g0 leaving @after for it. Returns when resumed. */
void weft__mcall(struct weft__m *m, int after, void (*fn)(void *), void *arg)
{
	struct weft__task *t = m->curg;

	WEFT__ASSERT(m == weft__getm() && t);
	m->after = after;
	m->after_task = t;
	m->after_fn = fn;
	m->after_arg = arg;
	to_g0(m, &t->ctx, false);
}

/* ---- the scheduler loop (g0) -------------------------------------------- */

static void resetspinning(struct weft__m *m)
{
	WEFT__ASSERT(weft__on_g0());
	m->spinning = false;
	if (atomic_fetch_sub(&S.nmspinning, 1) == 1)
		weft__wakep(); /* we were the last one looking: keep one looking */
}

/* Find a task for m->p, stealing, spinning and parking as needed. NULL: exit. */
static struct weft__task *findrunnable(struct weft__m *m)
{
	struct weft__task *t;
	struct weft__p *p;
	bool was_spinning;

	WEFT__ASSERT(m == weft__getm() && weft__on_g0());
top:
	weft__rcu_quiescent(&m->rcu);
	if (atomic_load(&S.shutdown) || atomic_load(&m->sys) == WEFT__M_SYS_ABANDONED)
		return NULL;
	if (!m->p) {
		weft__stopm(m);
		goto top;
	}
	p = m->p;
	if (stw_or_exit_pending()) {
		weft__stw_participate(m);
		goto top;
	}
	if (atomic_load_explicit(&p->preempt, relaxed))
		atomic_store_explicit(&p->preempt, 0, relaxed);
	if ((t = pick_local(p)))
		return t;
	if (gq_nonempty() && (t = gq_get(p, 0)))
		return t;
	if (weft__timers_steal(p) && (t = pick_local(p)))
		return t;
	/* Before stealing, as Go: the network's ready tasks, without blocking. */
	if (weft__netpoll_find(p) && (t = pick_local(p)))
		return t;

	if (!m->spinning) {
		int busy = atomic_load(&S.nprocs) - atomic_load(&S.npidle);
		if (2 * atomic_load(&S.nmspinning) < busy) {
			m->spinning = true;
			atomic_fetch_add(&S.nmspinning, 1);
		}
	}
	if (m->spinning && (t = steal_work(m)))
		return t;
	if (m->spinning && (t = linger(m)))
		return t;

	weft__sched_lock();
	if (stw_or_exit_pending() || gq_nonempty()) {
		weft__sched_unlock();
		goto top;
	}
	WEFT__TRACE(p, PROC_STOP, 1, p->id, 0, 0);
	m->p = NULL;
	weft__pidleput(p);
	weft__sched_unlock();

	was_spinning = m->spinning;
	if (was_spinning) {
		m->spinning = false;
		atomic_fetch_sub(&S.nmspinning, 1);
	}
	weft__heavy_fence(); /* pairs with weft__light_fence of submitters */
	if (work_anywhere()) {
		weft__sched_lock();
		p = weft__pidleget();
		weft__sched_unlock();
		if (p) {
			weft__acquirep(m, p);
			if (was_spinning) {
				m->spinning = true;
				atomic_fetch_add(&S.nmspinning, 1);
			}
			goto top;
		}
	}
	if (weft__timers_sleep(m))
		goto top;
	weft__stopm(m);
	goto top;
}

static void schedule_loop(struct weft__m *m)
{
	struct weft__task *t;

	WEFT__ASSERT(m == weft__getm() && weft__on_g0());
	while ((t = findrunnable(m))) {
		m->lingered = false;
		if (m->spinning)
			resetspinning(m);
		run_task(m, &m->g0, t, false);
	}
}

static void mexit(struct weft__m *m)
{
	WEFT__ASSERT(m == weft__getm() && weft__on_g0());
	weft__rcu_unregister();
	weft__altstack_fini(m);
	setm(NULL);
	if (atomic_load(&m->sys) == WEFT__M_SYS_ABANDONED) {
		/* weft_main already returned; nothing of the scheduler is ours. */
		free(m);
		return;
	}
	weft__sched_lock();
	S.mcount--;
	m->exited = true;
	weft__sched_unlock();
	atomic_fetch_add(&S.done, 1);
	weft__futex_wake(&S.done, 1);
}

static void *mstart(void *arg)
{
	struct weft__m *m = arg;

	setm(m);
	weft__rcu_register(&m->rcu);
	WEFT__TRACE(NULL, M_CREATE, 2, m->id, gettid(), 0);
	weft__ctx_init_thread(&m->g0);
	weft__altstack_init(m);
	if (m->nextp) {
		weft__acquirep(m, m->nextp);
		m->nextp = NULL;
	}
	schedule_loop(m);
	mexit(m);
	return NULL;
}

/* ---- tasks ----------------------------------------------------------------------- */

/*
 * @t returned from its function; @next is the next local task or NULL.
 * A next task that has never run inherits @t's stack and context and runs
 * right here, one frame below: no context switch, no stack handed back and
 * taken again. That is the common case of a burst of short spawned tasks,
 * and it makes their cost a call instead of two switches. A next task with
 * a stack of its own is switched to; no next task means g0.
 * Returns the task to run in place, or does not return.
 */
static struct weft__task *task_exit(struct weft__m *m, struct weft__task *t)
{
	struct weft__task *next = NULL;

	if (__builtin_expect(t == atomic_load_explicit(&S.main_task, relaxed), 0)) {
		atomic_store_explicit(&S.main_task, NULL, relaxed);
		weft__shutdown_begin();
	}
	atomic_store_explicit(&t->status, WEFT__T_DEAD, relaxed);
	WEFT__TRACE_SWITCH(m->p, TASK_END, 1, t->id, 0, 0, 0);
	if (__builtin_expect(!stw_or_exit_pending(), 1))
		next = pick_local(m->p);
	if (next && !next->stack) {
		next->stack = t->stack;
		t->stack = NULL;
#ifdef WEFT_TSAN
		/* The fiber we run on goes with the stack. */
		next->ctx.tsan_fiber = t->ctx.tsan_fiber;
		t->ctx.tsan_fiber = NULL;
#endif
#ifdef WEFT_ASAN
		next->ctx.stack_lo = t->ctx.stack_lo;
		next->ctx.stack_size = t->ctx.stack_size;
#endif
		weft__task_free(m->p, t);
		m->curg = next;
		atomic_store_explicit(&next->status, WEFT__T_RUNNING, relaxed);
		weft__rcu_quiescent(&m->rcu);
		WEFT__TRACE_START(m->p, next);
		return next;
	}
	m->after = WEFT__A_FREE;
	m->after_task = t;
	if (next)
		run_task(m, &t->ctx, next, true);
	else
		to_g0(m, &t->ctx, true);
	weft__throw("a dead task was resumed");
}

static void task_entry(void *xfer)
{
	struct weft__m *m = xfer;
	struct weft__task *t;

	weft__ctx_started();
	after_switch(m);
	t = m->curg;
	for (;;) {
		t->fn(t->arg);
		/* Another thread may be running us now: ask for the M again. */
		m = weft__getm();
		t = task_exit(m, t);
	}
}

/* The public call that parks with @reason, for messages. */
static const char *park_call(int reason)
{
	switch (reason) {
	case WEFT_TRACE_BLOCK_WG: return "weft_wg_wait";
	case WEFT_TRACE_BLOCK_MUTEX: return "weft_mutex_lock";
	case WEFT_TRACE_BLOCK_CHAN_SEND: return "weft_chan_send";
	case WEFT_TRACE_BLOCK_CHAN_RECV: return "weft_chan_recv";
	case WEFT_TRACE_BLOCK_SELECT: return "weft_select";
	case WEFT_TRACE_BLOCK_SLEEP: return "weft_sleep";
	case WEFT_TRACE_BLOCK_NET_READ: return "weft_read";
	case WEFT_TRACE_BLOCK_NET_WRITE: return "weft_write";
	default: return "a blocking call";
	}
}

void weft__park(int reason, const void *obj, void (*unlockf)(void *), void *arg)
{
	struct weft__m *m = weft__getm();
	struct weft__task *t = m ? m->curg : NULL;

	if (!t)
		weft__fatal("a blocking call (%s) was made outside a task",
			    weft_tf_block_name(reason));
	if (__builtin_expect(weft__world_stopped(), 0))
		weft__stw_forbid(park_call(reason));
	WEFT__ASSERT(m->after == WEFT__A_NONE);
	__atomic_store_n(&t->wait_reason, reason, __ATOMIC_RELAXED);
	t->wait_obj = obj;
	t->wait_site = weft__site; /* the task dump's call site (debug.c) */
	t->wait_since = atomic_load_explicit(&S.coarse_ms, relaxed); /* no clock read */
	atomic_store_explicit(&t->status, WEFT__T_WAITING, relaxed);
	WEFT__TRACE_SWITCH(weft__trace_p(m), TASK_BLOCK, 4, t->id, reason, (uintptr_t)obj,
			   weft__trace_code(weft__site));
	m->after = WEFT__A_UNLOCK;
	m->after_fn = unlockf;
	m->after_arg = arg;
	schedule_away(m, t, false);
}

/*
 * Make @t runnable in runnext of @p, which the caller owns; the previous
 * runnext goes to the deque (timers fire this way).
 */
void weft__ready_on(struct weft__p *p, struct weft__task *t)
{
	struct weft__task *old;

	WEFT__ASSERT(weft__owns(p));
	__atomic_store_n(&t->wait_reason, WEFT_TRACE_BLOCK_NONE, __ATOMIC_RELAXED);
	t->wait_obj = NULL;
	job_set(t, weft__nanotime()); /* a deadline passed: a new job */
	atomic_store_explicit(&t->status, WEFT__T_RUNNABLE, relaxed);
	WEFT__TRACE(p, TASK_UNBLOCK, 3, t->id, 0, weft__trace_seq(t, p));
	old = atomic_exchange_explicit(&p->runnext, t, memory_order_acq_rel);
	if (old)
		runq_put(p, old);
	else
		wake_if_idle();
}

/*
 * The netpoller readies @t (its wait is over): onto @p, which the caller
 * owns, or with @p NULL onto the global queue (an M with no P, sysmon, a
 * plain thread's weft_close). On @p, the @first task of a poll takes an
 * empty runnext without waking anyone: the poller, out of work, runs it
 * itself next (Go's findRunnable runs the first task netpoll returns and
 * injects only the rest), so a lone connection's wake-up does not start a
 * second M that would steal it. The others go to the deque, which wakes an
 * idle P for them. The waker recorded is the running task, if any
 * (weft_close), else none (the network). @job: when the poll returned (the
 * tasks of one poll are one job).
 */
void weft__ready_polled(struct weft__task *t, struct weft__p *p, bool first, int64_t job)
{
	struct weft__m *m = weft__getm();

	WEFT__ASSERT(!p || weft__owns(p));
	__atomic_store_n(&t->wait_reason, WEFT_TRACE_BLOCK_NONE, __ATOMIC_RELAXED);
	t->wait_obj = NULL;
	job_set(t, job);
	WEFT__TRACE(p, TASK_UNBLOCK, 3, t->id, m && m->curg ? m->curg->id : 0,
		    weft__trace_seq(t, p));
	if (!p) {
		weft__inject(t);
		return;
	}
	if (first && !m->curg) {
		struct weft__task *none = NULL;
		atomic_store_explicit(&t->status, WEFT__T_RUNNABLE, relaxed);
		if (atomic_compare_exchange_strong_explicit(&p->runnext, &none, t,
							    memory_order_release, relaxed))
			return;
	}
	runq_put(p, t);
}

void weft__ready(struct weft__task *t)
{
	struct weft__m *m = weft__getm();
	struct weft__task *old;

	__atomic_store_n(&t->wait_reason, WEFT_TRACE_BLOCK_NONE, __ATOMIC_RELAXED);
	t->wait_obj = NULL;
	/* A task's readier hands on its job; a plain thread starts one. */
	job_set(t, m && m->curg ? job_of(m->curg) : weft__nanotime());
	atomic_store_explicit(&t->status, WEFT__T_RUNNABLE, relaxed);
	WEFT__TRACE(weft__trace_p(m), TASK_UNBLOCK, 3, t->id, m && m->curg ? m->curg->id : 0,
		    weft__trace_seq(t, weft__trace_p(m)));
	if (m && m->curg && m->p) {
		old = atomic_exchange_explicit(&m->p->runnext, t, memory_order_acq_rel);
		if (old)
			runq_put(m->p, old);
		else
			wake_if_idle();
		return;
	}
	weft__extern_enter();
	weft__inject(t);
}

/* ---- plain threads ------------------------------------------------------------ */

static pthread_key_t extern_key;
static pthread_once_t extern_once = PTHREAD_ONCE_INIT;

static void extern_gone(void *v)
{
	(void)v;
	atomic_fetch_sub(&S.nextern, 1);
	weft__sysmon_wake(); /* the deadlock check may now apply */
}

static void extern_key_make(void)
{
	pthread_key_create(&extern_key, extern_gone);
}

void weft__extern_enter(void)
{
	WEFT__ASSERT(weft__on_plain());
	pthread_once(&extern_once, extern_key_make);
	if (pthread_getspecific(extern_key))
		return;
	atomic_fetch_add(&S.nextern, 1);
	pthread_setspecific(extern_key, (void *)1);
}

/* The running task goes to the global queue and its P runs local work. */
static struct weft__m *step_aside(struct weft__m *m)
{
	struct weft__task *cur = m->curg;

	WEFT__ASSERT(m == weft__getm() && cur && weft__owns(m->p));
	atomic_store_explicit(&cur->status, WEFT__T_RUNNABLE, relaxed);
	WEFT__TRACE_SWITCH(m->p, TASK_YIELD, 1, cur->id, 0, 0, 0);
	m->after = WEFT__A_INJECT;
	m->after_task = cur;
	return schedule_away(m, cur, false);
}

/* ---- public API ---------------------------------------------------------------- */

WEFT_API int weft_go(weft_fn fn, void *arg)
{
	struct weft__m *m = weft__getm();
	struct weft__task *t;
	struct weft__p *p;

	if (!fn)
		return -EINVAL;
	if (m && m->curg && (p = m->p)) {
		if (!(t = weft__task_alloc(p)))
			return -ENOMEM;
		__atomic_store_n(&t->fn, fn, __ATOMIC_RELAXED); /* racy readers: weft__task_is_system */
		t->arg = arg;
		t->id = weft__task_newid(p);
		t->utask = m->curg->utask;
		job_set(t, job_of(m->curg));
		WEFT__TRACE_N(p, TASK_CREATE, 4, t->id, m->curg->id, weft__trace_code((void *)fn),
			      weft__trace_code(__builtin_return_address(0)), 0);
		t->tlastp = (uint16_t)(p->id + 1); /* its seq 0 is ordered by this stream */
		runq_put(p, t);
		/*
		 * Backpressure: a spawner far ahead of the Ps running its tasks
		 * lets them catch up, so that a loop spawning a million tasks
		 * keeps a few thousand descriptors alive (and hot in cache)
		 * instead of a million. Checked every 256 spawns: reading top
		 * costs a cache miss while thieves are stealing. The spawner
		 * steps aside to the global queue (which every P looks at, at
		 * least each WEFT__FAIR_TICK schedules) until half the backlog
		 * is gone; meanwhile its P runs the spawned tasks back to back.
		 */
		if (__builtin_expect((++p->nspawn & 255) == 0, 0) &&
		    weft__deque_size_hint(&p->rq) > WEFT__SPAWN_BACKLOG) {
			do
				m = step_aside(m);
			while (m->p && weft__deque_size_hint(&m->p->rq) > WEFT__SPAWN_BACKLOG / 2);
		}
		return 0;
	}
	/*
	 * A plain thread may race the end of the run: it announces itself
	 * (extern_go) before it looks at shutdown, and teardown sets shutdown
	 * before it waits for extern_go to drop to 0 (both sequentially
	 * consistent), so either this thread sees the end and backs off, or
	 * teardown waits until its task is in the global queue, which it then
	 * frees with the rest.
	 */
	atomic_fetch_add(&S.extern_go, 1);
	if (!atomic_load(&S.running) || atomic_load(&S.shutdown)) {
		atomic_fetch_sub(&S.extern_go, 1);
		return -EINVAL;
	}
	weft__extern_enter();
	if (!(t = weft__task_alloc(NULL))) {
		atomic_fetch_sub(&S.extern_go, 1);
		return -ENOMEM;
	}
	__atomic_store_n(&t->fn, fn, __ATOMIC_RELAXED); /* racy readers: weft__task_is_system */
	t->arg = arg;
	t->id = weft__task_newid(NULL);
	job_set(t, weft__nanotime()); /* from outside: a new job */
	WEFT__TRACE_N(NULL, TASK_CREATE, 4, t->id, 0, weft__trace_code((void *)fn),
		      weft__trace_code(__builtin_return_address(0)), 0);
	t->tlastp = WEFT__TSTREAM_M;
	weft__inject(t);
	atomic_fetch_sub(&S.extern_go, 1);
	return 0;
}

WEFT_API void weft_yield(void)
{
	struct weft__m *m = weft__getm();
	struct weft__task *cur, *next = NULL;
	struct weft__p *p;
	uint32_t tick;

	if (!m || !(cur = m->curg)) {
		sched_yield();
		return;
	}
	if (stw_or_exit_pending()) {
		weft__safepoint_slow();
		return;
	}
	p = m->p;
	WEFT__ASSERT(weft__owns(p)); /* not between weft_syscall_enter and _exit */
	tick = weft__tick(&p->schedtick);
	if (__builtin_expect(atomic_load_explicit(&p->preempt, relaxed), 0))
		atomic_store_explicit(&p->preempt, 0, relaxed);
	weft__timers_check(p, tick % WEFT__FAIR_TICK == 0);
	if (tick % WEFT__FAIR_TICK == 0 && gq_nonempty())
		next = gq_get(p, 1);
	if (!next && atomic_load_explicit(&p->runnext, relaxed))
		next = atomic_exchange_explicit(&p->runnext, NULL, memory_order_acquire);
	if (!next && weft__deque_size_hint(&p->rq) > 0)
		next = take_oldest(p);
	if (!next && gq_nonempty())
		next = gq_get(p, 1);
	if (!next) {
		/* Nothing else runnable here: keep going, past a quiescent
		 * state (a task polling a flag must not hold up a trace stop). */
		weft__rcu_quiescent(&m->rcu);
		return;
	}
	atomic_store_explicit(&cur->status, WEFT__T_RUNNABLE, relaxed);
	WEFT__TRACE_SWITCH(p, TASK_YIELD, 1, cur->id, 0, 0, 0);
	m->after = WEFT__A_REQUEUE;
	m->after_task = cur;
	run_task(m, &cur->ctx, next, false);
}

WEFT_API uint64_t weft_self(void)
{
	struct weft__m *m = weft__getm();

	return m && m->curg ? m->curg->id : 0;
}

/* ---- used by main.c ------------------------------------------------------------- */

int weft__sched_init(int nprocs, size_t stack_size)
{
	pthread_mutex_init(&S.lock, NULL);
	pthread_mutex_init(&S.tlock, NULL);
	S.pidle = NULL;
	atomic_store(&S.npidle, 0);
	S.midle = NULL;
	S.nmidle = 0;
	S.mcount = 0;
	S.mnext = 0;
	S.allm = NULL;
	atomic_store(&S.nmspinning, 0);
	cds_wfcq_init(&S.gq_head, &S.gq_tail);
	atomic_store(&S.gq_len, 0);
	S.pcount = 0;
	atomic_store(&S.stw_owner, 0);
	S.stopwait = 0;
	atomic_store(&S.stw_last_wait_ns, 0);
	atomic_store(&S.stw_count, 0);
	atomic_store(&S.shutdown, 0);
	atomic_store(&S.done, 0);
	atomic_store(&weft__safepoint_pending, 0);
	S.tfree = NULL;
	S.ntfree = 0;
	S.slabs = NULL;
	atomic_store(&S.next_id, 1);
	atomic_store(&S.tsleeper, 0);
	atomic_store(&S.tsleep_until, 0);
	atomic_store(&S.tnote, 0);
	/* A previous weft_main's masks: no P has timers yet; procs_init puts
	 * every P idle, which sets its idle bit. */
	for (int i = 0; i < WEFT_MAX_PROCS / 64; i++) {
		atomic_store(&S.timerp[i], 0);
		atomic_store(&S.idlep[i], 0);
	}
	S.stack_size = stack_size;
	S.membarrier = membarrier_register();
	return weft__procs_init(nprocs);
}

int weft__sched_start_main(weft_fn fn, void *arg)
{
	struct weft__task *t = weft__task_alloc(NULL);
	struct weft__p *p;

	if (!t)
		return -ENOMEM;
	__atomic_store_n(&t->fn, fn, __ATOMIC_RELAXED); /* racy readers: weft__task_is_system */
	t->arg = arg;
	t->id = weft__task_newid(NULL);
	job_set(t, weft__nanotime());
	WEFT__TRACE_N(NULL, TASK_CREATE, 4, t->id, 0, weft__trace_code((void *)fn), 0, 0);
	t->tlastp = WEFT__TSTREAM_M;
	atomic_store_explicit(&S.main_task, t, relaxed);
	atomic_store_explicit(&t->status, WEFT__T_RUNNABLE, relaxed);
	cds_wfcq_node_init(&t->gnode);
	WEFT__TSAN_RELEASE(t);
	atomic_fetch_add(&S.gq_len, 1);
	cds_wfcq_enqueue(&S.gq_head, &S.gq_tail, &t->gnode);
	weft__sched_lock();
	p = weft__pidleget();
	weft__sched_unlock();
	if (!newm(p, false)) {
		weft__sched_lock();
		weft__pidleput(p);
		weft__sched_unlock();
		return -EAGAIN;
	}
	return 0;
}

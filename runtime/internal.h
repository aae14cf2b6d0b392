/*
 * internal.h - the scheduler's data structures and internal verbs (internal).
 *
 * The model (G, M, P) and its protocols are explained at the top of
 * sched.c. This header declares the three structures, the global scheduler
 * state and the verbs the other runtime files use:
 *
 *   weft__park   the running task blocks; its P runs something else
 *   weft__ready  make a blocked task runnable (any thread)
 *   weft__getm   the calling thread's M, or NULL on a plain thread
 *
 * Each subsystem has its own header beside its .c file, with its rules:
 *   spin.h   the spin lock          waitq.h  waiters, wait queues, select
 *   chan.h   a channel's insides    timer.h  timers and the timer sleeper
 *   rcu.h    the Ms as RCU readers  os.h     futexes, clock, thread count
 *   stack.h  task stacks            deque.h  the per-P run queue
 *   ctx.h    context switches       fatal.h  throw, fatal, deadlock, faults
 * This one includes those the structures below are made of (ctx, deque,
 * rcu, spin, stack), fatal.h and os.h; a file that uses the others
 * includes them itself.
 *
 * Who may touch what is written at each field and verb: "owner" is the M
 * that holds the P (p->m), "sched lock" is weft__sched.lock, "STW" means
 * the world is stopped (stw.c).
 *
 * Rejected: one header for the whole runtime (the first layout: 743
 * lines holding the tracer's emit path, channels, timers and the spin
 * lock beside G/M/P, with declarations under the wrong file's label);
 * the trace hooks here (they live in trace_emit.h, included by the files
 * that have hooks).
 */
#ifndef WEFT_INTERNAL_H
#define WEFT_INTERNAL_H

#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <urcu/wfcqueue.h>

#include "weft.h"
#include "ctx.h"
#include "deque.h"
#include "fatal.h"
#include "os.h"
#include "rcu.h"
#include "spin.h"
#include "stack.h"
#include "common/trace_format.h"

/* ---- tasks (G) -------------------------------------------------------- */

enum weft__tstatus {
	WEFT__T_FREE = 0, /* descriptor on a free list */
	WEFT__T_RUNNABLE, /* in a run queue (or runnext) */
	WEFT__T_RUNNING,  /* on an M */
	WEFT__T_WAITING,  /* parked; wait_reason says on what */
	WEFT__T_SYSCALL,  /* between weft_syscall_enter and _exit */
	WEFT__T_DEAD,     /* returned; descriptor about to be freed */
};

/* Why a task waits: the trace's block reasons, WEFT_TRACE_BLOCK_* of
 * <weft/trace.h> (one list, names in weft_tf_block_name()). */

/*
 * A task descriptor: 96 bytes, kept small because a million spawned tasks
 * are a million of these and the scheduler touches each when it first runs
 * it. The hot fields (ctx to id) share the first cache line.
 */
struct weft__task {
	struct weft__ctx ctx;
	void *stack;               /* mapping or slab slot of S.stack_size + the
				    * gap below (stack.h); NULL until first run */
	weft_fn fn;
	void *arg;
	uint64_t id;
	_Atomic uint8_t status;    /* enum weft__tstatus; racy reads by reports */
	uint8_t wait_reason;       /* WEFT_TRACE_BLOCK_*, valid while WAITING */
	uint16_t tlastp;           /* trace: stream of its last numbered event
				    * (P id + 1; WEFT__TSTREAM_M; 0 unknown) */
	uint32_t utask;            /* current user task (weft_trace_task_begin), inherited */
	_Atomic int64_t job;       /* when the outside event whose work it does
				    * arrived (weft__nanotime: the netpoller, a
				    * timer, a plain thread); inherited from its
				    * spawner or readier (sched.c, "Jobs"). Set by
				    * whoever makes it runnable; read racily by the
				    * owner of a deque it may have been stolen from:
				    * relaxed, a hint that orders nothing else */
	const void *wait_obj;      /* what it waits on (for the deadlock report) */
	union {
		/* A task is in at most one queue at a time. */
		struct weft__task *link;     /* free lists, wait queues (their lock) */
		struct cds_wfcq_node gnode; /* the global run queue */
	};
	uint64_t tseq;             /* trace: sequence number (trace.c); 64 bits so
				    * that it never wraps to 0, which in the
				    * trace means "same stream as before" */
	uint32_t rdepth;           /* open user regions */
	uint32_t wait_since;       /* S.coarse_ms when it last parked (the task
				    * dump's "how long"; in the padding after
				    * rdepth, so it costs no byte) */
	const void *wait_site;     /* call site of its last park (weft__site),
				    * for the task dump: 8 bytes */
};

/* ---- logical processors (P) ------------------------------------------ */

enum weft__pstatus {
	WEFT__P_IDLE = 0, /* on the idle list, no M */
	WEFT__P_RUNNING,  /* owned by an M running tasks or the scheduler */
	WEFT__P_SYSCALL,  /* its M is in a syscall; sysmon or STW may take it */
	WEFT__P_STOPPED,  /* parked by stop-the-world */
	WEFT__P_DEAD,     /* removed by weft_set_procs; memory kept */
};

#define WEFT__STACK_CACHE 16 /* stacks a P keeps warm */
#define WEFT__TFREE_MAX 256  /* descriptors a P keeps before spilling */
#define WEFT__FAIR_TICK 61   /* every Nth schedule looks at the old work first */
#ifndef WEFT__RUNNEXT_GRACE_NS /* -D for experiments (bench/builds.sh A/B) */
#define WEFT__RUNNEXT_GRACE_NS 3000 /* a thief waits this long for a running P
				     * to run its runnext itself (sched.c) */
#endif
#ifndef WEFT__SPIN_LINGER_NS
#define WEFT__SPIN_LINGER_NS 0 /* a spinning M looks this long before it parks
				* while another P runs; off: see sched.c, "Lingering" */
#endif
#define WEFT__SPAWN_BACKLOG 4096 /* queued tasks above which a spawner yields */

struct weft__m;
struct weft__timer; /* timer.h */

struct weft__p {
	struct weft__deque rq;                /* owner pushes/pops, others steal */
	_Alignas(64) _Atomic(struct weft__task *) runnext;
	int id;
	_Atomic int status;                   /* enum weft__pstatus */
	struct weft__m *m;                     /* owner M (while RUNNING/SYSCALL) */
	struct weft__p *link;                  /* idle list (sched lock) */
	_Atomic uint32_t schedtick;           /* owner: +1 per schedule; sysmon and
						 thieves (steal_runnext) read */
	uint32_t nspawn;                      /* owner: +1 per spawn */
	bool tswitch;                         /* trace: the running task just left (its
						 BLOCK/YIELD/END is the buffer's last
						 event); the next START shares its tick */
	_Atomic uint32_t syscalltick;         /* +1 per syscall enter */
	_Atomic int preempt;                  /* sysmon asks the running task to yield */
	_Atomic int64_t timer0;               /* earliest timer deadline, 0: none (tlock) */
	/* sysmon's last look (sysmon thread only) */
	uint32_t sm_schedtick, sm_syscalltick;
	int64_t sm_when;
	/* caches, owner only */
	void *stacks[WEFT__STACK_CACHE]; /* stacks of S.stack_size + the gap (stack.h) */
	int nstacks;
	struct weft__task *tfree;
	int ntfree;
	uint64_t id_next, id_end;
	/* timers (timer.c): a 4-ary min-heap, any thread under tlock */
	_Alignas(64) weft__spin tlock;
	struct weft__timer **timers;
	int ntimers, tcap;
	uint64_t tseq;                        /* insertion order: FIFO among equal deadlines */
	struct weft__tbuf *tbuf;              /* trace buffer (owner; installed under STW) */
	uint64_t tkeys[16];                   /* trace: code keys this P wrote this session
					       * (direct-mapped; see weft__trace_keys) */
};

/* ---- OS threads (M) -------------------------------------------------- */

enum weft__after {
	WEFT__A_NONE = 0,
	WEFT__A_REQUEUE, /* push the previous task on this P's deque */
	WEFT__A_UNLOCK,  /* call after_fn(after_arg): the previous task parked */
	WEFT__A_FREE,    /* the previous task died: recycle stack and descriptor */
	WEFT__A_INJECT,  /* put the previous task on the global queue */
	WEFT__A_ABANDON, /* shutdown took the previous task's stack from us */
};

enum weft__msys {
	WEFT__M_SYS_NONE = 0,
	WEFT__M_SYS_IN,        /* in a syscall */
	WEFT__M_SYS_ABANDONED, /* weft_main returned while it was in one */
};

struct weft__m {
	struct weft__ctx g0;        /* the thread's own stack: the scheduler loop */
	struct weft__p *p;           /* attached P, NULL when idle */
	struct weft__task *curg;     /* running task, NULL on g0 */
	struct weft__p *nextp;       /* P handed over by startm */
	bool spinning;              /* counted in sched.nmspinning */
	bool lingered;              /* lingered since it last ran a task or woke */
	_Atomic int32_t park;       /* futex word: 0 parked, 1 notified */
	struct weft__m *link;        /* idle list (sched lock) */
	struct weft__m *alllink;     /* every M (sched lock) */
	int id;
	pthread_t thread;
	/* work left for whoever runs next on this M (see after_switch) */
	int after;
	struct weft__task *after_task;
	void (*after_fn)(void *);
	void *after_arg;
	/* syscalls */
	_Atomic int sys;            /* enum weft__msys */
	struct weft__p *oldp;
	uint32_t oldp_tick;             /* oldp->syscalltick when the syscall began */
	bool stw_syscall;            /* in a syscall made while holding the world stopped */
	void *sys_stack;            /* the task's stack, copied at syscall enter:
				     * owned by this M once abandoned */
	size_t sys_stack_size;
	struct weft__ctx scratch;   /* where a context that will not resume is saved */
	void *altstack;
	size_t altstack_size;
	uint64_t rand;
	bool exited;
	/* urcu-qsbr reader (rcu.h): set on the M's thread when it starts */
	struct weft__rcu_reader rcu;
#ifdef WEFT_DEBUG
	bool dbg_unlockf;           /* after_switch is running a park's unlockf */
#endif
};

/* ---- the scheduler --------------------------------------------------- */

struct weft__slab;

struct weft__sched {
	pthread_mutex_t lock;          /* idle lists, counts below, STW, Ms */
	struct weft__p *pidle;
	_Atomic int npidle;
	struct weft__m *midle;
	int nmidle;                    /* idle Ms */
	int mcount;                    /* Ms whose thread runs (not abandoned) */
	int mnext;                     /* next M id */
	struct weft__m *allm;
	_Atomic int nmspinning;

	/* global run queue: enqueue is wait-free from any thread;
	 * dequeue takes the queue's own lock (cds_wfcq_dequeue_blocking). */
	struct cds_wfcq_head gq_head;
	struct cds_wfcq_tail gq_tail;
	_Atomic int64_t gq_len;        /* approximate, for batch sizes */

	_Atomic int nprocs;
	struct weft__p *allp[WEFT_MAX_PROCS]; /* never freed while running */
	int pcount;                    /* Ps ever allocated */

	/* stop-the-world */
	_Atomic int stw_owner;         /* 1 while a task holds the world stopped */
	int stopwait;                  /* Ps still to stop (sched lock) */
	_Atomic int32_t stopnote;      /* futex: the stopper sleeps here */
	const char *stw_reason;
	_Atomic int64_t stw_last_wait_ns; /* how long the last stop waited */
	_Atomic int64_t stw_count;

	/* shutdown and the thread that called weft_main */
	_Atomic int running;
	_Atomic int shutdown;
	_Atomic int extern_go;         /* plain threads inside weft_go (teardown waits for 0) */
	_Atomic int32_t done;          /* futex: weft_main waits here */
	_Atomic(struct weft__task *) main_task;

	/* descriptors */
	pthread_mutex_t tlock;         /* global free list and slab list */
	struct weft__task *tfree;
	int ntfree;
	struct weft__slab *slabs;
	_Atomic uint64_t next_id;

	/* deadlock detection */
	_Atomic int nextern;           /* live plain threads that called in */
	int baseline_threads;          /* threads not ours that cannot call in: weft_main's
					* caller and the sanitizers' (checkdead) */
	_Atomic int nhelpers;          /* our own threads besides Ms and sysmon (trace flusher) */

	/* A coarse clock: weft__nanotime() in ms (wrapping uint32), stored
	 * by sysmon each tick and by the netpoller after each epoll_wait, so
	 * that a park stamps t->wait_since with a relaxed load instead of a
	 * clock read (debug.c). Lags the clock by a sysmon tick: <= 10 ms
	 * while a P runs, <= 100 ms after an idle spell. */
	_Atomic uint32_t coarse_ms;

	/* sysmon */
	pthread_t sysmon;
	bool sysmon_started;
	_Atomic int32_t sysmon_note;   /* futex */
	_Atomic int sysmon_sleeping;

	/* Ps that may have timers, a bit per P (timer.c, "Finding the
	 * earliest"): set by the P's owner when it arms a timer and the bit is
	 * clear, cleared by pidleput when the P's heap is empty. */
	_Alignas(64) _Atomic uint64_t timerp[WEFT_MAX_PROCS / 64];
	/* Ps on the idle list, a bit per P (Go's idlepMask): set by
	 * pidleput, cleared by pidleget, both under the sched lock; an idle P
	 * has no local work, so the recheck of a parking M skips it. One line
	 * with timerp, written at the same moments: every P out of work reads
	 * both. */
	_Atomic uint64_t idlep[WEFT_MAX_PROCS / 64];

	/* the M that sleeps until the next timer (timer.c) */
	_Alignas(64) _Atomic int tsleeper;          /* 1 while one M holds the role */
	_Atomic int64_t tsleep_until;  /* its deadline; 0 when nobody sleeps */
	_Atomic int32_t tnote;         /* futex: kicks it */
	_Atomic int tpolling;          /* 1 while it waits in epoll_wait (netpoll.c):
					* a kick writes the eventfd too */

	/* config */
	size_t stack_size;
	bool membarrier;               /* asymmetric fences available */

#ifdef WEFT_DEBUG
	/* Who holds lock and tlock (weft__dbg_tid), 0: nobody. Written by the
	 * holder under the lock, read relaxed by anyone: a thread finds its
	 * own id there only if it wrote it, so "held by me" needs no more. */
	_Atomic int32_t dbg_lock_holder, dbg_tlock_holder;
#endif
};

extern struct weft__sched weft__sched;

/*
 * Non-zero when a safepoint has work to do, so that weft_safepoint() is one
 * load when it has none. The bits, each set and cleared by its owner with
 * an atomic or/and (others only read them):
 */
extern _Atomic int weft__safepoint_pending;
#define WEFT__SP_STOP 1    /* the world is stopping (stw.c) or the runtime exiting
			    * (main.c): every P stops at its next scheduling point */
#define WEFT__SP_PREEMPT 2 /* sysmon asks some P to yield (p->preempt says which) */
#define WEFT__SP_RCU 4     /* a grace period waits (rcu.c): pass a quiescent state */

/*
 * liburcu 0.13's wfcqueue synchronizes with inline assembly that
 * ThreadSanitizer cannot see; these tell it that whatever the enqueuer
 * wrote before enqueueing a task happens before the dequeuer's use of it.
 */
#ifdef WEFT_TSAN
#define WEFT__TSAN_RELEASE(p) __tsan_release((void *)(p))
#define WEFT__TSAN_ACQUIRE(p) __tsan_acquire((void *)(p))
#else
#define WEFT__TSAN_RELEASE(p) ((void)(p))
#define WEFT__TSAN_ACQUIRE(p) ((void)(p))
#endif


/* ---- verbs ------------------------------------------------------------ */

/*
 * weft__getm - the calling thread's M, or NULL on a plain thread.
 *
 * Read through an asm volatile statement: a compiler may otherwise keep a
 * thread-local address or value across a call that switched contexts and
 * resumed us on another thread (see ctx.h). On x86-64 the statement is the
 * two-instruction initial-exec sequence; elsewhere a never-inlined call.
 */
struct weft__m *weft__getm_slow(void);
#if defined(__x86_64__)
extern __thread struct weft__m *weft__tls_m
	__attribute__((tls_model("initial-exec"), visibility("hidden")));
static inline struct weft__m *weft__getm(void)
{
	struct weft__m *m;

	__asm__ __volatile__("movq weft__tls_m@gottpoff(%%rip), %0\n\t"
			     "movq %%fs:(%0), %0"
			     : "=r"(m));
	return m;
}
#else
static inline struct weft__m *weft__getm(void)
{
	return weft__getm_slow();
}
#endif

/*
 * Who is calling, for the precondition asserts of WEFT_DEBUG builds
 * (HACKING.md §6; WEFT__ASSERT discards its argument otherwise, so these
 * cost nothing in release builds):
 *   weft__on_task()        a task's stack (the running task of an M)
 *   weft__on_g0()          an M's own stack: the scheduler loop
 *   weft__on_plain()       a thread that is not an M (plain threads,
 *                          weft_main's thread, sysmon, the flusher)
 *   weft__owns(p)          the calling M holds @p (both ways: m->p and
 *                          p->m) and is not inside
 *                          weft_syscall_enter/exit (where sysmon or a
 *                          stopper may take @p)
 *   weft__world_stopped()  the caller is the task holding the world
 *                          stopped (stw.c)
 *   weft__sched_locked()   the calling thread holds the sched lock
 *   weft__spin_held(l)     the calling thread holds spin lock @l (spin.h)
 *   weft__in_unlockf()     the caller runs as a weft__park unlockf
 */
static inline bool weft__on_task(void)
{
	struct weft__m *m = weft__getm();
	return m && m->curg;
}

static inline bool weft__on_g0(void)
{
	struct weft__m *m = weft__getm();
	return m && !m->curg;
}

static inline bool weft__on_plain(void)
{
	return !weft__getm();
}

/* Not "&& p->m == m": after the syscall-exit ABA of HACKING.md §12 item 8
 * p->m names another M while this one rightly runs on @p. */
static inline bool weft__owns(const struct weft__p *p)
{
	struct weft__m *m = weft__getm();
	return m && p && m->p == p && p->m == m &&
	       atomic_load_explicit(&m->sys, memory_order_relaxed) == WEFT__M_SYS_NONE;
}

/* stw.c; in every build: blocking calls refuse to park the stopper. */
bool weft__world_stopped(void);
/* A fatal error naming @call if the caller holds the world stopped: it
 * would wait for ever for something only a stopped P can do. */
void weft__stw_forbid(const char *call);

#ifdef WEFT_DEBUG
static inline bool weft__sched_locked(void)
{
	return atomic_load_explicit(&weft__sched.dbg_lock_holder, memory_order_relaxed) ==
	       weft__dbg_tid();
}

static inline bool weft__in_unlockf(void)
{
	struct weft__m *m = weft__getm();
	return m && m->dbg_unlockf;
}
#endif

/*
 * A pthread mutex whose holder WEFT_DEBUG builds record in @holder
 * (weft__dbg_tid, 0: nobody; relaxed: only the holder compares it with
 * itself), for "lock held" asserts. The sched lock and the descriptor
 * lock use it; release builds make the bare calls.
 */
#ifdef WEFT_DEBUG
static inline void weft__mutex_lock_dbg(pthread_mutex_t *l, _Atomic int32_t *holder)
{
	pthread_mutex_lock(l);
	atomic_store_explicit(holder, weft__dbg_tid(), memory_order_relaxed);
}

static inline void weft__mutex_unlock_dbg(pthread_mutex_t *l, _Atomic int32_t *holder)
{
	atomic_store_explicit(holder, 0, memory_order_relaxed);
	pthread_mutex_unlock(l);
}
#define weft__mutex_lock(l, holder) weft__mutex_lock_dbg((l), (holder))
#define weft__mutex_unlock(l, holder) weft__mutex_unlock_dbg((l), (holder))
#else
#define weft__mutex_lock(l, holder) pthread_mutex_lock(l)
#define weft__mutex_unlock(l, holder) pthread_mutex_unlock(l)
#endif

/*
 * The sched lock. Every lock and unlock of weft__sched.lock goes through
 * these, so that WEFT_DEBUG builds know who holds it (pthread has no "held
 * by me" query, and an error-checking mutex would change the lock's
 * behaviour between builds). In release builds they are the bare calls.
 * The debug check: no spin lock is held while taking it (HACKING.md §4),
 * except in a park's window, where the parked task's lock is still held
 * and a timer fired by pick_local may start an M (HACKING.md §4.2).
 */
static inline void weft__sched_lock(void)
{
#ifdef WEFT_DEBUG
	struct weft__m *m = weft__getm();
	WEFT__ASSERT(weft__spin_nheld() == 0 || (m && m->after == WEFT__A_UNLOCK));
#endif
	weft__mutex_lock(&weft__sched.lock, &weft__sched.dbg_lock_holder);
}

static inline void weft__sched_unlock(void)
{
	WEFT__ASSERT(weft__sched_locked());
	weft__mutex_unlock(&weft__sched.lock, &weft__sched.dbg_lock_holder);
}

/*
 * weft__park - block the running task. @unlockf(@arg) runs after the task
 * is off its stack (so a waker that takes the same lock cannot ready it
 * too early). Returns when another party called weft__ready on it.
 */
void weft__park(int reason, const void *obj, void (*unlockf)(void *), void *arg);

/* weft__ready - make @t runnable: into the caller's runnext if the caller is
 * a task, the global queue otherwise. Any thread. */
void weft__ready(struct weft__task *t);

/* syscall.c: weft_syscall_enter with the call site to record. */
void weft__syscall_enter_at(const void *site);

/* A random number (per M; per thread on plain threads). */
uint32_t weft__rand(void);

/* Register the calling plain thread as one that may wake tasks. */
void weft__extern_enter(void);

/* Fences for the wake-up protocol (see "Parking" in sched.c). */
void weft__heavy_fence(void);
static inline void weft__light_fence(void)
{
	if (__builtin_expect(weft__sched.membarrier, 1))
		atomic_signal_fence(memory_order_seq_cst);
	else
		weft__fence();
}

/* tasks.c */
struct weft__task *weft__task_alloc(struct weft__p *p);
void weft__task_free(struct weft__p *p, struct weft__task *t);
uint64_t weft__task_newid(struct weft__p *p);
void weft__tasks_foreach(void (*fn)(struct weft__task *, void *), void *arg);
void weft__tasks_destroy(void);


/* proc.c: the life of a P (weft__procs_init: weft_main's thread, before any
 * M; weft__p_new: that, or the world stopped; weft__procs_free: no M left) */
struct weft__p *weft__p_new(int id);
int weft__procs_init(int nprocs);
void weft__procs_free(void);

/* main.c */
void weft__shutdown_begin(void); /* the main task returned (sched.c) */

/* stw.c */
void weft__stw_participate(struct weft__m *m); /* g0 of @m, holding m->p */
void weft__safepoint_slow(void);               /* any thread; acts on a task only */

/* sysmon.c */
int weft__sysmon_start(void); /* weft_main's thread */
void weft__sysmon_stop(void); /* weft_main's thread, no M left */
void weft__sysmon_wake(void); /* any thread */

/*
 * sched.c, used by stw.c, syscall.c, timer.c and main.c (which starts it).
 * Who may call:
 *   startm, wakep, inject                     any thread, sched lock NOT held
 *   p_has_work                                any thread (a racy look)
 *   stopm                                     g0 of @m, no P held
 *   handoffp                                  whoever took @p from a syscall
 *   pidleget, pidleput                        sched lock held
 *   acquirep                                  @m's own thread, @p just taken
 *   ready_on                                  owner of @p
 *   ready_polled                              the netpoller: owner of @p, or
 *                                             any thread with @p NULL
 *   job_arrived                               any thread (a task: its job)
 *   move_p_work_to_global                     STW only
 *   mcall                                     the task running on @m
 *   sched_init, sched_start_main              weft_main's thread
 */
void weft__startm(struct weft__p *p, bool spinning);
void weft__stopm(struct weft__m *m);
void weft__handoffp(struct weft__p *p);
struct weft__p *weft__pidleget(void);
void weft__pidleput(struct weft__p *p);
void weft__acquirep(struct weft__m *m, struct weft__p *p);
void weft__wakep(void);
void weft__ready_on(struct weft__p *p, struct weft__task *t);
void weft__ready_polled(struct weft__task *t, struct weft__p *p, bool first, int64_t job);
void weft__job_arrived(void);
void weft__inject(struct weft__task *t);
bool weft__p_has_work(struct weft__p *p);
void weft__move_p_work_to_global(struct weft__p *p);
void weft__mcall(struct weft__m *m, int after, void (*fn)(void *), void *arg);
int weft__sched_init(int nprocs, size_t stack_size);
int weft__sched_start_main(weft_fn fn, void *arg);

/* Owner-only increment of a counter that other threads read (no RMW). */
static inline uint32_t weft__tick(_Atomic uint32_t *c)
{
	uint32_t v = atomic_load_explicit(c, memory_order_relaxed) + 1;
	atomic_store_explicit(c, v, memory_order_relaxed);
	return v;
}

/* ---- the debug server (debug.c) --------------------------------------- */

/* A task of the debug server (its entry function says so: no flag in the
 * descriptor). Such tasks are left out of the deadlock check and report,
 * and their fd waits do not count as possible wake-ups (netpoll.c). Any
 * thread; reads only t->fn. */
bool weft__task_is_system(const struct weft__task *t);
/* WEFT_DEBUG_ADDR, on weft_main's thread: listen before the main task
 * is queued, accept once it is. */
void weft__debug_from_env(void);
void weft__debug_env_start(void);
/* Teardown (no M left): close the fds the server still holds. */
void weft__debug_fini(void);

/* The coarse clock (S.coarse_ms): whoever has just read the clock. */
static inline void weft__coarse_tick(int64_t now_ns)
{
	atomic_store_explicit(&weft__sched.coarse_ms, (uint32_t)(now_ns / 1000000),
			      memory_order_relaxed); /* read relaxed by weft__park */
}

#endif /* WEFT_INTERNAL_H */

/*
 * netpoll.c - the netpoller: tasks wait for sockets, pipes and other fds
 * on epoll, so that a blocked read costs a parked task, not a thread.
 *
 * What. One epoll instance per runtime, made at the first call that needs
 * it, and one eventfd in it to break a blocking wait. Each fd is
 * registered once, edge-triggered for in, out and rdhup, the first time a
 * call waits on it (or when weft_net_listen/accept/dial makes it), and
 * stays registered until weft_close(). Per fd number there is a
 * descriptor (struct pd) in a two-level table that grows by chunks and is
 * never freed while the runtime runs, so an epoll event, a deadline timer
 * and a waiter may hold a pointer to it without reference counts. The
 * event's data is the fd and the descriptor's sequence number, which
 * weft_close() bumps: an event queued before a close is recognised as
 * stale and dropped.
 *
 * Waiting. A descriptor counts the edges it has seen, one counter per
 * direction (rgen: in, rdhup, hup, err; wgen: out, hup, err). weft_read
 * reads the counter, then calls read(2); on EAGAIN it waits for the
 * counter to move: under the descriptor's lock, if it already moved (an
 * edge came between the snapshot and now) it retries at once, otherwise
 * it joins the direction's wait list and parks, the lock released by the
 * park's unlockf once it is off its stack. An edge, under the lock,
 * increments the counter and takes every waiter of that direction off
 * the list with result 0. So no edge is lost between "EAGAIN" and
 * "parked", however many tasks wait on one fd, with no extra syscall per
 * wait: that is Go's pollDesc (pdReady/pdWait) with a counter instead of
 * a token, because weft lets several tasks wait on one fd (an edge wakes
 * them all; each retries its call). The snapshot also holds the
 * descriptor's sequence number: a weft_close() between the snapshot and
 * the wait (the waiter had not queued yet, so the close could not wake
 * it) is seen under the lock, and the call returns -ECANCELED instead of
 * parking on a closed fd. The public weft_fd_wait, whose caller made the
 * call itself and may not have drained the fd, looks at the level first
 * with poll(2) (timeout 0) after its snapshot: readiness is level for
 * its callers, as poll's is, at one syscall per wait.
 *
 * Deadlines are timers (timer.c) in the waiting task's frame, armed on
 * its P's heap by the unlockf. The result is decided by whoever claims the
 * waiter first (a CAS on w->claimed, as select's sel->done): an edge or a
 * weft_close(), which unlist it under the descriptor's lock and then
 * claim it, or the timer, which claims it without any lock (a timer may
 * fire inside the park window of a task holding this very lock, HACKING.md
 * §4.2) and readies it with -ETIMEDOUT; the task, woken by its timer,
 * takes itself off the lists. Then it deletes its timer, which waits for a
 * timer fn still running, before its frame goes.
 *
 * Who polls (Go's findRunnable, proc.go):
 *   - a P out of local work polls without blocking before it steals, if
 *     tasks wait and no M is blocked in epoll_wait (lastpoll != 0); the
 *     first task it finds takes its empty runnext and runs next, without
 *     waking anyone (Go runs the first task netpoll returns), the others
 *     go on its deque, which wakes idle Ps to steal them. (Waking an M for
 *     the first one made a lone connection at 2 Ps wake a second M per
 *     message, which then often stole the task: 1.57x Go's time.);
 *   - when every P is idle, the timer sleeper of timer.c blocks in
 *     epoll_wait until the earliest timer instead of on its futex: one
 *     sleeper, not two. Kicks (an earlier timer, shutdown) write the
 *     eventfd. What it wakes goes to the idle P it then takes, or the
 *     global queue if none is idle;
 *   - sysmon polls when nobody has for 10 ms, so busy Ps that never run
 *     out of work cannot starve the network (tasks to the global queue);
 *   - a task that becomes the first waiter while its P stays busy, other
 *     Ps are idle and nobody sleeps in the poller wakes an M, which finds
 *     nothing to run and becomes the poller (when its P has nothing else
 *     to run, its own M becomes the poller).
 * Events are taken 128 at a time.
 *
 * Files. epoll refuses regular files and directories (EPERM): they are
 * always "ready" and their reads wait for the disk instead. weft_read and
 * weft_write mark such a descriptor and do the call inside
 * weft_syscall_enter/exit, so a slow disk costs a thread, not a P.
 *
 * Invariants:
 *   - a waiter is on its descriptor's lists while w->listed (lock); once
 *     claimed, nobody but the claimer writes its result, and only the
 *     claimer readies it;
 *   - weft__np.waiters counts listed waiters; while any of them is not
 *     the debug server's (weft__np.user_waiters counts those; debug.c)
 *     the deadlock check does not fire (an fd can be woken from outside);
 *     the server's tasks wake nobody but themselves, so their waits do
 *     not hold the check back. An M blocked in epoll_wait for them alone
 *     counts as idle for the check while weft__np.pollgen stays odd and
 *     unchanged (fatal.c);
 *   - an fd is registered with epoll while its descriptor is in state
 *     POLL, with the descriptor's current sequence number as its tag;
 *   - lock order: a descriptor's lock, then (in the unlockf) the P's timer
 *     lock. Nothing else is taken under a descriptor's lock; waiters are
 *     readied after it is released.
 *
 * Rejected:
 *   - Level-triggered epoll with EPOLLONESHOT (re-armed per wait): a
 *     syscall per wait, where edge-triggered registration costs one per
 *     fd's lifetime.
 *   - A thread per blocked call (today's weft_syscall_enter/exit around
 *     read): 10,000 idle connections, 10,000 threads.
 *   - One waiter per fd and direction, as Go's pollDesc and libdill's fdin
 *     (EEXIST): several tasks accepting on one listening socket is how a
 *     server spreads accepts over Ps.
 *   - A hash table from fd to descriptor: fds are small dense integers,
 *     so a two-level array indexed by the fd is one load, lock-free.
 *   - A separate poller thread: two context switches per event and a
 *     second sleeper beside the timer sleeper.
 *   - Reference counts on the calls in flight, so that weft_close holds
 *     close(2) back until a read(2) running on the fd has left (Go's
 *     fdMutex): two atomics on every call; a call racing a close inside
 *     its syscall is the caller's race here, as with close(2) (weft.h).
 *   - Deleting the registration before every close only when the fd is
 *     dup'ed: the kernel keys a registration by file description, so a
 *     dup'ed fd would keep delivering events with a stale tag; weft_close
 *     always deletes it (one syscall at close).
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "internal.h"
#include "netpoll.h"
#include "os.h"
#include "timer.h"
#include "trace_emit.h"

#define S weft__sched

struct weft__netpoll_state weft__np;

/* ---- descriptors ------------------------------------------------------------ */

/* NEW: not registered (yet, or since weft_close); POLL: registered; FILE:
 * epoll refused it; CLOSING: weft_close is between forgetting and close(2)
 * (nobody may register the number until the fd is really gone). */
enum { PD_NEW = 0, PD_POLL, PD_FILE, PD_CLOSING };
enum { DIR_R = 0, DIR_W = 1 };

#define PD_CHUNK_SHIFT 10
#define PD_CHUNK (1 << PD_CHUNK_SHIFT)
#define PD_NCHUNKS (1 << 16) /* fds below 64 M */
#define NEVENTS 128
#define BREAK_TAG UINT64_MAX
#define SYSMON_POLL_NS 10000000 /* 10 ms, as Go's sysmon */

struct pd {
	weft__spin lock;
	_Atomic uint8_t state;         /* PD_*; set under lock, read without */
	bool sock;                     /* a socket: send with MSG_NOSIGNAL */
	_Atomic uint32_t seq;          /* tag of the registration (lock to write) */
	_Atomic uint32_t gen[2];       /* edges seen per direction (lock to write) */
	struct weft__pwait *wq[2];     /* waiters per direction (lock) */
};

/* A task parked on a descriptor: lives in its frame. */
struct weft__pwait {
	struct weft__task *t;
	struct pd *pd;
	struct weft__pwait *next[2], *prev[2]; /* on wq[d] when events has d */
	struct weft__pwait *chain;             /* on a netlist once claimed */
	int events;                            /* WEFT_FD_READ | WEFT_FD_WRITE */
	_Atomic int claimed;                   /* 0 -> 1 by who decides the result */
	int result;                            /* 0, -ETIMEDOUT, -ECANCELED (the claimer's) */
	bool listed;                           /* on the wait lists (lock) */
	bool first;                            /* it made weft__np.waiters non-zero */
	bool user;                             /* counted in weft__np.user_waiters too */
	struct weft__timer timer;
};

static struct {
	pthread_mutex_t init_lock;
	int epfd, evfd;
	int init_err;                            /* why epoll could not be made */
	_Atomic int breaking;                    /* an eventfd write is pending */
	_Atomic(struct pd *) chunks[PD_NCHUNKS];
} NP = { .init_lock = PTHREAD_MUTEX_INITIALIZER, .epfd = -1, .evfd = -1 };

static int np_init(void)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = BREAK_TAG };
	int err = 0;

	if (weft__netpoll_inited())
		return 0;
	pthread_mutex_lock(&NP.init_lock);
	if (atomic_load(&weft__np.inited))
		goto out;
	NP.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (NP.epfd < 0) {
		err = -errno;
		goto out;
	}
	NP.evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (NP.evfd < 0 || epoll_ctl(NP.epfd, EPOLL_CTL_ADD, NP.evfd, &ev) < 0) {
		err = -errno;
		if (NP.evfd >= 0)
			close(NP.evfd);
		close(NP.epfd);
		NP.evfd = NP.epfd = -1;
		goto out;
	}
	atomic_store(&weft__np.lastpoll, weft__nanotime());
	atomic_store_explicit(&weft__np.inited, 1, memory_order_release);
out:
	pthread_mutex_unlock(&NP.init_lock);
	return err;
}

/* The descriptor of @fd, made on first use; NULL: no memory, or @fd too large. */
static struct pd *pd_of(int fd, bool make)
{
	unsigned c = (unsigned)fd >> PD_CHUNK_SHIFT;
	struct pd *chunk, *fresh = NULL;

	if (fd < 0 || c >= PD_NCHUNKS)
		return NULL;
	chunk = atomic_load_explicit(&NP.chunks[c], memory_order_acquire);
	if (!chunk) {
		if (!make || !(fresh = calloc(PD_CHUNK, sizeof(*fresh))))
			return NULL;
		if (atomic_compare_exchange_strong(&NP.chunks[c], &chunk, fresh))
			chunk = fresh;
		else
			free(fresh); /* another thread made it first */
	}
	return &chunk[fd & (PD_CHUNK - 1)];
}

void weft__netpoll_break(void);

/* What a caller saw before its syscall: task_wait parks only if neither
 * moved (an edge: try again; a weft_close: the fd is gone). */
struct snap {
	uint32_t seq, gen[2];
};

static inline uint64_t pd_tag(int fd, uint32_t seq)
{
	return (uint64_t)seq << 32 | (uint32_t)fd;
}

/* Lock held: @w (listed) off its lists. */
static void unlist(struct weft__pwait *w)
{
	struct pd *pd = w->pd;

	for (int k = 0; k < 2; k++) {
		if (!(w->events & (1 << k)))
			continue;
		if (w->prev[k])
			w->prev[k]->next[k] = w->next[k];
		else
			pd->wq[k] = w->next[k];
		if (w->next[k])
			w->next[k]->prev[k] = w->prev[k];
	}
	w->listed = false;
	/*
	 * The last waiter gone while an M blocks in epoll_wait with no timer:
	 * it must stop holding the sleeper role, or the deadlock check (which
	 * waits for every M to be idle) could never run again.
	 */
	if (w->user)
		atomic_fetch_sub(&weft__np.user_waiters, 1);
	if (atomic_fetch_sub(&weft__np.waiters, 1) == 1 && atomic_load(&weft__np.lastpoll) == 0)
		weft__netpoll_break();
}

/*
 * Lock held: take every waiter of direction @d off the lists; those whose
 * deadline did not claim them first get @result and go on @l.
 */
static void take_waiters(struct pd *pd, int d, int result, struct weft__netlist *l)
{
	struct weft__pwait *w;

	while ((w = pd->wq[d])) {
		int zero = 0;

		unlist(w);
		if (!atomic_compare_exchange_strong(&w->claimed, &zero, 1))
			continue; /* its timer readied it; it will look at the lists */
		w->result = result;
		w->chain = l->head;
		l->head = w;
		l->n++;
	}
}

/*
 * Register @fd (descriptor @pd, state NEW, lock held) with epoll, making
 * it non-blocking. 0, or -errno; EPERM (a regular file) marks it FILE.
 */
static int pd_register(struct pd *pd, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET };
	struct stat st;
	int flags = fcntl(fd, F_GETFL);

	if (flags < 0)
		return -errno;
	ev.data.u64 = pd_tag(fd, pd->seq);
	if (epoll_ctl(NP.epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		if (errno == EPERM) {
			atomic_store(&pd->state, PD_FILE);
			return 0;
		}
		/* Registered by an earlier incarnation of the number that was
		 * closed without weft_close while dup'ed: take it over. */
		if (errno != EEXIST || epoll_ctl(NP.epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
			return -errno;
	}
	if (!(flags & O_NONBLOCK) && fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
		int err = -errno;
		epoll_ctl(NP.epfd, EPOLL_CTL_DEL, fd, NULL);
		return err;
	}
	pd->sock = fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
	atomic_store_explicit(&pd->state, PD_POLL, memory_order_release);
	return 0;
}

/* The descriptor of @fd, registered (or marked FILE): 0 or -errno. */
static int pd_open(int fd, struct pd **out)
{
	struct pd *pd;
	int err;

	if (fd < 0)
		return -EBADF;
	if ((err = np_init()) != 0)
		return err;
	if (!(pd = pd_of(fd, true)))
		return fd >> PD_CHUNK_SHIFT >= PD_NCHUNKS ? -EMFILE : -ENOMEM;
	*out = pd;
	/* A weft_close of this number is in progress: let it finish, so that
	 * we register the fd that exists after it (or get EBADF). */
	while (atomic_load_explicit(&pd->state, memory_order_acquire) == PD_CLOSING)
		sched_yield();
	if (atomic_load_explicit(&pd->state, memory_order_acquire) != PD_NEW)
		return 0;
	weft__spin_lock(&pd->lock);
	err = atomic_load(&pd->state) == PD_NEW ? pd_register(pd, fd) : 0;
	weft__spin_unlock(&pd->lock);
	return err;
}

/*
 * @fd was just made by us (socket, accept): whatever the descriptor
 * remembers belongs to an fd closed without weft_close. Forget it (its
 * waiters wake with -ECANCELED) and register afresh.
 */
static int pd_fresh(int fd, struct pd **out)
{
	struct weft__netlist l = { NULL, 0 };
	struct pd *pd;
	int err;

	if ((err = np_init()) != 0)
		return err;
	if (!(pd = pd_of(fd, true)))
		return fd >> PD_CHUNK_SHIFT >= PD_NCHUNKS ? -EMFILE : -ENOMEM;
	weft__spin_lock(&pd->lock);
	take_waiters(pd, DIR_R, -ECANCELED, &l);
	take_waiters(pd, DIR_W, -ECANCELED, &l);
	atomic_fetch_add(&pd->seq, 1);
	atomic_store(&pd->state, PD_NEW);
	err = pd_register(pd, fd);
	weft__spin_unlock(&pd->lock);
	weft__netlist_ready(&l, NULL);
	*out = pd;
	return err;
}

/* ---- polling ------------------------------------------------------------------ */

static int epoll_wait_ns(struct epoll_event *evs, int64_t timeout_ns)
{
	int ms;

	if (timeout_ns <= 0)
		return epoll_wait(NP.epfd, evs, NEVENTS, timeout_ns < 0 ? -1 : 0);
#ifdef SYS_epoll_pwait2
	{
		/* Nanosecond timeouts (Linux 5.11): a timer sleeper must not
		 * round a 50 us sleep up to a millisecond. */
		static _Atomic int no_pwait2;
		if (!atomic_load_explicit(&no_pwait2, memory_order_relaxed)) {
			struct timespec ts = { timeout_ns / 1000000000, timeout_ns % 1000000000 };
			long r = syscall(SYS_epoll_pwait2, NP.epfd, evs, NEVENTS, &ts, NULL, 0);
			if (r >= 0 || errno != ENOSYS)
				return (int)r;
			atomic_store_explicit(&no_pwait2, 1, memory_order_relaxed);
		}
	}
#endif
	ms = timeout_ns >= (int64_t)INT32_MAX * 1000000 ? INT32_MAX
							 : (int)((timeout_ns + 999999) / 1000000);
	return epoll_wait(NP.epfd, evs, NEVENTS, ms);
}

#ifdef WEFT_DEBUG
/*
 * --enable-debug builds: WEFT_DEBUG_POLL_DELAY_US=N makes a poller that is
 * about to block wait N us first, between its caller's look at the waiters
 * and its epoll_wait: the window in which the last waiter may leave
 * (tests/check_net.c test_deadlock_after_last_waiter).
 */
static void debug_poll_delay(void)
{
	static _Atomic long delay_us = -1;
	long us = atomic_load_explicit(&delay_us, memory_order_relaxed);

	if (us < 0) {
		const char *e = getenv("WEFT_DEBUG_POLL_DELAY_US");
		us = e ? atol(e) : 0;
		atomic_store_explicit(&delay_us, us > 0 ? us : 0, memory_order_relaxed);
	}
	if (us > 0)
		usleep((useconds_t)us);
}
#else
static inline void debug_poll_delay(void)
{
}
#endif

int weft__netpoll(int64_t timeout_ns, struct weft__netlist *l)
{
	struct epoll_event evs[NEVENTS];
	int n, before = l->n;

	if (!weft__netpoll_inited())
		return 0;
	if (timeout_ns != 0) {
		debug_poll_delay();
		atomic_store(&weft__np.lastpoll, 0);
		/*
		 * Our caller saw a waiter; the last one may have left since,
		 * its edge taken by another P's poll, and unlist breaks a
		 * poller only once lastpoll is 0. Both sides store, then load
		 * (seq_cst): it saw our 0 and breaks us, or we see no waiter
		 * here. Blocking with no timeout and nobody left to wake us
		 * would hold the sleeper role for ever, and hide a deadlock.
		 */
		if (timeout_ns < 0 && !weft__netpoll_waiting())
			timeout_ns = 0;
	}
	if (timeout_ns != 0)
		atomic_fetch_add(&weft__np.pollgen, 1); /* odd: maybe blocked, no event taken */
	n = epoll_wait_ns(evs, timeout_ns);
	if (timeout_ns != 0)
		atomic_fetch_add(&weft__np.pollgen, 1); /* even: events may be taken */
	int64_t now = weft__nanotime();
	atomic_store(&weft__np.lastpoll, now);
	weft__coarse_tick(now);
	for (int i = 0; i < n; i++) {
		uint64_t tag = evs[i].data.u64;
		uint32_t e = evs[i].events;
		struct pd *pd;

		if (tag == BREAK_TAG) {
			uint64_t v;
			if (read(NP.evfd, &v, sizeof(v)) < 0) { /* nothing to do: EAGAIN */
			}
			atomic_store(&NP.breaking, 0);
			continue;
		}
		if (!(pd = pd_of((int)(uint32_t)tag, false)))
			continue;
		weft__spin_lock(&pd->lock);
		if (pd->seq == (uint32_t)(tag >> 32) && atomic_load(&pd->state) == PD_POLL) {
			if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
				atomic_fetch_add(&pd->gen[DIR_R], 1);
				take_waiters(pd, DIR_R, 0, l);
			}
			if (e & (EPOLLOUT | EPOLLHUP | EPOLLERR)) {
				atomic_fetch_add(&pd->gen[DIR_W], 1);
				take_waiters(pd, DIR_W, 0, l);
			}
		}
		weft__spin_unlock(&pd->lock);
	}
	return l->n - before;
}

void weft__netpoll_break(void)
{
	uint64_t one = 1;

	if (!weft__netpoll_inited() || atomic_exchange(&NP.breaking, 1))
		return;
	if (write(NP.evfd, &one, sizeof(one)) < 0) { /* full: a wake-up is pending anyway */
	}
}

void weft__netlist_ready(struct weft__netlist *l, struct weft__p *p)
{
	struct weft__pwait *w = l->head, *next;
	int64_t job = w ? weft__nanotime() : 0; /* one job per poll (sched.c, "Jobs") */

	for (bool first = true; w; first = false) {
		next = w->chain; /* @w's frame may be gone once its task runs */
		weft__ready_polled(w->t, p, first, job);
		w = next;
	}
	l->head = NULL;
	l->n = 0;
}

bool weft__netpoll_find(struct weft__p *p)
{
	struct weft__netlist l = { NULL, 0 };

	WEFT__ASSERT(weft__owns(p));
	if (!weft__netpoll_waiting() || atomic_load(&weft__np.lastpoll) == 0)
		return false;
	if (weft__netpoll(0, &l) == 0)
		return false;
	weft__netlist_ready(&l, p);
	return true;
}

void weft__netpoll_sysmon(int64_t now)
{
	struct weft__netlist l = { NULL, 0 };
	int64_t last;

	if (!weft__netpoll_waiting())
		return;
	last = atomic_load(&weft__np.lastpoll);
	if (last == 0 || now - last < SYSMON_POLL_NS)
		return;
	if (weft__netpoll(0, &l) > 0)
		weft__netlist_ready(&l, NULL);
}

void weft__netpoll_fini(void)
{
	WEFT__ASSERT(weft__sched.mcount == 0);
	if (!atomic_load(&weft__np.inited))
		return;
	close(NP.evfd);
	close(NP.epfd);
	NP.evfd = NP.epfd = -1;
	for (int c = 0; c < PD_NCHUNKS; c++) {
		struct pd *chunk = atomic_exchange(&NP.chunks[c], NULL);
		free(chunk);
	}
	atomic_store(&NP.breaking, 0);
	atomic_store(&weft__np.waiters, 0);
	atomic_store(&weft__np.user_waiters, 0);
	atomic_store(&weft__np.lastpoll, 0);
	atomic_store(&weft__np.inited, 0);
}

/* ---- waiting ------------------------------------------------------------------ */

/*
 * A deadline passed. Like select's timeout, it takes no lock: it may fire
 * in the park window of a task that holds this very descriptor's lock
 * (HACKING.md §4.2). It claims the waiter and readies it; the waiter takes
 * itself off the lists.
 */
static void wait_timeout(struct weft__timer *tm, struct weft__p *runp)
{
	struct weft__pwait *w = tm->arg;
	int zero = 0;

	if (!atomic_compare_exchange_strong(&w->claimed, &zero, 1))
		return; /* an edge or a close was first */
	w->result = -ETIMEDOUT;
	weft__ready_on(runp, w->t);
}

/*
 * The first waiter, whose P stays busy (the parker's M went on to another
 * task): make sure an M blocks in epoll_wait while other Ps idle. A timer
 * sleeper on its futex (the poller did not exist when it began) is kicked
 * into epoll; with no sleeper and an idle P, an M is started, which finds
 * nothing to run and becomes the poller. Otherwise only sysmon would look,
 * every 10 ms. When the parker's P has nothing else to run (its M is on
 * g0), that M becomes the poller itself: no nudge, or a lone connection
 * would wake a second M per message.
 */
static void nudge_poller(void)
{
	if (atomic_load(&S.tsleeper)) {
		if (!atomic_load(&S.tpolling))
			weft__timers_kick();
	} else if (atomic_load(&S.npidle) > 0) {
		weft__wakep();
	}
}

/* weft__park's unlockf: the waiter is off its stack. */
static void wait_arm(void *arg)
{
	struct weft__pwait *w = arg;

	bool first = w->first;

	WEFT__ASSERT(weft__in_unlockf());
	if (w->timer.fn)
		weft__timer_add(weft__getm()->p, &w->timer);
	weft__spin_unlock(&w->pd->lock);
	/* From here on @w may be woken and its frame gone. */
	if (first && weft__getm()->curg)
		nudge_poller();
}

static const char *const wait_call[] = { "weft_fd_wait", "weft_read", "weft_write",
					  "weft_net_accept", "weft_net_dial" };
enum { CALL_WAIT, CALL_READ, CALL_WRITE, CALL_ACCEPT, CALL_DIAL };

/*
 * The running task waits on @pd for @events until an edge moves a counter
 * past @snap (the values before the caller's syscall), the deadline passes,
 * or weft_close. 0, -ETIMEDOUT, -ECANCELED (also when the fd was closed
 * with weft_close since @snap, before we could queue).
 */
static int task_wait(struct pd *pd, int events, const struct snap *snap, int64_t deadline,
		     int call, const void *site)
{
	struct weft__m *m = weft__getm();
	struct weft__pwait w;
	int reason = events & WEFT_FD_READ ? WEFT_TRACE_BLOCK_NET_READ : WEFT_TRACE_BLOCK_NET_WRITE;

	if (__builtin_expect(weft__world_stopped(), 0))
		weft__stw_forbid(wait_call[call]);
	memset(&w, 0, sizeof(w));
	weft__spin_lock(&pd->lock);
	if (atomic_load(&pd->seq) != snap->seq || atomic_load(&pd->state) != PD_POLL) {
		weft__spin_unlock(&pd->lock);
		return -ECANCELED;
	}
	for (int d = 0; d < 2; d++) {
		if ((events & (1 << d)) && atomic_load(&pd->gen[d]) != snap->gen[d]) {
			weft__spin_unlock(&pd->lock); /* an edge came since: try again */
			return 0;
		}
	}
	if (deadline >= 0 && deadline <= weft__nanotime()) {
		weft__spin_unlock(&pd->lock);
		return -ETIMEDOUT;
	}
	w.t = m->curg;
	w.pd = pd;
	w.events = events;
	for (int d = 0; d < 2; d++) {
		if (!(events & (1 << d)))
			continue;
		w.next[d] = pd->wq[d];
		if (w.next[d])
			w.next[d]->prev[d] = &w;
		pd->wq[d] = &w;
	}
	w.listed = true;
	atomic_init(&w.claimed, 0);
	w.first = atomic_fetch_add(&weft__np.waiters, 1) == 0;
	if ((w.user = !weft__task_is_system(w.t)))
		atomic_fetch_add(&weft__np.user_waiters, 1);
	if (deadline >= 0) {
		w.timer.when = deadline;
		w.timer.fn = wait_timeout;
		w.timer.arg = &w;
		atomic_init(&w.timer.p, NULL);
		atomic_init(&w.timer.firing, 0);
	}
	/* The call site as the trace records it: a TLS value, and this task
	 * may have moved to another M since its call began. */
	weft__site = site;
	weft__park(reason, pd, wait_arm, &w);
	if (deadline >= 0)
		weft__timer_del(&w.timer); /* waits for a fn still running */
	if (w.result == -ETIMEDOUT) {
		/* The timer claimed us without the lock: we may still be listed
		 * (an edge or close unlists under the lock before claiming). */
		weft__spin_lock(&pd->lock);
		if (w.listed)
			unlist(&w);
		weft__spin_unlock(&pd->lock);
	}
	return w.result;
}

/* A plain thread: poll(2) until @events or @deadline. 0, -ETIMEDOUT, -errno. */
static int plain_wait(int fd, int events, int64_t deadline)
{
	struct pollfd p = { fd, 0, 0 };

	if (events & WEFT_FD_READ)
		p.events |= POLLIN | POLLRDHUP;
	if (events & WEFT_FD_WRITE)
		p.events |= POLLOUT;
	for (;;) {
		struct timespec ts, *tsp = NULL;
		int r;

		if (deadline >= 0) {
			int64_t left = deadline - weft__nanotime();
			if (left < 0)
				left = 0;
			ts.tv_sec = left / 1000000000;
			ts.tv_nsec = left % 1000000000;
			tsp = &ts;
		}
		r = ppoll(&p, 1, tsp, NULL);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0) {
			if (deadline >= 0 && weft__nanotime() < deadline)
				continue;
			return -ETIMEDOUT;
		}
		if (p.revents & POLLNVAL)
			return -EBADF;
		return 0;
	}
}

static inline bool on_task(void)
{
	struct weft__m *m = weft__getm();
	return m && m->curg;
}

/* The counters before a syscall, for task_wait. */
static inline void snapshot(struct pd *pd, struct snap *snap)
{
	snap->seq = atomic_load_explicit(&pd->seq, memory_order_acquire);
	snap->gen[0] = atomic_load_explicit(&pd->gen[0], memory_order_acquire);
	snap->gen[1] = atomic_load_explicit(&pd->gen[1], memory_order_acquire);
}

/* ---- the public calls ------------------------------------------------------- */

WEFT_API int weft_fd_wait(int fd, int events, int64_t deadline_ns)
{
	struct pollfd p = { fd, 0, 0 };
	struct snap snap;
	struct pd *pd;
	int err;

	const void *site = __builtin_return_address(0);

	if (!(events & (WEFT_FD_READ | WEFT_FD_WRITE)) || (events & ~(WEFT_FD_READ | WEFT_FD_WRITE)))
		return -EINVAL;
	if (fd < 0)
		return -EBADF;
	if (!on_task())
		return plain_wait(fd, events, deadline_ns);
	if ((err = pd_open(fd, &pd)) != 0)
		return err;
	if (atomic_load(&pd->state) == PD_FILE)
		return -EPERM;
	/*
	 * Level, not edge: the caller may not have drained the fd, so look
	 * with poll(2) first; an edge after the snapshot still wakes us.
	 */
	snapshot(pd, &snap);
	p.events = (short)((events & WEFT_FD_READ ? POLLIN | POLLRDHUP : 0) |
			   (events & WEFT_FD_WRITE ? POLLOUT : 0));
	if (poll(&p, 1, 0) > 0)
		return p.revents & POLLNVAL ? -EBADF : 0;
	return task_wait(pd, events, &snap, deadline_ns, CALL_WAIT, site);
}

/* A regular file: the call inside the syscall handoff. */
static ssize_t file_io(int fd, void *buf, size_t n, bool wr, const void *site)
{
	ssize_t r;
	int err;

	weft__syscall_enter_at(site); /* the caller of weft_read/write */
	do
		r = wr ? write(fd, buf, n) : read(fd, buf, n);
	while (r < 0 && errno == EINTR);
	err = errno;
	weft_syscall_exit();
	return r < 0 ? -err : r;
}

WEFT_API ssize_t weft_read(int fd, void *buf, size_t n, int64_t deadline_ns)
{
	struct pd *pd;
	struct snap snap;
	ssize_t r;
	int err;

	const void *site = __builtin_return_address(0);

	if (fd < 0)
		return -EBADF;
	if (!on_task()) {
		/* Wait first (the fd may be blocking); a poll with the deadline
		 * past still says "ready" when data is there. */
		for (;;) {
			if ((err = plain_wait(fd, WEFT_FD_READ, deadline_ns)) != 0)
				return err;
			r = read(fd, buf, n);
			if (r >= 0)
				return r;
			if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
				return -errno;
		}
	}
	if ((err = pd_open(fd, &pd)) != 0)
		return err;
	if (atomic_load(&pd->state) == PD_FILE)
		return file_io(fd, buf, n, false, site);
	for (bool parked = false;; parked = true) {
		snapshot(pd, &snap);
		r = read(fd, buf, n);
		if (r >= 0) {
			if (!parked)
				weft__job_arrived(); /* parked: the poll that readied us did */
			return r;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		if ((err = task_wait(pd, WEFT_FD_READ, &snap, deadline_ns, CALL_READ, site)) != 0)
			return err;
	}
}

/* Wait for @events on @fd: a task parks (with @snap as in task_wait), a
 * plain thread polls. */
static int wait_for(struct pd *pd, int fd, int events, const struct snap *snap,
		    int64_t deadline, int call, const void *site)
{
	if (on_task())
		return task_wait(pd, events, snap, deadline, call, site);
	return plain_wait(fd, events, deadline);
}

static ssize_t write_some(struct pd *pd, int fd, const void *buf, size_t n)
{
	ssize_t r;

	if (!pd || pd->sock) {
		r = send(fd, buf, n, MSG_NOSIGNAL);
		if (pd || r >= 0 || errno != ENOTSOCK)
			return r;
	}
	return write(fd, buf, n);
}

WEFT_API ssize_t weft_write(int fd, const void *buf, size_t n, int64_t deadline_ns)
{
	const char *p = buf;
	struct pd *pd = NULL;
	struct snap snap = { 0, { 0, 0 } };
	size_t done = 0;
	int err;

	const void *site = __builtin_return_address(0);

	if (fd < 0)
		return -EBADF;
	if (n > SSIZE_MAX)
		return -EINVAL;
	if (on_task()) {
		if ((err = pd_open(fd, &pd)) != 0)
			return err;
		if (atomic_load(&pd->state) == PD_FILE) {
			while (done < n) {
				ssize_t r = file_io(fd, (void *)(p + done), n - done, true, site);
				if (r <= 0)
					return done ? (ssize_t)done : r < 0 ? r : -EIO;
				done += (size_t)r;
			}
			return (ssize_t)n;
		}
	}
	while (done < n || n == 0) {
		ssize_t r;

		if (pd)
			snapshot(pd, &snap);
		r = write_some(pd, fd, p + done, n - done);
		if (r >= 0) {
			done += (size_t)r;
			if (n == 0)
				break;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return done ? (ssize_t)done : -errno;
		if ((err = wait_for(pd, fd, WEFT_FD_WRITE, &snap, deadline_ns, CALL_WRITE, site)) != 0)
			return done ? (ssize_t)done : err;
	}
	return (ssize_t)n;
}

WEFT_API int weft_close(int fd)
{
	struct weft__netlist l = { NULL, 0 };
	struct pd *pd = NULL;
	bool registered = false;
	int r;

	if (fd < 0)
		return -EBADF;
	if (weft__netpoll_inited() && (pd = pd_of(fd, false))) {
		weft__spin_lock(&pd->lock);
		registered = atomic_load(&pd->state) == PD_POLL;
		atomic_fetch_add(&pd->seq, 1); /* events already queued for it are stale */
		atomic_store(&pd->state, PD_CLOSING);
		take_waiters(pd, DIR_R, -ECANCELED, &l);
		take_waiters(pd, DIR_W, -ECANCELED, &l);
		weft__spin_unlock(&pd->lock);
		/* A dup of the fd would keep the registration alive: drop it. */
		if (registered)
			epoll_ctl(NP.epfd, EPOLL_CTL_DEL, fd, NULL);
	}
	r = close(fd) < 0 ? -errno : 0;
	if (pd) {
		/* Only now may the number be registered again (pd_open waited;
		 * pd_fresh, for a new fd of ours, may already have). */
		uint8_t closing = PD_CLOSING;
		atomic_compare_exchange_strong(&pd->state, &closing, PD_NEW);
	}
	if (l.n) {
		struct weft__m *m = weft__getm();
		if (!m)
			weft__extern_enter(); /* a plain thread that wakes tasks */
		weft__netlist_ready(&l, m && m->curg ? weft__trace_p(m) : NULL);
	}
	return r;
}

/* ---- addresses ----------------------------------------------------------------- */

struct target {
	bool is_unix;
	struct sockaddr_un un;
	socklen_t unlen;
	struct addrinfo *ai; /* freeaddrinfo */
};

static int gai_errno(int e)
{
	switch (e) {
	case EAI_AGAIN: return -EAGAIN;
	case EAI_MEMORY: return -ENOMEM;
	case EAI_SYSTEM: return errno ? -errno : -EIO;
	case EAI_FAMILY:
	case EAI_SERVICE:
	case EAI_SOCKTYPE:
	case EAI_BADFLAGS: return -EINVAL;
	default: return -ENOENT; /* EAI_NONAME, EAI_NODATA, EAI_FAIL */
	}
}

/*
 * @addr ("host:port", "[v6]:port", "unix:/path") into @tg. Numeric hosts
 * need no lookup; names go to getaddrinfo inside the syscall handoff
 * (it may wait for DNS).
 */
static int resolve(const char *addr, bool passive, struct target *tg, const void *site)
{
	struct addrinfo hints = { 0 };
	char host[256], port[8];
	const char *colon, *h, *pstr;
	size_t hlen;
	int e;

	memset(tg, 0, sizeof(*tg));
	if (!addr)
		return -EINVAL;
	if (!strncmp(addr, "unix:", 5)) {
		size_t len = strlen(addr + 5);
		if (len == 0)
			return -EINVAL;
		if (len >= sizeof(tg->un.sun_path))
			return -ENAMETOOLONG;
		tg->is_unix = true;
		tg->un.sun_family = AF_UNIX;
		memcpy(tg->un.sun_path, addr + 5, len + 1);
		tg->unlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
		return 0;
	}
	if (addr[0] == '[') {
		const char *close = strchr(addr, ']');
		if (!close || close[1] != ':')
			return -EINVAL;
		h = addr + 1;
		hlen = (size_t)(close - h);
		pstr = close + 2;
		if (hlen == 0)
			return -EINVAL;
	} else {
		colon = strrchr(addr, ':');
		if (!colon)
			return -EINVAL;
		h = addr;
		hlen = (size_t)(colon - addr);
		pstr = colon + 1;
		if (memchr(h, ':', hlen))
			return -EINVAL; /* an IPv6 address needs its brackets */
	}
	if (hlen >= sizeof(host))
		return -EINVAL;
	if (!*pstr || strlen(pstr) > 5 || strspn(pstr, "0123456789") != strlen(pstr) ||
	    atoi(pstr) > 65535)
		return -EINVAL;
	memcpy(host, h, hlen);
	host[hlen] = 0;
	if (hlen == 0)
		strcpy(host, "127.0.0.1"); /* loopback unless asked otherwise */
	snprintf(port, sizeof(port), "%s", pstr);
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
	e = getaddrinfo(host, port, &hints, &tg->ai);
	if (e == EAI_NONAME) {
		if (addr[0] == '[')
			return -EINVAL; /* brackets hold an address, not a name */
		hints.ai_flags &= ~AI_NUMERICHOST;
		weft__syscall_enter_at(site);
		e = getaddrinfo(host, port, &hints, &tg->ai);
		weft_syscall_exit();
	}
	if (e)
		return gai_errno(e);
	return 0;
}

static void target_free(struct target *tg)
{
	if (tg->ai)
		freeaddrinfo(tg->ai);
}

static void set_nodelay(int fd, int family)
{
	int one = 1;

	if (family == AF_INET || family == AF_INET6)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

WEFT_API int weft_net_listen(const char *addr, int backlog)
{
	struct target tg;
	struct pd *pd;
	int fd = -1, err;

	const void *site = __builtin_return_address(0);

	if ((err = resolve(addr, true, &tg, site)) != 0)
		return err;
	if (backlog <= 0)
		backlog = SOMAXCONN;
	err = -EINVAL;
	if (tg.is_unix) {
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			err = -errno;
		else if (bind(fd, (struct sockaddr *)&tg.un, tg.unlen) < 0 || listen(fd, backlog) < 0) {
			err = -errno;
			close(fd);
			fd = -1;
		}
	}
	for (struct addrinfo *ai = tg.ai; ai && fd < 0; ai = ai->ai_next) {
		int one = 1;

		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			err = -errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, backlog) < 0) {
			err = -errno;
			close(fd);
			fd = -1;
		}
	}
	target_free(&tg);
	if (fd < 0)
		return err;
	if ((err = pd_fresh(fd, &pd)) != 0) {
		close(fd);
		return err;
	}
	return fd;
}

WEFT_API int weft_net_accept(int lfd, int64_t deadline_ns)
{
	struct pd *pd = NULL, *npd;
	struct snap snap = { 0, { 0, 0 } };
	int err;

	const void *site = __builtin_return_address(0);

	if (lfd < 0)
		return -EBADF;
	if (on_task() && (err = pd_open(lfd, &pd)) != 0)
		return err;
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int fd;

		if (pd)
			snapshot(pd, &snap);
		else if ((err = plain_wait(lfd, WEFT_FD_READ, deadline_ns)) != 0)
			return err;
		fd = accept4(lfd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			set_nodelay(fd, ss.ss_family);
			if ((err = pd_fresh(fd, &npd)) != 0) {
				close(fd);
				return err;
			}
			if (pd)
				weft__job_arrived(); /* each connection is an arrival */
			return fd;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		if (pd && (err = task_wait(pd, WEFT_FD_READ, &snap, deadline_ns, CALL_ACCEPT, site)) != 0)
			return err;
	}
}

/* Connect the fresh socket @fd to @sa; 0 or -errno (the fd stays open). */
static int connect_one(int fd, const struct sockaddr *sa, socklen_t salen, int64_t deadline,
		       const void *site)
{
	struct pd *pd;
	struct snap snap;
	int err;

	if (connect(fd, sa, salen) == 0)
		return pd_fresh(fd, &pd);
	if (errno != EINPROGRESS && errno != EINTR)
		return -errno;
	if ((err = pd_fresh(fd, &pd)) != 0)
		return err;
	for (;;) {
		struct sockaddr_storage peer;
		socklen_t len = sizeof(peer);
		int soerr = 0;
		socklen_t sl = sizeof(soerr);

		snapshot(pd, &snap);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
			return -errno;
		if (soerr)
			return -soerr;
		if (getpeername(fd, (struct sockaddr *)&peer, &len) == 0)
			return 0;
		if (errno != ENOTCONN)
			return -errno;
		if ((err = wait_for(pd, fd, WEFT_FD_WRITE, &snap, deadline, CALL_DIAL, site)) != 0)
			return err;
	}
}

WEFT_API int weft_net_dial(const char *addr, int64_t deadline_ns)
{
	struct target tg;
	int err, fd;

	const void *site = __builtin_return_address(0);

	if ((err = resolve(addr, false, &tg, site)) != 0)
		return err;
	if (tg.is_unix) {
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		if ((err = connect_one(fd, (struct sockaddr *)&tg.un, tg.unlen, deadline_ns, site)) != 0) {
			weft_close(fd);
			return err;
		}
		return fd;
	}
	err = -ENOENT;
	for (struct addrinfo *ai = tg.ai; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			err = -errno;
			continue;
		}
		err = connect_one(fd, ai->ai_addr, ai->ai_addrlen, deadline_ns, site);
		if (err == 0) {
			set_nodelay(fd, ai->ai_family);
			target_free(&tg);
			return fd;
		}
		weft_close(fd);
		if (err == -ETIMEDOUT || err == -ECANCELED)
			break; /* the deadline is for the whole dial */
	}
	target_free(&tg);
	return err;
}

WEFT_API int weft_net_addr(int fd, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char ip[INET6_ADDRSTRLEN], out[sizeof(((struct sockaddr_un *)0)->sun_path) + 16];
	int n;

	if (len)
		buf[0] = 0;
	if (fd < 0)
		return -EBADF;
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
		return -errno;
	switch (ss.ss_family) {
	case AF_INET: {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
		n = snprintf(out, sizeof(out), "%s:%u", ip, ntohs(a->sin_port));
		break;
	}
	case AF_INET6: {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
		n = snprintf(out, sizeof(out), "[%s]:%u", ip, ntohs(a->sin6_port));
		break;
	}
	case AF_UNIX: {
		struct sockaddr_un *a = (struct sockaddr_un *)&ss;
		size_t plen = sl > offsetof(struct sockaddr_un, sun_path)
				      ? sl - offsetof(struct sockaddr_un, sun_path)
				      : 0;
		if (plen > 0 && a->sun_path[0] == 0)
			/* Abstract: "unix:@name", as ss(8) shows it. */
			n = snprintf(out, sizeof(out), "unix:@%.*s", (int)(plen - 1), a->sun_path + 1);
		else
			n = snprintf(out, sizeof(out), "unix:%.*s", (int)strnlen(a->sun_path, plen),
				     a->sun_path);
		break;
	}
	default:
		return -EAFNOSUPPORT;
	}
	if (n < 0 || (size_t)n >= len)
		return -ENOSPC;
	memcpy(buf, out, (size_t)n + 1);
	return n;
}

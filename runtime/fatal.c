/*
 * fatal.c - dying with a useful message: broken invariants (throw),
 * program mistakes (fatal), the deadlock report and the stack-overflow
 * handler.
 *
 * Stack overflow. Every task stack has an inaccessible gap below it
 * (stack.h says how large and why; stack.c how: PROT_NONE in a mapping of
 * its own, or a guard region in a slab, which faults the same way). Running into it raises SIGSEGV on the
 * overflowed stack, which has no room for a handler, so every M installs
 * an alternate signal stack (sigaltstack, ALTSTACK_SIZE) and the handler
 * runs there with SA_ONSTACK. A fault is an overflow of the task that runs
 * on the faulting thread (m->curg: the fault is synchronous, nobody else
 * can have caused it) when
 *  - its address lies in that task's gap, or within a gap's size below it
 *    (an unmapped hole where a stack below was unmapped; in a slab, the
 *    slot below is mapped and does not fault), or
 *  - the interrupted stack pointer (read from the signal's ucontext on
 *    x86-64 and AArch64) lies below the task's stack, in the gap or past
 *    it (by JUMP_MAX at most, and not on the M's alternate stack, where a
 *    handler of the program's may run), and the address is no more than a
 *    page below that pointer: a frame moved the pointer off the stack and
 *    its far end faulted, in another stack's gap or in a hole. A frame
 *    that large got there only without -fstack-clash-protection, so the
 *    message says so.
 * The handler then names the task (id, entry function, stack size) and
 * exits with status 2. Any other fault is not ours - a NULL or wild
 * pointer, on a task or not: the stack pointer is on the stack and the
 * address is not in its gap - and the handler puts back the disposition
 * it replaced and returns, the instruction faults again and the program
 * dies as it would have without weft (or the previously installed handler,
 * such as a sanitizer's, reports it).
 *
 * Rejected: finding the stack nearest to the fault address in a registry
 * of every mapped stack, and naming its task. When a frame jumps a whole
 * neighbour, the nearest stack above the fault is the neighbour's, which
 * did not overflow; the stack pointer says which stack did, and needs no
 * registry that the handler would have to read while Ms change it.
 *
 * Deadlock. When the last M goes idle (stopm) and nothing could wake a
 * task - no M in a syscall, no plain thread that called into weft still
 * alive, no thread created since weft_main() started, no queued work, no
 * timer pending (a sleeping task is not deadlocked) -
 * the report lists every task that waits, with its entry function and what
 * it waits on, and exits with status 2 (Go's "all goroutines are asleep").
 * The debug server's tasks (debug.c) are neither counted nor listed: they
 * wake none of the program's tasks, and a program serving /debug/weft/
 * deadlocks as it would without it (reported within sysmon's 100 ms
 * idle recheck when the only M not idle is the one in epoll_wait for the
 * server's fds).
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include "internal.h"
#include "netpoll.h"
#include "os.h"
#include "symbol.h"

#define S weft__sched
#define ALTSTACK_SIZE (64 * 1024)
/* How far below its stack a frame may have moved the stack pointer and
 * still be taken for an overflow of it (past that, not a frame). */
#define JUMP_MAX ((uintptr_t)1 << 30)

void weft__write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		p += w;
		n -= (size_t)w;
	}
}

void weft__wbuf_str(struct weft__wbuf *b, const char *s)
{
	while (*s && b->len + 1 < b->cap)
		b->p[b->len++] = *s++;
	b->p[b->len] = 0;
}

void weft__wbuf_u64(struct weft__wbuf *b, uint64_t v)
{
	char tmp[24];
	int i = (int)sizeof(tmp) - 1;

	tmp[i] = 0;
	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	weft__wbuf_str(b, tmp + i);
}

void weft__wbuf_hex(struct weft__wbuf *b, uint64_t v)
{
	char tmp[24];
	int i = (int)sizeof(tmp) - 1;

	tmp[i] = 0;
	do {
		tmp[--i] = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v);
	tmp[--i] = 'x';
	tmp[--i] = '0';
	weft__wbuf_str(b, tmp + i);
}

void weft__throw(const char *why)
{
	static const char pre[] = "weft: fatal error: ";

	weft__write_all(2, pre, sizeof(pre) - 1);
	weft__write_all(2, why, strlen(why));
	weft__write_all(2, "\n", 1);
	weft__trace_die(WEFT_TRACE_END_SIGNAL, SIGABRT, 0);
	abort();
}

void weft__fatal(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	memcpy(buf, "weft: fatal: ", 13);
	va_start(ap, fmt);
	n = vsnprintf(buf + 13, sizeof(buf) - 14, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	n += 13;
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	weft__write_all(2, buf, (size_t)n);
	weft__trace_die(WEFT_TRACE_END_FATAL, 2, 0);
	_exit(2);
}

/* ---- deadlock ----------------------------------------------------------- */

static void report_task(struct weft__task *t, void *arg)
{
	char line[512], name[256];
	struct weft__wbuf b = { line, 0, sizeof(line) };
	int st = atomic_load_explicit(&t->status, memory_order_relaxed);

	(void)arg;
	if (st != WEFT__T_WAITING && st != WEFT__T_RUNNABLE)
		return;
	if (weft__task_is_system(t))
		return; /* the debug server's: not part of the program's deadlock */
	weft__symbolize((const void *)t->fn, name, sizeof(name));
	weft__wbuf_str(&b, "  task ");
	weft__wbuf_u64(&b, t->id);
	weft__wbuf_str(&b, " (");
	weft__wbuf_str(&b, name);
	weft__wbuf_str(&b, "): ");
	if (st == WEFT__T_WAITING) {
		weft__wbuf_str(&b, "blocked on ");
		weft__wbuf_str(&b, weft_tf_block_name(t->wait_reason));
		if (t->wait_obj) {
			weft__wbuf_str(&b, " ");
			weft__wbuf_hex(&b, (uint64_t)(uintptr_t)t->wait_obj);
		}
	} else {
		weft__wbuf_str(&b, "runnable");
	}
	weft__wbuf_str(&b, "\n");
	weft__write_all(2, line, b.len);
}

static void deadlock_report(void)
{
	static const char head[] = "weft: fatal: all tasks are asleep - deadlock!\n\n";

	weft__write_all(2, head, sizeof(head) - 1);
	weft__tasks_foreach(report_task, NULL);
	weft__trace_die(WEFT_TRACE_END_FATAL, 2, 0);
	_exit(2);
}

struct census {
	long blocked, other;
};

static void count_task(struct weft__task *t, void *arg)
{
	struct census *c = arg;
	int st = atomic_load_explicit(&t->status, memory_order_relaxed);

	if (weft__task_is_system(t))
		return; /* the debug server's: it wakes none of the program's tasks */
	if (st == WEFT__T_WAITING)
		c->blocked++;
	else if (st == WEFT__T_RUNNABLE || st == WEFT__T_RUNNING || st == WEFT__T_SYSCALL)
		c->other++;
}

/*
 * sched lock held, by an M about to park or by sysmon. A deadlock is
 * reported only when it is one: the main task exists (not during start-up,
 * whatever woke sysmon early: a signal, a slow WEFT_TRACE open), no M runs,
 * nothing is queued, no timer is armed, at least one task is blocked and
 * every task is (a runnable one is on its way to a queue), no plain thread
 * is inside a weft call, and no thread exists that could still call in:
 * every thread of the process but ours (Ms, sysmon, helpers), the thread
 * that called weft_main and the sanitizers' own counts as a possible
 * waker, whenever it was made - as Go counts its cgo threads.
 */
void weft__checkdead(void)
{
	struct census c = { 0, 0 };
	int threads, poller = 0;
	uint64_t gen = 0;

	WEFT__ASSERT(weft__sched_locked() && !weft__on_task());
	if (atomic_load(&S.shutdown) || atomic_load(&S.stw_owner) || !atomic_load(&S.main_task))
		return;
	if (S.nmidle < S.mcount) {
		/*
		 * An M runs or is in a syscall - unless the one M not idle is
		 * the timer sleeper blocked in epoll_wait (tpolling) with no
		 * timer armed (checked below) and no fd waiter of the
		 * program's: it waits for the debug server's fds alone, and
		 * nothing it could take would wake a task of the program.
		 * pollgen odd and unchanged across the census says it took
		 * no event meanwhile (netpoll.c, seq_cst both sides).
		 */
		gen = atomic_load(&weft__np.pollgen);
		if (S.nmidle + 1 != S.mcount || !atomic_load(&S.tpolling) || !(gen & 1))
			return;
		poller = 1;
	}
	if (atomic_load(&S.nextern) > 0 || atomic_load(&S.gq_len) > 0)
		return;
	if (weft__netpoll_user_waiting())
		return; /* a task waits on an fd: the outside world may wake it */
	for (int i = 0; i < atomic_load(&S.nprocs); i++)
		if (weft__p_has_work(S.allp[i]) || atomic_load(&S.allp[i]->timer0) != 0)
			return; /* work queued, or a timer will ready a task */
	/* Any thread besides ours might still wake a task. */
	threads = weft__proc_threads();
	if (threads < 0 || threads > S.baseline_threads + S.mcount + 1 + atomic_load(&S.nhelpers))
		return;
	weft__tasks_foreach(count_task, &c);
	if (c.blocked == 0 || c.other > 0)
		return;
	if (poller && (atomic_load(&weft__np.pollgen) != gen || !atomic_load(&S.tpolling)))
		return; /* the poller woke: what it took may wake a task */
	deadlock_report();
}

/* ---- stack overflow -------------------------------------------------------- */

static struct sigaction old_segv, old_bus;
static bool installed;

/* The interrupted stack pointer, or 0 where we cannot read it. */
static uintptr_t fault_sp(void *uc)
{
	const ucontext_t *u = uc;

#if defined(__x86_64__)
	return (uintptr_t)u->uc_mcontext.gregs[REG_RSP];
#elif defined(__aarch64__)
	return (uintptr_t)u->uc_mcontext.sp;
#else
	(void)u;
	return 0;
#endif
}

enum overflow { NOT_OURS, IN_GAP, JUMPED };

/* Is a fault at @addr with the stack pointer at @sp an overflow of the
 * stack mapped at @map, run by @m (see the essay)? */
static enum overflow classify(struct weft__m *m, void *map, uintptr_t addr, uintptr_t sp)
{
	uintptr_t lo = (uintptr_t)map;
	uintptr_t base = (uintptr_t)weft__stack_base(map);
	uintptr_t gap = base - lo;
	uintptr_t alt = (uintptr_t)m->altstack;

	if (addr < base && addr + gap >= lo)
		return addr >= lo ? IN_GAP : JUMPED;
	if (sp && sp < base && sp + JUMP_MAX >= lo && addr + weft__page_size() >= sp &&
	    !(sp >= alt && sp - alt < m->altstack_size))
		return JUMPED;
	return NOT_OURS;
}

static void on_fault(int sig, siginfo_t *si, void *uc)
{
	struct weft__m *m = weft__getm();
	struct weft__task *t = m ? m->curg : NULL;
	uintptr_t addr = (uintptr_t)si->si_addr;
	enum overflow how;

	if (t && t->stack && (how = classify(m, t->stack, addr, fault_sp(uc))) != NOT_OURS) {
		char line[640], name[256];
		struct weft__wbuf b = { line, 0, sizeof(line) };
		uintptr_t base = (uintptr_t)weft__stack_base(t->stack);

		weft__symbolize((const void *)t->fn, name, sizeof(name));
		weft__wbuf_str(&b, "weft: fatal: task ");
		weft__wbuf_u64(&b, t->id);
		weft__wbuf_str(&b, " (");
		weft__wbuf_str(&b, name);
		weft__wbuf_str(&b, ") overflowed its ");
		weft__wbuf_u64(&b, S.stack_size);
		weft__wbuf_str(&b, "-byte stack (fault at ");
		weft__wbuf_hex(&b, addr);
		if (addr < base) {
			weft__wbuf_str(&b, ", ");
			weft__wbuf_u64(&b, base - addr);
			weft__wbuf_str(&b, " bytes below it");
		}
		weft__wbuf_str(&b, "; raise WEFT_STACK)\n");
		if (how == JUMPED) {
			weft__wbuf_str(&b, "weft: a frame went past the ");
			weft__wbuf_u64(&b, weft__stack_gap());
			weft__wbuf_str(&b,
				       "-byte gap below the stack and may have written over "
				       "what lies below it: build with -fstack-clash-protection\n");
		}
		weft__write_all(2, line, b.len);
		weft__trace_die(WEFT_TRACE_END_FATAL, 2, 1);
		_exit(2);
	}
	/* Not ours: restore what was there and let the fault happen again.
	 * If that is the default, the process dies of it: finish the trace. */
	const struct sigaction *old = sig == SIGSEGV ? &old_segv : &old_bus;
	if (!(old->sa_flags & SA_SIGINFO) && old->sa_handler == SIG_DFL)
		weft__trace_die(WEFT_TRACE_END_SIGNAL, sig, 1);
	sigaction(sig, old, NULL);
}

int weft__signals_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSEGV, &sa, &old_segv) != 0)
		return -errno;
	if (sigaction(SIGBUS, &sa, &old_bus) != 0) {
		sigaction(SIGSEGV, &old_segv, NULL);
		return -errno;
	}
	installed = true;
	return 0;
}

void weft__signals_restore(void)
{
	if (!installed)
		return;
	sigaction(SIGSEGV, &old_segv, NULL);
	sigaction(SIGBUS, &old_bus, NULL);
	installed = false;
}

int weft__altstack_init(struct weft__m *m)
{
	stack_t ss;
	void *p = mmap(NULL, ALTSTACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);

	if (p == MAP_FAILED)
		return -ENOMEM;
	memset(&ss, 0, sizeof(ss));
	ss.ss_sp = p;
	ss.ss_size = ALTSTACK_SIZE;
	if (sigaltstack(&ss, NULL) != 0) {
		munmap(p, ALTSTACK_SIZE);
		return -errno;
	}
	m->altstack = p;
	m->altstack_size = ALTSTACK_SIZE;
	return 0;
}

void weft__altstack_fini(struct weft__m *m)
{
	stack_t ss;

	if (!m->altstack)
		return;
	memset(&ss, 0, sizeof(ss));
	ss.ss_flags = SS_DISABLE;
	sigaltstack(&ss, NULL);
	munmap(m->altstack, m->altstack_size);
	m->altstack = NULL;
}

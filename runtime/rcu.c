/*
 * rcu.c - the Ms as readers of liburcu's QSBR flavour: what lets
 * weft_trace_stop() take the per-P trace buffers back without stopping
 * the world (the protocol, and what it protects, is in trace.c,
 * "Stopping").
 *
 * Every M registers when its thread starts and unregisters when it ends.
 * While registered it is either online - then anything it does between
 * two quiescent states may be a read-side critical section - or offline,
 * a promise to touch no P's buffer until it is online again. A grace
 * period (urcu_qsbr_synchronize_rcu) ends once every online M has passed
 * a quiescent state or gone offline.
 *
 * Where (the callers keep to this list):
 *   - a quiescent state at every schedule point: each task start
 *     (run_task, and the in-place start in task_exit), each round of the
 *     scheduler loop on g0 (findrunnable) and a weft_yield() that finds
 *     nothing to switch to. weft_safepoint() passes one only while a
 *     grace period waits (WEFT__SP_RCU in weft__safepoint_pending), so
 *     that its fast path stays one load; with both, a task polling a
 *     flag does not hold up a trace stop, as it does not a stop of the
 *     world;
 *   - offline wherever an M may sleep for long: parked without a P
 *     (weft__stopm), the timer sleeper's futex, a stopper waiting for the
 *     Ps to stop, a task inside weft_syscall_enter/exit (whose events go
 *     to the global buffer, not its P's: weft__trace_p), and a task
 *     waiting for the tracer's start lock. An online M blocked on
 *     something that the thread waiting for a grace period must do first
 *     would deadlock with it: the grace period waits for the M, the M for
 *     the stopper, whose own P is held while it waits. A quiescent state
 *     asked for while offline (weft_safepoint in a syscall) is ignored:
 *     urcu's would bring the thread online.
 *
 * The check. urcu's inline quiescent state (_LGPL_SOURCE) reads the
 * reader's counter through a thread-local variable of liburcu-qsbr.so,
 * which from our shared library is a __tls_get_addr call - and, inlined
 * into a function that switches contexts, a thread-local address the
 * compiler may keep across the switch to another thread (see ctx.h). So
 * the M caches the two addresses when it registers, and the check inlined
 * at each schedule point is two loads and a compare with no thread-local
 * access (weft__rcu_quiescent); only when a grace period is under way does
 * it call the library, which is then on the right thread by construction.
 *
 * TSan cannot see liburcu's barriers (inline assembly in an uninstrumented
 * library), so it would report the stopper's reads of a buffer that a P
 * filled before its last quiescent state. Each quiescent state that
 * reports to a waiting grace period, each going offline and each
 * unregistering first releases one sync object, and the end of a grace
 * period acquires it: the order urcu guarantees, told to TSan (TSan builds
 * only; no suppressions).
 *
 * The flavour is the process's: a program that uses liburcu-qsbr itself
 * shares the registry, so its grace periods wait for the Ms too (and are
 * as short); it must not register an M again, and a task must not reach
 * a scheduling point inside a read-side critical section of its own.
 *
 * Rejected: the inline _urcu_qsbr_* functions at the schedule points (the
 * thread-local address above); registering sysmon, the flusher and plain
 * threads (none writes a P's buffer: sysmon and plain threads emit into
 * the global buffer, under its mutex, and the flusher emits nothing).
 */
#include "config.h"

#include <urcu/urcu-qsbr.h>
#include <urcu/static/urcu-qsbr.h> /* urcu_qsbr_gp and the reader's counter */

#include "internal.h"
#include "rcu.h"
#include "trace_emit.h"

static char tsan_gp; /* TSan: stands for the order a grace period gives */

void weft__rcu_register(struct weft__rcu_reader *r)
{
	urcu_qsbr_register_thread(); /* online */
	r->ctr = &URCU_TLS(urcu_qsbr_reader).ctr;
	r->gp = &urcu_qsbr_gp.ctr;
}

void weft__rcu_unregister(void)
{
	WEFT__TSAN_RELEASE(&tsan_gp);
	urcu_qsbr_unregister_thread();
}

/* A grace period waits for this M (or it is offline: then nothing). */
void weft__rcu_quiescent_slow(void)
{
	WEFT__ASSERT(weft__getm() != NULL); /* a registered M */
	if (!urcu_qsbr_read_ongoing())
		return; /* offline: a quiescent state would bring it online */
	WEFT__TSAN_RELEASE(&tsan_gp);
	urcu_qsbr_quiescent_state();
}

void weft__rcu_offline(void)
{
	WEFT__TSAN_RELEASE(&tsan_gp);
	urcu_qsbr_thread_offline();
}

void weft__rcu_online(void)
{
	urcu_qsbr_thread_online();
}

/*
 * Wait until every M has passed a quiescent state or been offline. Any
 * thread; an online M goes offline meanwhile (urcu does it), so the
 * caller must not be inside a read-side critical section.
 */
void weft__rcu_synchronize(void)
{
	urcu_qsbr_synchronize_rcu();
	WEFT__TSAN_ACQUIRE(&tsan_gp);
}

/* Lock @l; an online M that has to wait does so offline. */
void weft__rcu_mutex_lock(pthread_mutex_t *l)
{
	bool online;

	if (pthread_mutex_trylock(l) == 0)
		return;
	online = urcu_qsbr_read_ongoing();
	if (online)
		weft__rcu_offline();
	pthread_mutex_lock(l);
	if (online)
		weft__rcu_online();
}

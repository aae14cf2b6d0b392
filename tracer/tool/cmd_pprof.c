/*
 * cmd_pprof.c - weft-trace pprof: profiles derived from the trace, as
 * `go tool trace -pprof=TYPE` makes them from a Go trace, written in
 * pprof's format (profile.proto, gzip'd) for `go tool pprof`, speedscope
 * and Perfetto's UI.
 *
 * What. Every wait the model reports (its `wait` hook: a task stopped
 * being blocked, runnable or in a syscall) of the chosen kind becomes one
 * contention of its length, clipped to --from/--to, added to a sample
 * whose stack says where the time was lost:
 *
 *   sync     blocked on chan send, chan receive, select, mutex, wait
 *            group, semaphore (Go's GoBlockSend/Recv/Select/Sync/Cond):
 *            the call site where the task blocked, under its entry
 *            function. Not sleep (a timer, not a synchronisation: Go
 *            leaves GoSleep out too), not syscalls and not network waits
 *            (kinds of their own), not stop-the-world (waiting for the
 *            runtime, not for another task).
 *   net      blocked on net read or net write (the netpoller's waits in
 *            weft_read, weft_write, weft_fd_wait, weft_net_accept and
 *            weft_net_dial; Go's GoBlockNet, its -pprof=net): the call
 *            site under the entry function. The waits for the outside
 *            world, kept apart from the waits on the program's own tasks.
 *   sched    runnable until running (Go: GoUnblock/GoCreate to GoStart),
 *            keyed by who made the task runnable, as Go keys it by the
 *            waker's or creator's stack.
 *   syscall  between weft_syscall_enter and weft_syscall_exit, keyed by
 *            the site of the enter.
 *
 * The waker's site. TASK_CREATE records the spawn site (a site in the
 * creator's code), so a creation is [spawn site, creator's entry]. But
 * TASK_UNBLOCK records only the waker's id: the trace does not say where
 * in its code the waker was. What it does say is the last place the
 * waker itself blocked or made a syscall (its own TASK_BLOCK or
 * SYSCALL_ENTER site): the waker returned from there and ran straight on
 * to the wake, with no block in between (a block would have recorded a
 * newer site). So the frame is "after SITE" under the waker's entry
 * function: the wake happened in the code that follows that call. A
 * waker that had not blocked yet since it was created (or since tracing
 * started) gets no leaf: the time is the entry function's own. A wake by
 * no task (by 0: a timer, the monitor, a plain thread) is the one frame
 * "(timer or thread)", or "(network)" when the task was waiting in net
 * read or net write (the netpoller readied it, or its deadline passed).
 * Go's profile counts only wakes and creations; here the other ways into
 * the run queue keep their time under frames of their own, so that the
 * profile's total is the tasks command's "wait": "(yield)" under the
 * yielding task's entry, "(syscall returned, P taken)" under the task's
 * entry (it came back to find its P handed off), "(runnable when tracing
 * started)".
 *
 * Every sample has the label fn = the waiting task's entry function (for
 * sched that is not in the stack, which is the waker's): `go tool pprof
 * -tagfocus fn=worker` keeps one function's waits.
 *
 * The profile: sample types contentions/count then delay/nanoseconds
 * (Go's, so -sample_index and the habits carry over; delay last, since
 * speedscope shows the last type), period type trace/count, period 1,
 * the default sample type delay. Each frame is a Location with an
 * invented non-zero address and one Line naming a Function of the
 * frame's text (speedscope drops locations without lines); one mapping
 * over those addresses, named after the trace file, and no line numbers (the trace records
 * function+offset, not lines). Memory is the model plus one entry per
 * distinct frame, stack and (stack, fn) pair; the protobuf is built in
 * memory at the end and written through tool_out (a temporary renamed
 * when complete, so a bad trace leaves no file).
 *
 * Invariants: location, function, stack and string indices start at 1
 * (string 0 is ""), so no table holds the reserved 0; a sample's values
 * are always two; a zero-length wait inside the window counts as a
 * contention of 0 ns (it happened), one wholly outside does not.
 *
 * Rejected: a site as function "fn" with the offset as a line number
 * (pprof would merge the sites of one function, which are what a user
 * wants apart); the woken task's own block site as the sched key (that is
 * the sync profile; sched asks who made it wait to run); leaving yields
 * and syscall returns out as Go does (the totals would no longer match
 * `weft-trace tasks`, and the time would vanish); writing the profile
 * unzipped (pprof reads both, but the format's documentation asks for
 * gzip and the files are 5-10x smaller).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model.h"
#include "out.h"
#include "pb.h"
#include "pipe.h"
#include "tool.h"
#include "u64map.h"

static const char help[] =
	"usage: weft-trace pprof --kind sync|net|sched|syscall [--from US] [--to US]\n"
	"                        -o OUT.pb.gz FILE\n"
	"\n"
	"Writes a profile derived from the trace in pprof's format (gzip'd), as\n"
	"`go tool trace -pprof=TYPE` does for Go: each wait of the kind is a\n"
	"contention, its length the delay (sample types contentions/count and\n"
	"delay/nanoseconds, as Go's), under a stack of two frames: a call site\n"
	"(\"worker+0x2b\") under the task's entry function. Each sample has the label\n"
	"fn (the entry function of the task that waited).\n"
	"\n"
	"  --kind sync     time blocked on chan send, chan receive, select, mutex,\n"
	"                  wait group, semaphore, by the site where the task blocked.\n"
	"                  Not sleep, syscalls, network waits or stop-the-world (as\n"
	"                  Go leaves sleep out).\n"
	"  --kind net      time blocked on net read and net write (weft_read,\n"
	"                  weft_write, weft_fd_wait, weft_net_accept, weft_net_dial\n"
	"                  waiting for their fd), by the site where the task\n"
	"                  blocked: Go's -pprof=net.\n"
	"  --kind sched    time runnable before running, by who made the task\n"
	"                  runnable: a creation by the spawn site under the creator's\n"
	"                  entry function; a wake by the waker's entry function and,\n"
	"                  under it, \"after SITE\": the last site where the waker\n"
	"                  itself blocked or made a syscall (the trace does not say\n"
	"                  where a wake is; the waker ran on from that site to it).\n"
	"                  Wakes by no task: \"(timer or thread)\", or \"(network)\"\n"
	"                  when the task waited in net read or write; also\n"
	"                  \"(yield)\", \"(syscall returned, P taken)\", \"(runnable\n"
	"                  when tracing started)\", so that the total is `tasks`'\n"
	"                  wait.\n"
	"  --kind syscall  time between weft_syscall_enter and weft_syscall_exit, by\n"
	"                  the site of the enter.\n"
	"\n"
	"  -o OUT          where to write; the file appears when it is complete.\n"
	"                  Standard output only if it is not a terminal.\n"
	"  --from US       only what happens at or after US microseconds\n"
	"  --to US         only what happens at or before US microseconds; waits\n"
	"                  that cross the window's edges are cut at them\n"
	"\n"
	"Then: go tool pprof -top OUT.pb.gz (the sites by delay), or\n"
	"go tool pprof -http=127.0.0.1:0 OUT.pb.gz (graph, flame graph, source);\n"
	"-sample_index=contentions counts waits instead; -tagfocus fn=NAME keeps one\n"
	"entry function's waits. Speedscope and Perfetto's UI open the file too.\n"
	"\n"
	"Exit status 1 with the reader's message (and byte offset) on a bad file;\n"
	"nothing is written under OUT then.\n";

enum kind { K_SYNC, K_SCHED, K_SYSCALL, K_NET, K_MAX };
static const char *const kind_name[K_MAX] = { "sync", "sched", "syscall", "net" };

/* A frame's key in the frames map: its kind << 32 | an index. */
enum fkind { FR_FN = 1, FR_SITE, FR_AFTER, FR_PSEUDO };
enum pseudo {
	PS_TIMER = 1,
	PS_YIELD,
	PS_SYSRET,
	PS_START,
	PS_UNKNOWN_TASK,
	PS_THREAD,
	PS_NET,
	PS_MAX
};
static const char *const pseudo_name[PS_MAX] = {
	[PS_TIMER] = "(timer or thread)",
	[PS_YIELD] = "(yield)",
	[PS_SYSRET] = "(syscall returned, P taken)",
	[PS_START] = "(runnable when tracing started)",
	[PS_UNKNOWN_TASK] = "(task not in the trace)",
	[PS_THREAD] = "(not a task)",
	[PS_NET] = "(network)",
};

struct frame {
	uint32_t str; /* its text in the string table */
	uint32_t loc; /* its location (and function) id; 0 until a stack uses it */
};

struct agg {
	uint64_t count, delay;
};

struct ctx {
	enum kind kind;
	uint64_t from, to;
	struct model *m;
	/* the string table: index 0 is "" */
	char **str;
	size_t nstr, capstr;
	uint32_t s_fn;
	struct u64map frames; /* frame key -> struct frame */
	uint32_t *loc_str;    /* location id -> string index */
	size_t nloc, caploc;  /* ids given (with 0) */
	struct u64map stacks; /* leaf loc << 32 | root loc -> uint32_t stack id */
	uint64_t *stack_locs; /* stack id -> its key */
	size_t nstack, capstack;
	struct u64map samples; /* stack id << 32 | fn string -> struct agg */
};

static uint32_t str_add(struct ctx *c, const char *s)
{
	if (c->nstr == c->capstr) {
		c->capstr = c->capstr ? 2 * c->capstr : 64;
		c->str = tool_realloc(c->str, c->capstr, sizeof(*c->str));
	}
	size_t n = strlen(s);
	char *d = tool_calloc(n + 1, 1);
	memcpy(d, s, n);
	c->str[c->nstr] = d;
	return (uint32_t)c->nstr++;
}

/* The frame of @fk and @idx (a names index or an enum pseudo). */
static struct frame *frame(struct ctx *c, enum fkind fk, uint32_t idx)
{
	bool added;
	struct frame *f = u64map_insert(&c->frames, (uint64_t)fk << 32 | idx, &added);

	if (!added)
		return f;
	char buf[WEFT_TRACE_MAX_STR + 16];
	const char *s;
	switch (fk) {
	case FR_FN:
		s = idx ? names_get(&c->m->fns, idx) : "(unknown function)";
		break;
	case FR_SITE:
		s = names_get(&c->m->sites, idx);
		break;
	case FR_AFTER:
		snprintf(buf, sizeof(buf), "after %s", names_get(&c->m->sites, idx));
		s = buf;
		break;
	default:
		s = idx < PS_MAX ? pseudo_name[idx] : "?";
		break;
	}
	uint32_t si = str_add(c, s); /* may not move f: the frames map is untouched */
	f->str = si;
	return f;
}

/* The location id of a frame, given on first use. */
static uint32_t loc(struct ctx *c, enum fkind fk, uint32_t idx)
{
	struct frame *f = frame(c, fk, idx);

	if (!f->loc) {
		if (!c->nloc)
			c->nloc = 1;
		c->loc_str = tool_grow_zero(c->loc_str, &c->caploc, c->nloc, sizeof(*c->loc_str));
		f->loc = (uint32_t)c->nloc++;
		c->loc_str[f->loc] = f->str;
	}
	return f->loc;
}

/* The stack id of [@leaf (0: none), @root] (location ids). */
static uint32_t stack(struct ctx *c, uint32_t leaf, uint32_t root)
{
	bool added;
	uint64_t key = (uint64_t)leaf << 32 | root;
	uint32_t *id = u64map_insert(&c->stacks, key, &added);

	if (added) {
		if (!c->nstack)
			c->nstack = 1;
		c->stack_locs = tool_grow_zero(c->stack_locs, &c->capstack, c->nstack,
					       sizeof(*c->stack_locs));
		c->stack_locs[c->nstack] = key;
		*id = (uint32_t)c->nstack++;
	}
	return *id;
}

/* [site, the task's entry function], or the entry alone without a site. */
static uint32_t site_stack(struct ctx *c, const struct mtask *t, uint32_t site)
{
	uint32_t root = loc(c, FR_FN, t->fn);
	return stack(c, site ? loc(c, FR_SITE, site) : 0, root);
}

static uint32_t pseudo_stack(struct ctx *c, enum pseudo p, const struct mtask *under)
{
	uint32_t leaf = loc(c, FR_PSEUDO, p);
	return under ? stack(c, leaf, loc(c, FR_FN, under->fn)) : stack(c, 0, leaf);
}

/* Count a wait of @t on stack @sid over [t0, t1], clipped to the window. */
static void add(struct ctx *c, const struct mtask *t, uint32_t sid, uint64_t t0, uint64_t t1)
{
	if (t1 < t0 || t1 < c->from || t0 > c->to)
		return;
	if (t0 < c->from)
		t0 = c->from;
	if (t1 > c->to)
		t1 = c->to;
	uint32_t fn = frame(c, FR_FN, t->fn)->str;
	struct agg *a = u64map_insert(&c->samples, (uint64_t)sid << 32 | fn, NULL);
	a->count++;
	a->delay += t1 - t0;
}

static bool is_sync(int reason)
{
	switch (reason) {
	case WEFT_TRACE_BLOCK_WG:
	case WEFT_TRACE_BLOCK_MUTEX:
	case WEFT_TRACE_BLOCK_SEMA:
	case WEFT_TRACE_BLOCK_CHAN_SEND:
	case WEFT_TRACE_BLOCK_CHAN_RECV:
	case WEFT_TRACE_BLOCK_SELECT:
		return true;
	default: /* NONE (not known), SLEEP, SYSCALL, STW, NET_READ, NET_WRITE */
		return false;
	}
}

static bool is_net(int reason)
{
	return reason == WEFT_TRACE_BLOCK_NET_READ || reason == WEFT_TRACE_BLOCK_NET_WRITE;
}

/*
 * Task fields this command keeps (model.h gives aux and aux2 to the
 * command): aux, the sched stack id of the task's current or next
 * runnable wait (0: not known); aux2, the names index of the last site
 * where the task itself blocked or made a syscall (0: none yet).
 */

/* The stack of a wake by task @by, now, of a task blocked for @reason. */
static uint32_t waker_stack(struct ctx *c, uint64_t by, int reason)
{
	if (!by)
		return pseudo_stack(c, is_net(reason) ? PS_NET : PS_TIMER, NULL);
	struct mtask *w = model_task(c->m, by);
	if (!w)
		return pseudo_stack(c, PS_UNKNOWN_TASK, NULL);
	uint32_t root = loc(c, FR_FN, w->fn);
	return stack(c, w->aux2 ? loc(c, FR_AFTER, w->aux2) : 0, root);
}

static void h_new(void *x, struct model *m, struct mtask *t, uint64_t parent, bool created)
{
	struct ctx *c = x;
	(void)m;
	t->aux = 0;
	t->aux2 = 0;
	if (!created || c->kind != K_SCHED)
		return;
	struct mtask *pt = parent ? model_task(m, parent) : NULL;
	uint32_t root = pt ? loc(c, FR_FN, pt->fn)
			   : loc(c, FR_PSEUDO, parent ? PS_UNKNOWN_TASK : PS_THREAD);
	t->aux = stack(c, t->site ? loc(c, FR_SITE, t->site) : 0, root);
}

static void h_run(void *x, struct model *m, struct mtask *t, int p, uint64_t t0, uint64_t t1,
		  int why)
{
	struct ctx *c = x;
	(void)m, (void)p, (void)t0, (void)t1;
	/* A yield makes it runnable now; any other end of a run is followed by
	 * a wait whose end says what comes next (or by nothing known). */
	t->aux = why == WHY_YIELD && c->kind == K_SCHED ? pseudo_stack(c, PS_YIELD, t) : 0;
}

static void h_wait(void *x, struct model *m, struct mtask *t, int state, uint64_t t0, uint64_t t1,
		   uint64_t by)
{
	struct ctx *c = x;
	(void)m;
	switch (state) {
	case WEFT_TF_T_RUNNABLE:
		if (c->kind == K_SCHED)
			add(c, t, t->aux ? (uint32_t)t->aux : pseudo_stack(c, PS_START, NULL), t0,
			    t1);
		t->aux = 0;
		break;
	case WEFT_TF_T_BLOCKED:
		if ((c->kind == K_SYNC && is_sync(t->reason)) ||
		    (c->kind == K_NET && is_net(t->reason)))
			add(c, t, site_stack(c, t, t->site), t0, t1);
		if (c->kind == K_SCHED)
			t->aux = waker_stack(c, by, t->reason); /* it is made runnable next */
		t->aux2 = t->site;
		break;
	case WEFT_TF_T_SYSCALL:
		if (c->kind == K_SYSCALL)
			add(c, t, site_stack(c, t, t->site), t0, t1);
		if (c->kind == K_SCHED)
			t->aux = pseudo_stack(c, PS_SYSRET, t); /* if its P was taken */
		t->aux2 = t->site;
		break;
	}
}

/* ---- the profile ------------------------------------------------------------------- */

/* The invented address of location id: LOC_BASE + LOC_STEP * id. */
#define LOC_BASE 0x100000ull
#define LOC_STEP 0x10ull

/* ValueType{type, unit} as field @field. */
static void value_type(struct pb *b, unsigned field, uint32_t type, uint32_t unit)
{
	size_t at = pb_begin(b, field);
	pb_uint(b, 1, type);
	pb_uint(b, 2, unit);
	pb_end(b, at);
}

static void profile(struct ctx *c, struct pb *b, const char *file, int64_t start_unix_ns,
		    uint64_t lo, uint64_t hi)
{
	uint32_t s_cont = str_add(c, "contentions"), s_count = str_add(c, "count");
	uint32_t s_delay = str_add(c, "delay"), s_ns = str_add(c, "nanoseconds");
	uint32_t s_trace = str_add(c, "trace");
	char note[160];

	snprintf(note, sizeof(note), "weft-trace pprof --kind %s", kind_name[c->kind]);
	uint32_t s_note = str_add(c, note);
	const char *base = strrchr(file, '/');
	uint32_t s_file = str_add(c, base ? base + 1 : file);

	/* Profile: sample_type 1, sample 2, location 4, function 5, string_table 6,
	 * time_nanos 9, duration_nanos 10, period_type 11, period 12, comment 13,
	 * default_sample_type 14 (google/pprof proto/profile.proto). */
	value_type(b, 1, s_cont, s_count);
	value_type(b, 1, s_delay, s_ns);
	for (size_t i = 0; i < c->samples.cap; i++) {
		if (!c->samples.keys[i])
			continue;
		uint64_t key = c->samples.keys[i];
		const struct agg *a = u64map_val(&c->samples, i);
		uint64_t sk = c->stack_locs[key >> 32];
		uint32_t leaf = (uint32_t)(sk >> 32), root = (uint32_t)sk;
		/* Sample: location_id 1 (packed, leaf first), value 2 (packed), label 3 */
		size_t s = pb_begin(b, 2), p = pb_begin(b, 1);
		if (leaf)
			pb_varint(b, leaf);
		pb_varint(b, root);
		pb_end(b, p);
		p = pb_begin(b, 2);
		pb_varint(b, a->count);
		pb_varint(b, a->delay);
		pb_end(b, p);
		p = pb_begin(b, 3); /* Label: key 1, str 2 */
		pb_uint(b, 1, c->s_fn);
		pb_uint(b, 2, (uint32_t)key);
		pb_end(b, p);
		pb_end(b, s);
	}
	/* Mapping: id 1, memory_start 2, memory_limit 3, filename 5, has_functions 7:
	 * one over the invented addresses, named after the trace (pprof's "File:"),
	 * with functions, so that pprof looks for no binary to symbolize. */
	size_t mp = pb_begin(b, 3);
	pb_uint(b, 1, 1);
	pb_uint(b, 2, LOC_BASE);
	pb_uint(b, 3, LOC_BASE + LOC_STEP * (uint64_t)(c->nloc + 1));
	pb_uint(b, 5, s_file);
	pb_uint(b, 7, 1);
	pb_end(b, mp);
	for (size_t id = 1; id < c->nloc; id++) {
		/* Location: id 1, mapping_id 2, address 3, line 4 {function_id 1} */
		size_t l = pb_begin(b, 4);
		pb_uint(b, 1, id);
		pb_uint(b, 2, 1);
		pb_uint(b, 3, LOC_BASE + LOC_STEP * (uint64_t)id);
		size_t ln = pb_begin(b, 4);
		pb_uint(b, 1, id);
		pb_end(b, ln);
		pb_end(b, l);
		/* Function: id 1, name 2, system_name 3 */
		size_t f = pb_begin(b, 5);
		pb_uint(b, 1, id);
		pb_uint(b, 2, c->loc_str[id]);
		pb_uint(b, 3, c->loc_str[id]);
		pb_end(b, f);
	}
	for (size_t i = 0; i < c->nstr; i++)
		pb_str(b, 6, c->str[i]);
	pb_sint(b, 9, start_unix_ns + (int64_t)lo);
	pb_sint(b, 10, (int64_t)(hi - lo));
	value_type(b, 11, s_trace, s_count);
	pb_sint(b, 12, 1);
	pb_sint(b, 13, s_note);
	pb_sint(b, 14, s_delay);
}

/* ---- the command ------------------------------------------------------------------- */

struct opts {
	int kind; /* -1 not given */
	const char *out;
	uint64_t from, to;
};

static int opt(void *x, const char *name, const char *v)
{
	struct opts *o = x;

	if (strcmp(name, "kind") == 0) {
		o->kind = -1;
		for (int k = 0; k < K_MAX; k++)
			if (strcmp(v, kind_name[k]) == 0)
				o->kind = k;
		if (o->kind < 0)
			return tool_usage(&cmd_pprof,
					  "--kind: '%s' is not one of sync, net, sched, syscall",
					  v);
	} else if (strcmp(name, "o") == 0 || strcmp(name, "output") == 0) {
		o->out = v;
	} else {
		int64_t t = tool_parse_us(v);
		if (t < 0)
			return tool_usage(&cmd_pprof, "--%s wants microseconds, not '%s'", name, v);
		*(name[0] == 'f' ? &o->from : &o->to) = (uint64_t)t;
	}
	return 0;
}

static void ctx_free(struct ctx *c)
{
	for (size_t i = 0; i < c->nstr; i++)
		free(c->str[i]);
	free(c->str);
	free(c->loc_str);
	free(c->stack_locs);
	u64map_free(&c->frames);
	u64map_free(&c->stacks);
	u64map_free(&c->samples);
}

static int run(int argc, char **argv)
{
	static const struct tool_opt opts[] = { { "kind", true },
						{ "from", true },
						{ "to", true },
						{ "output", true },
						{ NULL, false } };
	struct opts o = { .kind = -1, .to = UINT64_MAX };
	struct tool_trace tt;
	struct tool_out out;
	struct model m;
	weft_tr_event *ev;
	const char *file;
	int r;

	if ((r = tool_getopt(&cmd_pprof, argc, argv, opts, opt, &o, &file, NULL)) != 0)
		return r;
	if (o.kind < 0)
		return tool_usage(&cmd_pprof, "which profile? --kind sync, net, sched or syscall");
	if ((r = tool_check_window(&cmd_pprof, o.from, o.to)) != 0)
		return r;
	bool to_stdout = !o.out || strcmp(o.out, "-") == 0;
	if (to_stdout && isatty(STDOUT_FILENO))
		return tool_usage(&cmd_pprof, "the profile is gzip'd protobuf: give -o FILE.pb.gz");
	if (tool_open(&tt, "pprof", file) < 0)
		return TOOL_EXIT_BAD;
	FILE *f = tool_out_open(&out, "pprof", to_stdout ? NULL : o.out, true, 0);
	if (!f) {
		tool_close(&tt);
		return TOOL_EXIT_BAD;
	}

	struct ctx c = { .kind = (enum kind)o.kind, .from = o.from, .to = o.to, .m = &m };
	str_add(&c, "");
	c.s_fn = str_add(&c, "fn");
	u64map_init(&c.frames, sizeof(struct frame), U64MAP_MIXED);
	u64map_init(&c.stacks, sizeof(uint32_t), U64MAP_MIXED);
	u64map_init(&c.samples, sizeof(struct agg), U64MAP_MIXED);
	struct model_hooks h = { .ctx = &c, .task_new = h_new, .run = h_run, .wait = h_wait };
	model_init(&m, tt.t, &h);
	while ((r = tool_next(&tt, &ev)) > 0)
		model_event(&m, ev);
	if (r == 0) {
		model_finish(&m);
		struct pb b = { 0 };
		uint64_t lo = m.first_ts > o.from ? m.first_ts : o.from;
		uint64_t hi = m.now < o.to ? m.now : o.to;
		profile(&c, &b, file, tt.info.start_unix_ns, lo, hi > lo ? hi : lo);
		pb_flush(&b, f);
		pb_free(&b);
	}
	ctx_free(&c);
	model_free(&m);
	tool_close(&tt);
	if (tool_out_close(&out, r == 0) < 0 || r < 0)
		return TOOL_EXIT_BAD;
	return 0;
}

const struct tool_cmd cmd_pprof = { "pprof", "a pprof profile: time blocked, runnable, in syscalls",
				    help, run };

#!/usr/bin/env python3
"""
mock.py - a stand-in for `weft-trace view`'s server, for working on the
viewer's page (tracer/view/) and testing it without the C side.

It serves the page's static files from tracer/view/ and answers the same
JSON API as the real server (/api/meta, /api/procs, /api/run, /api/task,
/api/fns),
from a synthetic trace that is generated once at start-up from a seed, so
that every run of the mock with the same arguments answers the same bytes:
4 Ps and 200,000 runs by default, in phases that look like the shapes
`weft-trace gaps` names (mixed work, fine grain, a serial phase where only
P0 works, long runs), with stop-the-world pauses on every P, about two
thousand tasks that migrate between Ps, wake-ups and creations.

Invariants the page may rely on (and the real server must keep too):
  - all times are integer ns since the first event; on one P the runs are
    sorted by start and never overlap, so their ends are sorted as well;
  - /api/procs answers one row per P; a run at least one pixel wide
    (dur >= (t1 - t0) / w) is sent as a run, narrower runs are merged into
    a block while the next run is also narrower than a pixel, starts less
    than a pixel after the block's end and starts in the same pixel column
    as the block's first run (columns counted from t0); a block's busy
    time is exactly the sum of its runs' durations. So a row holds at most
    one block per column plus runs at least a pixel wide: about two
    entries per pixel. Splitting blocks at columns makes a zoomed-out
    view a per-pixel utilisation picture (the serial phase, the fine
    grain phase are seen), where merging across columns would paint a
    busy P as one flat block the width of the trace;
  - a run's prev/next are the same task's previous/next runs; woken_by is
    a run of another task that started no later than the woken run;
  - /api/fns is /api/task summed over every task, per entry function:
    runs and exec are exactly the count and the sum of durations of the
    runs whose fn (the 3rd field of a /api/procs run) is that function,
    wait is the runnable states, blocked the blocked states by reason
    (syscall under "syscall"), only non-zero reasons; functions without
    runs are left out; sorted by exec descending.

The newer endpoints (class Extra): Ms (a thread per P plus two spares)
that hold their P except during a long syscall, when the P is handed
off to a spare M; syscalls sent like runs (wide ones as [t0, dur, task,
site, i], narrower ones merged per pixel column into sysblocks); the
four counters on a 50 us grid, answered per pixel as min, max and mean;
user tasks, regions (sent per (kind, type) with the same LOD, overlaps
allowed) and logs (a single log in a pixel column as an item, more as a
block); verdicts whose hl is a spec the mock evaluates ("v:K" is
verdict K's own set of runs in its range); the block profile from the
runs that ended blocked, by reason and site; and hl=SPEC on /api/procs:
the matching runs merged per pixel column, with hl_runs, the count of
matching runs in the window.

Options: --procs, --runs, --seed, --port, --legacy (no newer endpoint),
--no-user, --verdict-delay S, --error (the "file" is bad from
some offset on: meta.error is set and the trace stops at 70% of its
length), --delay MS and --jitter (sleep, or a random sleep up to MS,
before answering /api/procs, so that responses arrive late and out of
order, which is what the page's stale-response check is for), --selftest
(check the LOD invariants on random windows, and /api/fns's runs and exec
against the runs, and exit).

Rejected: a real trace file parsed in Python (the C reader is the only
parser of .wt files; a second one would drift from it); a per-pixel
bucket array (one entry per pixel even where one run covers many pixels
would make zoomed-in responses large and the page's hit test fuzzy); a
linear scan per request without the bisect (the whole P at every zoom);
/api/fns with made-up wait and blocked numbers (summing /api/task's
states costs about a second once, and keeps the two answers agreeing).
The scan over the window's runs is linear in the runs inside the window,
which is fine for a mock of 200k runs (tens of ms); the C server answers
from an index.
"""

import argparse
import bisect
import heapq
import json
import os
import random
import sys
import threading
import time
import urllib.parse
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VIEW_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

FNS = ["", "main", "worker", "producer", "consumer", "http_handler",
       "parse_chunk", "merge_sorted", "timer_fire", "fanout_child",
       "compress_block", "echo_conn"]
REASONS = [  # (reason, site index)
    ("chan receive", 1), ("chan send", 2), ("select", 3), ("mutex", 4),
    ("sleep", 5), ("net read", 6), ("wait group", 7)]
SITES = ["", "chan_recv_loop+0x1c", "producer+0x88", "select_wait+0x40",
         "merge_sorted+0x2a", "timer_sleep+0x8", "echo_conn+0x10",
         "main+0x64", "read_file+0x30", "write_log+0x14", "fsync_db+0x8",
         "accept_loop+0x22"]
SYS_SITES = [8, 9, 10, 11]     # the syscalls' call sites (indexes into SITES)
UTYPES = ["request", "batch"]
RTYPES = ["parse", "db_query", "render"]
LOG_CATS = ["", "http", "db"]
COUNTERS = ["runnable", "running", "syscall", "spinning"]
ENDS = ["block", "yield", "syscall", "handoff"]
ENDW = [70, 15, 10, 5]


class Trace:
    def __init__(self, procs, nruns, seed, error):
        rng = random.Random(seed)
        self.procs = procs
        per_p = nruns // procs
        # Stop-the-world pauses, global (every P stops).
        stw = []
        t = 40_000_000
        while t < 10_000_000_000:
            d = int(rng.uniform(50_000, 600_000))
            stw.append((t, d))
            t += int(rng.uniform(150_000_000, 350_000_000))
        self.stw_all = stw
        starts, durs = [], []
        for p in range(procs):
            s_l, d_l = [], []
            t = int(rng.uniform(0, 5_000))
            si = 0
            while len(s_l) < per_p:
                ph = t % 600_000_000                 # a 600 ms cycle of shapes
                if 250_000_000 <= ph < 260_000_000:  # fine grain
                    gap = rng.expovariate(1 / 600)
                    dur = rng.uniform(300, 2_500)
                elif 260_000_000 <= ph < 360_000_000:
                    if p != 0:                       # serial: only P0 works
                        gap = 360_000_000 - ph + rng.uniform(0, 3_000)
                        dur = rng.uniform(1_000, 20_000)
                    else:
                        gap = rng.expovariate(1 / 2_000)
                        dur = rng.uniform(20_000, 200_000)
                elif ph >= 360_000_000:              # long runs
                    gap = rng.expovariate(1 / 20_000)
                    dur = rng.lognormvariate(11.5, 1.0)
                else:                                # mixed
                    gap = rng.expovariate(1 / 3_000)
                    if rng.random() < 0.01:
                        gap += rng.uniform(200_000, 2_000_000)
                    r = rng.random()
                    if r < 0.7:
                        dur = rng.lognormvariate(7.3, 0.8)
                    elif r < 0.95:
                        dur = rng.uniform(5_000, 100_000)
                    else:
                        dur = rng.uniform(100_000, 3_000_000)
                s = t + int(gap) + 1
                d = max(1, int(dur))
                # no run inside a stop-the-world
                while si < len(stw) and stw[si][0] + stw[si][1] <= s:
                    si += 1
                if si < len(stw) and s + d > stw[si][0]:
                    s = stw[si][0] + stw[si][1] + int(rng.uniform(200, 4_000))
                    si += 1
                s_l.append(s)
                d_l.append(d)
                t = s + d
            starts.append(s_l)
            durs.append(d_l)
        duration = max(s[-1] + d[-1] for s, d in zip(starts, durs))
        self.error = None
        if error:
            cut = int(duration * 0.7)
            for p in range(procs):
                n = bisect.bisect_left(starts[p], cut)
                del starts[p][n:], durs[p][n:]
            self.error = {"offset": 41_873_209,
                          "message": "chunk 1187: bad varint in event 52 (type 0x1f) at byte 41873209"}
            duration = max(s[-1] + d[-1] for s, d in zip(starts, durs) if s)
        self.duration = duration
        self.stw_all = [(s, d) for s, d in stw if s < duration]
        self.starts, self.durs = starts, durs
        self.ends = [[s + d for s, d in zip(sl, dl)] for sl, dl in zip(starts, durs)]
        self.base = [0] * procs
        for p in range(1, procs):
            self.base[p] = self.base[p - 1] + len(starts[p - 1])
        n = self.base[-1] + len(starts[-1])
        self.nruns = n
        # Tasks: one sweep over all runs by start. A task runs again only
        # after its previous run ended; FIFO reuse, a new task now and then.
        order = sorted(((starts[p][i], p, i) for p in range(procs)
                        for i in range(len(starts[p]))))
        self.task = [0] * n
        self.wake = [-1] * n          # flat index of the waker's run
        self.pos = [0] * n            # index in its task's run list
        self.task_runs = {0: []}
        self.task_fn = {}
        self.task_creator = {}
        self.task_created = {}
        ready, busy = deque(), []
        ntasks = 0
        prev_flat = []                # recent runs, for wakers and creators
        for s, p, i in order:
            f = self.base[p] + i
            while busy and busy[0][0] <= s:
                ready.append(heapq.heappop(busy)[1])
            if ready and (ntasks >= 2500 or rng.random() < 0.99):
                tid = ready.popleft()
                # woken by the latest run of another task that started before
                for g in reversed(prev_flat):
                    if self.task[g] != tid:
                        self.wake[f] = g
                        break
            else:
                ntasks += 1
                tid = ntasks
                self.task_runs[tid] = []
                self.task_fn[tid] = 1 if tid == 1 else 2 + rng.randrange(len(FNS) - 2)
                self.task_creator[tid] = self.task[prev_flat[-1]] if prev_flat else 0
                self.task_created[tid] = max(0, s - int(rng.uniform(500, 30_000)))
            self.task[f] = tid
            self.pos[f] = len(self.task_runs[tid])
            self.task_runs[tid].append(f)
            heapq.heappush(busy, (s + durs[p][i], tid))
            prev_flat.append(f)
            if len(prev_flat) > 8:
                prev_flat.pop(0)
        del self.task_runs[0]
        self.ntasks = ntasks
        self.fn = [self.task_fn[t] for t in self.task]
        # How each run ended: a deterministic function of its flat index.
        self.end = ["end"] * n
        self.reason = [-1] * n
        for tid, fl in self.task_runs.items():
            for k, f in enumerate(fl):
                h = random.Random(f * 2654435761 + seed)
                if k + 1 < len(fl):
                    e = h.choices(ENDS, ENDW)[0]
                    self.end[f] = e
                    if e == "block":
                        self.reason[f] = h.randrange(len(REASONS))
                else:
                    p, i = self.unflat(f)
                    self.end[f] = "trace end" if self.ends[p][i] > duration - 2_000_000 else "end"
            # only a run after a block was woken by someone
            for k, f in enumerate(fl):
                if k == 0 or self.end[fl[k - 1]] != "block":
                    self.wake[f] = -1
        self.fn_per_p = [self.fn[self.base[p]:self.base[p] + len(starts[p])] for p in range(procs)]
        self.task_per_p = [self.task[self.base[p]:self.base[p] + len(starts[p])] for p in range(procs)]
        self.fns_lock = threading.Lock()
        self.fns_cache = None         # /api/fns, built on the first request

    def unflat(self, f):
        p = bisect.bisect_right(self.base, f) - 1
        return p, f - self.base[p]

    def ref(self, f):
        p, i = self.unflat(f)
        return {"p": p, "i": i}

    # /api/procs: the LOD rule of the module essay.
    def procs_q(self, t0, t1, w):
        ns_px = (t1 - t0) / w
        rows = []
        for p in range(self.procs):
            starts, durs, ends = self.starts[p], self.durs[p], self.ends[p]
            fns, tasks = self.fn_per_p[p], self.task_per_p[p]
            n = len(starts)
            k = bisect.bisect_right(ends, t0)
            runs, blocks = [], []
            while k < n and starts[k] < t1:
                d = durs[k]
                if d >= ns_px:
                    runs.append([starts[k], d, fns[k], tasks[k], k])
                    k += 1
                    continue
                bs = starts[k]
                be = bs + d
                # the block ends at the pixel column's right edge
                edge = t0 + (int((bs - t0) // ns_px) + 1) * ns_px
                busy = d
                nr = 1
                k += 1
                while k < n:
                    s = starts[k]
                    d = durs[k]
                    if d >= ns_px or s - be >= ns_px or s >= edge:
                        break
                    be = s + d
                    busy += d
                    nr += 1
                    k += 1
                blocks.append([bs, be - bs, nr, busy])
            stw = [[s, d] for s, d in self.stw_all if s < t1 and s + d > t0]
            rows.append({"p": p, "runs": runs, "blocks": blocks, "stw": stw})
        return {"t0": t0, "t1": t1, "w": w, "rows": rows}

    def run_q(self, p, i):
        if not (0 <= p < self.procs and 0 <= i < len(self.starts[p])):
            return None
        f = self.base[p] + i
        tid = self.task[f]
        fl = self.task_runs[tid]
        k = self.pos[f]
        r = self.reason[f]
        wk = self.wake[f]
        return {
            "p": p, "i": i, "task": tid, "fn": FNS[self.fn[f]],
            "start": self.starts[p][i], "dur": self.durs[p][i],
            "end": self.end[f],
            "reason": REASONS[r][0] if r >= 0 else None,
            "site": SITES[REASONS[r][1]] if r >= 0 else None,
            "created_by": self.task_creator[tid],
            "woken_by": dict(task=self.task[wk], **self.ref(wk)) if wk >= 0 else None,
            "prev": self.ref(fl[k - 1]) if k > 0 else None,
            "next": self.ref(fl[k + 1]) if k + 1 < len(fl) else None,
        }

    def task_q(self, tid):
        fl = self.task_runs.get(tid)
        if fl is None:
            return None
        runs, states = [], []
        t = self.task_created[tid]
        for k, f in enumerate(fl):
            p, i = self.unflat(f)
            s, d = self.starts[p][i], self.durs[p][i]
            if k == 0:
                states.append([t, s - t, "runnable", None])
            else:
                pf = fl[k - 1]
                pe = self.ends[self.unflat(pf)[0]][self.unflat(pf)[1]]
                gap = s - pe
                lat = min(gap, 1_000 + (f * 7919) % 20_000)
                e = self.end[pf]
                if e in ("block", "syscall") and gap > lat:
                    st = "blocked" if e == "block" else "syscall"
                    why = REASONS[self.reason[pf]][0] if e == "block" else None
                    states.append([pe, gap - lat, st, why])
                    states.append([s - lat, lat, "runnable", None])
                elif gap > 0:
                    states.append([pe, gap, "runnable", None])
            states.append([s, d, "running", None])
            runs.append([p, i, s, d])
        return {"id": tid, "fn": FNS[self.task_fn[tid]], "runs": runs, "states": states}

    def fns_q(self):
        with self.fns_lock:
            if self.fns_cache is None:
                acc = {}
                for tid in self.task_runs:
                    fn = self.task_fn[tid]
                    a = acc.setdefault(fn, {"fn": fn, "name": FNS[fn], "tasks": 0, "runs": 0,
                                            "exec": 0, "wait": 0, "blocked": {}})
                    a["tasks"] += 1
                    for s, d, st, why in self.task_q(tid)["states"]:
                        if st == "running":
                            a["runs"] += 1
                            a["exec"] += d
                        elif st == "runnable":
                            a["wait"] += d
                        else:
                            k = why or "syscall"
                            a["blocked"][k] = a["blocked"].get(k, 0) + d
                for a in acc.values():
                    a["blocked"] = {k: v for k, v in sorted(a["blocked"].items(), key=lambda kv: -kv[1]) if v}
                rows = sorted((a for a in acc.values() if a["runs"]), key=lambda a: (-a["exec"], a["fn"]))
                self.fns_cache = {"fns": rows}
            return self.fns_cache

    def meta(self, name):
        return {"file": name, "duration": self.duration, "procs": self.procs,
                "fns": FNS, "sites": SITES, "events": self.nruns * 3 + 17,
                "runs": self.nruns, "tasks": self.ntasks, "error": self.error}


def lod(starts, durs, t0, t1, ns_px, ends_max=None):
    """Split intervals (sorted by start) overlapping [t0, t1) the way
    /api/procs does: indexes of those at least a pixel wide, and blocks
    [start, dur, n, busy] of narrower ones merged within a pixel column."""
    wide, blocks = [], []
    k = bisect.bisect_left(starts, t0 - (ends_max or 0))
    n = len(starts)
    cur = None
    while k < n and starts[k] < t1:
        s, d = starts[k], durs[k]
        if s + d <= t0:
            k += 1
            continue
        if d >= ns_px:
            wide.append(k)
        else:
            col = int((s - t0) // ns_px)
            if cur and cur[4] == col:
                cur[1] = max(cur[1], s + d - cur[0])
                cur[2] += 1
                cur[3] += d
            else:
                cur = [s, d, 1, d, col]
                blocks.append(cur)
        k += 1
    return wide, [b[:4] for b in blocks]


class Extra:
    """What the newer endpoints answer: threads (Ms) and their syscalls,
    counters, user tasks, regions and logs, verdicts, the block profile,
    and the highlight (hl=SPEC) of /api/procs. All derived from the Trace
    and the seed, so the same arguments give the same answers."""

    def __init__(self, tr, seed, user=True, verdict_delay=1.5):
        rng = random.Random(seed * 31 + 7)
        self.tr = tr
        dur = tr.duration
        P = tr.procs
        self.nm = P + 2
        # syscalls: per M m < P (which holds P m), handed off when long: then a
        # spare M holds P m for the syscall's length
        sys_l = [[] for _ in range(self.nm)]     # [start, dur, task, site, handoff]
        held = [[] for _ in range(self.nm)]      # [start, dur, p]
        for m in range(P):
            t = int(rng.uniform(0, 2e6))
            cur = 0
            spare = P + (m % 2)
            while t < dur:
                d = int(rng.lognormvariate(9.5, 1.3))
                if t + d >= dur:
                    break
                i = max(0, bisect.bisect_right(tr.starts[m], t) - 1)
                task = tr.task_per_p[m][i] if tr.starts[m] else 0
                ho = d > 150_000
                sys_l[m].append([t, d, task, rng.choice(SYS_SITES), ho])
                if ho:
                    held[m].append([cur, t - cur, m])
                    held[spare].append([t, d, m])
                    cur = t + d
                t += d + int(rng.expovariate(1 / 400_000))
            held[m].append([cur, dur - cur, m])
        for m in range(self.nm):
            held[m].sort()
        self.sys, self.held = sys_l, held
        self.nsys = sum(len(x) for x in sys_l)
        # counters on a 50 us grid
        self.res = 50_000
        nb = dur // self.res + 1
        mids = [b * self.res + self.res // 2 for b in range(nb)]
        running = [0] * nb
        for p in range(P):
            st, en = tr.starts[p], tr.ends[p]
            for b, t in enumerate(mids):
                i = bisect.bisect_right(st, t) - 1
                if i >= 0 and en[i] > t:
                    running[b] += 1
        insys = [0] * nb
        for m in range(self.nm):
            for s, d, *_ in sys_l[m]:
                for b in range(s // self.res, min(nb, (s + d) // self.res + 1)):
                    insys[b] += 1
        runnable, spinning = [0] * nb, [0] * nb
        r = 0
        for b, t in enumerate(mids):
            ph = t % 600_000_000
            target = 30 if 250_000_000 <= ph < 260_000_000 else 12 if 260_000_000 <= ph < 360_000_000 else 4
            r = max(0, r + rng.choice([-2, -1, 0, 1, 2]) + (1 if r < target else -1 if r > target else 0))
            runnable[b] = r
            spinning[b] = min(2, P - running[b]) if rng.random() < 0.3 else 0
        self.cvals = {"runnable": runnable, "running": running, "syscall": insys, "spinning": spinning}
        # user tasks, regions and logs
        self.utasks, self.regions, self.logs = [], [], []
        if user:
            for i in range(300):
                s = int(rng.uniform(0, dur * 0.98))
                d = None if i % 97 == 5 else int(rng.lognormvariate(15, 1.2))
                if d is not None:
                    d = min(d, dur - s)
                self.utasks.append({"id": i + 1, "type": i % 2, "parent": (i // 2) if i % 5 == 0 and i else 0,
                                    "task": 1 + rng.randrange(tr.ntasks), "start": s, "dur": d})
            for i in range(4000):
                u = rng.randrange(len(self.utasks))
                ut = self.utasks[u]
                ud = ut["dur"] if ut["dur"] is not None else dur - ut["start"]
                s = ut["start"] + int(rng.uniform(0, ud * 0.9))
                d = max(1, min(int(rng.lognormvariate(10, 1.5)), dur - s))
                self.regions.append({"type": rng.randrange(len(RTYPES)), "task": ut["task"],
                                     "fn": FNS[2 + rng.randrange(len(FNS) - 2)], "utask": ut["id"],
                                     "start": s, "dur": d, "depth": rng.randrange(2)})
            for i in range(2500):
                u = self.utasks[rng.randrange(len(self.utasks))]
                c = rng.randrange(len(LOG_CATS))
                self.logs.append({"t": int(rng.uniform(0, dur)), "task": u["task"], "fn": FNS[2 + rng.randrange(len(FNS) - 2)],
                                  "utask": u["id"], "category": LOG_CATS[c],
                                  "message": "%s %d done in %d us" % (["step", "query", "flush"][c], i, rng.randrange(1, 900))})
            self.logs.sort(key=lambda x: x["t"])
            self.utasks.sort(key=lambda x: x["start"])
            self.regions.sort(key=lambda x: x["start"])
        # one list per (kind, type) for /api/user, indexes into the item lists
        self.urows = []
        for kind, names, items in (("utask", UTYPES, self.utasks), ("region", RTYPES, self.regions)):
            for ty, name in enumerate(names):
                idx = [i for i, x in enumerate(items) if x["type"] == ty]
                if not idx:
                    continue
                st = [items[i]["start"] for i in idx]
                du = [items[i]["dur"] if items[i]["dur"] is not None else dur - items[i]["start"] for i in idx]
                self.urows.append((kind, name, idx, st, du, max(du)))
        self.log_t = [x["t"] for x in self.logs]
        # the highlight's spec -> per-P list of bools, built on demand
        self.hl_cache = {}
        self.hl_lock = threading.Lock()
        self.t_start = time.time()
        self.verdict_delay = verdict_delay
        self.verdicts = self.make_verdicts()
        self.blocks_cache = None

    # ---- verdicts and highlights ---------------------------------------

    def make_verdicts(self):
        tr = self.tr
        vs = [
            ("contention", "Tasks wait on a mutex at merge_sorted+0x2a: P0-P%d blocked there over the whole trace." % (tr.procs - 1),
             None, "site:3:4", None),
            ("serial_phase", "Only P0 works from 260 ms to 360 ms: the other Ps are idle (a serial phase).",
             [260_000_000, 360_000_000], None, lambda p, i, s, d, f: p == 0),
            ("critical_path", "Task 1 (main) is on the critical path: the program waits for its runs.",
             None, "task:1", None),
            ("fine_grain", "From 250 ms to 260 ms runs last 0.3-2.5 us: the scheduler's overhead dominates.",
             [250_000_000, 260_000_000], None, lambda p, i, s, d, f: d < 2_500),
            ("network_wait", "echo_conn tasks spend most of their life waiting on the network.",
             None, "fn:11", None),
        ]
        if tr.stw_all:
            s, d = tr.stw_all[0]
            vs.append(("stop_the_world", "Stop-the-world pauses: %d, the longest %d us." % (
                len(tr.stw_all), max(x[1] for x in tr.stw_all) // 1000),
                [max(0, s - 2_000_000), s + d + 2_000_000], None,
                lambda p, i, s2, d2, f: any(a + b <= s2 < a + b + 1_000_000 for a, b in tr.stw_all)))
        out, self.vpred = [], {}
        for k, (kind, text, rng_, hl, pred) in enumerate(vs):
            if rng_ and rng_[0] >= tr.duration:
                continue
            if hl is None:
                j = len(out)
                hl = "v:%d" % j
                a, b = rng_
                self.vpred[j] = (lambda pr, a, b: lambda p, i, s, d, f: a <= s < b and pr(p, i, s, d, f))(pred, a, b)
            out.append({"kind": kind, "text": text, "range": rng_, "hl": hl})
        return out

    def hl_marks(self, spec):
        with self.hl_lock:
            if spec in self.hl_cache:
                return self.hl_cache[spec]
            tr = self.tr
            kind, _, arg = spec.partition(":")
            try:
                if kind == "fn":
                    F = int(arg)
                    pred = lambda p, i, s, d, f: tr.fn[f] == F
                elif kind == "task":
                    T = int(arg)
                    pred = lambda p, i, s, d, f: tr.task[f] == T
                elif kind == "site":
                    R, S = (int(x) for x in arg.split(":"))
                    pred = lambda p, i, s, d, f: tr.end[f] == "block" and tr.reason[f] == R and REASONS[R][1] == S
                elif kind == "v":
                    pred = self.vpred.get(int(arg))
                    if pred is None:
                        return None
                else:
                    return None
            except ValueError:
                return None
            marks = []
            for p in range(tr.procs):
                b = tr.base[p]
                marks.append([pred(p, i, s, d, b + i) for i, (s, d) in enumerate(zip(tr.starts[p], tr.durs[p]))])
            self.hl_cache[spec] = marks
            return marks

    def add_hl(self, q, spec):
        marks = self.hl_marks(spec)
        if marks is None:
            return False
        tr = self.tr
        t0, t1, w = q["t0"], q["t1"], q["w"]
        ns_px = (t1 - t0) / w
        total = 0
        for row in q["rows"]:
            p = row["p"]
            mk, st, du, en = marks[p], tr.starts[p], tr.durs[p], tr.ends[p]
            k = bisect.bisect_right(en, t0)
            out, cur = [], None
            while k < len(st) and st[k] < t1:
                if mk[k]:
                    total += 1
                    s, d = st[k], du[k]
                    if d >= ns_px:
                        out.append([s, d, 1])
                        cur = None
                    else:
                        col = int((s - t0) // ns_px)
                        if cur and cur[3] == col:
                            cur[1] = s + d - cur[0]
                            cur[2] += 1
                        else:
                            cur = [s, d, 1, col]
                            out.append(cur)
                k += 1
            row["hl"] = [x[:3] for x in out]
        q["hl_runs"] = total
        return True

    def verdicts_q(self):
        if time.time() - self.t_start < self.verdict_delay:
            return {"ready": False, "error": None, "verdicts": []}
        err = None
        if self.tr.error:
            err = "offset %d: %s" % (self.tr.error["offset"], self.tr.error["message"])
        return {"ready": True, "error": err, "verdicts": self.verdicts}

    def blocks_q(self):
        if time.time() - self.t_start < self.verdict_delay:
            return {"ready": False, "blocks": []}
        if self.blocks_cache is None:
            tr = self.tr
            acc = {}
            for tid, fl in tr.task_runs.items():
                for k in range(len(fl) - 1):
                    f = fl[k]
                    if tr.end[f] != "block":
                        continue
                    p, i = tr.unflat(f)
                    g = fl[k + 1]
                    q, j = tr.unflat(g)
                    gap = tr.starts[q][j] - tr.ends[p][i]
                    lat = min(gap, 1_000 + (g * 7919) % 20_000)
                    ns = max(0, gap - lat)
                    r = tr.reason[f]
                    a = acc.setdefault(r, [0, 0, 0])
                    a[0] += 1
                    a[1] += ns
                    a[2] = max(a[2], ns)
            rows = []
            for r, (n, ns, mx) in acc.items():
                site = REASONS[r][1]
                rows.append({"reason": REASONS[r][0], "reason_id": r, "site": site, "site_name": SITES[site],
                             "waits": n, "ns": ns, "max_ns": mx, "hl": "site:%d:%d" % (r, site)})
            rows.sort(key=lambda x: -x["ns"])
            self.blocks_cache = {"ready": True, "blocks": rows}
        return self.blocks_cache

    # ---- threads, counters, user ---------------------------------------

    def threads_q(self, t0, t1, w):
        ns_px = (t1 - t0) / w
        rows = []
        for m in range(self.nm):
            hl = self.held[m]
            held, cur = [], None
            for s, d, p in hl:
                if s + d <= t0 or s >= t1:
                    continue
                if cur and s - (cur[0] + cur[1]) < ns_px and (d < ns_px or cur[1] < ns_px):
                    cur[1] = s + d - cur[0]
                    if cur[2] != p:
                        cur[2] = -1
                else:
                    cur = [s, d, p]
                    held.append(cur)
            sl = self.sys[m]
            st = [x[0] for x in sl]
            du = [x[1] for x in sl]
            wide, blocks = lod(st, du, t0, t1, ns_px, 50_000_000)
            rows.append({"m": m, "tid": 4100 + m, "held": held,
                         "sys": [[sl[i][0], sl[i][1], sl[i][2], sl[i][3], i] for i in wide],
                         "sysblocks": blocks})
        return {"t0": t0, "t1": t1, "w": w, "rows": rows}

    def syscall_q(self, m, i):
        if not (0 <= m < self.nm and 0 <= i < len(self.sys[m])):
            return None
        s, d, task, site, ho = self.sys[m][i]
        tr = self.tr
        fn = FNS[tr.task_fn.get(task, 0)] if task else ""
        return {"m": m, "i": i, "task": task, "fn": fn, "site": SITES[site], "start": s, "dur": d, "handoff": ho}

    def counters_q(self, t0, t1, w):
        out = []
        res = self.res
        for name in COUNTERS:
            v = self.cvals[name]
            n = len(v)
            mn, mx, me = [], [], []
            for k in range(w):
                a = t0 + k * (t1 - t0) / w
                b = t0 + (k + 1) * (t1 - t0) / w
                if a >= self.tr.duration:
                    mn.append(None); mx.append(None); me.append(None)
                    continue
                i, j = int(a // res), min(n, max(int(a // res) + 1, int(-(-b // res))))
                sl = v[i:j]
                mn.append(min(sl)); mx.append(max(sl)); me.append(round(sum(sl) / len(sl), 3))
            out.append({"name": name, "max_ever": max(v), "min": mn, "max": mx, "mean": me})
        return {"t0": t0, "t1": t1, "w": w, "res": res, "counters": out}

    def user_q(self, t0, t1, w):
        ns_px = (t1 - t0) / w
        rows = []
        for kind, name, idx, st, du, dmax in self.urows:
            wide, blocks = lod(st, du, t0, t1, ns_px, dmax)
            rows.append({"kind": kind, "type": name, "items": [[st[k], du[k], idx[k]] for k in wide],
                         "blocks": [b[:3] for b in blocks]})
        items, blocks = [], []
        a = bisect.bisect_left(self.log_t, t0)
        b = bisect.bisect_left(self.log_t, t1)
        k = a
        while k < b:
            col = int((self.log_t[k] - t0) // ns_px)
            e = k
            while e + 1 < b and int((self.log_t[e + 1] - t0) // ns_px) == col:
                e += 1
            if e == k:
                items.append([self.log_t[k], k])
            else:
                blocks.append([self.log_t[k], self.log_t[e] - self.log_t[k], e - k + 1])
            k = e + 1
        return {"t0": t0, "t1": t1, "w": w, "rows": rows, "logs": {"items": items, "blocks": blocks}}

    def user_item_q(self, kind, i):
        if kind == "utask" and 0 <= i < len(self.utasks):
            u = dict(self.utasks[i])
            u["type"] = UTYPES[u["type"]]
            return u
        if kind == "region" and 0 <= i < len(self.regions):
            r = dict(self.regions[i])
            r["type"] = RTYPES[r["type"]]
            return r
        if kind == "log" and 0 <= i < len(self.logs):
            return self.logs[i]
        return None


def selftest(tr):
    rng = random.Random(1)
    worst = 0
    for it in range(300):
        w = rng.choice([1, 7, 300, 1280, 1920, 3000])
        a = rng.randrange(0, tr.duration)
        span = int(10 ** rng.uniform(2, 10))
        b = min(tr.duration + 1, a + span)
        if b <= a:
            continue
        q = tr.procs_q(a, b, w)
        ns_px = (b - a) / w
        for row in q["rows"]:
            p = row["p"]
            ents = sorted([(r[0], r[1], "r", r) for r in row["runs"]] +
                          [(bl[0], bl[1], "b", bl) for bl in row["blocks"]])
            for s, d, kind, e in ents:
                if kind == "r":
                    assert d >= ns_px, (e, ns_px)
                    assert tr.starts[p][e[4]] == s and tr.durs[p][e[4]] == d
                else:
                    lo = bisect.bisect_left(tr.starts[p], s)
                    hi = bisect.bisect_left(tr.ends[p], s + d, lo) + 1
                    assert hi - lo == e[2], (e, lo, hi)
                    assert sum(tr.durs[p][lo:hi]) == e[3], e
            # entries per pixel: at most 2 per pixel (+2 for the edges)
            worst = max(worst, len(ents) / (w + 1))
            assert len(ents) <= 2 * w + 2, (len(ents), w)
    fq = tr.fns_q()["fns"]
    runs, exe = {}, {}
    for fl, dl in zip(tr.fn_per_p, tr.durs):
        for fn, d in zip(fl, dl):
            runs[fn] = runs.get(fn, 0) + 1
            exe[fn] = exe.get(fn, 0) + d
    assert {a["fn"]: (a["runs"], a["exec"]) for a in fq} == {fn: (runs[fn], exe[fn]) for fn in runs}
    assert all(fq[j]["exec"] >= fq[j + 1]["exec"] for j in range(len(fq) - 1))
    print("selftest ok: /api/fns runs and exec per function match the runs")
    print("selftest ok: 300 windows, worst %.2f entries per pixel per row" % worst)


def selftest_extra(tr, ex):
    fq = {a["fn"]: a["runs"] for a in tr.fns_q()["fns"]}
    for fn, n in fq.items():
        q = tr.procs_q(0, tr.duration + 1, 1280)
        ex.add_hl(q, "fn:%d" % fn)
        assert q["hl_runs"] == n, (fn, q["hl_runs"], n)
        assert sum(x[2] for row in q["rows"] for x in row["hl"]) == n
    for k, v in enumerate(ex.verdicts):
        a, b = v["range"] or (0, tr.duration + 1)
        q = tr.procs_q(a, b, 1280)
        ex.add_hl(q, v["hl"])
        assert q["hl_runs"] > 0, v
    ex.t_start = 0
    for bl in ex.blocks_q()["blocks"]:
        q = tr.procs_q(0, tr.duration + 1, 1280)
        ex.add_hl(q, bl["hl"])
        assert q["hl_runs"] == bl["waits"], (bl, q["hl_runs"])
    c = ex.counters_q(0, tr.duration + 1, 1280)
    assert [x["name"] for x in c["counters"]] == COUNTERS and all(len(x["mean"]) == 1280 for x in c["counters"])
    th = ex.threads_q(0, tr.duration + 1, 1280)
    assert len(th["rows"]) == ex.nm and sum(len(r["sys"]) + sum(b[2] for b in r["sysblocks"]) for r in th["rows"]) == ex.nsys
    print("selftest ok: hl runs per function, per verdict, per block site; counters, threads")


CTYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
          ".css": "text/css; charset=utf-8", ".png": "image/png", ".svg": "image/svg+xml"}


def make_handler(tr, args, ex=None):
    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *a):
            if args.verbose:
                sys.stderr.write("mock: " + fmt % a + "\n")

        def send(self, code, body, ctype):
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def json(self, obj, code=200):
            self.send(code, json.dumps(obj, separators=(",", ":")).encode(), "application/json")

        def do_GET(self):
            u = urllib.parse.urlsplit(self.path)
            q = {k: v[-1] for k, v in urllib.parse.parse_qs(u.query).items()}
            try:
                if u.path == "/api/meta":
                    m = tr.meta(args.name)
                    if ex:
                        m.update(ms=ex.nm, utasks=len(ex.utasks), regions=len(ex.regions),
                                 logs=len(ex.logs), syscalls=ex.nsys)
                    return self.json(m)
                if u.path in ("/api/procs", "/api/threads", "/api/counters", "/api/user") and (
                        ex or u.path == "/api/procs"):
                    t0, t1, w = int(q["t0"]), int(q["t1"]), int(q["w"])
                    if not (t0 < t1 and 0 < w <= 10000):
                        return self.json({"error": "need t0 < t1 and 0 < w <= 10000"}, 400)
                    if args.delay:
                        time.sleep((random.random() if args.jitter else 1) * args.delay / 1000)
                    if u.path == "/api/threads":
                        return self.json(ex.threads_q(t0, t1, w))
                    if u.path == "/api/counters":
                        return self.json(ex.counters_q(t0, t1, w))
                    if u.path == "/api/user":
                        return self.json(ex.user_q(t0, t1, w))
                    r = tr.procs_q(t0, t1, w)
                    if ex and q.get("hl") and not ex.add_hl(r, q["hl"]):
                        return self.json({"error": "bad hl spec"}, 400)
                    return self.json(r)
                if ex and u.path == "/api/syscall":
                    r = ex.syscall_q(int(q["m"]), int(q["i"]))
                    return self.json(r) if r else self.json({"error": "no such syscall"}, 404)
                if ex and u.path == "/api/user/item":
                    r = ex.user_item_q(q["kind"], int(q["i"]))
                    return self.json(r) if r else self.json({"error": "no such item"}, 404)
                if ex and u.path == "/api/verdicts":
                    return self.json(ex.verdicts_q())
                if ex and u.path == "/api/blocks":
                    return self.json(ex.blocks_q())
                if u.path == "/api/run":
                    r = tr.run_q(int(q["p"]), int(q["i"]))
                    return self.json(r) if r else self.json({"error": "no such run"}, 404)
                if u.path == "/api/fns":
                    return self.json(tr.fns_q())
                if u.path == "/api/task":
                    r = tr.task_q(int(q["id"]))
                    return self.json(r) if r else self.json({"error": "no such task"}, 404)
            except (KeyError, ValueError) as e:
                return self.json({"error": "bad query: %s" % e}, 400)
            if u.path.startswith("/api/"):
                return self.json({"error": "not found"}, 404)
            rel = "index.html" if u.path in ("", "/") else u.path.lstrip("/")
            full = os.path.realpath(os.path.join(VIEW_DIR, rel))
            if not full.startswith(VIEW_DIR + os.sep) or not os.path.isfile(full):
                return self.send(404, b"not found\n", "text/plain")
            with open(full, "rb") as fh:
                body = fh.read()
            self.send(200, body, CTYPES.get(os.path.splitext(full)[1], "application/octet-stream"))
    return H


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, default=8717)
    ap.add_argument("--procs", type=int, default=4)
    ap.add_argument("--runs", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--error", action="store_true")
    ap.add_argument("--delay", type=int, default=0, help="ms before answering /api/procs")
    ap.add_argument("--jitter", action="store_true", help="random delay up to --delay")
    ap.add_argument("--name", default="mock.wt")
    ap.add_argument("--selftest", action="store_true")
    ap.add_argument("--legacy", action="store_true",
                    help="answer only the first API (no threads, counters, user, verdicts, blocks, hl)")
    ap.add_argument("--no-user", action="store_true", help="a trace without user tasks, regions or logs")
    ap.add_argument("--verdict-delay", type=float, default=1.5, help="s before /api/verdicts is ready")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    t = time.time()
    tr = Trace(args.procs, args.runs, args.seed, args.error)
    sys.stderr.write("mock: %d runs, %d tasks, %d Ps, %.3f s, built in %.1f s\n" % (
        tr.nruns, tr.ntasks, tr.procs, tr.duration / 1e9, time.time() - t))
    ex = None if args.legacy else Extra(tr, args.seed, not args.no_user, args.verdict_delay)
    if ex:
        sys.stderr.write("mock: %d Ms, %d syscalls, %d user tasks, %d regions, %d logs, built in %.1f s\n" % (
            ex.nm, ex.nsys, len(ex.utasks), len(ex.regions), len(ex.logs), time.time() - t))
    if args.selftest:
        selftest(tr)
        if ex:
            selftest_extra(tr, ex)
        return
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(tr, args, ex))
    sys.stderr.write("mock: http://127.0.0.1:%d/\n" % srv.server_address[1])
    sys.stderr.flush()
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""chrome_check.py - check a Chrome trace-event JSON file the way its
importers read it (the Trace Event Format, as catapult's trace viewer
and Perfetto's JSON importer apply it):

  - the file is JSON: an object with a "traceEvents" list;
  - every event has a known phase and the fields that phase needs;
  - complete slices ("X") on one row (pid, tid) nest: two slices either
    do not overlap or one contains the other;
  - every flow id has exactly one start ("s") and one end ("f"); the
    start lies inside a slice of its row and is the exact start of one
    (Chrome DevTools binds flows by equal time); the end (no "bp", so it
    binds to the next slice) is at the exact start of a slice of its row,
    and not before the start;
  - async slices ("b"/"e") pair up by (cat, id), the end not before the
    begin;
  - counters ("C") carry numeric args.

Usage: chrome_check.py FILE [--window FROM_US TO_US] [--summary OUT.json]
Prints a summary; exits 1 with the first problems found.
"""
import bisect
import json
import sys
from collections import defaultdict


def ns(v):
    return int(round(float(v) * 1000))


def main():
    args = sys.argv[1:]
    if not args:
        print(__doc__, file=sys.stderr)
        return 2
    path = args[0]
    window = None
    summary_out = None
    if "--window" in args:
        i = args.index("--window")
        window = (ns(args[i + 1]), ns(args[i + 2]))
    if "--summary" in args:
        summary_out = args[args.index("--summary") + 1]
    with open(path) as f:
        doc = json.load(f)
    problems = []

    def bad(msg):
        if len(problems) < 20:
            problems.append(msg)

    if not isinstance(doc, dict) or not isinstance(doc.get("traceEvents"), list):
        print("FAIL: no traceEvents list", file=sys.stderr)
        return 1
    evs = doc["traceEvents"]
    slices = defaultdict(list)  # (pid, tid) -> [(start, end, name)]
    flows = defaultdict(lambda: {"s": [], "f": []})
    asyncs = defaultdict(list)
    names = defaultdict(int)
    counters = 0
    instants = 0
    for n, e in enumerate(evs):
        ph = e.get("ph")
        if ph not in ("X", "M", "C", "s", "f", "t", "b", "e", "i", "I"):
            bad("event %d: unknown phase %r" % (n, ph))
            continue
        if "pid" not in e:
            bad("event %d: no pid" % n)
        if ph == "M":
            if e.get("name") not in ("process_name", "thread_name", "thread_sort_index",
                                     "process_sort_index"):
                bad("event %d: unknown metadata %r" % (n, e.get("name")))
            continue
        if "ts" not in e or not isinstance(e["ts"], (int, float)):
            bad("event %d: no numeric ts" % n)
            continue
        t = ns(e["ts"])
        if window and ph != "M" and not (window[0] <= t <= window[1]):
            bad("event %d (%s %s) at %d ns is outside the window %s" % (n, ph, e.get("name"), t, window))
        if ph == "X":
            if "tid" not in e or not isinstance(e.get("dur"), (int, float)) or e["dur"] < 0:
                bad("event %d: X without tid or with a bad dur" % n)
                continue
            if not isinstance(e.get("name"), str):
                bad("event %d: X without a name" % n)
            end = t + ns(e["dur"])
            if window and end > window[1]:
                bad("event %d: slice ends at %d, after the window" % (n, end))
            slices[(e["pid"], e["tid"])].append((t, end, e.get("name")))
            names[e.get("name")] += 1
        elif ph in ("s", "f", "t"):
            if "id" not in e or "tid" not in e:
                bad("event %d: flow without id or tid" % n)
                continue
            if ph == "t":
                continue
            flows[(e.get("cat"), e["id"])][ph].append((e["pid"], e["tid"], t, e.get("bp")))
        elif ph in ("b", "e"):
            if "id" not in e:
                bad("event %d: async event without id" % n)
                continue
            asyncs[(e.get("cat"), e["id"])].append((ph, t, e.get("name")))
        elif ph == "C":
            a = e.get("args")
            if not isinstance(a, dict) or not a or not all(isinstance(v, (int, float)) for v in a.values()):
                bad("event %d: counter without numeric args" % n)
            counters += 1
        elif ph in ("i", "I"):
            if e.get("s", "t") not in ("t", "p", "g"):
                bad("event %d: instant with scope %r" % (n, e.get("s")))
            instants += 1

    # Nesting per row.
    starts = {}
    nslices = 0
    for row, v in slices.items():
        v.sort(key=lambda s: (s[0], -s[1]))
        stack = []
        for s in v:
            while stack and stack[-1][1] <= s[0] and not (stack[-1][1] == s[0] and s[1] == s[0]):
                stack.pop()
            if stack and s[1] > stack[-1][1]:
                bad("row %s: slice %r [%d, %d] overlaps %r [%d, %d] without nesting"
                    % (row, s[2], s[0], s[1], stack[-1][2], stack[-1][0], stack[-1][1]))
            stack.append(s)
        starts[row] = [s[0] for s in v]
        nslices += len(v)

    def enclosing(row, t):
        v = slices.get(row, [])
        i = bisect.bisect_right(starts.get(row, []), t)
        for s in reversed(v[max(0, i - 64):i]):
            if s[0] <= t <= s[1]:
                return True
        # A long slice may start far before: scan back further (rare).
        return any(s[0] <= t <= s[1] for s in v[:max(0, i - 64)])

    nflows = 0
    for key, fl in flows.items():
        if len(fl["s"]) != 1 or len(fl["f"]) != 1:
            bad("flow %s: %d starts and %d ends" % (key, len(fl["s"]), len(fl["f"])))
            continue
        sp, st, sts, _ = fl["s"][0]
        fp, ft, fts, bp = fl["f"][0]
        if not enclosing((sp, st), sts):
            bad("flow %s: its start at %d on row %s is in no slice" % (key, sts, (sp, st)))
        row = starts.get((sp, st), [])
        i = bisect.bisect_left(row, sts)
        if not (i < len(row) and row[i] == sts):
            bad("flow %s: no slice starts at its start (%d, row %s) for DevTools to bind"
                % (key, sts, (sp, st)))
        if bp == "e":
            ok = enclosing((fp, ft), fts)
        else:
            row = starts.get((fp, ft), [])
            i = bisect.bisect_left(row, fts)
            ok = i < len(row) and row[i] == fts
        if not ok:
            bad("flow %s: its end at %d on row %s binds to no slice" % (key, fts, (fp, ft)))
        if fts < sts:
            bad("flow %s: ends (%d) before it starts (%d)" % (key, fts, sts))
        nflows += 1

    nasync = 0
    for key, v in asyncs.items():
        b = [x for x in v if x[0] == "b"]
        e = [x for x in v if x[0] == "e"]
        if len(b) != len(e):
            bad("async %s: %d begins, %d ends" % (key, len(b), len(e)))
            continue
        for x, y in zip(sorted(b, key=lambda z: z[1]), sorted(e, key=lambda z: z[1])):
            if y[1] < x[1]:
                bad("async %s ends before it begins" % (key,))
        nasync += len(b)

    summary = {
        "events": len(evs), "slices": nslices, "rows": len(slices), "flows": nflows,
        "async": nasync, "counters": counters, "instants": instants,
        "names": dict(names),
    }
    if summary_out:
        with open(summary_out, "w") as f:
            json.dump(summary, f)
    print("%s: %d events, %d slices on %d rows, %d flows, %d async slices, %d counters, "
          "%d instants" % (path, len(evs), nslices, len(slices), nflows, nasync, counters, instants))
    if problems:
        for p in problems:
            print("FAIL: " + p, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""perfetto_check.py - check a Perfetto protobuf trace written by
`weft-trace export --format perfetto` the way trace_processor imports it.

Nobody here can run Perfetto's trace processor or its UI (no offline
build: not on npm, PyPI unreachable), so these are structural checks of
what its importer relies on. The file (gunzipped if it is gzip'd) is
decoded by `protoc --decode=perfetto.protos.Trace tests/perfetto_trace.proto`
and read packet by packet:

  - every field is one the schema knows (protoc prints unknown ones by
    number: a wrong field number in the writer shows up here);
  - sequences: the first packet of each trusted_packet_sequence_id clears
    the incremental state (sequence_flags 1), sets the clock (defaults:
    timestamp_clock_id 64) and ties the incremental clock 64 to BOOTTIME
    (a ClockSnapshot); every later timed packet is a delta on it, and the
    reconstructed time never goes back within a sequence;
  - interning: every name_iid, debug annotation name_iid and
    string_value_iid is defined in that sequence, in that packet or an
    earlier one, and an iid is never redefined as another string;
  - tracks: every track an event is on (its own track_uuid or the
    sequence's default) was described before, with its parent; children
    of an EXPLICIT parent have distinct ranks; the P tracks ("P0",
    "P1", ...) are children of an EXPLICIT parent, ranked in P order;
  - slices nest per track: SLICE_END closes the innermost open slice, not
    before it began, and nothing is left open at the end;
  - flows: every id in flow_ids has exactly one source and exactly one
    event that terminates it (terminating_flow_ids), not before the source;
  - counters: on counter tracks, the extra values as many as the
    sequence's extra counter tracks;
  - with --window FROM_US TO_US: every timestamp is inside the window.

With --stats STATS.json (`weft-trace stats --json` of the same trace,
exported whole) the counts must match: runs counted as starts (run
slices without the "from" arg) == task_starts, "spawn" markers ==
tasks_created, "wake" markers == unblocks, syscalls, stops, user tasks,
logs, and flows == spawns + wakes.

Usage: perfetto_check.py FILE [--window FROM_US TO_US] [--stats STATS.json]
                              [--summary OUT.json]
Prints a summary; exits 1 with the first problems found.
"""
import codecs
import gzip
import io
import json
import os
import re
import subprocess
import sys
import threading
from collections import defaultdict

PROTO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "perfetto_trace.proto")
LINE = re.compile(r'^\s*([A-Za-z_][A-Za-z0-9_]*|\d+)(?::\s*(.*?)|\s*\{)\s*$')


def text_value(v):
    if v.startswith('"'):
        return codecs.escape_decode(v[1:-1].encode("latin-1"))[0].decode("utf-8", "replace")
    if v in ("true", "false"):
        return v == "true"
    try:
        return int(v)
    except ValueError:
        return v  # an enum's name


def packets(stream, bad):
    """Yield each packet of protoc's text output as nested dicts of lists."""
    stack = []
    for line in stream:
        s = line.strip()
        if not s:
            continue
        if s == "}":
            done = stack.pop()
            if not stack:
                yield done
            continue
        m = LINE.match(line)
        if not m:
            bad("cannot read protoc's line %r" % line[:80])
            continue
        key = m.group(1)
        if key[0].isdigit():
            bad("a field the schema does not know: %s (in %s)" % (line.strip()[:60], "packet"))
        if m.group(2) is None:  # a message opens
            d = {}
            if stack:
                stack[-1].setdefault(key, []).append(d)
            stack.append(d)
        else:
            if not stack:
                bad("a value outside a packet: %r" % line[:80])
                continue
            stack[-1].setdefault(key, []).append(text_value(m.group(2)))


def one(d, k, default=None):
    v = d.get(k)
    return v[0] if v else default


def main():
    args = sys.argv[1:]
    if not args:
        print(__doc__, file=sys.stderr)
        return 2
    path = args[0]
    window = stats = summary_out = None
    if "--window" in args:
        i = args.index("--window")
        window = (int(round(float(args[i + 1]) * 1000)), int(round(float(args[i + 2]) * 1000)))
    if "--stats" in args:
        with open(args[args.index("--stats") + 1]) as f:
            stats = json.load(f)
    if "--summary" in args:
        summary_out = args[args.index("--summary") + 1]
    problems = []

    def bad(msg):
        if len(problems) < 20:
            problems.append(msg)

    with open(path, "rb") as f:
        data = f.read()
    gzipped = data[:2] == b"\x1f\x8b"
    if gzipped:
        data = gzip.decompress(data)
    proc = subprocess.Popen(["protoc", "--decode=perfetto.protos.Trace", "-I",
                             os.path.dirname(PROTO), os.path.basename(PROTO)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    # protoc reads all its input before it prints: a thread writes it
    # while this one reads the text as it comes.
    feeder = threading.Thread(target=lambda: (proc.stdin.write(data), proc.stdin.close()))
    feeder.start()
    text = io.TextIOWrapper(proc.stdout, encoding="utf-8", errors="replace")

    seqs = {}            # id -> state
    tracks = {}          # uuid -> descriptor (dict)
    children = defaultdict(list)  # parent uuid -> [(rank, uuid, name)]
    open_slices = defaultdict(list)  # track -> [(ts, name)]
    track_seq = {}       # track -> the sequence its events come from
    flow_src = defaultdict(list)
    flow_end = defaultdict(list)
    names = defaultdict(int)
    ends = defaultdict(int)
    end_values = set()
    parents = defaultdict(set)  # slice name -> names of the slices it began inside
    n = dict(packets=0, events=0, slices=0, instants=0, counters=0, runs=0, runs_started=0,
             spawns=0, wakes=0, syscalls=0, stw=0, utasks=0, logs=0, regions=0, descriptors=0)

    for pk in packets(text, bad):
        n["packets"] += 1
        if "track_descriptor" in pk:
            n["descriptors"] += 1
            td = one(pk, "track_descriptor")
            uuid = one(td, "uuid")
            if uuid is None:
                bad("a track descriptor without a uuid")
                continue
            key = {k: v for k, v in td.items()}
            if uuid in tracks and tracks[uuid] != key:
                bad("track %d described twice, differently" % uuid)
            parent = one(td, "parent_uuid")
            if parent is not None and parent not in tracks:
                bad("track %d (%s): its parent %d is not described before it"
                    % (uuid, one(td, "name"), parent))
            if uuid not in tracks and parent is not None:
                children[parent].append((one(td, "sibling_order_rank"), uuid, one(td, "name")))
            tracks[uuid] = key
            continue
        sid = one(pk, "trusted_packet_sequence_id")
        if sid is None:
            bad("packet %d: no sequence id and no descriptor" % n["packets"])
            continue
        flags = one(pk, "sequence_flags", 0)
        if flags & 1:
            s = seqs[sid] = dict(names={}, keys={}, vals={}, last=None, track=None, extra=[],
                                 clock=None)
        elif sid not in seqs:
            bad("sequence %d: its first packet does not clear the incremental state" % sid)
            s = seqs[sid] = dict(names={}, keys={}, vals={}, last=None, track=None, extra=[],
                                 clock=None)
        else:
            s = seqs[sid]
        if "trace_packet_defaults" in pk:
            d = one(pk, "trace_packet_defaults")
            s["clock"] = one(d, "timestamp_clock_id")
            ted = one(d, "track_event_defaults", {})
            s["track"] = one(ted, "track_uuid")
            s["extra"] = ted.get("extra_counter_track_uuids", [])
        if "clock_snapshot" in pk:
            clocks = {one(c, "clock_id"): c for c in one(pk, "clock_snapshot")["clocks"]}
            c64 = clocks.get(64)
            if 6 not in clocks or c64 is None or not one(c64, "is_incremental"):
                bad("sequence %d: the clock snapshot does not tie an incremental clock 64 to BOOTTIME" % sid)
            elif one(c64, "timestamp") != one(clocks[6], "timestamp") or one(c64, "unit_multiplier_ns", 1) != 1:
                bad("sequence %d: clock 64 is not BOOTTIME's nanoseconds" % sid)
            else:
                s["last"] = one(c64, "timestamp")
        if "interned_data" in pk:
            idata = one(pk, "interned_data")
            for field, table in (("event_names", "names"), ("debug_annotation_names", "keys"),
                                 ("debug_annotation_string_values", "vals")):
                for e in idata.get(field, []):
                    iid = one(e, "iid")
                    v = one(e, "name", one(e, "str"))
                    if not iid or v is None:
                        bad("sequence %d: an interned %s without iid or string" % (sid, field))
                    elif iid in s[table] and s[table][iid] != v:
                        bad("sequence %d: %s iid %d redefined (%r, then %r)" % (sid, field, iid, s[table][iid], v))
                    else:
                        s[table][iid] = v
        if "track_event" not in pk:
            continue
        te = one(pk, "track_event")
        n["events"] += 1
        if s["clock"] != 64 or s["last"] is None:
            bad("sequence %d: an event before its clock was set" % sid)
            continue
        if "timestamp" not in pk:
            bad("sequence %d: a track event without a timestamp" % sid)
            continue
        delta = one(pk, "timestamp")
        if delta >= 1 << 63:
            bad("sequence %d: time goes back (delta %d)" % (sid, delta - (1 << 64)))
            continue
        ts = s["last"] + delta
        s["last"] = ts
        if window and not (window[0] <= ts <= window[1]):
            bad("sequence %d: an event at %d ns, outside the window %s" % (sid, ts, window))
        # Names and args, resolved.
        name = one(te, "name")
        if "name_iid" in te:
            name = s["names"].get(one(te, "name_iid"))
            if name is None:
                bad("sequence %d: event name iid %d used before it is defined" % (sid, one(te, "name_iid")))
        ann = {}
        for a in te.get("debug_annotations", []):
            k = s["keys"].get(one(a, "name_iid")) if "name_iid" in a else one(a, "name")
            if k is None:
                bad("sequence %d: annotation name iid %s not defined" % (sid, one(a, "name_iid")))
                continue
            if "string_value_iid" in a:
                v = s["vals"].get(one(a, "string_value_iid"))
                if v is None:
                    bad("sequence %d: string value iid %d not defined" % (sid, one(a, "string_value_iid")))
            else:
                v = one(a, "uint_value", one(a, "int_value", one(a, "string_value")))
            ann[k] = v
        track = one(te, "track_uuid", s["track"])
        if track is None or track not in tracks:
            bad("sequence %d: an event on track %s, not described before" % (sid, track))
            continue
        if track_seq.setdefault(track, sid) != sid:
            bad("track %d: events from sequences %d and %d" % (track, track_seq[track], sid))
        tname = one(tracks[track], "name", "")
        typ = one(te, "type")
        for fid in te.get("flow_ids", []):
            flow_src[fid].append(ts)
        for fid in te.get("terminating_flow_ids", []):
            flow_end[fid].append(ts)
        if typ == "TYPE_SLICE_BEGIN":
            if name is None:
                bad("track %s: a slice without a name" % tname)
            if open_slices[track]:
                parents[name].add(open_slices[track][-1][1])
            open_slices[track].append((ts, name, ann))
            names[name] += 1
            n["slices"] += 1
            if re.match(r"^P\d+$", tname):
                if "task" in ann:
                    n["runs"] += 1
                    if "from" not in ann:
                        n["runs_started"] += 1
                else:
                    n["regions"] += 1
            elif tname.startswith("M") and name.startswith("syscall: "):
                n["syscalls"] += 1
            elif track == 2 or tname == "stop-the-world":
                n["stw"] += 1
            elif "utask" in ann:
                n["utasks"] += 1
        elif typ == "TYPE_SLICE_END":
            st = open_slices[track]
            if not st:
                bad("track %s: SLICE_END at %d with no slice open" % (tname, ts))
                continue
            b = st.pop()
            if ts < b[0]:
                bad("track %s: slice %r ends (%d) before it begins (%d)" % (tname, b[1], ts, b[0]))
            if "end" in ann:
                if "task" not in b[2]:
                    bad("track %s: an end reason on a slice that is not a run (%r)" % (tname, b[1]))
                ends[ann["end"].split(":")[0].split(" at ")[0]] += 1
                end_values.add(ann["end"])
        elif typ == "TYPE_INSTANT":
            n["instants"] += 1
            names[name] += 1
            if name == "spawn":
                n["spawns"] += 1
            elif name == "wake":
                n["wakes"] += 1
            elif "message" in ann:
                n["logs"] += 1
            if name in ("spawn", "wake") and len(te.get("flow_ids", [])) != 1:
                bad("a %s marker with %d flow ids" % (name, len(te.get("flow_ids", []))))
        elif typ == "TYPE_COUNTER":
            n["counters"] += 1
            if "counter" not in tracks[track]:
                bad("a counter value on track %s, which is not a counter track" % tname)
            nx = len(te.get("extra_counter_values", []))
            if nx != len(s["extra"]) or any(u not in tracks or "counter" not in tracks[u] for u in s["extra"]):
                bad("sequence %d: %d extra counter values for %d extra counter tracks" % (sid, nx, len(s["extra"])))
        else:
            bad("an event of type %r" % typ)
    feeder.join()
    if proc.wait() != 0:
        bad("protoc could not decode the file")

    for track, st in open_slices.items():
        if st:
            bad("track %s: %d slices never end (first %r)" % (one(tracks[track], "name"), len(st), st[0][1]))
    nflows = 0
    for fid in set(flow_src) | set(flow_end):
        a, b = flow_src.get(fid, []), flow_end.get(fid, [])
        if len(a) != 1 or len(b) != 1:
            bad("flow %d: %d sources and %d ends" % (fid, len(a), len(b)))
        elif b[0] < a[0]:
            bad("flow %d ends (%d) before its source (%d)" % (fid, b[0], a[0]))
        else:
            nflows += 1
    # Track order: explicit ranks, distinct, Ps in P order.
    porder = []
    for parent, ch in children.items():
        explicit = one(tracks[parent], "child_ordering") == "EXPLICIT"
        ranks = [r for r, _, _ in ch]
        if explicit and (None in ranks or len(set(ranks)) != len(ranks)):
            bad("track %s orders its children explicitly but their ranks are %s" % (one(tracks[parent], "name"), ranks))
        ps = [(r, int(nm[1:])) for r, _, nm in ch if nm and re.match(r"^P\d+$", nm)]
        if ps:
            if not explicit:
                bad("the P tracks' parent does not order its children explicitly")
            porder = [p for _, p in sorted(ps)]
            if porder != sorted(porder) or any(r is None for r, _ in ps):
                bad("the P tracks are ranked out of P order: %s" % porder)
    if not porder:
        bad("no P track")

    summary = dict(n, flows=nflows, tracks=len(tracks), sequences=len(seqs), gzipped=gzipped,
                   p_order=porder, names=dict(names), ends=dict(ends),
                   end_values=sorted(end_values),
                   parents={k: sorted(v) for k, v in parents.items()})
    if stats:
        by = stats["events_by_type"]
        want = dict(runs_started=stats["task_starts"], spawns=stats["tasks_created"],
                    wakes=by["TASK_UNBLOCK"], syscalls=by["SYSCALL_ENTER"], stw=by["STW_BEGIN"],
                    utasks=by["UTASK_BEGIN"], logs=by["LOG"],
                    flows=stats["tasks_created"] + by["TASK_UNBLOCK"])
        for k, v in want.items():
            if summary[k] != v:
                bad("%s: %d in the export, %d in weft-trace stats" % (k, summary[k], v))
        if n["regions"] < by["REGION_BEGIN"]:
            bad("regions: %d pieces for %d regions" % (n["regions"], by["REGION_BEGIN"]))
    if summary_out:
        with open(summary_out, "w") as f:
            json.dump(summary, f)
    print("%s: %d packets, %d events on %d tracks in %d sequences: %d slices (%d runs), "
          "%d instants, %d counters, %d flows%s"
          % (path, n["packets"], n["events"], len(tracks), len(seqs), n["slices"], n["runs"],
             n["instants"], n["counters"], nflows, " (gzip'd)" if gzipped else ""))
    if problems:
        for p in problems:
            print("FAIL: " + p, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

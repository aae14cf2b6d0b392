#!/usr/bin/env python3
"""go_trace_check.py - open a Go execution trace with the real `go tool trace`
and report what it saw, for tests/tool_go.test.

    go_trace_check.py TRACE --summary OUT.json [--pidfile FILE] [--weft FILE.json]
                      [--stats FILE.json]

1. `go tool trace -d TRACE` must parse it (exit 0, no error); from its
   event list (one event a line: "TS Type p=P g=G off=O args...") it counts
   the goroutines (distinct new G ids of GoCreate) and the events by type.
2. `go tool trace -http=127.0.0.1:0 TRACE` is started (BROWSER=/bin/true so
   it opens nothing; its pid goes to --pidfile for the caller's trap); the
   address is read from the line it logs when it listens. Every page below
   must answer 200 with a non-empty body, and the links of the goroutine,
   task and region pages are followed (each must answer 200 too). The
   profiles are fetched raw (?raw=1: the SVG form needs Graphviz) and
   their samples counted in the gzip'd protobuf.
3. The summary (JSON) has what the test checks: goroutines, types,
   groups (entry function -> goroutines, from /goroutines), user task
   types, region types, the samples of each profile and the function
   names in them, the unblocks drawn on the timeline's Network row
   (network_unblocks: the wakes of goroutines blocked in GoBlockNet); with --weft, the JSON of that file (weft-trace tasks
   --json of the same trace) as "weft", with its blocks by reason summed
   over the functions ("weft_blocks") and its runs ("weft_runs"); with
   --stats, that file (weft-trace stats --json) as "stats".
"""
import gzip
import html
import json
import os
import re
import subprocess
import sys
import urllib.request


def fail(msg):
    print("FAIL: go_trace_check: " + msg, file=sys.stderr)
    sys.exit(1)


def varint(b, i):
    v = shift = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << shift
        shift += 7
        if c < 0x80:
            return v, i


def profile(body):
    """(samples, strings) of a gzip'd pprof profile: the top-level fields 2
    (sample) and 6 (string_table) of perftools.profiles.Profile."""
    b = gzip.decompress(body)
    i = nsample = 0
    strings = []
    while i < len(b):
        tag, i = varint(b, i)
        field, wt = tag >> 3, tag & 7
        if wt == 0:
            _, i = varint(b, i)
        elif wt == 2:
            n, i = varint(b, i)
            if field == 2:
                nsample += 1
            elif field == 6:
                strings.append(b[i:i + n].decode("utf-8", "replace"))
            i += n
        elif wt == 1:
            i += 8
        elif wt == 5:
            i += 4
        else:
            fail("profile: wire type %d" % wt)
    return nsample, strings


def main():
    args = sys.argv[1:]
    if not args or "--summary" not in args:
        fail("usage: go_trace_check.py TRACE --summary OUT [--pidfile FILE]")
    trace = args[0]
    out = args[args.index("--summary") + 1]
    pidfile = args[args.index("--pidfile") + 1] if "--pidfile" in args else None
    weft = args[args.index("--weft") + 1] if "--weft" in args else None
    stats = args[args.index("--stats") + 1] if "--stats" in args else None
    env = dict(os.environ, BROWSER="/bin/true")
    s = {"types": {}, "profiles": {}, "profile_funcs": {}}

    # 1. The parser.
    d = subprocess.run(["go", "tool", "trace", "-d", trace], capture_output=True, text=True, env=env)
    if d.returncode != 0:
        fail("go tool trace -d %s: status %d\n%s" % (trace, d.returncode, d.stderr[-2000:]))
    created = set()
    for line in d.stdout.splitlines():
        f = line.split()
        if len(f) < 2:
            continue
        s["types"][f[1]] = s["types"].get(f[1], 0) + 1
        if f[1] == "GoCreate":
            m = re.search(r" off=\d+ g=(\d+) ", line + " ")
            if not m:
                fail("GoCreate line without its new g: " + line)
            created.add(int(m.group(1)))
    s["goroutines"] = len(created)
    if not created:
        fail("no goroutine in " + trace)

    # 2. The web UI.
    # Its own process group: `go tool trace` runs the trace binary as a
    # child, which killing go alone left serving for ever (322 of them had
    # piled up on the development machine).
    srv = subprocess.Popen(["go", "tool", "trace", "-http=127.0.0.1:0", trace], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                           start_new_session=True)
    try:
        if pidfile:
            with open(pidfile, "w") as pf:
                pf.write("%d\n" % srv.pid)
        base, log = None, []
        for line in srv.stderr:
            log.append(line)
            m = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
            if m:
                base = m.group(1)
                break
        if not base:
            fail("go tool trace -http did not start:\n" + "".join(log[-20:]))

        def get(path):
            try:
                with urllib.request.urlopen(base + path, timeout=60) as r:
                    body = r.read()
                    if r.status != 200:
                        fail("%s: HTTP %d" % (path, r.status))
            except Exception as e:  # a handler that panics drops the connection
                fail("%s: %r" % (path, e))
            if not body:
                fail("%s: empty body" % path)
            return body

        get("/")
        jt = json.loads(get("/jsontrace"))
        s["jsontrace_events"] = len(jt.get("traceEvents", []))
        s["jsontrace_slices"] = sorted({e["name"] for e in jt["traceEvents"] if e.get("ph") == "X"})
        net_tids = {e.get("tid") for e in jt["traceEvents"]
                    if e.get("ph") == "M" and e.get("name") == "thread_name"
                    and e.get("args", {}).get("name") == "Network"}
        s["network_unblocks"] = sum(1 for e in jt["traceEvents"] if e.get("tid") in net_tids
                                    and e.get("ph") in ("i", "I") and e.get("name") == "unblock")
        get("/mmuPlot?flags=perProc")
        page = get("/goroutines").decode()
        groups = re.findall(r'<a href="(/goroutine\?id=\d+)">([^<]*)</a> N=(\d+)', page)
        s["groups"] = {}
        for link, name, n in groups:
            name = html.unescape(name)
            s["groups"][name] = s["groups"].get(name, 0) + int(n)
            get(link)
        page = get("/usertasks").decode()
        s["usertasks"] = sorted(set(html.unescape(t) for t in
                                    re.findall(r'href="/usertask\?type=([^"&]*)"', page)))
        for t in s["usertasks"]:
            get("/usertask?type=" + urllib.request.quote(t))
        page = get("/userregions").decode()
        links = re.findall(r'href="(/userregion\?[^"]*)"', page)
        s["regions"] = sorted(set(html.unescape(re.search(r"type=([^&]*)", l).group(1))
                                  for l in links))
        for l in links:
            get(html.unescape(l))
        for prof in ("io", "block", "syscall", "sched"):
            n, strings = profile(get("/%s?raw=1" % prof))
            s["profiles"][prof] = n
            s["profile_funcs"][prof] = sorted(set(strings) - {""})
    finally:
        try:
            os.killpg(srv.pid, 9)
        except ProcessLookupError:
            pass
        srv.wait()
    if weft:
        with open(weft) as f:
            s["weft"] = json.load(f)
        s["weft_blocks"], s["weft_runs"] = {}, 0
        for fn in s["weft"]["functions"]:
            s["weft_runs"] += fn["runs"]
            for r, n in fn.get("blocks", {}).items():
                s["weft_blocks"][r] = s["weft_blocks"].get(r, 0) + n
    if stats:
        with open(stats) as f:
            s["stats"] = json.load(f)
    with open(out, "w") as f:
        json.dump(s, f, indent=1)
    print("ok: %s: %d goroutines, pages answer" % (trace, s["goroutines"]))


main()

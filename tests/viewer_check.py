#!/usr/bin/env python3
"""viewer_check.py - load a Chrome trace-event JSON file into a real trace
viewer: headless Chromium's own DevTools front end (the Performance
panel's trace engine, models/trace/trace.js, bundled in every Chromium),
driven over the DevTools protocol on a pipe (--remote-debugging-pipe: no
network, no extra packages).

It parses the trace with the engine's full set of handlers, then compares
what the viewer built with the file: every thread row with its number of
slices, the number of flow arrows it bound, the time bounds. Exits 0 if
they agree, 1 if not, 77 (skip) if Chromium or its DevTools front end is
missing.

Usage: viewer_check.py FILE.json [CHROMIUM]
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

ENGINE_JS = r"""
(async (trace) => {
  const T = await import('./models/trace/trace.js');
  const model = T.TraceModel.Model.createWithAllHandlers();
  await model.parse(trace.traceEvents);
  const d = model.parsedTrace(0).data;
  const rows = [];
  for (const [pid, p] of d.Renderer.processes)
    for (const [tid, t] of p.threads)
      rows.push({pid: Number(pid), tid: Number(tid), name: t.name,
                 entries: t.entries.length, roots: t.tree ? t.tree.roots.size : -1});
  return JSON.stringify({bounds: d.Meta.traceBounds, flows: d.Flows.flows.length,
                         flowLens: d.Flows.flows.map(f => f.length), rows});
})
"""

PROBE_JS = r"""
(async () => {
  const T = await import('./models/trace/trace.js');
  return typeof T.TraceModel.Model.createWithAllHandlers;
})()
"""


def find_chromium(arg):
    for c in ([arg] if arg else []) + ["/usr/lib/chromium/chromium", "chromium", "chromium-browser",
                                      "google-chrome"]:
        p = shutil.which(c) if not os.path.isabs(c) else (c if os.access(c, os.X_OK) else None)
        if p:
            return p
    return None


class Pipe:
    def __init__(self, exe, profile):
        r1, self.w = os.pipe()  # we write, the browser reads fd 3
        self.r, w2 = os.pipe()  # the browser writes fd 4

        def child():
            a, b = os.dup(r1), os.dup(w2)
            os.dup2(a, 3)
            os.dup2(b, 4)

        # Internal pages (devtools://) are refused unless this pref is set.
        os.makedirs(profile, exist_ok=True)
        with open(os.path.join(profile, "Local State"), "w") as f:
            json.dump({"internal_only_uis_enabled": True}, f)
        self.p = subprocess.Popen(
            [exe, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--remote-debugging-pipe", "--user-data-dir=" + profile, "about:blank"],
            preexec_fn=child, close_fds=False, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        os.close(r1)
        os.close(w2)
        self.buf = b""
        self.id = 0

    def call(self, method, params=None, session=None):
        self.id += 1
        msg = {"id": self.id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.w, json.dumps(msg).encode() + b"\0")
        while True:
            while b"\0" in self.buf:
                raw, self.buf = self.buf.split(b"\0", 1)
                d = json.loads(raw)
                if d.get("id") == self.id:
                    if "error" in d:
                        raise RuntimeError("%s: %s" % (method, d["error"]))
                    return d["result"]
            chunk = os.read(self.r, 1 << 20)
            if not chunk:
                raise RuntimeError("the browser closed the pipe")
            self.buf += chunk

    def close(self):
        try:
            self.call("Browser.close")
        except Exception:
            pass
        try:
            self.p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.p.kill()


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    path = sys.argv[1]
    exe = find_chromium(sys.argv[2] if len(sys.argv) > 2 else None)
    if not exe:
        print("SKIP: no Chromium (apt-get install chromium) to load the trace into")
        return 77
    text = open(path).read()
    doc = json.loads(text)
    profile = tempfile.mkdtemp(prefix="weft-viewer-")
    b = Pipe(exe, profile)
    try:
        tgt = b.call("Target.createTarget", {"url": "devtools://devtools/bundled/devtools_app.html"})
        sess = b.call("Target.attachToTarget", {"targetId": tgt["targetId"], "flatten": True})["sessionId"]
        b.call("Runtime.enable", session=sess)
        # Wait for the page to load its modules.
        for _ in range(100):
            r = b.call("Runtime.evaluate", {"expression": "document.readyState", "returnByValue": True},
                       sess)
            if r["result"].get("value") == "complete":
                break
        # First only the import: a Chromium without the engine is a skip,
        # but once it is there, any exception while parsing is a failure.
        probe = b.call("Runtime.evaluate", {"expression": PROBE_JS, "returnByValue": True,
                                            "awaitPromise": True}, sess)
        if "exceptionDetails" in probe or probe["result"].get("value") != "function":
            det = probe.get("exceptionDetails", {})
            desc = det.get("exception", {}).get("description") or det.get("text") or probe["result"]
            print("SKIP: this Chromium has no DevTools trace engine: %s" % desc)
            return 77
        r = b.call("Runtime.evaluate", {"expression": ENGINE_JS + "(" + text + ")",
                                        "returnByValue": True, "awaitPromise": True}, sess)
    finally:
        b.close()
        shutil.rmtree(profile, ignore_errors=True)
    if "exceptionDetails" in r:
        det = r["exceptionDetails"]
        desc = det.get("exception", {}).get("description") or det.get("text")
        print("FAIL: the viewer could not import the trace: %s" % desc, file=sys.stderr)
        return 1
    got = json.loads(r["result"]["value"])

    # What the file holds.
    evs = doc["traceEvents"]
    want_rows = {}
    nflows = 0
    t_min, t_max = None, None
    for e in evs:
        if e.get("ph") == "X":
            k = (e["pid"], e["tid"])
            want_rows[k] = want_rows.get(k, 0) + 1
        if e.get("ph") == "s":
            nflows += 1
    problems = []
    got_rows = {(r["pid"], r["tid"]): r for r in got["rows"]}
    for k, n in want_rows.items():
        if k not in got_rows:
            problems.append("row %s (%d slices) is missing in the viewer" % (k, n))
        elif got_rows[k]["entries"] != n:
            problems.append("row %s: the viewer has %d slices, the file %d"
                            % (k, got_rows[k]["entries"], n))
    if got["flows"] != nflows:
        problems.append("the viewer bound %d flows, the file has %d" % (got["flows"], nflows))
    if any(n != 2 for n in got["flowLens"]):
        problems.append("flows that do not join two slices: %s"
                        % sorted(set(got["flowLens"]))[:5])
    print("%s: the DevTools trace engine of %s built %d rows (%s), %d flows, bounds %s"
          % (path, os.path.basename(exe), len(got["rows"]),
             ", ".join("%s %d" % (r["name"], r["entries"]) for r in got["rows"][:6]),
             got["flows"], got["bounds"]))
    for p in problems:
        print("FAIL: " + p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

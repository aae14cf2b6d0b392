/*
 * drive.mjs - the viewer's page tests in headless Chromium, over the
 * DevTools protocol directly (Node >= 20 with --experimental-websocket,
 * or >= 22; no npm package).
 *
 *   node --experimental-websocket tracer/view/dev/drive.mjs URL \
 *        [--shot FILE.png [--shot-window T0,T1 | --shot-tab fns|analysis|blocking]] [--measure [--resources] [--profile]]
 *        [--expect-error] [--chromium PATH]
 *
 * Starts Chromium headless at 1280x720 with a throw-away profile, opens
 * URL (the viewer, from `weft-trace view` or dev/mock.py), and checks,
 * through window.weftView and real mouse and key events:
 *   - the page gets ready, draws one row per P (meta.procs), and draws a
 *     frame in <= 16 ms (the target; reported, and failed only
 *     over 50 ms, since a loaded CI machine is not the target machine);
 *   - clicking a run (weftView.clickRun, then a real click at the run's
 *     pixel) fills #details with the run's task id and entry function,
 *     as /api/run says;
 *   - following "woken by" selects the waker /api/run named, draws an
 *     arrow to it, and puts it in the middle of the view;
 *   - weftView.zoom(2), the W and S keys and the wheel change the window
 *     by the expected factor; A and D pan; 0 resets;
 *   - a busy block clicked zooms into it; the task view opens;
 *   - the functions table (table#fns) has one row per function with runs
 *     in /api/fns, the rows weftView.fns() holds; a real click on a row
 *     sets weftView.filteredFn() to its fn, marks the row and names the
 *     function in the status line; a canvas pixel inside a run (> 3 px
 *     wide, from the /api/procs answer drawn) of another function
 *     changes while the one of a run of the filtered function does not;
 *     a second click on the row, and Esc, clear the filter and the
 *     pixels come back as they were;
 *   - with --expect-error, the banner shows the file's error offset.
 * Prints one line per check and exits 1 if any failed. --shot writes a
 * screenshot after the checks (for people to look at): a run, its waker
 * and its task view open, or with --shot-tab fns the functions table
 * with the run's function highlighted. --measure prints the first paint
 * and the JS heap and stops; with --resources also the page's resource,
 * long-animation-frame and performance.mark/measure entries; with
 * --profile the JS CPU profile from navigation to the first paint, the
 * functions with the most self time (sampled every 100 us).
 *
 * Rejected: playwright-core (an npm install in CI for what fifty lines
 * of CDP do); chromium --dump-dom with a self-test in the page (the test
 * would ship in the page and could not send real input events).
 */

import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const args = process.argv.slice(2);
const opt = (name) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : null; };
const url = args.find((a) => /^https?:/.test(a));
if (!url || typeof WebSocket === "undefined") {
  console.error("usage: node --experimental-websocket drive.mjs URL [--shot F.png] [--expect-error]");
  process.exit(2);
}
const shot = opt("--shot");
const measure = args.includes("--measure");
const noTiming = process.argv.includes("--no-timing");
const expectError = args.includes("--expect-error");
const chromium = opt("--chromium") || process.env.CHROMIUM || "chromium";

const prof = mkdtempSync(join(tmpdir(), "weft-view-"));
const br = spawn(chromium, [
  "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
  `--user-data-dir=${prof}`, "--remote-debugging-port=0", "--window-size=1280,720", "about:blank",
], { stdio: ["ignore", "ignore", "pipe"] });
let brErr = "";
br.stderr.on("data", (d) => { brErr += d; });

let brExited = false;
br.on("exit", () => { brExited = true; });
async function cleanup() {
  if (!brExited) {
    br.kill("SIGTERM");
    for (let i = 0; i < 50 && !brExited; i++) await sleep(100);
  }
  try { rmSync(prof, { recursive: true, force: true, maxRetries: 5 }); } catch (_) { /* a temp dir */ }
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// Poll the page until @expr is truthy (a condition, not a fixed delay); its value, or null after 20 s.
async function waitFor(expr) {
  const t = Date.now();
  for (;;) {
    const v = await evaluate(expr);
    if (v) return v;
    if (Date.now() - t > 20000) return null;
    await sleep(20);
  }
}

async function devtoolsPort() {
  const f = join(prof, "DevToolsActivePort");
  for (let i = 0; i < 200; i++) {
    if (existsSync(f)) { const p = readFileSync(f, "utf8").split("\n")[0]; if (p) return p; }
    await sleep(100);
  }
  throw new Error("chromium did not start:\n" + brErr.slice(-2000));
}

let ws, nextId = 1;
const waiting = new Map();
function send(method, params = {}) {
  const id = nextId++;
  ws.send(JSON.stringify({ id, method, params }));
  return new Promise((res, rej) => waiting.set(id, { res, rej, method }));
}
async function evaluate(expr) {
  const r = await send("Runtime.evaluate", { expression: expr, awaitPromise: true, returnByValue: true });
  if (r.exceptionDetails) throw new Error(`${expr}: ${r.exceptionDetails.exception?.description || r.exceptionDetails.text}`);
  return r.result.value;
}
const mouse = (type, x, y, extra = {}) =>
  send("Input.dispatchMouseEvent", { type, x, y, button: "left", clickCount: 1, ...extra });
async function click(x, y) { await mouse("mousePressed", x, y); await mouse("mouseReleased", x, y); }
async function key(k) {
  const code = /^[a-z]$/.test(k) ? "Key" + k.toUpperCase() : k === "0" ? "Digit0" : k;
  await send("Input.dispatchKeyEvent", { type: "keyDown", key: k, code, text: k.length === 1 ? k : undefined });
  await send("Input.dispatchKeyEvent", { type: "keyUp", key: k, code });
}

let failed = 0;
function check(ok, what, detail = "") {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}${detail ? "  (" + detail + ")" : ""}`);
  if (!ok) failed++;
}
const near = (a, b, rel = 0.01) => Math.abs(a - b) <= rel * Math.max(Math.abs(a), Math.abs(b), 1);
const idle = () => evaluate("weftView.idle()");
// the page's used JS heap in MB, after a collection (the DevTools protocol: nothing in the page)
async function heapMB() {
  try { await send("HeapProfiler.collectGarbage"); } catch (_) { /* an older Chromium */ }
  const h = await send("Runtime.getHeapUsage");
  return h.usedSize / 1048576;
}
const win = () => evaluate("weftView.window()");

// The functions with the most self time in a Profiler.Profile, and the total.
function printProfile(pr) {
  const byId = new Map(pr.nodes.map((n) => [n.id, n]));
  const self = new Map();
  let total = 0;
  pr.samples.forEach((id, k) => {
    const dt = (pr.timeDeltas[k + 1] || 0) / 1000, f = byId.get(id).callFrame;
    const name = `${f.functionName || "(anonymous)"} ${f.url.replace(/^.*\//, "")}:${f.lineNumber + 1}`;
    self.set(name, (self.get(name) || 0) + dt);
    if (!/^\((idle|program)\)/.test(f.functionName)) total += dt;
  });
  console.log(`profile: ${total.toFixed(1)} ms of script, GC and native (besides idle and program)`);
  for (const [name, ms] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`  ${ms.toFixed(1).padStart(7)} ms  ${name}`);
}

async function main() {
  const port = await devtoolsPort();
  const list = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
  const page = list.find((t) => t.type === "page");
  ws = new WebSocket(page.webSocketDebuggerUrl);
  await new Promise((res, rej) => { ws.onopen = res; ws.onerror = rej; });
  const consoleErrors = [];
  ws.onmessage = (m) => {
    const d = JSON.parse(m.data);
    if (d.id && waiting.has(d.id)) {
      const w = waiting.get(d.id);
      waiting.delete(d.id);
      if (d.error) w.rej(new Error(`${w.method}: ${d.error.message}`)); else w.res(d.result);
    } else if (d.method === "Runtime.exceptionThrown") {
      consoleErrors.push(d.params.exceptionDetails.exception?.description || d.params.exceptionDetails.text);
    } else if (d.method === "Runtime.consoleAPICalled" && d.params.type === "error") {
      consoleErrors.push(d.params.args.map((a) => a.value ?? a.description).join(" "));
    }
  };
  await send("Runtime.enable");
  await send("Page.enable");
  await send("Emulation.setDeviceMetricsOverride", { width: 1280, height: 720, deviceScaleFactor: 1, mobile: false });
  const profile = measure && args.includes("--profile");
  if (profile) {
    await send("Profiler.enable");
    await send("Profiler.setSamplingInterval", { interval: 100 });
    await send("Profiler.start");
  }
  await send("Page.navigate", { url });
  let t = Date.now();
  for (;;) {
    try { if (await evaluate("typeof weftView === 'object'")) break; } catch (_) {}
    if (Date.now() - t > 15000) throw new Error("no window.weftView after 15 s");
    await sleep(100);
  }
  await evaluate("Promise.race([weftView.ready, new Promise((_, j) => setTimeout(() => j(new Error('not ready in 20 s')), 20000))])");
  check(true, "ready", `${Date.now() - t} ms after navigation`);
  if (profile) printProfile((await send("Profiler.stop")).profile);
  check(await evaluate("document.body.dataset.state") === "ready", "body[data-state=ready]");
  const meta = await evaluate("fetch('/api/meta').then(r => r.json())");
  check(await evaluate("weftView.rows()") === meta.procs, "one row per P", `${meta.procs} Ps`);
  check(await evaluate("document.querySelectorAll('.plabel').length") === meta.procs, "a label per P");
  const w0 = await win();
  check(w0[0] === 0 && w0[1] === meta.duration, "the whole trace at start", JSON.stringify(w0));
  const banner = await evaluate("(b => b.hidden ? '' : b.textContent)(document.getElementById('banner'))");
  if (expectError) {
    check(meta.error && banner.includes(String(meta.error.offset)) && banner.includes(meta.error.message),
          "the banner names the bad offset", banner);
  } else {
    check(banner === "", "no banner", banner);
  }
  // the canvas has something drawn: not all one colour
  const painted = await evaluate(`(() => { const c = document.getElementById('timeline');
     const x = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; const s = new Set();
     for (let i = 0; i < x.length; i += 4 * 97) s.add(x[i] << 16 | x[i + 1] << 8 | x[i + 2]); return s.size; })()`);
  check(painted > 10, "the timeline is painted", `${painted} colours sampled`);
  // the server still analysing: the Analysis tab says so
  if (await evaluate("weftView.verdictsState()") === "waiting" &&
      await evaluate("fetch('/api/verdicts').then(r => r.ok ? r.json() : null).then(d => d && !d.ready)")) {
    check(await evaluate(`(b => !b.hidden && document.getElementById('verdicts').textContent.includes('analysing'))(document.querySelector('.tabs [data-tab=analysis]'))`),
          "the Analysis tab says analysing… while the verdicts are not ready");
  }
  // first paint and the JS heap: printed (--no-timing), else held to a loose bound
  const fp = await evaluate("weftView.firstPaintMs");
  const heap = await heapMB();
  if (measure) {
    console.log(`first_paint_ms=${fp === null || fp === undefined ? "" : fp.toFixed(0)}`);
    console.log(`js_heap_mb=${heap.toFixed(1)}`);
    if (args.includes("--resources"))
      console.log(await evaluate(`performance.getEntries().map(e =>
        e.entryType + ' ' + e.name.replace(location.origin, '') + ' ' + e.startTime.toFixed(0) + '-' +
        (e.responseEnd || e.startTime + e.duration).toFixed(0) + (e.entryType === 'long-animation-frame' ?
        ' render@' + e.renderStart.toFixed(0) + ' style@' + e.styleAndLayoutStart.toFixed(0) + ' block ' + e.blockingDuration.toFixed(0) +
        ' scripts: ' + e.scripts.map(x => x.invoker + ' ' + x.sourceFunctionName + '@' + x.sourceURL.replace(location.origin, '') + ' ' + x.duration.toFixed(0) + 'ms').join('; ') : '')).join('\\n')`));
    return;
  }
  check(typeof fp === "number" && (noTiming || fp <= 5000), "first paint", `${typeof fp === "number" ? fp.toFixed(0) : fp} ms after navigation start`);
  check(noTiming || heap <= 200, "JS heap after the first paint", `${heap.toFixed(1)} MB`);
  // the frame budget: redraw the whole view a few times
  const [ms, parts] = await evaluate(`(async () => { let m = 0, parts = {}; for (let i = 0; i < 5; i++) { await weftView.zoom(1.0001);
     if (weftView.drawMs() >= m) { m = weftView.drawMs(); parts = weftView.drawParts ? weftView.drawParts() : {}; } } return [m, parts]; })()`);
  console.log("     frame parts (ms): " + Object.entries(parts).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(", "));
  // --no-timing (make check: a loaded machine, sanitizers): reported only.
  check(ms <= 50 || noTiming, "a frame draws in <= 16 ms", `worst ${ms.toFixed(2)} ms${ms > 16 ? " OVER 16" : ""}`);

  // zoom: weftView.zoom, keys, wheel
  await evaluate(`weftView.setWindow(${Math.floor(meta.duration * 0.2)}, ${Math.floor(meta.duration * 0.6)})`);
  let a = await win();
  await evaluate("weftView.zoom(2)");
  let b = await win();
  check(near((a[1] - a[0]) / (b[1] - b[0]), 2) && near((a[0] + a[1]) / 2, (b[0] + b[1]) / 2, 1e-6),
        "zoom(2) halves the window around its centre", `${a[1] - a[0]} -> ${b[1] - b[0]}`);
  const box = await evaluate("(r => ({x: r.left, y: r.top, w: r.width, h: r.height}))(document.getElementById('timeline').getBoundingClientRect())");
  await mouse("mouseMoved", box.x + box.w / 2, box.y + 60);
  a = await win(); await key("w"); await idle(); b = await win();
  check(near((a[1] - a[0]) / (b[1] - b[0]), 1.25), "W zooms in by 1.25", `${a[1] - a[0]} -> ${b[1] - b[0]}`);
  a = b; await key("s"); await idle(); b = await win();
  check(near((b[1] - b[0]) / (a[1] - a[0]), 1.25), "S zooms out by 1.25");
  a = b; await key("d"); await idle(); b = await win();
  check(near(b[0] - a[0], 0.15 * (a[1] - a[0])) && near(b[1] - b[0], a[1] - a[0]), "D pans right by 15%");
  a = b; await key("a"); await idle(); b = await win();
  check(near(b[0], a[0] - 0.15 * (a[1] - a[0])), "A pans left by 15%");
  // the wheel zooms around the cursor: the time under it stays put
  a = await win();
  const cx = box.x + box.w * 0.25;
  const tUnder = a[0] + 0.25 * (a[1] - a[0]);
  await mouse("mouseWheel", cx, box.y + 60, { deltaX: 0, deltaY: -240 });
  await idle(); b = await win();
  check(b[1] - b[0] < a[1] - a[0] && near(b[0] + 0.25 * (b[1] - b[0]), tUnder, 1e-6),
        "the wheel zooms in around the cursor", `span ${(a[1] - a[0]) / (b[1] - b[0])}x`);
  // drag pans
  a = await win();
  await mouse("mousePressed", box.x + 600, box.y + 60);
  await mouse("mouseMoved", box.x + 500, box.y + 60, { buttons: 1 });
  await mouse("mouseMoved", box.x + 400, box.y + 60, { buttons: 1 });
  await mouse("mouseReleased", box.x + 400, box.y + 60);
  await idle(); b = await win();
  check(near(b[0] - a[0], (200 * (a[1] - a[0])) / box.w, 1e-3), "a drag pans by the dragged distance");
  await key("0"); await idle(); b = await win();
  check(b[0] === 0 && b[1] === meta.duration, "0 resets to the whole trace");

  // the row groups, the verdicts, the block profile (before the run
  // checks, which stop on a trace without a woken run)
  await groupChecks(meta, box);
  await analysisChecks(meta);
  await key("0"); await idle();
  // click a run: through the hook, then with the mouse at its pixel
  const pick = await evaluate(`(async () => {
     for (const p of [1, 0]) for (let i = 0; i < 3000; i += i < 200 ? 1 : 7) {
       const res = await fetch('/api/run?p=' + p + '&i=' + i);
       if (!res.ok) break; const r = await res.json();
       if (r.woken_by && r.dur > 200) return r; } return null; })()`);
  check(!!pick, "found a run with a waker", pick && `P${pick.p} run ${pick.i}`);
  if (!pick) return;
  const shown = await evaluate(`weftView.clickRun(${pick.p}, ${pick.i})`);
  const f = await evaluate(`({task: document.querySelector('#details [data-field=task]').textContent,
      fn: document.querySelector('#details [data-field=fn]').textContent,
      start: document.querySelector('#details [data-field=start]').dataset.value})`);
  check(shown.task === pick.task && f.task === String(pick.task) && f.fn === pick.fn && f.start === String(pick.start),
        "clickRun shows the run's task id and entry function", `task ${f.task} ${f.fn}`);
  await evaluate(`weftView.setWindow(${Math.max(0, pick.start - pick.dur)}, ${pick.start + 2 * pick.dur})`);
  await key("Escape");
  // Click where the run is in the window the page shows, once the answer
  // for that window is the one drawn (the hit test uses what is drawn).
  await waitFor(`(() => { const w = weftView.window(), d = weftView.dataWindow();
     return d && d[0] === Math.floor(w[0]) && d[1] === Math.ceil(w[1]); })()`);
  const vw = await win();
  const x = box.x + ((pick.start + pick.dur / 2 - vw[0]) / (vw[1] - vw[0])) * box.w,
    y = box.y + 30 + (await evaluate("document.querySelector('.plabel').offsetHeight")) * (pick.p + 0.5);
  await click(x, y);
  await evaluate("weftView.idle()");
  const sel = await waitFor("weftView.selected()");
  check(sel && sel.p === pick.p && sel.i === pick.i, "a mouse click on the bar selects that run", sel ? `P${sel.p} run ${sel.i}` : "nothing");
  // follow the waker
  const wk = await evaluate("weftView.followWaker()");
  const ww = await win();
  check(wk && wk.task === pick.woken_by.task && wk.p === pick.woken_by.p && wk.i === pick.woken_by.i,
        "following 'woken by' lands on the waker", wk ? `task ${wk.task} P${wk.p} run ${wk.i}` : "null");
  // (unless the view is held at an end of the trace)
  check(wk && (near((ww[0] + ww[1]) / 2, wk.start + wk.dur / 2, 1e-6) || ww[0] <= 0 || ww[1] >= meta.duration),
        "the waker is in the middle of the view");
  const fl = await evaluate("weftView.flows()");
  check(fl.some((q) => q.from.p === wk.p && q.from.start === wk.start && q.to.start === pick.start),
        "an arrow from the waker to the wakee", `${fl.length} arrows`);
  check(await evaluate("document.querySelector('#details [data-field=task]').textContent") === String(wk.task),
        "the details panel shows the waker");
  // previous / next run of the task
  if (wk.next) {
    const nx = await evaluate("weftView.followNext()");
    check(nx && nx.task === wk.task && nx.p === wk.next.p && nx.i === wk.next.i, "next run: same task, the run /api/run named");
    const pv = await evaluate("weftView.followPrev()");
    check(pv && pv.p === wk.p && pv.i === wk.i, "previous run comes back");
  }
  // task view
  await evaluate(`document.querySelector('#details [data-action=task]').click()`);
  await waitFor(`(t => !t.hidden && t.dataset.task === '${wk.task}' && t.querySelectorAll('tbody tr').length > 0)(document.getElementById('taskview'))`);
  const tv = await evaluate(`(t => ({hidden: t.hidden, task: t.dataset.task, rows: t.querySelectorAll('tbody tr').length}))(document.getElementById('taskview'))`);
  check(!tv.hidden && tv.task === String(wk.task) && tv.rows > 0, "the task view opens on the task", JSON.stringify(tv));
  // a long life comes merged per pixel with its first runs only: the
  // timeline then highlights all its runs through the server (hl=task:ID)
  const life = await evaluate(`(async () => { const t = await weftView.openTask(1); await weftView.setWindow(0, ${meta.duration} + 1);
     return {merged: !!t.merged, nruns: t.nruns ?? t.runs.length, runs: t.runs.length, hl: weftView.hl(), n: weftView.hlRuns()}; })()`);
  if (life.merged)
    check(life.hl === "task:1" && life.n === life.nruns && life.runs < life.nruns,
          "a long life, merged per pixel, highlights all its runs", `${life.n} of ${life.nruns} (${life.runs} sent)`);
  await key("Escape"); await idle();
  await fnsChecks(pick, box);
  // a busy block, when clicked, zooms into it: find one with no run under its middle
  await key("0"); await idle();
  a = await win();
  const spot = await evaluate(`(async () => {
     document.getElementById('pane').scrollTop = 0;
     await new Promise(r => requestAnimationFrame(r));
     const [t0, t1] = weftView.window(), c = document.getElementById('timeline'), W = c.clientWidth;
     const rowH = document.querySelector('.plabel').offsetHeight, paneH = document.getElementById('pane').clientHeight;
     const q = await fetch('/api/procs?t0=' + Math.floor(t0) + '&t1=' + Math.ceil(t1) + '&w=' + W).then(r => r.json());
     const x = (t) => (t - t0) * W / (t1 - t0);
     for (const row of q.rows) {
       const y = 30 + rowH * (row.p + 0.5);
       if (y > paneH - 10) break;
       for (const b of row.blocks) {
         const xa = x(b[0]), xb = x(b[0] + b[1]);
         if (xb < 0 || xa > W) continue;
         const m = (xa + xb) / 2;
         // the hit test prefers a run only where one covers the point (a tie at 0)
         if (row.runs.some(r => x(r[0]) - 0.5 < m && x(r[0] + r[1]) + 0.5 > m)) continue;
         return {x: m, y, p: row.p};
       }
     }
     return null; })()`);
  check(!!spot, "found a busy block to click", spot && `P${spot.p} at x ${spot.x.toFixed(0)}`);
  if (spot) {
    await click(box.x + spot.x, box.y + spot.y);
    await idle(); b = await win();
    check(b[1] - b[0] < (a[1] - a[0]) / 10, "clicking a busy block zooms into it", `${(a[1] - a[0]) / (b[1] - b[0])}x`);
  }
  // shift+drag selects a range with its duration
  await key("0"); await idle();
  await mouse("mousePressed", box.x + 100, box.y + 60, { modifiers: 8 });
  await mouse("mouseMoved", box.x + 300, box.y + 60, { buttons: 1, modifiers: 8 });
  await mouse("mouseReleased", box.x + 300, box.y + 60, { modifiers: 8 });
  const rng = await evaluate("document.getElementById('st-range').textContent");
  check(rng.startsWith("selection"), "shift+drag selects a range", rng);
  // stale answers are dropped: many view changes without waiting, then
  // the answer drawn must be the last window's (run against a mock with
  // --delay and --jitter, answers come back out of order)
  const bursts = await evaluate(`(async () => {
     const out = [], [t0, t1] = [0, ${meta.duration}];
     for (let b = 0; b < 4; b++) {
       for (let i = 1; i <= 10; i++) { const s = (t1 - t0) / (30 + b * 3);
         weftView.setWindow(t0 + i * s, t1 - i * s); await new Promise(r => setTimeout(r, 45)); }
       await weftView.idle();
       out.push([weftView.window(), weftView.dataWindow(), document.getElementById('timeline').clientWidth,
                 weftView.groupWindows ? Object.values(weftView.groupWindows()) : []]);
     }
     return out; })()`);
  // (the groups' answers came with the procs answer: the same window)
  const bad = bursts.filter((x) => !(x[1] && x[1][0] === Math.floor(x[0][0]) && x[1][1] === Math.ceil(x[0][1]) && x[1][2] === x[2] &&
                                     x[3].every((g) => g.join() === x[1].join())));
  check(bad.length === 0, "after a burst of view changes the last window's answer is drawn",
        bad.length ? JSON.stringify(bad[0]) : `${bursts.length} bursts`);
  check(consoleErrors.length === 0, "no errors in the console", consoleErrors.join(" | "));
  const sw = opt("--shot-window");
  if (shot && sw) {
    await key("Escape");
    await evaluate(`weftView.setWindow(${sw})`);
    if (opt("--shot-group")) {
      // scroll a group (threads, user) into the pane's view
      await evaluate(`(async () => { document.getElementById('g-${opt("--shot-group")}').scrollIntoView({block: 'end'}); await weftView.idle(); })()`);
    }
    if (opt("--shot-tab") === "blocking") {
      // the whole window, the first block site highlighted
      await evaluate(`document.querySelector('.tabs [data-tab=blocking]').click()`);
      await evaluate(`weftView.clickBlock(weftView.blocks()[0].k)`);
    }
    const s = await send("Page.captureScreenshot", { format: "png" });
    writeFileSync(shot, Buffer.from(s.data, "base64"));
    console.log(`screenshot: ${shot}`);
  } else if (shot) {
    await evaluate(`weftView.clickRun(${pick.p}, ${pick.i})`);
    await evaluate(`weftView.followWaker()`);
    await evaluate(`weftView.openTask(${pick.task})`);
    if (opt("--shot-tab") === "analysis" || opt("--shot-tab") === "blocking") {
      // a verdict (the second: a range) or the first block site highlighted
      const t = opt("--shot-tab");
      await evaluate(`document.querySelector('.tabs [data-tab=${t}]').click()`);
      if (t === "analysis") await evaluate(`weftView.clickVerdict(Math.min(1, weftView.verdicts().length - 1))`);
      else await evaluate(`weftView.clickBlock(weftView.blocks()[0].k)`);
    }
    if (opt("--shot-tab") === "fns") {
      // the functions tab, the selected run's function highlighted
      await evaluate(`document.querySelector('.tabs [data-tab=fns]').click()`);
      await evaluate(`weftView.filterFn(weftView.fns().find(r => r.name === weftView.selected().fn)?.fn ?? null)`);
    }
    await evaluate("weftView.idle()");
    const s = await send("Page.captureScreenshot", { format: "png" });
    writeFileSync(shot, Buffer.from(s.data, "base64"));
    console.log(`screenshot: ${shot}`);
  }
}

// The functions table and the timeline filter it sets.
async function fnsChecks(pick, box) {
  const api = await evaluate("fetch('/api/fns').then(r => r.json())");
  check(Array.isArray(api.fns), "/api/fns answers a list", api.error || "");
  if (!Array.isArray(api.fns)) return;
  const want = api.fns.filter((r) => r.runs > 0);
  await evaluate(`document.querySelector('.tabs [data-tab=fns]').click()`);
  const n = await waitFor(`document.querySelectorAll('#fns tbody tr[data-fn]').length`);
  const rows = await evaluate(`[...document.querySelectorAll('#fns tbody tr[data-fn]')].map(r => Number(r.dataset.fn))`);
  const held = await evaluate("weftView.fns()");
  const sig = (a) => JSON.stringify(a.map((r) => [r.fn, r.runs, r.exec]).sort((x, y) => x[0] - y[0]));
  check(n === want.length && new Set(rows).size === want.length && rows.every((f) => want.some((r) => r.fn === f)),
        "the functions table has a row per function with runs", `${n} rows, /api/fns has ${want.length}`);
  check(sig(held) === sig(want) && held.map((r) => r.fn).join() === rows.join(),
        "weftView.fns() holds /api/fns's rows in the table's order");
  // a window with wide runs of several functions, nothing else drawn over them
  await key("Escape");
  // (searched for: spans from the whole trace down, eight places each)
  const found = await evaluate(`(async () => {
     const dur = (await (await fetch('/api/meta')).json()).duration, W = document.getElementById('timeline').clientWidth;
     for (const span of [dur, dur / 4, dur / 16, dur / 64, dur / 256, dur / 1024, dur / 4096]) {
       for (let k = 0; k < 16; k++) {
         const t0 = Math.floor((dur - span) * k / 15), t1 = Math.ceil(t0 + span), x = W / (t1 - t0);
         const q = await fetch('/api/procs?t0=' + t0 + '&t1=' + t1 + '&w=' + W).then(r => r.json());
         const fns = new Set();
         for (const row of q.rows)
           for (const r of row.runs) {
             const xa = (r[0] - t0) * x, w = r[1] * x;  // as the check below picks them
             if (w > 4 && xa >= 3 && xa + w <= W - 3) fns.add(r[2]);
           }
         if (fns.size >= 2) return [t0, t1];
       }
     }
     return [${Math.max(0, pick.start - 1e6)}, ${pick.start + 1e6}]; })()`);
  await evaluate(`weftView.setWindow(${found[0]}, ${found[1]})`);
  await evaluate(`(async () => { document.getElementById('pane').scrollTop = 0; await weftView.idle(); })()`);
  const pix = (pts) => evaluate(`(() => { const c = document.getElementById('timeline'), k = c.width / c.clientWidth,
     g = c.getContext('2d'); return ${JSON.stringify(pts)}.map(([x, y]) => Array.from(g.getImageData(Math.round(x * k), Math.round(y * k), 1, 1).data).join()); })()`);
  // runs wider than 3 px in the answer drawn (fetched again for the window and width the page
  // asked), by fn: the [x, y] of each one's middle, a few px below its top (under any label)
  const dw = await evaluate("weftView.dataWindow()");
  const byFn = await evaluate(`(async () => {
     const [t0, t1] = weftView.window(), c = document.getElementById('timeline'), W = c.clientWidth;
     const rowH = document.querySelector('.plabel').offsetHeight, paneH = document.getElementById('pane').clientHeight;
     const q = await fetch('/api/procs?t0=${dw[0]}&t1=${dw[1]}&w=${dw[2]}').then(r => r.json());
     const k = W / (t1 - t0), out = {};
     for (const row of q.rows) {
       if (30 + rowH * (row.p + 1) > paneH) continue;
       for (const r of row.runs) {
         const xa = (r[0] - t0) * k, w = r[1] * k;
         if (w <= 3 || xa < 2 || xa + w > W - 2) continue;
         (out[r[2]] = out[r[2]] || []).push([xa + w / 2 - 0.5, 30 + rowH * row.p + 5]);
       }
     }
     return out; })()`);
  const fnsWide = Object.keys(byFn).map(Number).filter((f) => rows.includes(f));
  check(fnsWide.length >= 2, "runs wider than 3 px of two functions in the window", `fns ${fnsWide.join(",")}`);
  if (fnsWide.length < 2) return;
  fnsWide.sort((a, b) => byFn[b].length - byFn[a].length);
  const F = fnsWide[0], G = fnsWide[1];
  const pts = [byFn[F][0], byFn[G][0]];
  const before = await pix(pts);
  // a real click on F's row
  const rect = await evaluate(`(r => { r.scrollIntoView({block: 'nearest'}); const b = r.getBoundingClientRect();
     return {x: b.left + Math.min(60, b.width / 2), y: b.top + b.height / 2}; })(document.querySelector('#fns tr[data-fn="${F}"]'))`);
  await click(rect.x, rect.y);
  const got = await waitFor(`weftView.filteredFn() === ${F}`);
  await idle();
  check(got === true, "a click on a row sets the filter to its function", `fn ${F} (${fnName(held, F)})`);
  const mark = await evaluate(`({sel: document.querySelector('#fns tr[data-fn="${F}"]').getAttribute('aria-selected'),
     n: document.querySelectorAll('#fns tr.sel').length, st: document.getElementById('st-fn').textContent})`);
  check(mark.sel === "true" && mark.n === 1 && mark.st.includes(fnName(held, F)),
        "the row shows as selected and the status line names the function", mark.st);
  const during = await pix(pts);
  check(same(during[0], before[0]), "a run of the filtered function keeps its colour", `${before[0]} -> ${during[0]}`);
  check(!same(during[1], before[1]), "a run of another function is dimmed", `fn ${G}: ${before[1]} -> ${during[1]}`);
  // a second click on the row clears it
  await click(rect.x, rect.y);
  const cleared = await waitFor(`weftView.filteredFn() === null`);
  await idle();
  const after = await pix(pts);
  check(cleared === true && same(after[1], before[1]) && same(after[0], before[0]) &&
        await evaluate(`document.querySelectorAll('#fns tr.sel').length === 0 && document.getElementById('st-fn').textContent === ''`),
        "a second click on the row clears the filter and the colours", `${after[1]}`);
  // Esc clears it too
  await evaluate(`weftView.filterFn(${G})`);
  const dimmedF = (await pix(pts))[0];
  await key("Escape");
  const esc = await waitFor(`weftView.filteredFn() === null`);
  await idle();
  const back = await pix(pts);
  check(esc === true && !same(dimmedF, before[0]) && same(back[0], before[0]), "weftView.filterFn and Esc set and clear the filter");
}

// The row groups: shown with their rows where the server has the
// endpoint, hidden where it answers 404; a click on a syscall shows it.
async function groupChecks(meta, box) {
  await key("0"); await idle();
  const q = `t0=0&t1=${meta.duration}&w=100`;
  const st = await evaluate(`Promise.all(['/api/threads', '/api/counters', '/api/user'].map(p => fetch(p + '?${q}').then(r => r.status)))`);
  const [hasT, hasC, hasU] = st.map((x) => x === 200);
  const g = await evaluate("weftView.groups()");
  if (hasC) {
    const names = await evaluate("weftView.counterNames()");
    check(g.counters && JSON.stringify([...names].sort()) === JSON.stringify(["runnable", "running", "spinning", "syscall"]),
          "the Counters group shows the four counters", names.join(","));
    // hovering shows every counter's value at the cursor
    const cb = await evaluate("(r => ({x: r.left, y: r.top, w: r.width, h: r.height}))(document.querySelector('#g-counters canvas').getBoundingClientRect())");
    await mouse("mouseMoved", cb.x + cb.w * 0.4, cb.y + cb.h / 2);
    const tipText = await waitFor("(t => !t.hidden && t.textContent)(document.getElementById('tip'))");
    check(!!tipText && ["runnable", "running", "in syscall", "spinning"].every((n) => tipText.includes(n + ":")),
          "hovering the counters shows their values", (tipText || "no tooltip").replace(/\n/g, " | "));
    await mouse("mouseMoved", cb.x + cb.w * 0.4, cb.y + cb.h + 400);
  } else {
    check(!g.counters && !(await evaluate("!document.getElementById('g-counters').hidden")), "no /api/counters: no Counters group");
  }
  if (hasT) {
    const rows = await evaluate("weftView.threadRows()");
    const want = meta.ms === undefined ? null : meta.ms;
    // (a row m = -1 holds the syscalls on no known M: counted in meta.ms or not)
    check(g.threads && rows.length > 0 && (want === null || rows.length === want || rows.filter((m) => m >= 0).length === want),
          "the Threads group has a row per M",
          `${rows.length} rows, meta.ms ${want}`);
    // (a trace without syscalls has none to click)
    const nsys = meta.syscalls !== undefined ? meta.syscalls : await evaluate(`fetch('/api/threads?${q}').then(r => r.json())
       .then(d => d.rows.reduce((n, r) => n + r.sys.length + r.sysblocks.length, 0))`);
    if (nsys > 0) await threadClick(meta, box);
  } else {
    check(!g.threads && await evaluate("document.getElementById('g-threads').hidden"), "no /api/threads: no Threads group");
  }
  const annotated = (meta.utasks || 0) + (meta.regions || 0) + (meta.logs || 0) > 0;
  if (hasU && annotated) {
    const rows = await evaluate("weftView.userRows()");
    check(g.user && rows.some((r) => !r.startsWith("log:")), "the User group has a row per user task / region type", rows.join(","));
    await userClick(meta, rows);
  } else {
    check(!g.user && await evaluate("document.getElementById('g-user').hidden"),
          hasU ? "a trace without user annotations: no User group" : "no /api/user: no User group");
  }
}

// A real click on the widest syscall in the Threads group shows it in #itemdetails.
async function threadClick(meta, box) {
  await evaluate(`(async () => { document.getElementById('g-threads').scrollIntoView({block: 'nearest'}); await weftView.idle(); })()`);
  const spot = await evaluate(`(async () => {
     const c = document.querySelector('#g-threads canvas'), r = c.getBoundingClientRect();
     const [t0, t1] = weftView.window(), W = c.clientWidth, rowH = c.clientHeight / weftView.threadRows().length;
     const d = weftView.dataWindow();
     const q = await fetch('/api/threads?t0=' + d[0] + '&t1=' + d[1] + '&w=' + d[2]).then(r => r.json());
     let best = null;
     q.rows.forEach((row, j) => { for (const s of row.sys) {
       const xa = (s[0] - t0) * W / (t1 - t0), w = s[1] * W / (t1 - t0);
       if (xa >= 2 && xa + w <= W - 2 && (!best || w > best.w)) best = {x: r.left + xa + w / 2, y: r.top + rowH * (j + 0.7), w, m: row.m, i: s[4], task: s[2]};
     } });
     return best && best.y < innerHeight - 250 ? best : null; })()`);
  if (!spot) {
    // zoom in until syscalls are drawn as bars
    for (const f of [64, 512]) {
      await evaluate(`weftView.setWindow(${meta.duration * 0.37}, ${meta.duration * 0.37 + meta.duration / f})`);
      const again = await evaluate(`(async () => { await weftView.idle(); return weftView.dataWindow(); })()`);
      if (again) break;
    }
    return threadClickAt(meta);
  }
  return clickSyscall(spot);
}

// A real click in the middle of a user task or region, zoomed to it, shows an item of that kind and type.
async function userClick(meta, rows) {
  const W = await evaluate("document.querySelector('#g-user canvas').clientWidth");
  const d = await evaluate(`fetch('/api/user?t0=0&t1=${meta.duration}&w=${W}').then(r => r.json())`);
  let pick = null;
  d.rows.forEach((r) => { for (const e of r.items) if (!pick || e[1] > pick.e[1]) pick = { e, kind: r.kind, type: r.type }; });
  check(!!pick, "found a user task or region to click", pick ? `${pick.kind} ${pick.type}` : "none");
  if (!pick) return;
  const [t, dur] = pick.e;
  await evaluate(`weftView.setWindow(${t - dur * 0.25}, ${t + dur * 1.25})`);
  const spot = await evaluate(`(async () => {
     const c = document.querySelector('#g-user canvas');
     c.scrollIntoView({block: 'nearest'});
     await weftView.idle();
     const r = c.getBoundingClientRect(), rowH = c.clientHeight / weftView.userRows().length;
     const j = weftView.userRows().indexOf(${JSON.stringify(pick.kind + ":" + pick.type)});
     const [t0, t1] = weftView.window();
     return {x: r.left + (${t + dur / 2} - t0) * c.clientWidth / (t1 - t0), y: r.top + rowH * (j + 0.5), j}; })()`);
  await click(spot.x, spot.y);
  const got = await waitFor(`(d => !d.hidden && d.dataset.kind === ${JSON.stringify(pick.kind)} && d.querySelector('[data-field=type]')?.textContent)(document.getElementById('itemdetails'))`);
  check(got === pick.type, `a click on a ${pick.kind} shows its details`, `type ${got}`);
  await key("Escape");
  // a log: zoomed to 100 us around one, a click on its tick shows its message
  const lg = d.logs && (d.logs.items[0] || null);
  if (lg && rows.includes("log:logs")) {
    await evaluate(`weftView.setWindow(${lg[0] - 50000}, ${lg[0] + 50000})`);
    const at = await evaluate(`(async () => {
       const c = document.querySelector('#g-user canvas');
       c.scrollIntoView({block: 'nearest'});
       await weftView.idle();
       const r = c.getBoundingClientRect(), rows = weftView.userRows(), rowH = c.clientHeight / rows.length;
       const [t0, t1] = weftView.window();
       return {x: r.left + (${lg[0]} - t0) * c.clientWidth / (t1 - t0), y: r.top + rowH * (rows.indexOf('log:logs') + 0.5)}; })()`);
    await click(at.x, at.y);
    const msg = await waitFor(`(d => !d.hidden && d.dataset.kind === 'log' && d.querySelector('[data-field=message]')?.textContent)(document.getElementById('itemdetails'))`);
    const api = await evaluate(`fetch('/api/user/item?kind=log&i=${lg[1]}').then(r => r.json())`);
    check(msg === api.message, "a click on a log shows its message", msg || "nothing shown");
    await key("Escape");
  }
  await key("0");
  await idle();
}

async function threadClickAt(meta) {
  const spot = await evaluate(`(async () => {
     const c = document.querySelector('#g-threads canvas'), r = c.getBoundingClientRect();
     const [t0, t1] = weftView.window(), W = c.clientWidth, rowH = c.clientHeight / weftView.threadRows().length;
     const d = weftView.dataWindow();
     const q = await fetch('/api/threads?t0=' + d[0] + '&t1=' + d[1] + '&w=' + d[2]).then(r => r.json());
     let best = null;
     q.rows.forEach((row, j) => { for (const s of row.sys) {
       const xa = (s[0] - t0) * W / (t1 - t0), w = s[1] * W / (t1 - t0);
       if (xa >= 2 && xa + w <= W - 2 && (!best || w > best.w)) best = {x: r.left + xa + w / 2, y: r.top + rowH * (j + 0.7), w, m: row.m, i: s[4], task: s[2]};
     } });
     return best; })()`);
  check(!!spot, "found a syscall bar to click", spot ? `M${spot.m} syscall ${spot.i}` : "none");
  if (spot) await clickSyscall(spot);
}

async function clickSyscall(spot) {
  await click(spot.x, spot.y);
  const shown = await waitFor(`(d => !d.hidden && d.dataset.kind === 'syscall' && d.querySelector('[data-field=task]'))(document.getElementById('itemdetails'))`);
  const f = shown && await evaluate(`({task: document.querySelector('#itemdetails [data-field=task]').dataset.value,
     site: document.querySelector('#itemdetails [data-field=site]').textContent, details: document.getElementById('details').hidden})`);
  const api = await evaluate(`fetch('/api/syscall?m=${spot.m}&i=${spot.i}').then(r => r.json())`);
  check(!!f && f.task === String(api.task) && f.site === api.site && f.details,
        "a click on a syscall shows its details (task, site) in the run details' place", f ? `task ${f.task} at ${f.site}` : "not shown");
  await key("Escape");
}

// The Analysis and Blocking tabs, and the highlight they and the functions table set.
async function analysisChecks(meta) {
  const st = await evaluate(`Promise.all(['/api/verdicts', '/api/blocks'].map(p => fetch(p).then(r => r.status)))`);
  const hasV = st[0] === 200, hasB = st[1] === 200;
  const tabHidden = (t) => evaluate(`document.querySelector('.tabs [data-tab=${t}]').hidden`);
  if (!hasV) check(await tabHidden("analysis"), "no /api/verdicts: no Analysis tab");
  if (!hasB) check(await tabHidden("blocking"), "no /api/blocks: no Blocking tab");
  // the functions filter as a server highlight: hl_runs is the function's runs over the whole trace
  const hlq = await evaluate(`fetch('/api/procs?t0=0&t1=${meta.duration}&w=50&hl=fn:1').then(r => r.json()).then(d => d.hl_runs)`);
  if (hlq !== undefined) {
    const api = await evaluate("fetch('/api/fns').then(r => r.json())");
    await key("0"); await idle();
    const some = api.fns.filter((r) => r.runs > 0).slice(0, 3);
    for (const r of some) {
      await evaluate(`weftView.filterFn(${r.fn})`);
      const n = await evaluate("weftView.hlRuns()");
      const line = await evaluate("document.getElementById('st-hl').dataset.value");
      check(n === r.runs && line === String(r.runs), "the functions filter highlights the function's runs (hl_runs as /api/fns)",
            `${r.name}: ${n} vs ${r.runs}`);
    }
    await evaluate("weftView.filterFn(null)");
  }
  if (hasV) {
    await evaluate(`document.querySelector('.tabs [data-tab=analysis]').click()`);
    const t = Date.now();
    let state;
    while ((state = await evaluate("weftView.verdictsState()")) === "waiting" && Date.now() - t < 130000) await sleep(100);
    check(state === "ready", "the verdicts get ready", `${state} after ${Date.now() - t} ms`);
    const vs = await evaluate("weftView.verdicts()");
    const verr = await evaluate("fetch('/api/verdicts').then(r => r.json()).then(d => d.error)");
    if (verr) check(await evaluate(`document.getElementById('verdicts').textContent.includes(${JSON.stringify(verr)})`),
                    "the Analysis tab shows the analysis's error", verr);
    const n = await evaluate("document.querySelectorAll('#verdicts [data-k]').length");
    check(n === vs.length, "the Analysis tab lists the verdicts", `${n} entries, ${vs.length} verdicts`);
    for (let k = 0; k < vs.length; k++) {
      const v = vs[k];
      const r = await evaluate(`weftView.clickVerdict(${k})`);
      const want = v.range ? [Math.max(0, v.range[0]), Math.min(meta.duration, v.range[1])] : [0, meta.duration];
      const okWin = near(r.window[0], want[0], 1e-6) && near(r.window[1], want[1], 1e-6) ||
        (want[1] - want[0] < 100 && r.window[0] <= want[0] && r.window[1] >= want[1]);
      const sel = await evaluate(`document.querySelector('#verdicts [data-k="${k}"]').classList.contains('sel')`);
      check(r.hl_runs > 0 && okWin && sel && await evaluate("weftView.hl()") === v.hl,
            `verdict ${k} (${v.kind}) zooms to its range and highlights runs`, `${r.hl_runs} runs, window ${r.window.map(Math.round)} want ${want}`);
    }
    if (vs.length) {
      await evaluate(`weftView.clickVerdict(${vs.length - 1})`);
      check(await evaluate("weftView.hl()") === null && await evaluate("document.querySelectorAll('#verdicts .sel').length") === 0,
            "clicking the selected verdict again clears the highlight");
    }
  }
  if (hasB) {
    await evaluate(`document.querySelector('.tabs [data-tab=blocking]').click()`);
    const rows = await waitFor("weftView.blocks().length && weftView.blocks()");
    const trs = await evaluate("document.querySelectorAll('#blocks tbody tr').length");
    check(rows && rows.length > 0 && trs === rows.length, "the block profile has rows", `${trs} rows`);
    if (rows && rows.length) {
      const rect = await evaluate(`(r => { r.scrollIntoView({block: 'nearest'}); const b = r.getBoundingClientRect();
         return {x: b.left + 30, y: b.top + b.height / 2}; })(document.querySelector('#blocks tbody tr'))`);
      await key("0"); await idle();
      await click(rect.x, rect.y);
      const got = await waitFor(`weftView.hl() === ${JSON.stringify(rows[0].hl)}`);
      await idle();
      const n = await evaluate("weftView.hlRuns()");
      check(got === true && n > 0, "a click on the first block profile row highlights its runs", `${rows[0].hl}: ${n} runs`);
      // sorting by a header click
      await evaluate(`document.querySelector('#blocks th[data-key=waits]').click()`);
      const w = await evaluate(`[...document.querySelectorAll('#blocks tbody tr td:nth-child(3)')].map(td => Number(td.textContent.replace(/,/g, '')))`);
      check(w.every((x, i) => i === 0 || w[i - 1] >= x), "the block profile sorts by waits", w.slice(0, 5).join(","));
      await key("Escape");
      check(await evaluate("weftView.hl()") === null && await evaluate("document.getElementById('st-hl').textContent") === "",
            "Esc clears the highlight and its count");
    }
  }
}

const fnName = (rows, f) => (rows.find((r) => r.fn === f) || {}).name;
// Two "r,g,b,a" pixels the same colour, but for a few units of blending (an
// arrow or an underline drawn nearby); dimming to 18% moves them by far more.
const same = (a, b) => a.split(",").every((v, i) => Math.abs(Number(v) - Number(b.split(",")[i])) <= 16);

main()
  .catch((e) => { console.log("FAIL " + (e.stack || e)); failed++; })
  .finally(async () => {
    if (ws) ws.close();
    await cleanup();
    console.log(failed ? `${failed} check(s) failed` : "all checks passed");
    process.exit(failed ? 1 : 0);
  });

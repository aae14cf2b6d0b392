/*
 * firefox.mjs - the viewer's page in headless Firefox (Debian's
 * firefox-esr), over WebDriver BiDi (the protocol Firefox speaks since
 * Chrome's DevTools protocol left it), with Node's built-in WebSocket: no
 * npm package, no geckodriver.
 *
 *   node --experimental-websocket firefox.mjs URL [--shot F.png] [--firefox PATH]
 *
 * Checks that the page gets ready (body[data-state=ready]), draws one row
 * per P as /api/meta says, and paints the timeline (more than ten colours
 * in the canvas); where the server has /api/counters and /api/threads,
 * that their groups are shown with their rows; where it has
 * /api/verdicts, that a verdict clicked (weftView.clickVerdict, once
 * ready) highlights runs; --shot writes a screenshot. Exits 1 on a
 * failure.
 *
 * Rejected: `firefox --headless --screenshot URL`, which the issue names:
 * it shoots at the load event, before the page's first answer arrives, so
 * it shows an empty timeline whatever the page does; geckodriver and
 * Playwright's Firefox: not in Debian, or a download.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer } from "node:net";

const args = process.argv.slice(2);
const url = args[0];
const opt = (n) => { const i = args.indexOf(n); return i >= 0 ? args[i + 1] : null; };
if (!url) { console.error("usage: node --experimental-websocket firefox.mjs URL [--shot F.png]"); process.exit(2); }
const shot = opt("--shot");
const firefox = opt("--firefox") || process.env.FIREFOX || "firefox-esr";
let failed = 0;
const check = (ok, what, detail = "") => {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}${detail ? "  (" + detail + ")" : ""}`);
  if (!ok) failed++;
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/* A free port for the browser's protocol server. */
const port = await new Promise((res) => { const s = createServer(); s.listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => res(p)); }); });
const prof = mkdtempSync(join(tmpdir(), "weft-view-ff."));
const br = spawn(firefox, ["--headless", "--no-remote", "--profile", prof,
  "--remote-debugging-port", String(port), "--window-size=1280,720", "about:blank"],
  { stdio: ["ignore", "ignore", "pipe"] });
let brErr = "", brExited = false;
br.stderr.on("data", (d) => { brErr += d; });
br.on("exit", () => { brExited = true; });

async function cleanup() {
  if (!brExited) {
    br.kill("SIGTERM");
    for (let i = 0; i < 50 && !brExited; i++) await sleep(100);
  }
  try { rmSync(prof, { recursive: true, force: true, maxRetries: 5 }); } catch (_) { /* a temp dir */ }
}

let ws, nextId = 1;
const pending = new Map();
function send(method, params = {}) {
  const id = nextId++;
  ws.send(JSON.stringify({ id, method, params }));
  return new Promise((res, rej) => pending.set(id, { res, rej, method }));
}

async function connect() {
  /* Firefox prints its WebDriver BiDi address on stderr once it listens. */
  for (let i = 0; i < 300; i++) {
    if (/WebDriver BiDi listening/.test(brErr)) break;
    if (brExited) throw new Error("firefox exited:\n" + brErr.slice(-2000));
    await sleep(100);
  }
  ws = new WebSocket(`ws://127.0.0.1:${port}/session`);
  await new Promise((res, rej) => { ws.onopen = res; ws.onerror = () => rej(new Error("no BiDi socket:\n" + brErr.slice(-2000))); });
  ws.onmessage = (m) => {
    const msg = JSON.parse(m.data);
    if (msg.id && pending.has(msg.id)) {
      const p = pending.get(msg.id);
      pending.delete(msg.id);
      if (msg.type === "error") p.rej(new Error(`${p.method}: ${msg.error}: ${msg.message}`));
      else p.res(msg.result);
    }
  };
}

async function main() {
  await connect();
  await send("session.new", { capabilities: {} });
  const tree = await send("browsingContext.getTree", {});
  const context = tree.contexts[0].context;
  await send("browsingContext.setViewport", { context, viewport: { width: 1280, height: 720 } });
  await send("browsingContext.navigate", { context, url, wait: "complete" });
  const evaluate = async (expression) => {
    const r = await send("script.evaluate", { expression, target: { context }, awaitPromise: true });
    if (r.type === "exception") throw new Error(`${expression}: ${JSON.stringify(r.exceptionDetails).slice(0, 300)}`);
    return r.result.value;
  };
  let state = null;
  const t = Date.now();
  while (Date.now() - t < 30000) {
    state = await evaluate("document.body.dataset.state || ''");
    if (state === "ready") break;
    await sleep(50);
  }
  check(state === "ready", "the page gets ready", `${Date.now() - t} ms`);
  const meta = JSON.parse(await evaluate("fetch('/api/meta').then(r => r.text())"));
  const rows = await evaluate("weftView.rows()");
  check(rows === meta.procs, "one row per P", `${rows} rows, ${meta.procs} Ps`);
  const painted = await evaluate(`(() => { const c = document.getElementById('timeline');
     const x = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; const s = new Set();
     for (let i = 0; i < x.length; i += 4 * 97) s.add(x[i] << 16 | x[i + 1] << 8 | x[i + 2]); return s.size; })()`);
  check(painted > 10, "the timeline is painted", `${painted} colours sampled`);
  // the row groups and a verdict, where the server has them
  const q = `t0=0&t1=${meta.duration}&w=100`;
  const st = JSON.parse(await evaluate(`Promise.all(['/api/counters?${q}', '/api/threads?${q}', '/api/verdicts'].map(p => fetch(p).then(r => r.status))).then(JSON.stringify)`));
  if (st[0] === 200) {
    const names = JSON.parse(await evaluate("JSON.stringify(weftView.counterNames())"));
    check(names.length === 4, "the Counters group shows four counters", names.join(","));
  }
  if (st[1] === 200) {
    const n = await evaluate("weftView.threadRows().length");
    check(n > 0, "the Threads group has rows", `${n} Ms`);
  }
  if (st[2] === 200) {
    const t1 = Date.now();
    let vs = 0;
    while (Date.now() - t1 < 130000) {
      const state = await evaluate("weftView.verdictsState()");
      if (state !== "waiting") { vs = state === "ready" ? await evaluate("weftView.verdicts().length") : -1; break; }
      await sleep(100);
    }
    check(vs >= 0, "the verdicts get ready", `${vs} verdicts`);
    if (vs > 0) {
      const r = JSON.parse(await evaluate("weftView.clickVerdict(0).then(JSON.stringify)"));
      check(r.hl_runs > 0, "a verdict clicked highlights runs", `${r.hl_runs} runs`);
    }
  }
  if (shot) {
    const s = await send("browsingContext.captureScreenshot", { context });
    writeFileSync(shot, Buffer.from(s.data, "base64"));
    console.log(`screenshot: ${shot}`);
  }
}

main()
  .catch((e) => { console.log("FAIL " + (e.stack || e)); failed++; })
  .finally(async () => {
    try { ws && ws.close(); } catch (_) {}
    await cleanup();
    console.log(failed ? `${failed} check(s) failed` : "all checks passed");
    process.exit(failed ? 1 : 0);
  });

/*
 * main.js - the viewer's page: loads /api/meta and /api/fns, builds the
 * timeline, the details panel, the functions table and the task view,
 * and joins them: view changes go to the procs loader, clicks become
 * /api/run and /api/task requests, jumps move the view, a row of the
 * functions table filters the timeline, and window.weftView lets a
 * headless browser drive it.
 *
 * The jumps ("woken by", "previous run", "next run", a running segment of
 * the task view) all go through select(): fetch the run, outline it,
 * fill the details, draw the flow arrows (the link just followed, and the
 * arrow from the selected run's own waker), and with `jump` move the view
 * so that the run is in the middle and, as far as its size allows, the
 * run it was reached from is on screen too. A newer selection makes an
 * older answer stale (runSeq), as the loader does for /api/procs.
 *
 * The highlight is one value, hlSel ({src: "fn" | "verdict" | "block",
 * key, spec} or null), set only by setHl(), which marks the row or
 * entry it came from (and unmarks the others'), gives the spec to the
 * loader (/api/procs?hl=SPEC: the server picks the matching runs and
 * counts them, hl_runs) and to the timeline, and says in the status
 * line what is highlighted and, once the answer is drawn, "N runs
 * highlighted". A click on a functions table row sets "fn:F" (and
 * tl.fnFilter, which the timeline uses instead against a server that
 * does not answer hl); a verdict sets its spec and moves the view to its
 * range (the whole trace when it has none); a row of the block profile
 * sets its "site:R:S"; a second click on the same one, or Esc, clears
 * it. The verdicts and the block profile are polled until ready
 * (pollReady); a server without them (404) never shows their tabs.
 * The row groups (lanes.js) get the extra answers that came with each
 * procs answer; the pane keeps up to 45% of its height for the groups
 * below the Ps (tl.reserve), and the Ps shrink to make room. The functions table
 * and the task view share the space beside the run details as two tabs;
 * opening a task shows its tab, closing it goes back to the functions.
 * /api/fns is asked for once, after /api/meta, and does not hold up the
 * first paint; a server without it leaves the table empty with a note.
 *
 * The first paint. /api/meta's answer comes in the page (script#weft-meta,
 * filled by the server; asked for when absent), so boot() starts as soon
 * as the modules are in; it builds the loader and the timeline first and
 * sends the first window's requests at once (loader.flush(), not after
 * the debounce), so the server answers them while the rest of the page
 * is built. Counts are written with format.js's formatInt: the first
 * toLocaleString of a page loads ICU's locale data (50-350 ms in a cold
 * headless Chromium).
 *
 * Test hooks, on window.weftView (every method that changes the view or
 * the selection returns a Promise that resolves once the answer for the
 * new state is drawn):
 *   ready            resolves after the first paint with data (and then
 *                    document.body.dataset.state is "ready");
 *   window()         the view [t0, t1] in ns;
 *   setWindow(t0,t1) move the view (clamped to the trace);
 *   rows()           the number of P rows drawn;
 *   clickRun(p, i)   select run i of P p as a click would (resolves to
 *                    the /api/run object shown);
 *   followWaker()    jump to the selected run's waker (resolves to it, or
 *                    to null when the run has none);
 *   followPrev(), followNext(), openTask(id);
 *   zoom(f)          zoom in by f around the view's centre (f < 1 zooms
 *                    out), as W and S do by 1.25;
 *   selected(), flows(), drawMs(), drawParts() (the last frame's ms by
 *                    part: procs, counters, threads, user), idle(), dataWindow() (the window and
 *                    width of the /api/procs answer being drawn);
 *   fns()            the functions table's rows as the page holds them
 *                    (/api/fns objects, in the order shown; [] until the
 *                    answer is in);
 *   filterFn(fn)     highlight function fn's runs (a meta.fns index), or
 *                    clear with null; resolves after the redraw;
 *   filteredFn()     the highlighted function's index, or null;
 *   verdicts()       the verdicts shown ([] until ready), verdictsState()
 *                    ("waiting", "ready", "error", "missing");
 *   clickVerdict(k)  click verdict k (resolves, once the highlighted
 *                    window is drawn, to {hl_runs, window});
 *   blocks()         the block profile's rows in the order shown (each
 *                    with k, its index), clickBlock(k) as clickVerdict;
 *   hl(), hlRuns()   the highlight spec, and the hl_runs of the answer
 *                    drawn (null when the server did not highlight);
 *   clearHl()        as Esc does to the highlight;
 *   groups()         {counters, threads, user}: whether each is shown;
 *   groupWindows()   {name: [t0, t1, w]} of the answer each shown group draws;
 *   threadRows()     the M of each Threads row; counterNames(); userRows()
 *                    ("kind:type", and "log:logs");
 *   firstPaintMs     ms from navigation start (performance.now()) to the
 *                    first painted timeline with data (null before);
 *                    the marks weft:meta (meta in hand), weft:boot (the
 *                    page built), weft:data (the first window's answer)
 *                    and weft:paint time its steps (drive.mjs --resources).
 *                    The JS heap is read from outside (drive.mjs:
 *                    the DevTools protocol), not by the page.
 *
 * Rejected: reading state out of the DOM for the tests only (the hooks
 * are small and say what the page believes; the DOM fields carry
 * data-value for tests that look the way people do); a URL fragment
 * holding the view (useful for links, but the server has no notion of
 * one yet: left for when the verdicts panel wants deep links); the
 * functions table in a panel of its own beside the run details and the
 * task view (at 1280 px the three would each be too narrow: the task
 * strip needs the width); filtering by fetching only the function's
 * runs (the other functions' runs are the context: where the function
 * ran and what ran around it).
 */

import { getJSON, pollReady, ProcsLoader } from "./api.js";
import { formatDur, formatInt, formatTime } from "./format.js";
import { Timeline } from "./timeline.js";
import { RunDetails, TaskView, FnsTable, ItemDetails } from "./details.js";
import { Counters, Threads, User, laneHoverText } from "./lanes.js";
import { VerdictList, BlockTable } from "./analysis.js";
import { fnColor } from "./colors.js";

const $ = (s) => document.querySelector(s);
let readyResolve, readyReject;
const ready = new Promise((res, rej) => { readyResolve = res; readyReject = rej; });
ready.catch(() => {});

let meta, tl, loader, details, taskView, fnsTable, itemDetails;
let counters, threads, user, verdictList, blockTable;
let cur = null;        // the selected run (/api/run answer)
let runSeq = 0;
let firstPaint = false;
let firstPaintMs = null;
let hlSel = null;      // {src, key, spec}: what is highlighted
let verdicts = [], blockRows = [];
let itemSeq = 0;

const box = (r) => ({ p: r.p, start: r.start, dur: r.dur });

function banner(text, kind) {
  const b = $("#banner");
  if (!text) { if (b.dataset.kind === kind) b.hidden = true; return; }
  b.textContent = text;
  b.className = kind === "net" ? "net" : "";
  b.dataset.kind = kind;
  b.hidden = false;
}

function msg(text) { $("#st-msg").textContent = text || ""; }

function tip(text, x, y) {
  const t = $("#tip");
  if (!text) { t.hidden = true; return; }
  t.textContent = text;
  t.hidden = false;
  const w = t.offsetWidth, h = t.offsetHeight;
  t.style.left = Math.min(x + 14, innerWidth - w - 4) + "px";
  t.style.top = (y + 16 + h > innerHeight ? y - h - 8 : y + 16) + "px";
}

function hoverText(h) {
  if (!h) return null;
  const e = h.e;
  if (h.kind === "run") {
    return `${meta.fns[e[2]] || "?"} #${e[3]}\n${formatDur(e[1])} at ${formatTime(e[0])}\nP${h.p} run ${e[4]}`;
  }
  if (h.kind === "block") {
    return `${e[2]} runs, ${((100 * e[3]) / Math.max(1, e[1])).toFixed(0)}% busy\n` +
      `${formatDur(e[1])} at ${formatTime(e[0])} (click to zoom)`;
  }
  return `stop-the-world\n${formatDur(e[1])} at ${formatTime(e[0])}`;
}

function showWindow(t0, t1) {
  $("#st-window").textContent = `${formatTime(Math.round(t0))} – ${formatTime(Math.round(t1))} (${formatDur(t1 - t0)})`;
}

// ---- the functions table and the tabs ---------------------------------

function setFilter(fn) {
  fn = fn === null || fn === undefined ? null : Number(fn);
  if (fn === null) setHl(null);
  else setHl("fn", fn, `fn:${fn}`);
}

/** Set (or with src null, clear) the highlight; see the essay. */
function setHl(src, key = null, spec = null) {
  hlSel = src ? { src, key, spec } : null;
  const fn = src === "fn" ? key : null;
  tl.fnFilter = fn;
  tl.hl = hlSel ? spec : null;
  fnsTable.setSelected(fn);
  verdictList.setSelected(src === "verdict" ? key : null);
  blockTable.setSelected(src === "block" ? key : null);
  let what = "";
  if (src === "fn") what = `highlighting ${meta.fns[fn] || "fn " + fn} (click its row again or Esc to clear)`;
  else if (src === "verdict") what = `highlighting ${verdicts[key].kind.replace(/_/g, " ")} (Esc clears)`;
  else if (src === "block") what = `highlighting ${blockRows[key].reason} at ${blockRows[key].site_name} (Esc clears)`;
  else if (src === "task") what = `highlighting task ${key}'s runs (Esc clears)`;
  $("#st-fn").textContent = what;
  $("#st-fn").dataset.value = fn === null ? "" : String(fn);
  loader.setHl(tl.hl);
  showHlCount();
  tl.draw();
}

function showHlCount() {
  const el = $("#st-hl");
  const n = tl.hlShown() ? tl.data.hl_runs : null;
  el.textContent = n === null ? "" : `${formatInt(n)} run${n === 1 ? "" : "s"} highlighted`;
  el.dataset.value = n === null ? "" : String(n);
}

function pickVerdict(k) {
  if (k === null || k === undefined || !verdicts[k]) { setHl(null); return; }
  const v = verdicts[k];
  setHl("verdict", k, v.hl);
  if (v.range) tl.setView(v.range[0], v.range[1]); else tl.reset();
}

function pickBlock(k) {
  if (k === null || k === undefined || !blockRows[k]) { setHl(null); return; }
  setHl("block", k, blockRows[k].hl);
}

const PANELS = { fns: "#fnsview", analysis: "#analysisview", blocking: "#blockview", task: "#taskview" };

function tab(name) {
  for (const b of document.querySelectorAll(".tabs [data-tab]")) b.setAttribute("aria-selected", String(b.dataset.tab === name));
  for (const [k, sel] of Object.entries(PANELS)) $(sel).hidden = name !== k;
  $("#fns-hint").hidden = name !== "fns";
}

async function loadVerdicts() {
  const btn = $('.tabs [data-tab="analysis"]');
  verdictList.waiting();
  try {
    const d = await pollReady("/api/verdicts", { onWait: () => { btn.hidden = false; } });
    if (!d) { verdictList.state = "missing"; return; }
    btn.hidden = false;
    verdicts = d.verdicts || [];
    if (d.error && !verdicts.length) { verdictList.error(d.error); return; }
    verdictList.show(verdicts, d.error || null);
    btn.textContent = `Analysis (${verdicts.length})`;
  } catch (e) {
    btn.hidden = false;
    verdictList.error(e.message || String(e));
  }
}

async function loadBlocks() {
  const btn = $('.tabs [data-tab="blocking"]');
  try {
    const d = await pollReady("/api/blocks", { onWait: () => { btn.hidden = false; } });
    if (!d) return;
    btn.hidden = false;
    blockRows = d.blocks || [];
    blockTable.show(blockRows);
    btn.textContent = `Blocking (${blockRows.length})`;
  } catch (e) {
    btn.hidden = false;
    msg(e.message || String(e));
  }
}

// ---- the row groups ---------------------------------------------------

function relayoutGroups() {
  const pane = $("#pane");
  const want = Math.min(threads.height + user.height, Math.floor(pane.clientHeight * 0.45));
  $("#g-counters .gplot").style.paddingRight = Math.max(0, pane.offsetWidth - pane.clientWidth) + "px";
  if (want !== tl.reserve) { tl.reserve = want; tl.layout(); }
  tl.draw();
}

function itemFields(kind, d) {
  const task = (id) => ["task", "task", id ? `task ${id}` : "—", id || 0, id ? { task: id } : null];
  const dur = (x) => ["dur", "duration", x === null || x === undefined ? "unfinished" : formatDur(x), x];
  switch (kind) {
    case "syscall":
      return [`Syscall · M${d.m} · ${d.i}`, [task(d.task), ["fn", "function", d.fn || "?", d.fn],
        ["site", "site", d.site || "?", d.site], ["start", "start", formatTime(d.start), d.start], dur(d.dur),
        ["handoff", "handed off", d.handoff ? "yes: the P went to another M" : "no", d.handoff]]];
    case "utask":
      return [`User task ${d.id} · ${d.type}`, [["id", "id", String(d.id), d.id], ["type", "type", d.type, d.type],
        ["parent", "parent", d.parent ? "user task " + d.parent : "—", d.parent || 0], task(d.task),
        ["start", "start", formatTime(d.start), d.start], dur(d.dur)]];
    case "region":
      return [`Region · ${d.type}`, [["type", "type", d.type, d.type], task(d.task), ["fn", "function", d.fn || "?", d.fn],
        ["utask", "user task", d.utask ? String(d.utask) : "—", d.utask || 0], ["start", "start", formatTime(d.start), d.start],
        dur(d.dur), ["depth", "depth", String(d.depth), d.depth]]];
    default:
      return [`Log${d.category ? " · " + d.category : ""}`, [["message", "message", d.message, d.message, { wrap: true }],
        ["t", "time", formatTime(d.t), d.t], task(d.task), ["fn", "function", d.fn || "?", d.fn],
        ["utask", "user task", d.utask ? String(d.utask) : "—", d.utask || 0], ["category", "category", d.category || "—", d.category]]];
  }
}

async function showItem(kind, path) {
  const seq = ++itemSeq;
  let d;
  try {
    d = await getJSON(path);
  } catch (e) {
    if (seq === itemSeq) msg(e.message || String(e));
    return null;
  }
  if (seq !== itemSeq) return d;
  const [title, fields] = itemFields(kind, d);
  itemDetails.show(kind, title, fields);
  $("#details").hidden = true;
  msg("");
  return d;
}

function closeItem() {
  itemSeq++;
  $("#itemdetails").hidden = true;
  $("#details").hidden = false;
}

function onGroupPick(h) {
  tip(null);
  if (!h) return;
  const zoom = (e) => { const m = e[1] * 0.1 + 1; tl.setView(e[0] - m, e[0] + e[1] + m); };
  if (h.kind === "syscall") showItem("syscall", `/api/syscall?m=${h.m}&i=${h.e[4]}`);
  else if (h.kind === "sysblock" || h.kind === "block") zoom(h.e);
  else if (h.kind === "utask" || h.kind === "region" || h.kind === "log") showItem(h.kind, `/api/user/item?kind=${h.kind}&i=${h.i}`);
}

async function loadFns() {
  try {
    const d = await getJSON("/api/fns");
    fnsTable.show(d.fns || []);
  } catch (e) {
    $("#fns-hint").textContent = `no functions table: ${e.message || e}`;
  }
}

// ---- selection and jumps ---------------------------------------------

async function select(p, i, { link = null, jump = false } = {}) {
  const seq = ++runSeq;
  const from = cur;
  details.loading();
  let r;
  try {
    r = await getJSON(`/api/run?p=${p}&i=${i}`);
  } catch (e) {
    if (seq === runSeq) { msg(String(e.message || e)); details.root.dataset.state = "error"; }
    throw e;
  }
  if (seq !== runSeq) return r;
  const flows = [];
  if (from && link === "waker") flows.push({ from: box(r), to: box(from) });
  if (from && link === "prev") flows.push({ from: box(r), to: box(from), dashed: true });
  if (from && link === "next") flows.push({ from: box(from), to: box(r), dashed: true });
  if (r.woken_by && link !== "next-of-waker") {
    try {
      const w = await getJSON(`/api/run?p=${r.woken_by.p}&i=${r.woken_by.i}`);
      if (seq !== runSeq) return r;
      flows.push({ from: box(w), to: box(r) });
    } catch (_) { /* the arrow is a nicety */ }
  }
  cur = r;
  closeItem();
  tl.selected = box(r);
  tl.flows = flows;
  details.show(r);
  taskView.setMark(taskView.task && taskView.task.id === r.task ? r : null);
  if (jump) {
    const c = r.start + r.dur / 2;
    let half = Math.max(r.dur * 2, 2000);
    if (from) {
      const far = Math.max(Math.abs(from.start - c), Math.abs(from.start + from.dur - c));
      half = Math.max(half, far * 1.15);
    }
    tl.setView(c - half, c + half);
  }
  tl.reveal(r.p);
  tl.draw();
  msg("");
  return r;
}

async function follow(kind) {
  if (!cur) return null;
  const ref = kind === "waker" ? cur.woken_by : kind === "prev" ? cur.prev : cur.next;
  if (!ref) { msg(`this run has no ${kind === "waker" ? "waker" : kind + " run"}`); return null; }
  const r = await select(ref.p, ref.i, { link: kind, jump: true });
  await loader.idle();
  return r;
}

async function openTask(id) {
  const t = await getJSON(`/api/task?id=${id}&w=${Math.max(200, Math.round(window.innerWidth || 1600))}`);
  taskView.show(t);
  $('.tabs [data-tab="task"]').disabled = false;
  tab("task");
  taskView.setMark(cur && cur.task === t.id ? cur : null);
  tl.task = t;
  // A long life comes with its first runs only: the server highlights them all.
  if (t.merged) setHl("task", t.id, `task:${t.id}`);
  tl.draw();
  return t;
}

// ---- boot ------------------------------------------------------------

function onKey(e) {
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  const tag = e.target && e.target.tagName;
  if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT") return;
  const x = tl.mouse ? tl.mouse.x : tl.W / 2;
  switch (e.key) {
    case "w": case "W": tl.zoomBy(1.25, x); break;
    case "s": case "S": tl.zoomBy(1 / 1.25, x); break;
    case "a": case "A": case "ArrowLeft": tl.panBy(-0.15); break;
    case "d": case "D": case "ArrowRight": tl.panBy(0.15); break;
    case "0": case "Home": tl.reset(); break;
    case "f": case "F":
      if (tl.range) { const [a, b] = tl.range, m = (b - a) * 0.05; tl.setView(a - m, b + m); }
      else if (cur) { const m = Math.max(cur.dur * 0.5, 500); tl.setView(cur.start - m, cur.start + cur.dur + m); }
      break;
    case "Escape":
      tl.range = null; tl.selected = null; tl.flows = []; cur = null; runSeq++;
      details.clear(); taskView.setMark(null); $("#st-range").textContent = ""; setHl(null); closeItem();
      break;
    default: return;
  }
  e.preventDefault();
}

async function boot() {
  // /api/meta's answer, put in the page by the server (or asked for)
  const inl = document.getElementById("weft-meta");
  meta = inl ? JSON.parse(inl.textContent) : await getJSON("/api/meta");
  performance.mark("weft:meta");
  document.title = `${meta.file} · weft trace`;
  $("#file").textContent = meta.file;
  $("#summary").textContent = `${formatDur(meta.duration)} · ${meta.procs} P · ` +
    `${formatInt(meta.tasks)} tasks · ${formatInt(meta.runs)} runs · ` +
    `${formatInt(meta.events)} events`;
  if (meta.error) {
    banner(`This trace is bad from byte ${meta.error.offset} on: ${meta.error.message}. ` +
      `Showing what came before it (up to ${formatTime(meta.duration)}).`, "file");
    document.body.dataset.traceError = "1";
  }
  loader = new ProcsLoader(
    (d, ms) => {
      if (!firstPaint) performance.mark("weft:data");
      const ex = d.extra || {};
      counters.setData(ex.counters);
      threads.setData(ex.threads);
      user.setData(ex.user);
      tl.setData(d);
      showHlCount();
      banner(null, "net");
      let n = 0;
      for (const r of d.rows) n += r.runs.length + r.blocks.length;
      $("#st-perf").dataset.fetch = `${ms.toFixed(0)} ms`;
      $("#st-perf").dataset.n = String(n);
      if (!firstPaint) {
        firstPaint = true;
        requestAnimationFrame(() => setTimeout(() => {
          firstPaintMs = performance.now();
          performance.mark("weft:paint");
          document.body.dataset.state = "ready";
          readyResolve();
        }, 0));
      }
    },
    (e) => banner(`Cannot reach the viewer's server: ${e.message || e}`, "net"),
  );
  loader.extra("counters", "/api/counters");
  loader.extra("threads", "/api/threads");
  // a trace that says it has no user annotations: no /api/user requests
  if (!(meta.utasks === 0 && meta.regions === 0 && meta.logs === 0)) loader.extra("user", "/api/user");
  tl = new Timeline($("#timeline"), $("#plabels"), meta, {
    onView: (t0, t1, w) => { loader.request(t0, t1, w); showWindow(t0, t1); },
    onPick: (h) => {
      tip(null);
      if (!h) return;
      if (h.kind === "run") select(h.p, h.e[4]).catch(() => {});
      else if (h.kind === "block") { const m = h.e[1] * 0.1 + 1; tl.setView(h.e[0] - m, h.e[0] + h.e[1] + m); }
      else msg(`stop-the-world: ${formatDur(h.e[1])} at ${formatTime(h.e[0])}`);
    },
    onHover: (h, m, e) => {
      tip(hoverText(h), e && e.clientX, e && e.clientY);
      if (counters) counters.redraw();   // its cursor line follows the pointer
      $("#st-cursor").textContent = m ? "cursor " + formatTime(Math.round(tl.tOf(m.x))) : "";
    },
    onRange: (r) => {
      $("#st-range").textContent = r ? `selection ${formatTime(Math.round(r[0]))} + ${formatDur(r[1] - r[0])}` : "";
    },
    onFrame: (ms) => {
      const el = $("#st-perf");
      el.textContent = `draw ${ms.toFixed(1)} ms · fetch ${el.dataset.fetch || "–"} · ${el.dataset.n || 0} rects`;
    },
  });
  // The window first: its requests go out now (not after the loader's
  // debounce), and the server answers them while the rest of the page is
  // built; the first paint waits for them, not for the tables.
  loader.flush();
  details = new RunDetails($("#details"));
  details.clear();
  taskView = new TaskView($("#taskview"), {
    onRun: (p, i) => select(p, i, { jump: true }).catch(() => {}),
    onWindow: (a, b) => tl.setView(a, b),
    onShow: (t) => {
      const st = t.states, a = st.length ? st[0][0] : 0;
      const b = st.length ? st[st.length - 1][0] + st[st.length - 1][1] : a + 1;
      const m = (b - a) * 0.03;
      tl.setView(a - m, b + m);
    },
    onClose: () => { tl.task = null; tl.draw(); $('.tabs [data-tab="task"]').disabled = true; tab("fns"); },
    tip,
  });
  fnsTable = new FnsTable($("#fns"), { onPick: (fn) => setFilter(fn) }, (fn) => fnColor(fn)[0]);
  verdictList = new VerdictList($("#verdicts"), { onPick: (k) => pickVerdict(k) });
  blockTable = new BlockTable($("#blocks"), { onPick: (k) => pickBlock(k) });
  itemDetails = new ItemDetails($("#itemdetails"), { onTask: (id) => openTask(id).catch((e) => msg(e.message)), onClose: closeItem });
  const gh = {
    onPick: onGroupPick,
    onHover: (h, e) => tip(laneHoverText(h, threads), e && e.clientX, e && e.clientY),
    onResize: () => relayoutGroups(),
  };
  counters = new Counters($("#g-counters"), tl, gh);
  threads = new Threads($("#g-threads"), tl, gh, meta);
  user = new User($("#g-user"), tl, gh);
  tl.followers.push(counters, threads, user);
  loader.onMissing = (name) => ({ counters, threads, user })[name].setMissing();
  new ResizeObserver(() => relayoutGroups()).observe($("#pane"));
  performance.mark("weft:boot");
  loadVerdicts();
  loadBlocks();
  for (const b of document.querySelectorAll(".tabs [data-tab]")) b.addEventListener("click", () => tab(b.dataset.tab));
  loadFns();
  document.addEventListener("keydown", onKey);
  for (const [act, kind] of [["waker", "waker"], ["prev", "prev"], ["next", "next"]]) {
    $(`#details [data-action="${act}"]`).addEventListener("click", () => follow(kind).catch(() => {}));
  }
  $('#details [data-action="task"]').addEventListener("click", () => cur && openTask(cur.task).catch((e) => msg(e.message)));
}

async function settled() {
  await loader.idle();
  await new Promise((r) => requestAnimationFrame(() => r()));
}

window.weftView = {
  ready,
  window: () => [tl.t0, tl.t1],
  setWindow: (t0, t1) => { tl.setView(t0, t1); return settled(); },
  rows: () => (tl.data ? tl.data.rows.length : 0),
  clickRun: async (p, i) => { const r = await select(p, i); await settled(); return r; },
  followWaker: () => follow("waker"),
  followPrev: () => follow("prev"),
  followNext: () => follow("next"),
  openTask: (id) => openTask(id),
  zoom: (f) => { tl.zoomBy(f); return settled(); },
  selected: () => cur,
  dataWindow: () => (tl.data ? [tl.data.t0, tl.data.t1, tl.data.w] : null),
  flows: () => tl.flows.slice(),
  drawMs: () => tl.drawMs,
  drawParts: () => ({ ...tl.partMs }),
  idle: () => settled(),
  fns: () => (fnsTable ? fnsTable.shown() : []),
  filterFn: (fn) => { setFilter(fn); return settled(); },
  filteredFn: () => (tl ? tl.fnFilter : null),
  verdicts: () => verdicts.slice(),
  verdictsState: () => (verdictList ? verdictList.state : "waiting"),
  clickVerdict: async (k) => {
    pickVerdict(hlSel && hlSel.src === "verdict" && hlSel.key === k ? null : k);
    await settled();
    return { hl_runs: weftView.hlRuns(), window: [tl.t0, tl.t1] };
  },
  blocks: () => (blockTable ? blockTable.shown() : []),
  clickBlock: async (k) => {
    pickBlock(hlSel && hlSel.src === "block" && hlSel.key === k ? null : k);
    await settled();
    return { hl_runs: weftView.hlRuns(), window: [tl.t0, tl.t1] };
  },
  hl: () => (tl ? tl.hl : null),
  hlRuns: () => (tl && tl.hlShown() ? tl.data.hl_runs : null),
  clearHl: () => { setHl(null); return settled(); },
  groups: () => ({ counters: !!counters && counters.visible, threads: !!threads && threads.visible, user: !!user && user.visible }),
  threadRows: () => (threads && threads.visible ? threads.rows.map((r) => r.m) : []),
  counterNames: () => (counters && counters.visible ? counters.names() : []),
  userRows: () => (user && user.visible ? user.names() : []),
  groupWindows: () => Object.fromEntries([["counters", counters], ["threads", threads], ["user", user]]
    .filter(([, g]) => g && g.visible && g.data).map(([n, g]) => [n, [g.data.t0, g.data.t1, g.data.w]])),
  get firstPaintMs() { return firstPaintMs; },
};

boot().catch((e) => {
  banner(`The viewer could not start: ${e.message || e}`, "net");
  document.body.dataset.state = "error";
  readyReject(e);
});

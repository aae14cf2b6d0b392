/*
 * timeline.js - the PROCS timeline: one row per P on one canvas, the time
 * ruler on top, and the mouse and keyboard that move it.
 *
 * Model. The view is a window [t0, t1] of the trace in ns (doubles: a
 * zoom may put the edges between two ns) drawn over the canvas's CSS
 * width W, so x = (t - t0) * W / (t1 - t0). The data is the last
 * /api/procs answer, kept as the server sent it, in absolute ns: when the
 * view moves, the old answer is drawn at once in the new window (scaled,
 * perhaps blurred) until the new one arrives, and the parts of the view
 * it does not cover are tinted. The timeline never fetches: it reports
 * every view change to onView and the caller (main.js) asks the loader.
 *
 * A frame draws, per row: the stop-the-world bands, the busy blocks
 * (grey, darker the busier, in 8 shades), the runs (filled by entry
 * function, one path per colour so that a frame is a few dozen fills
 * however many bars there are), the labels "fn #id" of the runs wide
 * enough to hold one, then over all rows the task highlight, the
 * selected run's outline, the flow arrows and the selection range, and
 * the ruler last. With a function filter (fnFilter, an index into
 * meta.fns), the runs of that function are drawn as ever and everything
 * else on the rows, the other functions' runs, their labels and the busy
 * blocks (which do not say whose runs they merge), at DIM opacity.
 * The highlight (hl, a spec such as "fn:3" or "v:2", set by main.js)
 * is the server's: /api/procs?hl=SPEC adds to each row the matching
 * runs, merged per pixel ([t0, dur, n]), and the count hl_runs. When the
 * answer drawn was asked with the current spec and has hl_runs, every
 * bar and block is drawn at DIM, the runs that are hl items of their own
 * (n = 1, same start) at full colour, and the merged hl items on top in
 * HL_COLOR, more opaque the more runs they merge (four steps of
 * log2 n). So a function filter dims and highlights merged blocks
 * exactly, which the page alone cannot do (a block does not say whose
 * runs it merges). Against a server without hl (no hl_runs in its
 * answer) the function filter falls back to colouring by fnFilter.
 * The server sends at most about two entries per pixel
 * per row, so a frame is O(W x Ps) rectangles: about 10,000 at 1280 px
 * and 4 Ps, measured at 1-3 ms; drawMs holds the last frame's time.
 * Frames are coalesced with requestAnimationFrame. A layout (the
 * ResizeObserver's, one at least at the start) redraws at once only when
 * it resized the canvas, which blanks it; at the same size the canvas
 * keeps its pixels and the frame waits for the next one (before, the
 * observer's first call redrew and reallocated the canvas in the frame
 * before the first paint: 7-141 ms at load 12-14).
 *
 * Input: the wheel zooms around the cursor (vertical wheel; a horizontal
 * wheel or shift+wheel pans); a drag pans; shift+drag selects a range
 * (its duration is drawn on the ruler); a click without movement picks
 * what is under the cursor (onPick: a run, a busy block or a
 * stop-the-world band); the keys are bound by main.js through zoomBy and
 * panBy. The view is clamped to the trace: no wider than the trace, no
 * narrower than minSpan, never off either end.
 *
 * Invariants: within a row, runs and blocks are each sorted by start
 * (the server's order; setData sorts if not), which the hit test's
 * binary search needs. A run is found by the click when it is at most
 * 3 px away, so a one-pixel run can be hit. The filter changes colours
 * only: the hit test, the labels' places and the LOD are the same.
 *
 * Rejected: one canvas per row (a DOM node per P, and flows between rows
 * would need an overlay anyway); WebGL (Canvas2D draws the bounded
 * number of rectangles well inside a frame, and the page must work
 * wherever a browser does); an OffscreenCanvas in a worker (the frame is
 * already cheap; a worker would add a copy of every answer); hiding the
 * other functions' runs under a filter (the gaps would read as idle Ps;
 * dimmed, the filtered function's share of each P is still seen
 * against the rest); asking the server for a per-function busy time in
 * the blocks (the filtered function's narrow runs stay hidden in the
 * dimmed blocks when zoomed out: zoom in to see them).
 */

import { fnColor, STW_FILL, STW_EDGE, FLOW, SELECT_RANGE, SELECT_EDGE, HL_COLOR } from "./colors.js";
import { formatDur, ticks } from "./format.js";

const RULER_H = 30;
const ROW_MIN = 18;
const ROW_MAX = 56;
const SHADES = 8;
const DIM = 0.18;                 // opacity of what a function filter leaves out
const HL_STEPS = [0.45, 0.62, 0.8, 1];   // merged hl items: opacity by log2(n)
const FONT = "11px system-ui, -apple-system, 'Segoe UI', sans-serif";

function lastAtOrBefore(arr, t) {
  // index of the last entry whose start <= t, or -1
  let lo = 0, hi = arr.length;
  while (lo < hi) {
    const m = (lo + hi) >> 1;
    if (arr[m][0] <= t) lo = m + 1; else hi = m;
  }
  return lo - 1;
}

function sortedByStart(a) {
  for (let i = 1; i < a.length; i++) if (a[i][0] < a[i - 1][0]) return a.slice().sort((x, y) => x[0] - y[0]);
  return a;
}

export class Timeline {
  constructor(canvas, labels, meta, hooks) {
    this.canvas = canvas;
    this.labels = labels;
    this.meta = meta;
    this.hooks = hooks;             // {onView, onPick, onHover, onRange}
    this.procs = meta.procs;
    this.duration = Math.max(1, meta.duration);
    this.t0 = 0;
    this.t1 = this.duration;
    this.W = 1;
    this.rowH = ROW_MAX;
    this.data = null;
    this.selected = null;           // {p, start, dur}
    this.flows = [];                // [{from: {p,start,dur}, to: {p,start,dur}, dashed}]
    this.task = null;               // {id, runs: [[p,i,start,dur]...]} highlighted
    this.range = null;              // [a, b] selection, ns
    this.fnFilter = null;           // meta.fns index whose runs stand out, or null
    this.hl = null;                 // the highlight spec asked of the server, or null
    this.followers = [];            // other canvases drawn in the same frame ({drawNow()})
    this.reserve = 0;               // px of the pane kept for the groups below the Ps
    this.drawMs = 0;
    this.partMs = {};               // the last frame's ms by part (procs, and each follower)
    this.frames = 0;
    this.pending = 0;
    this.textW = new Map();
    this.mouse = null;              // last {x, y} over the canvas
    this.ctx = canvas.getContext("2d", { alpha: false });
    this.bindInput();
    this.pane = canvas.closest("#pane") || canvas.parentElement;
    this.top = 0;                   // the pane's scrollTop at the last frame
    new ResizeObserver(() => this.layout()).observe(this.pane);
    this.pane.addEventListener("scroll", () => this.draw(), { passive: true });
    this.layout();
  }

  get minSpan() { return Math.max(20, this.W / 20); }

  layout() {
    const pane = this.pane;
    const W = Math.max(100, Math.floor(this.canvas.parentElement.clientWidth));
    const avail = pane.clientHeight - RULER_H - 2 - this.reserve;
    const rows = Math.max(1, this.procs);
    this.rowH = Math.max(ROW_MIN, Math.min(ROW_MAX, Math.floor(avail / rows)));
    const H = RULER_H + rows * this.rowH;
    const dpr = window.devicePixelRatio || 1;
    const changed = W !== this.W;
    // the same size: the canvas keeps its pixels (setting width clears
    // and reallocates it), and the frame is drawn with the next one
    const same = !changed && H === this.H && dpr === this.dpr;
    this.W = W;
    this.H = H;
    this.dpr = dpr;
    if (!same) {
      this.canvas.style.width = W + "px";
      this.canvas.style.height = H + "px";
      this.canvas.width = Math.round(W * dpr);
      this.canvas.height = Math.round(H * dpr);
    }
    if (this.labels.childElementCount !== rows + 1 || this.labels.dataset.rowH !== String(this.rowH)) {
      this.labels.textContent = "";
      const head = document.createElement("div");
      head.style.height = RULER_H + "px";
      this.labels.append(head);
      for (let p = 0; p < rows; p++) {
        const d = document.createElement("div");
        d.className = "plabel";
        d.textContent = "P" + p;
        d.style.height = this.rowH + "px";
        d.style.lineHeight = this.rowH + "px";
        this.labels.append(d);
      }
      this.labels.dataset.rowH = String(this.rowH);
    }
    if (same) this.draw();
    else this.drawNow();   // now: a resized canvas is blank until drawn
    if (changed) this.hooks.onView(this.t0, this.t1, this.W);
  }

  // ---- the view -------------------------------------------------------

  xOf(t) { return ((t - this.t0) * this.W) / (this.t1 - this.t0); }
  tOf(x) { return this.t0 + (x * (this.t1 - this.t0)) / this.W; }
  rowOf(y) {
    const r = Math.floor((y - RULER_H) / this.rowH);
    return y >= this.top + RULER_H && r < this.procs ? r : -1;
  }
  rowMid(p) { return RULER_H + p * this.rowH + this.rowH / 2; }

  setView(t0, t1) {
    const dur = this.duration;
    let span = t1 - t0, a = t0;
    if (!(span > 0) || !Number.isFinite(span)) { span = dur; a = 0; }
    if (span < this.minSpan) { span = Math.min(this.minSpan, dur); a = (t0 + t1) / 2 - span / 2; }
    if (span > dur) { span = dur; a = 0; }
    a = Math.max(0, Math.min(a, dur - span));
    if (a === this.t0 && a + span === this.t1) return;
    this.t0 = a;
    this.t1 = a + span;
    this.draw();
    this.hooks.onView(this.t0, this.t1, this.W);
  }

  reset() { this.setView(0, this.duration); }

  /** Scroll the pane, if it must, so that P p's row is in sight. */
  reveal(p) {
    const y = RULER_H + p * this.rowH, ph = this.pane.clientHeight, st = this.pane.scrollTop;
    if (y < st + RULER_H || y + this.rowH > st + ph) this.pane.scrollTop = Math.max(0, y - ph / 2);
  }

  /** Zoom in by `f` (> 1) or out (< 1) keeping time under x fixed. */
  zoomBy(f, x = this.W / 2) {
    const t = this.tOf(x), span = (this.t1 - this.t0) / f;
    const a = t - (x / this.W) * span;
    this.setView(a, a + span);
  }

  /** Pan by a fraction of the window (positive: later). */
  panBy(frac) {
    const d = (this.t1 - this.t0) * frac;
    this.setView(this.t0 + d, this.t1 + d);
  }

  setData(d) {
    for (const row of d.rows) {
      row.runs = sortedByStart(row.runs || []);
      row.blocks = sortedByStart(row.blocks || []);
      row.stw = row.stw || [];
    }
    this.data = d;
    this.draw();
  }

  // ---- drawing --------------------------------------------------------

  draw() {
    if (this.pending) return;
    this.pending = requestAnimationFrame(() => { this.pending = 0; this.drawNow(); });
  }

  measure(s) {
    let w = this.textW.get(s);
    if (w === undefined) {
      w = this.ctx.measureText(s).width;
      if (this.textW.size > 5000) this.textW.clear();
      this.textW.set(s, w);
    }
    return w;
  }

  drawNow() {
    const t = performance.now();
    const { ctx, W, H, rowH } = this;
    const fns = this.meta.fns || [];
    // only the rows the pane shows (it scrolls when the Ps do not fit)
    const top = (this.top = Math.min(this.pane.scrollTop, Math.max(0, H - RULER_H)));
    const vh = Math.min(H, this.pane.clientHeight || H);
    const pLo = Math.max(0, Math.floor((top - RULER_H) / rowH));
    const pHi = Math.min(this.procs - 1, Math.ceil((top + vh - RULER_H) / rowH));
    ctx.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
    ctx.font = FONT;
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, top, W, vh);
    for (let p = pLo; p <= pHi; p++) {
      if (p % 2) { ctx.fillStyle = "#f5f6f8"; ctx.fillRect(0, RULER_H + p * rowH, W, rowH); }
    }
    const d = this.data;
    const k = W / (this.t1 - this.t0), t0 = this.t0;
    if (d) {
      // the parts of the view the answer does not cover
      ctx.fillStyle = "rgba(0,0,0,0.06)";
      const a = (d.t0 - t0) * k, b = (d.t1 - t0) * k;
      if (a > 0) ctx.fillRect(0, top, Math.min(a, W), vh);
      if (b < W) ctx.fillRect(Math.max(0, b), top, W - Math.max(0, b), vh);
      const byFn = new Map(), byFnHi = new Map();
      const shades = Array.from({ length: SHADES }, () => []);
      const labels = [];
      const hlOn = this.hlShown();
      const hlSteps = HL_STEPS.map(() => []);
      for (const row of d.rows) {
        const p = row.p;
        if (p < pLo || p > pHi) continue;
        const top = RULER_H + p * rowH;
        const y = top + 3, h = rowH - 6;
        let one = null;             // starts of the hl items that are single runs
        if (hlOn && row.hl) {
          one = new Set();
          for (const e of row.hl) if (e[2] === 1) one.add(e[0]);
        }
        for (const b of row.blocks) {
          const x = (b[0] - t0) * k;
          if (x > W) break;
          const w = Math.max(1, b[1] * k);
          if (x + w < 0) continue;
          const frac = b[1] > 0 ? Math.min(1, b[3] / b[1]) : 1;
          const sh = shades[Math.min(SHADES - 1, Math.floor(frac * SHADES))];
          const n = sh.length;
          // a block touching the previous one of its shade on this row extends it
          if (n && sh[n - 3] === y + 3 && x <= sh[n - 4] + sh[n - 2] + 0.5) sh[n - 2] = Math.max(sh[n - 2], x + w - sh[n - 4]);
          else sh.push(x, y + 3, w, h - 6);
        }
        for (const r of row.runs) {
          const x = (r[0] - t0) * k;
          if (x > W) break;
          const w0 = r[1] * k;
          if (x + w0 < 0) continue;
          const w = w0 > 3 ? w0 - 1 : Math.max(1, w0);
          const hi = one !== null && one.has(r[0]);
          const m = hi ? byFnHi : byFn;
          let list = m.get(r[2]);
          if (!list) m.set(r[2], (list = []));
          list.push(x, y, w, h);
          if (w > 28) labels.push(x, y, w, r, hi);
        }
        if (one !== null) {
          // the merged hl items (and single runs drawn inside a block)
          for (const e of row.hl) {
            const x = (e[0] - t0) * k;
            if (x > W) break;
            const w = Math.max(1, e[1] * k);
            if (x + w < 0) continue;
            if (e[2] === 1 && this.isRun(row, e[0])) continue;   // drawn as a run
            hlSteps[Math.min(HL_STEPS.length - 1, Math.floor(Math.log2(e[2]) / 2))].push(x, y, w, h);
          }
        }
      }
      const ff = hlOn ? -1 : this.fnFilter;
      if (ff !== null) ctx.globalAlpha = DIM;
      for (let i = 0; i < SHADES; i++) {
        const rs = shades[i];
        if (!rs.length) continue;
        ctx.fillStyle = `rgba(72, 84, 104, ${(0.22 + (0.7 * (i + 0.5)) / SHADES).toFixed(3)})`;
        ctx.beginPath();
        for (let j = 0; j < rs.length; j += 4) ctx.rect(rs[j], rs[j + 1], rs[j + 2], rs[j + 3]);
        ctx.fill();
      }
      for (const m of [byFn, byFnHi]) {
        for (const [fn, rs] of m) {
          ctx.globalAlpha = ff === null || fn === ff || m === byFnHi ? 1 : DIM;
          ctx.fillStyle = fnColor(fn)[0];
          ctx.beginPath();
          for (let j = 0; j < rs.length; j += 4) ctx.rect(rs[j], rs[j + 1], rs[j + 2], rs[j + 3]);
          ctx.fill();
        }
      }
      ctx.fillStyle = HL_COLOR;
      hlSteps.forEach((rs, i) => {
        if (!rs.length) return;
        ctx.globalAlpha = HL_STEPS[i];
        ctx.beginPath();
        for (let j = 0; j < rs.length; j += 4) ctx.rect(rs[j], rs[j + 1], rs[j + 2], rs[j + 3]);
        ctx.fill();
      });
      ctx.globalAlpha = 1;
      // stop-the-world over the bars: a tint and a solid mark on top
      for (const row of d.rows) {
        const top = RULER_H + row.p * rowH;
        if (row.p < pLo || row.p > pHi) continue;
        for (const [s, dur] of row.stw) {
          const x = (s - t0) * k, w = Math.max(2, dur * k);
          if (x > W || x + w < 0) continue;
          ctx.fillStyle = STW_FILL;
          ctx.fillRect(x, top, w, rowH);
          ctx.fillStyle = STW_EDGE;
          ctx.fillRect(x, top, w, 3);
        }
      }
      ctx.textBaseline = "middle";
      for (let j = 0; j < labels.length; j += 5) {
        const x = Math.max(0, labels[j]), r = labels[j + 3];
        const w = Math.min(labels[j] + labels[j + 2], W) - x;
        const name = fns[r[2]] || "?";
        let s = `${name} #${r[3]}`;
        if (this.measure(s) + 6 > w) { s = `#${r[3]}`; if (this.measure(s) + 6 > w) continue; }
        ctx.globalAlpha = ff === null || r[2] === ff || labels[j + 4] ? 1 : DIM;
        ctx.fillStyle = fnColor(r[2])[1];
        ctx.fillText(s, x + 3, labels[j + 1] + (rowH - 6) / 2 + 0.5);
      }
      ctx.globalAlpha = 1;
    }
    this.drawTask(k);
    this.drawSelected(k);
    this.drawFlows(k);
    this.drawRange(k);
    this.drawRuler();
    this.partMs = { procs: performance.now() - t };
    for (const f of this.followers) {
      const a = performance.now();
      f.drawNow();
      this.partMs[f.root.id.replace(/^g-/, "")] = performance.now() - a;
    }
    this.drawMs = performance.now() - t;
    this.frames++;
    if (this.hooks.onFrame) this.hooks.onFrame(this.drawMs);
  }

  /** Whether the answer drawn carries the server's highlight for this.hl. */
  hlShown() {
    const d = this.data;
    return !!(this.hl && d && d.hlSpec === this.hl && d.hl_runs !== undefined);
  }

  /** Whether a run of `row` starts at `s` (binary search: runs sorted by start). */
  isRun(row, s) {
    const j = lastAtOrBefore(row.runs, s);
    return j >= 0 && row.runs[j][0] === s;
  }

  drawTask(k) {
    const task = this.task;
    if (!task || !task.runs.length) return;
    const { ctx, rowH } = this;
    ctx.fillStyle = "#1b1b1b";
    const runs = task.runs;
    // runs sorted by start: [p, i, start, dur]
    let lo = 0, hi = runs.length;
    while (lo < hi) { const m = (lo + hi) >> 1; if (runs[m][2] + runs[m][3] < this.t0) lo = m + 1; else hi = m; }
    for (let j = lo; j < runs.length; j++) {
      const [p, , s, dur] = runs[j];
      const x = (s - this.t0) * k;
      if (x > this.W) break;
      ctx.fillRect(x, RULER_H + (p + 1) * rowH - 3, Math.max(1.5, dur * k), 3);
    }
  }

  drawSelected(k) {
    const r = this.selected;
    if (!r) return;
    const { ctx, rowH } = this;
    let x = (r.start - this.t0) * k, w = r.dur * k;
    if (w < 5) { x -= (5 - w) / 2; w = 5; }
    const y = RULER_H + r.p * rowH + 1.5;
    ctx.lineWidth = 3;
    ctx.strokeStyle = "#fff";
    ctx.strokeRect(x, y, w, rowH - 3);
    ctx.lineWidth = 1.5;
    ctx.strokeStyle = "#000";
    ctx.strokeRect(x, y, w, rowH - 3);
  }

  drawFlows(k) {
    const { ctx } = this;
    for (const f of this.flows) {
      const a = f.from, b = f.to;
      const ta = Math.min(a.start + a.dur, b.start);
      const x1 = (ta - this.t0) * k, y1 = this.rowMid(a.p);
      const x2 = (b.start - this.t0) * k, y2 = this.rowMid(b.p);
      if ((x1 < -2000 && x2 < -2000) || (x1 > this.W + 2000 && x2 > this.W + 2000)) continue;
      const bend = a.p === b.p ? -this.rowH * 0.9 : 0;
      const cx = (x1 + x2) / 2;
      ctx.strokeStyle = FLOW;
      ctx.fillStyle = FLOW;
      ctx.lineWidth = 1.8;
      ctx.setLineDash(f.dashed ? [5, 4] : []);
      ctx.beginPath();
      ctx.moveTo(x1, y1);
      ctx.bezierCurveTo(cx, y1 + bend, cx, y2 + bend, x2, y2);
      ctx.stroke();
      ctx.setLineDash([]);
      // the head, along the curve's last tangent
      const ang = Math.atan2(y2 - (y2 + bend), x2 - cx) || 0;
      ctx.beginPath();
      ctx.moveTo(x2, y2);
      ctx.lineTo(x2 - 9 * Math.cos(ang - 0.4), y2 - 9 * Math.sin(ang - 0.4));
      ctx.lineTo(x2 - 9 * Math.cos(ang + 0.4), y2 - 9 * Math.sin(ang + 0.4));
      ctx.closePath();
      ctx.fill();
      ctx.beginPath();
      ctx.arc(x1, y1, 3, 0, 2 * Math.PI);
      ctx.fill();
    }
  }

  drawRange(k) {
    if (!this.range) return;
    const { ctx, H } = this;
    const [a, b] = this.range;
    const x1 = (a - this.t0) * k, x2 = (b - this.t0) * k;
    ctx.fillStyle = SELECT_RANGE;
    ctx.fillRect(x1, RULER_H, x2 - x1, H - RULER_H);
    ctx.fillStyle = SELECT_EDGE;
    ctx.fillRect(x1, 0, 1, H);
    ctx.fillRect(x2, 0, 1, H);
  }

  drawRuler() {
    const { ctx, W, H } = this;
    ctx.save();
    ctx.translate(0, this.top);
    ctx.fillStyle = "#eef0f3";
    ctx.fillRect(0, 0, W, RULER_H);
    ctx.fillStyle = "#c9ced6";
    ctx.fillRect(0, RULER_H - 1, W, 1);
    const tk = ticks(this.t0, this.t1, W);
    const k = W / (this.t1 - this.t0);
    if (tk.minor > 0 && tk.minor * k >= 4) {
      ctx.fillStyle = "#9aa3ae";
      for (let t = Math.ceil(this.t0 / tk.minor) * tk.minor; t <= this.t1; t += tk.minor) {
        ctx.fillRect(Math.round((t - this.t0) * k), RULER_H - 5, 1, 5);
      }
    }
    ctx.textBaseline = "top";
    for (const { t, label } of tk.ticks) {
      const x = Math.round((t - this.t0) * k);
      ctx.fillStyle = "rgba(0,0,0,0.07)";
      ctx.fillRect(x, RULER_H, 1, H - RULER_H);
      ctx.fillStyle = "#4b5563";
      ctx.fillRect(x, RULER_H - 11, 1, 11);
      ctx.fillStyle = "#222";
      ctx.fillText(label, x + 3, 4);
    }
    if (this.range && (this.range[1] - this.t0) * k >= 0 && (this.range[0] - this.t0) * k <= W) {
      const [a, b] = this.range;
      const x1 = Math.max(0, (a - this.t0) * k), x2 = Math.min(W, (b - this.t0) * k);
      const s = "Δ " + formatDur(b - a);
      const tw = this.measure(s) + 12;
      const cx = Math.max(tw / 2, Math.min(W - tw / 2, (x1 + x2) / 2));
      ctx.fillStyle = SELECT_EDGE;
      ctx.fillRect(cx - tw / 2, 14, tw, 15);
      ctx.fillStyle = "#fff";
      ctx.fillText(s, cx - tw / 2 + 6, 16);
    }
    ctx.restore();
  }

  // ---- hit testing ----------------------------------------------------

  /** What is under (x, y) in CSS px: {kind: "run"|"block"|"stw", p, e} or null. */
  hit(x, y) {
    const p = this.rowOf(y);
    if (p < 0 || !this.data) return null;
    const row = this.data.rows.find((r) => r.p === p);
    if (!row) return null;
    const t = this.tOf(x), tol = (3 * (this.t1 - this.t0)) / this.W;
    const near = (arr) => {
      let best = null, bd = Infinity;
      // from two before the entry under t (entries of a row do not
      // overlap) to the last one starting within tol after it: at full
      // zoom-out several one-column blocks start within the tolerance,
      // and looking at the last three only missed the one under t
      const j = lastAtOrBefore(arr, t + tol);
      for (let i = Math.max(0, lastAtOrBefore(arr, t) - 2); i <= j && i < arr.length; i++) {
        const e = arr[i];
        const dist = t < e[0] ? e[0] - t : t > e[0] + e[1] ? t - e[0] - e[1] : 0;
        if (dist <= tol && dist <= bd) { best = e; bd = dist; }
      }
      return best ? [best, bd] : null;
    };
    const r = near(row.runs), b = near(row.blocks);
    if (r && (!b || r[1] <= b[1])) return { kind: "run", p, e: r[0] };
    if (b) return { kind: "block", p, e: b[0] };
    for (const s of row.stw) if (t >= s[0] && t <= s[0] + s[1]) return { kind: "stw", p, e: s };
    return null;
  }

  /** The run with index i on P p in the current data, if sent as a run. */
  findRun(p, i) {
    const row = this.data && this.data.rows.find((r) => r.p === p);
    return row ? row.runs.find((r) => r[4] === i) || null : null;
  }

  // ---- input ----------------------------------------------------------

  bindInput() {
    const c = this.canvas;
    let drag = null;
    const pos = (e) => {
      const r = c.getBoundingClientRect();
      return { x: e.clientX - r.left, y: e.clientY - r.top };
    };
    c.addEventListener("pointerdown", (e) => {
      if (e.button !== 0) return;
      const m = pos(e);
      drag = { x: m.x, y: m.y, t0: this.t0, t1: this.t1, select: e.shiftKey, moved: false };
      c.setPointerCapture(e.pointerId);
      e.preventDefault();
    });
    c.addEventListener("pointermove", (e) => {
      const m = pos(e);
      this.mouse = m;
      if (!drag) { this.hooks.onHover(this.hit(m.x, m.y), m, e); return; }
      if (Math.abs(m.x - drag.x) + Math.abs(m.y - drag.y) > 3) drag.moved = true;
      if (!drag.moved) return;
      this.hooks.onHover(null, m, e);
      if (drag.select) {
        const a = this.tOf(Math.min(drag.x, m.x)), b = this.tOf(Math.max(drag.x, m.x));
        this.range = [Math.max(0, a), Math.min(this.duration, b)];
        this.hooks.onRange(this.range);
        this.draw();
      } else {
        c.style.cursor = "grabbing";
        const dt = ((m.x - drag.x) * (drag.t1 - drag.t0)) / this.W;
        this.setView(drag.t0 - dt, drag.t1 - dt);
      }
    });
    const up = (e) => {
      if (!drag) return;
      const d = drag;
      drag = null;
      c.style.cursor = "";
      if (d.moved) return;
      if (d.select) { this.range = null; this.hooks.onRange(null); this.draw(); return; }
      if (e.type === "pointerup") this.hooks.onPick(this.hit(d.x, d.y));
    };
    c.addEventListener("pointerup", up);
    c.addEventListener("pointercancel", up);
    c.addEventListener("pointerleave", () => { this.mouse = null; this.hooks.onHover(null, null); });
    c.addEventListener("wheel", (e) => this.wheel(e, pos(e).x), { passive: false });
  }

  /** A wheel event at x (CSS px from the plot's left): zoom or pan (the groups' canvases use it too). */
  wheel(e, x) {
    e.preventDefault();
    const unit = e.deltaMode === 1 ? 16 : e.deltaMode === 2 ? this.W : 1;
    const dx = e.deltaX * unit, dy = e.deltaY * unit;
    if (e.shiftKey || Math.abs(dx) > Math.abs(dy)) {
      this.panBy((e.shiftKey && !dx ? dy : dx) / this.W);
    } else {
      this.zoomBy(Math.exp(-Math.max(-300, Math.min(300, dy)) * 0.002), x);
    }
  }
}

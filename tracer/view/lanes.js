/*
 * lanes.js - the row groups drawn beside the P rows, in the timeline's
 * view and frame: Counters (above the Ps: runnable, running, in syscall,
 * spinning, as go tool trace's Goroutines and Threads graphs), Threads
 * (below the Ps: an M per row, where it held a P and its syscalls) and
 * User (a row per user task type and region type, and a row of logs).
 *
 * Each group is a <section class="group"> with a header that folds it,
 * a labels column as wide as the P labels' and one canvas; it is drawn
 * from the extra answer (/api/counters, /api/threads, /api/user) that
 * came with the /api/procs answer the timeline draws (api.js fetches
 * them together), with the timeline's t0, t1 and W, in the timeline's
 * frame (Timeline.followers), so a zoom moves every group at once and
 * drawMs counts them. Until an answer comes a group is hidden; a server
 * without the endpoint (404) leaves it hidden for good.
 *
 * The data is kept as sent, in absolute ns, so an old answer is drawn
 * scaled to the new view until the new one arrives (as the P rows are).
 * Counters are per pixel of the answer's window: pixel k covers
 * [t0 + k (t1 - t0) / w, ...); each screen column looks up the answer's
 * pixel under its middle and draws the min..max envelope (a 1 px rect,
 * light) and the mean (a line), scaled to the counter's max_ever, so
 * the scale does not jump while zooming. Threads: the spans where the M
 * held a P as a light band ("P n" when wide enough, no number where the
 * server merged spans of several Ps, p = -1), syscalls as bars (the
 * call site's name when wide), merged syscalls (sysblocks) hatched with
 * their count. User: items as bars at alpha 0.5 (user tasks and regions
 * of one type may overlap: the overlap reads darker), merged blocks grey
 * with their count, logs as ticks.
 *
 * Input on a group's canvas: the wheel and a drag move the view as on
 * the timeline; a click picks (onPick: {group, kind, ...}); hovering
 * shows a tooltip (onHover). The pointer's column, over the counters or
 * over the P rows, is marked on the counters with a line and a dot per
 * counter at its mean.
 *
 * Rejected: more rows on the timeline's canvas (its row model, hit test
 * and scrolling are P rows'; the groups have other row heights, and
 * folding one would relayout the Ps); a chart library for the counters
 * (forty lines of Canvas2D; none may be loaded anyway); the counters'
 * envelope as one polygon (a column's min..max rect is as cheap and
 * shows gaps where there is no data, null, honestly).
 */

import { formatDur, formatTime, ticks } from "./format.js";
import { STATE_COLORS, HELD_FILL, HELD_TEXT, COUNTER_COLORS, fnColor } from "./colors.js";

const FONT = "11px system-ui, -apple-system, 'Segoe UI', sans-serif";
const LANE_H = 14;
const COUNTER_H = 21;
const COUNTER_TITLES = { runnable: "runnable", running: "running", syscall: "in syscall", spinning: "spinning" };
const COUNTER_LABELS = { ...COUNTER_TITLES, syscall: "syscall" };

let hatch = null;
function hatchPattern(ctx) {
  if (hatch) return hatch;
  const c = document.createElement("canvas");
  c.width = c.height = 6;
  const g = c.getContext("2d");
  g.fillStyle = "rgba(164, 99, 209, 0.28)";
  g.fillRect(0, 0, 6, 6);
  g.strokeStyle = "rgba(120, 60, 170, 0.85)";
  g.lineWidth = 1.2;
  g.beginPath();
  g.moveTo(-1, 7); g.lineTo(7, -1);
  g.moveTo(-1, 1); g.lineTo(1, -1);
  g.moveTo(5, 7); g.lineTo(7, 5);
  g.stroke();
  hatch = ctx.createPattern(c, "repeat");
  return hatch;
}

/** One folding group: header, labels, canvas. Subclasses: rowsOf, rowH, drawRows, hitRow, label. */
class Group {
  constructor(root, tl, hooks) {
    this.root = root;
    this.tl = tl;
    this.hooks = hooks;            // {onPick(h), onHover(h, e), onResize()}
    this.canvas = root.querySelector("canvas");
    this.labels = root.querySelector(".glabels");
    this.head = root.querySelector(".ghead");
    this.ctx = this.canvas.getContext("2d");
    this.data = null;
    this.rows = [];
    this.open = true;
    this.missing = false;
    this.textW = new Map();
    this.head.addEventListener("click", () => this.fold(!this.open));
    this.bindInput();
  }

  get visible() { return !this.root.hidden; }

  /** The px the group takes when shown. */
  get height() { return this.root.hidden ? 0 : this.head.offsetHeight + (this.open ? this.rows.length * this.rowH : 0); }

  fold(open) {
    this.open = open;
    this.head.setAttribute("aria-expanded", String(open));
    this.root.querySelector(".gbody").hidden = !open;
    this.hooks.onResize();
    this.tl.draw();
  }

  /** The endpoint is not there: hide for good. */
  setMissing() { this.missing = true; this.root.hidden = true; this.hooks.onResize(); }

  setData(d) {
    if (this.missing) return;
    if (!d) return;                // a failed answer: keep the last one
    this.data = d;
    const rows = this.rowsOf(d);
    const names = rows.map((r) => this.label(r));
    const was = this.root.hidden, oldN = this.rows.length;
    this.rows = rows;
    if (this.labels.dataset.names !== names.join("\n")) {
      this.labels.textContent = "";
      for (const r of rows) {
        const el = document.createElement("div");
        el.className = "glabel";
        el.textContent = this.label(r);
        el.title = this.title(r);
        el.style.height = el.style.lineHeight = this.rowH + "px";
        this.labels.append(el);
      }
      this.labels.dataset.names = names.join("\n");
    }
    this.root.querySelector(".gcount").textContent = this.count(d);
    this.root.hidden = rows.length === 0 && !this.keepEmpty;
    this.canvas.style.height = rows.length * this.rowH + "px";
    if (was !== this.root.hidden || oldN !== rows.length) this.hooks.onResize();
  }

  count() { return ""; }
  title(r) { return this.label(r); }

  measure(s) {
    let w = this.textW.get(s);
    if (w === undefined) {
      w = this.ctx.measureText(s).width;
      if (this.textW.size > 3000) this.textW.clear();
      this.textW.set(s, w);
    }
    return w;
  }

  /** Redraw this group alone in the next frame (the pointer moved). */
  redraw() {
    if (this.pending) return;
    this.pending = requestAnimationFrame(() => { this.pending = 0; this.drawNow(); });
  }

  drawNow() {
    if (this.root.hidden || !this.open || !this.data) return;
    const c = this.canvas, dpr = window.devicePixelRatio || 1;
    const W = c.clientWidth, H = this.rows.length * this.rowH;
    if (!W || !H) return;
    if (c.width !== Math.round(W * dpr) || c.height !== Math.round(H * dpr)) {
      c.width = Math.round(W * dpr);
      c.height = Math.round(H * dpr);
    }
    const ctx = this.ctx;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.font = FONT;
    ctx.textBaseline = "middle";
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, W, H);
    for (let j = 1; j < this.rows.length; j += 2) { ctx.fillStyle = "#f7f8fa"; ctx.fillRect(0, j * this.rowH, W, this.rowH); }
    const t0 = this.tl.t0, k = W / (this.tl.t1 - this.tl.t0);
    // the ruler's major ticks, faint, so that the groups read against the Ps
    ctx.fillStyle = "rgba(0,0,0,0.07)";
    for (const tk of ticks(this.tl.t0, this.tl.t1, W).ticks) ctx.fillRect(Math.round((tk.t - t0) * k), 0, 1, H);
    const d = this.data;
    // the parts of the view the answer does not cover
    if (d.t0 !== undefined) {
      ctx.fillStyle = "rgba(0,0,0,0.05)";
      const a = (d.t0 - t0) * k, b = (d.t1 - t0) * k;
      if (a > 0) ctx.fillRect(0, 0, Math.min(a, W), H);
      if (b < W) ctx.fillRect(Math.max(0, b), 0, W - Math.max(0, b), H);
    }
    this.drawRows(ctx, W, t0, k);
  }

  /** What is under (x, y): a hit object or null. */
  hit(x, y) {
    const j = Math.floor(y / this.rowH);
    if (!this.data || j < 0 || j >= this.rows.length) return null;
    const t = this.tl.tOf(x), tol = (3 * (this.tl.t1 - this.tl.t0)) / this.tl.W;
    return this.hitRow(this.rows[j], j, t, tol, x);
  }

  bindInput() {
    const c = this.canvas, tl = this.tl;
    let drag = null;
    const pos = (e) => { const r = c.getBoundingClientRect(); return { x: e.clientX - r.left, y: e.clientY - r.top }; };
    c.addEventListener("pointerdown", (e) => {
      if (e.button !== 0) return;
      const m = pos(e);
      drag = { x: m.x, y: m.y, t0: tl.t0, t1: tl.t1, moved: false };
      c.setPointerCapture(e.pointerId);
      e.preventDefault();
    });
    c.addEventListener("pointermove", (e) => {
      const m = pos(e);
      if (this.cursor !== undefined) { this.cursor = m.x; this.redraw(); }
      if (!drag) { this.hooks.onHover(this.hit(m.x, m.y), e, this); return; }
      if (Math.abs(m.x - drag.x) + Math.abs(m.y - drag.y) > 3) drag.moved = true;
      if (!drag.moved) return;
      this.hooks.onHover(null, e, this);
      c.style.cursor = "grabbing";
      const dt = ((m.x - drag.x) * (drag.t1 - drag.t0)) / tl.W;
      tl.setView(drag.t0 - dt, drag.t1 - dt);
    });
    const up = (e) => {
      if (!drag) return;
      const d = drag;
      drag = null;
      c.style.cursor = "";
      if (!d.moved && e.type === "pointerup") this.hooks.onPick(this.hit(d.x, d.y), this);
    };
    c.addEventListener("pointerup", up);
    c.addEventListener("pointercancel", up);
    c.addEventListener("pointerleave", () => {
      if (this.cursor !== undefined) { this.cursor = null; this.redraw(); }
      this.hooks.onHover(null, null, this);
    });
    c.addEventListener("wheel", (e) => tl.wheel(e, pos(e).x), { passive: false });
  }
}

/** Nearest entry of `arr` (sorted by start; [t0, dur, ...]) to t within tol, or null. */
function nearest(arr, t, tol) {
  let lo = 0, hi = arr.length;
  while (lo < hi) { const m = (lo + hi) >> 1; if (arr[m][0] <= t + tol) lo = m + 1; else hi = m; }
  let best = null, bd = Infinity;
  // entries may overlap (user items): look back while one could still reach t
  for (let i = lo - 1, n = 0; i >= 0 && n < 64; i--, n++) {
    const e = arr[i];
    const d = t < e[0] ? e[0] - t : t > e[0] + (e[1] || 0) ? t - e[0] - (e[1] || 0) : 0;
    if (d < bd) { best = e; bd = d; }
    if (bd === 0 && e[0] + (e[1] || 0) < t - tol) break;
  }
  return best && bd <= tol ? best : null;
}

export class Counters extends Group {
  constructor(root, tl, hooks) {
    super(root, tl, hooks);
    this.rowH = COUNTER_H;
    this.keepEmpty = false;
    this.cursor = null;            // x of the pointer over the counters (a line and a dot per counter there)
  }

  rowsOf(d) { return d.counters || []; }
  label(r) { return COUNTER_LABELS[r.name] || r.name; }
  title(r) { return `${COUNTER_TITLES[r.name] || r.name}: the envelope is the min..max per pixel, the line the mean; scale 0..${r.max_ever}`; }
  names() { return this.rows.map((r) => r.name); }

  /** The answer's pixel under screen x, or -1. */
  px(x) {
    const d = this.data, t = this.tl.tOf(x + 0.5);
    const k = Math.floor(((t - d.t0) * d.w) / (d.t1 - d.t0));
    return k >= 0 && k < d.w ? k : -1;
  }

  drawRows(ctx, W) {
    const h = this.rowH;
    const cols = new Int32Array(Math.ceil(W));
    for (let x = 0; x < cols.length; x++) cols[x] = this.px(x);
    this.rows.forEach((c, j) => {
      const top = j * h + 3, ch = h - 5, sc = ch / Math.max(1, c.max_ever);
      const col = COUNTER_COLORS[c.name] || "#888";
      const y = (v) => top + ch - v * sc;
      ctx.fillStyle = col;
      ctx.globalAlpha = 0.35;
      ctx.beginPath();
      for (let x = 0; x < cols.length; x++) {
        const k = cols[x];
        if (k < 0 || c.max[k] === null || c.max[k] === undefined) continue;
        const a = y(c.max[k]), b = y(c.min[k]);
        ctx.rect(x, a, 1, Math.max(1, b - a));
      }
      ctx.fill();
      ctx.globalAlpha = 1;
      ctx.strokeStyle = col;
      ctx.lineWidth = 1.2;
      ctx.beginPath();
      let pen = false;
      for (let x = 0; x < cols.length; x++) {
        const k = cols[x];
        const v = k < 0 ? null : c.mean[k];
        if (v === null || v === undefined) { pen = false; continue; }
        if (pen) ctx.lineTo(x + 0.5, y(v)); else { ctx.moveTo(x + 0.5, y(v)); pen = true; }
      }
      ctx.stroke();
      const cx = this.cursor !== null ? this.cursor : this.tl.mouse ? this.tl.mouse.x : null;
      if (cx !== null && cx >= 0 && cx < cols.length && cols[Math.floor(cx)] >= 0) {
        const v = c.mean[cols[Math.floor(cx)]];
        ctx.fillStyle = "rgba(0,0,0,0.35)";
        ctx.fillRect(Math.floor(cx), j * h, 1, h);
        if (v !== null && v !== undefined) {
          ctx.fillStyle = col;
          ctx.beginPath();
          ctx.arc(Math.floor(cx) + 0.5, y(v), 2.5, 0, 2 * Math.PI);
          ctx.fill();
        }
      }
      ctx.fillStyle = "#8a93a0";
      ctx.fillText(String(c.max_ever), W - this.measure(String(c.max_ever)) - 3, j * h + 8);
      ctx.fillStyle = "#d5dae1";
      ctx.fillRect(0, (j + 1) * h - 1, W, 1);
    });
  }

  hitRow(r, j, t, tol, x) {
    const k = this.px(x);
    if (k < 0) return null;
    return { group: "counters", kind: "counter", k, t, values: this.rows.map((c) => ({ name: c.name, min: c.min[k], max: c.max[k], mean: c.mean[k] })) };
  }
}

export class Threads extends Group {
  constructor(root, tl, hooks, meta) {
    super(root, tl, hooks);
    this.rowH = LANE_H + 2;
    this.meta = meta;
  }

  rowsOf(d) {
    for (const r of d.rows) { r.held = r.held || []; r.sys = r.sys || []; r.sysblocks = r.sysblocks || []; }
    return d.rows || [];
  }
  // (m = -1: the syscalls the trace puts on no known M)
  label(r) { return r.m < 0 ? "no M" : "M" + r.m; }
  title(r) { return r.m < 0 ? "syscalls on no known M" : `M${r.m}: thread ${r.tid}`; }
  count(d) { return `${d.rows.length} Ms`; }
  site(s) { return typeof s === "number" ? (this.meta.sites && this.meta.sites[s]) || `site ${s}` : String(s || ""); }

  drawRows(ctx, W, t0, k) {
    const h = this.rowH;
    const labels = [];
    // the spans a P was held: one fill
    ctx.fillStyle = HELD_FILL;
    ctx.beginPath();
    this.rows.forEach((r, j) => {
      for (const e of r.held) {
        const x = (e[0] - t0) * k, w = Math.max(1, e[1] * k);
        if (x > W || x + w < 0) continue;
        ctx.rect(x, j * h + 1, w, h - 2);
        if (e[2] >= 0 && w > 30) labels.push(Math.max(0, x), Math.min(W, x + w), j * h + 1 + h * 0.22, "P" + e[2], HELD_TEXT);
      }
    });
    ctx.fill();
    ctx.fillStyle = STATE_COLORS.syscall;
    ctx.beginPath();
    this.rows.forEach((r, j) => {
      for (const e of r.sys) {
        const x = (e[0] - t0) * k, w = Math.max(1, e[1] * k);
        if (x > W || x + w < 0) continue;
        ctx.rect(x, j * h + h * 0.45, w, h * 0.5);
        if (w > 40) labels.push(Math.max(0, x), Math.min(W, x + w), j * h + h * 0.7, this.site(e[3]), "#fff");
      }
    });
    ctx.fill();
    // merged syscalls: hatched where wide enough to show it, else a flat
    // tint (a pattern fill over a thousand 1 px rects costs ~20 ms a frame)
    const flat = [], wide = [];
    this.rows.forEach((r, j) => {
      for (const e of r.sysblocks) {
        const x = (e[0] - t0) * k, w = Math.max(1.5, e[1] * k);
        if (x > W || x + w < 0) continue;
        (w >= 6 ? wide : flat).push(x, j * h + h * 0.45, w, h * 0.5);
        if (w > 24) labels.push(Math.max(0, x), Math.min(W, x + w), j * h + h * 0.7, "×" + e[2], "#3d1a5c");
      }
    });
    for (const [list, style] of [[flat, "rgba(140, 80, 190, 0.55)"], [wide, hatchPattern(ctx)]]) {
      if (!list.length) continue;
      ctx.fillStyle = style;
      ctx.beginPath();
      for (let i = 0; i < list.length; i += 4) ctx.rect(list[i], list[i + 1], list[i + 2], list[i + 3]);
      ctx.fill();
    }
    ctx.font = "10px system-ui, sans-serif";
    for (let i = 0; i < labels.length; i += 5) {
      const s = labels[i + 3], room = labels[i + 1] - labels[i] - 4;
      if (this.measure(s) > room) continue;
      ctx.fillStyle = labels[i + 4];
      ctx.fillText(s, labels[i] + 2, labels[i + 2]);
    }
    ctx.font = FONT;
  }

  hitRow(r, j, t, tol) {
    const s = nearest(r.sys, t, tol);
    if (s) return { group: "threads", kind: "syscall", m: r.m, e: s };
    const b = nearest(r.sysblocks, t, tol);
    if (b) return { group: "threads", kind: "sysblock", m: r.m, e: b };
    const hd = nearest(r.held, t, 0);
    if (hd) return { group: "threads", kind: "held", m: r.m, e: hd };
    return null;
  }
}

export class User extends Group {
  constructor(root, tl, hooks) {
    super(root, tl, hooks);
    this.rowH = LANE_H + 2;
  }

  rowsOf(d) {
    const rows = (d.rows || []).map((r) => ({ kind: r.kind, type: r.type, items: r.items || [], blocks: r.blocks || [] }));
    if (d.logs) rows.push({ kind: "log", type: "logs", items: d.logs.items || [], blocks: d.logs.blocks || [] });
    // a trace without user annotations: no rows at all
    return rows.some((r) => r.kind !== "log") || (d.logs && (d.logs.items.length || d.logs.blocks.length)) ? rows : [];
  }
  label(r) { return r.kind === "log" ? "logs" : r.type; }
  title(r) { return r.kind === "log" ? "log messages" : `${r.kind === "utask" ? "user task" : "region"} type ${r.type}`; }
  names() { return this.rows.map((r) => `${r.kind}:${r.type}`); }
  count(d) { return `${(d.rows || []).length} types`; }

  drawRows(ctx, W, t0, k) {
    const h = this.rowH;
    const labels = [];
    this.rows.forEach((r, j) => {
      const y = j * h + 2, bh = h - 4;
      if (r.kind === "log") {
        ctx.fillStyle = "#2d3440";
        ctx.beginPath();
        for (const e of r.items) { const x = (e[0] - t0) * k; if (x >= -2 && x <= W + 2) ctx.rect(x - 0.75, y, 1.5, bh); }
        ctx.fill();
        ctx.fillStyle = "rgba(45, 52, 64, 0.55)";
        ctx.beginPath();
        for (const e of r.blocks) {
          const x = (e[0] - t0) * k, w = Math.max(3, e[1] * k);
          if (x > W || x + w < 0) continue;
          ctx.rect(x - 1, y + 2, w + 2, bh - 4);
          if (w > 20) labels.push(x, x + w, y + bh / 2, "×" + e[2], "#fff");
        }
        ctx.fill();
        return;
      }
      ctx.fillStyle = r.kind === "utask" ? "hsl(212 62% 52%)" : fnColor(7 + j)[0];
      ctx.globalAlpha = 0.5;
      ctx.beginPath();
      for (const e of r.items) {
        const x = (e[0] - t0) * k, w = Math.max(1, e[1] * k);
        if (x > W || x + w < 0) continue;
        ctx.rect(x, y, w, bh);
      }
      ctx.fill();
      ctx.globalAlpha = 1;
      ctx.fillStyle = "rgba(72, 84, 104, 0.55)";
      ctx.beginPath();
      for (const e of r.blocks) {
        const x = (e[0] - t0) * k, w = Math.max(1, e[1] * k);
        if (x > W || x + w < 0) continue;
        ctx.rect(x, y + 2, w, bh - 4);
        if (w > 20) labels.push(x, x + w, y + bh / 2, "×" + e[2], "#fff");
      }
      ctx.fill();
    });
    for (let i = 0; i < labels.length; i += 5) {
      const s = labels[i + 3];
      const x = Math.max(0, labels[i]);
      if (this.measure(s) > Math.min(W, labels[i + 1]) - x - 4) continue;
      ctx.fillStyle = labels[i + 4];
      ctx.fillText(s, x + 2, labels[i + 2]);
    }
  }

  hitRow(r, j, t, tol) {
    if (r.kind === "log") {
      const e = nearest(r.items.map((x) => [x[0], 0, x[1]]), t, tol);
      if (e) return { group: "user", kind: "log", i: e[2], e: [e[0], 0] };
      const b = nearest(r.blocks, t, tol);
      return b ? { group: "user", kind: "block", e: b, row: r } : null;
    }
    const e = nearest(r.items, t, tol);
    if (e) return { group: "user", kind: r.kind, type: r.type, i: e[2], e };
    const b = nearest(r.blocks, t, tol);
    return b ? { group: "user", kind: "block", e: b, row: r } : null;
  }
}

/** Tooltip text for a group's hit. */
export function laneHoverText(h, threads) {
  if (!h) return null;
  const e = h.e;
  switch (h.kind) {
    case "counter":
      return `at ${formatTime(Math.round(h.t))}\n` + h.values.map((v) => v.mean === null || v.mean === undefined ? `${COUNTER_TITLES[v.name] || v.name}: —` :
        `${COUNTER_TITLES[v.name] || v.name}: ${+Number(v.mean).toFixed(2)} (${v.min}..${v.max})`).join("\n");
    case "syscall": return `syscall at ${threads.site(e[3])}\ntask ${e[2]} · ${formatDur(e[1])} at ${formatTime(e[0])}\nM${h.m} (click for details)`;
    case "sysblock": return `${e[2]} syscalls, ${((100 * (e[3] || 0)) / Math.max(1, e[1])).toFixed(0)}% in syscall\n${formatDur(e[1])} at ${formatTime(e[0])} (click to zoom)`;
    case "held": return `M${h.m} held ${e[2] >= 0 ? "P" + e[2] : "Ps"}\n${formatDur(e[1])} at ${formatTime(e[0])}`;
    case "block": return `${e[2]} ${h.row.kind === "log" ? "logs" : "items"} merged\n${formatDur(e[1])} at ${formatTime(e[0])} (click to zoom)`;
    case "log": return `log at ${formatTime(e[0])} (click for the message)`;
    default: return `${h.kind === "utask" ? "user task" : "region"} ${h.type}\n${formatDur(e[1])} at ${formatTime(e[0])} (click for details)`;
  }
}

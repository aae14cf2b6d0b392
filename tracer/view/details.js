/*
 * details.js - the bottom panels: the run details (#details), the task
 * view (#taskview) and the functions table (#fns).
 *
 * RunDetails fills the panel's [data-field] elements from one /api/run
 * answer: the text for people, and the raw value in data-value for
 * tests (the task id, the fn name, start and dur in ns, the P and run
 * index, the end, reason and site, the creator, the waker as "P:I", prev
 * and next as "P:I"), and enables the buttons whose jump exists.
 * TaskView draws one task's life (/api/task) as a strip of coloured
 * segments (running, runnable, blocked, syscall) over the task's whole
 * life, a legend, and a table of where the time went (blocked broken
 * down by reason). Clicking a running segment selects that run; any
 * other segment moves the timeline to it.
 * FnsTable shows /api/fns: one row (tr[data-fn="<meta.fns index>"]) per
 * entry function with runs, with its colour on the timeline, tasks,
 * runs, exec, exec per task, wait (runnable) and blocked (the total and
 * its biggest reason; every reason in the cell's tooltip). It is sorted
 * by exec, or by the column whose header was last clicked (again: the
 * other way). A click on a row asks onPick for that function, or for
 * null when the row is the selected one; setSelected marks the row.
 *
 * ItemDetails (#itemdetails, in the run details' place while shown)
 * shows anything else that was clicked, a syscall (/api/syscall) or a
 * user task, region or log (/api/user/item), as a title and a list of
 * fields; a field may carry a task id, which becomes a link that asks
 * onTask for the task view. Its fields carry data-field and data-value
 * as RunDetails' do.
 *
 * Invariant: all four only show what they are given; every fetch, jump
 * and filter is main.js's, so that stale answers are dropped, and the
 * state is held, in one place.
 *
 * Rejected: a DOM element per state segment (a long-lived task has
 * tens of thousands); a second timeline of the task's own (the strip
 * plus the highlight of its runs on the PROCS timeline show the same
 * thing without a second set of controls); computing the functions
 * table on the page from /api/task answers (one request per task; the
 * server has the sums); a module of its own for FnsTable (one more file
 * to install, for a class that is the same kind of panel as these).
 */

import { STATE_COLORS } from "./colors.js";
import { formatDur, formatInt, formatTime } from "./format.js";

const STATES = ["running", "runnable", "blocked", "syscall"];
const DRAW_ORDER = ["blocked", "syscall", "runnable", "running"];   // short running runs on top

function set(root, field, text, value, title) {
  for (const el of root.querySelectorAll(`[data-field="${field}"]`)) {
    el.textContent = text;
    if (value === undefined || value === null) delete el.dataset.value;
    else el.dataset.value = String(value);
    if (title) el.title = title; else el.removeAttribute("title");
  }
}

export class RunDetails {
  constructor(root) {
    this.root = root;
    this.run = null;
  }

  clear() {
    this.run = null;
    for (const el of this.root.querySelectorAll("[data-field]")) { el.textContent = ""; delete el.dataset.value; }
    for (const b of this.root.querySelectorAll("button")) b.disabled = true;
    this.root.dataset.state = "empty";
  }

  loading() { this.root.dataset.state = "loading"; }

  show(r) {
    const R = this.root;
    this.run = r;
    const ref = (x) => (x ? `P${x.p} run ${x.i}` : "—");
    set(R, "task", String(r.task), r.task);
    set(R, "fn", r.fn || "?", r.fn);
    set(R, "p", "P" + r.p, r.p);
    set(R, "i", "run " + r.i, r.i);
    set(R, "start", formatTime(r.start), r.start, r.start + " ns");
    set(R, "dur", formatDur(r.dur), r.dur, r.dur + " ns");
    set(R, "end", r.end, r.end);
    set(R, "reason", r.reason ? `(${r.reason})` : "", r.reason);
    set(R, "site", r.site ? "at " + r.site : "", r.site);
    set(R, "created_by", r.created_by ? "task " + r.created_by : "—", r.created_by || 0);
    set(R, "woken_by", r.woken_by ? `task ${r.woken_by.task} (${ref(r.woken_by)})` : "—",
        r.woken_by ? `${r.woken_by.p}:${r.woken_by.i}` : null);
    set(R, "prev", ref(r.prev), r.prev ? `${r.prev.p}:${r.prev.i}` : null);
    set(R, "next", ref(r.next), r.next ? `${r.next.p}:${r.next.i}` : null);
    R.querySelector('[data-action="waker"]').disabled = !r.woken_by;
    R.querySelector('[data-action="prev"]').disabled = !r.prev;
    R.querySelector('[data-action="next"]').disabled = !r.next;
    R.querySelector('[data-action="task"]').disabled = !r.task;
    R.dataset.state = "shown";
  }
}

export class TaskView {
  /** hooks: {onRun(p, i), onWindow(t0, t1), onShow(task), onClose(), tip(text, x, y)} */
  constructor(root, hooks) {
    this.root = root;
    this.hooks = hooks;
    this.task = null;
    this.mark = null;            // the selected run's [start, dur], outlined on the strip
    this.canvas = root.querySelector("#taskstrip");
    this.ctx = this.canvas.getContext("2d");
    root.querySelector('[data-action="show"]').addEventListener("click", () => this.task && this.hooks.onShow(this.task));
    root.querySelector('[data-action="close"]').addEventListener("click", () => this.close());
    const legend = root.querySelector(".legend");
    for (const s of STATES) {
      const span = document.createElement("span");
      const i = document.createElement("i");
      i.style.background = STATE_COLORS[s];
      span.append(i, s);
      legend.append(span);
    }
    this.canvas.addEventListener("mousemove", (e) => {
      const s = this.at(e.offsetX);
      this.hooks.tip(s ? `${s[2]}${s[3] ? " (" + s[3] + ")" : ""}\n${formatDur(s[1])} at ${formatTime(s[0])}` : null,
                     e.clientX, e.clientY);
    });
    this.canvas.addEventListener("mouseleave", () => this.hooks.tip(null));
    this.canvas.addEventListener("click", (e) => {
      const s = this.at(e.offsetX);
      if (!s) return;
      if (s[2] === "running") {
        const r = this.task.runs.find((x) => x[2] === s[0]);
        if (r) return this.hooks.onRun(r[0], r[1]);
      }
      const pad = Math.max(s[1] * 0.25, 1000);
      this.hooks.onWindow(s[0] - pad, s[0] + s[1] + pad);
    });
    new ResizeObserver(() => this.draw()).observe(this.canvas);
  }

  close() {
    this.task = null;
    this.root.hidden = true;
    this.hooks.onClose();
  }

  life() {
    const st = this.task.states;
    if (!st.length) return [0, 1];
    const a = st[0][0], last = st[st.length - 1];
    return [a, Math.max(a + 1, last[0] + last[1])];
  }

  at(x) {
    if (!this.task) return null;
    const [a, b] = this.life();
    const W = this.canvas.clientWidth;
    const t = a + (x / W) * (b - a), tol = (2 * (b - a)) / W;
    let best = null, bd = Infinity;
    for (const s of this.task.states) {
      const d = t < s[0] ? s[0] - t : t > s[0] + s[1] ? t - s[0] - s[1] : 0;
      if (d < bd || (d === bd && s[2] === "running")) { best = s; bd = d; }
    }
    return bd <= tol ? best : null;
  }

  show(task) {
    // sort once: the strip's and the highlight's binary searches need it
    task.runs.sort((x, y) => x[2] - y[2]);
    task.states.sort((x, y) => x[0] - y[0]);
    this.task = task;
    this.root.hidden = false;
    this.root.dataset.task = String(task.id);
    const [a, b] = this.life();
    this.root.querySelector('[data-field="title"]').textContent =
      `Task ${task.id} · ${task.fn} · ${formatInt(task.nruns ?? task.runs.length)} runs · lived ${formatDur(b - a)} from ${formatTime(a)}` +
      (task.merged ? " · drawn per pixel" : "");
    // the server's exact totals (a long life comes merged per pixel)
    const tot = new Map(task.totals || []);
    if (!task.totals) {
      for (const s of task.states) {
        const k = s[2] === "blocked" && s[3] ? `blocked: ${s[3]}` : s[2];
        tot.set(k, (tot.get(k) || 0) + s[1]);
      }
    }
    const body = this.root.querySelector("tbody");
    body.textContent = "";
    const keys = [...tot.keys()].sort((x, y) => tot.get(y) - tot.get(x));
    for (const k of keys) {
      const tr = document.createElement("tr");
      const c = STATE_COLORS[k.split(":")[0]] || "#999";
      tr.innerHTML = `<td><i style="display:inline-block;width:9px;height:9px;background:${c};margin-right:5px"></i></td>` +
        `<td></td><td class="num"></td><td class="num"></td>`;
      tr.children[1].textContent = k;
      tr.children[2].textContent = formatDur(tot.get(k));
      tr.children[3].textContent = ((100 * tot.get(k)) / (b - a)).toFixed(1) + "%";
      body.append(tr);
    }
    this.draw();
  }

  setMark(run) { this.mark = run ? [run.start, run.dur] : null; this.draw(); }

  draw() {
    if (!this.task) return;
    const c = this.canvas, dpr = window.devicePixelRatio || 1;
    const W = c.clientWidth, H = c.clientHeight;
    if (!W) return;
    c.width = Math.round(W * dpr);
    c.height = Math.round(H * dpr);
    const ctx = this.ctx;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, W, H);
    const [a, b] = this.life();
    const k = W / (b - a);
    for (const s of DRAW_ORDER) {
      ctx.fillStyle = STATE_COLORS[s];
      ctx.beginPath();
      const min = s === "running" ? 1 : 0.6;
      for (const x of this.task.states) if (x[2] === s) ctx.rect((x[0] - a) * k, 4, Math.max(min, x[1] * k), H - 8);
      ctx.fill();
    }
    if (this.mark) {
      const x = (this.mark[0] - a) * k, w = Math.max(3, this.mark[1] * k);
      ctx.strokeStyle = "#000";
      ctx.lineWidth = 1.5;
      ctx.strokeRect(x - 1, 1.5, w + 2, H - 3);
    }
  }
}

const FN_COLS = [
  // [key, header, numeric, value of a row]
  ["name", "function", false, (r) => r.name],
  ["tasks", "tasks", true, (r) => r.tasks],
  ["runs", "runs", true, (r) => r.runs],
  ["exec", "exec", true, (r) => r.exec],
  ["mean", "exec / task", true, (r) => (r.tasks ? r.exec / r.tasks : 0)],
  ["wait", "wait", true, (r) => r.wait],
  ["blocked", "blocked", true, (r) => blockedTotal(r)],
];

function blockedTotal(r) {
  let n = 0;
  for (const v of Object.values(r.blocked || {})) n += v;
  return n;
}

export class FnsTable {
  /** hooks: {onPick(fn | null)}; colorOf(fn) -> CSS colour of its runs. */
  constructor(table, hooks, colorOf) {
    this.table = table;
    this.hooks = hooks;
    this.colorOf = colorOf;
    this.rows = [];
    this.sel = null;
    this.sort = { key: "exec", dir: -1 };
    const tr = document.createElement("tr");
    for (const [key, label, num] of FN_COLS) {
      const th = document.createElement("th");
      th.textContent = label;
      th.dataset.key = key;
      if (num) th.className = "num";
      th.title = "sort by " + label;
      th.addEventListener("click", () => {
        this.sort = this.sort.key === key ? { key, dir: -this.sort.dir } : { key, dir: num ? -1 : 1 };
        this.render();
      });
      tr.append(th);
    }
    table.createTHead().append(tr);
    this.body = table.createTBody();
    this.body.addEventListener("click", (e) => {
      const row = e.target.closest("tr[data-fn]");
      if (!row) return;
      const fn = Number(row.dataset.fn);
      this.hooks.onPick(fn === this.sel ? null : fn);
    });
  }

  /** rows: /api/fns's "fns" (the ones without runs are left out). */
  show(rows) {
    this.rows = rows.filter((r) => r.runs > 0);
    this.render();
  }

  /** The rows in the order shown. */
  shown() { return this.rows.slice(); }

  render() {
    const col = FN_COLS.find((c) => c[0] === this.sort.key) || FN_COLS[3];
    const v = col[3], dir = this.sort.dir;
    this.rows.sort((a, b) => {
      const x = v(a), y = v(b);
      return (x < y ? -1 : x > y ? 1 : 0) * dir || b.exec - a.exec || a.fn - b.fn;
    });
    for (const th of this.table.tHead.rows[0].cells) {
      th.dataset.sort = th.dataset.key === this.sort.key ? (dir > 0 ? "asc" : "desc") : "";
    }
    this.body.textContent = "";
    for (const r of this.rows) {
      const tr = document.createElement("tr");
      tr.dataset.fn = String(r.fn);
      const b = Object.entries(r.blocked || {}).sort((x, y) => y[1] - x[1]);
      const bt = blockedTotal(r);
      const cells = [
        r.name || "?",
        formatInt(r.tasks),
        formatInt(r.runs),
        formatDur(r.exec),
        formatDur(r.tasks ? r.exec / r.tasks : 0),
        formatDur(r.wait),
        bt ? formatDur(bt) : "—",
      ];
      cells.forEach((text, j) => {
        const td = document.createElement("td");
        if (FN_COLS[j][2]) td.className = "num";
        td.textContent = text;
        tr.append(td);
      });
      const name = tr.cells[0];
      const sw = document.createElement("i");
      sw.style.background = this.colorOf(r.fn);
      name.prepend(sw);
      name.title = `${r.name} (fn ${r.fn}): click to highlight its runs on the timeline`;
      tr.cells[3].title = r.exec + " ns";
      if (b.length) {
        const why = document.createElement("span");
        why.className = "why";
        why.textContent = `${b[0][0]}${b.length > 1 ? " +" + (b.length - 1) : ""}`;
        tr.cells[6].append(" ", why);
        tr.cells[6].title = b.map(([k, n]) => `${k}: ${formatDur(n)} (${((100 * n) / bt).toFixed(0)}%)`).join("\n");
      }
      markRow(tr, r.fn === this.sel);
      this.body.append(tr);
    }
  }

  setSelected(fn) {
    this.sel = fn;
    for (const tr of this.body.rows) {
      markRow(tr, Number(tr.dataset.fn) === fn);
      if (Number(tr.dataset.fn) === fn) tr.scrollIntoView({ block: "nearest" });
    }
  }
}

function markRow(tr, on) {
  tr.classList.toggle("sel", on);
  tr.setAttribute("aria-selected", on ? "true" : "false");
}

export class ItemDetails {
  /** hooks: {onTask(id), onClose()} */
  constructor(root, hooks) {
    this.root = root;
    this.hooks = hooks;
    this.dl = root.querySelector("dl");
    root.querySelector('[data-action="close"]').addEventListener("click", () => this.hooks.onClose());
    this.dl.addEventListener("click", (e) => {
      const a = e.target.closest("a[data-task]");
      if (a) this.hooks.onTask(Number(a.dataset.task));
    });
  }

  /** fields: [[name, label, text, value, {task}]] */
  show(kind, title, fields) {
    this.root.dataset.kind = kind;
    this.root.querySelector('[data-field="title"]').textContent = title;
    this.dl.textContent = "";
    for (const [name, label, text, value, opt] of fields) {
      const dt = document.createElement("dt");
      dt.textContent = label;
      const dd = document.createElement("dd");
      dd.dataset.field = name;
      if (value !== undefined && value !== null) dd.dataset.value = String(value);
      if (opt && opt.task) {
        const a = document.createElement("a");
        a.dataset.task = String(opt.task);
        a.textContent = text;
        a.title = "open the task view";
        dd.append(a);
      } else {
        dd.textContent = text;
      }
      if (opt && opt.wrap) dd.style.whiteSpace = "normal";
      dd.title = dd.textContent;
      this.dl.append(dt, dd);
    }
    this.root.hidden = false;
  }
}

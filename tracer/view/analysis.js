/*
 * analysis.js - the "Analysis" tab (the server's verdicts: what
 * `weft-trace gaps` and its kin say about the trace, /api/verdicts) and
 * the "Blocking" tab (the block profile by call site, /api/blocks).
 *
 * VerdictList shows one entry per verdict, its kind as a heading
 * ("Contention", "Serial phase", ...), its range and the text,
 * "analysing…" while the server is still working (main.js polls), the
 * error when the analysis failed, or both the error and the verdicts
 * when the file is damaged (the verdicts are about the part before it). A click on
 * an entry asks onPick for its index, or for null when it is the
 * selected one (so a second click clears the highlight), as the
 * functions table does. BlockTable shows the block profile: reason,
 * call site, waits, total and longest wait, sorted by total, or by the
 * column whose header was last clicked (again: the other way); a click
 * on a row asks onPick for its index in the answer (or null).
 *
 * Invariant: as in details.js, both only show what they are given;
 * main.js does the fetching, the highlight and the view.
 *
 * Rejected: verdicts as markers on the timeline (they cover ranges of
 * several Ps and overlap; the list with a click that zooms and
 * highlights says more in less room); the block profile as a flame
 * graph (a site is one frame here: the table is the whole of it).
 */

import { formatDur, formatInt, formatTime } from "./format.js";

const KINDS = {
  at_limit: "At the limit",
  bottleneck: "Bottleneck",
  capped: "Capped by long tasks",
  contention: "Contention",
  serial_phase: "Serial phase",
  critical_path: "Critical path",
  stop_the_world: "Stop the world",
  network_wait: "Network wait",
  fine_grain: "Fine grain",
};

export class VerdictList {
  /** hooks: {onPick(k | null)} */
  constructor(root, hooks) {
    this.root = root;
    this.hooks = hooks;
    this.list = [];
    this.sel = null;
    this.state = "waiting";
    root.addEventListener("click", (e) => {
      const li = e.target.closest("[data-k]");
      if (!li) return;
      const k = Number(li.dataset.k);
      this.hooks.onPick(k === this.sel ? null : k);
    });
    root.addEventListener("keydown", (e) => {
      if (e.key !== "Enter" && e.key !== " ") return;
      const li = e.target.closest("[data-k]");
      if (!li) return;
      e.preventDefault();
      li.click();
    });
  }

  note(text, state) {
    this.state = state;
    this.root.dataset.state = state;
    this.root.textContent = "";
    const p = document.createElement("p");
    p.className = "note";
    p.textContent = text;
    this.root.append(p);
  }

  waiting() { this.note("analysing…", "waiting"); }
  error(msg) { this.note(`the analysis failed: ${msg}`, "error"); }

  /** verdicts, and the analysis's error (a damaged file: verdicts on what came before it) or null */
  show(verdicts, error = null) {
    this.list = verdicts;
    this.state = "ready";
    this.root.dataset.state = "ready";
    this.root.textContent = "";
    if (!verdicts.length) { this.note(error ? `no verdict: ${error}` : "nothing to say: no verdict on this trace", "ready"); return; }
    if (error) {
      const p = document.createElement("p");
      p.className = "note warn";
      p.textContent = `on the part of the trace before the damage: ${error}`;
      this.root.append(p);
    }
    const ul = document.createElement("ul");
    ul.className = "verdicts";
    verdicts.forEach((v, k) => {
      const li = document.createElement("li");
      li.dataset.k = String(k);
      li.dataset.kind = v.kind;
      li.tabIndex = 0;
      const h = document.createElement("h3");
      h.textContent = KINDS[v.kind] || v.kind;
      const p = document.createElement("p");
      p.textContent = v.text;
      const r = document.createElement("span");
      r.className = "range";
      r.textContent = v.range ? `${formatTime(v.range[0])} – ${formatTime(v.range[1])} (${formatDur(v.range[1] - v.range[0])})` : "the whole trace";
      h.append(" ", r);
      li.title = (v.range ? "click: zoom to the range and highlight" : "click: the whole trace, highlighted") + "; again: clear";
      li.append(h, p);
      ul.append(li);
    });
    this.root.append(ul);
    this.setSelected(this.sel);
  }

  setSelected(k) {
    this.sel = k;
    for (const li of this.root.querySelectorAll("[data-k]")) {
      const on = Number(li.dataset.k) === k;
      li.classList.toggle("sel", on);
      li.setAttribute("aria-selected", on ? "true" : "false");
      if (on) li.scrollIntoView({ block: "nearest" });
    }
  }
}

const BLOCK_COLS = [
  // [key, header, numeric, value]
  ["reason", "reason", false, (r) => r.reason],
  ["site", "site", false, (r) => r.site_name || String(r.site)],
  ["waits", "waits", true, (r) => r.waits],
  ["ns", "total", true, (r) => r.ns],
  ["max_ns", "longest", true, (r) => r.max_ns],
];

export class BlockTable {
  /** hooks: {onPick(k | null)}; k indexes the answer's list */
  constructor(table, hooks) {
    this.table = table;
    this.hooks = hooks;
    this.rows = [];
    this.sel = null;
    this.sort = { key: "ns", dir: -1 };
    const tr = document.createElement("tr");
    for (const [key, label, num] of BLOCK_COLS) {
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
      const row = e.target.closest("tr[data-k]");
      if (!row) return;
      const k = Number(row.dataset.k);
      this.hooks.onPick(k === this.sel ? null : k);
    });
  }

  show(rows) {
    this.rows = rows.map((r, k) => ({ ...r, k }));
    this.render();
  }

  /** The rows in the order shown (with k, the index in the answer). */
  shown() { return this.rows.slice(); }

  render() {
    const col = BLOCK_COLS.find((c) => c[0] === this.sort.key) || BLOCK_COLS[3];
    const v = col[3], dir = this.sort.dir;
    this.rows.sort((a, b) => {
      const x = v(a), y = v(b);
      return (x < y ? -1 : x > y ? 1 : 0) * dir || b.ns - a.ns || a.k - b.k;
    });
    for (const th of this.table.tHead.rows[0].cells) {
      th.dataset.sort = th.dataset.key === this.sort.key ? (dir > 0 ? "asc" : "desc") : "";
    }
    this.body.textContent = "";
    for (const r of this.rows) {
      const tr = document.createElement("tr");
      tr.dataset.k = String(r.k);
      const cells = [r.reason, r.site_name || String(r.site), formatInt(r.waits), formatDur(r.ns), formatDur(r.max_ns)];
      cells.forEach((text, j) => {
        const td = document.createElement("td");
        if (BLOCK_COLS[j][2]) td.className = "num";
        if (j === 1) td.className = "site";
        td.textContent = text;
        tr.append(td);
      });
      tr.title = `${r.reason} at ${r.site_name}: ${r.waits} waits, ${formatDur(r.ns)} in all (click to highlight the runs that blocked here)`;
      const on = r.k === this.sel;
      tr.classList.toggle("sel", on);
      tr.setAttribute("aria-selected", on ? "true" : "false");
      this.body.append(tr);
    }
  }

  setSelected(k) {
    this.sel = k;
    for (const tr of this.body.rows) {
      const on = Number(tr.dataset.k) === k;
      tr.classList.toggle("sel", on);
      tr.setAttribute("aria-selected", on ? "true" : "false");
      if (on) tr.scrollIntoView({ block: "nearest" });
    }
  }
}

/*
 * format.js - times and durations as people read them, and the ruler's
 * tick steps.
 *
 * Every time in the viewer is an integer number of ns since the trace's
 * first event (the API's unit); this file is the only place that turns
 * one into text. Durations get three significant digits in the largest
 * unit that keeps the number >= 1 ("12.3 µs", "1.50 ms"). Times on the
 * ruler share one unit per ruler (chosen by the window's far end, so the
 * labels of one ruler compare at a glance) and as many decimals as the
 * tick step needs, so two adjacent labels never print the same text.
 *
 * Invariants: niceStep(x) is the smallest 1, 2 or 5 x 10^k (k >= 0) ns
 * that is >= x; ticks are exact multiples of the step (integers while
 * the step is >= 1 ns, and doubles are exact up to 2^53 ns = 104 days).
 *
 * Counts are grouped by threes with commas ("2,200,001") by formatInt,
 * not by toLocaleString("en"): its first call in a page loads the
 * browser's ICU locale data, 50-350 ms in a cold headless Chromium, in
 * the script frame before the first paint.
 *
 * Rejected: Intl.NumberFormat with units (no "µs" unit; locale grouping
 * would make the ruler's labels change width with the locale); times
 * relative to the window's left edge (Perfetto's way: the same moment
 * gets a different label after every pan, and the details panel's start
 * could not be compared with the ruler).
 */

export const UNITS = [[1e9, "s"], [1e6, "ms"], [1e3, "µs"], [1, "ns"]];

/** The unit [factor, name] a value of magnitude `ns` is best said in. */
export function unitFor(ns) {
  const a = Math.abs(ns);
  for (const u of UNITS) if (a >= u[0]) return u;
  return UNITS[UNITS.length - 1];
}

/** An integer grouped by threes with commas, as toLocaleString("en"): "2,200,001". */
export function formatInt(n) {
  if (!Number.isFinite(n)) return String(n);
  const s = String(Math.round(Math.abs(n)));
  let out = s.length > 3 ? s.slice(0, s.length % 3 || 3) : s;
  for (let i = out.length; i < s.length; i += 3) out += "," + s.slice(i, i + 3);
  return (n < 0 && s !== "0" ? "-" : "") + out;
}

/** A duration with three significant digits: "12.3 µs". */
export function formatDur(ns) {
  if (!Number.isFinite(ns)) return "?";
  if (ns === 0) return "0 ns";
  const [f, name] = unitFor(ns);
  const v = ns / f, a = Math.abs(v);
  const d = f === 1 && Number.isInteger(ns) ? 0 : a >= 100 ? 0 : a >= 10 ? 1 : 2;
  return v.toFixed(d) + " " + name;
}

/** A point in time with full precision in its unit: "1.200004 s". */
export function formatTime(ns) {
  if (ns === 0) return "0";
  const [f, name] = unitFor(ns);
  const s = (ns / f).toFixed(f === 1 ? 0 : Math.round(Math.log10(f)));
  return s.replace(/(\.\d*?)0+$/, "$1").replace(/\.$/, "") + " " + name;
}

/** The smallest 1/2/5 x 10^k ns step that is >= min (and >= 1). */
export function niceStep(min) {
  if (!(min > 1)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(min)));
  for (const m of [1, 2, 5, 10]) if (m * p >= min) return m * p;
  return 10 * p;
}

/**
 * The ruler's ticks for [t0, t1] over `px` pixels with labels at least
 * `minPx` apart: {step, minor, unit, ticks: [{t, label}]}.
 */
export function ticks(t0, t1, px, minPx = 110) {
  const step = niceStep((minPx * (t1 - t0)) / Math.max(1, px));
  const mant = step / Math.pow(10, Math.floor(Math.log10(step) + 1e-9));
  const minor = step >= 2 ? step / (Math.round(mant) === 2 ? 4 : 5) : 0;
  const unit = unitFor(Math.max(Math.abs(t0), Math.abs(t1), step));
  const dec = Math.max(0, -Math.floor(Math.log10(step / unit[0]) + 1e-9));
  const out = [];
  for (let t = Math.ceil(t0 / step) * step; t <= t1; t += step) {
    const label = t === 0 ? "0" : (t / unit[0]).toFixed(dec) + " " + unit[1];
    out.push({ t, label });
    if (out.length > 1000) break;
  }
  return { step, minor, unit, ticks: out };
}

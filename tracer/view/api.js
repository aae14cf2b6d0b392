/*
 * api.js - talking to weft-trace view's JSON API.
 *
 * getJSON fetches one endpoint and turns an HTTP error into an Error
 * whose message carries the server's {"error": "..."} text. ProcsLoader
 * is the only caller of /api/procs: every view change asks it for a
 * window, and it
 *   - debounces: a request goes out `delay` ms after the last change,
 *     or `maxWait` ms after the first unanswered one while changes keep
 *     coming (a long drag still refreshes the picture now and then), or
 *     at once on flush() (the page's first window: nothing to wait for);
 *   - drops stale responses: each request has a sequence number and only
 *     the latest one's answer is delivered; the one before is aborted;
 *   - skips a request for exactly the window it already has or is
 *     fetching;
 *   - reports idle (no timer, nothing in flight) to whoever waits in
 *     idle(): the test hooks use it to know the picture is current.
 * Until an answer arrives the page keeps drawing the previous answer
 * scaled to the new window (the data is in absolute ns).
 *
 * The rows beside the Ps (/api/threads, /api/counters, /api/user: the
 * "extras", registered with extra()) go out with the procs request for
 * the same window, under the same sequence number and AbortController,
 * and are delivered together with it, so a stale answer of either kind
 * is never drawn and the groups never disagree with the P rows about the
 * window. An extra whose endpoint answers 404 (a server older than the
 * page) is dropped for good and reported once to onMissing; any other
 * failure of an extra delivers null for it and does not hold up the
 * procs answer. The highlight spec (setHl, "fn:F", "site:R:S", ...)
 * goes with /api/procs as &hl=; changing it refetches /api/procs only
 * (the extras of the same window are kept). Each answer carries the
 * spec it was asked with in .hlSpec, so the timeline can tell whether
 * the server honoured it (its rows have "hl" and the answer "hl_runs");
 * a spec the server refuses (400) is asked again without it.
 *
 * Rejected: one request per wheel event (a flick of the wheel is 10-30
 * events; the server would answer windows nobody sees); caching windows
 * on the page (the server's LOD answer depends on the window and width,
 * so hits would be rare, and memory is part of the page's budget).
 */

export async function getJSON(path, signal) {
  const r = await fetch(path, { signal, cache: "no-store" });
  if (!r.ok) {
    let msg = `${r.status} ${r.statusText}`;
    try {
      const j = await r.json();
      if (j && j.error) msg += ": " + j.error;
    } catch (_) { /* not JSON */ }
    const e = new Error(`${path}: ${msg}`);
    e.status = r.status;
    throw e;
  }
  return r.json();
}

/**
 * Poll `path` until its answer has ready: true (every `every` ms, for
 * at most `limit` ms): resolves to that answer, to null on a 404 (an
 * older server), and rejects on any other error or at the time limit.
 * onWait(answer) sees each not-ready answer.
 */
export async function pollReady(path, { every = 300, limit = 120000, onWait = null } = {}) {
  const t = performance.now();
  for (;;) {
    let d;
    try {
      d = await getJSON(path);
    } catch (e) {
      if (e.status === 404) return null;
      throw e;
    }
    if (d.ready) return d;
    if (onWait) onWait(d);
    if (performance.now() - t > limit) throw new Error(`${path}: not ready after ${Math.round(limit / 1000)} s`);
    await new Promise((r) => setTimeout(r, every));
  }
}

export class ProcsLoader {
  /**
   * onData(resp, ms) gets the latest window's answer and how long it
   * took; onError(err) any failure but an abort.
   */
  constructor(onData, onError, delay = 40, maxWait = 150) {
    this.onData = onData;
    this.onError = onError;
    this.delay = delay;
    this.maxWait = maxWait;
    this.seq = 0;
    this.timer = 0;
    this.firstAsk = 0;
    this.want = null;
    this.have = "";      // key of the window delivered or in flight
    this.ctl = null;
    this.inflight = 0;
    this.waiters = [];
    this.hl = null;
    this.extras = new Map();   // name -> path ("/api/threads")
    this.extraHave = "";       // window key of `extraData`
    this.extraData = {};
    this.onMissing = null;
  }

  static key(q) { return `${q.t0}/${q.t1}/${q.w}`; }

  /** Fetch `path`?t0&t1&w with every window from now on, as d.extra[name]. */
  extra(name, path) { this.extras.set(name, path); this.extraHave = ""; }

  /** The highlight spec sent with /api/procs (null: none); refetches. */
  setHl(spec) {
    spec = spec || null;
    if (spec === this.hl) return;
    this.hl = spec;
    this.have = "";
    if (this.want) this.request(this.want.t0, this.want.t1, this.want.w);
  }

  /** Ask for window [t0, t1) drawn over w CSS pixels. */
  request(t0, t1, w) {
    t0 = Math.floor(t0);
    t1 = Math.max(t0 + 1, Math.ceil(t1));
    w = Math.max(1, Math.round(w));
    this.want = { t0, t1, w };
    if (ProcsLoader.key(this.want) + "/" + this.hl === this.have) {
      clearTimeout(this.timer);
      this.timer = 0;
      this.settle();
      return;
    }
    const now = performance.now();
    if (!this.timer) this.firstAsk = now;
    clearTimeout(this.timer);
    const wait = Math.min(this.delay, Math.max(0, this.firstAsk + this.maxWait - now));
    this.timer = setTimeout(() => this.fire(), wait);
  }

  /** Send the request waiting for its debounce now (the page's first). */
  flush() {
    if (!this.timer) return;
    clearTimeout(this.timer);
    this.fire();
  }

  fire() {
    this.timer = 0;
    const q = this.want;
    const seq = ++this.seq;
    if (this.ctl) this.ctl.abort();
    const ctl = (this.ctl = new AbortController());
    const wkey = ProcsLoader.key(q), hl = this.hl;
    this.have = wkey + "/" + hl;
    this.inflight++;
    const t = performance.now();
    const qs = `t0=${q.t0}&t1=${q.t1}&w=${q.w}`;
    // (a spec is [a-z0-9:], legal in a query as it is: sent unescaped)
    const procs = getJSON(`/api/procs?${qs}${hl ? "&hl=" + hl : ""}`, ctl.signal).catch((e) => {
      // a spec the server refuses: the window without the highlight
      if (!hl || e.status !== 400) throw e;
      return getJSON(`/api/procs?${qs}`, ctl.signal).then((d) => { d.hlRefused = true; return d; });
    });
    let extras;
    if (wkey === this.extraHave) {
      extras = Promise.resolve(this.extraData);
    } else {
      const names = [...this.extras.keys()];
      extras = Promise.all(names.map((name) => getJSON(`${this.extras.get(name)}?${qs}`, ctl.signal).catch((e) => {
        if (e.name === "AbortError") throw e;
        if (e.status === 404 && this.extras.delete(name) && this.onMissing) this.onMissing(name);
        return null;
      }))).then((vals) => {
        const out = {};
        names.forEach((n, j) => { out[n] = vals[j]; });
        return out;
      });
    }
    Promise.all([procs, extras])
      .then(([d, ex]) => {
        if (seq !== this.seq) return;
        d.hlSpec = d.hlRefused ? null : hl;
        d.extra = ex;
        this.extraHave = wkey;
        this.extraData = ex;
        this.onData(d, performance.now() - t);
      })
      .catch((e) => {
        if (seq !== this.seq || e.name === "AbortError") return;
        this.have = "";
        this.onError(e);
      })
      .finally(() => { this.inflight--; this.settle(); });
  }

  get busy() { return this.timer !== 0 || this.inflight > 0; }

  /** Resolves once no request is waiting or in flight. */
  idle() {
    return new Promise((res) => { this.waiters.push(res); this.settle(); });
  }

  settle() {
    if (this.busy) return;
    const w = this.waiters;
    this.waiters = [];
    // after the frame the answer was drawn in
    if (w.length) requestAnimationFrame(() => w.forEach((f) => f()));
  }
}

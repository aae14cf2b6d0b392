/*
 * api.js - talking to weft-trace view's JSON API.
 *
 * getJSON fetches one endpoint and turns an HTTP error into an Error
 * whose message carries the server's {"error": "..."} text. ProcsLoader
 * is the only caller of /api/procs: every view change asks it for a
 * window, and it
 *   - debounces: a request goes out `delay` ms after the last change,
 *     or `maxWait` ms after the first unanswered one while changes keep
 *     coming (a long drag still refreshes the picture now and then);
 *   - drops stale responses: each request has a sequence number and only
 *     the latest one's answer is delivered; the one before is aborted;
 *   - skips a request for exactly the window it already has or is
 *     fetching;
 *   - reports idle (no timer, nothing in flight) to whoever waits in
 *     idle(): the test hooks use it to know the picture is current.
 * Until an answer arrives the page keeps drawing the previous answer
 * scaled to the new window (the data is in absolute ns).
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
    throw new Error(`${path}: ${msg}`);
  }
  return r.json();
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
  }

  static key(q) { return `${q.t0}/${q.t1}/${q.w}`; }

  /** Ask for window [t0, t1) drawn over w CSS pixels. */
  request(t0, t1, w) {
    t0 = Math.floor(t0);
    t1 = Math.max(t0 + 1, Math.ceil(t1));
    w = Math.max(1, Math.round(w));
    this.want = { t0, t1, w };
    if (ProcsLoader.key(this.want) === this.have) {
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

  fire() {
    this.timer = 0;
    const q = this.want;
    const seq = ++this.seq;
    if (this.ctl) this.ctl.abort();
    const ctl = (this.ctl = new AbortController());
    this.have = ProcsLoader.key(q);
    this.inflight++;
    const t = performance.now();
    getJSON(`/api/procs?t0=${q.t0}&t1=${q.t1}&w=${q.w}`, ctl.signal)
      .then((d) => { if (seq === this.seq) this.onData(d, performance.now() - t); })
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

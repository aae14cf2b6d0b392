/*
 * colors.js - the viewer's colours: one stable colour per entry function,
 * and one per task state.
 *
 * A function's colour depends on its index in meta.fns only, so the same
 * function has the same colour in every window, after every zoom and in
 * every session over the same trace. Hues step by the golden angle
 * (137.5 degrees), so functions with neighbouring indexes (usually
 * interned one after the other: main, then its first children) are far
 * apart on the wheel; lightness alternates in three steps so that the
 * hues that come back close after many steps still differ. Index 0 (no
 * name) is grey.
 *
 * Rejected: a hash of the function's name (two traces of one program
 * would agree, but names that hash close get the same hue, and the page
 * would need the strings on the hot path); a fixed palette of 12 (a
 * server with 30 entry functions repeats colours within one screen).
 */

const cache = [];

/** [fill, text] CSS colours for entry function index `fn`. */
export function fnColor(fn) {
  let c = cache[fn];
  if (c) return c;
  if (!(fn > 0)) {
    c = ["hsl(0 0% 62%)", "#111"];
  } else {
    const hue = (fn * 137.508) % 360;
    const light = [58, 48, 67][fn % 3];
    c = [`hsl(${hue.toFixed(1)} 58% ${light}%)`, light >= 55 ? "#111" : "#fff"];
  }
  cache[fn] = c;
  return c;
}

/** Task states as /api/task names them. */
export const STATE_COLORS = {
  running: "#3b9a57",
  runnable: "#e6b53d",
  blocked: "#a3acb9",
  syscall: "#a463d1",
};

export const STW_FILL = "rgba(214, 52, 52, 0.20)";
export const STW_EDGE = "rgba(190, 30, 30, 0.75)";
export const FLOW = "#5b2a86";
export const HL_COLOR = "#e8590c";      // merged runs of the highlight (orange: no function's hue is as loud)
export const HELD_FILL = "rgba(70, 130, 200, 0.16)";
export const HELD_TEXT = "#2b5d95";
export const COUNTER_COLORS = { runnable: "#e6b53d", running: "#3b9a57", syscall: "#a463d1", spinning: "#d0573a" };
export const SELECT_RANGE = "rgba(52, 112, 220, 0.14)";
export const SELECT_EDGE = "rgba(40, 90, 200, 0.9)";

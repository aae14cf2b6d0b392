// format_test.mjs - checks of format.js's pure functions (node dev/format_test.mjs).
import assert from "node:assert/strict";
import { formatDur, formatInt, formatTime, niceStep, ticks } from "../format.js";

assert.equal(formatDur(0), "0 ns");
assert.equal(formatDur(999), "999 ns");
assert.equal(formatDur(1234), "1.23 µs");
assert.equal(formatDur(12345), "12.3 µs");
assert.equal(formatDur(1.5e9), "1.50 s");
for (const n of [0, 7, 999, 1000, 12345, 999999, 1000000, 2200001, 9942270, -1234, 2 ** 53]) {
  assert.equal(formatInt(n), n.toLocaleString("en"), `formatInt(${n})`);
}
assert.equal(formatTime(0), "0");
assert.equal(formatTime(1200004000), "1.200004 s");
assert.equal(formatTime(350000000), "350 ms");
assert.equal(formatTime(1234567), "1.234567 ms");
for (const [x, want] of [[0.3, 1], [1, 1], [3, 5], [7, 10], [11, 20], [150, 200], [2e5 + 1, 5e5]]) {
  assert.equal(niceStep(x), want, `niceStep(${x})`);
}
// ticks: multiples of the step, labels distinct, at least minPx apart
for (const [a, b, w] of [[0, 3.85e9, 1236], [1.2e9, 1.20005e9, 1236], [350e6, 351e6, 1000], [1000, 1100, 1000], [5, 25, 1236]]) {
  const t = ticks(a, b, w);
  assert.ok(t.ticks.length >= 2, `ticks for ${a}..${b}`);
  const labels = new Set(t.ticks.map((x) => x.label));
  assert.equal(labels.size, t.ticks.length, `distinct labels for ${a}..${b}: ${[...labels]}`);
  for (const { t: x } of t.ticks) assert.equal(x % t.step, 0);
  assert.ok((t.step * w) / (b - a) >= 110 || t.step === 1);
}
console.log("format_test: ok");

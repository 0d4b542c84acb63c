// Decimation keeps what a plot of so many pixel columns shows, gaps included; the raw
// series keeps the newest points up to its limit.
import assert from "node:assert/strict";
import { test } from "node:test";
import { decimate, lowerBound, RawSeries } from "../src/decimate.js";

function series(n, f = (i) => Math.sin(i / 7) * 100) {
  const x = new Float64Array(n);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    x[i] = 1_700_000_000_000 + i * 10;
    y[i] = f(i);
  }
  return { x, y };
}

test("few points pass through untouched (no copy)", () => {
  const { x, y } = series(100);
  const d = decimate(x, y, { columns: 100 });
  assert.equal(d.decimated, false);
  assert.equal(d.x.length, 100);
  assert.equal(d.x.buffer, x.buffer);
});

test("many points become at most a few per column, keeping extremes and ends", () => {
  const { x, y } = series(100_000, (i) => (i === 54_321 ? 1e6 : i === 7 ? -1e6 : i % 13));
  const d = decimate(x, y, { columns: 500 });
  assert.equal(d.decimated, true);
  assert.ok(d.x.length <= 3 * 500 + 4, `${d.x.length} points`);
  assert.ok(d.y.includes(1e6) && d.y.includes(-1e6), "the spikes survive");
  assert.equal(d.x[0], x[0]);
  assert.equal(d.x[d.x.length - 1], x[x.length - 1]);
  for (let i = 1; i < d.x.length; i++) assert.ok(d.x[i] >= d.x[i - 1], "x stays in order");
  // Every column's min and max are those of the raw points in it.
  const lo = x[0];
  const width = (x[x.length - 1] - lo) / 500;
  const col = 200;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < x.length; i++) {
    if (Math.min(499, Math.floor((x[i] - lo) / width)) === col) {
      min = Math.min(min, y[i]);
      max = Math.max(max, y[i]);
    }
  }
  const inCol = [...d.y].filter((_, i) => Math.min(499, Math.floor((d.x[i] - lo) / width)) === col);
  assert.equal(Math.min(...inCol), min);
  assert.equal(Math.max(...inCol), max);
});

test("a NaN (a gap in the feed) survives decimation", () => {
  const { x, y } = series(50_000);
  y[25_003] = NaN;
  y[49_000] = NaN;
  const d = decimate(x, y, { columns: 300 });
  assert.equal(d.decimated, true);
  const gaps = [...d.x].filter((_, i) => Number.isNaN(d.y[i]));
  assert.deepEqual(gaps, [x[25_003], x[49_000]]);
});

test("a zoomed range keeps its own points at full detail plus one on each side", () => {
  const { x, y } = series(100_000);
  const x0 = x[40_000] + 1;
  const x1 = x[40_500] - 1;
  const d = decimate(x, y, { x0, x1, columns: 800 });
  assert.equal(d.decimated, false, "500 points fit 800 columns");
  assert.equal(d.x.length, 501);
  assert.equal(d.x[0], x[40_000]);
  assert.equal(d.x[d.x.length - 1], x[40_500]);
  const wide = decimate(x, y, { x0: x[10_000], x1: x[90_000], columns: 400 });
  assert.equal(wide.decimated, true);
  assert.ok(wide.x[0] <= x[10_000] && wide.x[wide.x.length - 1] >= x[90_000]);
  assert.ok(wide.x.length <= 3 * 400 + 4);
});

test("lowerBound finds the first x at or above a value", () => {
  const x = Float64Array.from([1, 2, 2, 5, 9]);
  assert.equal(lowerBound(x, 5, 2), 1);
  assert.equal(lowerBound(x, 5, 3), 3);
  assert.equal(lowerBound(x, 5, 10), 5);
  assert.equal(lowerBound(x, 5, 0), 0);
});

test("a raw series keeps its whole span within its limit: its points reduced when full", () => {
  const s = new RawSeries(1000);
  let next = 0;
  for (let round = 0; round < 500; round++) {
    const k = 1 + (round % 37);
    const xs = new Float64Array(k);
    const ys = new Float64Array(k);
    for (let i = 0; i < k; i++) {
      xs[i] = next;
      ys[i] = Math.sin(next / 50) * 100 + (next === 4321 ? 1e6 : 0);
      next++;
    }
    s.append(xs, ys);
    assert.ok(s.n <= 1000, s.n);
    assert.equal(s.x[0], 0, "the first point sent stays: the span is kept");
    assert.equal(s.x[s.n - 1], next - 1);
    for (let i = 1; i < s.n; i++) assert.ok(s.x[i] > s.x[i - 1], "in order, no point twice");
  }
  assert.ok(next > 9 * 1000, "many times the limit went through");
  // A spike far back is still there (each column keeps its highest point).
  assert.ok(Array.from(s.y).some((v) => v > 1e5));
  assert.ok(s._x.length <= 2000, "storage stays within twice the limit");
  // A burst longer than the limit joins the span too, reduced with it.
  const burst = Float64Array.from({ length: 5000 }, (_, i) => next + i);
  s.append(burst, new Float64Array(5000).fill(8));
  assert.ok(s.n <= 1000 && s.x[0] === 0 && s.x[s.n - 1] === next + 4999, [s.n, s.x[0]]);
  assert.equal(s.y[s.n - 1], 8);
  s.setLimit(10);
  assert.equal(s.n, 10);
  s.clear();
  assert.equal(s.n, 0);
  assert.ok(Number.isNaN(s.lastX));
});

test("a raw series with a limit too small to reduce into drops its oldest points", () => {
  const s = new RawSeries(10);
  for (let i = 0; i < 25; i++) s.append(Float64Array.of(i), Float64Array.of(i));
  assert.equal(s.n, 10);
  assert.equal(s.x[0], 15);
});

test("a raw series keeps time order when late points arrive, ties in arrival order", () => {
  const s = new RawSeries(100);
  s.append(Float64Array.of(10, 20, 25, 50), Float64Array.of(1, 2, NaN, 5));
  // A late point between kept ones, one before all, and a batch out of order in itself.
  s.append(Float64Array.of(60, 22, 5), Float64Array.of(6, 2.2, 0.5));
  assert.deepEqual(Array.from(s.x), [5, 10, 20, 22, 25, 50, 60]);
  assert.deepEqual(Array.from(s.y), [0.5, 1, 2, 2.2, NaN, 5, 6]);
  s.append(Float64Array.of(20), Float64Array.of(2.5));
  assert.deepEqual(Array.from(s.x), [5, 10, 20, 20, 22, 25, 50, 60]);
  assert.deepEqual(Array.from(s.y), [0.5, 1, 2, 2.5, 2.2, NaN, 5, 6]);
  assert.equal(s.lastX, 60);
  // Full: the late batch and the kept points are reduced together, still in order.
  const full = new RawSeries(40);
  full.append(Float64Array.from({ length: 40 }, (_, i) => 100 + i), new Float64Array(40).fill(1));
  full.append(Float64Array.of(50, 7), Float64Array.of(9, 3));
  const x = Array.from(full.x);
  assert.ok(full.n <= 40 && x.every((v, i) => i === 0 || v >= x[i - 1]), x);
  assert.equal(x[0], 7);
  assert.ok(Array.from(full.y).includes(9), "the late high point is kept");
});

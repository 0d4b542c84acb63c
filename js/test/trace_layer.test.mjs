import assert from "node:assert/strict";
import { test } from "node:test";

import { hoverLines, yRangeOf } from "../src/trace_layer.js";

const trace = (x, y, more = {}) => ({ x, y, visible: true, ...more });

test("y range: every finite point in the x range, padded by 5%", () => {
  assert.deepEqual(yRangeOf([trace([0, 1, 2], [2, 4, 100])], [0, 1], false), [1.9, 4.1]);
  // A gap (NaN) is not a value.
  assert.deepEqual(yRangeOf([trace([0, 1, 2], [2, Number.NaN, 4])], null, false), [1.9, 4.1]);
});

test("y range: hidden traces do not count; none inside gives null", () => {
  const hidden = trace([0, 1], [1000, 2000], { visible: false });
  assert.deepEqual(yRangeOf([hidden, trace([0, 1], [1, 3])], null, false), [0.9, 3.1]);
  assert.equal(yRangeOf([trace([5, 6], [1, 2])], [0, 1], false), null);
  assert.equal(yRangeOf([], null, false), null);
});

test("y range: a count starts at zero; a flat line gets room", () => {
  assert.deepEqual(yRangeOf([trace([0, 1], [10, 20])], null, true), [0, 21]);
  assert.deepEqual(yRangeOf([trace([0, 1], [0, 0])], null, true), [-1, 1]);
  const [lo, hi] = yRangeOf([trace([0, 1], [200, 200])], null, false);
  assert.ok(lo < 200 && hi > 200 && hi - lo === 20, [lo, hi]);
});

test("hover label: key, value as sent, time in UTC", () => {
  const t = trace([Date.UTC(2026, 0, 2, 3, 4, 5, 67)], [65000.123456789], { head: "BTC<b>", what: "price" });
  assert.deepEqual(hoverLines(t, 0), ["BTC<b>", "price: 65000.123456789", "2026-01-02 03:04:05.067 UTC"]);
  const rate = trace([0], [12], { head: null, what: "markets", unit: " events/s" });
  assert.deepEqual(hoverLines(rate, 0), ["markets: 12 events/s", "1970-01-01 00:00:00.000 UTC"]);
});

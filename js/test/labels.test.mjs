import assert from "node:assert/strict";
import { test } from "node:test";
import { titleLines } from "../src/labels.js";

const chart = { stream: "markets", type: "market_update", field: "data.price", by: "data.symbol" };

test("a title that fits stays on one line", () => {
  assert.deepEqual(titleLines(chart, 80), ["markets / market_update / data.price by symbol"]);
});

test("a narrow title names the field and the split first, uncut", () => {
  const lines = titleLines(chart, 36);
  assert.deepEqual(lines, ["data.price by symbol", "markets / market_update"]);
  for (const line of lines) assert.ok(!line.endsWith("\u2026"));
});

test("only a line longer than the room is cut", () => {
  const lines = titleLines(chart, 16);
  assert.equal(lines.length, 2);
  assert.ok(lines.every((l) => l.length <= 16));
  assert.ok(lines[0].startsWith("data.price"));
});

test("a chart without stream or split is its field", () => {
  assert.deepEqual(titleLines({ stream: null, type: "", field: "data.v" }, 10), ["data.v"]);
});

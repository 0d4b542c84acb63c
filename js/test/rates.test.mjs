// The events/s chart's columns: gaps and holes break the lines, the total adds up.
import assert from "node:assert/strict";
import { test } from "node:test";
import { RateTable } from "../src/rates.js";
import { Limit } from "../src/protocol.js";
import { clip, keyLines, shortField } from "../src/labels.js";

const T0 = 1_700_000_000_000;

test("counts become columns aligned on time, with a total", () => {
  const r = new RateTable();
  const { fresh } = r.ingest(
    [
      { t: T0, counts: { b: 2, a: 1 } },
      { t: T0 + 1000, counts: { a: 4 } },
      { t: T0 + 2000, counts: {} },
    ],
    false,
  );
  assert.deepEqual(fresh, ["a", "b"]);
  assert.deepEqual(r.t, [T0, T0 + 1000, T0 + 2000]);
  assert.deepEqual(r.columns.get("a"), [1, 4, 0]);
  assert.deepEqual(r.columns.get("b"), [2, 0, 0]);
  assert.deepEqual(r.total, [3, 4, 0]);
});

test("a gap second is NaN in every column and the total", () => {
  const r = new RateTable();
  r.ingest([{ t: T0, counts: { a: 1 } }, { t: T0 + 1000, gap: true }, { t: T0 + 2000, counts: { a: 2 } }], false);
  assert.ok(Number.isNaN(r.columns.get("a")[1]));
  assert.ok(Number.isNaN(r.total[1]));
});

test("seconds missing between two entries (an outage nobody marked) break the line", () => {
  const r = new RateTable();
  r.ingest([{ t: T0, counts: { a: 5 } }], false);
  r.ingest([{ t: T0 + 31_000, counts: { a: 5 } }], false);
  assert.deepEqual(r.t, [T0, T0 + 1000, T0 + 31_000]);
  assert.ok(Number.isNaN(r.columns.get("a")[1]));
  assert.ok(Number.isNaN(r.total[1]));
});

test("a stream appearing later has no values before its first second", () => {
  const r = new RateTable();
  r.ingest([{ t: T0, counts: { a: 1 } }], false);
  r.ingest([{ t: T0 + 1000, counts: { a: 1, b: 3 } }], false);
  assert.ok(Number.isNaN(r.columns.get("b")[0]));
  assert.equal(r.columns.get("b")[1], 3);
});

test("a window replaces everything; repeated seconds are ignored; the length is bounded", () => {
  const r = new RateTable();
  r.ingest([{ t: T0, counts: { a: 1 } }], false);
  r.ingest([{ t: T0, counts: { a: 9 } }], false);
  assert.deepEqual(r.columns.get("a"), [1]);
  const { gone } = r.ingest([{ t: T0 + 5000, counts: { b: 1 } }], true);
  assert.deepEqual(gone, ["a"]);
  assert.deepEqual(r.streams, ["b"]);
  const many = Array.from({ length: 3 * Limit.RATE_SECONDS }, (_, i) => ({ t: T0 + 10_000 + i * 1000, counts: { b: 1 } }));
  r.ingest(many, false);
  assert.ok(r.t.length <= 2 * Limit.RATE_SECONDS);
});

test("labels: field names, cuts, key lines", () => {
  assert.equal(shortField("data.price"), "price");
  assert.equal(shortField("price"), "price");
  assert.equal(clip("abcdef", 4), "abc\u2026");
  assert.equal(clip("abc", 4), "abc");
  const items = ["BTCUSD", "ETHUSD", "EURUSD", "GBPUSD", "USDJPY", "SOLUSD"].map((text) => ({ text, color: "#000" }));
  const { lines, more } = keyLines(items, 4, 20, 2);
  assert.equal(lines.length, 2);
  for (const line of lines) assert.ok(line.reduce((n, it) => n + it.text.length + 4, 0) <= 20);
  assert.equal(more, 4 + items.length - lines.flat().length);
});

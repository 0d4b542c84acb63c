// The live table's pure parts: rows shown, columns chosen, cell text, times in UTC.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  MAX_COLUMNS,
  cellText,
  choices,
  chooseColumns,
  countText,
  frozenText,
  matches,
  rowWindow,
  utcStamp,
  utcTime,
  visibleRows,
} from "../src/table_model.js";

const item = (seq, stream, type, fields) => ({ seq, stream, type, time: seq, fields, json: "{}" });

test("rows are newest first and the filter keeps one stream, one type, none hidden", () => {
  const items = [item(1, "a", "x", {}), item(2, "b", "x", {}), item(3, "a", "y", {}), item(4, "a", "x", {})];
  const seqs = (filter) => visibleRows(items, filter).map((i) => i.seq);
  assert.deepEqual(seqs({}), [4, 3, 2, 1]);
  assert.deepEqual(seqs({ stream: "a" }), [4, 3, 1]);
  assert.deepEqual(seqs({ stream: "a", type: "x" }), [4, 1]);
  assert.deepEqual(seqs({ type: "x", hidden: new Set(["a"]) }), [2]);
  assert.equal(matches({ stream: null, type: "x" }, { hidden: new Set(["a"]) }), true);
  assert.equal(matches({ stream: null, type: "x" }, { stream: "a" }), false);
});

test("columns: every kind of event gets its share, in payload order, and they stay put", () => {
  const rows = [
    item(4, "a", "x", { "data.id": 1, "data.p": 2, "data.q": 3, "data.r": 4 }),
    item(3, "a", "x", { "data.id": 1, "data.p": 2, "data.q": 3, "data.r": 4 }),
    item(2, "a", "x", { "data.id": 1, "data.p": 2, "data.q": 3, "data.r": 4 }),
    item(1, "b", "y", { "data.id": 5, "data.alt": 6 }),
  ];
  assert.deepEqual(chooseColumns(rows, []), ["data.id", "data.p", "data.alt", "data.q", "data.r"]);
  // However many rows one stream sends, the other keeps its column.
  assert.deepEqual(chooseColumns(rows, [], 3), ["data.id", "data.p", "data.alt"]);
  // Columns shown before keep their place; one no row has any more goes.
  assert.deepEqual(chooseColumns(rows, ["data.alt", "data.gone"], 3), ["data.alt", "data.id", "data.p"]);
  // A field missing in some rows of a kind still counts for that kind.
  assert.deepEqual(chooseColumns([item(2, "a", "x", { "data.u": 1 }), item(1, "a", "x", { "data.v": 1 })], []), [
    "data.u",
    "data.v",
  ]);
  const wide = [item(1, "a", "x", Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`data.f${i}`, i])))];
  assert.equal(chooseColumns(wide, []).length, MAX_COLUMNS);
  assert.deepEqual(chooseColumns(wide, [], 2), ["data.f0", "data.f1"]);
  assert.deepEqual(chooseColumns([{ seq: 1 }], []), []);
});

test("cells show values as sent; times are UTC with milliseconds", () => {
  assert.equal(cellText("<b>x</b>"), "<b>x</b>");
  assert.equal(cellText(1.25), "1.25");
  assert.equal(cellText("12345678901234567890"), "12345678901234567890");
  assert.equal(cellText(null), "null");
  assert.equal(cellText(undefined), "");
  assert.equal(cellText(false), "false");
  assert.equal(utcTime(Date.UTC(2026, 0, 2, 23, 4, 5, 7)), "23:04:05.007");
  assert.equal(utcTime("nope"), "--:--:--.---");
  // The millisecond an instant falls in, also before 1970 (a Date cuts towards zero).
  assert.equal(utcTime(-0.5), "23:59:59.999");
  assert.equal(utcStamp(-0.5), "1969-12-31 23:59:59.999 UTC");
  assert.equal(utcTime(1.999), "00:00:00.001");
});

test("filter choices, counts and the frozen line", () => {
  const items = [item(1, "b", "x", {}), item(2, "a", "y", {}), item(3, "b", "x", {})];
  assert.deepEqual(choices(items, "stream"), ["a", "b"]);
  assert.deepEqual(choices(items, "type", "gone"), ["gone", "x", "y"]);
  assert.equal(countText(2, 500), "2 of 500 rows");
  assert.equal(countText(1500, 1500), "1,500 rows");
  assert.equal(frozenText(1234), "frozen, 1,234 new");
  assert.equal(frozenText(-3), "frozen, 0 new");
});

test("the row window: rows in view and the overscan, the rest as space above and below", () => {
  assert.deepEqual(rowWindow(500, 0, 300, 20, 8), { first: 0, last: 23, above: 0, below: 9540 });
  // Scrolled to the end: the last row is drawn, nothing below it.
  assert.deepEqual(rowWindow(500, 500 * 20 - 300, 300, 20, 8), { first: 477, last: 500, above: 9540, below: 0 });
  // Mid-way: every row is either drawn or counted in the space, once.
  const w = rowWindow(1000, 7013, 280, 20, 8);
  assert.equal(w.first, 342);
  assert.equal(w.last, 373);
  assert.equal(w.above + (w.last - w.first) * 20 + w.below, 1000 * 20);
  // Fewer rows than fit, no rows, a scroll position beyond the rows (a list that shrank).
  assert.deepEqual(rowWindow(5, 0, 300, 20, 8), { first: 0, last: 5, above: 0, below: 0 });
  assert.deepEqual(rowWindow(0, 0, 300, 20, 8), { first: 0, last: 0, above: 0, below: 0 });
  assert.deepEqual(rowWindow(10, 5000, 300, 20, 8), { first: 10, last: 10, above: 200, below: 0 });
});

// Merging the kernel's update and window messages into what the next frame draws.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Pending } from "../src/pending.js";
import { Limit, ToBrowser } from "../src/protocol.js";

function f64(...values) {
  return Float64Array.from(values).buffer;
}

function recentItems(from, to) {
  const items = [];
  for (let seq = from; seq <= to; seq++) items.push({ seq, stream: "s", type: "t", time: seq, json: "{}" });
  return items;
}

test("updates merge: stats by key, series points appended in order", () => {
  const p = new Pending();
  assert.ok(p.empty);
  const first = { kind: ToBrowser.UPDATE, stats: { events: 1, rows: 1 }, series: [{ id: "a", n: 2 }] };
  p.addUpdate(first, [f64(1, 2), f64(10, 20)], 100);
  p.addUpdate({ kind: ToBrowser.UPDATE, stats: { events: 3 }, series: [{ id: "a", n: 1 }] }, [f64(3), f64(30)], 100);
  assert.deepEqual(p.stats, { events: 3, rows: 1 });
  assert.equal(p.statsReplace, false);
  const a = p.series.get("a");
  assert.equal(a.replace, false);
  assert.equal(a.n, 3);
  assert.deepEqual(a.xs.map((x) => Array.from(x)), [[1, 2], [3]]);
  assert.deepEqual(a.ys.map((y) => Array.from(y)), [[10, 20], [30]]);
  assert.equal(p.updates, 2);
  assert.ok(!p.empty);
});

test("a series entry with fewer points than it says keeps the points both buffers hold", () => {
  const p = new Pending();
  p.addUpdate({ series: [{ id: "a", n: 3 }] }, [f64(1, 2, 3), f64(10, 20)], 100);
  const a = p.series.get("a");
  assert.deepEqual([Array.from(a.xs[0]), Array.from(a.ys[0])], [[1, 2], [10, 20]]);
});

test("chunks older than max_points are dropped while merging", () => {
  const p = new Pending();
  for (let i = 0; i < 10; i++) p.addUpdate({ series: [{ id: "a", n: 2 }] }, [f64(i, i), f64(i, i)], 4);
  const a = p.series.get("a");
  assert.equal(a.n, 4);
  assert.deepEqual(a.xs.map((x) => x[0]), [8, 9]);
});

test("a full window replaces everything queued; a series-only window only its series", () => {
  const p = new Pending();
  const update = { series: [{ id: "a", n: 1 }, { id: "b", n: 1 }], rates: [{ t: 1000, counts: { s: 1 } }] };
  p.addUpdate(update, [f64(1), f64(1), f64(2), f64(2)], 100);
  p.addWindow({ kind: ToBrowser.WINDOW, series: [{ id: "b", n: 1 }] }, [f64(5), f64(50)], 100);
  assert.deepEqual([...p.series.keys()], ["a", "b"]);
  assert.equal(p.series.get("b").replace, true);
  assert.equal(p.seriesReplaceAll, false);
  assert.equal(p.rates.length, 1);

  const full = { kind: ToBrowser.WINDOW, stats: { events: 9 }, series: [{ id: "c", n: 1 }], rates: [], recent: [] };
  p.addWindow(full, [f64(7), f64(70)], 100);
  assert.deepEqual([...p.series.keys()], ["c"]);
  assert.equal(p.seriesReplaceAll, true);
  assert.deepEqual(p.stats, { events: 9 });
  assert.equal(p.statsReplace, true);
  assert.deepEqual([p.rates, p.ratesReplace, p.recent, p.recentReplace], [[], true, [], true]);
  assert.equal(p.windows, 2);
});

test("rates keep the chart's seconds and skip entries without a time", () => {
  const p = new Pending();
  const rates = [];
  for (let s = 0; s < Limit.RATE_SECONDS + 50; s++) rates.push({ t: s * 1000, counts: {} });
  p.addUpdate({ rates: [...rates, { counts: {} }, null] }, [], 100);
  assert.equal(p.rates.length, Limit.RATE_SECONDS);
  assert.equal(p.rates[0].t, 50_000);
});

test("without the trait, the recent list keeps the protocol's default", () => {
  const p = new Pending();
  p.addUpdate({ recent: recentItems(1, Limit.RECENT_DEFAULT + 20) }, [], 100);
  assert.equal(p.recent.length, Limit.RECENT_DEFAULT);
  assert.equal(p.recent.at(-1).seq, Limit.RECENT_DEFAULT + 20);
});

test("recent=500 (the widget's recent trait) keeps 500 events, the newest", () => {
  // The kernel keeps and sends StreamWidget(recent=500)'s 500; the browser kept 100 before.
  const p = new Pending({ recentLimit: 500 });
  p.addWindow({ recent: recentItems(1, 450) }, [], 100);
  p.addUpdate({ recent: recentItems(451, 600) }, [], 100);
  assert.equal(p.recent.length, 500);
  assert.deepEqual([p.recent[0].seq, p.recent.at(-1).seq], [101, 600]);
  assert.equal(p.recentReplace, true);
});

test("reset forgets everything queued but keeps the limits", () => {
  const p = new Pending({ recentLimit: 3 });
  p.addUpdate({ stats: { events: 1 }, recent: recentItems(1, 5) }, [], 100);
  p.reset();
  assert.ok(p.empty);
  assert.deepEqual([p.stats, p.recent, p.series.size], [null, [], 0]);
  p.addUpdate({ recent: recentItems(1, 5) }, [], 100);
  assert.equal(p.recent.length, 3);
});

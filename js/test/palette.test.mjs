// Colours: distinct while there are enough, and the same for the same names after a reload.
import assert from "node:assert/strict";
import { test } from "node:test";
import { COLORS, Palette, hashName } from "../src/palette.js";

const STREAMS = ["markets", "aircraft", "signals", "alerts", "cyber", "weather", "news", "ships", "trains", "power", "quakes"];

test("the palette has at least 11 distinct colours", () => {
  assert.ok(COLORS.length >= 11);
  assert.equal(new Set(COLORS.map((c) => c.toLowerCase())).size, COLORS.length);
});

test("11 streams get 11 different colours", () => {
  const p = new Palette();
  p.place(STREAMS);
  assert.equal(new Set(STREAMS.map((s) => p.color(s))).size, 11);
});

test("the same names get the same colours, in whatever order they were listed", () => {
  const a = new Palette();
  a.place(STREAMS);
  const b = new Palette();
  b.place([...STREAMS].reverse());
  for (const s of STREAMS) assert.equal(a.color(s), b.color(s));
});

test("a name keeps its colour while others arrive and leave", () => {
  const p = new Palette();
  p.place(["markets", "aircraft"]);
  const before = p.color("markets");
  p.place(STREAMS);
  p.release("aircraft");
  p.color("zzz-new");
  assert.equal(p.color("markets"), before);
});

test("a lone name takes its hash's colour", () => {
  const p = new Palette();
  assert.equal(p.color("markets"), COLORS[hashName("markets") % COLORS.length]);
});

test("more names than colours still get a colour each", () => {
  const p = new Palette();
  const names = Array.from({ length: COLORS.length + 5 }, (_, i) => `s${i}`);
  p.place(names);
  for (const n of names) assert.ok(COLORS.includes(p.color(n)));
  assert.equal(new Set(names.map((n) => p.color(n))).size, COLORS.length, "every colour used");
});

// The live table says when its rows are a sample of the feed (holes between seqs).
import assert from "node:assert/strict";
import { test } from "node:test";
import { sampleEvery, sampleText } from "../src/table_model.js";

const rows = (...seqs) => seqs.map((seq) => ({ seq, stream: "s", type: "t" }));

test("consecutive seqs are every event: nothing to say", () => {
  assert.equal(sampleEvery(rows(5, 6, 7, 8)), 1);
  assert.equal(sampleText(sampleEvery(rows(5, 6, 7, 8))), "");
});

test("holes between seqs: one row stands for that many events", () => {
  assert.equal(sampleEvery(rows(10, 20, 30, 40)), 10);
  assert.equal(sampleText(sampleEvery(rows(10, 20, 30, 40))), "showing a sample: 1 in 10 events");
  // Order does not matter (the table holds oldest first, but a window may not).
  assert.equal(sampleEvery(rows(40, 10, 30, 20)), 10);
  assert.equal(sampleText(1234.4), "showing a sample: 1 in 1,234 events");
});

test("too little to tell, or no seq: no claim", () => {
  assert.equal(sampleEvery([]), 1);
  assert.equal(sampleEvery(rows(7)), 1);
  assert.equal(sampleEvery([{ seq: null }, { seq: "x" }, { seq: 3 }]), 1);
  assert.equal(sampleText(1), "");
});

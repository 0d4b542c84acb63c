// Decoding the binary buffers of the kernel's messages (float64 little-endian points).
import assert from "node:assert/strict";
import { test } from "node:test";
import { bytesOf, concatTail, float64, messageSize } from "../src/buffers.js";

function bytes(values, pad = 0) {
  const out = new Uint8Array(pad + 8 * values.length);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => view.setFloat64(pad + 8 * i, v, true));
  return out;
}

test("an ArrayBuffer decodes to its float64 values", () => {
  assert.deepEqual(Array.from(float64(bytes([1.5, -2, 1e12]).buffer)), [1.5, -2, 1e12]);
});

test("a DataView (as ipywidgets gives) decodes as a view, without a copy", () => {
  const raw = bytes([0, 3.25, 4.5]);
  const view = new DataView(raw.buffer, 8, 16);
  const got = float64(view);
  assert.deepEqual(Array.from(got), [3.25, 4.5]);
  assert.equal(got.buffer, raw.buffer, "aligned: a view of the same memory");
});

test("an unaligned buffer (a packed comm message) is copied, not refused", () => {
  const raw = bytes([7.5, 8.5], 3);
  const got = float64(new DataView(raw.buffer, 3, 16));
  assert.deepEqual(Array.from(got), [7.5, 8.5]);
  assert.notEqual(got.buffer, raw.buffer);
});

test("n limits the values read; a short or missing buffer gives what there is", () => {
  const raw = bytes([1, 2, 3]).buffer;
  assert.deepEqual(Array.from(float64(raw, 2)), [1, 2]);
  assert.deepEqual(Array.from(float64(raw, 10)), [1, 2, 3]);
  assert.deepEqual(Array.from(float64(raw, -1)), [1, 2, 3]);
  assert.equal(float64(undefined, 4).length, 0);
  // A trailing partial value is not read.
  assert.equal(float64(new Uint8Array(12)).length, 1);
});

test("bytesOf keeps a view's window of its buffer", () => {
  const raw = new Uint8Array([9, 1, 2, 3, 9]);
  assert.deepEqual(Array.from(bytesOf(new DataView(raw.buffer, 1, 3))), [1, 2, 3]);
  assert.deepEqual(Array.from(bytesOf(raw.buffer)), [9, 1, 2, 3, 9]);
  assert.equal(bytesOf(null).length, 0);
});

test("concatTail joins chunks and keeps only the newest values", () => {
  const chunks = [Float64Array.of(1, 2), Float64Array.of(3), Float64Array.of(4, 5, 6)];
  assert.deepEqual(Array.from(concatTail(chunks, 4)), [3, 4, 5, 6]);
  assert.deepEqual(Array.from(concatTail(chunks, 100)), [1, 2, 3, 4, 5, 6]);
  assert.equal(concatTail(chunks, 0).length, 0);
});

test("messageSize counts the buffers' bytes and something for the JSON", () => {
  const buffers = [bytes([1, 2]).buffer, new DataView(new ArrayBuffer(8))];
  assert.equal(messageSize(null, buffers), 24);
  assert.ok(messageSize({ kind: "x", recent: [{ json: "{}" }] }, buffers) > 24);
});

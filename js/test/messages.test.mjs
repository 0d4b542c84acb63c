// One table of handlers for the kernel's messages, and the limits read from traits.
import assert from "node:assert/strict";
import { test } from "node:test";
import { dispatcher } from "../src/messages.js";
import { Limit, ToBrowser, limitOf } from "../src/protocol.js";

test("each kind reaches its handler, with the buffers as an array", () => {
  const seen = [];
  const dispatch = dispatcher({
    [ToBrowser.UPDATE]: (msg, buffers) => seen.push(["update", msg.n, buffers.length]),
    [ToBrowser.WINDOW]: (msg, buffers) => seen.push(["window", msg.n, buffers.length]),
  });
  assert.equal(dispatch({ kind: ToBrowser.UPDATE, n: 1 }, [new ArrayBuffer(8)]), true);
  assert.equal(dispatch({ kind: ToBrowser.WINDOW, n: 2 }, undefined), true);
  assert.deepEqual(seen, [["update", 1, 1], ["window", 2, 0]]);
});

test("other kinds and non-messages are ignored", () => {
  const dispatch = dispatcher({ [ToBrowser.UPDATE]: () => assert.fail("not this one") });
  assert.equal(dispatch({ kind: ToBrowser.BUNDLE }, []), false);
  assert.equal(dispatch({ kind: "toString" }, []), false);
  assert.equal(dispatch(null, []), false);
  assert.equal(dispatch("update", []), false);
});

test("a handler for a kind the protocol does not have is refused at once", () => {
  assert.throws(() => dispatcher({ updates: () => {} }), /not a message kind of the protocol: updates/);
});

test("limitOf reads a trait's value within bounds, else the default", () => {
  const recent = (v) => limitOf(v, Limit.RECENT_MIN, Limit.RECENT_MAX, Limit.RECENT_DEFAULT);
  assert.equal(recent(500), 500);
  assert.equal(recent(500.7), 500);
  assert.equal(recent(5000), Limit.RECENT_MAX);
  assert.equal(recent(0), Limit.RECENT_MIN);
  assert.equal(recent(undefined), Limit.RECENT_DEFAULT);
  assert.equal(recent(null), Limit.RECENT_DEFAULT);
  assert.equal(recent("many"), Limit.RECENT_DEFAULT);
});

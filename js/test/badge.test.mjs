// What the badge says (header.js badgeOf) and when the kernel counts as gone (watchdog.js).
import assert from "node:assert/strict";
import { test } from "node:test";
import { badgeOf, clock } from "../src/header.js";
import { createWatchdog } from "../src/watchdog.js";

test("connected and not paused is live; the feed's own word wins", () => {
  assert.equal(badgeOf({ state: "connected", reason: "connected" }).text, "live");
  assert.equal(badgeOf({ state: "connected", reason: "" }).why, "");
  assert.equal(badgeOf({ state: "connected", labels: { connected: "Connected" } }).text, "Connected");
});

test("paused says so and counts the events skipped in this pause", () => {
  const b = badgeOf({ state: "connected", paused: true, stats: { skipped_this_pause: 1234, skipped_while_paused: 9999 } });
  assert.deepEqual([b.key, b.text, b.why], ["paused", "paused", "1,234 events skipped"]);
  assert.equal(badgeOf({ state: "connected", paused: true, stats: { skipped_this_pause: 1 } }).why, "1 event skipped");
});

test("reconnecting, failed and closed keep the kernel's words", () => {
  const why = "connection lost; down for 3 s, attempt 2, next in 1 s";
  assert.deepEqual(badgeOf({ state: "reconnecting", reason: why, paused: true }), {
    key: "reconnecting",
    text: "reconnecting",
    why,
    sep: ": ",
  });
  assert.equal(badgeOf({ state: "failed", reason: "token invalid (4001)" }).why, "token invalid (4001)");
  // Closed is closed, whatever the silence: a closed widget's kernel sends nothing.
  assert.equal(badgeOf({ state: "closed", reason: "closed by the user", silentFor: 9 }).key, "closed");
});

test("silence from the kernel is 'kernel gone' over any live state", () => {
  for (const state of ["connected", "reconnecting", "failed"]) {
    const b = badgeOf({ state, paused: true, silentFor: 5.2 });
    assert.equal(b.key, "kernel-gone");
    assert.equal(b.text, "kernel gone");
    assert.match(b.why, /no answer from the kernel for 5 s/);
  }
});

test("a replay says its speed, where it is and how long the recording is", () => {
  const playback = { speed: 4, position: 12, length: 180, paused: false, finished: false };
  const b = badgeOf({ state: "connected", playback });
  assert.equal(`${b.text}${b.sep}${b.why}`, "replaying 4x, 00:12 of 03:00");
  const done = badgeOf({ state: "connected", playback: { ...playback, position: 180, finished: true } });
  assert.equal(`${done.text}${done.sep}${done.why}`, "replay finished, 03:00 of 03:00");
  assert.equal(badgeOf({ state: "connected", playback: { ...playback, length: null } }).why, "00:12");
  assert.equal(badgeOf({ state: "connected", playback: { ...playback, speed: null } }).text, "replaying at full speed");
  assert.equal(clock(3725), "1:02:05");
});

test("the watchdog says gone after the limit, counts the seconds, and recovers", () => {
  let t = 0;
  const said = [];
  const dog = createWatchdog({ limitMs: 4000, now: () => t, onChange: (s) => said.push(s) });
  t = 3999;
  dog.check(true);
  assert.deepEqual(said, []);
  t = 4000;
  dog.check(true);
  t = 4500;
  dog.check(true); // same whole second: said once
  t = 6100;
  dog.check(true);
  assert.deepEqual(said, [4, 6]);
  assert.ok(dog.gone);
  dog.heard();
  assert.deepEqual(said, [4, 6, null]);
  t = 20000;
  dog.check(false); // closed: silence is expected
  assert.deepEqual(said, [4, 6, null]);
});

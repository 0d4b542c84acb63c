// Connection state, feed identity and the latest counters. The badge says what is true
// now: live, paused (events skipped), replaying (where, of how long), connecting or
// reconnecting (the kernel's words: attempt, next try), failed (why), closed, or the
// kernel gone (nothing heard from it), when the counters are only the last known ones.
import { h } from "./dom.js";

const STATS = [
  ["events_per_second", "events/s"],
  ["events", "events"],
  ["rows", "rows"],
  ["reconnects", "reconnects"],
  ["parse_errors", "parse errors"],
];

// Badge words for states that are not the connection's own.
const WORDS = { "kernel-gone": "kernel gone", "no-kernel": "no kernel" };

function formatStat(key, value) {
  if (typeof value !== "number" || !Number.isFinite(value)) return "–";
  // One decimal like Python's str() of the rounded rate, so "5.0" reads the same on both sides.
  return key === "events_per_second" ? value.toFixed(1) : String(value);
}

/** Seconds as "mm:ss" (or "h:mm:ss" from an hour on). @example clock(192) === "03:12" */
export function clock(seconds) {
  const s = Math.max(0, Math.floor(Number(seconds) || 0));
  const two = (n) => String(n).padStart(2, "0");
  const hours = Math.floor(s / 3600);
  const rest = `${two(Math.floor((s % 3600) / 60))}:${two(s % 60)}`;
  return hours ? `${hours}:${rest}` : rest;
}

function speedWords(speed) {
  if (speed == null) return "at full speed";
  const n = Number(speed);
  return Number.isFinite(n) ? `${Number(n.toFixed(2))}x` : "";
}

function plural(n, word) {
  return `${n.toLocaleString("en-US")} ${word}${n === 1 ? "" : "s"}`;
}

/**
 * What the badge says, from what the view knows. Pure, so it is tested without a page.
 *
 * facts: {state, reason, paused, stats, playback, silentFor (seconds without a word from
 * the kernel, or null while it answers), labels (the feed's words for states)}.
 * Returns {key: the badge kind (data-badge), text, why, sep}.
 * @example badgeOf({state: "connected", paused: true, stats: {skipped_this_pause: 3}})
 *   // {key: "paused", text: "paused", why: "3 events skipped", sep: ", "}
 */
export function badgeOf({ state, reason, paused, stats, playback, silentFor, labels } = {}) {
  const key = String(state || "disconnected");
  const words = labels && typeof labels === "object" ? labels : {};
  const said = reason == null ? "" : String(reason).trim();
  const word = (k) => (typeof words[k] === "string" ? words[k] : (WORDS[k] ?? k));
  if (key === "closed") return { key, text: word(key), why: said, sep: ": " };
  if (silentFor != null) {
    return {
      key: "kernel-gone",
      text: WORDS["kernel-gone"],
      why: `no answer from the kernel for ${Math.round(silentFor)} s (restarted, shut down or busy); the counters are the last known`,
      sep: ": ",
    };
  }
  if (key !== "connected") return { key, text: word(key), why: said, sep: ": " };
  if (paused) {
    const s = stats ?? {};
    const n = Number(s.skipped_this_pause ?? s.skipped_while_paused);
    const why = Number.isFinite(n) ? `${plural(n, "event")} skipped` : "";
    return { key: "paused", text: "paused", why, sep: ", " };
  }
  if (playback && typeof playback === "object" && "position" in playback) {
    const length = playback.length == null ? null : Number(playback.length);
    const where = length == null ? clock(playback.position) : `${clock(playback.position)} of ${clock(length)}`;
    if (playback.finished) return { key: "replay-finished", text: "replay finished", why: where, sep: ", " };
    if (playback.paused) return { key: "replay-paused", text: "replay paused", why: where, sep: ", " };
    return { key: "replaying", text: `replaying ${speedWords(playback.speed)}`.trim(), why: where, sep: ", " };
  }
  const live = typeof words.connected === "string" ? words.connected : "live";
  // A reason that only repeats the state ("connected") adds nothing next to the badge.
  const why = ["connected", live.toLowerCase()].includes(said.toLowerCase()) ? "" : said;
  return { key: "live", text: live, why, sep: ": " };
}

export function createHeader() {
  const state = h("span", { class: "sw-state", "data-state": "disconnected", text: "disconnected" });
  // The separator is invisible next to the badge but keeps the text (copy, screen
  // readers, tests) reading "failed: token invalid or expired (4001)".
  const sep = h("span", { class: "sw-visually-hidden" });
  const reason = h("span", { class: "sw-reason", hidden: true });
  const status = h("span", { class: "sw-status", role: "status", "aria-live": "polite" }, [state, sep, reason]);
  const name = h("span", { class: "sw-feed-name" });
  const url = h("span", { class: "sw-feed-url" });
  const values = new Map();
  let shown = {};
  // Everything the badge is made of (see badgeOf).
  const facts = { state: "disconnected", reason: "", paused: false, playback: null, silentFor: null, labels: {} };
  const staleNote = h("span", { class: "sw-stats-note", text: "last known:", hidden: true });
  const stats = h("span", { class: "sw-stats" }, [
    staleNote,
    ...STATS.map(([key, label]) => {
      const value = h("span", { class: "sw-stat-value", "data-stat": key, text: "–" });
      values.set(key, value);
      return h("span", { class: "sw-stat" }, [value, h("span", { class: "sw-stat-label", text: label })]);
    }),
  ]);
  const node = h("div", { class: "sw-header" }, [
    status,
    h("span", { class: "sw-feed" }, [name, url]),
    stats,
  ]);

  function renderStats() {
    const paused = facts.paused && facts.state === "connected";
    for (const [key, node] of values) {
      const v = shown[key];
      // Paused, the feed's rate is no rate of what is shown: say so, not the last figure.
      if (key === "events_per_second" && paused) {
        node.textContent = "paused";
        delete node.dataset.value;
        continue;
      }
      node.textContent = formatStat(key, v);
      if (typeof v === "number") node.dataset.value = String(v);
      else delete node.dataset.value;
    }
  }

  function renderBadge() {
    const badge = badgeOf({ ...facts, stats: shown });
    state.dataset.state = facts.state === "closed" || badge.key !== "kernel-gone" ? facts.state : "kernel-gone";
    state.dataset.badge = badge.key;
    state.textContent = badge.text;
    reason.textContent = badge.why;
    reason.hidden = !badge.why;
    sep.textContent = badge.why ? badge.sep : "";
    status.title = badge.why ? `${badge.text}${badge.sep}${badge.why}` : badge.text;
    const stale = badge.key === "kernel-gone" || badge.key === "no-kernel";
    staleNote.hidden = !stale;
    stats.classList.toggle("sw-stale", stale);
    renderStats();
  }

  return {
    node,
    setState(value, why) {
      facts.state = String(value || "disconnected");
      facts.reason = why;
      renderBadge();
    },
    setFeed(feed) {
      name.textContent = feed?.name ? String(feed.name) : "";
      url.textContent = feed?.url ? String(feed.url) : "";
      url.title = url.textContent;
      facts.labels = feed?.states && typeof feed.states === "object" ? feed.states : {};
      renderBadge();
    },
    setStats(dict, replace) {
      shown = replace ? { ...dict } : { ...shown, ...dict };
      renderBadge();
    },
    /** Paused by the user: the badge counts the events skipped, the rate says "paused". */
    setPaused(paused) {
      facts.paused = Boolean(paused);
      renderBadge();
    },
    /** A replay's facts (the `playback` trait): position, length, speed, finished. */
    setPlayback(playback) {
      facts.playback = playback && typeof playback === "object" && Object.keys(playback).length ? playback : null;
      renderBadge();
    },
    /** Seconds without a word from the kernel, or null while it answers. */
    setKernelSilent(seconds) {
      facts.silentFor = seconds == null ? null : Number(seconds);
      renderBadge();
    },
  };
}

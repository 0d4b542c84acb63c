// Connection state, feed identity and the latest counters.
import { h } from "./dom.js";

const STATS = [
  ["events_per_second", "events/s"],
  ["events", "events"],
  ["rows", "rows"],
  ["reconnects", "reconnects"],
  ["parse_errors", "parse errors"],
];

function formatStat(key, value) {
  if (typeof value !== "number" || !Number.isFinite(value)) return "–";
  // One decimal like Python's str() of the rounded rate, so "5.0" reads the same on both sides.
  return key === "events_per_second" ? value.toFixed(1) : String(value);
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
  // The feed's own words for states ({connected: "Connected"}); the badge keeps the
  // state value in data-state for styling and shows the word.
  let labels = {};
  let last = ["disconnected", ""];
  const stats = h(
    "span",
    { class: "sw-stats" },
    STATS.map(([key, label]) => {
      const value = h("span", { class: "sw-stat-value", "data-stat": key, text: "–" });
      values.set(key, value);
      return h("span", { class: "sw-stat" }, [value, h("span", { class: "sw-stat-label", text: label })]);
    }),
  );
  const node = h("div", { class: "sw-header" }, [
    status,
    h("span", { class: "sw-feed" }, [name, url]),
    stats,
  ]);

  return {
    node,
    setState(value, why) {
      last = [value, why];
      const key = String(value || "disconnected");
      const text = typeof labels[key] === "string" ? labels[key] : key;
      // A reason that only repeats the state ("connected" / "connected") adds nothing
      // next to the badge, so then the badge stands alone.
      const said = why == null ? "" : String(why).trim();
      const extra = said.toLowerCase() === text.toLowerCase() ? "" : said;
      state.dataset.state = key;
      state.textContent = text;
      reason.textContent = extra;
      reason.hidden = !extra;
      sep.textContent = extra ? ": " : "";
      status.title = extra ? `${text}: ${extra}` : text;
    },
    setFeed(feed) {
      name.textContent = feed?.name ? String(feed.name) : "";
      url.textContent = feed?.url ? String(feed.url) : "";
      url.title = url.textContent;
      labels = feed?.states && typeof feed.states === "object" ? feed.states : {};
      this.setState(...last);
    },
    setStats(dict, replace) {
      shown = replace ? { ...dict } : { ...shown, ...dict };
      for (const [key, node] of values) {
        const v = shown[key];
        node.textContent = formatStat(key, v);
        if (typeof v === "number") node.dataset.value = String(v);
        else delete node.dataset.value;
      }
    },
  };
}

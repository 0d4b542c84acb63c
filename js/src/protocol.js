// What the browser half and the kernel half say to each other: the contract.
//
// Keep in sync with streamwidgets/widget/protocol.py, which holds the same groups, names
// and values and says what each trait and message carries (tests/widget/test_contract.py
// compares the two files and fails on any difference). Code uses these names, never the
// words themselves. Each group is one frozen object of `NAME: "word"` or `NAME: number`
// lines, the form the contract test reads; marked pure, so a bundle (the loader) keeps
// only the groups it uses.

/** Names of the synced traits the kernel sets and the browser reads. */
export const Trait = /* @__PURE__ */ Object.freeze({
  FEED: "feed",
  STATE: "state",
  REASON: "reason",
  AVAILABLE_STREAMS: "available_streams",
  SUBSCRIPTIONS: "subscriptions",
  PENDING: "pending",
  SUBSCRIBE_SUPPORTED: "subscribe_supported",
  PAUSED: "paused",
  FIELDS: "fields",
  CHARTS: "charts",
  MAX_POINTS: "max_points",
  RECENT: "recent",
  UPDATE_HZ: "update_hz",
  ERROR: "error",
  APP: "_app",
  PLAYBACK: "playback",
});

/** Model keys only the browser sets (saved with a notebook's widget state). */
export const BrowserState = /* @__PURE__ */ Object.freeze({
  SNAPSHOT: "_snapshot",
});

/** The `kind` of each custom message the kernel sends. */
export const ToBrowser = /* @__PURE__ */ Object.freeze({
  UPDATE: "update",
  WINDOW: "window",
  DOWNLOAD: "download",
  EXPORT_FAILED: "export_failed",
  BUNDLE: "bundle",
  HEARTBEAT: "heartbeat",
});

/** The `kind` of each custom message the browser sends. */
export const ToKernel = /* @__PURE__ */ Object.freeze({
  HELLO: "hello",
  SUBSCRIBE: "subscribe",
  UNSUBSCRIBE: "unsubscribe",
  PAUSE: "pause",
  RESUME: "resume",
  CLEAR: "clear",
  CHART: "chart",
  UNCHART: "unchart",
  ZOOM: "zoom",
  EXPORT: "export",
  BUNDLE: "bundle",
});

/** The `format` of an `export` request. */
export const ExportFormat = /* @__PURE__ */ Object.freeze({
  CSV: "csv",
  JSONL: "jsonl",
  PARQUET: "parquet",
});

/**
 * Bounds of the widget's arguments, their defaults, and sizes fixed on both sides. The
 * widget's own values come from the traits (max_points, recent, update_hz); the defaults
 * are the fallback for a model without them.
 */
export const Limit = /* @__PURE__ */ Object.freeze({
  UPDATE_HZ_MIN: 1,
  UPDATE_HZ_MAX: 30,
  UPDATE_HZ_DEFAULT: 20.0,
  MAX_POINTS_MIN: 10,
  MAX_POINTS_MAX: 100000,
  MAX_POINTS_DEFAULT: 2000,
  RECENT_MIN: 1,
  RECENT_MAX: 1000,
  RECENT_DEFAULT: 100,
  // Completed seconds the events-per-second chart keeps (one point each).
  RATE_SECONDS: 300,
  // Key values a split chart draws at most (the rest are counted in `others`).
  SPLIT_KEYS: 8,
  // Distinct key values a split chart remembers at most (`others` counts up to this).
  SPLIT_KEYS_REMEMBERED: 1000,
  // The longest pretty JSON sent for one recent event; the rest is cut.
  RECENT_JSON_CHARS: 4000,
  // Leaf fields sent per recent event (the table's columns); the rest are left out.
  RECENT_FIELDS: 32,
  // The longest text sent for one field of a recent event; the rest is cut ("…").
  RECENT_VALUE_CHARS: 120,
  // The largest file a `download` message carries (bytes).
  DOWNLOAD_MAX_BYTES: 268435456,
  // Seconds without any message after which an open widget sends a `heartbeat`.
  HEARTBEAT_SECONDS: 1,
  // Seconds without any message from the kernel after which a view says "kernel gone".
  KERNEL_SILENT_SECONDS: 3,
});

/**
 * A trait's whole-number value within [min, max], or `fallback` when the model lacks it
 * or holds something else.
 * @example limitOf(model.get(Trait.RECENT), Limit.RECENT_MIN, Limit.RECENT_MAX, Limit.RECENT_DEFAULT)
 */
export function limitOf(value, min, max, fallback) {
  const n = Number(value);
  if (value == null || !Number.isFinite(n)) return fallback;
  return Math.min(max, Math.max(min, Math.floor(n)));
}

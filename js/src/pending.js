// What arrived since the last drawn frame, merged so that a burst of messages (or a
// hidden tab where animation frames stop) costs at most one window's worth of memory
// and one draw per chart. Pure: no DOM, no plotly (node's test runner imports it).
import { float64 } from "./buffers.js";
import { Limit } from "./protocol.js";

export class Pending {
  /**
   * @param {{recentLimit?: number}} [options] recentLimit: recent events kept, the
   *   widget's `recent` trait (the kernel keeps as many).
   * @example new Pending({ recentLimit: model.get(Trait.RECENT) })
   */
  constructor({ recentLimit = Limit.RECENT_DEFAULT } = {}) {
    this.recentLimit = recentLimit;
    this.reset();
  }

  reset() {
    this.stats = null;
    this.statsReplace = false;
    // trace key (the id, or id and split key) -> { id, key, replace, xs: Float64Array[],
    // ys: Float64Array[], n }; key is null for an unsplit series.
    this.series = new Map();
    // chart id -> { keys, others } of split charts, as last sent (null: no news).
    this.splits = null;
    this.seriesReplaceAll = false;
    this.rates = [];
    this.ratesReplace = false;
    this.recent = [];
    this.recentReplace = false;
    this.updates = 0;
    this.windows = 0;
  }

  get empty() {
    return this.updates === 0 && this.windows === 0;
  }

  addUpdate(msg, buffers, maxPoints) {
    this.updates += 1;
    // An update's stats may name only what changed; a window's replace them all.
    if (msg.stats && typeof msg.stats === "object") this.stats = { ...this.stats, ...msg.stats };
    this._series(msg.series, buffers, false, maxPoints);
    this._splits(msg.splits);
    if (Array.isArray(msg.rates)) this._rates(msg.rates, false);
    if (Array.isArray(msg.recent)) this._recent(msg.recent, false);
  }

  addWindow(msg, buffers, maxPoints) {
    this.windows += 1;
    if (msg.stats && typeof msg.stats === "object") {
      this.stats = { ...msg.stats };
      this.statsReplace = true;
    }
    if (Array.isArray(msg.series)) {
      // A window sent when one series is charted carries only `series`, possibly just
      // the new one; only a full window (hello, clear) empties series it does not list.
      const full = "stats" in msg || "rates" in msg || "recent" in msg;
      if (full) {
        this.series.clear();
        this.seriesReplaceAll = true;
      }
      this._series(msg.series, buffers, true, maxPoints);
    }
    this._splits(msg.splits);
    if (Array.isArray(msg.rates)) this._rates(msg.rates, true);
    if (Array.isArray(msg.recent)) this._recent(msg.recent, true);
  }

  _series(entries, buffers, replace, maxPoints) {
    if (!Array.isArray(entries)) return;
    entries.forEach((entry, i) => {
      if (!entry || entry.id == null) return;
      const x = float64(buffers[2 * i], entry.n);
      const y = float64(buffers[2 * i + 1], entry.n);
      const n = Math.min(x.length, y.length);
      const key = entry.key == null ? null : String(entry.key);
      this.push(String(entry.id), x.subarray(0, n), y.subarray(0, n), replace, maxPoints, key);
    });
  }

  _splits(splits) {
    if (!splits || typeof splits !== "object" || Array.isArray(splits)) return;
    this.splits = { ...this.splits, ...splits };
  }

  /**
   * Queue points of one series (of one key of a split series when `key` is given);
   * replace drops whatever was queued or drawn before.
   */
  push(id, x, y, replace, maxPoints, key = null) {
    const at = key == null ? id : `${id}\u0000${key}`;
    let entry = this.series.get(at);
    if (replace || !entry) {
      entry = { id, key, replace, xs: [], ys: [], n: 0 };
      this.series.set(at, entry);
    }
    entry.xs.push(x);
    entry.ys.push(y);
    entry.n += x.length;
    // Older chunks would be cut by max_points anyway once the newer ones fill it.
    while (entry.xs.length > 1 && entry.n - entry.xs[0].length >= maxPoints) {
      entry.n -= entry.xs[0].length;
      entry.xs.shift();
      entry.ys.shift();
    }
  }

  _rates(entries, replace) {
    if (replace) {
      this.rates = [];
      this.ratesReplace = true;
    }
    for (const e of entries) if (e && Number.isFinite(e.t)) this.rates.push(e);
    if (this.rates.length > Limit.RATE_SECONDS) this.rates = this.rates.slice(-Limit.RATE_SECONDS);
  }

  _recent(items, replace) {
    if (replace) {
      this.recent = [];
      this.recentReplace = true;
    }
    for (const item of items) if (item) this.recent.push(item);
    if (this.recent.length > this.recentLimit) this.recent = this.recent.slice(-this.recentLimit);
  }
}

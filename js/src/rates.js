// The events/s chart's numbers: one value per stream per second, and their total.
// Pure: no DOM, no plotly (node's test runner imports it).
import { Limit } from "./protocol.js";

// Seconds kept, with room for the breaks inserted between them.
const KEEP = 2 * Limit.RATE_SECONDS;
// Consecutive seconds further apart than this had no entry between them: nothing says
// those seconds were quiet, so the lines break there rather than bridge the hole.
export const RATE_STEP_MS = 1500;

/**
 * Rate entries (`{t, counts}` or `{t, gap: true}`, one per completed second) as columns
 * aligned on `t`: `columns` stream -> values (NaN where the feed was not live, or before
 * the stream's first second), `total` the sum of every stream's count (NaN in a gap).
 * @example const r = new RateTable(); r.ingest([{ t: 1000, counts: { a: 3 } }], false);
 */
export class RateTable {
  constructor() {
    this.t = [];
    this.columns = new Map();
    this.total = [];
  }

  get streams() {
    return [...this.columns.keys()];
  }

  /**
   * Take entries (oldest first; `replace`: they are the whole window). Returns
   * `{fresh, gone}`: streams seen for the first time (sorted), and streams with no
   * second left in the window (dropped).
   */
  ingest(entries, replace) {
    const names = new Set();
    for (const entry of entries) for (const s of Object.keys(entry?.counts ?? {})) names.add(s);
    const gone = [];
    if (replace) {
      this.t = [];
      this.total = [];
      // The window says which streams there are: the others go.
      for (const [s, col] of this.columns) {
        col.length = 0;
        if (!names.has(s)) {
          this.columns.delete(s);
          gone.push(s);
        }
      }
    }
    const fresh = [...names].filter((s) => !this.columns.has(s)).sort();
    for (const s of fresh) this.columns.set(s, new Array(this.t.length).fill(NaN));
    for (const entry of entries) {
      const t = Number(entry?.t);
      if (!Number.isFinite(t)) continue;
      const last = this.t.length ? this.t[this.t.length - 1] : null;
      if (last !== null && t <= last) continue; // a second already taken
      if (last !== null && t - last > RATE_STEP_MS) this._push(last + 1000, null);
      this._push(t, entry.gap ? null : (entry.counts ?? {}));
    }
    const extra = this.t.length - KEEP;
    if (extra > 0) {
      this.t.splice(0, extra);
      this.total.splice(0, extra);
      for (const col of this.columns.values()) col.splice(0, extra);
    }
    for (const [s, col] of this.columns) {
      if (!col.some((v) => v === v)) {
        this.columns.delete(s);
        gone.push(s);
      }
    }
    return { fresh: fresh.filter((s) => this.columns.has(s)), gone };
  }

  _push(t, counts) {
    this.t.push(t);
    let total = counts ? 0 : NaN;
    for (const [s, col] of this.columns) {
      // A stream quiet for a whole second had zero events then; a second with no live
      // feed (disconnected, paused) or none known is a gap: NaN breaks the line there.
      const v = counts ? Number(counts[s]) || 0 : NaN;
      col.push(v);
      if (counts) total += v;
    }
    this.total.push(total);
  }
}

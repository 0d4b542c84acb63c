// What the live table shows, decided without the DOM (node's test runner imports it):
// which rows pass the view's filter, which field columns to show, and each cell's text.

// Field columns shown at most; a wider event keeps the rest for the inspector.
export const MAX_COLUMNS = 16;

function pad(n, width = 2) {
  return String(n).padStart(width, "0");
}

/**
 * A time of day in UTC with milliseconds (the table's header says "UTC" once): the
 * millisecond the instant falls in, as pandas shows it (a Date alone would round a time
 * before 1970 towards 1970).
 * @example utcTime(Date.UTC(2026, 0, 2, 3, 4, 5, 67)) // "03:04:05.067"
 */
export function utcTime(ms) {
  const d = new Date(Math.floor(Number(ms)));
  if (Number.isNaN(d.getTime())) return "--:--:--.---";
  return `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}`;
}

/**
 * The full date and time in UTC, for a cell's tooltip.
 * @example utcStamp(0) // "1970-01-01 00:00:00.000 UTC"
 */
export function utcStamp(ms) {
  const d = new Date(Math.floor(Number(ms)));
  if (Number.isNaN(d.getTime())) return "";
  return `${d.toISOString().slice(0, 10)} ${utcTime(ms)} UTC`;
}

/**
 * A field value as a cell shows it: strings as sent (no quotes), numbers in JavaScript's
 * shortest exact form, null as "null", anything else as compact JSON.
 * @example cellText(1.5) // "1.5"
 * @example cellText("a<b") // "a<b" (set with textContent, never as markup)
 */
export function cellText(value) {
  if (value === undefined) return "";
  if (typeof value === "string") return value;
  if (value === null) return "null";
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

/** The item's fields, or an empty object for an item without them. */
export function fieldsOf(item) {
  const fields = item?.fields;
  return fields && typeof fields === "object" && !Array.isArray(fields) ? fields : {};
}

/**
 * A row filter: `hidden` (streams a stream toggle hides), `stream` and `type` (one value
 * each, or null for all).
 * @example matches({ stream: "a", type: "t" }, { stream: "a", type: null, hidden: new Set() }) // true
 */
export function matches(item, { stream = null, type = null, hidden = null } = {}) {
  const s = item?.stream == null ? "" : String(item.stream);
  if (hidden && s && hidden.has(s)) return false;
  if (stream !== null && s !== stream) return false;
  if (type !== null && String(item?.type ?? "") !== type) return false;
  return true;
}

/**
 * The rows to show, newest first: `items` is oldest first (as the kernel sends them).
 * @example visibleRows([{seq: 1}, {seq: 2}], {}).map((i) => i.seq) // [2, 1]
 */
export function visibleRows(items, filter) {
  const out = [];
  for (let i = items.length - 1; i >= 0; i--) if (matches(items[i], filter)) out.push(items[i]);
  return out;
}

/**
 * Field columns for `rows`, at most `max`: each kind of event (stream and type) gets its
 * share, its fields in payload order, taken in turns (first fields of every kind, then
 * second fields...; kinds in name order), so a table of mixed streams shows some of
 * every stream's fields and the choice does not depend on which stream sent the most.
 * Columns shown before (`previous`) keep their order, so the columns stay put as rows
 * stream by and move only when a kind of event comes or goes.
 * @example chooseColumns([{stream: "a", type: "t", fields: {"data.x": 1, "data.y": 2}},
 *   {stream: "b", type: "t", fields: {"data.z": 3}}], [], 2) // ["data.x", "data.z"]
 */
export function chooseColumns(rows, previous = [], max = MAX_COLUMNS) {
  const kinds = new Map();
  for (const row of rows) {
    const kind = `${row?.stream ?? ""}\u0000${row?.type ?? ""}`;
    let names = kinds.get(kind);
    if (!names) kinds.set(kind, (names = new Set()));
    for (const name of Object.keys(fieldsOf(row))) names.add(name);
  }
  const lists = [...kinds.keys()].sort().map((kind) => [...kinds.get(kind)]);
  const chosen = new Set();
  for (let i = 0; chosen.size < max; i++) {
    let more = false;
    for (const names of lists) {
      if (i >= names.length) continue;
      more = true;
      if (chosen.size < max) chosen.add(names[i]);
    }
    if (!more) break;
  }
  const columns = previous.filter((name) => chosen.has(name));
  const kept = new Set(columns);
  for (const name of chosen) if (!kept.has(name)) columns.push(name);
  return columns;
}

/**
 * The distinct values of `key` ("stream" or "type") among `items`, sorted; `keep` (a
 * chosen filter value) stays listed even when no item has it any more.
 * @example choices([{stream: "b"}, {stream: "a"}, {stream: "b"}], "stream") // ["a", "b"]
 */
export function choices(items, key, keep = null) {
  const seen = new Set();
  for (const item of items) {
    const v = item?.[key];
    if (v != null && v !== "") seen.add(String(v));
  }
  if (keep !== null) seen.add(keep);
  return [...seen].sort();
}

/**
 * "shown of total" for the rows line.
 * @example countText(3, 10, false) // "3 of 10 rows"
 */
export function countText(shown, total) {
  const n = (v) => Number(v).toLocaleString("en-US");
  return shown === total ? `${n(total)} rows` : `${n(shown)} of ${n(total)} rows`;
}

/**
 * What the freeze line says: how many events arrived since the view froze.
 * @example frozenText(1234) // "frozen, 1,234 new"
 */
export function frozenText(fresh) {
  return `frozen, ${Math.max(0, Number(fresh) || 0).toLocaleString("en-US")} new`;
}

/**
 * Events the items stand for, per item shown: the kernel sends a few recent events per
 * update, so at a high rate the table holds a sample of the feed, not every event.
 * `items` carry the buffer's `seq` (one number per event, consecutive); holes between
 * them are events not sent. Returns 1 when there are none (or nothing to tell by).
 * @example sampleEvery([{seq: 10}, {seq: 20}, {seq: 30}]) // 10
 */
export function sampleEvery(items) {
  let lo = Infinity;
  let hi = -Infinity;
  let n = 0;
  for (const item of items) {
    const seq = item?.seq == null ? NaN : Number(item.seq);
    if (!Number.isFinite(seq)) continue;
    if (seq < lo) lo = seq;
    if (seq > hi) hi = seq;
    n += 1;
  }
  if (n < 2) return 1;
  // Seqs are distinct: each row after the first stands for the events since the one
  // before it, (hi - lo) of them over n - 1 rows; 1 when there are no holes.
  return Math.max(1, Math.round((hi - lo) / (n - 1)));
}

/**
 * What the table says when it holds a sample ("" when it holds every event).
 * @example sampleText(10) // "showing a sample: 1 in 10 events"
 */
export function sampleText(every) {
  return every > 1 ? `showing a sample: 1 in ${Math.round(every).toLocaleString("en-US")} events` : "";
}

/**
 * The rows a scroller of fixed-height rows draws: those in view, `overscan` more on each
 * side (a wheel's scroll then shows drawn rows until the next frame draws the new ones),
 * and the space the rows above and below would take, so the scroll height stays that of
 * every row. `top` and `height`: the scroller's scrollTop and visible height, px.
 * @example rowWindow(500, 0, 300, 20, 8) // { first: 0, last: 23, above: 0, below: 9540 }
 */
export function rowWindow(count, top, height, rowPx, overscan) {
  const n = Math.max(0, Math.floor(Number(count) || 0));
  const at = Math.max(0, Number(top) || 0);
  const first = Math.min(n, Math.max(0, Math.floor(at / rowPx) - overscan));
  const last = Math.min(n, Math.max(first, Math.ceil((at + Math.max(0, height)) / rowPx) + overscan));
  return { first, last, above: first * rowPx, below: (n - last) * rowPx };
}

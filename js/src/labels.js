// Words on the charts, fitted to the room they have. Pure: no DOM, no plotly (node's
// test runner imports it).

/** A field's name without the buffer's "data." prefix (a y axis title). */
export function shortField(field) {
  const s = String(field ?? "");
  return s.startsWith("data.") ? s.slice(5) : s;
}

/** `text` cut to `chars` characters, "…" marking the cut. */
export function clip(text, chars) {
  const s = String(text);
  return s.length <= chars ? s : `${s.slice(0, Math.max(1, chars - 1))}\u2026`;
}

/**
 * A split chart's keys as lines of `{text, color}` items, each line at most `chars`
 * characters (a swatch and spacing count 4), at most `maxLines` lines; `more` counts
 * the keys left out (those that did not fit plus `others`, the keys not drawn at all).
 * @example keyLines([{ text: "BTC", color: "#f00" }], 3, 40) // {lines: [[...]], more: 3}
 */
export function keyLines(items, others, chars, maxLines = 2) {
  const lines = [];
  let line = [];
  let used = 0;
  let shown = 0;
  for (const item of items) {
    const w = String(item.text).length + 4;
    if (line.length && used + w > chars) {
      lines.push(line);
      line = [];
      used = 0;
      if (lines.length === maxLines) break;
    }
    line.push(item);
    used += w;
    shown += 1;
  }
  if (line.length && lines.length < maxLines) lines.push(line);
  return { lines, more: Math.max(0, others) + (items.length - shown) };
}

/**
 * A chart's title as at most two lines of at most `chars` characters: one line when it
 * fits; else what is charted first ("data.price by symbol"), then where it comes from
 * ("markets / market_update"), so a narrow output still names the field and the split.
 * Only a line that alone is longer than `chars` is cut, with "…".
 * @example titleLines({ stream: "m", type: "t", field: "data.p", by: "data.s" }, 40)
 *   // ["m / t / data.p by s"]
 */
export function titleLines(chart, chars) {
  const where = [chart.stream, chart.type].filter((p) => p != null && p !== "").map(String).join(" / ");
  const what = chart.by ? `${chart.field} by ${shortField(chart.by)}` : String(chart.field);
  const whole = where ? `${where} / ${what}` : what;
  if (whole.length <= chars || !where) return [clip(whole, chars)];
  return [clip(what, chars), clip(where, chars)];
}

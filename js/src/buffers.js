// Binary buffers reach the browser as DataView (ipywidgets) or ArrayBuffer (other hosts).

/** The float64 values of a buffer, as a view when aligned, else as a copy. */
export function float64(buf, n) {
  if (!buf) return new Float64Array(0);
  const base = buf.buffer ?? buf;
  const offset = buf.byteOffset ?? 0;
  const available = Math.floor(buf.byteLength / 8);
  const count = Number.isInteger(n) && n >= 0 ? Math.min(n, available) : available;
  // Float64Array views need 8-byte-aligned offsets; a packed comm message may not give one.
  if (offset % 8 === 0) return new Float64Array(base, offset, count);
  return new Float64Array(base.slice(offset, offset + count * 8));
}

/** The raw bytes of a buffer, whatever its wrapper. */
export function bytesOf(buf) {
  if (!buf) return new Uint8Array(0);
  return new Uint8Array(buf.buffer ?? buf, buf.byteOffset ?? 0, buf.byteLength);
}

/** One Float64Array of the chunks, keeping only the last `limit` values. */
export function concatTail(chunks, limit) {
  let total = 0;
  for (const c of chunks) total += c.length;
  const keep = Math.max(0, Math.min(total, limit));
  const out = new Float64Array(keep);
  let skip = total - keep;
  let at = 0;
  for (const c of chunks) {
    if (skip >= c.length) {
      skip -= c.length;
      continue;
    }
    const part = skip > 0 ? c.subarray(skip) : c;
    skip = 0;
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** A rough size of a message for the perf counters, without re-serialising it. */
export function messageSize(msg, buffers) {
  let size = 0;
  for (const b of buffers ?? []) size += b?.byteLength ?? 0;
  if (!msg || typeof msg !== "object") return size;
  size += 64;
  if (msg.stats) size += 24 * Object.keys(msg.stats).length;
  for (const s of msg.series ?? []) size += 24 + String(s.id).length;
  for (const r of msg.rates ?? []) size += 24 + 16 * Object.keys(r.counts ?? {}).length;
  for (const item of msg.recent ?? []) {
    size += 96 + String(item.json ?? "").length + String(item.stream ?? "").length;
  }
  return size;
}

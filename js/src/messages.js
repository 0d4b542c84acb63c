// Custom messages from the kernel reach their handler through one table, kind -> handler.
// Pure: no DOM, no plotly (node's test runner imports it).
import { ToBrowser } from "./protocol.js";

const KINDS = new Set(Object.values(ToBrowser));

/**
 * A `msg:custom` listener that calls `handlers[msg.kind](msg, buffers)` (buffers always
 * an array) and returns whether a handler ran. Kinds without a handler are ignored: the
 * loader's own `bundle` reply reaches every listener of the model too.
 * Throws when a key is not a kind of `ToBrowser`, so a misspelt kind fails at once
 * instead of never matching.
 * @example model.on("msg:custom", dispatcher({ [ToBrowser.UPDATE]: (msg, buffers) => {} }))
 */
export function dispatcher(handlers) {
  const table = new Map(Object.entries(handlers));
  for (const kind of table.keys()) {
    if (!KINDS.has(kind)) throw new Error(`not a message kind of the protocol: ${kind}`);
  }
  return (msg, buffers) => {
    if (!msg || typeof msg !== "object") return false;
    const handle = table.get(msg.kind);
    if (!handle) return false;
    handle(msg, Array.isArray(buffers) ? buffers : []);
    return true;
  };
}

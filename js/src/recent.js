// The newest events, newest first. Entries are plain <details> so the browser handles
// open/close and keyboard access without any per-entry listener.
import { h } from "./dom.js";
import { Limit } from "./protocol.js";

const PREVIEW_CHARS = 200;

function pad(n, width = 2) {
  return String(n).padStart(width, "0");
}

export function localTime(ms) {
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) return "--:--:--.---";
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

function preview(json) {
  const flat = String(json ?? "").replace(/\s*\n\s*/g, " ");
  return flat.length > PREVIEW_CHARS ? `${flat.slice(0, PREVIEW_CHARS)}…` : flat;
}

function entry(item, hidden) {
  const stream = item.stream == null ? "" : String(item.stream);
  const summary = h("summary", {}, [
    h("span", { class: "sw-event-time", text: localTime(item.time) }),
    h("span", { class: "sw-event-stream", text: stream || "—" }),
    h("span", { class: "sw-event-type", text: String(item.type ?? "") }),
    item.snapshot ? h("span", { class: "sw-snapshot", text: "snapshot" }) : null,
    h("span", { class: "sw-event-preview", text: preview(item.json) }),
  ]);
  const node = h("details", { class: "sw-event", dataset: { seq: String(item.seq), stream } }, [
    summary,
    h("pre", { class: "sw-event-json", text: String(item.json ?? "") }),
  ]);
  if (stream && hidden.has(stream)) node.hidden = true;
  return node;
}

/** The recent list; `limit`: entries kept, the widget's `recent` trait (see setLimit). */
export function createRecent(limit = Limit.RECENT_DEFAULT) {
  // A log, but not a live region: a screen reader should not read a feed at 100 events/s.
  const list = h("div", { class: "sw-recent", role: "log", "aria-live": "off", "aria-label": "recent events" });
  return {
    node: list,
    /** Draw items (oldest first); returns the highest seq drawn, or null. */
    apply(items, replace, hidden) {
      if (replace) list.replaceChildren();
      const shown = items.slice(-limit);
      if (!shown.length) return null;
      const fragment = document.createDocumentFragment();
      let top = null;
      for (let i = shown.length - 1; i >= 0; i--) {
        fragment.append(entry(shown[i], hidden));
        const seq = Number(shown[i].seq);
        if (Number.isFinite(seq) && (top === null || seq > top)) top = seq;
      }
      list.prepend(fragment);
      while (list.childElementCount > limit) list.lastElementChild.remove();
      return top;
    },
    /** Keep at most `n` entries from now on (a smaller `n` drops the oldest at once). */
    setLimit(n) {
      limit = n;
      while (list.childElementCount > limit) list.lastElementChild.remove();
    },
    setHidden(hidden) {
      for (const node of list.children) {
        node.hidden = Boolean(node.dataset.stream) && hidden.has(node.dataset.stream);
      }
    },
    streams() {
      return new Set(Array.from(list.children, (n) => n.dataset.stream).filter(Boolean));
    },
  };
}

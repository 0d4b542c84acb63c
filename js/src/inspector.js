// One event, opened from the table: a JSON tree of the payload as sent. It keeps its own
// copy of the event, so it stays put while the table streams on and after the row left.
// Containers are <details>, so the browser gives open/close by mouse and keyboard.
import { h } from "./dom.js";
import { parseJsonTree, summary } from "./jsontree.js";
import { utcStamp } from "./table_model.js";

// Levels open when an event is shown; deeper containers start closed.
const OPEN_LEVELS = 2;

function keyLabel(node, parentType) {
  if (node.key === null) return null;
  // Array indices are positions, not names: no quotes.
  return h("span", { class: "sw-json-key", text: parentType === "array" ? `${node.key}:` : `${JSON.stringify(node.key)}:` });
}

function treeNode(node, depth, parentType) {
  if (node.type === "object" || node.type === "array") {
    const box = h("details", { class: "sw-json-node", dataset: { type: node.type } }, [
      h("summary", {}, [
        keyLabel(node, parentType),
        h("span", { class: "sw-json-size", text: summary(node) }),
      ]),
      h("div", { class: "sw-json-children" }, node.children.map((c) => treeNode(c, depth + 1, node.type))),
    ]);
    box.open = depth < OPEN_LEVELS;
    return box;
  }
  return h("div", { class: "sw-json-leaf", dataset: { type: node.type } }, [
    keyLabel(node, parentType),
    h("span", { class: `sw-json-value sw-json-${node.type}`, text: summary(node) }),
  ]);
}

/** The inspector panel; `onClose` runs when the user closes it. */
export function createInspector({ onClose = () => {} } = {}) {
  const title = h("span", { class: "sw-inspector-title" });
  const close = h("button", {
    type: "button",
    class: "sw-inspector-close",
    text: "Close",
    "aria-label": "close the event inspector",
  });
  const body = h("div", { class: "sw-inspector-body" });
  const node = h("section", { class: "sw-inspector", role: "region", "aria-label": "event inspector", hidden: true }, [
    h("div", { class: "sw-inspector-head" }, [title, close]),
    body,
  ]);
  let shown = null;
  function hide() {
    shown = null;
    node.hidden = true;
    body.replaceChildren();
    delete node.dataset.seq;
    onClose();
  }
  close.addEventListener("click", hide);
  node.addEventListener("keydown", (event) => {
    if (event.key === "Escape") hide();
  });

  return {
    node,
    /** The seq of the event shown, or null. */
    get seq() {
      return shown === null ? null : shown.seq;
    },
    show(item) {
      shown = item;
      node.hidden = false;
      node.dataset.seq = String(item.seq);
      const parts = [`event ${item.seq}`, item.stream, item.type, utcStamp(item.time)];
      title.textContent = parts.filter((p) => p != null && p !== "").join(" · ");
      const json = String(item.json ?? "");
      const tree = parseJsonTree(json);
      if (tree) {
        body.replaceChildren(h("div", { class: "sw-json-tree" }, [treeNode(tree, 0, null)]));
      } else {
        // Cut at the size limit, or not JSON: the text as sent.
        const why = json.endsWith("(cut)") ? "cut at the size limit; shown as text" : "shown as text";
        body.replaceChildren(
          h("div", { class: "sw-inspector-note", text: why }),
          h("pre", { class: "sw-inspector-text", text: json }),
        );
      }
    },
    close: hide,
  };
}

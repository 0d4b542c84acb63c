// Everything the user clicks. Buttons only send requests; what they show comes from the
// traits the kernel sets back, so two views of one widget never disagree.
import { attr, h } from "./dom.js";
import { seriesLabel } from "./charts.js";
import { fieldOptions, searchMatches } from "./picker_model.js";
import { ExportFormat, ToKernel } from "./protocol.js";

const NO_SUBSCRIBE_NOTE = "this feed has no subscribe step";
// How long Clear's question waits for an answer before it goes away.
const CLEAR_ASK_MS = 8000;
const FORMAT_WORDS = {
  [ExportFormat.CSV]: "CSV",
  [ExportFormat.JSONL]: "JSON lines",
  [ExportFormat.PARQUET]: "Parquet",
};

/**
 * What the export status line says once a file is ready.
 * @example readyText({ filename: "a.csv", rows: 5500, bytes: 1759965 })
 *   // "file ready: a.csv (5,500 rows, 1.7 MB)"
 */
export function readyText(msg) {
  const rows = Number(msg?.rows);
  const count = Number.isFinite(rows) ? `${rows.toLocaleString("en-US")} rows, ` : "";
  return `file ready: ${String(msg?.filename ?? "")} (${count}${sizeText(Number(msg?.bytes))})`;
}

function sizeText(bytes) {
  if (!Number.isFinite(bytes)) return "size unknown";
  if (bytes < 1000) return `${bytes} B`;
  if (bytes < 1e6) return `${(bytes / 1e3).toFixed(1)} kB`;
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

export function createControls({ send, onExport, onFilter }) {
  // --- stream toggles -------------------------------------------------------------
  const buttons = new Map();
  let streamState = { supported: true };
  const note = h("span", { class: "sw-streams-note", text: NO_SUBSCRIBE_NOTE, hidden: true });
  const toggles = h("span", { class: "sw-stream-list" });
  const streams = h("div", { class: "sw-streams", role: "group", "aria-label": "streams" }, [
    h("span", { class: "sw-label", text: "streams" }),
    toggles,
    note,
  ]);
  streams.addEventListener("click", (event) => {
    const button = event.target.closest?.(".sw-stream");
    if (!button || button.disabled) return;
    const name = button.dataset.stream;
    if (!streamState.supported) {
      onFilter(name);
      return;
    }
    const subscribed = streamState.subscriptions.includes(name);
    send({ kind: subscribed ? ToKernel.UNSUBSCRIBE : ToKernel.SUBSCRIBE, stream: name });
  });

  function renderStreams({ names, subscriptions, pending, supported, hidden, note: said }) {
    streamState = { names, subscriptions, pending, supported, hidden };
    note.hidden = supported;
    note.textContent = typeof said === "string" && said ? said : NO_SUBSCRIBE_NOTE;
    streams.dataset.mode = supported ? "subscribe" : "filter";
    for (const [name, button] of buttons) {
      if (!names.includes(name)) {
        button.remove();
        buttons.delete(name);
      }
    }
    // Re-use buttons so a click never loses focus to a rebuild.
    names.forEach((name, index) => {
      let button = buttons.get(name);
      if (!button) {
        button = h("button", { type: "button", class: "sw-stream", dataset: { stream: name }, text: name });
        buttons.set(name, button);
      }
      if (toggles.children[index] !== button) toggles.insertBefore(button, toggles.children[index] ?? null);
      if (supported) {
        const on = subscriptions.includes(name);
        const busy = pending.includes(name);
        attr(button, "aria-pressed", String(on));
        attr(button, "data-pending", busy ? "true" : null);
        attr(button, "aria-busy", busy ? "true" : null);
        button.disabled = busy;
        button.title = busy ? `${name}: request in flight` : on ? `unsubscribe from ${name}` : `subscribe to ${name}`;
      } else {
        const shown = !hidden.has(name);
        attr(button, "aria-pressed", String(shown));
        attr(button, "data-pending", null);
        attr(button, "aria-busy", null);
        button.disabled = false;
        button.title = shown ? `hide ${name} here` : `show ${name} here`;
      }
    });
  }

  // --- pause, clear (asks first), export, error ------------------------------------
  let paused = false;
  const pause = h("button", { type: "button", class: "sw-pause", text: "Pause", "aria-pressed": "false" });
  pause.addEventListener("click", () => send({ kind: paused ? ToKernel.RESUME : ToKernel.PAUSE }));
  const clear = h("button", {
    type: "button",
    class: "sw-clear",
    text: "Clear",
    title: "empty the buffer and the charts (asks first)",
    "aria-expanded": "false",
  });
  const confirmYes = h("button", { type: "button", class: "sw-clear-confirm", text: "Yes, clear" });
  const confirmNo = h("button", { type: "button", class: "sw-clear-cancel", text: "Cancel" });
  const confirmBox = h("span", { class: "sw-clear-ask", role: "group", "aria-label": "confirm clear", hidden: true }, [
    h("span", { class: "sw-clear-question", text: "Empty the buffer (w.df), charts and recent events?" }),
    confirmYes,
    confirmNo,
  ]);
  let confirmTimer = 0;
  function askClear(open) {
    clearTimeout(confirmTimer);
    confirmBox.hidden = !open;
    clear.hidden = open;
    attr(clear, "aria-expanded", String(open));
    if (open) {
      // Unanswered, the question goes away: a stray click later must not clear.
      confirmTimer = setTimeout(() => askClear(false), CLEAR_ASK_MS);
      confirmNo.focus();
    }
  }
  clear.addEventListener("click", () => askClear(true));
  confirmNo.addEventListener("click", () => {
    askClear(false);
    clear.focus();
  });
  confirmYes.addEventListener("click", () => {
    askClear(false);
    send({ kind: ToKernel.CLEAR });
  });
  confirmBox.addEventListener("keydown", (event) => {
    if (event.key === "Escape") askClear(false);
  });

  const exportStatus = h("span", { class: "sw-export-status", role: "status", "aria-live": "polite", hidden: true });
  const exporters = [
    [ExportFormat.CSV, "Export CSV"],
    [ExportFormat.JSONL, "Export JSON lines"],
    [ExportFormat.PARQUET, "Export Parquet"],
  ].map(([format, label]) => {
    const button = h("button", { type: "button", class: "sw-export", dataset: { format }, text: label });
    button.addEventListener("click", () => {
      setExportStatus("building", `building the ${FORMAT_WORDS[format] ?? format} file…`);
      onExport(format);
    });
    return button;
  });
  function setExportStatus(state, text) {
    exportStatus.dataset.state = state;
    exportStatus.textContent = text;
    exportStatus.hidden = !text;
  }
  const error = h("div", { class: "sw-error", role: "alert", hidden: true });
  const actions = h("div", { class: "sw-controls" }, [pause, clear, confirmBox, ...exporters, exportStatus]);

  // --- field picker and chart chips -------------------------------------------------
  // A search box narrows the <select> as you type; Enter (or Chart) charts the choice,
  // split by the key chosen next to it.
  const search = h("input", {
    type: "search",
    class: "sw-field-search",
    placeholder: "search fields…",
    "aria-label": "search numeric fields",
    autocomplete: "off",
    spellcheck: "false",
  });
  const picker = h("select", { class: "sw-field-picker", "aria-label": "numeric field to chart" });
  const placeholder = h("option", { value: "", text: "no numeric fields yet", disabled: true });
  const measureGroup = h("optgroup", { label: "measurements" });
  const otherGroup = h("optgroup", { label: "other numbers: ids, counters, times" });
  picker.append(placeholder, measureGroup, otherGroup);
  const splitBy = h("select", { class: "sw-split-by", "aria-label": "split by", disabled: true });
  const split = h("label", { class: "sw-split", title: "one line per value of this field" }, [
    h("span", { class: "sw-label-inline", text: "split by" }),
    splitBy,
  ]);
  const add = h("button", { type: "button", class: "sw-add-field", text: "Chart", disabled: true });
  const chips = h("span", { class: "sw-chart-chips" });
  let charted = new Set();
  let optionKeys = new Map();
  const chosenBy = () => (splitBy.value === "" ? null : splitBy.value);
  const chartKey = (key, by) =>
    JSON.stringify({ stream: key.stream ?? null, type: key.type, field: key.field, by: by ?? null });
  const updateAdd = () => {
    add.disabled = !picker.value || charted.has(chartKey(JSON.parse(picker.value), chosenBy()));
  };
  // The split choices follow the chosen field's group; the first key is the default.
  let splitFor = null;
  function renderSplit() {
    if (picker.value === splitFor) return;
    splitFor = picker.value;
    const keys = optionKeys.get(picker.value) ?? [];
    splitBy.replaceChildren(
      h("option", { value: "", text: "none" }),
      ...keys.map((k) => h("option", { value: k, text: k })),
    );
    splitBy.value = keys[0] ?? "";
    splitBy.disabled = !picker.value || keys.length === 0;
  }
  function chartChosen() {
    updateAdd();
    if (add.disabled) return;
    const key = JSON.parse(picker.value);
    send({ kind: ToKernel.CHART, stream: key.stream, type: key.type, field: key.field, by: chosenBy() });
  }
  function applySearch() {
    const query = search.value;
    let shown = 0;
    for (const group of [measureGroup, otherGroup]) {
      let any = false;
      for (const o of group.children) {
        o.hidden = !searchMatches(o.textContent, query);
        if (!o.hidden) any = true;
        if (!o.hidden) shown += 1;
      }
      group.hidden = !any;
    }
    const total = optionKeys.size;
    placeholder.textContent = !total
      ? "no numeric fields yet"
      : query.trim()
        ? `${shown} of ${total} fields match`
        : "choose a numeric field…";
    picker.dataset.matches = String(shown);
    // The choice follows the search: the first match, once what was chosen is filtered out.
    const current = picker.selectedOptions[0];
    if (query.trim() && (!current || current.hidden || current === placeholder)) {
      const first = picker.querySelector("optgroup:not([hidden]) > option:not([hidden])");
      picker.value = first ? first.value : "";
    }
    renderSplit();
    updateAdd();
  }
  search.addEventListener("input", applySearch);
  search.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      chartChosen();
    } else if (event.key === "ArrowDown") {
      event.preventDefault();
      picker.focus();
    }
  });
  picker.addEventListener("change", () => {
    renderSplit();
    updateAdd();
  });
  splitBy.addEventListener("change", updateAdd);
  add.addEventListener("click", chartChosen);
  chips.addEventListener("click", (event) => {
    const button = event.target.closest?.(".sw-unchart");
    const chip = button?.closest(".sw-chart-chip");
    if (chip) send({ kind: ToKernel.UNCHART, id: chip.dataset.id });
  });
  const fieldsRow = h("div", { class: "sw-fields" }, [
    h("span", { class: "sw-label", text: "chart" }),
    h("span", { class: "sw-picker", role: "group", "aria-label": "chart a field" }, [search, picker, split, add]),
    chips,
  ]);

  let fieldsShown = null;
  function renderFields(fields) {
    const options = fieldOptions(fields, seriesLabel);
    // Rebuilding the options closes an open dropdown; only do it when they change.
    const signature = JSON.stringify(options.map((o) => [o.value, o.group, o.keys]));
    if (signature === fieldsShown) return;
    fieldsShown = signature;
    const keep = picker.value;
    optionKeys = new Map(options.map((o) => [o.value, o.keys]));
    const make = (o) => h("option", { value: o.value, text: o.label, dataset: { group: o.group } });
    measureGroup.replaceChildren(...options.filter((o) => o.group === "measure").map(make));
    otherGroup.replaceChildren(...options.filter((o) => o.group === "other").map(make));
    picker.value = options.some((o) => o.value === keep) ? keep : "";
    picker.disabled = options.length === 0;
    search.disabled = options.length === 0;
    // New keys for the chosen field's group: offer them again.
    splitFor = null;
    applySearch();
  }

  function renderCharts(charts, colorOf) {
    charted = new Set(charts.map((c) => chartKey(c, c.by)));
    chips.replaceChildren(
      ...charts.map((chart) => {
        const label = seriesLabel(chart);
        const swatch = h("span", { class: "sw-chip-swatch", "aria-hidden": "true" });
        swatch.style.backgroundColor = colorOf(String(chart.id));
        return h("span", { class: "sw-chart-chip", dataset: { id: String(chart.id) } }, [
          swatch,
          h("span", { class: "sw-chip-label", text: label }),
          h("button", { type: "button", class: "sw-unchart", "aria-label": `stop charting ${label}`, title: "remove", text: "×" }),
        ]);
      }),
    );
    updateAdd();
  }

  return {
    nodes: [streams, actions, error, fieldsRow],
    renderStreams,
    renderFields,
    renderCharts,
    setPaused(value) {
      paused = Boolean(value);
      pause.textContent = paused ? "Resume" : "Pause";
      attr(pause, "aria-pressed", String(paused));
    },
    /** The export status line: `state` is building, ready or failed. */
    setExportStatus,
    dispose() {
      clearTimeout(confirmTimer);
    },
    setError(text) {
      error.textContent = text ? String(text) : "";
      error.hidden = !text;
    },
  };
}

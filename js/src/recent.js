// The live table of the newest events, newest first: time (UTC), stream, type and the
// events' fields as columns, with a filter by stream and type, a freeze that holds the
// view while the buffer keeps filling, and an inspector for one event.
//
// Cheap at a high feed rate: it is drawn at most a few times a second, in an animation
// frame; only the rows in the scroller's view (and a few around them) are in the DOM,
// each of one fixed height, with a spacer row above and below standing for the others,
// so a draw costs the same for 20 rows kept as for 1,000 and the scroll height is that
// of every row. Drawn rows are keyed by seq, so a frame only moves the rows that came and
// went, and rows that leave are kept for reuse instead of rebuilt.
import { attr, h } from "./dom.js";
import { createInspector } from "./inspector.js";
import { Limit } from "./protocol.js";
import {
  cellText,
  chooseColumns,
  choices,
  countText,
  fieldsOf,
  frozenText,
  rowWindow,
  sampleEvery,
  sampleText,
  utcStamp,
  utcTime,
  visibleRows,
} from "./table_model.js";

// The table changes at most this often while events stream in: each change lays out and
// repaints every row (at 1,000 rows and 30 changes a second that kept the page's main
// thread busy), and a table that moves faster cannot be read anyway.
const REDRAW_EVERY_MS = 250;
// A cell's text longer than this gets a tooltip with all of it (cells are cut by CSS).
const TOOLTIP_CHARS = 16;
// Every row is this tall (widget.css sizes rows from --sw-row): the row under a scroll
// position is then known without asking the layout.
const ROW_PX = 20;
// Rows drawn beyond each edge of the view: a wheel's step shows drawn rows until the
// scroll's frame draws the rest; each more costs every redraw a row of cells.
const OVERSCAN = 4;
// The view's height until the scroller has been measured: the CSS max-height, rounded up
// (drawing a few rows too many costs less than a blank strip for a frame).
const VIEW_PX = 300;
const ALL = "";

function option(value, text) {
  return h("option", { value, text });
}

/** The live table; `limit`: rows kept, the widget's `recent` trait (see setLimit). */
export function createRecent(limit = Limit.RECENT_DEFAULT) {
  let items = []; // oldest first, at most `limit`
  let frozen = null; // the items held while frozen, or null
  let frozenAtEvents = null;
  let lastEvents = null;
  let arrivedWhileFrozen = 0;
  const filter = { stream: null, type: null, hidden: new Set() };
  let columns = [];
  let columnsVersion = 0;
  const rows = new Map(); // seq -> <tr>, the rows drawn
  const spare = []; // rows out of the table, kept for reuse
  let shown = []; // the rows the view holds, newest first; rows[] draws a window of them
  let viewTop = 0; // the scroller's scrollTop, px, as its scroll events said
  let viewHeight = VIEW_PX; // its visible height, px, as its resize observer said

  // --- DOM --------------------------------------------------------------------------
  const streamPick = h("select", { class: "sw-filter-stream", "aria-label": "show rows of stream" });
  const typePick = h("select", { class: "sw-filter-type", "aria-label": "show rows of event type" });
  const freeze = h("button", {
    type: "button",
    class: "sw-freeze",
    text: "Freeze",
    "aria-pressed": "false",
    title: "hold the table still; the buffer keeps filling",
  });
  const count = h("span", { class: "sw-table-count" });
  const frozenNote = h("span", { class: "sw-freeze-note", role: "status", hidden: true });
  // At a high rate the kernel sends a few events per update: the rows are a sample.
  const sampleNote = h("span", {
    class: "sw-table-sample",
    hidden: true,
    title: "the kernel sends a few recent events per update; w.df holds every event",
  });
  const bar = h("div", { class: "sw-table-bar", role: "group", "aria-label": "recent events view" }, [
    h("label", { class: "sw-table-filter" }, [h("span", { class: "sw-label-inline", text: "stream" }), streamPick]),
    h("label", { class: "sw-table-filter" }, [h("span", { class: "sw-label-inline", text: "type" }), typePick]),
    freeze,
    count,
    sampleNote,
    frozenNote,
  ]);
  const headRow = h("tr");
  // Stand-ins for the rows not drawn, above and below the drawn ones.
  const padCell = () => h("td", { class: "sw-pad-cell" });
  const padAbove = h("tr", { class: "sw-pad", "aria-hidden": "true", hidden: true }, [padCell()]);
  const padBelow = h("tr", { class: "sw-pad", "aria-hidden": "true", hidden: true }, [padCell()]);
  const body = h("tbody", {}, [padAbove, padBelow]);
  const table = h("table", { class: "sw-table", "aria-label": "recent events, newest first" }, [
    h("thead", {}, [headRow]),
    body,
  ]);
  const empty = h("div", { class: "sw-table-empty", text: "no events yet" });
  // A log, but not a live region: a screen reader should not read a feed at 100 events/s.
  // Focusable, so the keyboard can scroll it and step into its rows.
  const scroller = h("div", { class: "sw-recent", role: "log", "aria-live": "off", "aria-label": "recent events", tabindex: "0" }, [
    table,
    empty,
  ]);
  scroller.style.setProperty("--sw-row", `${ROW_PX}px`);
  const inspector = createInspector({
    onClose() {
      for (const row of body.querySelectorAll('tr[aria-selected="true"]')) attr(row, "aria-selected", null);
    },
  });
  const node = h("div", { class: "sw-table-box" }, [bar, scroller, inspector.node]);

  // --- drawing ------------------------------------------------------------------------
  function setHead() {
    const cells = [
      h("th", { scope: "col", class: "sw-col-time", text: "time (UTC)" }),
      h("th", { scope: "col", text: "stream" }),
      h("th", { scope: "col", text: "type" }),
      ...columns.map((name) => h("th", { scope: "col", class: "sw-col-field", text: name, title: name })),
    ];
    headRow.replaceChildren(...cells);
    for (const pad of [padAbove, padBelow]) pad.firstElementChild.colSpan = cells.length;
  }
  setHead();

  function cell(row, index, text, className) {
    let td = row.children[index];
    if (!td) {
      td = document.createElement("td");
      row.append(td);
    }
    if (td.className !== className) td.className = className;
    if (td.textContent !== text) td.textContent = text;
    if (text.length > TOOLTIP_CHARS) td.title = text;
    else if (td.title) td.removeAttribute("title");
  }

  function bind(row, item) {
    row.__item = item;
    row.__cols = columnsVersion;
    const stream = item.stream == null ? "" : String(item.stream);
    row.dataset.seq = String(item.seq);
    row.dataset.stream = stream;
    row.dataset.type = String(item.type ?? "");
    attr(row, "data-snapshot", item.snapshot ? "true" : null);
    attr(row, "aria-selected", inspector.seq !== null && inspector.seq === item.seq ? "true" : null);
    cell(row, 0, utcTime(item.time), "sw-cell-time");
    row.children[0].title = utcStamp(item.time);
    cell(row, 1, stream || "—", "sw-cell-stream");
    cell(row, 2, String(item.type ?? ""), "sw-cell-type");
    const fields = fieldsOf(item);
    columns.forEach((name, i) => {
      const has = Object.hasOwn(fields, name);
      cell(row, 3 + i, has ? cellText(fields[name]) : "", has ? "sw-cell" : "sw-cell sw-cell-missing");
    });
    while (row.children.length > 3 + columns.length) row.lastElementChild.remove();
  }

  function takeRow() {
    return spare.pop() ?? h("tr", { class: "sw-event", tabindex: "-1" });
  }

  let choicesShown = "";
  function renderChoices(source) {
    const streams = choices(source, "stream", filter.stream);
    const types = choices(
      filter.stream === null ? source : source.filter((i) => String(i.stream ?? "") === filter.stream),
      "type",
      filter.type,
    );
    // Rebuilding options closes an open dropdown: only when they change.
    const signature = JSON.stringify([streams, types]);
    if (signature === choicesShown) return;
    choicesShown = signature;
    streamPick.replaceChildren(option(ALL, "all"), ...streams.map((s) => option(s, s)));
    streamPick.value = filter.stream ?? ALL;
    typePick.replaceChildren(option(ALL, "all"), ...types.map((t) => option(t, t)));
    typePick.value = filter.type ?? ALL;
  }

  function setPad(pad, px) {
    const height = `${px}px`;
    if (pad.style.height !== height) pad.style.height = height;
    if (pad.hidden !== (px === 0)) pad.hidden = px === 0;
  }

  /** Draw the rows of `shown` in view, from the scroll position last seen (no layout read). */
  function paint() {
    const { first, last, above, below } = rowWindow(shown.length, viewTop, viewHeight, ROW_PX, OVERSCAN);
    const drawn = shown.slice(first, last);
    const wanted = new Set();
    for (const item of drawn) wanted.add(item.seq);
    for (const [seq, row] of rows) {
      if (!wanted.has(seq)) {
        rows.delete(seq);
        row.remove();
        spare.push(row);
      }
    }
    setPad(padAbove, above);
    // Walk the wanted order against the rows in place: a frame of new events inserts
    // just those rows at the top; rows already in place are not touched.
    let at = padAbove.nextElementSibling;
    drawn.forEach((item, i) => {
      let row = rows.get(item.seq);
      if (!row) {
        row = takeRow();
        rows.set(item.seq, row);
        bind(row, item);
      } else if (row.__item !== item || row.__cols !== columnsVersion) {
        bind(row, item);
      }
      const index = String(first + i + 2); // 1 is the header row
      if (row.getAttribute("aria-rowindex") !== index) row.setAttribute("aria-rowindex", index);
      if (row === at) at = at.nextElementSibling;
      else body.insertBefore(row, at);
    });
    setPad(padBelow, below);
    const rowCount = String(shown.length + 1);
    if (table.getAttribute("aria-rowcount") !== rowCount) table.setAttribute("aria-rowcount", rowCount);
    // At most one window of rows waits for reuse.
    while (spare.length > last - first + 2 * OVERSCAN) spare.pop();
  }

  let paintFrame = 0;
  function paintSoon() {
    if (!paintFrame) {
      paintFrame = requestAnimationFrame(() => {
        paintFrame = 0;
        paint();
      });
    }
  }
  // Scroll events say where the view is (read here, where the layout is fresh, never while
  // drawing); the rows there are drawn in the next frame.
  scroller.addEventListener(
    "scroll",
    () => {
      const top = scroller.scrollTop;
      if (top === viewTop) return;
      viewTop = top;
      paintSoon();
    },
    { passive: true },
  );
  const resizes = new ResizeObserver((entries) => {
    const height = entries.at(-1).contentRect.height;
    // A short table's scroller is as short as its rows: it may grow to VIEW_PX.
    const next = Math.max(height, VIEW_PX);
    if (next === viewHeight) return;
    viewHeight = next;
    paintSoon();
  });
  resizes.observe(scroller);

  /** Draw the table from the live or the frozen items; returns the newest seq drawn. */
  function render() {
    const source = frozen ?? items;
    renderChoices(source);
    shown = visibleRows(source, filter);
    const next = chooseColumns(shown, columns);
    if (next.length !== columns.length || next.some((name, i) => name !== columns[i])) {
      columns = next;
      columnsVersion += 1;
      setHead();
    }
    paint();
    const counted = countText(shown.length, source.length);
    if (count.textContent !== counted) count.textContent = counted;
    // Told from all rows held (a filter's holes are the other streams' events).
    const sample = sampleText(sampleEvery(source));
    if (sampleNote.textContent !== sample) {
      sampleNote.textContent = sample;
      sampleNote.hidden = !sample;
      if (sample) sampleNote.dataset.every = String(sampleEvery(source));
    }
    empty.hidden = shown.length > 0;
    empty.textContent = source.length ? "no rows match the filter" : "no events yet";
    let top = null;
    for (const item of shown) {
      const seq = Number(item.seq);
      if (Number.isFinite(seq) && (top === null || seq > top)) top = seq;
    }
    return top;
  }

  let drawnAt = -Infinity;
  let later = 0;
  let laterFrame = 0;
  function redraw() {
    drawnAt = performance.now();
    return render();
  }

  function sayFrozen() {
    const byCount =
      lastEvents !== null && frozenAtEvents !== null && lastEvents >= frozenAtEvents
        ? lastEvents - frozenAtEvents
        : 0;
    frozenNote.textContent = frozenText(Math.max(byCount, arrivedWhileFrozen));
  }

  function setFrozen(on) {
    if (on === (frozen !== null)) return;
    if (on) {
      frozen = items.slice();
      frozenAtEvents = lastEvents;
      arrivedWhileFrozen = 0;
    } else {
      frozen = null;
    }
    freeze.textContent = on ? "Unfreeze" : "Freeze";
    attr(freeze, "aria-pressed", String(on));
    freeze.title = on ? "show the newest events again" : "hold the table still; the buffer keeps filling";
    frozenNote.hidden = !on;
    scroller.dataset.frozen = String(on);
    if (on) sayFrozen();
    else {
      // Back to the newest rows, at the top.
      viewTop = 0;
      render();
      scroller.scrollTop = 0;
    }
  }

  // --- user actions -------------------------------------------------------------------
  streamPick.addEventListener("change", () => {
    filter.stream = streamPick.value === ALL ? null : streamPick.value;
    filter.type = null;
    render();
  });
  typePick.addEventListener("change", () => {
    filter.type = typePick.value === ALL ? null : typePick.value;
    render();
  });
  freeze.addEventListener("click", () => setFrozen(frozen === null));

  function open(row) {
    if (!row?.__item) return;
    for (const other of body.querySelectorAll('tr[aria-selected="true"]')) attr(other, "aria-selected", null);
    attr(row, "aria-selected", "true");
    inspector.show(row.__item);
  }
  body.addEventListener("click", (event) => open(event.target.closest?.("tr.sw-event")));
  // Moves by rows of the whole list, drawn or not: the target is drawn first, then focused
  // (which scrolls it into view; the scroll draws the rows around it).
  function focusRow(index) {
    const item = shown[index];
    if (!item) return;
    if (!rows.has(item.seq)) {
      viewTop = Math.max(0, index * ROW_PX - viewHeight / 2);
      paint();
    }
    rows.get(item.seq)?.focus();
  }
  scroller.addEventListener("keydown", (event) => {
    const row = event.target.closest?.("tr.sw-event");
    const at = row?.__item ? shown.indexOf(row.__item) : -1;
    let to = null;
    if (event.key === "ArrowDown") to = row ? at + 1 : 0;
    else if (event.key === "ArrowUp") to = row && at > 0 ? at - 1 : null;
    else if (event.key === "Home" && row) to = 0;
    else if (event.key === "End" && row) to = shown.length - 1;
    else if ((event.key === "Enter" || event.key === " ") && row) {
      event.preventDefault();
      open(row);
      return;
    }
    if (to !== null && to >= 0 && to < shown.length) {
      event.preventDefault();
      focusRow(to);
    }
  });

  return {
    node,
    /**
     * Take new items (oldest first; `replace`: they are the whole list now) and draw
     * unless frozen. `hidden`: streams a stream toggle hides here; `events`: the kernel's
     * event count, for the frozen line. Returns the newest seq drawn, or null.
     */
    apply(arrived, replace, hidden, events) {
      if (Number.isFinite(events)) lastEvents = events;
      if (hidden) filter.hidden = hidden;
      if (replace) items = [];
      for (const item of arrived) if (item) items.push(item);
      if (items.length > limit) items = items.slice(-limit);
      if (frozen !== null) {
        if (!replace) arrivedWhileFrozen += arrived.length;
        sayFrozen();
        return null;
      }
      const now = performance.now();
      if (!replace && now - drawnAt < REDRAW_EVERY_MS) {
        // Drawn a moment ago: draw once more when it is time, in an animation frame.
        if (!later) {
          later = setTimeout(() => {
            later = 0;
            laterFrame = requestAnimationFrame(() => {
              laterFrame = 0;
              if (frozen === null) redraw();
            });
          }, drawnAt + REDRAW_EVERY_MS - now);
        }
        return null;
      }
      return redraw();
    },
    dispose() {
      clearTimeout(later);
      cancelAnimationFrame(laterFrame);
      cancelAnimationFrame(paintFrame);
      resizes.disconnect();
    },
    /** Keep at most `n` rows from now on (a smaller `n` drops the oldest at once). */
    setLimit(n) {
      limit = n;
      if (items.length > limit) items = items.slice(-limit);
      if (frozen !== null && frozen.length > limit) frozen = frozen.slice(-limit);
      render();
    },
    setHidden(hidden) {
      filter.hidden = hidden;
      render();
    },
    streams() {
      return new Set(items.map((i) => (i.stream == null ? "" : String(i.stream))).filter(Boolean));
    },
  };
}

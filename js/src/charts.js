// The charts: the events/s chart, and one figure per charted field. Points go into
// typed arrays as they arrive (`ingest`, cheap); a figure is drawn (`render`) at a
// bounded rate chosen by the widget, each trace reduced to what its pixel columns can
// show (decimate.js), so a draw costs the same whatever max_points is and a zoom
// re-reduces the zoomed range from the raw points.
//
// A figure is two layers: a plotly figure without traces for the axes, ticks, titles,
// the header and zoom and pan, and a canvas over its plot area for the lines
// (trace_layer.js). Plotly redoes a whole figure on any data change (tens of ms in a
// busy page); here it is called with a new layout only when names, width or theme
// changed, and otherwise with the new ranges alone. The ranges are computed here (the
// time span of the points, or the user's zoom; y fitted to the points shown).
//
// Times are epoch ms, which plotly's date axis shows as UTC: the x axis says so.
import Plotly from "./plotly.js";
import { decimate, RawSeries } from "./decimate.js";
import { h } from "./dom.js";
import { clip, keyLines, shortField, titleLines } from "./labels.js";
import { Palette } from "./palette.js";
import { Limit } from "./protocol.js";
import { RateTable } from "./rates.js";
import { axisTheme, themeLayout } from "./theme.js";
import { TraceLayer, yRangeOf } from "./trace_layer.js";

const CONFIG = {
  responsive: true,
  displaylogo: false,
  displayModeBar: "hover",
  // The lines are not plotly's: its picture would have none (the widget keeps its own),
  // and "reset axes" would pin the live chart to the ranges of one past draw.
  modeBarButtonsToRemove: ["lasso2d", "select2d", "toImage", "resetScale2d"],
  // A double click goes back to the whole span, live (autorange: the ranges are ours).
  doubleClick: "autosize",
};

/**
 * The lowest and highest time of arrays of times, [Infinity, -Infinity] for none. Times
 * are in arrival order, which a late or backfilled event breaks: not first and last.
 */
function extent(arrays) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const xs of arrays) {
    for (let i = 0; i < xs.length; i++) {
      const v = xs[i];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  return [lo, hi];
}

/** [lo, hi] for points from lo to hi (a lone time gets ±1 s), or null for none. */
const widen = (lo, hi) => (lo > hi ? null : lo === hi ? [lo - 1000, hi + 1000] : [lo, hi]);

/** A legend entry's key: the total line (dashed) apart from a stream named "total". */
const offKey = (meta, total) => `${total ? "total" : "stream"}:${meta}`;

const sameRange = (a, b) => a === b || (a != null && b != null && a[0] === b[0] && a[1] === b[1]);

/** A trace as the canvas draws it (trace_layer.js), with its hover label's words. */
function drawnTrace({ name, meta, color, points, visible, head, what, unit = "", markerPx = 4, dash = false }) {
  const markers = points.x.length <= MARKERS_UP_TO;
  return {
    name,
    meta,
    color,
    width: 1.5,
    dash,
    markers,
    markerSize: markerPx / 2,
    mode: markers ? "lines+markers" : "lines",
    visible,
    x: points.x,
    y: points.y,
    head,
    what,
    unit,
    // The label's form, for a reader of `swTraces`; hoverLines() fills it in.
    hover: `${head ? `${head}<br>` : ""}${what}: %{y}${unit}<br>%{x} UTC`,
  };
}

export const WAITING = "waiting for data";
export const TIME_TITLE = "time (UTC)";
// Key values one split chart draws at most (the kernel sends as many).
const SPLIT_KEYS = Limit.SPLIT_KEYS;
// A trace with this many points or fewer also draws markers: a lone point has no line.
const MARKERS_UP_TO = 60;
// Below this width (px) an output is narrow: fewer ticks, shorter names, a smaller legend.
const NARROW_PX = 480;

// Plotly reads a small HTML subset (<a href>, <br>, ...) in its texts (the header, the
// axis titles); feed-chosen names must show as typed, so escape them.
export function plotlyText(text) {
  return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

export function streamLabel(stream) {
  return stream == null || stream === "" ? "(no stream)" : String(stream);
}

export { shortField };

export function seriesLabel(chart) {
  const parts = [chart.type, chart.field];
  if (chart.stream != null && chart.stream !== "") parts.unshift(chart.stream);
  const label = parts.map(String).join(" / ");
  return chart.by ? `${label} by ${shortField(chart.by)}` : label;
}

function nest(dotted) {
  const out = {};
  for (const [path, value] of Object.entries(dotted)) {
    const keys = path.split(".");
    let at = out;
    for (const k of keys.slice(0, -1)) at = at[k] ??= {};
    at[keys[keys.length - 1]] = value;
  }
  return out;
}

function merge(a, b) {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) {
    out[k] = v && typeof v === "object" && !Array.isArray(v) && out[k] ? merge(out[k], v) : v;
  }
  return out;
}

/** Average glyph width of the chart font, px (plotly lays out text itself, so estimate). */
const glyphPx = (colors) => 0.62 * (colors?.size ?? 11);

// FIXED margins, not plotly's automargin: automargin measures every tick label after
// each draw and draws again when the margins moved (as values grow a digit), which
// doubled the cost of a draw now and then. Room for y tick labels like "65.2k" or
// "1.0805" and the axis title; for the two lines of the date labels and "time (UTC)".
const Y_LABELS_PX = 60;
const X_AXIS_PX = 52;
// Half a time label: the newest tick's label is centred on the right edge.
const RIGHT_PX = 24;

/** The x axis: dates in UTC said once, flat tick labels, as many as the width holds. */
function timeAxis(width, colors, visible) {
  return {
    type: "date",
    visible,
    // Margins are fixed (see FIXED below): flat labels of two lines always fit.
    automargin: false,
    ticklabeloverflow: "allow",
    // Fixed: plotly would tilt the labels whenever they crowd and level them again
    // when they do not, so the plot jumped as the window scrolled.
    tickangle: 0,
    nticks: Math.max(2, Math.min(8, Math.floor(width / 130))),
    hoverformat: "%H:%M:%S.%L",
    title: { text: TIME_TITLE, standoff: 2, font: { size: colors?.size ?? 11 } },
  };
}

class Chart {
  constructor(container) {
    this.container = container;
    // The plot, and the canvas of its lines laid over plotly's plot area.
    this.wrap = h("div", { class: "sw-plot-wrap" });
    this.gd = h("div", { class: "sw-plot" });
    this.wrap.append(this.gd);
    this.layer = new TraceLayer(this.wrap);
    container.append(this.wrap);
    this.ready = false;
    this.disposed = false;
    this.colors = null;
    this.hidden = new Set();
    // The x range the user zoomed to (epoch ms), or null for all of it.
    this.range = null;
    // The y range the user zoomed to, or null: fitted to the points shown.
    this.yRange = null;
    // A count's axis starts at zero.
    this.toZero = false;
    // What plotly was last given: the layout without its ranges (JSON), and the ranges.
    this._layoutKey = null;
    this._shown = [null, null];
    // Called after the user zooms or pans (the widget redraws at once), and when the
    // chart needs a draw for a reason of its own (a new width).
    this.onZoom = null;
    this.onDirty = null;
    this.dirty = true;
  }

  async plot(layout) {
    await Plotly.newPlot(this.gd, [], layout, CONFIG);
    if (this.disposed) {
      Plotly.purge(this.gd);
      return;
    }
    this.ready = true;
    this.gd.on("plotly_relayout", (change) => this._relayout(change));
    // While a pan drags, plotly moves its own layers: the lines follow.
    this.gd.on("plotly_relayouting", (change) => this.layer.redraw(this._dragRange(change, "xaxis"), this._dragRange(change, "yaxis")));
  }

  /** An axis's range (linear: epoch ms for time) from plotly's state, or null. */
  _axisRange(name) {
    const ax = this.gd._fullLayout?.[name];
    if (!ax || !Array.isArray(ax.range)) return null;
    const lo = ax.r2l(ax.range[0]);
    const hi = ax.r2l(ax.range[1]);
    return Number.isFinite(lo) && Number.isFinite(hi) && hi > lo ? [lo, hi] : null;
  }

  _dragRange(change, name) {
    const ax = this.gd._fullLayout?.[name];
    const a = change?.[`${name}.range[0]`];
    const b = change?.[`${name}.range[1]`];
    if (!ax || a == null || b == null) return null;
    const lo = ax.r2l(a);
    const hi = ax.r2l(b);
    return Number.isFinite(lo) && Number.isFinite(hi) && hi > lo ? [lo, hi] : null;
  }

  /**
   * The user zoomed, panned or double-clicked. The ranges set by render come as whole
   * "xaxis.range" arrays; the user's as "xaxis.range[0]", "xaxis.autorange" and the like.
   */
  _relayout(change) {
    if (!change || typeof change !== "object") return;
    const keys = Object.keys(change);
    const byUser = (axis) => keys.some((k) => k === axis || (k.startsWith(`${axis}.`) && k !== `${axis}.range`));
    const userX = byUser("xaxis");
    const userY = byUser("yaxis");
    if (!userX && !userY) return;
    // Plotly now holds the user's ranges (or its own autorange of no traces): the next
    // draw sets ours again.
    this._shown = [null, null];
    if (userY) this.yRange = change["yaxis.autorange"] ? null : this._axisRange("yaxis");
    let range = this.range;
    if (userX) range = change["xaxis.autorange"] ? null : this._axisRange("xaxis");
    this.dirty = true;
    if (!sameRange(range, this.range)) {
      this.range = range;
      this.onZoom?.(range);
    } else this.onDirty?.();
  }

  /**
   * Decimation columns: one per 3 px of plot width. A column keeps its lowest and
   * highest point, so the drawn band is exact; a finer grid adds points (plotly's draw
   * time grows with them) the eye cannot tell apart.
   */
  get columns() {
    const size = this.gd._fullLayout?._size;
    const w = size?.w ?? this.gd.offsetWidth - 60;
    return Math.max(50, Math.round((w || 600) / 3));
  }

  get width() {
    return this.gd._fullLayout?.width ?? this.gd.offsetWidth ?? 600;
  }

  applyTheme(colors) {
    this.colors = colors;
    this.dirty = true;
  }

  setHidden(hidden) {
    this.hidden = new Set(hidden);
    this.dirty = true;
  }

  resize() {
    // Plots.resize rejects for undisplayed plots; a hidden notebook output is normal.
    if (this.ready && this.gd.offsetWidth > 0) {
      // Ticks, names and the legend follow the width: draw again once plotly has it.
      this.dirty = true;
      Plotly.Plots.resize(this.gd).then(
        () => {
          this.dirty = true;
          this.onDirty?.();
        },
        () => {},
      );
    }
  }

  /** Redraw from the current state; returns whether it drew. */
  render() {
    if (!this.ready || this.disposed || !this.dirty) return false;
    if (this.gd.offsetWidth === 0) return false;
    this.dirty = false;
    const { traces, layout } = this.figure();
    const xr = this.range ?? this.span(traces);
    const yr = xr ? (this.yRange ?? yRangeOf(traces, xr, this.toZero)) : null;
    if (xr && yr) {
      Object.assign(layout.xaxis, { range: xr.slice(), autorange: false });
      Object.assign(layout.yaxis, { range: yr.slice(), autorange: false });
    }
    this._plotLayout(layout, xr && yr ? xr : null, xr && yr ? yr : null);
    const size = this.gd._fullLayout?._size;
    const box = size ? { l: size.l, t: size.t, w: size.w, h: size.h } : null;
    this.layer.draw(box, xr, yr, traces);
    return true;
  }

  /** The time span of the drawn points (epoch ms), or null when there are none. */
  span(traces) {
    return widen(...extent(traces.map((t) => t.x)));
  }

  /** Plotly gets a new layout only when more than its ranges changed. */
  _plotLayout(layout, xr, yr) {
    const { xaxis, yaxis, ...rest } = layout;
    const key = JSON.stringify([rest, { ...xaxis, range: null }, { ...yaxis, range: null }]);
    if (key !== this._layoutKey) {
      this._layoutKey = key;
      this._shown = [xr, yr];
      Plotly.react(this.gd, [], layout, CONFIG);
      return;
    }
    if (!xr || (sameRange(xr, this._shown[0]) && sameRange(yr, this._shown[1]))) return;
    this._shown = [xr, yr];
    Plotly.relayout(this.gd, { "xaxis.range": xr.slice(), "yaxis.range": yr.slice() });
  }

  dispose() {
    this.disposed = true;
    Plotly.purge(this.gd);
  }

  /** The trace's points for the current zoom and width (copied: the raw arrays move). */
  _visible(series) {
    const range = this.range ?? [null, null];
    const d = decimate(series.x, series.y, { x0: range[0], x1: range[1], columns: this.columns });
    return { x: d.x.slice(), y: d.y.slice() };
  }

  _baseLayout(height) {
    const c = this.colors;
    const layout = {
      autosize: true,
      height,
      // The hover label is the canvas layer's (plotly holds no traces).
      hovermode: false,
    };
    return c ? merge(layout, nest(themeLayout(c, []))) : layout;
  }

  _axisTheme() {
    return this.colors ? nest(axisTheme(this.colors)) : {};
  }

  _waiting(y = 0.5, extra = {}) {
    const c = this.colors;
    return {
      xref: "paper",
      yref: "paper",
      x: 0.5,
      y,
      showarrow: false,
      text: WAITING,
      font: c ? { color: c.muted, family: c.family, size: c.size + 1 } : {},
      name: "waiting",
      ...extra,
    };
  }
}

/**
 * Events per second, one line per stream and a total. A stream's colour comes from its
 * name (palette.js): the streams the feed lists are placed together, sorted, before any
 * is drawn, so they get the same colours after a reload.
 */
export class RateChart extends Chart {
  constructor(container, palette) {
    super(container);
    this.palette = palette;
    this.table = new RateTable();
    this.toZero = true;
    // Lines the user switched off in the legend, by offKey (a stream may be named "total").
    this.legendOff = new Set();
    this.legend = h("div", { class: "sw-legend", role: "group", "aria-label": "lines shown", hidden: true });
    this.wrap.append(this.legend);
    this._legendKey = null;
  }

  init(colors) {
    this.colors = colors;
    return this.plot(this.figure().layout);
  }

  /** Streams the feed lists: placed on the palette now, in sorted order. */
  know(streams) {
    this.palette.place(streams.map(String));
  }

  get streams() {
    return this.table.streams;
  }

  /** Take rate entries (oldest first); returns the streams seen for the first time. */
  ingest(entries, replace) {
    const { fresh, gone } = this.table.ingest(entries, replace);
    this.palette.place(fresh);
    for (const s of gone) this.palette.release(s);
    if (entries.length || replace) this.dirty = true;
    return fresh;
  }

  figure() {
    const c = this.colors;
    const width = this.width;
    const narrow = width < NARROW_PX;
    const table = this.table;
    const streams = [...table.streams].sort();
    const empty = !table.t.length;
    const range = this.range ?? [null, null];
    const cut = (values) => {
      const d = decimate(Float64Array.from(table.t), Float64Array.from(values), {
        x0: range[0],
        x1: range[1],
        columns: this.columns,
      });
      return { x: d.x.slice(), y: d.y.slice() };
    };
    const traces = streams.map((s) => {
      const label = streamLabel(s);
      return drawnTrace({
        name: label,
        meta: s,
        color: this.palette.color(s),
        points: cut(table.columns.get(s)),
        visible: !this.hidden.has(s) && !this.legendOff.has(offKey(s, false)),
        head: null,
        what: label,
        unit: " events/s",
        markerPx: 3,
      });
    });
    if (!empty) {
      traces.push(
        drawnTrace({
          name: "total",
          meta: "total",
          color: c?.font ?? "#444",
          points: cut(table.total),
          visible: !this.legendOff.has(offKey("total", true)),
          head: null,
          what: "total",
          unit: " events/s",
          markerPx: 3,
          dash: true,
        }),
      );
    }
    // The legend stays within two rows (three when wide), in the top margin: entries get
    // a fixed width and the rest scrolls.
    const entryPx = narrow ? 56 : 80; // the name's room; the line sample takes 40 more
    const fontPx = (c?.size ?? 11) - (narrow ? 1 : 0);
    const rowPx = Math.round(fontPx * 1.3 + 7);
    const perRow = Math.max(1, Math.floor((width - 56) / (entryPx + 40)));
    const rows = empty ? 0 : Math.min(Math.ceil(traces.length / perRow), narrow ? 2 : 3);
    const legendPx = rows * rowPx + (rows ? 4 : 0);
    this._drawLegend(traces, { rowPx, legendPx, entryPx: entryPx + 40, fontPx });
    const layout = merge(this._baseLayout(250), {
      margin: { l: Y_LABELS_PX, r: RIGHT_PX, t: 6 + legendPx, b: X_AXIS_PX, pad: 0 },
      showlegend: false,
      xaxis: merge(timeAxis(width, c, !empty), this._axisTheme()),
      yaxis: merge(
        {
          visible: !empty,
          automargin: false,
          ticklabeloverflow: "allow",
          rangemode: "tozero",
          title: { text: "events/s", standoff: 4 },
        },
        this._axisTheme(),
      ),
      annotations: empty ? [this._waiting()] : [],
    });
    return { traces, layout };
  }

  /**
   * The legend, in the top margin: a fixed width per entry, at most 2-3 rows, the rest
   * scrolls. An entry switches its line off and on. Rebuilt only when it changed.
   */
  _drawLegend(traces, { rowPx, legendPx, entryPx, fontPx }) {
    const items = traces.map((t) => [offKey(t.meta, t.dash), t.name, t.color, t.dash, this.legendOff.has(offKey(t.meta, t.dash))]);
    const key = JSON.stringify([items, rowPx, legendPx, entryPx, fontPx]);
    if (key === this._legendKey) return;
    this._legendKey = key;
    // The saved picture draws the same entries (the HTML legend is not in plotly's SVG).
    this.layer.legend = {
      items: items.map(([, name, color, dash, off]) => ({ name, color, dash, off })),
      entryPx,
      rowPx,
      left: Y_LABELS_PX - 52,
      top: 2,
      font: { size: fontPx, family: this.colors?.family ?? "sans-serif", color: this.colors?.font ?? "#444" },
    };
    const legend = this.legend;
    legend.hidden = !items.length;
    Object.assign(legend.style, {
      left: `${Y_LABELS_PX - 52}px`,
      right: `${RIGHT_PX}px`,
      maxHeight: `${legendPx}px`,
      gridTemplateColumns: `repeat(auto-fill, ${entryPx}px)`,
      gridAutoRows: `${rowPx}px`,
      fontSize: `${fontPx}px`,
    });
    legend.replaceChildren(
      ...items.map(([key, name, color, dash, off]) => {
        const line = h("span", { class: "sw-legend-line" });
        line.style.borderTop = `2px ${dash ? "dotted" : "solid"} ${color}`;
        const entry = h("button", { type: "button", class: "sw-legend-item", "aria-pressed": String(!off), title: name }, [
          line,
          h("span", { class: "sw-legend-name", text: name }),
        ]);
        entry.addEventListener("click", () => {
          if (this.legendOff.has(key)) this.legendOff.delete(key);
          else this.legendOff.add(key);
          this.dirty = true;
          this.onDirty?.();
        });
        return entry;
      }),
    );
  }
}

// Field chart geometry: one plotly figure per charted field, stacked top to bottom in
// `charts` order; a split chart draws all its keys in its one figure. Each figure is
// drawn on its own (a draw costs plotly's fixed work per axis, so one figure per field
// keeps every single draw short, and a figure whose data did not change is not drawn);
// their x ranges are kept in step, and only the bottom one labels the time axis.
const FIELD_MARGIN = { l: Y_LABELS_PX, r: RIGHT_PX, t: 4, b: 0, pad: 0 };
const SUBPLOT_PX = 120;
const LINE_PX = 15; // one line of a figure's header (its name, its keys)
// Below a figure that does not label the time axis.
const BOTTOM_GAP_PX = 8;

/** The trace key of one key of a split chart, or of an unsplit chart (key null). */
const traceKey = (id, key) => (key == null ? id : `${id}\u0000${key}`);

/** The figure of one charted field (or, with no chart, the "waiting" placeholder). */
class FieldPane extends Chart {
  constructor(container, owner, id) {
    super(container);
    this.owner = owner;
    this.id = id;
    this.bottom = true;
    this.onZoom = (range) => owner._zoomed(this, range);
    this.onDirty = () => owner.onDirty?.();
  }

  // The x range is the owner's: every figure shows the same time span.
  get range() {
    return this.owner ? this.owner.range : null;
  }

  set range(value) {
    if (this.owner) this.owner.range = value;
  }

  init(colors) {
    this.colors = colors;
    const { layout } = this.figure();
    this.gd.style.height = `${layout.height}px`;
    return this.plot(layout).then(() => {
      this.dirty = true;
      this.onDirty?.();
    });
  }

  render() {
    const drawn = super.render();
    if (drawn) this.gd.style.height = `${this.gd._fullLayout?.height ?? SUBPLOT_PX}px`;
    return drawn;
  }

  figure() {
    const owner = this.owner;
    const c = this.colors;
    const width = this.width;
    const chars = Math.max(12, Math.floor((width - 8) / glyphPx(c)));
    const chart = this.id == null ? null : owner.charts.get(this.id);
    const header = chart ? owner._headerLines(chart, chars) : { title: 1, keys: null };
    const headerPx = chart ? LINE_PX * (header.title + (header.keys?.lines.length ?? 0)) + 6 : 4;
    const bottomPx = this.bottom ? X_AXIS_PX : BOTTOM_GAP_PX;
    const height = headerPx + SUBPLOT_PX + bottomPx;
    const traces = [];
    const annotations = [];
    let points = false;
    if (chart) {
      const field = shortField(chart.field);
      for (const t of owner._tracesOf(chart)) {
        if (t.raw.n) points = true;
        traces.push(
          drawnTrace({
            name: t.key == null ? seriesLabel(chart) : t.key,
            meta: t.key == null ? chart.id : [chart.id, t.key],
            color: t.key == null ? owner.palette.color(chart.id) : owner._keyColor(chart.id, t.key),
            points: this._visible(t.raw),
            visible: !owner.hidden.has(chart.stream),
            head: t.key,
            what: field,
          }),
        );
      }
      // The header: the chart's name (cut to the width), then its keys.
      // An unsplit chart's colour is its trace's; a split chart's keys carry their own.
      const swatch = chart.by ? "" : `<span style="color:${owner.palette.color(chart.id)}">\u25A0</span> `;
      let text = `${swatch}${header.titles.map(plotlyText).join("<br>")}`;
      if (header.keys) {
        const lines = header.keys.lines.map((line) =>
          line.map((it) => `<span style="color:${it.color}">\u25A0</span> ${plotlyText(it.text)}`).join("   "),
        );
        if (header.keys.more > 0) {
          const more = `+${header.keys.more} more`;
          if (lines.length) lines[lines.length - 1] += `   ${more}`;
          else lines.push(more);
        }
        if (lines.length) text += `<br>${lines.join("<br>")}`;
      }
      annotations.push({
        xref: "paper",
        yref: "paper",
        x: 0,
        y: 1,
        xanchor: "left",
        yanchor: "bottom",
        xshift: -FIELD_MARGIN.l + 4,
        showarrow: false,
        align: "left",
        text,
        name: `title:${chart.id}`,
        font: c ? { color: c.font, family: c.family, size: c.size } : {},
      });
    }
    if (!points) annotations.push(this._waiting(0.5, { name: `waiting:${this.id ?? "none"}` }));
    const layout = merge(this._baseLayout(height), {
      margin: { ...FIELD_MARGIN, t: headerPx, b: bottomPx },
      // Each figure is named (and its keys listed) by its header annotation.
      showlegend: false,
      annotations,
    });
    layout.yaxis = merge(
      {
        automargin: false,
        ticklabeloverflow: "allow",
        // Each field is scaled to itself: a price near 60,000 next to a ratio near 0.5.
        rangemode: "normal",
        visible: points,
        nticks: 5,
        title: chart ? { text: plotlyText(clip(shortField(chart.field), 24)), standoff: 4 } : {},
      },
      this._axisTheme(),
    );
    const x = timeAxis(width, c, points || (this.bottom && owner.anyPoints));
    if (!this.bottom) {
      // The dates show once, under the bottom figure; gridlines keep the figures aligned.
      x.showticklabels = false;
      x.title = { text: "" };
    }
    x.autorange = true;
    layout.xaxis = merge(x, this._axisTheme());
    return { traces, layout };
  }

  // Every figure shows the same time span: that of all charted points.
  span() {
    return this.owner.span();
  }
}

/**
 * The charted fields: one figure (FieldPane) per chart, one trace per series or per key
 * of a split one. Holds the points of every trace; each figure draws its chart's.
 */
export class FieldChart {
  constructor(container, palette) {
    this.container = container;
    this.palette = palette;
    this.colors = null;
    this.hidden = new Set();
    this.disposed = false;
    this.started = false;
    // The x range the user zoomed to (epoch ms), or null for all of it: every figure's.
    this.range = null;
    this.onZoom = null;
    this.onDirty = null;
    // The charts trait, in order; id -> chart.
    this.list = [];
    this.charts = new Map();
    this.maxPoints = Limit.MAX_POINTS_DEFAULT;
    // traceKey -> { id, key, raw: RawSeries }
    this.traces = new Map();
    // id -> { keys: [shown keys, most recent first], others }
    this.splits = new Map();
    // id -> Palette of its keys (distinct colours within the figure)
    this.keyColors = new Map();
    // chart id (null: the placeholder shown while nothing is charted) -> FieldPane
    this.panes = new Map();
  }

  /** The figures, top to bottom: the units the widget draws, one per task. */
  get figures() {
    return [...this.panes.values()];
  }

  get dirty() {
    return this.figures.some((p) => p.dirty);
  }

  /** The top figure's plot (a picture of the charts starts there). */
  get gd() {
    return this.figures[0]?.gd ?? null;
  }

  get ids() {
    return this.list.map((c) => c.id);
  }

  /** The time span of every charted point (epoch ms), or null when there is none. */
  span() {
    const charted = [...this.traces.values()].filter((t) => this.charts.has(t.id));
    return widen(...extent(charted.map((t) => t.raw.x)));
  }

  /** Whether any charted trace has a point (the bottom figure then shows its dates). */
  get anyPoints() {
    for (const t of this.traces.values()) if (t.raw.n && this.charts.has(t.id)) return true;
    return false;
  }

  init(colors) {
    this.colors = colors;
    this.started = true;
    return this._layoutPanes();
  }

  /** Make, drop and order the figures to match the charts; resolves when all are plotted. */
  _layoutPanes() {
    if (!this.started || this.disposed) return Promise.resolve();
    const ids = this.list.length ? this.list.map((c) => c.id) : [null];
    const wanted = new Set(ids);
    for (const [id, pane] of [...this.panes]) {
      if (!wanted.has(id)) {
        pane.dispose();
        pane.wrap.remove();
        this.panes.delete(id);
      }
    }
    const waits = [];
    const next = new Map();
    ids.forEach((id, i) => {
      let pane = this.panes.get(id);
      if (!pane) {
        pane = new FieldPane(this.container, this, id);
        pane.colors = this.colors;
        pane.hidden = this.hidden;
        waits.push(pane.init(this.colors));
      }
      const bottom = i === ids.length - 1;
      if (pane.bottom !== bottom) {
        pane.bottom = bottom;
        pane.dirty = true;
      }
      next.set(id, pane);
    });
    this.panes = next;
    // DOM order follows the charts' order.
    for (const pane of next.values()) this.container.append(pane.wrap);
    this._fitHeight();
    return Promise.all(waits);
  }

  _fitHeight() {
    let px = 0;
    for (const pane of this.panes.values()) px += Number.parseFloat(pane.gd.style.height) || SUBPLOT_PX;
    this.container.style.height = `${px}px`;
  }

  _zoomed(from, range) {
    for (const pane of this.panes.values()) pane.dirty = true;
    this.onZoom?.(range);
  }

  _dirtyAll() {
    for (const pane of this.panes.values()) pane.dirty = true;
  }

  _dirtyId(id) {
    const pane = this.panes.get(id);
    if (pane) pane.dirty = true;
  }

  applyTheme(colors) {
    this.colors = colors;
    for (const pane of this.panes.values()) pane.applyTheme(colors);
  }

  setHidden(hidden) {
    this.hidden = new Set(hidden);
    for (const pane of this.panes.values()) pane.setHidden(hidden);
  }

  resize() {
    for (const pane of this.panes.values()) pane.resize();
  }

  /** Draw every due figure now (tests, pictures); the widget draws one per task. */
  render() {
    let drew = false;
    for (const pane of this.panes.values()) drew = pane.render() || drew;
    if (drew) this._fitHeight();
    return drew;
  }

  dispose() {
    this.disposed = true;
    for (const pane of this.panes.values()) pane.dispose();
  }

  /** Follow the `charts` trait (and max_points). */
  sync(charts, maxPoints) {
    this.list = charts.filter((c) => c && c.id != null).map((c) => ({ ...c, id: String(c.id) }));
    const wanted = new Set(this.list.map((c) => c.id));
    for (const id of [...this.charts.keys()]) {
      if (!wanted.has(id)) {
        this.palette.release(id);
        this.splits.delete(id);
        this.keyColors.delete(id);
      }
    }
    this.charts = new Map(this.list.map((c) => [c.id, c]));
    for (const [k, t] of [...this.traces]) if (!wanted.has(t.id)) this.traces.delete(k);
    const limitChanged = maxPoints !== this.maxPoints;
    this.maxPoints = maxPoints;
    if (limitChanged) for (const t of this.traces.values()) t.raw.setLimit(maxPoints);
    this._layoutPanes().then(() => this.onDirty?.());
    this._dirtyAll();
  }

  /**
   * Take the queued points (pending.js): `series` keyed by traceKey with `id`, `key`;
   * `splits` as the kernel sent them. Points of a series not charted (yet) are kept
   * too: a window and the trait change can arrive in either order. Only the figures
   * whose data changed are marked for a draw.
   */
  ingest(pending) {
    const hadPoints = this.anyPoints;
    if (pending.seriesReplaceAll) {
      for (const t of this.traces.values()) t.raw.clear();
      this._dirtyAll();
    }
    if (pending.splits) {
      for (const [id, split] of Object.entries(pending.splits)) {
        const keys = Array.isArray(split?.keys) ? split.keys.map(String).slice(0, SPLIT_KEYS) : [];
        this.splits.set(String(id), { keys, others: Math.max(0, Number(split?.others) || 0) });
        this._dirtyId(String(id));
      }
    }
    for (const entry of pending.series.values()) {
      const id = String(entry.id);
      const key = entry.key == null ? null : String(entry.key);
      const k = traceKey(id, key);
      let t = this.traces.get(k);
      if (!t) {
        t = { id, key, raw: new RawSeries(this.maxPoints) };
        this.traces.set(k, t);
      }
      if (entry.replace) t.raw.clear();
      for (let i = 0; i < entry.xs.length; i++) t.raw.append(entry.xs[i], entry.ys[i]);
      this._dirtyId(id);
    }
    this._prune();
    // The bottom figure shows the time axis once any figure has points.
    if (this.anyPoints !== hadPoints) {
      const last = this.figures[this.panes.size - 1];
      if (last) last.dirty = true;
    }
  }

  /** Keys no longer shown lose their trace; orphans (no chart) stay bounded. */
  _prune() {
    const orphans = [];
    for (const [k, t] of this.traces) {
      const chart = this.charts.get(t.id);
      if (!chart) {
        orphans.push(k);
        continue;
      }
      if (t.key == null) continue;
      const split = this.splits.get(t.id);
      if (split && !split.keys.includes(t.key)) {
        this.traces.delete(k);
        this.keyColors.get(t.id)?.release(t.key);
      }
    }
    for (const k of orphans.slice(0, Math.max(0, orphans.length - 4 * SPLIT_KEYS))) {
      this.traces.delete(k);
    }
  }

  /** The traces of chart `id`, in a stable order: keys as the kernel lists them. */
  _tracesOf(chart) {
    const mine = [...this.traces.values()].filter((t) => t.id === chart.id);
    if (!chart.by) return mine.filter((t) => t.key == null);
    const split = this.splits.get(chart.id);
    let keyed = mine.filter((t) => t.key != null);
    if (split) {
      keyed = split.keys.map((k) => this.traces.get(traceKey(chart.id, k))).filter(Boolean);
    } else {
      // Before the first `splits`: the keys with the newest points.
      keyed.sort((a, b) => b.raw.lastX - a.raw.lastX);
      keyed = keyed.slice(0, SPLIT_KEYS);
    }
    // Stable order for the eye (the kernel's is by recency, which reshuffles).
    return keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  _keyPalette(id) {
    let p = this.keyColors.get(id);
    if (!p) this.keyColors.set(id, (p = new Palette()));
    return p;
  }

  _keyColor(id, key) {
    return this._keyPalette(id).color(key);
  }

  _headerLines(chart, charsPerLine) {
    const titles = titleLines(chart, charsPerLine - 2);
    if (!chart.by) return { title: titles.length, titles, keys: null };
    const traces = this._tracesOf(chart);
    // Keys arriving together (a window, a reload) are placed sorted: same keys, same colours.
    this._keyPalette(chart.id).place(traces.map((t) => t.key));
    const items = traces.map((t) => ({ text: t.key, color: this._keyColor(chart.id, t.key) }));
    const others = this.splits.get(chart.id)?.others ?? 0;
    const wrapped = keyLines(items, others, charsPerLine);
    return { title: titles.length, titles, keys: wrapped };
  }
}

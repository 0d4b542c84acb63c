// The two plotly charts. Each is drawn once with newPlot; after that only traces are
// added/removed and data is extended or (for rare window messages) replaced, because
// resending a figure at update rate would redraw everything from scratch. The field
// chart gives each series its own y axis, stacked as subplots over one date x axis.
import Plotly from "./plotly.js";
import { concatTail } from "./buffers.js";
import { h } from "./dom.js";
import { Limit } from "./protocol.js";
import { axisTheme, themeLayout } from "./theme.js";

const CONFIG = {
  responsive: true,
  displaylogo: false,
  displayModeBar: "hover",
  modeBarButtonsToRemove: ["lasso2d", "select2d"],
};

const EMPTY = () => new Float64Array(0);

// restyle of x/y would reset the axis types to autotype, turning epoch-ms dates into
// plain numbers; Plotly.update with the type pinned in the same call keeps the date axis.
function replaceData(gd, x, y, indices) {
  return Plotly.update(gd, { x, y }, { "xaxis.type": "date" }, indices);
}

// Plotly reads a small HTML subset (<a href>, <br>, ...) in names; feed-chosen names
// must show as typed, so escape them.
export function plotlyText(text) {
  return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

export function streamLabel(stream) {
  return stream == null || stream === "" ? "(no stream)" : String(stream);
}

export function seriesLabel(chart) {
  const parts = [chart.type, chart.field];
  if (chart.stream != null && chart.stream !== "") parts.unshift(chart.stream);
  return parts.map(String).join(" / ");
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

function baseLayout(colors, yTitle) {
  return merge(
    {
      autosize: true,
      height: 250,
      margin: { l: 48, r: 12, t: 8, b: 32, pad: 0 },
      showlegend: true,
      legend: { orientation: "h", x: 0, y: 1.02, yanchor: "bottom", bgcolor: "rgba(0,0,0,0)" },
      xaxis: { type: "date", automargin: true },
      yaxis: { automargin: true, rangemode: "tozero", title: { text: yTitle } },
      hovermode: "closest",
      // Keeps the user's zoom and legend clicks across data updates.
      uirevision: "streamwidgets",
    },
    nest(themeLayout(colors)),
  );
}

class Chart {
  constructor(container) {
    this.container = container;
    this.gd = h("div", { class: "sw-plot" });
    container.append(this.gd);
    this.ready = false;
    this.disposed = false;
  }

  async plot(layout) {
    await Plotly.newPlot(this.gd, [], layout, CONFIG);
    if (this.disposed) Plotly.purge(this.gd);
    else this.ready = true;
  }

  applyTheme(colors) {
    if (this.ready) Plotly.relayout(this.gd, themeLayout(colors));
  }

  resize() {
    // Plots.resize rejects for undisplayed plots; a hidden notebook output is normal.
    if (this.ready && this.gd.offsetWidth > 0) Plotly.Plots.resize(this.gd).catch(() => {});
  }

  dispose() {
    this.disposed = true;
    Plotly.purge(this.gd);
  }
}

/** Events per second, one line per stream, created when the stream first shows up. */
export class RateChart extends Chart {
  constructor(container, palette) {
    super(container);
    this.palette = palette;
    this.streams = [];
  }

  init(colors) {
    return this.plot(baseLayout(colors, "events/s"));
  }

  _trace(stream, col, hidden) {
    const color = this.palette.color(`stream:${stream}`);
    return {
      type: "scatter",
      mode: "lines",
      name: plotlyText(streamLabel(stream)),
      x: col.x,
      y: col.y,
      line: { color, width: 1.5 },
      visible: hidden.has(stream) ? false : true,
      meta: stream,
    };
  }

  /** Draw rate entries (oldest first); returns the streams seen for the first time. */
  apply(entries, replace, hidden) {
    const columns = new Map();
    const active = new Set(replace ? [] : this.streams);
    for (const s of active) columns.set(s, { x: [], y: [] });
    for (const entry of entries) {
      const counts = entry.counts ?? {};
      for (const s of Object.keys(counts)) {
        if (!active.has(s)) {
          active.add(s);
          columns.set(s, { x: [], y: [] });
        }
      }
      // A stream quiet for a whole second had zero events then; a second with no live
      // feed (disconnected, paused) is a gap: null breaks the line there.
      for (const s of active) {
        const col = columns.get(s);
        col.x.push(entry.t);
        col.y.push(entry.gap ? null : Number(counts[s]) || 0);
      }
    }
    const gd = this.gd;
    if (replace && this.streams.length) {
      const pick = (key) => this.streams.map((s) => columns.get(s)?.[key].slice(-Limit.RATE_SECONDS) ?? []);
      replaceData(gd, pick("x"), pick("y"), this.streams.map((_, i) => i));
    } else if (!replace) {
      const indices = [];
      const xs = [];
      const ys = [];
      this.streams.forEach((s, i) => {
        const col = columns.get(s);
        if (col.x.length) {
          indices.push(i);
          xs.push(col.x);
          ys.push(col.y);
        }
      });
      if (indices.length) Plotly.extendTraces(gd, { x: xs, y: ys }, indices, Limit.RATE_SECONDS);
    }
    const fresh = [...columns.keys()].filter((s) => !this.streams.includes(s));
    if (fresh.length) {
      const traces = fresh.map((s) => {
        const col = columns.get(s);
        return this._trace(s, { x: col.x.slice(-Limit.RATE_SECONDS), y: col.y.slice(-Limit.RATE_SECONDS) }, hidden);
      });
      Plotly.addTraces(gd, traces);
      this.streams.push(...fresh);
    }
    return fresh;
  }

  setHidden(hidden) {
    if (!this.streams.length) return;
    const visible = this.streams.map((s) => !hidden.has(s));
    Plotly.restyle(this.gd, { visible }, this.streams.map((_, i) => i));
  }
}

// Field chart geometry: one subplot per series, stacked top to bottom in `charts` order.
const FIELD_MARGIN = { l: 48, r: 12, t: 20, b: 32, pad: 0 };
const SUBPLOT_PX = 120;
const SUBPLOT_GAP_PX = 26; // room for the next subplot's name between two subplots
const FIELD_MIN_PX = 260;

/** The chart's height in px for `n` series. */
export function fieldHeight(n) {
  const rows = Math.max(n, 1);
  const px = FIELD_MARGIN.t + FIELD_MARGIN.b + rows * SUBPLOT_PX + (rows - 1) * SUBPLOT_GAP_PX;
  return Math.max(FIELD_MIN_PX, px);
}

/** Trace attribute (`y`, `y2`, ...) and layout key (`yaxis`, `yaxis2`, ...) of subplot i. */
const yRef = (i) => (i === 0 ? "y" : `y${i + 1}`);
const yAxis = (i) => (i === 0 ? "yaxis" : `yaxis${i + 1}`);

/** One scattergl trace per charted series, each on its own y axis, following `charts`. */
export class FieldChart extends Chart {
  constructor(container, palette) {
    super(container);
    this.palette = palette;
    this.ids = [];
    this.charts = new Map();
    // Points that arrived before their series' trace exists (window and trait change
    // can arrive in either order), bounded in count and in points.
    this.orphans = new Map();
    this.colors = null;
    // The series on each y axis as last laid out (there is always a first y axis).
    this.laidOut = [];
  }

  init(colors) {
    this.colors = colors;
    this.container.style.height = `${fieldHeight(0)}px`;
    const layout = merge(baseLayout(colors, null), {
      margin: FIELD_MARGIN,
      // Each subplot is named by its annotation; the chips above carry the colours.
      showlegend: false,
      // Margins grow only where labels need room: the dates below, the values on the
      // left. Letting the last date label push the right margin made plotly redraw in
      // a loop ("Too many auto-margin redraws") as the ticks moved.
      xaxis: { automargin: "height" },
    });
    const { width: _, ...axes } = this._axesLayout([], []);
    return this.plot(merge(layout, nest(axes)));
  }

  applyTheme(colors) {
    this.colors = colors;
    if (this.ready) Plotly.relayout(this.gd, this._axesLayout(this.ids, this.laidOut));
  }

  /**
   * Relayout keys for one subplot per id (top to bottom), given the ids laid out before:
   * domains, the shared x axis under the bottom one, theme colours of every axis, the
   * names, the height; axes no longer needed are removed, and an axis that now shows
   * another series scales to it afresh.
   */
  _axesLayout(ids, before) {
    const n = ids.length;
    const axesBefore = Math.max(before.length, 1);
    const rows = Math.max(n, 1);
    const height = fieldHeight(n);
    const plotPx = height - FIELD_MARGIN.t - FIELD_MARGIN.b;
    const gap = rows > 1 ? Math.min(0.2, SUBPLOT_GAP_PX / plotPx) : 0;
    const size = (1 - gap * (rows - 1)) / rows;
    const kept = [];
    const layout = {
      // relayout of a height alone pins the width too (and responsive resizing with it);
      // autosize with width null keeps the width following the container.
      autosize: true,
      width: null,
      height,
      // One x axis for all subplots: zoom and pan stay in step, and its dates show
      // once, under the bottom subplot.
      "xaxis.anchor": yRef(rows - 1),
      "xaxis.type": "date",
    };
    const c = this.colors;
    const annotations = [];
    for (let i = 0; i < rows; i++) {
      const top = 1 - i * (size + gap);
      const settings = {
        domain: [Math.max(0, top - size), Math.min(1, top)],
        anchor: "x",
        automargin: "left",
        // Each series is scaled to itself: a price near 60,000 next to a ratio near 0.5.
        rangemode: "normal",
      };
      if (i >= axesBefore || ids[i] !== before[i]) settings.autorange = true;
      // relayout cannot set "yaxisN.domain" on an axis plotly does not have (not yet,
      // or no longer: an axis left without traces drops out of the full layout).
      if (this.gd._fullLayout?.[yAxis(i)]) {
        // Dotted keys leave the rest of an existing axis (its zoom, say) alone.
        kept.push(yAxis(i));
        for (const [key, value] of Object.entries(settings)) layout[`${yAxis(i)}.${key}`] = value;
      } else {
        layout[yAxis(i)] = c ? merge(settings, nest(axisTheme(c))) : settings;
      }
      if (i < n) {
        const chart = this.charts.get(ids[i]);
        const swatch = `<span style="color:${this.palette.color(ids[i])}">\u25A0</span>`;
        annotations.push({
          xref: "paper",
          yref: "paper",
          x: 0,
          y: top,
          xanchor: "left",
          yanchor: "bottom",
          showarrow: false,
          align: "left",
          text: `${swatch} ${plotlyText(chart ? seriesLabel(chart) : ids[i])}`,
          font: c ? { color: c.font, family: c.family, size: c.size } : {},
        });
      }
    }
    for (let i = rows; i < axesBefore; i++) layout[yAxis(i)] = null;
    layout.annotations = annotations;
    if (c) Object.assign(layout, themeLayout(c, ["xaxis", ...kept]));
    return layout;
  }

  _streamOf(id) {
    return this.charts.get(id)?.stream ?? null;
  }

  /** Add and remove traces (and their subplots) so they match the `charts` trait. */
  sync(charts, maxPoints, hidden) {
    const gd = this.gd;
    const wanted = new Map(charts.filter((c) => c && c.id != null).map((c) => [String(c.id), c]));
    const gone = [];
    this.ids.forEach((id, i) => {
      if (!wanted.has(id)) gone.push(i);
    });
    if (gone.length) {
      Plotly.deleteTraces(gd, gone);
      for (const i of gone) this.palette.release(this.ids[i]);
      this.ids = this.ids.filter((id) => wanted.has(id));
    }
    for (const [id, chart] of wanted) this.charts.set(id, chart);
    for (const id of [...this.charts.keys()]) if (!wanted.has(id)) this.charts.delete(id);
    const fresh = [...wanted.keys()].filter((id) => !this.ids.includes(id));

    // One subplot per series: when the set changes, lay out the axes for the new set
    // first (in one call), then add the new traces onto their axes.
    if (gone.length || fresh.length) {
      const all = [...this.ids, ...fresh];
      const layout = this._axesLayout(all, this.laidOut);
      this.laidOut = all;
      this.container.style.height = `${layout.height}px`;
      // A series below a removed one moves up a subplot, i.e. onto another y axis.
      const moved = [];
      this.ids.forEach((_, i) => {
        if ((gd.data[i].yaxis ?? "y") !== yRef(i)) moved.push(i);
      });
      // Restyling a trace's axis resets the axis types; xaxis.type pinned in the
      // layout half of the same call keeps the date axis.
      if (moved.length) Plotly.update(gd, { yaxis: moved.map(yRef) }, layout, moved);
      else Plotly.relayout(gd, layout);
    }

    // A smaller max_points applies to what is already drawn too.
    const trim = [];
    this.ids.forEach((id, i) => {
      if (gd.data[i].x.length > maxPoints) trim.push(i);
    });
    if (trim.length) {
      const tail = (key) => trim.map((i) => Float64Array.from(gd.data[i][key]).slice(-maxPoints));
      replaceData(gd, tail("x"), tail("y"), trim);
    }

    if (fresh.length) {
      const traces = fresh.map((id, k) => {
        const chart = wanted.get(id);
        const orphan = this.orphans.get(id);
        this.orphans.delete(id);
        const color = this.palette.color(id);
        return {
          type: "scattergl",
          mode: "lines+markers",
          name: plotlyText(seriesLabel(chart)),
          x: orphan ? orphan.x.slice(-maxPoints) : EMPTY(),
          y: orphan ? orphan.y.slice(-maxPoints) : EMPTY(),
          line: { color, width: 1.5 },
          marker: { color, size: 3 },
          visible: hidden.has(chart.stream) ? false : true,
          meta: id,
          xaxis: "x",
          yaxis: yRef(this.ids.length + k),
        };
      });
      Plotly.addTraces(gd, traces);
      this.ids.push(...fresh);
    }
  }

  /** Draw the queued series points: one update for replaced, one extendTraces for the rest. */
  apply(pending, maxPoints) {
    const gd = this.gd;
    const replaced = { i: [], x: [], y: [] };
    const extended = { i: [], x: [], y: [], max: [] };
    if (pending.seriesReplaceAll) {
      this.orphans.clear();
      this.ids.forEach((id, i) => {
        if (!pending.series.has(id)) {
          replaced.i.push(i);
          replaced.x.push(EMPTY());
          replaced.y.push(EMPTY());
        }
      });
    }
    for (const [id, entry] of pending.series) {
      const i = this.ids.indexOf(id);
      if (i < 0) {
        this._orphan(id, entry, maxPoints);
        continue;
      }
      const trace = gd.data[i];
      const typed = trace.x instanceof Float64Array && trace.y instanceof Float64Array;
      if (!entry.replace && typed) {
        if (entry.n === 0) continue;
        const x = entry.xs.length === 1 ? entry.xs[0] : concatTail(entry.xs, maxPoints);
        const y = entry.ys.length === 1 ? entry.ys[0] : concatTail(entry.ys, maxPoints);
        extended.i.push(i);
        extended.x.push(x);
        extended.y.push(y);
        // plotly's typed-array path cannot take a maxPoints above the new length
        // (it allocates length + insert - maxPoints); -1 means "keep everything".
        extended.max.push(trace.x.length + x.length > maxPoints ? maxPoints : -1);
      } else {
        const before = (key) => (entry.replace ? [] : [Float64Array.from(trace[key])]);
        replaced.i.push(i);
        replaced.x.push(concatTail([...before("x"), ...entry.xs], maxPoints));
        replaced.y.push(concatTail([...before("y"), ...entry.ys], maxPoints));
      }
    }
    if (replaced.i.length) replaceData(gd, replaced.x, replaced.y, replaced.i);
    if (extended.i.length) {
      const same = extended.max.every((m) => m === extended.max[0]);
      const max = same ? extended.max[0] : { x: extended.max, y: extended.max };
      Plotly.extendTraces(gd, { x: extended.x, y: extended.y }, extended.i, max);
    }
  }

  _orphan(id, entry, maxPoints) {
    const prev = this.orphans.get(id);
    const keep = !entry.replace && prev;
    this.orphans.delete(id);
    this.orphans.set(id, {
      x: concatTail(keep ? [prev.x, ...entry.xs] : entry.xs, maxPoints),
      y: concatTail(keep ? [prev.y, ...entry.ys] : entry.ys, maxPoints),
    });
    while (this.orphans.size > 16) this.orphans.delete(this.orphans.keys().next().value);
  }

  setHidden(hidden) {
    if (!this.ids.length) return;
    const visible = this.ids.map((id) => !hidden.has(this._streamOf(id)));
    Plotly.restyle(this.gd, { visible }, this.ids.map((_, i) => i));
  }
}

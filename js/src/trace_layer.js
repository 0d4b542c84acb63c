// The live lines of a chart, drawn on a 2D canvas laid over plotly's plot area.
//
// Plotly 4.1.1 redoes a whole figure on any data change: 9-14 ms for one figure holding
// a few hundred points in headless Chromium on two cores, and two to three times that
// in a busy JupyterLab page, several times a second per chart. The same lines cost well
// under a millisecond on a canvas. So plotly keeps what it does well and what changes
// seldom (axes, ticks, gridlines, titles, the header, zoom and pan) in a figure with no
// traces, whose ranges are set from here (a range-only relayout, about 2-3 ms), and this
// layer draws the lines, the markers of short traces and the hover label from the same
// decimated points plotly used to get. What was drawn is kept (`traces`, also on the
// canvas as `swTraces`): the hover label, the saved picture and the browser tests read it.
import { h } from "./dom.js";
import { decimatedPath } from "./snapshot.js";
import { utcStamp } from "./table_model.js";

const SVG_NS = "http://www.w3.org/2000/svg";
// The pointer picks the nearest drawn point within this distance (px).
const HOVER_PX = 24;

/**
 * The y range that shows every finite point of the drawn traces within x range `xr`
 * (epoch ms), padded by 5% (a flat line gets ±1, or ±5% of its value); `toZero` keeps 0
 * in the range (a count). Null when no point is inside.
 * @example yRangeOf([{ x: [0, 1], y: [2, 4], visible: true }], [0, 1], false) // [1.9, 4.1]
 */
export function yRangeOf(traces, xr, toZero) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const t of traces) {
    if (t.visible === false) continue;
    const { x, y } = t;
    for (let i = 0; i < y.length; i++) {
      const v = y[i];
      if (!Number.isFinite(v)) continue;
      if (xr && (x[i] < xr[0] || x[i] > xr[1])) continue;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  if (lo > hi) return null;
  if (toZero) {
    lo = Math.min(0, lo);
    hi = Math.max(0, hi);
  }
  if (hi === lo) {
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.05;
    return [lo - pad, hi + pad];
  }
  const pad = (hi - lo) * 0.05;
  return [toZero && lo === 0 ? 0 : lo - pad, hi + pad];
}

/**
 * The hover label's lines for point `i` of a drawn trace: its key or stream (when it
 * has one), "what: value" with the value in JavaScript's shortest exact form, and the
 * time in UTC.
 * @example hoverLines({ head: "BTCUSD", what: "price", unit: "", x: [0], y: [65000.5] }, 0)
 * // ["BTCUSD", "price: 65000.5", "1970-01-01 00:00:00.000 UTC"]
 */
export function hoverLines(trace, i) {
  const lines = trace.head ? [String(trace.head)] : [];
  lines.push(`${trace.what}: ${String(trace.y[i])}${trace.unit ?? ""}`);
  lines.push(utcStamp(trace.x[i]));
  return lines;
}

/**
 * The canvas over one plotly figure's plot area, its hover label, and what it drew.
 * A drawn trace: `{name, meta, color, width, dash, markers, visible, x, y, head, what,
 * unit}` with x in epoch ms and y as sent (NaN: a gap, which breaks the line).
 * @example const layer = new TraceLayer(wrap); layer.draw({l, t, w, h}, [t0, t1], [0, 9], traces)
 */
export class TraceLayer {
  constructor(wrap) {
    this.canvas = h("canvas", { class: "sw-traces", "aria-hidden": "true" });
    this.tip = h("div", { class: "sw-hover", role: "tooltip", hidden: true });
    wrap.append(this.canvas, this.tip);
    this.wrap = wrap;
    this.traces = [];
    this.box = null;
    this.xr = null;
    this.yr = null;
    // The legend's entries when the chart has one (HTML on the page): {name, color, dash,
    // off} and the width of one entry (px), for the saved picture.
    this.legend = null;
    this.canvas.swTraces = this.traces;
    wrap.addEventListener("mousemove", (e) => this._hover(e));
    wrap.addEventListener("mouseleave", () => this.hideTip());
    // A drag zooms or pans (plotly): the label would only be in the way.
    wrap.addEventListener("mousedown", () => this.hideTip());
  }

  /**
   * Draw `traces` in plot box `box` ({l, t, w, h}, px, plotly's `_size`) for x range
   * `xr` and y range `yr` ([lo, hi] each). Without ranges (nothing to show) it clears.
   */
  draw(box, xr, yr, traces) {
    this.box = box;
    this.xr = xr;
    this.yr = yr;
    this.traces = traces;
    this.canvas.swTraces = traces;
    this.repaint();
  }

  /** Draw the kept traces again for new ranges (while plotly pans or zooms). */
  redraw(xr, yr) {
    if (xr) this.xr = xr;
    if (yr) this.yr = yr;
    this.repaint();
  }

  repaint() {
    const { box, xr, yr, canvas } = this;
    if (!box || !(box.w > 0) || !(box.h > 0)) return;
    const dpr = window.devicePixelRatio || 1;
    const pw = Math.round(box.w * dpr);
    const ph = Math.round(box.h * dpr);
    // Resizing a canvas clears it and costs a reallocation: only when the box changed.
    if (canvas.width !== pw || canvas.height !== ph) {
      canvas.width = pw;
      canvas.height = ph;
    }
    const style = canvas.style;
    const px = (v) => `${v}px`;
    if (style.left !== px(box.l)) style.left = px(box.l);
    if (style.top !== px(box.t)) style.top = px(box.t);
    if (style.width !== px(box.w)) style.width = px(box.w);
    if (style.height !== px(box.h)) style.height = px(box.h);
    const ctx = canvas.getContext("2d");
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, pw, ph);
    for (const t of this.traces) t.pieces = 0;
    if (!xr || !yr || !(xr[1] > xr[0]) || !(yr[1] > yr[0])) return;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const kx = box.w / (xr[1] - xr[0]);
    const ky = box.h / (yr[1] - yr[0]);
    ctx.lineJoin = "round";
    ctx.lineCap = "round";
    for (const t of this.traces) {
      if (t.visible === false) continue;
      const { x, y } = t;
      ctx.strokeStyle = t.color;
      ctx.fillStyle = t.color;
      ctx.lineWidth = t.width ?? 1.5;
      ctx.setLineDash(t.dash ? [2, 3] : []);
      ctx.beginPath();
      let pen = false;
      let pieces = 0;
      for (let i = 0; i < y.length; i++) {
        const v = y[i];
        if (!Number.isFinite(v) || !Number.isFinite(x[i])) {
          pen = false;
          continue;
        }
        const cx = (x[i] - xr[0]) * kx;
        const cy = box.h - (v - yr[0]) * ky;
        if (pen) ctx.lineTo(cx, cy);
        else {
          ctx.moveTo(cx, cy);
          pen = true;
          pieces += 1;
        }
      }
      ctx.stroke();
      t.pieces = pieces;
      if (t.markers) {
        ctx.setLineDash([]);
        const r = t.markerSize ?? 2;
        ctx.beginPath();
        for (let i = 0; i < y.length; i++) {
          if (!Number.isFinite(y[i]) || !Number.isFinite(x[i])) continue;
          const cx = (x[i] - xr[0]) * kx;
          const cy = box.h - (y[i] - yr[0]) * ky;
          ctx.moveTo(cx + r, cy);
          ctx.arc(cx, cy, r, 0, 2 * Math.PI);
        }
        ctx.fill();
      }
    }
  }

  hideTip() {
    if (!this.tip.hidden) this.tip.hidden = true;
  }

  /** The drawn point nearest to (px, py) in the plot box, within HOVER_PX, or null. */
  nearest(px, py) {
    const { box, xr, yr } = this;
    if (!box || !xr || !yr) return null;
    const kx = box.w / (xr[1] - xr[0]);
    const ky = box.h / (yr[1] - yr[0]);
    let best = null;
    let bestD = HOVER_PX * HOVER_PX;
    for (const t of this.traces) {
      if (t.visible === false) continue;
      const { x, y } = t;
      // x is sorted: start near the pointer's time and walk out while within reach.
      const at = xr[0] + px / kx;
      let lo = 0;
      let hi = x.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (x[mid] < at) lo = mid + 1;
        else hi = mid;
      }
      for (const step of [-1, 1]) {
        for (let i = step < 0 ? lo - 1 : lo; i >= 0 && i < x.length; i += step) {
          const dx = (x[i] - xr[0]) * kx - px;
          if (dx * dx > bestD) break;
          if (!Number.isFinite(y[i])) continue;
          const dy = box.h - (y[i] - yr[0]) * ky - py;
          const d = dx * dx + dy * dy;
          if (d < bestD) {
            bestD = d;
            best = { trace: t, i, cx: (x[i] - xr[0]) * kx, cy: box.h - (y[i] - yr[0]) * ky };
          }
        }
      }
    }
    return best;
  }

  _hover(e) {
    const box = this.box;
    if (!box || e.buttons) return this.hideTip();
    const r = this.wrap.getBoundingClientRect();
    const px = e.clientX - r.left - box.l;
    const py = e.clientY - r.top - box.t;
    if (px < 0 || py < 0 || px > box.w || py > box.h) return this.hideTip();
    const hit = this.nearest(px, py);
    if (!hit) return this.hideTip();
    const lines = hoverLines(hit.trace, hit.i);
    this.tip.replaceChildren(...lines.map((text) => h("div", { text })));
    this.tip.style.borderColor = hit.trace.color;
    this.tip.hidden = false;
    // Beside the point, on the side with room.
    const left = box.l + hit.cx;
    const right = left > r.width / 2;
    this.tip.style.left = right ? "" : `${left + 8}px`;
    this.tip.style.right = right ? `${r.width - left + 8}px` : "";
    this.tip.style.top = `${Math.max(0, box.t + hit.cy - 12)}px`;
  }

  /** The drawn lines as SVG (a `<g>`), clipped to the plot box, for a saved picture. */
  svg(doc) {
    const g = doc.createElementNS(SVG_NS, "g");
    g.setAttribute("class", "sw-canvas-traces");
    const { box, xr, yr } = this;
    if (!box || !xr || !yr || !(xr[1] > xr[0]) || !(yr[1] > yr[0])) return g;
    const kx = box.w / (xr[1] - xr[0]);
    const ky = box.h / (yr[1] - yr[0]);
    const px = (v) => box.l + (v - xr[0]) * kx;
    const py = (v) => box.t + box.h - (v - yr[0]) * ky;
    // A nested svg clips its content to the plot box, as the canvas does.
    const clip = doc.createElementNS(SVG_NS, "svg");
    for (const [k, v] of Object.entries({ x: box.l, y: box.t, width: box.w, height: box.h })) {
      clip.setAttribute(k, String(Math.round(v * 10) / 10));
    }
    clip.setAttribute("viewBox", `${box.l} ${box.t} ${box.w} ${box.h}`);
    for (const t of this.traces) {
      if (t.visible === false) continue;
      const d = decimatedPath(t.x, t.y, px, py);
      if (!d) continue;
      const path = doc.createElementNS(SVG_NS, "path");
      path.setAttribute("d", d);
      path.setAttribute("fill", "none");
      path.setAttribute("stroke", t.color);
      path.setAttribute("stroke-width", String(t.width ?? 1.5));
      if (t.dash) path.setAttribute("stroke-dasharray", "2 3");
      path.setAttribute("stroke-linejoin", "round");
      clip.append(path);
    }
    g.append(clip);
    if (this.legend) g.append(this._legendSvg(doc));
    return g;
  }

  _legendSvg(doc) {
    const g = doc.createElementNS(SVG_NS, "g");
    const { items, entryPx, rowPx, left, top, font } = this.legend;
    const perRow = Math.max(1, Math.floor((this.box.l + this.box.w - left) / entryPx));
    items.forEach((it, i) => {
      const x = left + (i % perRow) * entryPx;
      const y = top + Math.floor(i / perRow) * rowPx + rowPx / 2;
      const line = doc.createElementNS(SVG_NS, "line");
      for (const [k, v] of Object.entries({ x1: x + 4, x2: x + 34, y1: y, y2: y })) line.setAttribute(k, String(v));
      line.setAttribute("stroke", it.color);
      line.setAttribute("stroke-width", "2");
      if (it.dash) line.setAttribute("stroke-dasharray", "2 3");
      if (it.off) line.setAttribute("opacity", "0.4");
      const text = doc.createElementNS(SVG_NS, "text");
      text.setAttribute("x", String(x + 38));
      text.setAttribute("y", String(y + 4));
      text.setAttribute("font-size", String(font.size));
      text.setAttribute("font-family", font.family);
      text.setAttribute("fill", font.color);
      text.textContent = it.name;
      g.append(line, text);
    });
    return g;
  }
}

// A still picture of a plotly chart as drawn now, small enough to keep in a saved
// notebook (tens of KB): plotly's own SVG layers (axes, ticks, names, SVG traces) are
// copied, and the WebGL traces, which live in a canvas, are redrawn as SVG paths
// reduced to at most two points per pixel column. The picture is what the user saw,
// zoom included. snapshot_view.js shows it when the notebook is reopened without a kernel.

const SVG_NS = "http://www.w3.org/2000/svg";
// Interaction layers: invisible, or showing only what the pointer was over.
const DROP = [".draglayer", ".hoverlayer", ".zoomlayer", ".selectionlayer", ".menulayer", ".modebar"];

const round = (v) => Math.round(v * 10) / 10;

function axisScale(ax, vertical) {
  const lo = ax.r2l(ax.range[0]);
  const hi = ax.r2l(ax.range[1]);
  if (!Number.isFinite(lo) || !Number.isFinite(hi) || hi === lo) return null;
  const k = ax._length / (hi - lo);
  return vertical ? (v) => ax._offset + ax._length - (v - lo) * k : (v) => ax._offset + (v - lo) * k;
}

/** One trace as an SVG path: per pixel column its first, lowest, highest and last point. */
export function decimatedPath(xs, ys, px, py) {
  const parts = [];
  let pen = "M";
  let column = null;
  let first;
  let low;
  let high;
  let last;
  const flush = () => {
    if (column === null) return;
    const kept = [first, low, high, last].filter((p, k, all) => all.indexOf(p) === k);
    for (const p of kept.sort((a, b) => a.i - b.i)) {
      parts.push(`${pen}${round(p.x)},${round(p.y)}`);
      pen = "L";
    }
    column = null;
  };
  for (let i = 0; i < xs.length; i++) {
    const p = { i, x: px(xs[i]), y: py(ys[i]) };
    if (!Number.isFinite(p.x) || !Number.isFinite(p.y)) {
      flush();
      pen = "M"; // a gap (NaN or null) breaks the line, as plotly draws it
      continue;
    }
    const c = Math.floor(p.x);
    if (c !== column) {
      flush();
      column = c;
      first = low = high = last = p;
    } else {
      if (p.y < low.y) low = p;
      if (p.y > high.y) high = p;
      last = p;
    }
  }
  flush();
  return parts.join("");
}

function glLayer(gd, doc) {
  const full = gd._fullLayout;
  const g = doc.createElementNS(SVG_NS, "g");
  g.setAttribute("class", "sw-gl-traces");
  for (const trace of gd._fullData ?? []) {
    if (trace.type !== "scattergl" || trace.visible !== true) continue;
    const xa = full[`xaxis${(trace.xaxis ?? "x").slice(1)}`];
    const ya = full[`yaxis${(trace.yaxis ?? "y").slice(1)}`];
    if (!xa || !ya) continue;
    const px = axisScale(xa, false);
    const py = axisScale(ya, true);
    const data = gd.data[trace.index];
    if (!px || !py || !data?.x?.length) continue;
    const d = decimatedPath(data.x, data.y, px, py);
    if (!d) continue;
    // A nested svg clips its content to the subplot, as the canvas does.
    const clip = doc.createElementNS(SVG_NS, "svg");
    const [x, y, w, hgt] = [xa._offset, ya._offset, xa._length, ya._length].map(round);
    clip.setAttribute("x", String(x));
    clip.setAttribute("y", String(y));
    clip.setAttribute("width", String(w));
    clip.setAttribute("height", String(hgt));
    clip.setAttribute("viewBox", `${x} ${y} ${w} ${hgt}`);
    const path = doc.createElementNS(SVG_NS, "path");
    path.setAttribute("d", d);
    path.setAttribute("fill", "none");
    path.setAttribute("stroke", trace.line?.color ?? "#888");
    path.setAttribute("stroke-width", String(trace.line?.width ?? 1.5));
    path.setAttribute("stroke-linejoin", "round");
    clip.append(path);
    g.append(clip);
  }
  return g;
}

function layer(svg, doc) {
  const g = doc.createElementNS(SVG_NS, "g");
  const copy = svg.cloneNode(true);
  for (const selector of DROP) for (const node of copy.querySelectorAll(selector)) node.remove();
  g.append(...copy.childNodes);
  return g;
}

/**
 * An SVG document (a string) of the plotly chart in `gd` as drawn now, or null when it
 * has not been drawn. Clip references are made local, so the picture stands alone.
 */
export function chartSvg(gd) {
  const full = gd?._fullLayout;
  const paper = full?._paper?.node?.();
  if (!paper || !full.width || !full.height) return null;
  const doc = document;
  const out = doc.createElementNS(SVG_NS, "svg");
  out.setAttribute("xmlns", SVG_NS);
  out.setAttribute("width", String(full.width));
  out.setAttribute("height", String(full.height));
  out.setAttribute("viewBox", `0 0 ${full.width} ${full.height}`);
  out.append(layer(paper, doc), glLayer(gd, doc));
  const top = full._toppaper?.node?.();
  if (top) out.append(layer(top, doc));
  const text = new XMLSerializer().serializeToString(out);
  // plotly writes url('<page url>#clipX') when the page has a <base>; an image has no page.
  return text.replace(/url\(['"]?[^'")#]*#([^'")]+)['"]?\)/g, "url(#$1)");
}

// A still picture of a plotly chart as drawn now, small enough to keep in a saved
// notebook (tens of KB): plotly's own SVG layers (axes, ticks, names) are copied, and
// the lines, which live in a canvas (trace_layer.js), are redrawn as SVG paths reduced
// to at most four points per pixel column. The picture is what the user saw,
// zoom included. snapshot_view.js shows it when the notebook is reopened without a kernel.

const SVG_NS = "http://www.w3.org/2000/svg";
// Interaction layers: invisible, or showing only what the pointer was over.
const DROP = [".draglayer", ".hoverlayer", ".zoomlayer", ".selectionlayer", ".menulayer", ".modebar"];

const round = (v) => Math.round(v * 10) / 10;

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

function layer(svg, doc) {
  const g = doc.createElementNS(SVG_NS, "g");
  const copy = svg.cloneNode(true);
  for (const selector of DROP) for (const node of copy.querySelectorAll(selector)) node.remove();
  g.append(...copy.childNodes);
  return g;
}

/**
 * An SVG document (a string) of the plotly chart in `gd` as drawn now, with the lines of
 * `traces` (a TraceLayer, which draws them on a canvas) as SVG paths, or null when it
 * has not been drawn. Clip references are made local, so the picture stands alone.
 */
export function chartSvg(gd, traces = null) {
  const full = gd?._fullLayout;
  const paper = full?._paper?.node?.();
  if (!paper || !full.width || !full.height) return null;
  const doc = document;
  const out = doc.createElementNS(SVG_NS, "svg");
  out.setAttribute("xmlns", SVG_NS);
  out.setAttribute("width", String(full.width));
  out.setAttribute("height", String(full.height));
  out.setAttribute("viewBox", `0 0 ${full.width} ${full.height}`);
  out.append(layer(paper, doc));
  if (traces) out.append(traces.svg(doc));
  const top = full._toppaper?.node?.();
  if (top) out.append(layer(top, doc));
  const text = new XMLSerializer().serializeToString(out);
  // plotly writes url('<page url>#clipX') when the page has a <base>; an image has no page.
  return text.replace(/url\(['"]?[^'")#]*#([^'")]+)['"]?\)/g, "url(#$1)");
}

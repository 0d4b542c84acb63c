// The static view of a widget restored from a saved notebook without its kernel: the
// badge says "no kernel" (nothing behind this widget answers), the counters are marked
// as the last known values with the time they were saved, and the charts are shown as
// last drawn (the SVG pictures snapshot.js made), as images, so nothing in them can run
// or restyle the page. Part of the loader: it needs neither plotly nor the app.
import { h } from "./dom.js";
import { createHeader } from "./header.js";
import { BrowserState, Trait } from "./protocol.js";

/** The model key of the snapshot. The browser sets it; the kernel never has it. */
export const SNAPSHOT_KEY = BrowserState.SNAPSHOT;

function svgUrl(svg) {
  return `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;
}

// UTC like the charts and the table, so one page never shows two zones unlabelled.
function clock(ms) {
  const at = new Date(Number(ms));
  if (!Number.isFinite(at.getTime())) return "an unknown time";
  return `${at.toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

/** Draw `model`'s saved snapshot into `el`; returns the cleanup. */
export function renderSnapshot(model, el) {
  const snap = model.get(SNAPSHOT_KEY);
  const saved = snap && typeof snap === "object" ? snap : {};
  const header = createHeader();
  header.setFeed(model.get(Trait.FEED) ?? {});
  header.setState(
    "no-kernel",
    saved.at == null
      ? "nothing answers for this saved widget"
      : `nothing answers for this saved widget; last known values, saved ${clock(saved.at)}`,
  );
  if (saved.stats && typeof saved.stats === "object") header.setStats(saved.stats, true);
  const charts = Array.isArray(saved.charts) ? saved.charts : [];
  const figures = charts
    .filter((c) => c && typeof c.svg === "string" && c.svg.startsWith("<svg"))
    .map((c) =>
      h("figure", { class: "sw-chart" }, [
        h("figcaption", { text: String(c.caption ?? "") }),
        h("img", {
          class: "sw-snapshot-image",
          src: svgUrl(c.svg),
          alt: `${c.caption ?? "chart"} as last drawn`,
          width: Number(c.width) || null,
          height: Number(c.height) || null,
        }),
      ]),
    );
  const root = h("div", { class: "sw-root sw-static", dataset: { snapshotAt: String(saved.at ?? "") } }, [
    header.node,
    h("div", {
      class: "sw-snapshot-note",
      text: figures.length
        ? "A snapshot saved with the notebook: run the notebook again to see the live feed."
        : "Saved before its charts were drawn: run the notebook again to see the live feed.",
    }),
    figures.length ? h("div", { class: "sw-charts" }, figures) : null,
  ]);
  el.append(root);
  return () => root.remove();
}

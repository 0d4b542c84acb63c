// The app: builds the view, wires traits and custom messages to the parts, and draws
// everything that arrives in bulk at most once per animation frame. The loader
// (loader.js, every widget's anywidget `_esm`) imports it once per page and calls its
// render; it also keeps a snapshot of the charts in the model for saved notebooks.
import "./widget.css";
import { messageSize } from "./buffers.js";
import { FieldChart, RateChart } from "./charts.js";
import { createControls, readyText } from "./controls.js";
import { h, randomId } from "./dom.js";
import { saveFile } from "./download.js";
import { createHeader } from "./header.js";
import { dispatcher } from "./messages.js";
import { Palette } from "./palette.js";
import { Pending } from "./pending.js";
import { Limit, ToBrowser, ToKernel, Trait, limitOf } from "./protocol.js";
import { createRecent } from "./recent.js";
import { chartSvg } from "./snapshot.js";
import { SNAPSHOT_KEY } from "./snapshot_view.js";
import { themeColors, watchTheme } from "./theme.js";
import { createWatchdog } from "./watchdog.js";

const PERF_SAMPLES = 200;
// Draw times kept (benchmarks read those of a measured stretch: several figures a second).
const DRAW_SAMPLES = 2000;
// How often, at most, the charts are pictured for a saved notebook (see snapshot.js).
const SNAPSHOT_EVERY_MS = 2000;

function list(value) {
  return Array.isArray(value) ? value : [];
}

function render({ model, el }) {
  const view = randomId();
  const get = (name, fallback) => model.get(name) ?? fallback;
  // The widget's own limits, from its traits (the kernel keeps and sends as many).
  const maxPoints = () =>
    limitOf(get(Trait.MAX_POINTS), Limit.MAX_POINTS_MIN, Limit.MAX_POINTS_MAX, Limit.MAX_POINTS_DEFAULT);
  const recentLimit = () =>
    limitOf(get(Trait.RECENT), Limit.RECENT_MIN, Limit.RECENT_MAX, Limit.RECENT_DEFAULT);
  const send = (msg) => model.send(msg);

  // Bulk data waits here (bounded) until the next animation frame draws it.
  let pending = new Pending({ recentLimit: recentLimit() });
  let frame = 0;
  let disposed = false;
  let chartsReady = false;
  let chartsStarting = false;
  let chartsDirty = true;
  let filterDirty = false;
  function schedule() {
    if (!frame && !disposed) frame = requestAnimationFrame(draw);
  }
  // Points reach the charts every frame (cheap: typed arrays), but a figure is drawn at
  // most every CHART_EVERY_MS, and may use at most CHART_SHARE of the page's time: a
  // draw costs what the screen shows (decimated), yet on a slow machine back-to-back
  // draws would starve the page (and, on a shared machine, the kernel feeding it).
  // Four draws a second, as the table and the header's counters, is smooth enough for a
  // live chart; a zoom draws at once. The events/s chart's numbers change once a second
  // (completed seconds): it draws at most as often.
  const CHART_EVERY_MS = 250;
  const RATE_EVERY_MS = 1000;
  const CHART_SHARE = 0.25;
  let chartTimer = 0;
  // The header's counters change with every update (20 a second); numbers that move
  // faster than this cannot be read, and each change costs the page a style, layout and
  // paint pass.
  const STATS_EVERY_MS = 250;
  let heldStats = null;
  let heldReplace = false;
  let statsShownAt = -Infinity;
  let statsTimer = 0;

  // --- layout -----------------------------------------------------------------------
  const root = h("div", { class: "sw-root", dataset: { view } });
  const perf = {
    updates: 0,
    windows: 0,
    messages: 0,
    bytes: 0,
    frames: 0,
    lastApplyMs: 0,
    applyMs: [],
    lastDrawnSeq: null,
    lastDrawnAt: null,
    // Updates a second the kernel sends at most (its update_hz trait).
    updateHz: null,
    // Feed time of the newest event to the moment it is drawn, per frame (benchmarks).
    latencyMs: [],
    // One figure's draw (one plotly call, with the decimation feeding it), ms (benchmarks).
    drawMs: [],
    // Which figure each of drawMs was: "rate" (events/s) or "field".
    drawOf: [],
    // The recent-events table's update, ms, per frame that had events (benchmarks).
    tableMs: [],
  };
  root.__swPerf = perf;

  // Streams hidden by the client-side filter (only when the feed cannot subscribe).
  const hidden = new Set();
  const seen = new Set();
  const header = createHeader();
  // Heartbeat (kernel) -> watchdog (here): silence while open means the kernel is gone.
  const watchdog = createWatchdog({
    limitMs: Limit.KERNEL_SILENT_SECONDS * 1000,
    onChange: (seconds) => header.setKernelSilent(seconds),
  });
  const controls = createControls({
    send,
    onExport(format) {
      // Without a subscribe step the streams this view hides stay out of the file.
      const filtering = get(Trait.SUBSCRIBE_SUPPORTED, true) === false;
      send({ kind: ToKernel.EXPORT, format, view, hidden: filtering ? [...hidden] : [] });
    },
    onFilter(name) {
      if (hidden.has(name)) hidden.delete(name);
      else hidden.add(name);
      recent.setHidden(hidden);
      filterDirty = true;
      renderStreams();
      schedule();
    },
  });
  const recent = createRecent(recentLimit());
  const seriesColors = new Palette();
  const streamColors = new Palette();
  const rateBox = h("div", { class: "sw-rate-chart" });
  const fieldBox = h("div", { class: "sw-field-chart" });
  const fieldEmpty = h("div", { class: "sw-field-empty", text: "Pick a numeric field above to chart it." });
  fieldBox.append(fieldEmpty);
  const rateChart = new RateChart(rateBox, streamColors);
  const fieldChart = new FieldChart(fieldBox, seriesColors);
  const charts = [rateChart, fieldChart];
  // The figures, in drawing order: each is drawn on its own (one plotly call per task).
  const figures = () => [rateChart, ...fieldChart.figures];
  // When each figure may draw next (performance.now() ms); absent: now.
  const chartFreeAt = new WeakMap();
  let zoomTimer = 0;
  for (const chart of charts) {
    chart.onDirty = schedule;
    chart.onZoom = (range) => {
      // Redrawn at once from the points the view holds (re-decimated for the range)...
      for (const figure of chart === fieldChart ? fieldChart.figures : [chart]) chartFreeAt.delete(figure);
      schedule();
      if (chart !== fieldChart) return;
      // ...then from the kernel's whole buffer for that range (history beyond them).
      clearTimeout(zoomTimer);
      zoomTimer = setTimeout(() => {
        zoomTimer = 0;
        if (!disposed) send({ kind: ToKernel.ZOOM, view, x0: range?.[0] ?? null, x1: range?.[1] ?? null });
      }, 150);
    };
  }
  root.append(
    header.node,
    ...controls.nodes,
    h("div", { class: "sw-charts" }, [
      h("figure", { class: "sw-chart" }, [h("figcaption", { text: "events per second by stream" }), rateBox]),
      h("figure", { class: "sw-chart" }, [h("figcaption", { text: "charted fields" }), fieldBox]),
    ]),
    h("div", { class: "sw-recent-title", text: "recent events" }),
    recent.node,
  );
  el.append(root);

  // --- traits -------------------------------------------------------------------------
  function renderStreams() {
    const supported = get(Trait.SUBSCRIBE_SUPPORTED, true) !== false;
    const subscriptions = list(get(Trait.SUBSCRIPTIONS, [])).map(String);
    const names = list(get(Trait.AVAILABLE_STREAMS, [])).map(String);
    for (const s of subscriptions) if (!names.includes(s)) names.push(s);
    // The streams the feed lists get their colours together, so the same after a reload.
    rateChart.know(names);
    // Without a subscribe step the server may list nothing; filter what actually arrives.
    if (!supported) for (const s of seen) if (!names.includes(s)) names.push(s);
    if (supported && hidden.size) {
      hidden.clear();
      recent.setHidden(hidden);
      filterDirty = true;
      schedule();
    }
    controls.renderStreams({
      names: names.filter((n) => n !== ""),
      subscriptions,
      pending: list(get(Trait.PENDING, [])).map(String),
      supported,
      hidden,
      // The feed's own words for a stream list that filters (a relayed feed says so).
      note: get(Trait.FEED, {})?.streams_note,
    });
  }

  function renderCharts() {
    const charts = list(get(Trait.CHARTS, []));
    controls.renderCharts(charts, (id) => seriesColors.color(id));
    fieldEmpty.hidden = charts.length > 0;
    chartsDirty = true;
    schedule();
  }

  const onTrait = {
    [Trait.FEED]: () => {
      header.setFeed(get(Trait.FEED, {}));
      renderStreams();
    },
    [Trait.STATE]: () => header.setState(get(Trait.STATE, "disconnected"), get(Trait.REASON, "")),
    [Trait.REASON]: () => header.setState(get(Trait.STATE, "disconnected"), get(Trait.REASON, "")),
    [Trait.AVAILABLE_STREAMS]: renderStreams,
    [Trait.SUBSCRIPTIONS]: renderStreams,
    [Trait.PENDING]: renderStreams,
    [Trait.SUBSCRIBE_SUPPORTED]: renderStreams,
    [Trait.PAUSED]: () => {
      controls.setPaused(get(Trait.PAUSED, false));
      header.setPaused(get(Trait.PAUSED, false));
    },
    [Trait.PLAYBACK]: () => header.setPlayback(get(Trait.PLAYBACK, {})),
    [Trait.FIELDS]: () => controls.renderFields(get(Trait.FIELDS, [])),
    [Trait.CHARTS]: renderCharts,
    [Trait.MAX_POINTS]: () => {
      chartsDirty = true;
      schedule();
    },
    [Trait.RECENT]: () => {
      recent.setLimit(recentLimit());
      pending.recentLimit = recentLimit();
    },
    [Trait.UPDATE_HZ]: () => {
      perf.updateHz = Number(get(Trait.UPDATE_HZ, Limit.UPDATE_HZ_DEFAULT));
    },
    [Trait.ERROR]: () => controls.setError(get(Trait.ERROR, "")),
  };
  // A trait the kernel changed is a word from it too (see the watchdog above).
  const listeners = Object.entries(onTrait).map(([name, fn]) => [
    `change:${name}`,
    (...args) => {
      watchdog.heard();
      fn(...args);
    },
  ]);
  for (const [event, fn] of listeners) model.on(event, fn);
  for (const name of [Trait.FEED, Trait.STATE, Trait.PAUSED, Trait.PLAYBACK, Trait.FIELDS, Trait.UPDATE_HZ, Trait.ERROR]) {
    onTrait[name]();
  }
  renderStreams();
  renderCharts();

  // --- bulk data, drawn once per frame ----------------------------------------------
  // Each figure due, drawn from its points (see CHART_EVERY_MS), one per task so no task
  // is long and the page stays responsive between them; a figure not due yet is drawn
  // when it is.
  let drawTimer = 0;
  function drawCharts() {
    drawTimer = 0;
    if (disposed || !chartsReady) return;
    let wait = Infinity;
    let more = false;
    for (const chart of figures()) {
      if (!chart.dirty) continue;
      const now = performance.now();
      const freeAt = chartFreeAt.get(chart) ?? 0;
      if (now < freeAt) {
        wait = Math.min(wait, freeAt - now);
        continue;
      }
      if (more) {
        wait = 0;
        break;
      }
      if (!chart.render()) continue;
      const took = performance.now() - now;
      more = true;
      perf.drawMs.push(took);
      perf.drawOf.push(chart === rateChart ? "rate" : "field");
      if (perf.drawMs.length > DRAW_SAMPLES) perf.drawMs.shift();
      if (perf.drawOf.length > DRAW_SAMPLES) perf.drawOf.shift();
      // (An events/s chart still empty is not held: its first second draws at once.)
      const every = chart === rateChart && rateChart.table.t.length ? RATE_EVERY_MS : CHART_EVERY_MS;
      chartFreeAt.set(chart, now + Math.max(every, took / CHART_SHARE));
    }
    if (more) {
      fieldChart._fitHeight();
      pictureLater();
    }
    if (wait === 0) drawTimer = setTimeout(drawCharts, 0);
    else if (wait < Infinity && !chartTimer) {
      chartTimer = setTimeout(() => {
        chartTimer = 0;
        schedule();
      }, wait);
    }
  }

  function showStats() {
    statsTimer = 0;
    if (!heldStats || disposed) return;
    header.setStats(heldStats, heldReplace);
    shownStats = heldReplace ? { ...heldStats } : { ...shownStats, ...heldStats };
    heldStats = null;
    heldReplace = false;
    statsShownAt = performance.now();
  }

  function draw() {
    frame = 0;
    if (disposed) return;
    const batch = pending;
    const filtering = get(Trait.SUBSCRIBE_SUPPORTED, true) === false;
    const hiddenNow = filtering ? hidden : new Set();

    // Text parts draw even before the charts exist (e.g. while the output is hidden).
    if (batch.stats) {
      // Held and merged until the header may change again (a window's are shown at once).
      heldStats = batch.statsReplace ? { ...batch.stats } : { ...heldStats, ...batch.stats };
      heldReplace ||= batch.statsReplace;
      const due = statsShownAt + STATS_EVERY_MS - performance.now();
      if (heldReplace || due <= 0) {
        clearTimeout(statsTimer);
        showStats();
      } else if (!statsTimer) statsTimer = setTimeout(showStats, due);
    }
    batch.stats = null;
    batch.statsReplace = false;
    if (batch.recent.length || batch.recentReplace) {
      // The event count lets a frozen table say how many events arrived meanwhile.
      const tableStarted = performance.now();
      const top = recent.apply(batch.recent, batch.recentReplace, hiddenNow, shownStats.events);
      perf.tableMs.push(performance.now() - tableStarted);
      if (perf.tableMs.length > PERF_SAMPLES) perf.tableMs.shift();
      if (top !== null) {
        perf.lastDrawnSeq = top;
        perf.lastDrawnAt = Date.now();
        if (!batch.recentReplace && batch.recent.length) {
          let newest = -Infinity;
          for (const item of batch.recent) newest = Math.max(newest, Number(item.time));
          perf.latencyMs.push(perf.lastDrawnAt - newest);
          if (perf.latencyMs.length > PERF_SAMPLES) perf.latencyMs.shift();
        }
      }
    }
    const arrived = batch.recent;
    batch.recent = [];
    batch.recentReplace = false;

    let fresh = [];
    if (chartsReady) {
      pending = new Pending({ recentLimit: recentLimit() });
      const started = performance.now();
      if (chartsDirty) {
        chartsDirty = false;
        fieldChart.sync(list(get(Trait.CHARTS, [])), maxPoints());
      }
      if (batch.rates.length || batch.ratesReplace) {
        fresh = rateChart.ingest(batch.rates, batch.ratesReplace);
      }
      if (batch.series.size || batch.seriesReplaceAll || batch.splits) fieldChart.ingest(batch);
      if (filterDirty) {
        filterDirty = false;
        rateChart.setHidden(hiddenNow);
        fieldChart.setHidden(hiddenNow);
      }
      // Drawn in a task of its own, after this frame's rendering: plotly measures text
      // (forcing a layout), which then covers the chart alone, not the rest of the
      // view just changed above.
      if (!drawTimer && figures().some((c) => c.dirty)) drawTimer = setTimeout(drawCharts, 0);
      const took = performance.now() - started;
      if (!batch.empty) {
        perf.frames += 1;
        perf.updates += batch.updates;
        perf.windows += batch.windows;
        perf.lastApplyMs = took;
        perf.applyMs.push(took);
        if (perf.applyMs.length > PERF_SAMPLES) perf.applyMs.shift();
      }
    }

    // New streams matter to the toggles only when they filter (no subscribe step).
    if (filtering) {
      const before = seen.size;
      for (const s of fresh) if (s) seen.add(s);
      for (const item of arrived) if (item.stream) seen.add(String(item.stream));
      if (seen.size !== before) renderStreams();
    }
  }

  // Every message the kernel sends, by kind (see protocol.js).
  const dispatch = dispatcher({
    // Says only that the kernel is there (onMessage tells the watchdog of every message).
    [ToBrowser.HEARTBEAT]: () => {},
    [ToBrowser.UPDATE]: (msg, buffers) => {
      pending.addUpdate(msg, buffers, maxPoints());
      schedule();
    },
    [ToBrowser.WINDOW]: (msg, buffers) => {
      if (msg.view != null && msg.view !== view) return;
      pending.addWindow(msg, buffers, maxPoints());
      // A zoom's answer ends at the zoom's right edge; live points follow later: a break
      // between, not a line across what was not sent.
      const end = Array.isArray(msg.range) ? msg.range[1] : null;
      // (A range reaching now or later has no seam: the live points continue it.)
      if (end != null && Number(end) < Date.now() - 1000) {
        for (const entry of list(msg.series)) {
          if (entry?.id == null) continue;
          const key = entry.key == null ? null : String(entry.key);
          const x = Float64Array.of(Number(end));
          pending.push(String(entry.id), x, Float64Array.of(NaN), false, maxPoints(), key);
        }
      }
      schedule();
    },
    [ToBrowser.DOWNLOAD]: (msg, buffers) => {
      // Only the view whose button was clicked saves the file.
      if (msg.view !== view) return;
      root.__swLastDownload = saveFile(root, msg, buffers[0]);
      controls.setExportStatus("ready", readyText(msg));
    },
    [ToBrowser.EXPORT_FAILED]: (msg) => {
      if (msg.view != null && msg.view !== view) return;
      controls.setExportStatus("failed", String(msg.reason ?? "the export failed"));
    },
  });
  function onMessage(msg, buffers) {
    watchdog.heard();
    perf.messages += 1;
    perf.bytes += messageSize(msg, buffers);
    dispatch(msg, buffers);
  }
  model.on("msg:custom", onMessage);
  const watchTimer = setInterval(() => watchdog.check(get(Trait.STATE) !== "closed"), 1000);

  // --- a picture of the charts, kept in the model for a notebook saved with widget state
  // (the kernel never sees it). Taken in idle time, at most every SNAPSHOT_EVERY_MS.
  let shownStats = {};
  let pictureTimer = 0;
  let picturedAt = 0;
  function pictureLater() {
    if (pictureTimer || disposed) return;
    const wait = Math.max(0, picturedAt + SNAPSHOT_EVERY_MS - performance.now());
    pictureTimer = setTimeout(() => {
      const idle = globalThis.requestIdleCallback ?? ((fn) => setTimeout(fn, 0));
      idle(picture, { timeout: 1000 });
    }, wait);
  }
  function picture() {
    pictureTimer = 0;
    if (disposed || !chartsReady) return;
    picturedAt = performance.now();
    const charts = [];
    const rate = chartSvg(rateChart.gd, rateChart.layer);
    const size = rateChart.gd._fullLayout ?? {};
    if (rate) charts.push({ caption: "events per second by stream", svg: rate, width: size.width, height: size.height });
    // The field figures, stacked as on the page, in one picture.
    let width = 0;
    let height = 0;
    const parts = [];
    for (const figure of fieldChart.figures) {
      const svg = chartSvg(figure.gd, figure.layer);
      const full = figure.gd._fullLayout ?? {};
      if (!svg) continue;
      parts.push(svg.replace(/^<svg /, `<svg y="${height}" `));
      width = Math.max(width, full.width);
      height += full.height;
    }
    if (parts.length) {
      const svg =
        `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
        `viewBox="0 0 ${width} ${height}">${parts.join("")}</svg>`;
      charts.push({ caption: "charted fields", svg, width, height });
    }
    if (charts.length) model.set(SNAPSHOT_KEY, { v: 1, at: Date.now(), stats: shownStats, charts });
  }

  // --- charts appear once the view has a size ----------------------------------------
  let resizeFrame = 0;
  // Work is moved out of the observer callback so layout changes made by plotly cannot
  // trigger "ResizeObserver loop" errors.
  const resizer = new ResizeObserver(() => {
    if (resizeFrame || disposed) return;
    resizeFrame = requestAnimationFrame(() => {
      resizeFrame = 0;
      if (!chartsReady && !chartsStarting && root.offsetWidth > 0) startCharts();
      else if (chartsReady) {
        rateChart.resize();
        fieldChart.resize();
        schedule();
      }
    });
  });
  function startCharts() {
    chartsStarting = true;
    const colors = themeColors(root);
    Promise.all([rateChart.init(colors), fieldChart.init(colors)]).then(
      () => {
        if (disposed) return;
        chartsReady = true;
        chartsDirty = true;
        filterDirty = true;
        schedule();
      },
      // A chart that cannot draw (no WebGL, say) must not take the rest of the view down.
      (err) => {
        root.dataset.chartError = String(err?.message ?? err);
      },
    );
  }
  resizer.observe(rateBox);
  resizer.observe(fieldBox);

  const unwatchTheme = watchTheme(() => {
    const colors = themeColors(root);
    rateChart.applyTheme(colors);
    fieldChart.applyTheme(colors);
    schedule();
  });

  // Ask for the current window last, so the reply lands on a fully built view.
  send({ kind: ToKernel.HELLO, view });

  return () => {
    disposed = true;
    if (frame) cancelAnimationFrame(frame);
    if (chartTimer) clearTimeout(chartTimer);
    if (drawTimer) clearTimeout(drawTimer);
    if (zoomTimer) clearTimeout(zoomTimer);
    if (pictureTimer) clearTimeout(pictureTimer);
    if (statsTimer) clearTimeout(statsTimer);
    if (resizeFrame) cancelAnimationFrame(resizeFrame);
    for (const [event, fn] of listeners) model.off(event, fn);
    model.off("msg:custom", onMessage);
    clearInterval(watchTimer);
    resizer.disconnect();
    controls.dispose();
    recent.dispose();
    unwatchTheme();
    rateChart.dispose();
    fieldChart.dispose();
    root.remove();
  };
}

export default { render };

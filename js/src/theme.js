// Plotly draws in SVG/canvas with explicit colours, so it cannot follow CSS variables by
// itself: read them from the widget and push them into the layout whenever the
// JupyterLab theme changes.

function withAlpha(color, alpha) {
  const m = /rgba?\(\s*([\d.]+)[ ,]+([\d.]+)[ ,]+([\d.]+)/.exec(color);
  return m ? `rgba(${m[1]}, ${m[2]}, ${m[3]}, ${alpha})` : `rgba(128, 128, 128, ${alpha})`;
}

/**
 * A CSS font size in px: JupyterLab gives its sizes in em ("0.83333em"), which plotly
 * would read as px. Kept within [9, 16] (unreadable below, oversized above).
 */
export function fontPx(value, basePx) {
  const n = parseFloat(value);
  if (!Number.isFinite(n) || n <= 0) return 11;
  const px = /r?em\s*$/.test(String(value)) ? n * basePx : /%\s*$/.test(String(value)) ? (n * basePx) / 100 : n;
  return Math.min(16, Math.max(9, Math.round(px * 10) / 10));
}

/** The colours and font the charts should use, resolved against `node`. */
export function themeColors(node) {
  const style = getComputedStyle(node);
  const v = (name) => style.getPropertyValue(name).trim();
  // Outside JupyterLab (VS Code, Colab, plain pages) the variables are missing; the
  // widget's own resolved text colour still matches the host's theme.
  const font = v("--jp-ui-font-color1") || style.color || "#222";
  return {
    font,
    muted: v("--jp-ui-font-color2") || withAlpha(font, 0.7),
    grid: v("--jp-border-color2") || withAlpha(font, 0.15),
    axis: v("--jp-border-color1") || withAlpha(font, 0.35),
    family: v("--jp-ui-font-family") || style.fontFamily || "system-ui, sans-serif",
    size: fontPx(v("--jp-ui-font-size0"), parseFloat(style.fontSize) || 13),
  };
}

/** Layout keys (dotted, so relayout leaves the rest of each axis alone) for `axes`. */
export function themeLayout(c, axes = ["xaxis", "yaxis"]) {
  const layout = {
    paper_bgcolor: "rgba(0,0,0,0)",
    plot_bgcolor: "rgba(0,0,0,0)",
    "font.color": c.font,
    "font.family": c.family,
    "font.size": c.size,
    "title.font.color": c.font,
    "legend.font.color": c.font,
    "hoverlabel.font.family": c.family,
  };
  for (const axis of axes) {
    for (const [key, value] of Object.entries(axisTheme(c))) layout[`${axis}.${key}`] = value;
  }
  return layout;
}

/** The theme keys of one axis (dotted, relative to the axis). */
export function axisTheme(c) {
  return {
    gridcolor: c.grid,
    linecolor: c.axis,
    zerolinecolor: c.axis,
    "tickfont.color": c.muted,
  };
}

/** Call `onChange` after JupyterLab switches theme; returns the disconnect function. */
export function watchTheme(onChange) {
  if (typeof MutationObserver === "undefined" || !document.body) return () => {};
  let frame = 0;
  const observer = new MutationObserver(() => {
    // The new theme's variables may land in the same task as the attribute change.
    if (!frame) {
      frame = requestAnimationFrame(() => {
        frame = 0;
        onChange();
      });
    }
  });
  observer.observe(document.body, {
    attributes: true,
    attributeFilter: ["data-jp-theme-light", "data-jp-theme-name"],
  });
  return () => {
    observer.disconnect();
    if (frame) cancelAnimationFrame(frame);
  };
}

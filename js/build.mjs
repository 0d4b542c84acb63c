// Bundles the widget for anywidget: one ESM file plus its CSS, written where the
// Python package serves them from (streamwidgets/static, not committed).
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

// Resolve from this file, so the build works from any working directory.
const here = (path) => fileURLToPath(new URL(path, import.meta.url));

const options = {
  entryPoints: [here("src/widget.js")],
  outfile: here("../streamwidgets/static/widget.js"),
  bundle: true,
  format: "esm",
  target: "es2020",
  minify: true,
  // Keep plotly's licence notices in the bundle.
  legalComments: "eof",
  logLevel: "info",
};

if (process.argv.includes("--watch")) {
  const ctx = await esbuild.context({ ...options, minify: false });
  await ctx.watch();
} else {
  await esbuild.build(options);
}

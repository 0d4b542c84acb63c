// Builds the widget's browser half into streamwidgets/widget/static (not committed):
//
// - widget.js: the app (controls, charts, plotly.js core: scatter only), about 1.2 MB.
//   The kernel sends it once per page, when a loader asks for it.
// - loader.js: the few KB every widget carries as its anywidget `_esm`. It knows the
//   app's content hash (baked in here), keeps one copy of the app per page and shows
//   the saved snapshot when a notebook is reopened without its kernel.
// - widget.css: the styles of both, sent as `_css`.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

// Resolve from this file, so the build works from any working directory.
const here = (path) => fileURLToPath(new URL(path, import.meta.url));
const STATIC = "../streamwidgets/widget/static/";

// plotly.js imports maplibre's stylesheet from its core; no map is ever drawn here, and
// plotly injects the styles it needs itself. Our own widget.css is kept.
const dropPackageCss = {
  name: "drop-package-css",
  setup(build) {
    build.onResolve({ filter: /\.css$/ }, (args) =>
      args.importer.includes("node_modules") ? { path: args.path, namespace: "empty-css" } : null,
    );
    build.onLoad({ filter: /.*/, namespace: "empty-css" }, () => ({ contents: "", loader: "css" }));
  },
};

const common = {
  bundle: true,
  format: "esm",
  target: "es2020",
  minify: true,
  logLevel: "info",
};

const app = {
  ...common,
  entryPoints: [here("src/widget.js")],
  outfile: here(`${STATIC}widget.js`),
  // Keep plotly's licence notices in the bundle.
  legalComments: "eof",
  // As plotly's own build: one regl, the stream polyfill, `global` as the window.
  alias: { regl: "@plotly/regl", stream: "stream-browserify", buffer: here("src/shims/buffer.js") },
  define: { global: "globalThis" },
  plugins: [dropPackageCss],
};

async function appHash() {
  const code = await readFile(app.outfile);
  return createHash("sha256").update(code).digest("hex").slice(0, 16);
}

function loader(hash, minify) {
  return {
    ...common,
    minify,
    entryPoints: [here("src/loader.js")],
    outfile: here(`${STATIC}loader.js`),
    define: { __APP_HASH__: JSON.stringify(hash) },
  };
}

if (process.argv.includes("--watch")) {
  // The loader follows every app rebuild, so its hash always names the app on disk.
  const rebuildLoader = {
    name: "rebuild-loader",
    setup(build) {
      build.onEnd(async (result) => {
        if (!result.errors.length) await esbuild.build(loader(await appHash(), false));
      });
    },
  };
  const ctx = await esbuild.context({
    ...app,
    minify: false,
    plugins: [...app.plugins, rebuildLoader],
  });
  await ctx.watch();
} else {
  await esbuild.build(app);
  await esbuild.build(loader(await appHash(), true));
}

// The anywidget `_esm` of every StreamWidget: a few KB, so a second widget in a page
// (and each widget in a saved notebook) costs little. The app itself (controls, charts,
// plotly) is one module per page, kept on globalThis under its content hash. It comes
// in the `_app` binary trait of the first widget a kernel makes (so it is there at once,
// even while later cells keep the kernel busy), which the loader then drops from the
// model; a page that lacks it and has no such widget asks the kernel, which answers with
// the bundle as one binary buffer. Pages that share a window (JupyterLab tabs) share it.
//
// A widget restored from a notebook saved with widget state has no kernel behind it
// (JupyterLab and Notebook 7 restore such widgets once a new kernel is ready, which does
// not know them): it shows the snapshot its live view kept in the model (snapshot.js
// makes it, snapshot_view.js shows it) and loads nothing.
//
// Keep in sync with streamwidgets/widget/frontend.py (the bundle request and reply, whose
// kinds are in protocol.js) and widget.js (SNAPSHOT_KEY, the app's render).
import { h } from "./dom.js";
import { createHeader } from "./header.js";
import { ToBrowser, ToKernel, Trait } from "./protocol.js";
import { SNAPSHOT_KEY, renderSnapshot } from "./snapshot_view.js";

const APP_HASH = __APP_HASH__;
// The binary trait the first widget of a kernel carries the app in (frontend.py).
const APP_KEY = Trait.APP;
const REGISTRY = Symbol.for("streamwidgets.app");
// After this long without the app, the placeholder says what it waits for.
const PATIENCE_MS = 3000;

function registry() {
  globalThis[REGISTRY] ??= new Map();
  return globalThis[REGISTRY];
}

async function importApp(buffer) {
  const url = URL.createObjectURL(new Blob([buffer], { type: "text/javascript" }));
  try {
    const mod = await import(/* webpackIgnore: true */ /* @vite-ignore */ url);
    return mod.default;
  } finally {
    URL.revokeObjectURL(url);
  }
}

// A kernel answers once the cell it runs has finished; the request waits as long as that.
function askKernel(model) {
  return new Promise((resolve, reject) => {
    const closed = () => {
      stop();
      reject(new Error("the widget was closed before its code arrived"));
    };
    function stop() {
      model.off("msg:custom", onMessage);
      model.off("comm:close", closed);
    }
    function onMessage(msg, buffers) {
      if (msg?.kind !== ToBrowser.BUNDLE) return;
      stop();
      if (msg.hash !== APP_HASH || !buffers?.length) {
        reject(new Error(`the kernel sent the widget code ${msg.hash}, this view needs ${APP_HASH}`));
        return;
      }
      importApp(buffers[0]).then(resolve, reject);
    }
    model.on("msg:custom", onMessage);
    // A closed widget gets no answer: the next view asks through its own widget.
    model.on("comm:close", closed);
    model.send({ kind: ToKernel.BUNDLE, hash: APP_HASH });
  });
}

/** The app module: this page's copy, else the one `model` brought, else asked for. */
function loadApp(model) {
  const apps = registry();
  const known = apps.get(APP_HASH);
  const brought = model.get(APP_KEY);
  // Held once, by the page: the model (and a notebook saved with widget state) keeps none.
  if (brought != null) model.set(APP_KEY, null);
  if (known) return known;
  const loading = brought?.byteLength ? importApp(brought) : askKernel(model);
  apps.set(APP_HASH, loading);
  // A failed load is forgotten, so the next view asks again.
  loading.catch(() => {
    if (apps.get(APP_HASH) === loading) apps.delete(APP_HASH);
  });
  return loading;
}

export default () => {
  // Per model (anywidget calls this factory for each one). The kernel never sends the
  // snapshot key: a model that has it when it is made comes from a saved notebook.
  let restored = false;
  let app = null;

  return {
    initialize({ model }) {
      // A kernel's model always has `_app` (bytes, often none); one restored from a
      // saved notebook has the snapshot, or at least `_app` dropped (null) by its view.
      restored = model.get(SNAPSHOT_KEY) != null || model.get(APP_KEY) == null;
      // Ask for the app before any view exists: it travels while the output is laid out.
      if (!restored) app = loadApp(model);
    },

    render({ model, el }) {
      if (restored) return renderSnapshot(model, el);
      let disposed = false;
      let cleanup = null;
      // Until the app is here: the header (feed, state) from the traits, at once.
      const header = createHeader();
      const note = h("div", { class: "sw-loading-note", text: "loading the charts…" });
      const placeholder = h("div", { class: "sw-root sw-loading" }, [header.node, note]);
      const showState = () =>
        header.setState(model.get(Trait.STATE) ?? "disconnected", model.get(Trait.REASON) ?? "");
      header.setFeed(model.get(Trait.FEED) ?? {});
      showState();
      const changes = [`change:${Trait.STATE}`, `change:${Trait.REASON}`];
      for (const event of changes) model.on(event, showState);
      const unplace = () => {
        for (const event of changes) model.off(event, showState);
        placeholder.remove();
      };
      el.append(placeholder);
      const slow = setTimeout(() => {
        note.textContent = "waiting for the kernel to send the charts' code (after the running cell)…";
      }, PATIENCE_MS);
      (app ?? loadApp(model)).then(
        (mod) => {
          clearTimeout(slow);
          if (disposed) return;
          unplace();
          cleanup = mod.render({ model, el });
        },
        (err) => {
          clearTimeout(slow);
          // Never retried against a view already shown: the next view asks again.
          app = null;
          note.textContent = `The charts could not load: ${err?.message ?? err}`;
          note.classList.add("sw-error");
        },
      );
      return () => {
        disposed = true;
        clearTimeout(slow);
        unplace();
        if (typeof cleanup === "function") cleanup();
      };
    },
  };
};

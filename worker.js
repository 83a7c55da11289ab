// The Web Worker: loads the wasm module and hands control to Rust (`worker_main`), which owns
// data, models and training. It runs the build the page runs (index.html chose it; `?build=`
// in this script's URL): pkg/threads/ (the CPU path on a rayon pool of one Web Worker per core)
// or pkg/ (WebGPU, and the CPU path on one thread).
//
// index.html starts this worker before it compiles the page's module, so the worker fetches
// MNIST meanwhile. The page's first message is its compiled `WebAssembly.Module`
// (src/web/link.rs), which is instantiated here instead of compiling the module a second time
// (anything else, and the module is fetched and compiled from its URL). The pool starts while
// Rust loads the data; Rust waits for it before computing. A failure to start is reported to
// the page in the protocol's own shape ({ Error: { message } }), once the page listens (after
// its first message).
const threaded = new URL(import.meta.url).searchParams.get('build') === 'threads';
// Listening before the first `await`, so the page's first message cannot pass unheard.
const compiled = new Promise((resolve) => {
  self.addEventListener('message', (e) => resolve(e.data), { once: true });
});

const glue = import(threaded ? './pkg/threads/latentlab.js' : './pkg/latentlab.js');

// MNIST's four gzip files, requested at once while the page compiles its module and read whole;
// Rust's loader (src/web/worker/data.rs) takes each URL's bytes from here once and fetches
// itself any that are missing or failed. The names are `FILE_NAMES` of src/data/mnist.rs, under
// `SERVED` (data.rs). At low priority: on a slow network the page's module comes first. They
// stay compressed until Rust inflates them: inflated here, by the browser's
// DecompressionStream, the 47 MB of training images held up this thread (and the module's
// start) longer than they saved (README, "Size and start").
const prefetch = new Map(['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte']
  .map((name) => `data/mnist/${name}.gz`)
  .map((url) => [url, fetch(url, { priority: 'low' }).then((r) => (r.ok ? r.arrayBuffer() : null)).catch(() => null)]));
self.latentlabPrefetched = (url) => {
  const bytes = prefetch.get(url) ?? null;
  prefetch.delete(url);
  return bytes;
};

try {
  const pkg = await glue;
  const module = await compiled;
  await pkg.default({ module_or_path: module instanceof WebAssembly.Module ? module : undefined });
  const threads = threaded ? navigator.hardwareConcurrency : 1;
  pkg.worker_main(threaded ? pkg.initThreadPool(threads) : undefined, threads);
} catch (e) {
  await compiled;
  self.postMessage({ Error: { message: `the worker could not start: ${e}` } });
}

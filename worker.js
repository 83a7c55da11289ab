// The Web Worker: loads the wasm module and hands control to Rust (`worker_main`), which owns
// data, models and training. It loads the build the page runs (index.html chose it; `?build=`
// in this script's URL): pkg/threads/ (the CPU path on a rayon pool of one Web Worker per core)
// or pkg/ (WebGPU, and the CPU path on one thread). The pool starts while the worker loads the
// data; Rust waits for it before computing. A failure to start is reported to the page in the
// protocol's own shape ({ Error: { message } }).
const threaded = new URL(import.meta.url).searchParams.get('build') === 'threads';
try {
  const pkg = await import(threaded ? './pkg/threads/latentlab.js' : './pkg/latentlab.js');
  await pkg.default();
  const threads = threaded ? navigator.hardwareConcurrency : 1;
  pkg.worker_main(threaded ? pkg.initThreadPool(threads) : undefined, threads);
} catch (e) {
  self.postMessage({ Error: { message: `the worker could not start: ${e}` } });
}

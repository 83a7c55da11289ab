// The Web Worker: loads the same wasm module as the page and hands control to Rust
// (`worker_main`), which owns data, models and training. A failure to start is reported to the
// page in the protocol's own shape ({ Error: { message } }).
import init, { worker_main } from './pkg/latentlab.js';

try {
  await init();
  worker_main();
} catch (e) {
  self.postMessage({ Error: { message: `the worker could not start: ${e}` } });
}

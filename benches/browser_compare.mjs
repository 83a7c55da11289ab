// latentlab in the browser vs TensorFlow.js 4.22, same headless Debian chromium, one run.
//
//   node benches/browser_compare.mjs [seconds per measurement, default 10] [--webgpu]
//
// latentlab: the page's own benchmark (the Benchmark button: training the `basic` net on the
// backend the page chose, in its Web Worker, on MNIST), twice: cross-origin isolated as
// `latentlab serve` serves it (the threaded build, one thread per core) and without the isolation
// headers (the single-threaded build). TensorFlow.js: the same net (conv
// 8/16/32, k3 s2, dense 128-16-4 and back, transposed convs, sigmoid), Adam 1e-3, MSE, batch 256,
// on its wasm, webgl and cpu backends, on random images (throughput does not depend on content).
// tfjs 4.22's wasm backend has no Conv2DBackpropFilter kernel, so the cpu backend's is
// registered for it through a small adapter (reads the wasm tensors, writes the result back).
// Needs the app built (scripts/build-web.sh) and the npm packages (scripts/setup-web.sh).
import { readFileSync } from 'node:fs';
import { openApp, withoutIsolation, waitForData } from '../tests/e2e/browser.mjs';

const seconds = Number(process.argv.find((a) => /^\d+(\.\d+)?$/.test(a)) ?? 10);
const webgpu = process.argv.includes('--webgpu');

const { url, context, close } = await openApp({ webgpu });
const rows = [];

try {
  // ---- latentlab ---------------------------------------------------------------------------
  for (const isolated of [true, false]) {
    const page = await context.newPage();
    if (!isolated) await withoutIsolation(page, url);
    await page.goto(url);
    await waitForData(page, 120_000);
    await page.waitForFunction(() => !document.querySelector('#backend-active').textContent.includes('starting'));
    const backend = await page.textContent('#backend-active');
    const threads = /\((\d+) threads\)/.exec(await page.textContent('#backend-reason'))?.[1] ?? '1';
    await page.selectOption('#preset', 'basic');
    await page.click('#bench');
    await page.waitForFunction(() => /training images\/s/.test(document.querySelector('#bench-result').textContent), null, { timeout: 120_000 });
    const text = await page.textContent('#bench-result');
    const how = isolated ? `${threads} worker thread${threads === '1' ? '' : 's'}` : '1 worker thread, not isolated';
    rows.push({ name: `latentlab (${backend}, ${how})`, imagesPerS: Number(/([\d.]+) training images\/s/.exec(text)[1]) });
    await page.close();
  }

  // ---- TensorFlow.js ------------------------------------------------------------------------
  const tfPage = await context.newPage();
  const files = {
    'tf.min.js': 'node_modules/@tensorflow/tfjs/dist/tf.min.js',
    'tf-backend-wasm.min.js': 'node_modules/@tensorflow/tfjs-backend-wasm/dist/tf-backend-wasm.min.js',
    'tfjs-backend-wasm.wasm': 'node_modules/@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm',
    'tfjs-backend-wasm-simd.wasm': 'node_modules/@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm',
    'tfjs-backend-wasm-threaded-simd.wasm': 'node_modules/@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm',
  };
  const isolation = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };
  await tfPage.route(`${url}tfjs/**`, (route) => {
    const name = route.request().url().split('/').pop();
    const type = name.endsWith('.wasm') ? 'application/wasm' : name.endsWith('.js') ? 'text/javascript' : 'text/html';
    if (name === 'bench.html') return route.fulfill({ status: 200, headers: { ...isolation, 'Content-Type': type }, body: '<!doctype html><title>tfjs</title>' });
    if (!files[name]) return route.fulfill({ status: 404, body: 'not found' });
    return route.fulfill({ status: 200, headers: { ...isolation, 'Content-Type': type }, body: readFileSync(files[name]) });
  });
  await tfPage.goto(`${url}tfjs/bench.html`);
  await tfPage.addScriptTag({ url: `${url}tfjs/tf.min.js` });
  await tfPage.addScriptTag({ url: `${url}tfjs/tf-backend-wasm.min.js` });
  for (const name of ['wasm', 'webgl', 'cpu']) {
    const result = await tfPage.evaluate(async ({ name, seconds, base }) => {
      /* global tf */
      try {
        if (name === 'wasm') {
          tf.wasm.setWasmPaths(base);
          // The cpu backend's filter gradient, run on the wasm backend's tensors.
          if (!tf.getKernel('Conv2DBackpropFilter', 'wasm')) {
            const cpu = tf.getKernel('Conv2DBackpropFilter', 'cpu');
            tf.registerKernel({
              kernelName: 'Conv2DBackpropFilter',
              backendName: 'wasm',
              kernelFunc: ({ inputs, attrs, backend }) => cpu.kernelFunc({
                inputs,
                attrs,
                backend: {
                  data: { get: (id) => ({ values: backend.readSync(id) }) },
                  makeTensorInfo: (shape, dtype, values) => {
                    const out = backend.makeOutput(shape, dtype);
                    backend.typedArrayFromHeap(out).set(values);
                    return out;
                  },
                },
              }),
            });
          }
        }
        if (!(await tf.setBackend(name))) return { error: 'backend unavailable' };
        await tf.ready();
        const L = tf.layers;
        const model = tf.sequential({ layers: [
          L.conv2d({ inputShape: [28, 28, 1], filters: 8, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }),
          L.conv2d({ filters: 16, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }),
          L.conv2d({ filters: 32, kernelSize: 3, strides: 2, padding: 'valid', activation: 'relu' }),
          L.flatten(),
          L.dense({ units: 128, activation: 'relu' }),
          L.dense({ units: 16, activation: 'relu' }),
          L.dense({ units: 4 }),
          L.dense({ units: 16, activation: 'relu' }),
          L.dense({ units: 128, activation: 'relu' }),
          L.dense({ units: 288, activation: 'relu' }),
          L.reshape({ targetShape: [3, 3, 32] }),
          L.conv2dTranspose({ filters: 16, kernelSize: 3, strides: 2, padding: 'valid', activation: 'relu' }),
          L.conv2dTranspose({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }),
          L.conv2dTranspose({ filters: 1, kernelSize: 3, strides: 2, padding: 'same', activation: 'sigmoid' }),
        ] });
        model.compile({ optimizer: tf.train.adam(1e-3), loss: 'meanSquaredError' });
        const x = tf.randomUniform([256, 28, 28, 1]);
        for (let i = 0; i < 2; i++) await model.trainOnBatch(x, x); // warm-up (kernel compilation)
        let images = 0;
        const start = performance.now();
        while (performance.now() - start < seconds * 1000) {
          await model.trainOnBatch(x, x);
          images += 256;
        }
        const elapsed = (performance.now() - start) / 1000;
        const threads = name === 'wasm' ? tf.wasm.getThreadsCount?.() ?? 1 : undefined;
        return { imagesPerS: images / elapsed, threads };
      } catch (e) {
        return { error: String(e).slice(0, 200) };
      }
    }, { name, seconds, base: `${url}tfjs/` });
    const threads = result.threads ? `, ${result.threads} thread${result.threads > 1 ? 's' : ''}` : '';
    rows.push({ name: `TensorFlow.js 4.22 ${name}${threads}`, ...result });
  }
} finally {
  await close();
}

console.log(`basic net, training images/s, headless chromium, ${seconds} s per measurement`);
for (const r of rows) console.log(`${r.name.padEnd(48)} ${r.error ? r.error : r.imagesPerS.toFixed(0).padStart(8)}`);
const ours = rows[0].imagesPerS;
console.log(`ratio latentlab threaded / single-threaded: ${(ours / rows[1].imagesPerS).toFixed(2)}`);
const best = rows.slice(2).filter((r) => !r.error).sort((a, b) => b.imagesPerS - a.imagesPerS)[0];
if (best) console.log(`ratio latentlab / fastest TensorFlow.js (${best.name}): ${(ours / best.imagesPerS).toFixed(2)}`);

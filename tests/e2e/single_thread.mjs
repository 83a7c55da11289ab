// End-to-end: the page where it is not cross-origin isolated (a static host without COOP/COEP
// headers). It cannot share memory with a pool of workers, so it must load the single-threaded
// build, say so, and still train. (The isolated, threaded page is app.mjs's.)
//
//   node tests/e2e/single_thread.mjs
import assert from 'node:assert/strict';
import { runOnApp, withoutIsolation, waitForData } from './browser.mjs';

const step = (text) => console.log(`[e2e single-thread] ${text}`);

await runOnApp({ webgpu: false }, async ({ url, context }) => {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await withoutIsolation(page, url);
  const wasm = [];
  page.on('request', (r) => { if (r.url().endsWith('.wasm')) wasm.push(new URL(r.url()).pathname); });
  await page.goto(url);
  assert.equal(await page.evaluate(() => self.crossOriginIsolated), false, 'the headers were stripped');
  await waitForData(page);
  await page.waitForFunction(() => !document.querySelector('#backend-active').textContent.includes('starting'));
  const reason = await page.textContent('#backend-reason');
  step(`backend: ${reason}; modules fetched: ${[...new Set(wasm)].join(', ')}`);
  assert.match(reason, /training on CPU \(one thread\)/);
  assert.ok(wasm.length > 0 && wasm.every((p) => p === '/pkg/latentlab_bg.wasm'), 'only the single-threaded module is fetched');
  // The page's benchmark trains `basic` for 10 s in the worker.
  await page.click('#bench');
  await page.waitForFunction(() => /training images\/s/.test(document.querySelector('#bench-result').textContent), null, { timeout: 60_000 });
  const result = await page.textContent('#bench-result');
  step(`trains: ${result}`);
  assert.ok(Number(/([\d.]+) training images\/s/.exec(result)[1]) > 0);
  assert.deepEqual(errors, []);
});

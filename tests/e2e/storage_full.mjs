// End-to-end: the page on a full disk. The origin's storage quota is overridden to 1 byte
// (DevTools protocol) before the page first opens IndexedDB (Chromium reads the quota when it
// opens an origin's database, so this runs in a browser of its own). Saving an uploaded model
// must then be a message that says what happened, keep nothing, and leave the page working.
//
//   node tests/e2e/storage_full.mjs      (trains a small model with the CLI to upload)
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { latentlab, runOnApp, waitForData } from './browser.mjs';

const step = (text) => console.log(`[e2e storage-full] ${text}`);
const modelDir = join('out', 'e2e', 'storage-full-model');
const trained = spawnSync(latentlab, ['train', '--preset', 'basic', '--epochs', '1', '--limit', '512', '--quiet', '--out', modelDir], { stdio: 'inherit' });
assert.equal(trained.status, 0, 'the CLI trains the model to upload');
const modelFile = join(modelDir, 'model.bpk');

await runOnApp({ webgpu: false }, async ({ url, context }) => {
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  const origin = new URL(url).origin;
  await cdp.send('Storage.overrideQuotaForOrigin', { origin, quotaSize: 1 });
  await page.goto(url);
  await waitForData(page);
  await page.setInputFiles('#upload-model', { name: 'full.bpk', mimeType: 'application/octet-stream', buffer: readFileSync(modelFile) });
  await page.waitForFunction(() => /aborted the write and kept nothing|storage for this page is full/.test(document.querySelector('#errors').textContent), null, { timeout: 30_000 });
  const message = (await page.textContent('#errors')).match(/[^.]*(aborted the write|storage for this page is full)[^)]*\)/)?.[0];
  step(`saving over the quota: "${message}"`);
  assert.ok(!(await page.textContent('#model-list')).includes('full'), 'nothing was stored');
  // What could not be saved is not put in use as if it had been.
  assert.doesNotMatch(await page.textContent('#draw-view'), /Model in use: full\b/, 'an unsaved upload is not presented as saved and in use');
  step('nothing stored, and the upload is not in use as if saved');
});

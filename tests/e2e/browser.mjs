// What the browser test and the browser benchmark share: the app served by `latentlab serve`,
// and Debian's chromium launched headless with the flags DEVELOPERS.md gives (plus SwiftShader's
// WebGPU adapter when asked) and a fresh profile.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const targetDir = process.env.CARGO_TARGET_DIR ?? join(process.env.HOME, '.cache/latentlab/target');
export const latentlab = join(targetDir, 'release', 'latentlab');

/**
 * Serves the app (from `root`, default the current directory) and chromium on it; `close()` ends
 * both and removes the profile.
 */
export async function openApp({ webgpu, jsFlags, root = '.' }) {
  const server = spawn(latentlab, ['serve', '--port', '0', '--root', root], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise((resolve, reject) => {
    server.on('exit', (code) => reject(new Error(`latentlab serve exited (${code})`)));
    server.stdout.on('data', (chunk) => {
      const m = /http:\/\/127\.0\.0\.1:\d+\//.exec(String(chunk));
      if (m) resolve(m[0]);
    });
  });
  const profile = mkdtempSync(join(tmpdir(), 'latentlab-browser-'));
  const args = [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--remote-debugging-pipe', `--user-data-dir=${profile}`,
  ];
  if (webgpu) args.push('--enable-unsafe-webgpu');
  if (jsFlags) args.push(`--js-flags=${jsFlags}`);
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', ignoreDefaultArgs: true, args });
  const context = browser.contexts()[0] ?? (await browser.newContext());
  const close = async () => {
    await browser.close();
    server.kill();
    rmSync(profile, { recursive: true, force: true });
  };
  return { url, context, close };
}

/**
 * Serves `page` the app's document without its COOP/COEP headers, as a plain static host would:
 * the page is not cross-origin isolated, so it (and its worker) run the single-threaded build.
 */
export async function withoutIsolation(page, url) {
  await page.route(url, async (route) => {
    const response = await route.fetch();
    const headers = { ...response.headers() };
    delete headers['cross-origin-opener-policy'];
    delete headers['cross-origin-embedder-policy'];
    await route.fulfill({ response, headers });
  });
}

/** Opens the app, runs `test({ url, context })` on it, closes it, and exits 1 if the test threw. */
export async function runOnApp(options, test) {
  const app = await openApp(options);
  let failed = false;
  try {
    await test(app);
  } catch (e) {
    failed = true;
    console.error(e);
  } finally {
    await app.close();
  }
  process.exit(failed ? 1 : 0);
}

/** Waits until the page says MNIST is loaded. */
export async function waitForData(page, timeout = 60_000) {
  await page.waitForFunction(() => document.querySelector('#data-status')?.textContent.startsWith('MNIST ready'), null, { timeout });
}

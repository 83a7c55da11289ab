// Where the page's training time goes: runs the page's training in headless chromium with V8's
// perf map on, while `perf record` samples the whole machine.
//   node benches/profile_page.mjs [seconds, default 8, at most 8 without --gan] [--gan]
//   perf report -i /tmp/latentlab-page.perf --sort sym
// Without --gan: the page's benchmark (`basic`); with it: an ACGAN epoch of 12,000 images (as the
// e2e trains one). Both on the threaded build. Build pkg/ with the wasm name section kept
// (wasm-bindgen without --remove-name-section) to see function names, not wasm-function[N].
import { spawn } from 'node:child_process';
import { openApp, waitForData } from '../tests/e2e/browser.mjs';

const gan = process.argv.includes('--gan');
// The page's benchmark runs 10 s and the recording starts 1.5 s in: longer, and the profile
// would count the idle machine after it as the page's idle time.
const seconds = Math.min(Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 8), gan ? Infinity : 8);
const jsFlags = '--perf-basic-prof --no-logfile-per-isolate --logfile=/tmp/latentlab-v8.log';
const { url, context, close } = await openApp({ webgpu: false, jsFlags });
try {
  const page = await context.newPage();
  await page.goto(url);
  await waitForData(page, 120_000);
  await page.waitForFunction(() => !document.querySelector('#backend-active').textContent.includes('starting'));
  let done;
  if (gan) {
    await page.fill('#gan-images', '15000');
    await page.fill('#gan-epochs', '1');
    await page.selectOption('#gan-kind', 'acgan');
    await page.click('#gan-start');
    done = () => page.waitForFunction(() => /\) in use/.test(document.querySelector('#gan-status').textContent), null, { timeout: 600_000 });
  } else {
    await page.selectOption('#preset', 'basic');
    await page.click('#bench');
    done = () => page.waitForFunction(() => /training images\/s/.test(document.querySelector('#bench-result').textContent), null, { timeout: 120_000 });
  }
  await new Promise((r) => setTimeout(r, 1500));
  const perf = spawn('perf', ['record', '-F', '999', '-a', '-o', '/tmp/latentlab-page.perf', '--', 'sleep', String(seconds)], { stdio: 'inherit' });
  await new Promise((r) => perf.on('exit', r));
  await done();
  console.log(await page.textContent(gan ? '#gan-status' : '#bench-result'));
} finally {
  await close();
}

// Where the page's training time goes: runs the page's benchmark (`basic`, the threaded build)
// in headless chromium with V8's perf map on, while `perf record` samples the whole machine.
//   node benches/profile_page.mjs [seconds, default 8]   then   perf report -i /tmp/latentlab-page.perf
// Build pkg/ with the wasm name section kept (wasm-bindgen without --remove-name-section) to
// see function names instead of wasm-function[N].
import { spawn } from 'node:child_process';
import { openApp, waitForData } from '../tests/e2e/browser.mjs';

const seconds = Number(process.argv[2] ?? 8);
const { url, context, close } = await openApp({ webgpu: false, jsFlags: '--perf-basic-prof --no-logfile-per-isolate --logfile=/tmp/latentlab-v8.log' });
try {
  const page = await context.newPage();
  await page.goto(url);
  await waitForData(page, 120_000);
  await page.waitForFunction(() => !document.querySelector('#backend-active').textContent.includes('starting'));
  await page.selectOption('#preset', 'basic');
  await page.click('#bench');
  await new Promise((r) => setTimeout(r, 1500));
  const perf = spawn('perf', ['record', '-F', '999', '-a', '-o', '/tmp/latentlab-page.perf', '--', 'sleep', String(seconds)], { stdio: 'inherit' });
  await new Promise((r) => perf.on('exit', r));
  await page.waitForFunction(() => /training images\/s/.test(document.querySelector('#bench-result').textContent), null, { timeout: 120_000 });
  console.log(await page.textContent('#bench-result'));
} finally {
  await close();
}

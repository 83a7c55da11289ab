// t-SNE of 10,000 test digits' latent codes: natively (`latentlab latent --method tsne`, all
// cores) and in the page (the worker, wasm, one thread), on the same model, one run.
//
//   node benches/tsne_10k.mjs [model directory, default runs/best45]
//
// Without that directory a `basic` model is trained for one epoch first. Needs the CLI and the
// app built (scripts/build-web.sh) and the npm packages (scripts/setup-web.sh).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { latentlab, openApp, waitForData } from '../tests/e2e/browser.mjs';

let model = process.argv[2] ?? 'runs/best45';
const run = (args) => {
  const r = spawnSync(latentlab, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`latentlab ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};
if (!existsSync(join(model, 'model.bpk'))) {
  model = join(mkdtempSync(join(tmpdir(), 'latentlab-tsne-')), 'basic');
  run(['train', '--preset', 'basic', '--epochs', '1', '--quiet', '--out', model]);
}

const native = JSON.parse(run(['latent', '--model', model, '--method', 'tsne', '--points', '10000', '--quiet',
  '--out', join(tmpdir(), 'latentlab-tsne-10k.png')]));

const { url, context, close } = await openApp({ webgpu: false });
let browser;
try {
  const page = await context.newPage();
  await page.goto(url);
  await waitForData(page, 120_000);
  await page.setInputFiles('#upload-model', join(model, 'model.bpk'));
  await page.click('#model-list li .use');
  await page.waitForFunction(() => /Model in use/.test(document.querySelector('#draw-view').textContent));
  await page.waitForSelector('#latent-show:not([disabled])');
  await page.selectOption('#latent-method', 'tsne');
  await page.fill('#latent-points', '10000');
  await page.click('#latent-show');
  await page.waitForFunction(() => /^tsne of 10000 /.test(document.querySelector('#scatter-ae-caption').textContent), null, { timeout: 600_000 });
  browser = Number(/in ([\d.]+) s/.exec(await page.textContent('#scatter-ae-caption'))[1]);
} finally {
  await close();
}
console.log(JSON.stringify({
  model, points: 10000, native_seconds: native.seconds, browser_seconds: browser,
  browser_over_native: browser / native.seconds,
}));

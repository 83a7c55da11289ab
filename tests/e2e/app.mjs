// End-to-end test of the web app in headless Debian chromium (playwright-core).
//
//   node tests/e2e/app.mjs cpu      no WebGPU adapter: the page must fall back to the CPU path
//   node tests/e2e/app.mjs webgpu   SwiftShader's software adapter: detected, and a few batches
//                                   run on it when chosen
//
// It serves the built app (`latentlab serve`), trains `basic` briefly, checks that the loss falls
// and reconstructions are drawn, draws on the canvas, applies salt-and-pepper noise, fine-tunes a
// classifier, shows latent views, trains an ACGAN epoch and generates chosen digits, saves and
// reloads a model, and leaves screenshots in out/e2e/.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { latentlab, openApp, waitForData } from './browser.mjs';

const mode = process.argv[2] ?? 'cpu';
assert.ok(mode === 'cpu' || mode === 'webgpu', `mode is cpu or webgpu, not ${mode}`);
const shots = join('out', 'e2e');
mkdirSync(shots, { recursive: true });

const step = (text) => console.log(`[e2e ${mode}] ${text}`);

const { url, context, close } = await openApp({ webgpu: mode === 'webgpu' });
let failed = false;
try {
  const page = await context.newPage();
  await page.setViewportSize({ width: 1280, height: 800 });
  const consoleErrors = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));

  // ---- load: backend detection and data ----------------------------------------------------
  const loadStart = Date.now();
  await page.goto(url);
  await page.waitForSelector('#start', { timeout: 30_000 });
  step(`train view ready ${Date.now() - loadStart} ms after navigation`);
  await waitForData(page);
  step(`data: ${await page.textContent('#data-status')} (${Date.now() - loadStart} ms)`);
  await page.waitForFunction(() => !document.querySelector('#backend-active').textContent.includes('starting'));
  const reason = await page.textContent('#backend-reason');
  step(`backend: ${await page.textContent('#backend-active')}: ${reason}`);
  // Served with COOP/COEP, the page is cross-origin isolated: the threaded build, one thread per core.
  assert.equal(await page.evaluate(() => self.crossOriginIsolated), true);
  const cores = await page.evaluate(() => navigator.hardwareConcurrency);
  if (mode === 'cpu') {
    assert.match(reason, cores > 1 ? new RegExp(`no WebGPU adapter: training on CPU \\(${cores} threads\\)`) : /no WebGPU adapter: training on CPU \(one thread\)/);
    assert.ok(await page.isDisabled('#use-webgpu'), 'no adapter: the WebGPU button is off');
  } else {
    assert.match(reason, /WebGPU adapter/);
  }

  // ---- a bad spec is explained before training ---------------------------------------------
  await page.fill('#spec-channels', '8,16,32,64,128');
  await page.fill('#spec-kernels', '3,3,3,3,3');
  await page.fill('#spec-strides', '2,2,2,2,2');
  await page.fill('#spec-paddings', '0,0,0,0,0');
  await page.waitForFunction(() => document.querySelector('#spec-check').textContent.startsWith('✗'));
  step(`impossible spec: ${await page.textContent('#spec-check')}`);
  assert.ok(await page.isDisabled('#start'), 'an impossible spec cannot start');
  await page.selectOption('#preset', 'best');
  await page.selectOption('#preset', 'basic');
  await page.waitForFunction(() => document.querySelector('#spec-check').textContent.startsWith('✓'));

  // ---- train -------------------------------------------------------------------------------
  if (mode === 'webgpu') {
    await page.click('#use-webgpu');
    await page.waitForFunction(() => document.querySelector('#backend-active').textContent === 'WebGPU', null, { timeout: 60_000 });
    step(`switched: ${await page.textContent('#backend-reason')}`);
  }
  // SwiftShader trains ~200 images/s: a few batches only there.
  const [images, epochs] = mode === 'cpu' ? ['12000', '3'] : ['1000', '2'];
  await page.fill('#train-images', images);
  await page.fill('#spec-epochs', epochs);
  await page.fill('#spec-name', `e2e-${mode}`);
  // Prune once, after the first epoch, to the study's amounts: the train view shows sparsity.
  if (mode === 'cpu') await page.fill('#spec-pruning', 'every=1,until=1,reading=target');
  const trainStart = Date.now();
  await page.click('#start');
  if (mode === 'cpu') {
    // Pause as soon as the run is going: the worker stops at its next progress report.
    await page.waitForSelector('#pause:not([disabled])');
    await page.click('#pause');
    await page.waitForFunction(() => /^paused/.test(document.querySelector('#train-status').textContent));
    const pausedAt = await page.textContent('#train-status');
    await page.waitForTimeout(1500);
    assert.equal(await page.textContent('#train-status'), pausedAt, 'nothing moves while paused');
    await page.click('#resume');
    step(`paused and resumed at: ${pausedAt}`);
  }
  await page.waitForFunction(() => /images\/s/.test(document.querySelector('#train-status').textContent), null, { timeout: 60_000 });
  step(`progress: ${await page.textContent('#train-status')}`);
  await page.waitForFunction(() => /^test mse/.test(document.querySelector('#train-status').textContent), null, { timeout: 240_000 });
  step(`finished in ${Date.now() - trainStart} ms: ${await page.textContent('#train-status')}`);
  const val = (await page.getAttribute('#loss-chart', 'data-val')).split(',').map(Number);
  const train = (await page.getAttribute('#loss-chart', 'data-train')).split(',').map(Number);
  step(`train loss per epoch ${train}, validation ${val}`);
  assert.equal(val.length, Number(epochs));
  assert.ok(val.at(-1) < val[0] || train.at(-1) < train[0], 'the loss falls');
  // Mean brightness of a canvas, in the page: read once (`inked`) or waited on (`inkOf`).
  const inkOf = (id) => {
    const c = document.querySelector(id);
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let sum = 0;
    for (let i = 0; i < d.length; i += 4) sum += d[i];
    return sum / (d.length / 4) / 255;
  };
  const inked = (selector) => page.evaluate(inkOf, selector);
  // How much neighbouring pixels agree (their correlation, across and down) on a canvas drawn at
  // scale 1, its grey gaps included. On the page's epoch grid: digit shapes after 12,000 images
  // 0.72, speckle after 4,800 images 0.54. On grids with black gaps (computed outside the page):
  // 20 real test digits 0.80-0.84, the same generator's shapes 0.86 and speckle 0.57, uniform
  // noise 0.06, a checkerboard -0.55, though all of them carry ink.
  const strokesOf = (id) => {
    const c = document.querySelector(id);
    const { width: w, height: h } = c;
    const d = c.getContext('2d').getImageData(0, 0, w, h).data;
    const at = (x, y) => d[4 * (y * w + x)] / 255;
    let n = 0, sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        for (const [u, v] of [[x + 1, y], [x, y + 1]]) {
          if (u >= w || v >= h) continue;
          const a = at(x, y), b = at(u, v);
          n += 1; sa += a; sb += b; saa += a * a; sbb += b * b; sab += a * b;
        }
      }
    }
    const [ma, mb] = [sa / n, sb / n];
    return (sab / n - ma * mb) / Math.sqrt((saa / n - ma * ma) * (sbb / n - mb * mb));
  };
  const reconInk = await inked('#recon-output');
  step(`mean brightness of the reconstructions: ${reconInk.toFixed(3)}`);
  assert.ok(reconInk > 0.03, 'reconstructions are drawn');
  if (mode === 'cpu') {
    const sparsity = await page.textContent('#sparsity-overall');
    step(`sparsity after the run: ${sparsity}`);
    const pct = Number(/([\d.]+)% of/.exec(sparsity)[1]);
    assert.ok(pct > 5 && pct < 50, 'the study amounts as targets prune some of the weights');
  }
  await page.screenshot({ path: join(shots, `${mode}-trained-1280.png`), fullPage: true });

  // ---- the model was saved ------------------------------------------------------------------
  await page.waitForFunction((name) => document.querySelector('#model-list')?.textContent.includes(name), `e2e-${mode}`);

  if (mode === 'cpu') {
    // ---- models move between the page and the CLI ------------------------------------------
    const pageLoss = Number(/test mse ([\d.]+)/.exec(await page.textContent('#train-status'))[1]);
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#model-list li .download')]);
    const downloaded = join(shots, 'from-page.bpk');
    await download.saveAs(downloaded);
    const evaluated = spawnSync(latentlab, ['eval', '--model', downloaded], { encoding: 'utf8' });
    assert.equal(evaluated.status, 0, evaluated.stderr);
    const cliLoss = JSON.parse(evaluated.stdout).test_loss;
    step(`the page's model evaluated by the CLI: test mse ${cliLoss.toFixed(5)} (page said ${pageLoss})`);
    assert.ok(Math.abs(cliLoss - pageLoss) < 1e-3, 'the CLI reads the page model and agrees on its loss');

    const native = join(shots, 'native');
    const trained = spawnSync(latentlab,
      ['train', '--preset', 'basic', '--epochs', '1', '--limit', '3000', '--quiet', '--out', native], { encoding: 'utf8' });
    assert.equal(trained.status, 0, trained.stderr);
    await page.setInputFiles('#upload-model', join(native, 'model.bpk'));
    await page.waitForFunction(() => /Model in use: model\b/.test(document.querySelector('#draw-view').textContent));
    step('a model trained by the CLI loads in the page');

    // ---- bad files are clear errors and lose nothing -----------------------------------------
    const junk = join(shots, 'junk.bpk');
    writeFileSync(junk, 'this is not a model');
    await page.setInputFiles('#upload-model', junk);
    await page.waitForFunction(() => /not a latentlab model/.test(document.querySelector('#errors').textContent));
    const bad = ['a', 'b', 'c', 'd'].map((n) => ({ name: `${n}.idx`, mimeType: 'application/octet-stream', buffer: Buffer.from('not an idx file') }));
    await page.setInputFiles('#data-files', bad);
    await page.waitForFunction(() => /\.idx: not an IDX/.test(document.querySelector('#errors').textContent));
    assert.match(await page.textContent('#data-status'), /^MNIST ready/, 'the data loaded before stays');
    step(`bad files: ${(await page.textContent('#errors ul')).slice(0, 160)}`);
    // More of the native corpus (tests/core/bad_inputs.rs) through the page's model picker: a
    // truncated file and one with NaN weights are named, and the model in use stays.
    const modelBytes = readFileSync(join(native, 'model.bpk'));
    const nan = Buffer.from(modelBytes);
    nan.fill(0xff, nan.length - 1024);
    for (const [name, buffer, want] of [
      ['truncated.bpk', modelBytes.subarray(0, modelBytes.length >> 1), 'truncated\\.bpk: not a latentlab model'],
      ['nan.bpk', nan, 'nan\\.bpk: the weights .* NaN'],
    ]) {
      await page.setInputFiles('#upload-model', { name, mimeType: 'application/octet-stream', buffer });
      await page.waitForFunction((re) => new RegExp(re).test(document.querySelector('#errors').textContent), want);
    }
    assert.match(await page.textContent('#draw-view'), /Model in use: model\b/, 'the model in use stays');
    assert.ok(!(await page.textContent('#model-list')).includes('nan'), 'a broken file is not kept');
    step('a truncated model and one with NaN weights: named, and the model in use stays');
    await page.click('#errors button');
    await page.click('#model-list li:has(strong:text-is("e2e-cpu")) .use');
    await page.waitForFunction(() => /Model in use: e2e-cpu/.test(document.querySelector('#draw-view').textContent));
  }

  // ---- draw, corrupt, reconstruct -----------------------------------------------------------
  const pad = await page.locator('#draw-canvas');
  await pad.scrollIntoViewIfNeeded();
  const box = await pad.boundingBox();
  await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.2);
  await page.mouse.down();
  for (let i = 1; i <= 12; i++) await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * (0.2 + 0.05 * i));
  await page.mouse.up();
  assert.ok((await inked('#draw-input')) > 0.03, 'the stroke reaches the net input');
  const snapshot = () => page.$eval('#draw-recon', (c) => Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data).join());
  await page.waitForFunction(() => document.querySelectorAll('#latent .latent-row').length > 0, null, { timeout: 30_000 });
  await page.waitForTimeout(1000);
  const clean = await snapshot();
  const cleanLatent = await page.getAttribute('#latent', 'data-latent');
  await page.$eval('#noise-snp', (el) => { el.value = '0.3'; el.dispatchEvent(new Event('input', { bubbles: true })); });
  // The CPU run's model reconstructs what it is shown; the few SwiftShader batches leave a model
  // whose output barely depends on its input, so there the latent code must change instead.
  await page.waitForFunction(({ before, latent, strict }) => Array.from(document.querySelector('#draw-recon').getContext('2d')
    .getImageData(0, 0, 168, 168).data).join() !== before || (!strict && document.querySelector('#latent').dataset.latent !== latent),
  { before: clean, latent: cleanLatent, strict: mode === 'cpu' }, { timeout: 30_000 });
  step('salt-and-pepper changes the ' + (mode === 'cpu' ? 'reconstruction' : 'latent code'));
  await page.screenshot({ path: join(shots, `${mode}-draw-1280.png`), fullPage: true });
  const wideOverflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(wideOverflow <= 1, `no sideways scrolling at 1280x800 (overflow ${wideOverflow}px)`);

  // ---- fine-tune a classifier; it labels the drawing ---------------------------------------------
  const [ftImages, ftEpochs] = mode === 'cpu' ? ['60000', '2'] : ['500', '1'];
  await page.fill('#finetune-images', ftImages);
  await page.fill('#finetune-epochs', ftEpochs);
  await page.selectOption('#finetune-depth', 'all');
  const ftStart = Date.now();
  await page.click('#finetune-start');
  await page.waitForFunction(() => /test accuracy/.test(document.querySelector('#finetune-status').textContent), null, { timeout: 240_000 });
  const ftStatus = await page.textContent('#finetune-status');
  step(`fine-tuned in ${Date.now() - ftStart} ms: ${ftStatus}`);
  const accuracy = Number(/test accuracy ([\d.]+)/.exec(ftStatus)[1]);
  // On the CPU it learns; the two SwiftShader batches only prove the WebGPU path runs through.
  if (mode === 'cpu') assert.ok(accuracy > 0.5, `the classifier learned digits (${accuracy})`);
  else assert.ok(accuracy >= 0 && accuracy <= 1, `an accuracy (${accuracy})`);
  assert.equal(await page.locator('#confusion tbody tr').count(), 10, 'a 10x10 confusion matrix');
  await page.waitForFunction(() => document.querySelector('#probabilities').dataset.probabilities.split(',').length === 10, null, { timeout: 30_000 });
  const probs = (await page.getAttribute('#probabilities', 'data-probabilities')).split(',').map(Number);
  assert.ok(Math.abs(probs.reduce((a, b) => a + b, 0) - 1) < 1e-3, 'probabilities of the drawing sum to 1');
  step(`the drawing reads as ${probs.indexOf(Math.max(...probs))} (${(Math.max(...probs) * 100).toFixed(0)}%)`);
  await page.waitForFunction(() => document.querySelector('#model-list').textContent.includes('classifier'));

  // ---- latent views: autoencoder and classifier side by side, hover shows the digit -----------
  const points = mode === 'cpu' ? '2000' : '300';
  await page.fill('#latent-points', points);
  await page.click('#latent-show');
  for (const id of ['scatter-ae', 'scatter-clf']) {
    await page.waitForFunction(({ id, points }) => new RegExp(`^pca of ${points} `).test(document.querySelector(`#${id}-caption`).textContent), { id, points }, { timeout: 120_000 });
  }
  step(`PCA: ${await page.textContent('#scatter-ae-caption')}; classifier: ${await page.textContent('#scatter-clf-caption')}`);
  const scatter = page.locator('#scatter-ae');
  await scatter.scrollIntoViewIfNeeded();
  const sbox = await scatter.boundingBox();
  let hovered = false;
  for (let i = 0; i < 40 && !hovered; i++) {
    await page.mouse.move(sbox.x + sbox.width * (0.2 + 0.6 * ((i * 7) % 40) / 40), sbox.y + sbox.height * (0.2 + 0.6 * (i % 8) / 8));
    hovered = await page.isVisible('#scatter-ae-hover');
  }
  assert.ok(hovered, 'hovering the scatter shows a digit');
  step(`hover: ${await page.textContent('#scatter-ae-hover')}`);
  if (mode === 'cpu') {
    await page.selectOption('#latent-method', 'tsne');
    await page.fill('#latent-points', '1000');
    await page.click('#latent-show');
    await page.waitForFunction(() => /^tsne of 1000 /.test(document.querySelector('#scatter-clf-caption').textContent), null, { timeout: 240_000 });
    step(`t-SNE: ${await page.textContent('#scatter-ae-caption')}; classifier: ${await page.textContent('#scatter-clf-caption')}`);
    await page.selectOption('#latent-method', 'slice');
    await page.fill('#latent-dims', '1, 9');
    await page.waitForFunction(() => /from 1 to 4/.test(document.querySelector('#latent-check').textContent));
    assert.ok(await page.isDisabled('#latent-show'), 'a slice through a dimension the model lacks cannot start');
    await page.fill('#latent-dims', '1, 3');
    await page.click('#latent-show');
    await page.waitForFunction(() => /^slice z1, z3 of 1000 /.test(document.querySelector('#scatter-ae-caption').textContent), null, { timeout: 60_000 });
  }

  // ---- latent sliders and interpolation ----------------------------------------------------------
  const sliders = page.locator('#latent-sliders input[type=range]');
  assert.equal(await sliders.count(), 4, 'one slider per latent dimension of basic');
  await page.click('#sliders-from-drawing');
  // The empty canvas is a black tile: wait for the decoded image itself.
  await page.waitForFunction(`(${inkOf})('#slider-image') > 0.02`, null, { timeout: 30_000 });
  const sliderImage = () => page.$eval('#slider-image', (c) => Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data).join());
  const before = await sliderImage();
  await sliders.first().evaluate((el) => { el.value = el.max; el.dispatchEvent(new Event('input', { bubbles: true })); });
  await page.waitForFunction((b) => Array.from(document.querySelector('#slider-image').getContext('2d')
    .getImageData(0, 0, 168, 168).data).join() !== b, before, { timeout: 30_000 });
  step('moving a slider redraws the decoded image');
  await page.click('#random-digit');
  await page.waitForTimeout(300);
  await page.click('#interp-a');
  await page.click('#random-digit');
  await page.waitForTimeout(300);
  await page.click('#interp-b');
  await page.click('#interp-run');
  // The empty strip is already a row of black tiles: wait for the decoded digits' ink.
  await page.waitForFunction(`(${inkOf})('#interp-strip') > 0.03`, null, { timeout: 30_000 });
  step('interpolated between two test digits');
  await page.locator('#latent-view').screenshot({ path: join(shots, `${mode}-latent.png`) });

  if (mode === 'cpu') {
    // ---- a denoising run continues from the model in use -----------------------------------------
    await page.click('#model-list li:has(strong:text-is("e2e-cpu")) .use');
    await page.waitForFunction(() => /Model in use: e2e-cpu/.test(document.querySelector('#draw-view').textContent));
    await page.check('#from-model');
    await page.fill('#spec-noise', 'snp:0.1');
    await page.fill('#spec-pruning', '');
    await page.fill('#spec-epochs', '1');
    await page.fill('#train-images', '3000');
    await page.fill('#spec-name', 'e2e-denoise');
    await page.click('#start');
    await page.waitForFunction(() => /^test mse/.test(document.querySelector('#train-status').textContent), null, { timeout: 120_000 });
    await page.waitForFunction(() => document.querySelector('#model-list').textContent.includes('e2e-denoise'));
    step(`denoising from the model in use: ${await page.textContent('#train-status')}`);
  }
  // ---- GAN: an ACGAN epoch in the page, then digits of a chosen class ----------------------------
  // On the CPU, 12,000 training images (of the first 15,000; a fifth validates): the first
  // 4,800 draw only speckle, the first 12,000 digit shapes (native runs of the preset). SwiftShader
  // trains a few batches only: they prove the GAN runs on WebGPU.
  const [ganImages, ganEpochs] = mode === 'cpu' ? ['15000', '1'] : ['256', '1'];
  await page.fill('#gan-images', ganImages);
  await page.fill('#gan-epochs', ganEpochs);
  await page.selectOption('#gan-kind', 'acgan');
  const ganStart = Date.now();
  await page.click('#gan-start');
  await page.waitForFunction(() => /^epoch/.test(document.querySelector('#gan-status').textContent), null, { timeout: 120_000 });
  step(`GAN training: ${await page.textContent('#gan-status')}`);
  await page.waitForFunction(() => /\(acgan\) in use/.test(document.querySelector('#gan-status').textContent), null, { timeout: 600_000 });
  step(`ACGAN epoch in ${Date.now() - ganStart} ms: ${await page.textContent('#gan-status')}`);
  const dLosses = (await page.getAttribute('#gan-chart', 'data-train')).split(',').map(Number);
  const gLosses = (await page.getAttribute('#gan-chart', 'data-val')).split(',').map(Number);
  assert.equal(dLosses.length, 1, 'one epoch of discriminator loss');
  assert.ok(Number.isFinite(dLosses[0]) && Number.isFinite(gLosses[0]), `finite losses (d ${dLosses}, g ${gLosses})`);
  const [ganInk, ganStrokes] = [await inked('#gan-samples'), await page.evaluate(strokesOf, '#gan-samples')];
  step(`the epoch grid: brightness ${ganInk.toFixed(3)}, neighbour correlation ${ganStrokes.toFixed(2)}`);
  assert.ok(ganInk > 0.06, 'the epoch grid is drawn');
  // SwiftShader's few batches are not expected to draw digits yet.
  if (mode === 'cpu') assert.ok(ganStrokes > 0.65, `the epoch grid shows strokes, not speckle (${ganStrokes.toFixed(2)})`);
  await page.waitForFunction(() => document.querySelector('#model-list').textContent.includes('GAN (acgan)'));
  // A grid of one digit, another digit, a resample, and the walk between two samples. The walk
  // starts at the grid's first seed, so once both are drawn for the same digit and seeds, their
  // first tiles (56 x 56 pixels at scale 2, inside the 1-pixel border) agree; a grid or walk
  // left from an earlier choice does not.
  const gridRedrawn = (before) => {
    const canvas = (id) => document.querySelector(id).getContext('2d');
    const grid = canvas('#generated');
    if (Array.from(grid.getImageData(0, 0, grid.canvas.width, grid.canvas.height).data).join() === before) return false;
    const [g, w] = [grid, canvas('#walk')].map((c) => c.getImageData(1, 1, 56, 56).data);
    let diff = 0, ink = 0;
    for (let i = 0; i < g.length; i += 4) {
      diff += Math.abs(g[i] - w[i]);
      ink += g[i];
    }
    return ink / (g.length / 4) / 255 > 0.03 && diff / (g.length / 4) / 255 < 0.02;
  };
  const redrawn = (before) => page.waitForFunction(gridRedrawn, before, { timeout: 30_000 });
  const canvasData = (id) => page.$eval(id, (c) => Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data).join());
  await page.click('#digit-3');
  await redrawn('');
  await page.waitForFunction(`(${inkOf})('#generated') > 0.06`, null, { timeout: 30_000 });
  const threes = await canvasData('#generated');
  await page.click('#digit-7');
  await redrawn(threes);
  const sevens = await canvasData('#generated');
  step('choosing another digit redraws the grid and the walk');
  await page.click('#resample');
  await redrawn(sevens);
  await page.waitForFunction(`(${inkOf})('#walk') > 0.06`, null, { timeout: 30_000 });
  step('resampled, and walked the noise between two samples');
  await page.locator('#generate-view').screenshot({ path: join(shots, `${mode}-generate.png`) });
  // A `gan` trained by the CLI in the page: its preset keeps each digit the best of 8 candidates
  // by its discriminator, and the walk starts from the kept candidate's noise, so the grid and
  // the walk still begin with the same digit (`redrawn`).
  const ganDir = join(shots, 'native-gan');
  const ganRun = spawnSync(latentlab,
    ['gan', '--kind', 'gan', '--epochs', '1', '--limit', '600', '--quiet', '--out', ganDir], { encoding: 'utf8' });
  assert.equal(ganRun.status, 0, ganRun.stderr);
  const acganGrid = await canvasData('#generated');
  await page.setInputFiles('#upload-model', join(ganDir, 'model.bpk'));
  await page.waitForFunction(() => /\(gan\) in use/.test(document.querySelector('#gan-status').textContent), null, { timeout: 60_000 });
  await redrawn(acganGrid);
  assert.ok(await page.isDisabled('#digit-3'), 'no digit to choose for an unconditional GAN');
  step('a gan trained by the CLI draws its best-of-8 digits and walks from the first');
  // WGAN-GP in the page: its critic's penalty takes an input gradient in a pass of its own
  // (first-order autodiff on flex in wasm, or on WebGPU). A few batches prove it runs there.
  await page.fill('#gan-images', '256');
  await page.fill('#gan-epochs', '1');
  await page.selectOption('#gan-kind', 'wgan-gp');
  const gpStart = Date.now();
  await page.click('#gan-start');
  await page.waitForFunction(() => /\(wgan-gp\) in use/.test(document.querySelector('#gan-status').textContent), null, { timeout: 300_000 });
  const gpLosses = (await page.getAttribute('#gan-chart', 'data-train')).split(',').map(Number);
  assert.ok(gpLosses.length > 0 && gpLosses.every(Number.isFinite), `wgan-gp's critic losses are numbers (${gpLosses})`);
  step(`a wgan-gp epoch in ${Date.now() - gpStart} ms: critic loss ${gpLosses.map((l) => l.toFixed(3))}`);

  // ---- search: two trials of the study's space in the worker, the best into the editor ------
  await page.fill('#search-trials', '2');
  await page.fill('#search-folds', '2');
  await page.fill('#search-epochs', '1');
  await page.fill('#search-images', mode === 'cpu' ? '1000' : '200');
  const searchStart = Date.now();
  await page.click('#search-start');
  await page.waitForFunction(() => /^finished/.test(document.querySelector('#search-status').textContent), null, { timeout: 600_000 });
  const trialRows = await page.$$eval('#search-trials-table tbody tr', (rows) => rows.map((r) => r.className));
  assert.equal(trialRows.filter((c) => /complete|pruned/.test(c)).length, 2, `two trials ran (${trialRows})`);
  step(`search in ${Date.now() - searchStart} ms: ${await page.textContent('#search-status')}`);
  await page.click('#search-use-best');
  await page.waitForFunction(() => document.querySelector('#spec-name').value.startsWith('search-trial-'));
  step(`the best trial is in the editor: ${await page.inputValue('#spec-name')}`);
  await page.locator('#search-view').screenshot({ path: join(shots, `${mode}-search.png`) });

  // ---- memory stays flat: 20 epochs of `basic`, the worker's wasm memory per epoch -------------
  if (mode === 'cpu') {
    await page.selectOption('#preset', 'basic');
    await page.fill('#spec-name', 'e2e-memory');
    await page.fill('#spec-epochs', '20');
    await page.fill('#spec-patience', '');
    await page.fill('#train-images', '2000');
    await page.waitForFunction(() => document.querySelector('#spec-check').textContent.startsWith('✓'));
    const memStart = Date.now();
    await page.click('#start');
    await page.waitForFunction(() => (document.querySelector('#train-memory').dataset.mb || '').split(',').length >= 20, null, { timeout: 300_000 });
    const mb = (await page.getAttribute('#train-memory', 'data-mb')).split(',').map(Number);
    step(`20 epochs in ${Date.now() - memStart} ms; worker memory per epoch (MB): ${mb.join(' ')}`);
    assert.ok(mb[19] <= mb[1] * 1.10, `wasm memory after epoch 20 (${mb[19]} MB) within 10% of epoch 2 (${mb[1]} MB)`);
    await page.waitForFunction(() => /^test mse/.test(document.querySelector('#train-status').textContent), null, { timeout: 60_000 });

    // ---- no lost work: a reload mid-run offers the last epoch's checkpoint and resumes it ------
    await page.fill('#spec-name', 'e2e-resume');
    await page.fill('#spec-epochs', '4');
    await page.fill('#train-images', '12000');
    await page.click('#start');
    // Reload once epoch 2's checkpoint is stored (the page says which epoch IndexedDB holds).
    await page.waitForFunction(() => {
      const s = document.querySelector('#checkpoint-stored').dataset;
      return s.run === 'e2e-resume' && Number(s.epoch) >= 2;
    }, null, { timeout: 120_000 });
    await page.reload();
    await page.waitForSelector('#checkpoint:not(.hidden)', { timeout: 30_000 });
    const offered = await page.textContent('#checkpoint-text');
    const done = Number(/after epoch (\d+) of 4/.exec(offered)?.[1]);
    assert.ok(done >= 2 && done < 4, `the checkpoint is of a finished epoch before the last: ${offered}`);
    await page.screenshot({ path: join(shots, `${mode}-resume.png`) });
    await waitForData(page);
    await page.click('#checkpoint-resume');
    await page.waitForFunction(() => /^test mse/.test(document.querySelector('#train-status').textContent), null, { timeout: 240_000 });
    const resumed = (await page.getAttribute('#loss-chart', 'data-val')).split(',');
    assert.equal(resumed.length, 4 - done, `the resumed run trains the ${4 - done} epochs left`);
    assert.ok(await page.isHidden('#checkpoint'), 'the offer is gone once the run finished');
    await page.waitForFunction(() => document.querySelector('#model-list')?.textContent.includes('e2e-resume'));
    step(`reloaded mid-run: "${offered}"; resumed, ${resumed.length} epochs left, saved as e2e-resume`);

    // ---- a crashed worker mid-run: reported, restarted, the run offered for resuming ----------
    await page.fill('#spec-name', 'e2e-crash');
    await page.fill('#train-images', '6000');
    await page.click('#start');
    // In epoch 2 of this run: the first epoch's checkpoint is there.
    await page.waitForFunction(() => /^epoch ([2-9]|\d\d+)\//.test(document.querySelector('#train-status').textContent), null, { timeout: 120_000 });
    await page.evaluate(() => window.latentlabCrashWorker());
    await page.waitForFunction(() => /worker was restarted/.test(document.querySelector('#errors').textContent), null, { timeout: 30_000 });
    await page.waitForSelector('#checkpoint:not(.hidden)', { timeout: 30_000 });
    await waitForData(page);
    assert.ok((await page.textContent('#model-list')).includes('e2e-resume'), 'saved models are intact');
    step(`worker crashed: ${(await page.textContent('#errors ul')).split('\n').filter((l) => /restarted/.test(l))[0]?.slice(0, 120)}; ${await page.textContent('#checkpoint-text')}`);
    await page.click('#checkpoint-discard');
    await page.waitForFunction(() => document.querySelector('#checkpoint').classList.contains('hidden'));
  }

  await page.screenshot({ path: join(shots, `${mode}-all-1280.png`), fullPage: true });

  // ---- reload: the saved model is still there and usable --------------------------------------
  await page.reload();
  await page.waitForFunction((name) => document.querySelector('#model-list')?.textContent.includes(name), `e2e-${mode}`, { timeout: 30_000 });
  await page.waitForFunction(() => !document.querySelector('#backend-active').textContent.includes('starting'));
  await page.click(`#model-list li:has(strong:text-is("e2e-${mode}")) .use`);
  await page.waitForFunction(() => /Model in use/.test(document.querySelector('#draw-view').textContent));
  await waitForData(page);
  await page.click('#random-digit');
  await page.waitForFunction(() => document.querySelectorAll('#latent .latent-row').length === 4, null, { timeout: 30_000 });
  step('after a reload the saved model reconstructs a test digit');

  // ---- phone width ----------------------------------------------------------------------------
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: join(shots, `${mode}-phone.png`), fullPage: true });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `no sideways scrolling at phone width (overflow ${overflow}px)`);

  const unexpected = consoleErrors.filter((e) => !/favicon|not a latentlab model|magic number|NaN or infinite|Request::Panic|worker failed|unreachable/.test(e));
  assert.deepEqual(unexpected, [], 'no errors in the console');
  step('passed');
} catch (e) {
  failed = true;
  console.error(e);
  const page = context.pages()[0];
  if (page) await page.screenshot({ path: join(shots, `${mode}-failure.png`), fullPage: true }).catch(() => {});
} finally {
  await close();
}
process.exit(failed ? 1 : 0);

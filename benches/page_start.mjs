// How soon the page is usable on a first visit: navigation to the train view and to "MNIST
// ready", each visit in a fresh browser profile (nothing cached), the threaded build as the e2e
// test loads it (no WebGPU adapter).
//   node benches/page_start.mjs [visits, default 6] [ROOT ...]
// With several roots (directories holding index.html, worker.js, pkg/ and data/, e.g. a clone
// at another commit), the visits alternate between them, so a busy moment of the machine falls
// on all of them alike; each root's visits are summarised by their median.
import { openApp, waitForData } from '../tests/e2e/browser.mjs';

const args = process.argv.slice(2);
const visits = Number(args.find((a) => /^\d+$/.test(a)) ?? 6);
const roots = args.filter((a) => !/^\d+$/.test(a));
if (roots.length === 0) roots.push('.');

const times = roots.map(() => ({ view: [], data: [] }));
for (let visit = 0; visit < visits; visit++) {
  for (const [i, root] of roots.entries()) {
    const { url, context, close } = await openApp({ webgpu: false, root });
    try {
      const page = await context.newPage();
      const start = Date.now();
      await page.goto(url);
      await page.waitForSelector('#start', { timeout: 30_000 });
      const view = Date.now() - start;
      await waitForData(page);
      const data = Date.now() - start;
      times[i].view.push(view);
      times[i].data.push(data);
      console.log(`visit ${visit + 1}, ${root}: train view ${view} ms, MNIST ready ${data} ms`);
    } finally {
      await close();
    }
  }
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
for (const [i, root] of roots.entries()) {
  const { view, data } = times[i];
  console.log(`${root}: train view median ${median(view)} ms (${Math.min(...view)}-${Math.max(...view)}), ` +
    `MNIST ready median ${median(data)} ms (${Math.min(...data)}-${Math.max(...data)}), ${view.length} visits`);
}

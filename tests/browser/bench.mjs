// The page's benchmark (docs/PERFORMANCE.md, "The page"), in one run on a generated
// 1005×642 RGB pair (the size of the original demo's pair):
//  - WebAssembly encryption in headless Chromium (the page's worker, one thread) against
//    the native core's encryption of the same decoded pixels, one thread
//    (core/examples/encrypt_timing.rs with RAYON_NUM_THREADS=1), and all threads for reference;
//  - time from clicking "Compute" to the difference shown, against `picrypt serve` on loopback;
//  - page weight: every file of the page, gzipped.
// Usage: node tests/browser/bench.mjs [RUNS]   (after npm ci in tests/browser; builds what it runs)
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { choose, compute, launch, openPage, png, root, scenePair, startProcess, tempDir } from './lib.mjs';

const runs = Number(process.argv[2] || 9);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

console.log('building the release binaries (cargo build --release) …');
execFileSync('cargo', ['build', '--release', '--locked', '-p', 'picrypt'], { cwd: root, stdio: 'inherit' });
execFileSync('cargo', ['build', '--release', '--locked', '-p', 'picrypt-core', '--example', 'encrypt_timing'], { cwd: root, stdio: 'inherit' });

const scene = scenePair(1005, 642);
const dir = tempDir();
const beforePath = path.join(dir, 'before.png');
fs.writeFileSync(beforePath, png(scene.width, scene.height, 3, scene.before));
const afterPng = png(scene.width, scene.height, 3, scene.after);

const native = (threads, n = 15) => JSON.parse(execFileSync(path.join(root, 'target/release/examples/encrypt_timing'), [beforePath, String(n)], {
  encoding: 'utf8', env: { ...process.env, ...(threads ? { RAYON_NUM_THREADS: String(threads) } : {}) },
}));

const serve = startProcess(path.join(root, 'target/release/picrypt'), ['serve', '--addr', '127.0.0.1:0'], /listening on (http:\/\/\S+?) /);
const url = `${await serve.url}/`;
const browser = await launch();
const { page } = await openPage(browser, url);
if (await choose(page, 'before', 'before.png', fs.readFileSync(beforePath))) throw new Error('before not read');
if (await choose(page, 'after', 'after.png', afterPng)) throw new Error('after not read');
// Rounds interleave the two sides, so that both see the same machine: each round times the
// native encryption (median of 15, one thread) and then one whole computation in the page.
// Two rounds first warm up (V8 compiles hot WebAssembly functions with its optimising tier
// only after they have run a while).
const rows = [];
const natives = [];
for (let i = 0; i < runs + 2; i++) {
  const nativeRound = native(1);
  const error = await compute(page);
  if (error) throw new Error(error);
  const table = await page.$$eval('#timings tr', (trs) => trs.map((tr) => [tr.cells[0].textContent, parseFloat(tr.cells[1].textContent)]));
  if (i < 2) continue;
  rows.push(Object.fromEntries(table.map(([what, ms]) => [what.replace(/ \(.*/, ''), ms])));
  natives.push(nativeRound.median_ms);
}
const native1 = { threads: 1, median_ms: median(natives) };
const nativeAll = native(0);
const ratios = rows.map((r, i) => (r['  encrypt before, in the worker'] + r['  encrypt after, in the worker']) / 2 / natives[i]);
const version = browser.version();
await browser.close();
serve.stop();

const wasmEncrypt = median(rows.map((r) => r['  encrypt before, in the worker']));
const wasmEncryptAfter = median(rows.map((r) => r['  encrypt after, in the worker']));
const total = median(rows.map((r) => r['total, from the click']));
const weight = fs.readdirSync(path.join(root, 'web/page')).map((f) => {
  const bytes = fs.readFileSync(path.join(root, 'web/page', f));
  return [f, bytes.length, gzipSync(bytes, { level: 9 }).length];
});
const gz = weight.reduce((s, [, , g]) => s + g, 0);

console.log(`\nThe page on a ${scene.width}×${scene.height} RGB pair (${scene.before.length} samples per image), ${runs} runs, medians; Chromium ${version}`);
console.log(`| what | figure | goal |`);
console.log(`|---|---|---|`);
console.log(`| encrypt one image, WebAssembly in the page's worker (1 thread) | ${wasmEncrypt.toFixed(1)} ms (after: ${wasmEncryptAfter.toFixed(1)} ms) | |`);
console.log(`| encrypt one image, native core, ${native1.threads} thread | ${native1.median_ms.toFixed(1)} ms | |`);
console.log(`| ratio WebAssembly / native, one thread each (median of the rounds' ratios; range) | **${median(ratios).toFixed(2)}×** (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}) | ≤ 3× |`);
console.log(`| (native core, ${nativeAll.threads} threads, for reference) | ${nativeAll.median_ms.toFixed(1)} ms | |`);
console.log(`| click "Compute" → difference shown, against picrypt serve on loopback | **${total.toFixed(0)} ms** | < 1000 ms |`);
for (const step of Object.keys(rows[0])) console.log(`| ${step.replace(/^  /, '&nbsp;&nbsp;&nbsp;&nbsp;')} | ${median(rows.map((r) => r[step])).toFixed(1)} ms | |`);
console.log(`| page weight, gzipped (${weight.map(([f, , g]) => `${f} ${(g / 1024).toFixed(1)} KiB`).join(', ')}) | **${(gz / 1024).toFixed(0)} KiB** | ≤ 500 KB |`);

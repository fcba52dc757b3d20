// Helpers for the browser tests: servers to drive, pictures to drop, and what to compare.
import { spawn, execFileSync } from 'node:child_process';
import { deflateSync, crc32 } from 'node:zlib';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

export const root = path.resolve(import.meta.dirname, '../..');
export const picrypt = process.env.PICRYPT_BIN || path.join(root, 'target/debug/picrypt');
export const cheatServer = process.env.PICRYPT_CHEAT_SERVER || path.join(root, 'target/debug/examples/cheat_server');
export const artifacts = process.env.PICRYPT_WEB_ARTIFACTS || path.join(root, 'target/test-logs/web');
fs.mkdirSync(artifacts, { recursive: true });

export function tempDir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'picrypt-web-'));
}

/** Starts a process whose first stdout line matching `pattern` holds its URL (group 1). */
export function startProcess(command, args, pattern) {
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let seen = '';
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const url = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${command} ${args.join(' ')} did not start: ${seen}${stderr}`)), 60000);
    child.stdout.on('data', (d) => {
      seen += d;
      const m = seen.match(pattern);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`${command} exited with ${code}: ${seen}${stderr}`)); });
  });
  return { child, url, stop: () => child.kill('SIGTERM'), stderr: () => stderr };
}

/** `picrypt web` on a free loopback port; its page URL. */
export async function picryptWeb(...args) {
  const p = startProcess(picrypt, ['web', '--no-open', '--addr', '127.0.0.1:0', ...args], /the page is at (http:\/\/\S+\/)/);
  return { ...p, url: await p.url };
}

/** `picrypt serve` on a free loopback port; its base URL (the page is at URL/). */
export async function picryptServe() {
  const p = startProcess(picrypt, ['serve', '--addr', '127.0.0.1:0'], /listening on (http:\/\/\S+?) /);
  return { ...p, url: `${await p.url}/` };
}

/** The cheating function of the security work (testkit's example), on loopback. */
export async function cheating(cheat) {
  const p = startProcess(cheatServer, [cheat], /^(http:\/\/\S+)/m);
  return { ...p, url: await p.url };
}

export function run(...args) {
  return execFileSync(picrypt, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

// --- pictures -----------------------------------------------------------------------------
/** A PNG of 8-bit samples (1: grey, 2: grey+alpha, 3: RGB, 4: RGBA). */
export function png(width, height, channels, samples) {
  const colourType = { 1: 0, 2: 4, 3: 2, 4: 6 }[channels];
  const rows = Buffer.alloc((width * channels + 1) * height);
  for (let y = 0; y < height; y++) {
    const row = y * (width * channels + 1);
    rows[row] = 0;
    samples.copy(rows, row + 1, y * width * channels, (y + 1) * width * channels);
  }
  const chunk = (type, data) => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length, 0);
    head.write(type, 4, 'ascii');
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(Buffer.concat([Buffer.from(type, 'ascii'), data])) >>> 0, 0);
    return Buffer.concat([head, data, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = colourType;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr), chunk('IDAT', deflateSync(rows)), chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A scene and the same scene with a square moved: samples of both, RGB. */
export function scenePair(width, height) {
  const before = Buffer.alloc(width * height * 3);
  const after = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const bg = [(x * 255) / width, (y * 255) / height, ((x ^ y) * 7) & 255];
      for (let c = 0; c < 3; c++) before[i + c] = after[i + c] = bg[c] | 0;
      const inSquare = (x0, y0) => x >= x0 && x < x0 + width / 5 && y >= y0 && y < y0 + height / 4;
      if (inSquare(width / 8, height / 3)) before.set([230, 40, 30], i);
      if (inSquare(width / 2, height / 3)) after.set([230, 40, 30], i);
    }
  }
  return { width, height, channels: 3, before, after };
}

/** before − after per sample, as int16. */
export function exactDifference(before, after) {
  const d = new Int16Array(before.length);
  for (let i = 0; i < before.length; i++) d[i] = before[i] - after[i];
  return d;
}

/** The header's shape and the int16 values of a little-endian `.npy`. */
export function readNpy(bytes) {
  if (bytes.subarray(0, 6).toString('latin1') !== '\x93NUMPY') throw new Error('not .npy');
  const headerLen = bytes.readUInt16LE(8);
  const header = bytes.subarray(10, 10 + headerLen).toString('latin1');
  if (!header.includes("'<i2'")) throw new Error(`not int16: ${header}`);
  const shape = header.match(/'shape': \(([^)]*)\)/)[1].split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const data = bytes.subarray(10 + headerLen);
  const values = new Int16Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.length));
  return { shape, values };
}

// --- the browser ----------------------------------------------------------------------------
export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/**
 * A page with everything recorded: console errors, page errors, and every request any
 * page or worker of its context made.
 */
export async function openPage(browser, url, options = {}) {
  const context = await browser.newContext({ acceptDownloads: true, ...options });
  const page = await context.newPage();
  const seen = { errors: [], requests: [] };
  page.on('console', (m) => { if (m.type() === 'error') seen.errors.push(m.text()); });
  page.on('pageerror', (e) => seen.errors.push(String(e)));
  context.on('request', (r) => seen.requests.push({ url: r.url(), method: r.method(), body: r.postDataBuffer() }));
  page.on('dialog', (d) => d.accept());
  await page.goto(url);
  await page.waitForFunction(() => document.body.dataset.state === 'ready');
  return { context, page, seen };
}

/**
 * Waits until the page shows an error or `condition` holds: `info:before`, `info:after` (a
 * picture was read), `done` (a difference is shown), `opened` (a result file was opened).
 * Returns the error text, or null. (Conditions are names, not functions: the page's CSP
 * forbids eval, which the test must not need to bypass.)
 */
export async function outcome(page, condition) {
  await page.waitForFunction((cond) => {
    if (!document.getElementById('error').hidden) return true;
    if (cond.startsWith('info:')) return document.getElementById(`info-${cond.slice(5)}`).textContent !== '';
    return document.body.dataset.state === cond;
  }, condition, { timeout: 60000 });
  const error = page.locator('#error');
  return (await error.isVisible()) ? error.textContent() : null;
}

export async function choose(page, which, name, buffer, mimeType = 'image/png') {
  await page.evaluate((w) => {
    document.getElementById('error').hidden = true;
    document.getElementById(`info-${w}`).textContent = '';
  }, which);
  await page.setInputFiles(`#file-${which}`, { name, mimeType, buffer });
  return outcome(page, `info:${which}`);
}

export async function compute(page) {
  await page.click('#compute');
  return outcome(page, 'done');
}

/** Clicks a download button; the downloaded bytes and file name. */
export async function download(page, selector) {
  const [file] = await Promise.all([page.waitForEvent('download'), page.click(selector)]);
  return { name: file.suggestedFilename(), bytes: fs.readFileSync(await file.path()) };
}

// The page: wires the user's files and buttons to the worker (worker.js), which holds the
// key and the pixels, and makes the one request, `POST diff`, to this page's own origin.
const FRAMED = 'application/vnd.picrypt.framed';
const $ = (id) => document.getElementById(id);

// --- the worker ------------------------------------------------------------------------
const worker = new Worker('worker.js', { type: 'module' });
let nextId = 0;
const pending = new Map();
worker.onmessage = ({ data }) => {
  const { resolve, reject } = pending.get(data.id);
  pending.delete(data.id);
  data.ok ? resolve(data) : reject(new Error(data.error));
};
worker.onerror = (e) => showError(`The page's WebAssembly worker failed to start: ${e.message || 'unknown error'}`);
/** Runs `op` in the worker: resolves to {value, ms}. Byte arrays are transferred, not copied. */
function call(op, ...args) {
  const id = nextId++;
  const transfer = args.filter((a) => a instanceof Uint8Array).map((a) => a.buffer);
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    worker.postMessage({ id, op, args }, transfer);
  });
}
const value = async (op, ...args) => (await call(op, ...args)).value;

// --- state the page shows ---------------------------------------------------------------
const state = { images: [null, null], key: null, keySaved: true, result: false, timings: [], urls: {} };

/** Shows one error; `about` names the file it is about, when there is one. */
function showError(message, about = null) {
  const box = $('error');
  // The client's messages are the CLI's lines (lower case, no final stop); a sentence here.
  const sentence = message.charAt(0).toUpperCase() + message.slice(1);
  box.textContent = about ? `${about}: ${message}` : sentence;
  box.hidden = false;
  // It may be below the fold (a wrong picture, chosen far above): bring it into view.
  box.scrollIntoView({ block: 'nearest' });
}
function clearError() { $('error').hidden = true; $('error').textContent = ''; }
function setStep(text, n) {
  $('step').textContent = text;
  const bar = $('progress');
  bar.hidden = n === null;
  if (n !== null) bar.value = n;
}
/** Points an <img> at bytes, freeing the previous object URL it showed. */
function showPng(img, bytes, type = 'image/png') {
  if (state.urls[img.id]) URL.revokeObjectURL(state.urls[img.id]);
  const url = URL.createObjectURL(new Blob([bytes], { type }));
  state.urls[img.id] = url;
  img.src = url;
  img.hidden = false;
}
function download(bytes, name, type = 'application/octet-stream') {
  const url = URL.createObjectURL(new Blob([bytes], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
const readFile = async (file) => new Uint8Array(await file.arrayBuffer());
const ms = (x) => `${x.toFixed(x < 10 ? 1 : 0)} ms`;
function updateCompute() {
  $('compute').disabled = !(state.images[0] && state.images[1]);
}
function setKey(id, saved) {
  state.key = id;
  state.keySaved = saved;
  state.result = false;
  $('result').hidden = true;
  $('key-status').textContent = `Key ${id.slice(0, 16)}… (mask scheme)${saved ? '' : ', made in this page'}.`;
  $('key-save').disabled = false;
  $('key-unsaved').hidden = saved;
}

// --- pictures ---------------------------------------------------------------------------
async function takeImage(which, file) {
  clearError();
  const name = ['before', 'after'][which];
  try {
    const { value: info, ms: took } = await call('setImage', which, await readFile(file));
    state.images[which] = { name: file.name, ...info, decodeMs: took };
    showPng($(`img-${name}`), file, file.type || 'image/png');
    const turned = info.orientation === 'as stored' ? '' : `, ${info.orientation}`;
    $(`info-${name}`).textContent = `${file.name}: ${info.width}×${info.height}, ${info.channels} channel${info.channels > 1 ? 's' : ''}${turned} (decoded in ${ms(took)})`;
  } catch (e) {
    state.images[which] = null;
    $(`img-${name}`).hidden = true;
    $(`info-${name}`).textContent = '';
    showError(e.message);
  }
  state.result = false;
  $('result').hidden = true;
  updateCompute();
}
for (const [which, name] of ['before', 'after'].entries()) {
  const input = $(`file-${name}`);
  input.addEventListener('change', () => input.files[0] && takeImage(which, input.files[0]));
  const zone = $(`drop-${name}`);
  zone.addEventListener('dragover', (e) => { e.preventDefault(); zone.classList.add('over'); });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    const file = e.dataTransfer.files[0];
    if (file) takeImage(which, file);
  });
}

// --- the key ----------------------------------------------------------------------------
$('key-generate').addEventListener('click', async () => {
  clearError();
  setKey(await value('generateKey'), false);
});
$('key-file').addEventListener('change', async (e) => {
  const file = e.target.files[0];
  e.target.value = '';
  if (!file) return;
  clearError();
  try {
    setKey(await value('loadKey', await readFile(file)), true);
  } catch (err) {
    showError(err.message, file.name);
  }
});
$('key-save').addEventListener('click', async () => {
  download(await value('keyFile'), `picrypt-${state.key.slice(0, 8)}.key`);
  state.keySaved = true;
  $('key-unsaved').hidden = true;
});
window.addEventListener('beforeunload', (e) => {
  if (state.key && !state.keySaved) {
    e.preventDefault();
    e.returnValue = '';
  }
});

// --- compute ----------------------------------------------------------------------------
$('origin').textContent = new URL('diff', location.href).href;

async function compute() {
  document.body.dataset.state = 'busy';
  clearError();
  $('compute').disabled = true;
  $('result').hidden = true;
  // Wall-clock phases from the click (they add up to the total), and inside them, indented,
  // what the worker itself spent.
  const timings = [['decode both pictures (when chosen)', state.images[0].decodeMs + state.images[1].decodeMs]];
  const clicked = performance.now();
  let last = clicked;
  const phase = (what) => { const now = performance.now(); timings.push([what, now - last]); last = now; };
  try {
    await call('checkPair');
    if (!state.key) setKey(await value('generateKey'), false);
    setStep('Encrypting the before picture…', 1);
    const encryptBefore = (await call('encrypt', 0)).ms;
    setStep('Encrypting the after picture…', 2);
    const encryptAfter = (await call('encrypt', 1)).ms;
    const framed = await call('requestBody');
    const body = framed.value;
    phase('encrypt both and frame the request');
    timings.push(['  encrypt before, in the worker', encryptBefore], ['  encrypt after, in the worker', encryptAfter], ['  frame the request, in the worker', framed.ms]);
    setStep('Waiting for the function…', 3);
    const sent = body.length;
    let response;
    try {
      response = await fetch('diff', {
        method: 'POST',
        headers: { 'content-type': FRAMED, accept: FRAMED },
        body,
        cache: 'no-store',
      });
    } catch (e) {
      throw new Error(`the function could not be reached at ${new URL('diff', location.href).href}: ${e.message}. Is the server still running?`);
    }
    const answer = new Uint8Array(await response.arrayBuffer());
    phase(`request (${(sent / 1e6).toFixed(2)} MB up, ${(answer.length / 1e6).toFixed(2)} MB back)`);
    setStep('Checking and decrypting the answer…', 4);
    const accepted = await call('acceptResponse', response.status, response.headers.get('content-type') || '', answer);
    phase('check and decrypt');
    timings.push(['  of which in the worker', accepted.ms]);
    if (accepted.value.server_ms !== undefined) timings.splice(-2, 0, ['  of the request: the function itself', accepted.value.server_ms]);
    setStep('Drawing…', 5);
    $('verified').textContent = `Verified: ${accepted.value.verified}.`;
    await showResult(timings, clicked, phase);
    setStep('', null);
  } catch (e) {
    setStep('', null);
    showError(e.message);
    document.body.dataset.state = 'error';
  } finally {
    updateCompute();
  }
}
$('compute').addEventListener('click', compute);

async function showResult(timings, clicked, phase) {
  state.result = true;
  const drawn = await draw();
  $('result').hidden = false;
  // "Shown": the difference decoded and ready to paint, not merely requested.
  await $('img-diff').decode().catch(() => {});
  if (phase) {
    phase('render, statistics and show');
    timings.push(['  render and statistics, in the worker', drawn]);
  } else {
    timings.push(['render and statistics', drawn]);
  }
  if (clicked !== null) timings.push(['total, from the click', performance.now() - clicked]);
  // What the server saw, drawn after the difference is on screen.
  for (const [which, id] of [[0, 'img-cipher-before'], [1, 'img-cipher-after'], [2, 'img-cipher-result']]) {
    try {
      showPng($(id), await value('ciphertextPng', which));
    } catch {
      $(id).hidden = true; // an opened result has no inputs to show
    }
  }
  state.timings = timings;
  const body = $('timings').tBodies[0];
  body.replaceChildren(...timings.map(([what, t]) => {
    const tr = document.createElement('tr');
    for (const text of [what, ms(t)]) {
      const td = document.createElement('td');
      td.textContent = text;
      tr.append(td);
    }
    return tr;
  }));
  document.body.dataset.state = 'done';
}

/** Renders the difference as chosen and prints its statistics; returns the time it took. */
async function draw() {
  const threshold = Number($('threshold').value);
  $('threshold-value').textContent = String(threshold);
  const rendered = await call('renderPng', $('render').value, threshold);
  showPng($('img-diff'), rendered.value);
  const stats = await call('stats', threshold);
  $('stats').textContent = stats.value.summary;
  return rendered.ms + stats.ms;
}
for (const id of ['render', 'threshold']) {
  $(id).addEventListener('input', async () => {
    if (!state.result) return;
    clearError();
    try { await draw(); } catch (e) { showError(e.message); }
  });
}

// --- downloads --------------------------------------------------------------------------
const stem = () => (state.images[1]?.name || 'difference').replace(/\.[^.]*$/, '');
$('dl-png').addEventListener('click', async () =>
  download(await value('renderPng', $('render').value, Number($('threshold').value)), `${stem()}-${$('render').value}.png`, 'image/png'));
$('dl-npy').addEventListener('click', async () => download(await value('npy'), `${stem()}-diff.npy`));
$('dl-result').addEventListener('click', async () => download(await value('container', 2), `${stem()}-diff.picrypt`));
$('dl-before').addEventListener('click', async () => download(await value('container', 0), 'before.picrypt'));
$('dl-after').addEventListener('click', async () => download(await value('container', 1), 'after.picrypt'));

// --- a result from the command line -----------------------------------------------------
$('open-result').addEventListener('change', async (e) => {
  const file = e.target.files[0];
  e.target.value = '';
  if (!file) return;
  clearError();
  try {
    const opened = await call('openResult', await readFile(file));
    $('verified').textContent = `${file.name}: ${opened.value.verified}.`;
    await showResult([['verify and decrypt', opened.ms]], null);
  } catch (err) {
    showError(err.message, file.name);
  }
});
document.body.dataset.state = 'ready';

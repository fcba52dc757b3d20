// The page's worker: every step that touches a key or a pixel runs here, in the
// WebAssembly client (picrypt_web.js), so the page never freezes.
// Protocol: {id, op, args} in; {id, ok, value, ms} or {id, ok: false, error} out.
import init, { Session } from './picrypt_web.js';

const ready = init();
let session;

const ops = {
  generateKey: () => session.generate_key(),
  loadKey: (bytes) => session.load_key(bytes),
  keyFile: () => session.key_file(),
  setImage: (which, bytes) => JSON.parse(session.set_image(which, bytes)),
  checkPair: () => session.check_pair(),
  encrypt: (which) => session.encrypt(which),
  container: (which) => session.container(which),
  ciphertextPng: (which) => session.ciphertext_png(which),
  requestBody: () => session.request_body(),
  acceptResponse: (status, type, body) => JSON.parse(session.accept_response(status, type, body)),
  openResult: (bytes) => JSON.parse(session.open_result(bytes)),
  stats: (threshold) => JSON.parse(session.stats(threshold)),
  renderPng: (mode, threshold) => session.render_png(mode, threshold),
  npy: () => session.npy(),
};

self.onmessage = async (event) => {
  const { id, op, args } = event.data;
  try {
    await ready;
    session ??= new Session();
    const started = performance.now();
    const value = ops[op](...args);
    const ms = performance.now() - started;
    const transfer = value instanceof Uint8Array ? [value.buffer] : [];
    self.postMessage({ id, ok: true, value, ms }, transfer);
  } catch (e) {
    self.postMessage({ id, ok: false, error: String(e && e.message ? e.message : e) });
  }
};

// The encryption worker: runs the same WebAssembly module as the page and answers
// requests { id, op, args } with { id, ok: true, value } or { id, ok: false, message }.
// Byte results travel back as transferred ArrayBuffers, not copies. So do the
// buffers of an encrypted part, which comes back as an array of byte arrays.
import init, * as wasm from './dtc-frontend.js';

const operations = {
  derive_password_keys: wasm.derive_password_keys,
  wrap_identity: wasm.wrap_identity,
  unwrap_identity: wasm.unwrap_identity,
  forget_password_keys: wasm.forget_password_keys,
  encrypt_part: wasm.encrypt_part,
  decrypt_part: wasm.decrypt_part,
  create_link_keys: wasm.create_link_keys,
  derive_link_keys: wasm.derive_link_keys,
  unwrap_link_file_key: wasm.unwrap_link_file_key,
  forget_link_keys: wasm.forget_link_keys,
  open_link_secret: wasm.open_link_secret,
};

const ready = init();

self.onmessage = async (event) => {
  const { id, op, args } = event.data;
  try {
    await ready;
    const operation = operations[op];
    if (operation === undefined) {
      throw new Error(`unknown worker operation ${JSON.stringify(op)}`);
    }
    // Part encryption and decryption return promises (WebCrypto); the rest return values.
    const value = await operation(...args);
    // An encrypted part is an array of byte arrays, and every buffer moves.
    let transfer = [];
    if (value instanceof Uint8Array) {
      transfer = [value.buffer];
    } else if (Array.isArray(value)) {
      transfer = value.filter((piece) => piece instanceof Uint8Array).map((piece) => piece.buffer);
    }
    self.postMessage({ id, ok: true, value }, transfer);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    self.postMessage({ id, ok: false, message });
  }
};

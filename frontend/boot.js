// Starts the app: loads the wasm-bindgen output, whose start function mounts the
// pages. This is a file of its own rather than an inline script, so that the
// Content-Security-Policy can allow scripts from this server alone.
import init from './dtc-frontend.js';

await init({ module_or_path: new URL('./dtc-frontend_bg.wasm', import.meta.url) });

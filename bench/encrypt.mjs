// Encryption benchmark: the page's send pipeline (encrypt_without_sending: file
// slices, the part worker pool, WebCrypto) against bare WebCrypto AES-256-GCM over
// the same bytes in the same page. Prints the median MB/s of each and their ratio.
//
// BENCH_ENCRYPT_SIZE sets the size (default 256M); BENCH_ENCRYPT_ROUNDS the number of
// measured rounds after one warm-up (default 3).

import { baseUrl, fixed, launchBrowser, mbPerSecond, median, MiB, sizeFromEnv, sizeText } from './lib.mjs';

const size = sizeFromEnv('BENCH_ENCRYPT_SIZE', 256 * MiB);
const rounds = Number(process.env.BENCH_ENCRYPT_ROUNDS ?? 3);

const browser = await launchBrowser();
try {
  const context = await browser.newContext({ baseURL: baseUrl() });
  const page = await context.newPage();
  await page.goto('/');
  // boot.js mounts the app only after the WebAssembly module is initialised, so the
  // header link shows that encrypt_without_sending is ready.
  await page.getByRole('link', { name: 'Log in' }).waitFor();
  const ready = await page.evaluate(async () => {
    const module = await import('/dtc-frontend.js');
    return typeof module.encrypt_without_sending === 'function';
  });
  if (!ready) {
    throw new Error('/dtc-frontend.js exports no encrypt_without_sending; rebuild the page with trunk');
  }

  await page.evaluate(async (blobSize) => {
    // 8 MiB of random bytes, repeated up to the size. getRandomValues fills at most
    // 65536 bytes per call.
    const pattern = new Uint8Array(Math.min(8 * 1024 * 1024, blobSize));
    for (let offset = 0; offset < pattern.length; offset += 65536) {
      crypto.getRandomValues(pattern.subarray(offset, offset + 65536));
    }
    const parts = [];
    for (let left = blobSize; left > 0; left -= pattern.length) {
      parts.push(left >= pattern.length ? pattern : pattern.subarray(0, left));
    }
    window.benchBlob = new Blob(parts);
    window.benchKey = await crypto.subtle.importKey(
      'raw',
      crypto.getRandomValues(new Uint8Array(32)),
      'AES-GCM',
      false,
      ['encrypt'],
    );
  }, size);

  // (a) The reference: 4 MiB slices read one after another, and for each slice every
  // 16 KiB AES-256-GCM encryption issued at once and awaited together.
  const reference = () =>
    page.evaluate(async () => {
      const slice = 4 * 1024 * 1024;
      const chunk = 16 * 1024;
      const blob = window.benchBlob;
      const start = performance.now();
      let produced = 0;
      for (let offset = 0; offset < blob.size; offset += slice) {
        const bytes = new Uint8Array(await blob.slice(offset, offset + slice).arrayBuffer());
        const pending = [];
        for (let at = 0; at < bytes.length; at += chunk) {
          const iv = crypto.getRandomValues(new Uint8Array(12));
          pending.push(crypto.subtle.encrypt({ name: 'AES-GCM', iv }, window.benchKey, bytes.subarray(at, at + chunk)));
        }
        for (const ciphertext of await Promise.all(pending)) {
          produced += ciphertext.byteLength;
        }
      }
      return { ms: performance.now() - start, produced };
    });

  // (b) The page's own pipeline, with the ciphertext dropped.
  const ours = () =>
    page.evaluate(async () => {
      const module = await import('/dtc-frontend.js');
      const start = performance.now();
      const produced = await module.encrypt_without_sending(window.benchBlob);
      return { ms: performance.now() - start, produced };
    });

  const show = (label, run) =>
    console.log(`  ${label}: ${fixed(run.ms, 0)} ms, ${fixed(mbPerSecond(size, run.ms))} MB/s, ${run.produced} ciphertext bytes`);

  console.log(`encryption benchmark: ${sizeText(size)} (${size} bytes), 1 warm-up and ${rounds} rounds`);
  show('warm-up reference', await reference());
  show('warm-up ours', await ours());
  const referenceRates = [];
  const ourRates = [];
  for (let round = 1; round <= rounds; round++) {
    const a = await reference();
    show(`round ${round} reference`, a);
    referenceRates.push(mbPerSecond(size, a.ms));
    const b = await ours();
    show(`round ${round} ours`, b);
    ourRates.push(mbPerSecond(size, b.ms));
  }
  const ratio = median(ourRates) / median(referenceRates);
  console.log(`RESULT encryption size=${sizeText(size)} reference=${fixed(median(referenceRates))} MB/s ` +
    `ours=${fixed(median(ourRates))} MB/s ratio=${fixed(ratio, 2)} (target >= 1.0${ratio >= 1 ? ', met' : ', MISSED'})`);
} finally {
  await browser.close();
}

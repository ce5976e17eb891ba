// Memory benchmark: one account sends a random file to itself through the UI and
// downloads it from the inbox. Every 500 ms during each phase it samples the
// browser's JavaScript heaps, the WebAssembly memories of the page and its workers,
// and the server's resident memory. Prints the peak browser heap + WebAssembly
// memory and the server's RSS growth of each phase.
//
// BENCH_MEMORY_SIZE sets the file size (default 4G).
//
// How each figure is read:
// - Page heap: CDP Performance.getMetrics, JSHeapUsedSize, on the page's session.
// - Worker heaps (the part workers, the download worker, the service worker):
//   CDP Runtime.getHeapUsage, usedSize, in each worker target, because workers have
//   no Performance domain. Playwright's CDPSession cannot address the child
//   sessions of flat mode, so a browser session attaches to each worker target in
//   non-flat mode and talks to it through Target.sendMessageToTarget.
// - WebAssembly memory: in the page and in each dedicated worker, a dynamic import of
//   /dtc-frontend.js returns the instance already loaded there. Calling its init
//   function again returns the module's exports without loading anything, and
//   `exports.memory.buffer.byteLength` is the current size of that memory.
// - Server: VmRSS of /proc/PID/status.
// JSHeapUsedSize and usedSize leave out ArrayBuffer contents (parts in flight), which
// Runtime.getHeapUsage reports as backingStorageSize. The peak of heaps plus backing
// stores is printed too, as an extra figure without a target.

import { mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  baseUrl,
  clickSendAndWait,
  fileSha256,
  GiB,
  launchBrowser,
  mib,
  MiB,
  newStreamingContext,
  prepareSend,
  registerAccount,
  requiredEnv,
  serverRss,
  sizeFromEnv,
  sizeText,
  startDownload,
  writeRandomFile,
} from './lib.mjs';

const SAMPLE_INTERVAL_MS = 500;
/**
 * How long a worker or the page may take to respond to one sample request before it
 * is left out of that sample.
 */
const SAMPLE_RESPONSE_TIMEOUT_MS = 2000;
const BROWSER_TARGET = 256 * MiB;
const SERVER_TARGET = 64 * MiB;

const size = sizeFromEnv('BENCH_MEMORY_SIZE', 4 * GiB);
const folder = join(requiredEnv('BENCH_TMP'), 'memory');
await mkdir(join(folder, 'downloads'), { recursive: true });

/** Resolves to `promise`'s value, or to `fallback` when it rejects or takes longer than `ms` milliseconds. */
function within(promise, ms, fallback) {
  return Promise.race([promise.catch(() => fallback), sleep(ms).then(() => fallback)]);
}

/** The worker targets of the browser on the benchmark's server, in non-flat CDP sessions. */
class WorkerHeaps {
  constructor(browserSession) {
    this.cdp = browserSession;
    this.sessions = new Map();
    this.nextId = 1;
    this.waiting = new Map();
    this.cdp.on('Target.receivedMessageFromTarget', (event) => {
      const message = JSON.parse(event.message);
      const resolve = this.waiting.get(`${event.sessionId}/${message.id}`);
      if (resolve !== undefined) {
        this.waiting.delete(`${event.sessionId}/${message.id}`);
        resolve(message);
      }
    });
    this.cdp.on('Target.detachedFromTarget', (event) => {
      for (const [targetId, sessionId] of this.sessions) {
        if (sessionId === event.sessionId) {
          this.sessions.delete(targetId);
        }
      }
    });
  }

  async request(sessionId, method) {
    const id = this.nextId++;
    const response = new Promise((resolve) => this.waiting.set(`${sessionId}/${id}`, resolve));
    await this.cdp.send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id, method }) });
    return response;
  }

  /** Returns the summed usedSize and backingStorageSize of every worker target now. */
  async sample() {
    const { targetInfos } = await this.cdp.send('Target.getTargets');
    const workers = targetInfos.filter(
      (target) => ['worker', 'service_worker'].includes(target.type) && target.url.startsWith(baseUrl()),
    );
    for (const target of workers) {
      if (!this.sessions.has(target.targetId)) {
        const attached = await this.cdp
          .send('Target.attachToTarget', { targetId: target.targetId, flatten: false })
          .catch(() => null);
        if (attached !== null) {
          this.sessions.set(target.targetId, attached.sessionId);
        }
      }
    }
    const usages = await Promise.all(
      workers
        .filter((target) => this.sessions.has(target.targetId))
        .map((target) =>
          within(this.request(this.sessions.get(target.targetId), 'Runtime.getHeapUsage'), SAMPLE_RESPONSE_TIMEOUT_MS, null),
        ),
    );
    let used = 0;
    let backing = 0;
    let count = 0;
    for (const usage of usages) {
      if (usage?.result !== undefined) {
        used += usage.result.usedSize;
        backing += usage.result.backingStorageSize ?? 0;
        count += 1;
      }
    }
    return { used, backing, count };
  }
}

/** Returns the byte length of the WebAssembly memory of the module loaded in `scope`. */
function wasmMemory(scope) {
  const read = scope.evaluate(async () => {
    const module = await import(`${self.location.origin}/dtc-frontend.js`);
    const exports = await module.default();
    return exports.memory.buffer.byteLength;
  });
  return within(read, SAMPLE_RESPONSE_TIMEOUT_MS, null);
}

/** Takes a sample every SAMPLE_INTERVAL_MS from start() until stop(), which returns them all. */
class Sampler {
  constructor(page, pageSession, workerHeaps) {
    this.page = page;
    this.pageSession = pageSession;
    this.workerHeaps = workerHeaps;
  }

  async takeSample() {
    const [metrics, pageUsage, workers, pageWasm, workerWasm, rss] = await Promise.all([
      this.pageSession.send('Performance.getMetrics'),
      this.pageSession.send('Runtime.getHeapUsage'),
      this.workerHeaps.sample(),
      wasmMemory(this.page),
      Promise.all(this.page.workers().map(wasmMemory)),
      serverRss(),
    ]);
    const pageHeap = metrics.metrics.find((metric) => metric.name === 'JSHeapUsedSize').value;
    const wasmSizes = [pageWasm, ...workerWasm];
    const wasm = wasmSizes.reduce((sum, bytes) => sum + (bytes ?? 0), 0);
    const wasmParts = wasmSizes.map((bytes) => (bytes === null ? 'no response' : mib(bytes)));
    const heap = pageHeap + workers.used;
    return {
      heap,
      wasm,
      wasmParts,
      browser: heap + wasm,
      backing: pageUsage.backingStorageSize + workers.backing,
      workers: workers.count,
      rss,
    };
  }

  start() {
    this.samples = [];
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        const due = performance.now() + SAMPLE_INTERVAL_MS;
        this.samples.push(await this.takeSample());
        await sleep(Math.max(0, due - performance.now()));
      }
    })();
  }

  async stop() {
    this.running = false;
    await this.loop;
    this.samples.push(await this.takeSample());
    return this.samples;
  }
}

function report(phase, before, samples) {
  const peakOf = (key) => samples.reduce((best, sample) => (sample[key] > best[key] ? sample : best));
  const browserPeak = peakOf('browser');
  const backingPeak = Math.max(...samples.map((sample) => sample.heap + sample.backing));
  const rssPeak = peakOf('rss').rss;
  const growth = rssPeak - before;
  console.log(`  ${phase}: ${samples.length} samples; at the browser peak: heap ${mib(browserPeak.heap)}, ` +
    `WebAssembly ${mib(browserPeak.wasm)} (page, then each dedicated worker: ${browserPeak.wasmParts.join(', ')}), ` +
    `${browserPeak.workers} worker targets read`);
  console.log(`  ${phase}: peak heap + ArrayBuffer backing stores ${mib(backingPeak)} (no target)`);
  console.log(`  ${phase}: server RSS ${mib(before)} before, ${mib(rssPeak)} at the peak`);
  console.log(`RESULT memory ${phase} size=${sizeText(size)} browser heap+wasm peak=${mib(browserPeak.browser)} ` +
    `(target < 256 MiB${browserPeak.browser < BROWSER_TARGET ? ', met' : ', MISSED'}) ` +
    `server RSS growth=${mib(growth)} (target < 64 MiB${growth < SERVER_TARGET ? ', met' : ', MISSED'})`);
}

console.log(`memory benchmark: ${sizeText(size)} (${size} bytes), a sample every ${SAMPLE_INTERVAL_MS} ms`);
const name = `memory-${size}.bin`;
const original = join(folder, name);
const originalSha256 = await writeRandomFile(original, size);

const browser = await launchBrowser(join(folder, 'downloads'));
try {
  const context = await newStreamingContext(browser);
  const page = await context.newPage();
  const pageSession = await context.newCDPSession(page);
  await pageSession.send('Performance.enable');
  const sampler = new Sampler(page, pageSession, new WorkerHeaps(await browser.newBrowserCDPSession()));
  const username = await registerAccount(page);

  await prepareSend(page, username, original);
  let before = await serverRss();
  sampler.start();
  let start = performance.now();
  await clickSendAndWait(page, name);
  console.log(`  send took ${((performance.now() - start) / 1000).toFixed(1)} s`);
  report('send', before, await sampler.stop());

  before = await serverRss();
  sampler.start();
  start = performance.now();
  const download = await startDownload(page, name);
  const savedPath = await download.path();
  console.log(`  receive took ${((performance.now() - start) / 1000).toFixed(1)} s`);
  const samples = await sampler.stop();
  const failure = await download.failure();
  if (failure !== null) {
    throw new Error(`the browser download failed: ${failure}`);
  }
  report('receive', before, samples);
  const savedSize = (await stat(savedPath)).size;
  const savedSha256 = await fileSha256(savedPath);
  await download.delete();
  if (savedSize !== size || savedSha256 !== originalSha256) {
    throw new Error(`the downloaded file differs from the original: ${savedSize} bytes, SHA-256 ${savedSha256}; ` +
      `expected ${size} bytes, SHA-256 ${originalSha256}`);
  }
  console.log(`  downloaded file matches the original (SHA-256 ${savedSha256})`);
} finally {
  await browser.close();
  await rm(folder, { recursive: true, force: true });
}

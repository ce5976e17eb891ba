// Whole-transfer benchmark: one account sends a random file to itself through the UI
// and downloads it from the inbox. The reference is curl moving the same ciphertext
// parts to and from the same server with the browser's session cookie, 4 parts at
// once like the page. Prints upload, download and round-trip MB/s of both and the
// ratios browser/curl.
//
// BENCH_TRANSFER_SIZE sets the file size (default 1G). curl takes a few seconds where
// the browser takes tens, so a short burst of load from other processes moves its time
// more. Each curl direction therefore runs BENCH_TRANSFER_CURL_ROUNDS times (default 3)
// and its median counts.

import { spawn } from 'node:child_process';
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  callApi,
  clickSendAndWait,
  cpuSeconds,
  cpuUsed,
  fileSha256,
  fixed,
  GiB,
  launchBrowser,
  mbPerSecond,
  median,
  newStreamingContext,
  prepareSend,
  registerAccount,
  requiredEnv,
  sessionCookie,
  sizeFromEnv,
  sizeText,
  startDownload,
  writeRandomFile,
  baseUrl,
} from './lib.mjs';

/** Parts a client sends or fetches at once; the server allows 4 per client address. */
const PARTS_AT_ONCE = 4;

const size = sizeFromEnv('BENCH_TRANSFER_SIZE', GiB);
const curlRounds = Number(process.env.BENCH_TRANSFER_CURL_ROUNDS ?? 3);
const folder = join(requiredEnv('BENCH_TMP'), 'transfer');
await mkdir(join(folder, 'downloads'), { recursive: true });
await mkdir(join(folder, 'parts'), { recursive: true });

console.log(`whole-transfer benchmark: ${sizeText(size)} (${size} bytes)`);
const name = `transfer-${size}.bin`;
const original = join(folder, name);
const originalSha256 = await writeRandomFile(original, size);

/**
 * Runs curl over a config file of transfers, `PARTS_AT_ONCE` at a time, and returns
 * the elapsed milliseconds. Fails unless every transfer returned `expectedStatus`.
 */
async function runCurl(config, extraArgs, expectedStatus) {
  const configPath = join(folder, 'curl.config');
  await writeFile(configPath, config);
  const args = ['--parallel', '--parallel-max', String(PARTS_AT_ONCE), '-sS', '-w', '%{http_code}\\n', ...extraArgs, '-K', configPath];
  const start = performance.now();
  const output = await new Promise((resolve, reject) => {
    const child = spawn('curl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (data) => (stdout += data));
    child.stderr.on('data', (data) => (stderr += data));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(stdout) : reject(new Error(`curl exited with ${code}: ${stderr.trim()}`)),
    );
  });
  const ms = performance.now() - start;
  const statuses = output.trim().split('\n');
  const unexpected = statuses.filter((status) => status !== expectedStatus);
  if (unexpected.length > 0) {
    throw new Error(`curl: ${unexpected.length} of ${statuses.length} transfers returned ${[...new Set(unexpected)]}, expected ${expectedStatus}`);
  }
  return ms;
}

const browser = await launchBrowser(join(folder, 'downloads'));
try {
  const context = await newStreamingContext(browser);
  const page = await context.newPage();
  const username = await registerAccount(page);

  // Browser upload: from the click on "Encrypt and send" to the success message.
  await prepareSend(page, username, original);
  let cpuBefore = await cpuSeconds();
  let start = performance.now();
  await clickSendAndWait(page, name);
  const browserUpMs = performance.now() - start;
  const browserUpCpu = cpuUsed(cpuBefore, await cpuSeconds());
  console.log(`  browser upload: ${fixed(browserUpMs, 0)} ms`);

  // Browser download: from the click on Download until the browser has written the
  // whole file.
  cpuBefore = await cpuSeconds();
  start = performance.now();
  const download = await startDownload(page, name);
  const savedPath = await download.path();
  const browserDownMs = performance.now() - start;
  const browserDownCpu = cpuUsed(cpuBefore, await cpuSeconds());
  const failure = await download.failure();
  if (failure !== null) {
    throw new Error(`the browser download failed: ${failure}`);
  }
  // The service worker serves its streams under /download/.
  const streamed = new URL(download.url()).pathname.startsWith('/download/');
  const path = streamed ? 'streamed through the service worker' : `saved from ${download.url()}`;
  console.log(`  browser download: ${fixed(browserDownMs, 0)} ms (${path})`);
  const savedSize = (await stat(savedPath)).size;
  const savedSha256 = await fileSha256(savedPath);
  await download.delete();
  if (savedSize !== size || savedSha256 !== originalSha256) {
    throw new Error(`the downloaded file differs from the original: ${savedSize} bytes, SHA-256 ${savedSha256}; ` +
      `expected ${size} bytes, SHA-256 ${originalSha256}`);
  }
  console.log(`  downloaded file matches the original (SHA-256 ${savedSha256})`);

  // curl download: every part of the browser's stored file, written to disk.
  const cookie = await sessionCookie(context);
  const inbox = await callApi('inbox', {}, cookie);
  if (inbox.length !== 1) {
    throw new Error(`expected one file in the new account's inbox, found ${inbox.length}`);
  }
  const stored = inbox[0];
  const partPath = (index) => join(folder, 'parts', String(index));
  let config = '';
  for (let index = 0; index < stored.part_count; index++) {
    config += `url = "${baseUrl()}/api/files/${stored.file_id}/parts/${index}"\noutput = "${partPath(index)}"\n`;
  }
  const curlDownTimes = [];
  const curlDownCpus = [];
  for (let round = 1; round <= curlRounds; round++) {
    const before = await cpuSeconds();
    const ms = await runCurl(config, ['-b', cookie], '200');
    curlDownCpus.push(cpuUsed(before, await cpuSeconds()));
    let fetched = 0;
    for (let index = 0; index < stored.part_count; index++) {
      fetched += (await stat(partPath(index))).size;
    }
    if (fetched !== stored.ciphertext_len) {
      throw new Error(`curl fetched ${fetched} ciphertext bytes where the server lists ${stored.ciphertext_len}`);
    }
    console.log(`  curl download ${round}: ${fixed(ms, 0)} ms (${stored.part_count} parts, ${fetched} ciphertext bytes)`);
    curlDownTimes.push(ms);
  }
  const curlDownMs = median(curlDownTimes);

  // curl upload: the same parts to a new upload of the same size, deleted afterwards.
  const headers = ['-b', cookie, '-H', `Origin: ${baseUrl()}`, '-H', 'Content-Type: application/octet-stream', '-o', '/dev/null'];
  const curlUpTimes = [];
  const curlUpCpus = [];
  for (let round = 1; round <= curlRounds; round++) {
    const ticket = await callApi(
      'create_upload',
      { request: { recipient: username, ciphertext_len: stored.ciphertext_len, metadata: stored.metadata, link: null } },
      cookie,
    );
    config = '';
    for (let index = 0; index < ticket.part_count; index++) {
      config += `url = "${baseUrl()}/api/files/${ticket.file_id}/parts/${index}"\nupload-file = "${partPath(index)}"\n`;
    }
    const before = await cpuSeconds();
    const ms = await runCurl(config, headers, '204');
    curlUpCpus.push(cpuUsed(before, await cpuSeconds()));
    console.log(`  curl upload ${round}: ${fixed(ms, 0)} ms`);
    curlUpTimes.push(ms);
    await callApi('delete_file', { file_id: ticket.file_id }, cookie);
  }
  const curlUpMs = median(curlUpTimes);

  // MB/s is the file size over the time for both clients, so each ratio is a ratio of
  // times. The ciphertext that both move is 0.1% longer than the file.
  const rates = {
    upload: [mbPerSecond(size, browserUpMs), mbPerSecond(size, curlUpMs)],
    download: [mbPerSecond(size, browserDownMs), mbPerSecond(size, curlDownMs)],
    'round trip': [mbPerSecond(2 * size, browserUpMs + browserDownMs), mbPerSecond(2 * size, curlUpMs + curlDownMs)],
  };
  // CPU seconds per GiB of each side, the median curl round for curl. With two cores
  // a direction takes at least half its total, however the work is spread.
  const perGiB = (seconds) => fixed((seconds * GiB) / size, 2);
  const medianCpu = (runs) => ({
    client: median(runs.map((run) => run.children)),
    server: median(runs.map((run) => run.server)),
  });
  const cpu = {
    upload: [{ client: browserUpCpu.browser, server: browserUpCpu.server }, medianCpu(curlUpCpus)],
    download: [{ client: browserDownCpu.browser, server: browserDownCpu.server }, medianCpu(curlDownCpus)],
  };
  for (const [direction, [ours, reference]] of Object.entries(cpu)) {
    console.log(`CPU transfer ${direction} per GiB: browser ${perGiB(ours.client)} s + server ${perGiB(ours.server)} s; ` +
      `curl ${perGiB(reference.client)} s + server ${perGiB(reference.server)} s`);
  }
  for (const [direction, [ours, reference]] of Object.entries(rates)) {
    const ratio = ours / reference;
    const verdict = direction === 'round trip' ? ` (target >= 0.5${ratio >= 0.5 ? ', met' : ', MISSED'})` : '';
    console.log(`RESULT transfer ${direction} size=${sizeText(size)} browser=${fixed(ours)} MB/s curl=${fixed(reference)} MB/s ratio=${fixed(ratio, 2)}${verdict}`);
  }
} finally {
  await browser.close();
  await rm(folder, { recursive: true, force: true });
}

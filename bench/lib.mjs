// Shared helpers of the benchmarks: the browser launch, the account and transfer steps
// through the UI, raw API requests, and figures.
//
// bench/run.sh sets BENCH_BASE_URL (the server it started for this benchmark),
// BENCH_SERVER_PID and BENCH_TMP (a temporary folder it removes afterwards).

import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { once } from 'node:events';

const require = createRequire(new URL('../end2end/package.json', import.meta.url));
const { chromium } = require('playwright-core');

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

export function requiredEnv(name) {
  const value = process.env[name];
  if (value === undefined || value === '') {
    throw new Error(`environment variable ${name} is not set; start the benchmarks with bench/run.sh`);
  }
  return value;
}

export const baseUrl = () => requiredEnv('BENCH_BASE_URL');

/** Reads a size in bytes from `name`, with an optional K, M or G suffix (powers of 1024). */
export function sizeFromEnv(name, fallback) {
  const text = process.env[name];
  if (text === undefined || text === '') {
    return fallback;
  }
  const match = /^(\d+)([KMG]?)i?B?$/i.exec(text.trim());
  if (!match) {
    throw new Error(`${name}=${text} is not a size; write bytes or a number with K, M or G, such as 256M`);
  }
  const unit = { '': 1, K: 1024, M: MiB, G: GiB }[match[2].toUpperCase()];
  return Number(match[1]) * unit;
}

/**
 * Launches /usr/bin/chromium headless with the flags of end2end/playwright.config.ts.
 * Downloads go to `downloadsPath`.
 */
export async function launchBrowser(downloadsPath) {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    downloadsPath,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
      '--disable-dev-shm-usage',
      '--disable-blink-features=FileSystemAccessLocal',
    ],
  });
}

/**
 * Opens a context whose pages save downloads through the service worker, as a
 * browser without `window.showSaveFilePicker` does, so that Playwright receives them
 * as `download` events.
 */
export async function newStreamingContext(browser) {
  const context = await browser.newContext({ baseURL: baseUrl(), acceptDownloads: true });
  await context.addInitScript(() => {
    delete window.showSaveFilePicker;
  });
  return context;
}

/** Registers a new account in the UI and waits until the header shows it. */
export async function registerAccount(page) {
  const username = `bench-${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  const password = `bench password ${randomBytes(6).toString('hex')}`;
  await page.goto('/register');
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByLabel('Confirm password').fill(password);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.getByTestId('current-user').filter({ hasText: username }).waitFor({ timeout: 120_000 });
  return username;
}

/**
 * Opens the send page, looks up `recipient` and chooses the file at `path`; the page
 * is then one click away from sending.
 */
export async function prepareSend(page, recipient, path) {
  await page.getByRole('link', { name: 'Send', exact: true }).click();
  await page.getByLabel('Recipient').fill(recipient);
  await page.getByRole('button', { name: 'Look up' }).click();
  await page.getByTestId('recipient-fingerprint').waitFor();
  // A path, not a buffer: Playwright hands a local browser the path, so the file is
  // never read into this process.
  await page.getByTestId('file-input').setInputFiles(path);
}

/** Clicks "Encrypt and send" and waits, without a time limit, for the success message. */
export async function clickSendAndWait(page, name) {
  await page.getByRole('button', { name: 'Encrypt and send' }).click();
  await page.getByTestId('send-done').filter({ hasText: name }).waitFor({ timeout: 0 });
}

/**
 * Opens the inbox, clicks Download on the row of `name` and returns the Playwright
 * download once the browser has begun it.
 */
export async function startDownload(page, name) {
  await page.getByRole('link', { name: 'Inbox', exact: true }).click();
  const row = page
    .getByTestId('inbox-row')
    .filter({ has: page.getByTestId('file-name').getByText(name, { exact: true }) });
  await row.waitFor();
  const started = page.waitForEvent('download', { timeout: 0 });
  await row.getByRole('button', { name: 'Download' }).click();
  return started;
}

/** Writes `size` random bytes to `path` and returns their SHA-256 in hex. */
export async function writeRandomFile(path, size) {
  const hash = createHash('sha256');
  const out = createWriteStream(path);
  const block = 16 * MiB;
  for (let written = 0; written < size; written += block) {
    const bytes = randomBytes(Math.min(block, size - written));
    hash.update(bytes);
    if (!out.write(bytes)) {
      await once(out, 'drain');
    }
  }
  out.end();
  await once(out, 'finish');
  return hash.digest('hex');
}

export async function fileSha256(path) {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 16 * MiB })) {
    hash.update(chunk);
  }
  return hash.digest('hex');
}

/** Returns the session cookie of `context` as a `Cookie` header value. */
export async function sessionCookie(context) {
  const cookies = await context.cookies(baseUrl());
  const session = cookies.find((cookie) => cookie.name === 'dtc_session');
  if (session === undefined) {
    throw new Error(`no dtc_session cookie in the browser context; cookies: ${cookies.map((c) => c.name)}`);
  }
  return `${session.name}=${session.value}`;
}

/**
 * Calls the JSON API function `name` (`POST /api/<name>`) with the headers the
 * server requires of a state-changing request, and returns the parsed response.
 */
export async function callApi(name, args, cookie) {
  const response = await fetch(`${baseUrl()}/api/${name}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Origin: baseUrl(), Cookie: cookie },
    body: JSON.stringify(args),
  });
  const text = await response.text();
  if (!response.ok) {
    throw new Error(`POST /api/${name} failed with HTTP ${response.status}: ${text}`);
  }
  return JSON.parse(text);
}

/** Returns the server's resident memory (`VmRSS` of /proc/PID/status) in bytes. */
export async function serverRss() {
  const pid = requiredEnv('BENCH_SERVER_PID');
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (!match) {
    throw new Error(`no VmRSS line in /proc/${pid}/status`);
  }
  return Number(match[1]) * 1024;
}

/** Clock ticks per second of the times in /proc/PID/stat (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** Returns fields 4 onward of /proc/PID/stat (state, ppid, ...), or null once it exits. */
async function procStat(pid) {
  try {
    const text = await readFile(`/proc/${pid}/stat`, 'utf8');
    // The command name in parentheses may contain spaces, so split after its end.
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/**
 * Returns the CPU seconds (user + system) used so far, in three fields. `browser`
 * counts every live process descended from this Node process, which is the Chromium
 * that Playwright launched. `server` counts the benchmark's server. `children` counts
 * the children of this process that exited and were waited for, such as each curl run.
 */
export async function cpuSeconds() {
  const self = await procStat(process.pid);
  const parents = new Map();
  const used = new Map();
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) {
      continue;
    }
    const fields = await procStat(name);
    if (fields !== null) {
      // Fields 4, 14 and 15 of proc(5): ppid, utime and stime.
      parents.set(name, fields[1]);
      used.set(name, Number(fields[11]) + Number(fields[12]));
    }
  }
  const own = String(process.pid);
  const descends = (pid) => {
    for (let parent = parents.get(pid); parent !== undefined; parent = parents.get(parent)) {
      if (parent === own) {
        return true;
      }
      if (parent === '0' || parent === '1') {
        return false;
      }
    }
    return false;
  };
  let browser = 0;
  for (const [pid, ticks] of used) {
    if (descends(pid)) {
      browser += ticks;
    }
  }
  const server = used.get(requiredEnv('BENCH_SERVER_PID')) ?? 0;
  // Fields 16 and 17: cutime and cstime, the times of waited-for children.
  const children = Number(self[13]) + Number(self[14]);
  return {
    browser: browser / TICKS_PER_SECOND,
    server: server / TICKS_PER_SECOND,
    children: children / TICKS_PER_SECOND,
  };
}

/** Returns the CPU seconds of each field of `cpuSeconds()` between `before` and `after`. */
export function cpuUsed(before, after) {
  return {
    browser: after.browser - before.browser,
    server: after.server - before.server,
    children: after.children - before.children,
  };
}

/** Megabytes (10^6 bytes) per second. */
export function mbPerSecond(bytes, milliseconds) {
  return bytes / 1e6 / (milliseconds / 1000);
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

export const fixed = (value, digits = 1) => value.toFixed(digits);

export function mib(bytes) {
  return `${(bytes / MiB).toFixed(1)} MiB`;
}

export function sizeText(bytes) {
  if (bytes % GiB === 0) {
    return `${bytes / GiB} GiB`;
  }
  return bytes % MiB === 0 ? `${bytes / MiB} MiB` : mib(bytes);
}

import { defineConfig } from '@playwright/test';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// The server under test: the debug build of dtc-server on its own port, a fresh
// database in a temporary folder, and the pages from the Trunk build (../dist unless
// E2E_SITE_DIR names another).
const port = Number(process.env.E2E_PORT ?? 18080);
const dataDir = process.env.E2E_DATA_DIR ?? mkdtempSync(join(tmpdir(), 'dtc-e2e-'));
const server = process.env.E2E_SERVER_BIN ?? '../target/debug/dtc-server';
const siteDir = process.env.E2E_SITE_DIR ?? '../dist';
// Small enough that the too-large test needs only a modest file.
const maxFileSize = 24 * 1024 * 1024;
// Small enough that two files of the quota spec pass it; no other spec sends more
// than about 21 MiB from one account.
const quotaBytes = 40 * 1024 * 1024;
// A site already running elsewhere, such as the nginx proxy of scripts/test-nginx.sh
// with its self-signed certificate. When set, no server is started here.
const externalBaseUrl = process.env.E2E_BASE_URL;

const webServer = {
  command:
    `${server} --addr 127.0.0.1:${port} --data-dir ${dataDir} ` +
    `--site-dir ${siteDir} --max-file-size ${maxFileSize} --quota-bytes ${quotaBytes}`,
  url: `http://127.0.0.1:${port}/`,
  reuseExistingServer: false,
  timeout: 60_000,
  stdout: 'pipe' as const,
  stderr: 'pipe' as const,
};

export default defineConfig({
  testDir: './tests',
  timeout: 180_000,
  expect: { timeout: 30_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [['list']],
  use: {
    baseURL: externalBaseUrl ?? `http://127.0.0.1:${port}`,
    ignoreHTTPSErrors: externalBaseUrl !== undefined,
    acceptDownloads: true,
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        '--disable-quic',
        '--disable-dev-shm-usage',
        // Headless Chromium rejects window.showSaveFilePicker at once, as if the person
        // closed the dialog. Without it the pages save through the download service
        // worker, which Playwright reports as `download` events. download.spec.ts
        // installs its own picker to test the File System Access path.
        '--disable-blink-features=FileSystemAccessLocal',
        // Chromium registers no service worker from a site whose certificate fails
        // verification, even with ignoreHTTPSErrors, so a run against the self-signed
        // certificate of scripts/test-nginx.sh needs the browser flag as well.
        ...(externalBaseUrl === undefined ? [] : ['--ignore-certificate-errors']),
      ],
    },
  },
  webServer: externalBaseUrl === undefined ? webServer : undefined,
});

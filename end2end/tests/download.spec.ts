import {
  expect,
  test,
  type Browser,
  type BrowserContext,
  type Download,
  type Locator,
  type Page,
} from '@playwright/test';
import { AccountPages } from '../pages/account';
import { FilePages } from '../pages/files';
import { LinkPage } from '../pages/link';
import { SendPage, type FileToSend } from '../pages/send';
import { binaryWithMarker, downloadedSha256, sha256, uniqueUsername } from '../support/data';

// Downloads are written to disk part by part, through one of two paths:
// - File System Access: window.showSaveFilePicker returns a file handle. Here a stand-in
//   picker returns a file in the origin-private file system (OPFS), which the test
//   reads back in the page.
// - Service worker: without the picker, sw.js streams the file as a browser download,
//   which Playwright receives as a `download` event.

const MiB = 1024 * 1024;
/** Three parts: a part is 4 MiB of plaintext. */
const MULTI_PART_SIZE = 9 * MiB + 1234;
const PART_URL = /\/api\/(files|links)\/[0-9a-f]+\/parts\/\d+$/;

type SavePath = 'stream' | 'picker';

/** Makes the pages of `context` save through the service worker. */
async function useStreamPath(context: BrowserContext): Promise<void> {
  await context.addInitScript(() => {
    delete (window as { showSaveFilePicker?: unknown }).showSaveFilePicker;
  });
}

/**
 * Makes the pages of `context` save through File System Access, into an OPFS file
 * named as the page suggests. `window.pickedNames` records each suggested name.
 */
async function usePickerPath(context: BrowserContext): Promise<void> {
  await context.addInitScript(() => {
    const picked: string[] = [];
    Object.assign(window, {
      pickedNames: picked,
      showSaveFilePicker: async (options: { suggestedName: string }) => {
        picked.push(options.suggestedName);
        const root = await navigator.storage.getDirectory();
        return root.getFileHandle(options.suggestedName, { create: true });
      },
    });
  });
}

async function usePath(context: BrowserContext, path: SavePath): Promise<void> {
  await (path === 'stream' ? useStreamPath(context) : usePickerPath(context));
}

/** Returns the names the page suggested to the stand-in picker. */
async function pickedNames(page: Page): Promise<string[]> {
  return page.evaluate(() => (window as unknown as { pickedNames: string[] }).pickedNames);
}

/** Returns the SHA-256 of the OPFS file `name`, read in the page. */
async function opfsSha256(page: Page, name: string): Promise<string> {
  return page.evaluate(async (fileName) => {
    const root = await navigator.storage.getDirectory();
    const file = await (await root.getFileHandle(fileName)).getFile();
    const digest = await crypto.subtle.digest('SHA-256', await file.arrayBuffer());
    return [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, '0')).join('');
  }, name);
}

/** Returns the size of the OPFS file `name`, or null when there is none. */
async function opfsSize(page: Page, name: string): Promise<number | null> {
  return page.evaluate(async (fileName) => {
    const root = await navigator.storage.getDirectory();
    try {
      return (await (await root.getFileHandle(fileName)).getFile()).size;
    } catch (error) {
      if (error instanceof DOMException && error.name === 'NotFoundError') {
        return null;
      }
      throw error;
    }
  }, name);
}

/** Delays every ciphertext part response of `page` by `ms`, so a download is slow. */
async function delayParts(page: Page, ms: number): Promise<void> {
  await page.route(PART_URL, async (route) => {
    await new Promise((resolve) => setTimeout(resolve, ms));
    await route.continue();
  });
}

/** Serves part `index` of every file with one byte flipped. */
async function flipByteInPart(page: Page, index: number): Promise<void> {
  await page.route(PART_URL, async (route) => {
    const response = await route.fetch();
    const body = Buffer.from(await response.body());
    if (route.request().url().endsWith(`/parts/${index}`)) {
      body[body.length - 100] ^= 0x01;
    }
    await route.fulfill({ response, body });
  });
}

/** A sender and a recipient, each signed in in a context of its own. */
interface Accounts {
  sender: Page;
  recipient: Page;
  recipientName: string;
  close(): Promise<void>;
}

/** Registers a sender and a recipient; the recipient's pages save through `path`. */
async function twoAccounts(browser: Browser, prefix: string, path: SavePath): Promise<Accounts> {
  const senderContext = await browser.newContext();
  const recipientContext = await browser.newContext();
  await usePath(recipientContext, path);
  const sender = await senderContext.newPage();
  const recipient = await recipientContext.newPage();
  const senderName = uniqueUsername(`${prefix}-from`);
  const recipientName = uniqueUsername(`${prefix}-to`);
  await new AccountPages(recipient).register(recipientName, `${prefix} recipient password`);
  await new AccountPages(recipient).expectSignedIn(recipientName);
  await new AccountPages(sender).register(senderName, `${prefix} sender password`);
  await new AccountPages(sender).expectSignedIn(senderName);
  return {
    sender,
    recipient,
    recipientName,
    close: async () => {
      await senderContext.close();
      await recipientContext.close();
    },
  };
}

function binaryFile(name: string, size: number): FileToSend {
  const buffer = size === 0 ? Buffer.alloc(0) : binaryWithMarker(size, 'DOWNLOAD-SPEC');
  return { name, mimeType: 'application/octet-stream', buffer };
}

/** Clicks Download on the inbox row of `name`. */
async function clickDownload(page: Page, name: string): Promise<void> {
  const row = new FilePages(page).inboxRow(name);
  await expect(row).toBeVisible();
  await row.getByRole('button', { name: 'Download' }).click();
}

/** Collects the `download` events of `page`. */
function watchDownloads(page: Page): Download[] {
  const downloads: Download[] = [];
  page.on('download', (download) => downloads.push(download));
  return downloads;
}

test('service worker streams a multi-part and an empty file', async ({ browser }) => {
  const accounts = await twoAccounts(browser, 'swstream', 'stream');
  const files = [binaryFile('three parts.bin', MULTI_PART_SIZE), binaryFile('empty.bin', 0)];
  for (const file of files) {
    await new SendPage(accounts.sender).send(accounts.recipientName, file);
  }

  const page = accounts.recipient;
  const inbox = new FilePages(page);
  await inbox.openInbox();
  for (const file of files) {
    const download = await inbox.download(file.name);
    expect(download.suggestedFilename()).toBe(file.name);
    expect(await downloadedSha256(download)).toBe(sha256(file.buffer));
    const row = inbox.inboxRow(file.name);
    await expect(row.getByTestId('download-done')).toHaveText('Saved.');
  }

  // Browsers register a service worker only from a script with a JavaScript type.
  const script = await page.request.get('/sw.js');
  expect(script.status()).toBe(200);
  expect(script.headers()['content-type']).toMatch(/^text\/javascript/);

  // The worker's scope is /download/ alone, so it controls none of the pages.
  const controlled = await page.evaluate(() => navigator.serviceWorker.controller !== null);
  expect(controlled).toBe(false);
  const scope = await page.evaluate(async () => (await navigator.serviceWorker.getRegistration('/download/'))?.scope);
  expect(scope).toMatch(/\/download\/$/);
  await accounts.close();
});

test('file system access writes the picked file', async ({ browser }) => {
  const accounts = await twoAccounts(browser, 'fsapick', 'picker');
  const files = [binaryFile('picked three parts.bin', MULTI_PART_SIZE), binaryFile('picked empty.bin', 0)];
  for (const file of files) {
    await new SendPage(accounts.sender).send(accounts.recipientName, file);
  }

  const page = accounts.recipient;
  const downloads = watchDownloads(page);
  await new FilePages(page).openInbox();
  for (const file of files) {
    await clickDownload(page, file.name);
    const row = new FilePages(page).inboxRow(file.name);
    await expect(row.getByTestId('download-done')).toHaveText('Saved.', { timeout: 120_000 });
    expect(await opfsSha256(page, file.name)).toBe(sha256(file.buffer));
  }
  expect(await pickedNames(page)).toEqual(files.map((file) => file.name));
  expect(downloads).toEqual([]);
  await accounts.close();
});

test('a share link saves through both paths and counts each', async ({ browser }) => {
  const senderContext = await browser.newContext();
  const sender = await senderContext.newPage();
  const senderName = uniqueUsername('linksave');
  await new AccountPages(sender).register(senderName, 'link save sender password');
  await new AccountPages(sender).expectSignedIn(senderName);
  const file = binaryFile('linked three parts.bin', MULTI_PART_SIZE);
  const url = await new SendPage(sender).sendWithLink(file, { downloadLimit: 2 });

  const streamContext = await browser.newContext();
  await useStreamPath(streamContext);
  const streamLink = new LinkPage(await streamContext.newPage());
  await streamLink.open(url);
  await expect(streamLink.downloadsLeft()).toHaveText('2');
  const download = await streamLink.download();
  expect(await downloadedSha256(download)).toBe(sha256(file.buffer));
  await expect(streamLink.downloadsLeft()).toHaveText('1');

  const pickerContext = await browser.newContext();
  await usePickerPath(pickerContext);
  const pickerPage = await pickerContext.newPage();
  const pickerLink = new LinkPage(pickerPage);
  await pickerLink.open(url);
  await expect(pickerLink.downloadsLeft()).toHaveText('1');
  await pickerLink.downloadButton().click();
  await expect(pickerPage.getByTestId('download-done')).toHaveText('Saved.', { timeout: 120_000 });
  await expect(pickerLink.downloadsLeft()).toHaveText('0');
  expect(await opfsSha256(pickerPage, file.name)).toBe(sha256(file.buffer));

  await Promise.all([senderContext.close(), streamContext.close(), pickerContext.close()]);
});

test('closing the save dialog starts nothing and shows no error', async ({ browser }) => {
  const accounts = await twoAccounts(browser, 'dismiss', 'stream');
  const file = binaryFile('never picked.bin', 1000);
  await new SendPage(accounts.sender).send(accounts.recipientName, file);

  const page = accounts.recipient;
  await page.evaluate(() => {
    Object.assign(window, {
      showSaveFilePicker: async () => {
        throw new DOMException('The user aborted a request.', 'AbortError');
      },
    });
  });
  const requests: string[] = [];
  page.on('request', (request) => requests.push(request.url()));
  await new FilePages(page).openInbox();
  await clickDownload(page, file.name);
  const row = new FilePages(page).inboxRow(file.name);
  await expect(row.getByRole('button', { name: 'Download' })).toBeEnabled();
  await page.waitForTimeout(500);
  await expect(row.getByRole('alert')).toHaveCount(0);
  await expect(row.getByTestId('download-done')).toHaveCount(0);
  await expect(row.getByTestId('download-cancelled')).toHaveCount(0);
  expect(requests.filter((address) => PART_URL.test(address))).toEqual([]);
  await accounts.close();
});

/** A download started with every part delayed, so that it is still running. */
interface SlowDownload {
  accounts: Accounts;
  page: Page;
  file: FileToSend;
  row: Locator;
  /** The browser download of the stream path, or null on the picker path. */
  download: Download | null;
}

/** Sends a three-part file and starts its download with each part delayed 1.5 s. */
async function startSlowDownload(browser: Browser, prefix: string, path: SavePath): Promise<SlowDownload> {
  const accounts = await twoAccounts(browser, prefix, path);
  const file = binaryFile(`${prefix} slow.bin`, MULTI_PART_SIZE);
  await new SendPage(accounts.sender).send(accounts.recipientName, file);

  const page = accounts.recipient;
  await delayParts(page, 1500);
  await new FilePages(page).openInbox();
  const started = path === 'stream' ? page.waitForEvent('download') : null;
  await clickDownload(page, file.name);
  const download = started === null ? null : await started;
  return { accounts, page, file, row: new FilePages(page).inboxRow(file.name), download };
}

test('cancel on the page fails the stream and saves nothing', async ({ browser }) => {
  const { accounts, row, download } = await startSlowDownload(browser, 'swcancel', 'stream');
  await expect(row.getByTestId('download-rate')).toContainText(/\/s, about .* left/);
  await row.getByTestId('download-cancel').click();

  await expect(row.getByTestId('download-cancelled')).toHaveText('Download cancelled. Nothing was saved.');
  expect(await download?.failure()).not.toBeNull();
  await expect(download!.path()).rejects.toThrow();
  await expect(row.getByTestId('download-done')).toHaveCount(0);
  await accounts.close();
});

test('cancel in the browser stops the page and saves nothing', async ({ browser }) => {
  const { accounts, row, download } = await startSlowDownload(browser, 'brcancel', 'stream');
  await download!.cancel();

  await expect(row.getByTestId('download-cancelled')).toHaveText('Download cancelled. Nothing was saved.');
  expect(await download!.failure()).toBe('canceled');
  await expect(row.getByTestId('download-done')).toHaveCount(0);
  await accounts.close();
});

test('cancel on the page discards the picked file', async ({ browser }) => {
  const { accounts, page, file, row } = await startSlowDownload(browser, 'fsacancel', 'picker');
  // The first part is written before the cancel.
  await expect(row.getByTestId('download-progress')).toHaveAttribute('value', String(4 * MiB));
  await row.getByTestId('download-cancel').click();

  await expect(row.getByTestId('download-cancelled')).toHaveText('Download cancelled. Nothing was saved.');
  expect(await pickedNames(page)).toEqual([file.name]);
  expect(await opfsSize(page, file.name)).toBeNull();
  await expect(row.getByTestId('download-done')).toHaveCount(0);
  await accounts.close();
});

for (const path of ['stream', 'picker'] as const) {
  test(`integrity failure saves nothing (${path})`, async ({ browser }) => {
    const accounts = await twoAccounts(browser, `tamper${path}`, path);
    const file = binaryFile(`tampered ${path}.bin`, MULTI_PART_SIZE);
    await new SendPage(accounts.sender).send(accounts.recipientName, file);

    const page = accounts.recipient;
    // Part 0 verifies and is written, so the failure comes after the file was begun.
    await flipByteInPart(page, 1);
    const downloads = watchDownloads(page);
    await new FilePages(page).openInbox();
    await clickDownload(page, file.name);

    const row = new FilePages(page).inboxRow(file.name);
    await expect(row.getByRole('alert')).toContainText('Integrity check failed');
    await expect(row.getByRole('alert')).toContainText('nothing was saved');
    await expect(row.getByTestId('download-done')).toHaveCount(0);
    if (path === 'stream') {
      expect(downloads).toHaveLength(1);
      expect(await downloads[0].failure()).not.toBeNull();
    } else {
      expect(downloads).toEqual([]);
      expect(await opfsSize(page, file.name)).toBeNull();
    }
    await accounts.close();
  });
}

for (const path of ['stream', 'picker'] as const) {
  test(`name with ../ is saved under a safe name (${path})`, async ({ browser }) => {
    const accounts = await twoAccounts(browser, `unsafe${path}`, path);
    const file = binaryFile('../../Ünïcödé résumé ✓.bin', 5000);
    const safeName = '_.._Ünïcödé résumé ✓.bin';
    await new SendPage(accounts.sender).send(accounts.recipientName, file);

    const page = accounts.recipient;
    const inbox = new FilePages(page);
    await inbox.openInbox();
    if (path === 'stream') {
      const download = await inbox.download(file.name);
      expect(download.suggestedFilename()).toBe(safeName);
      expect(await downloadedSha256(download)).toBe(sha256(file.buffer));
    } else {
      await clickDownload(page, file.name);
      await expect(inbox.inboxRow(file.name).getByTestId('download-done')).toHaveText('Saved.');
      expect(await pickedNames(page)).toEqual([safeName]);
      expect(await opfsSha256(page, safeName)).toBe(sha256(file.buffer));
    }
    await accounts.close();
  });
}

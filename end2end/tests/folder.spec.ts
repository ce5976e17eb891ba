import { expect, test, type Browser, type Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AccountPages } from '../pages/account';
import { FilePages } from '../pages/files';
import { SendPage } from '../pages/send';
import { binaryWithMarker, downloadedSha256, sha256, uniqueUsername } from '../support/data';

// A folder of nested files with non-ASCII names goes out in one send. The recipient
// saves the whole transfer as one ZIP archive streamed through the service worker, or
// into a picked folder through File System Access. Here a stand-in picker returns a
// folder in the origin-private file system.

const MiB = 1024 * 1024;

/** The folder's files by path below the folder, and their contents. */
const FILES: Record<string, Buffer> = {
  'notes ü.txt': Buffer.from('Grüße aus dem Urlaub\n', 'utf8'),
  // A hidden file beside a folder of nearly the same name stays apart from it.
  '.env': Buffer.from('SECRET=1\n', 'utf8'),
  'env/bin/activate': Buffer.from('export VIRTUAL_ENV=env\n', 'utf8'),
  'photos é/beach ö.bin': binaryWithMarker(5 * MiB + 3, 'FOLDER-SPEC'),
  'photos é/deeper/empty.txt': Buffer.alloc(0),
};
const FOLDER = 'Trip 日本';

/** Writes the folder to disk and returns its path. */
function folderOnDisk(): string {
  const root = join(mkdtempSync(join(tmpdir(), 'dtc-folder-')), FOLDER);
  for (const [path, contents] of Object.entries(FILES)) {
    const full = join(root, path);
    mkdirSync(join(full, '..'), { recursive: true });
    writeFileSync(full, contents);
  }
  return root;
}

/** Expected SHA-256 of every file, keyed by its path inside the transfer. */
function expectedDigests(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(FILES).map(([path, contents]) => [`${FOLDER}/${path}`, sha256(contents)]),
  );
}

/**
 * Registers a new recipient in `recipientPage` and a new sender in `senderPage`, and
 * returns the recipient's username.
 */
async function registerPair(senderPage: Page, recipientPage: Page, prefix: string): Promise<string> {
  const recipient = uniqueUsername(`${prefix}-to`);
  await new AccountPages(recipientPage).register(recipient, `${prefix} recipient password`);
  await new AccountPages(recipientPage).expectSignedIn(recipient);
  const sender = uniqueUsername(`${prefix}-from`);
  await new AccountPages(senderPage).register(sender, `${prefix} sender password`);
  await new AccountPages(senderPage).expectSignedIn(sender);
  return recipient;
}

/** Sends the folder from a new account to a new recipient; returns the recipient page. */
async function sendFolder(browser: Browser, prefix: string, picker: boolean): Promise<Page> {
  const senderPage = await (await browser.newContext()).newPage();
  const recipientContext = await browser.newContext();
  if (picker) {
    await recipientContext.addInitScript(() => {
      Object.assign(window, {
        showDirectoryPicker: async () => {
          const root = await navigator.storage.getDirectory();
          return root.getDirectoryHandle('picked', { create: true });
        },
      });
    });
  }
  const recipientPage = await recipientContext.newPage();
  const recipient = await registerPair(senderPage, recipientPage, prefix);

  const send = new SendPage(senderPage);
  await send.open();
  await send.lookUp(recipient);
  await senderPage.getByTestId('folder-input').setInputFiles(folderOnDisk());
  await expect(senderPage.getByTestId('selected-file')).toContainText('5 files');
  await send.submit();
  await expect(senderPage.getByTestId('send-done')).toHaveText(`Sent 5 files to ${recipient}.`, {
    timeout: 60_000,
  });
  await senderPage.context().close();

  const inbox = new FilePages(recipientPage);
  await inbox.openInbox();
  for (const path of Object.keys(FILES)) {
    await expect(inbox.inboxRow(`${FOLDER}/${path}`)).toBeVisible();
  }
  await expect(recipientPage.getByTestId('transfer')).toContainText('5 files sent together');
  return recipientPage;
}

test('a folder arrives as one ZIP archive with its structure', async ({ browser }) => {
  const page = await sendFolder(browser, 'zip', false);
  const saved = page.waitForEvent('download', { timeout: 60_000 });
  await page.getByTestId('transfer').getByRole('button', { name: 'Save all' }).click();
  const download = await saved;
  expect(download.suggestedFilename()).toBe(`${FOLDER}.zip`);
  const archive = await download.path();
  await expect(page.getByTestId('download-done')).toBeVisible();

  // Python's zipfile checks every CRC-32 and lists the entries with their digests.
  const listing = execFileSync(
    'python3',
    [
      '-c',
      [
        'import hashlib, json, sys, zipfile',
        'z = zipfile.ZipFile(sys.argv[1])',
        'assert z.testzip() is None',
        'print(json.dumps({i.filename: hashlib.sha256(z.read(i)).hexdigest() for i in z.infolist()}))',
      ].join('\n'),
      archive,
    ],
    { encoding: 'utf8' },
  );
  expect(JSON.parse(listing)).toEqual(expectedDigests());
  await page.context().close();
});

test('a folder is saved into a picked folder with its structure', async ({ browser }) => {
  const page = await sendFolder(browser, 'dir', true);
  await page.getByTestId('transfer').getByRole('button', { name: 'Save all' }).click();
  await expect(page.getByTestId('transfer').getByTestId('download-done')).toBeVisible({
    timeout: 60_000,
  });

  const digests = await page.evaluate(async () => {
    const found: Record<string, string> = {};
    async function walk(folder: FileSystemDirectoryHandle, prefix: string): Promise<void> {
      for await (const [name, handle] of (
        folder as unknown as { entries(): AsyncIterable<[string, FileSystemHandle]> }
      ).entries()) {
        if (handle.kind === 'directory') {
          await walk(handle as FileSystemDirectoryHandle, `${prefix}${name}/`);
        } else {
          const bytes = await (await (handle as FileSystemFileHandle).getFile()).arrayBuffer();
          const digest = await crypto.subtle.digest('SHA-256', bytes);
          found[`${prefix}${name}`] = [...new Uint8Array(digest)]
            .map((byte) => byte.toString(16).padStart(2, '0'))
            .join('');
        }
      }
    }
    const root = await navigator.storage.getDirectory();
    await walk(await root.getDirectoryHandle('picked'), '');
    return found;
  });
  expect(digests).toEqual(expectedDigests());
  await page.context().close();
});

test('files at chunk and part boundaries arrive intact', async ({ browser }) => {
  const senderPage = await (await browser.newContext()).newPage();
  const recipientPage = await (await browser.newContext()).newPage();
  const recipient = await registerPair(senderPage, recipientPage, 'edge');

  // Empty, one byte, one chunk and one byte less or more, one part (4 MiB of
  // plaintext) and one byte less or more.
  const sizes = [0, 1, 16383, 16384, 16385, 4 * MiB - 1, 4 * MiB, 4 * MiB + 1];
  const files = sizes.map((size) => ({
    name: `size ${size}.bin`,
    mimeType: 'application/octet-stream',
    buffer: randomBytes(size),
  }));
  const send = new SendPage(senderPage);
  await send.open();
  await send.lookUp(recipient);
  await senderPage.getByTestId('file-input').setInputFiles(files);
  await send.submit();
  await expect(senderPage.getByTestId('send-done')).toHaveText(
    `Sent ${sizes.length} files to ${recipient}.`,
    { timeout: 60_000 },
  );

  const inbox = new FilePages(recipientPage);
  await inbox.openInbox();
  for (const file of files) {
    const download = await inbox.download(file.name);
    expect(await downloadedSha256(download), file.name).toBe(sha256(file.buffer));
  }
  await senderPage.context().close();
  await recipientPage.context().close();
});

test('a part-way failure continues the same transfer', async ({
  browser,
}) => {
  const senderPage = await (await browser.newContext()).newPage();
  const recipientPage = await (await browser.newContext()).newPage();
  const recipient = await registerPair(senderPage, recipientPage, 'part');

  // The server rejects every part of the second file, as it would a full disk.
  const partUrl = /\/api\/files\/([0-9a-f]{32})\/parts\/\d+$/;
  const fileIds: string[] = [];
  await senderPage.route(partUrl, (route) => {
    const fileId = partUrl.exec(new URL(route.request().url()).pathname)?.[1] ?? '';
    if (!fileIds.includes(fileId)) {
      fileIds.push(fileId);
    }
    if (route.request().method() === 'PUT' && fileIds.indexOf(fileId) === 1) {
      return route.fulfill({
        status: 400,
        contentType: 'application/json',
        body: JSON.stringify({ code: 'invalid_input', message: 'part rejected in this test' }),
      });
    }
    return route.fallback();
  });
  const files = ['a.bin', 'b.bin', 'c.bin'].map((name) => ({
    name,
    mimeType: 'application/octet-stream',
    buffer: randomBytes(MiB + 7),
  }));
  const send = new SendPage(senderPage);
  await send.open();
  await send.lookUp(recipient);
  await senderPage.getByTestId('file-input').setInputFiles(files);
  await send.submit();
  await expect(send.alert()).toContainText(
    '1 of 3 files were sent. Sending b.bin failed: part rejected in this test',
  );
  await expect(send.alert()).toContainText('the file not sent yet is still chosen');
  await expect(senderPage.getByTestId('selected-file')).toHaveText(/^c\.bin/);
  await senderPage.unroute(partUrl);

  // The file left chosen goes out, and the failed one resumes from the list.
  await send.lookUp(recipient);
  await send.submit();
  await expect(senderPage.getByTestId('send-done')).toHaveText(`Sent c.bin to ${recipient}.`);
  const row = senderPage.getByTestId('interrupted-upload');
  await row.getByRole('button', { name: 'Resume', exact: true }).click();
  await expect(senderPage.getByTestId('send-done')).toContainText('Sent b.bin');

  const inbox = new FilePages(recipientPage);
  await inbox.openInbox();
  await expect(recipientPage.getByTestId('transfer')).toContainText('3 files sent together');
  for (const file of files) {
    expect(await downloadedSha256(await inbox.download(file.name)), file.name).toBe(
      sha256(file.buffer),
    );
  }
});

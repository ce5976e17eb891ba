import { expect, test, type Page } from '@playwright/test';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AccountPages } from '../pages/account';
import { FilePages } from '../pages/files';
import { SendPage } from '../pages/send';
import { binaryWithMarker, downloadedSha256, sha256, uniqueUsername } from '../support/data';

const MiB = 1024 * 1024;
const PART_URL = /\/api\/files\/[0-9a-f]{32}\/parts\/(\d+)$/;

/**
 * Writes `bytes` to a file on disk: a file chosen again from disk keeps its
 * modification time, which the page compares before it resumes.
 */
function fileOnDisk(name: string, bytes: Buffer): string {
  const path = join(mkdtempSync(join(tmpdir(), 'dtc-resume-')), name);
  writeFileSync(path, bytes);
  return path;
}

/** Makes every upload of part `index` fail as a dropped connection would. */
async function dropPart(page: Page, index: number): Promise<void> {
  await page.route(PART_URL, (route) => {
    const match = PART_URL.exec(new URL(route.request().url()).pathname);
    if (route.request().method() === 'PUT' && match !== null && Number(match[1]) === index) {
      return route.abort('connectionreset');
    }
    return route.fallback();
  });
}

/** Collects the indices of the parts the page uploads from now on. */
function uploadedParts(page: Page): number[] {
  const indices: number[] = [];
  page.on('requestfinished', (request) => {
    const match = PART_URL.exec(new URL(request.url()).pathname);
    if (request.method() === 'PUT' && match !== null) {
      indices.push(Number(match[1]));
    }
  });
  return indices;
}

test('an interrupted upload resumes after a reload without sending stored parts again', async ({
  page,
}) => {
  const password = 'resume password 12345';
  const username = uniqueUsername('rita');
  const contents = binaryWithMarker(13 * MiB + 777, 'RESUME-MARKER');
  const name = 'holiday video — été.bin';
  const path = fileOnDisk(name, contents);

  const account = new AccountPages(page);
  await account.register(username, password);
  await account.expectSignedIn(username);

  // Part 2 of 4 never arrives: the page retries it, then reports the failure.
  await dropPart(page, 2);
  const send = new SendPage(page);
  await send.open();
  await send.lookUp(username);
  await page.getByTestId('file-input').setInputFiles(path);
  await send.submit();
  await expect(send.alert()).toContainText('could not be reached', { timeout: 60_000 });
  const row = page.getByTestId('interrupted-upload');
  await expect(row).toHaveCount(1);
  await expect(row).toContainText(name);
  await expect(row).toContainText('3 of 4 parts stored');
  await page.unroute(PART_URL);

  // After a reload the keys are locked; unlocking shows the upload again.
  await page.reload();
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Unlock', exact: true }).click();
  await account.expectSignedIn(username);
  await send.open();
  await expect(row).toContainText('3 of 4 parts stored');

  // A different file with the same name is refused before anything is sent.
  const sent = uploadedParts(page);
  const other = fileOnDisk(name, Buffer.alloc(5 * MiB, 7));
  await row.getByLabel(`Choose ${name} again to resume`).setInputFiles(other);
  await expect(send.alert()).toContainText('is not the file whose upload was interrupted');
  expect(sent).toEqual([]);

  await row.getByLabel(`Choose ${name} again to resume`).setInputFiles(path);
  await expect(page.getByTestId('send-done')).toContainText(`Sent ${name}`, { timeout: 60_000 });
  expect(sent).toEqual([2]);
  await expect(row).toHaveCount(0);

  const inbox = new FilePages(page);
  await inbox.openInbox();
  const download = await inbox.download(name);
  expect(await downloadedSha256(download)).toBe(sha256(contents));
});

test('an interrupted upload resumes in the same visit, and can be discarded', async ({
  page,
}) => {
  const username = uniqueUsername('sven');
  const account = new AccountPages(page);
  await account.register(username, 'sven password 12345');
  await account.expectSignedIn(username);

  const first = { name: 'first.bin', contents: binaryWithMarker(9 * MiB, 'FIRST') };
  await dropPart(page, 1);
  const send = new SendPage(page);
  await send.open();
  await send.lookUp(username);
  await page.getByTestId('file-input').setInputFiles(fileOnDisk(first.name, first.contents));
  await send.submit();
  const row = page.getByTestId('interrupted-upload');
  await expect(row).toContainText('2 of 3 parts stored', { timeout: 60_000 });
  await page.unroute(PART_URL);

  // The page still keeps the file, so Resume needs no new choice.
  const sent = uploadedParts(page);
  await row.getByRole('button', { name: 'Resume', exact: true }).click();
  await expect(page.getByTestId('send-done')).toContainText('Sent first.bin', { timeout: 60_000 });
  expect(sent).toEqual([1]);

  // A second interrupted upload is discarded: it leaves the list and the usage.
  await dropPart(page, 0);
  await page.getByTestId('file-input').setInputFiles({
    name: 'second.bin',
    mimeType: 'application/octet-stream',
    buffer: Buffer.alloc(MiB, 1),
  });
  await send.lookUp(username);
  await send.submit();
  await expect(row).toContainText('0 of 1 parts stored', { timeout: 60_000 });
  await row.getByRole('button', { name: 'Discard' }).click();
  await expect(row).toHaveCount(0);
  await expect(send.usage()).toContainText('used, 1 of');

  const inbox = new FilePages(page);
  await inbox.openInbox();
  expect(await downloadedSha256(await inbox.download(first.name))).toBe(sha256(first.contents));
});

test('a cancelled upload stores nothing', async ({ page }) => {
  const username = uniqueUsername('tove');
  const account = new AccountPages(page);
  await account.register(username, 'tove password 12345');
  await account.expectSignedIn(username);

  // Part uploads wait, so the Cancel button is pressed while parts are on the way.
  await page.route(PART_URL, async (route) => {
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    return route.fallback();
  });
  const send = new SendPage(page);
  await send.open();
  await send.lookUp(username);
  await send.chooseFile({
    name: 'cancelled.bin',
    mimeType: 'application/octet-stream',
    buffer: binaryWithMarker(20 * MiB, 'CANCELLED'),
  });
  await send.submit();
  await page.getByTestId('upload-cancel').click();
  await expect(page.getByTestId('send-done')).toContainText('Cancelled', { timeout: 60_000 });
  await expect(page.getByTestId('interrupted-upload')).toHaveCount(0);
  await expect(send.usage()).toContainText('used, 0 of');
  const inbox = new FilePages(page);
  await inbox.openInbox();
  await expect(inbox.inboxRow('cancelled.bin')).toHaveCount(0);
});

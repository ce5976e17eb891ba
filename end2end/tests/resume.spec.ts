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

/**
 * Makes the uploads of part `index` fail as a dropped connection would: the first
 * `times` of them, or all of them without `times`.
 */
async function dropPart(page: Page, index: number, times = Infinity): Promise<void> {
  let dropped = 0;
  await page.route(PART_URL, (route) => {
    const match = PART_URL.exec(new URL(route.request().url()).pathname);
    const isPart = route.request().method() === 'PUT' && match !== null;
    if (isPart && Number(match[1]) === index && dropped < times) {
      dropped += 1;
      return route.abort('connectionreset');
    }
    return route.fallback();
  });
}

/** Unlocks the keys after a reload and opens the send page. */
async function unlockAndOpenSend(page: Page, username: string, password: string): Promise<void> {
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Unlock', exact: true }).click();
  await new AccountPages(page).expectSignedIn(username);
  await new SendPage(page).open();
}

const WAITING = /The server cannot be reached; trying again in \d+ s/;

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

  // Part 2 of 4 never arrives: the page retries it, then waits for the server.
  await dropPart(page, 2);
  const send = new SendPage(page);
  await send.open();
  await send.lookUp(username);
  await page.getByTestId('file-input').setInputFiles(path);
  await send.submit();
  await expect(page.getByText(WAITING)).toBeVisible({ timeout: 60_000 });
  await page.unroute(PART_URL);

  // After a reload the keys are locked; unlocking shows the upload in the list.
  await page.reload();
  await unlockAndOpenSend(page, username, password);
  const row = page.getByTestId('interrupted-upload');
  await expect(row).toHaveCount(1);
  await expect(row).toContainText(name);
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

test('a send waits for the server and goes on by itself', async ({ page }) => {
  const username = uniqueUsername('sven');
  const account = new AccountPages(page);
  await account.register(username, 'sven password 12345');
  await account.expectSignedIn(username);

  // The page tries part 1 four times, then waits, requests the list of parts the server
  // has, and sends only part 1 again.
  const contents = binaryWithMarker(9 * MiB, 'FIRST');
  await dropPart(page, 1, 4);
  const sent = uploadedParts(page);
  const send = new SendPage(page);
  await send.open();
  await send.lookUp(username);
  await page.getByTestId('file-input').setInputFiles(fileOnDisk('first.bin', contents));
  await send.submit();
  await expect(page.getByText(WAITING)).toBeVisible({ timeout: 60_000 });
  await expect(page.getByTestId('send-done')).toContainText('Sent first.bin', { timeout: 60_000 });
  expect(sent.filter((index) => index === 0)).toEqual([0]);
  expect(sent.filter((index) => index === 2)).toEqual([2]);
  expect(sent.filter((index) => index === 1)).toEqual([1]);
  await expect(page.getByTestId('interrupted-upload')).toHaveCount(0);

  const inbox = new FilePages(page);
  await inbox.openInbox();
  expect(await downloadedSha256(await inbox.download('first.bin'))).toBe(sha256(contents));
});

test('an unfinished upload can be discarded', async ({ page }) => {
  const username = uniqueUsername('ulla');
  const password = 'ulla password 12345';
  const account = new AccountPages(page);
  await account.register(username, password);
  await account.expectSignedIn(username);

  await dropPart(page, 0);
  const send = new SendPage(page);
  await send.open();
  await send.lookUp(username);
  await send.chooseFile({
    name: 'second.bin',
    mimeType: 'application/octet-stream',
    buffer: Buffer.alloc(MiB, 1),
  });
  await send.submit();
  await expect(page.getByText(WAITING)).toBeVisible({ timeout: 60_000 });
  await page.unroute(PART_URL);
  await page.reload();
  await unlockAndOpenSend(page, username, password);

  const row = page.getByTestId('interrupted-upload');
  await expect(row).toContainText('0 of 1 parts stored');
  await expect(send.usage()).toContainText('used, 1 of');
  await row.getByRole('button', { name: 'Discard' }).click();
  await expect(row).toHaveCount(0);
  await expect(send.usage()).toContainText('used, 0 of');
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
  // The delayed parts leave time to measure a speed before the cancel.
  await expect(page.getByTestId('upload-rate')).toContainText(/\/s, about .* left/, {
    timeout: 30_000,
  });
  await page.getByTestId('upload-cancel').click();
  await expect(page.getByTestId('send-done')).toContainText('Cancelled', { timeout: 60_000 });
  await expect(page.getByTestId('interrupted-upload')).toHaveCount(0);
  await expect(send.usage()).toContainText('used, 0 of');
  const inbox = new FilePages(page);
  await inbox.openInbox();
  await expect(inbox.inboxRow('cancelled.bin')).toHaveCount(0);
});

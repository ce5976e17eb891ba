import { expect, test } from '@playwright/test';
import { AccountPages } from '../pages/account';
import { FilePages } from '../pages/files';
import { SendPage } from '../pages/send';
import { uniqueUsername } from '../support/data';
import { RequestRecorder } from '../support/recorder';

const MiB = 1024 * 1024;

test('an unknown recipient is refused before anything is uploaded', async ({ page, context }) => {
  const recorder = new RequestRecorder(context);
  const account = new AccountPages(page);
  const username = uniqueUsername('leo');
  await account.register(username, 'leo password 123');
  await account.expectSignedIn(username);

  const send = new SendPage(page);
  await send.open();
  await page.getByLabel('Recipient').fill('no-such-account');
  await page.getByRole('button', { name: 'Look up' }).click();
  await expect(send.alert()).toContainText('no-such-account');
  await send.chooseFile({ name: 'a.txt', mimeType: 'text/plain', buffer: Buffer.from('x') });
  await send.submit();
  await expect(send.alert()).toBeVisible();
  await expect(page.getByTestId('send-done')).toHaveCount(0);

  expect(await recorder.matching(/create_upload|\/parts\//)).toEqual([]);
});

test('a file over the server maximum is refused before encryption', async ({ browser }) => {
  const recipient = uniqueUsername('mia');
  const setup = await browser.newPage();
  await new AccountPages(setup).register(recipient, 'mia password 123');
  await new AccountPages(setup).expectSignedIn(recipient);
  await setup.context().close();

  const context = await browser.newContext();
  const recorder = new RequestRecorder(context);
  const page = await context.newPage();
  const username = uniqueUsername('ned');
  await new AccountPages(page).register(username, 'ned password 123');
  await new AccountPages(page).expectSignedIn(username);

  const send = new SendPage(page);
  await send.open();
  await send.lookUp(recipient);
  // The test server runs with a 24 MiB maximum (playwright.config.ts).
  await send.chooseFile({
    name: 'too big.bin',
    mimeType: 'application/octet-stream',
    buffer: Buffer.alloc(24 * MiB + 1),
  });
  await send.submit();
  await expect(send.alert()).toContainText('too large');
  expect(await recorder.matching(/create_upload|\/parts\//)).toEqual([]);
  await context.close();
});

test('ciphertext changed on the server fails the download and saves nothing', async ({ browser }) => {
  const sender = uniqueUsername('olga');
  const recipient = uniqueUsername('pete');
  const file = { name: 'tampered.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(100_000, 7) };

  const senderPage = await browser.newPage();
  const recipientPage = await browser.newPage();
  await new AccountPages(recipientPage).register(recipient, 'pete password 123');
  await new AccountPages(recipientPage).expectSignedIn(recipient);
  await new AccountPages(senderPage).register(sender, 'olga password 123');
  await new AccountPages(senderPage).expectSignedIn(sender);
  await new SendPage(senderPage).send(recipient, file);

  // The stored part is served with one byte flipped, as a server that changed
  // the ciphertext would serve it.
  await recipientPage.route(/\/api\/files\/[0-9a-f]+\/parts\/\d+$/, async (route) => {
    const response = await route.fetch();
    const body = Buffer.from(await response.body());
    body[body.length - 100] ^= 0x01;
    await route.fulfill({ response, body });
  });
  let saved = false;
  recipientPage.on('download', () => {
    saved = true;
  });

  const inbox = new FilePages(recipientPage);
  await inbox.openInbox();
  const row = inbox.inboxRow(file.name);
  await expect(row).toBeVisible();
  await row.getByRole('button', { name: 'Download' }).click();
  await expect(inbox.alert()).toContainText('Integrity check failed');
  await recipientPage.waitForTimeout(1000);
  expect(saved).toBe(false);

  await senderPage.context().close();
  await recipientPage.context().close();
});

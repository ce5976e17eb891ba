import { expect, test } from '@playwright/test';
import { AccountPages } from '../pages/account';
import { FilePages } from '../pages/files';
import { SendPage } from '../pages/send';
import { binaryWithMarker, downloadedSha256, sha256, uniqueUsername } from '../support/data';
import { findLeaks, RequestRecorder } from '../support/recorder';

const MiB = 1024 * 1024;

test('transfer arrives intact and never in clear', async ({ browser }) => {
  const marker = 'PLAINTEXT-MARKER-7f3a91c2-never-on-the-wire';
  const senderPassword = 'correct horse battery staple 1';
  const recipientPassword = 'tr0ub4dor & 3 recipient secret';
  const sender = uniqueUsername('alice');
  const recipient = uniqueUsername('bob');

  const bigFile = {
    name: `video capture ${marker.slice(0, 9)} 2026.bin`,
    mimeType: 'application/octet-stream',
    buffer: binaryWithMarker(20 * MiB + 12345, marker),
  };
  const textFile = {
    name: 'Ünïcödé notes — résumé ✓.txt',
    mimeType: 'text/plain',
    buffer: Buffer.from(`${marker}\nA small text file with ünïcödé contents.\n`, 'utf8'),
  };

  const senderContext = await browser.newContext();
  const recipientContext = await browser.newContext();
  const senderRequests = new RequestRecorder(senderContext);
  const recipientRequests = new RequestRecorder(recipientContext);
  const senderPage = await senderContext.newPage();
  const recipientPage = await recipientContext.newPage();

  const recipientAccount = new AccountPages(recipientPage);
  await recipientAccount.register(recipient, recipientPassword);
  await recipientAccount.expectSignedIn(recipient);
  const recipientFingerprint = await recipientAccount.ownFingerprint();

  const senderAccount = new AccountPages(senderPage);
  await senderAccount.register(sender, senderPassword);
  await senderAccount.expectSignedIn(sender);

  const send = new SendPage(senderPage);
  await send.open();
  expect(await send.lookUp(recipient)).toBe(recipientFingerprint);
  await send.send(recipient, bigFile);
  await send.send(recipient, textFile);

  const inbox = new FilePages(recipientPage);
  await inbox.openInbox();
  for (const file of [bigFile, textFile]) {
    const row = inbox.inboxRow(file.name);
    await expect(row).toBeVisible();
    await expect(row).toContainText(sender);
    const download = await inbox.download(file.name);
    expect(download.suggestedFilename()).toBe(file.name);
    expect(await downloadedSha256(download)).toBe(sha256(file.buffer));
  }

  const leaks = findLeaks(
    [...(await senderRequests.requests()), ...(await recipientRequests.requests())],
    {
      'plaintext marker': marker,
      'binary file name': bigFile.name,
      'text file name': textFile.name,
      'sender password': senderPassword,
      'recipient password': recipientPassword,
    },
  );
  expect(leaks).toEqual([]);
  // The recorder saw the uploads themselves, so an empty leak list means something.
  expect((await senderRequests.matching(/\/parts\/\d+$/)).length).toBeGreaterThanOrEqual(6);

  await senderContext.close();
  await recipientContext.close();
});

test('an account works from a second browser profile', async ({ browser }) => {
  const password = 'second profile password';
  const username = uniqueUsername('carol');
  const friend = uniqueUsername('dave');
  const file = { name: 'from the first profile.txt', mimeType: 'text/plain', buffer: Buffer.from('hello') };

  const first = await browser.newContext();
  const firstPage = await first.newPage();
  const firstAccount = new AccountPages(firstPage);
  await firstAccount.register(username, password);
  await firstAccount.expectSignedIn(username);
  const fingerprint = await firstAccount.ownFingerprint();

  const friendContext = await browser.newContext();
  const friendPage = await friendContext.newPage();
  const friendAccount = new AccountPages(friendPage);
  await friendAccount.register(friend, 'friend password 123');
  await friendAccount.expectSignedIn(friend);
  await new SendPage(friendPage).send(username, file);

  await firstAccount.logout();
  await expect(firstPage.getByTestId('current-user')).toHaveCount(0);

  const second = await browser.newContext();
  const secondPage = await second.newPage();
  const secondAccount = new AccountPages(secondPage);
  await secondAccount.login(username, password);
  await secondAccount.expectSignedIn(username);
  expect(await secondAccount.ownFingerprint()).toBe(fingerprint);

  const inbox = new FilePages(secondPage);
  await inbox.openInbox();
  const download = await inbox.download(file.name);
  expect(await downloadedSha256(download)).toBe(sha256(file.buffer));

  await Promise.all([first.close(), second.close(), friendContext.close()]);
});

test('the sender lists and deletes a sent file and the recipient loses it', async ({ browser }) => {
  const sender = uniqueUsername('erin');
  const recipient = uniqueUsername('frank');
  const file = { name: 'to be deleted.txt', mimeType: 'text/plain', buffer: Buffer.from('short-lived') };

  const senderContext = await browser.newContext();
  const senderPage = await senderContext.newPage();
  const recipientContext = await browser.newContext();
  const recipientPage = await recipientContext.newPage();

  await new AccountPages(recipientPage).register(recipient, 'frank password 42');
  await new AccountPages(recipientPage).expectSignedIn(recipient);
  await new AccountPages(senderPage).register(sender, 'erin password 42');
  await new AccountPages(senderPage).expectSignedIn(sender);
  await new SendPage(senderPage).send(recipient, file);

  const sent = new FilePages(senderPage);
  await sent.openSent();
  await expect(sent.sentRow(file.name)).toContainText(recipient);
  await sent.deleteSent(file.name);
  await senderPage.reload();
  await new AccountPages(senderPage).login(sender, 'erin password 42');
  await sent.openSent();
  await expect(senderPage.getByTestId('sent-row')).toHaveCount(0);

  const inbox = new FilePages(recipientPage);
  await inbox.openInbox();
  await expect(recipientPage.getByTestId('inbox-row')).toHaveCount(0);

  await Promise.all([senderContext.close(), recipientContext.close()]);
});

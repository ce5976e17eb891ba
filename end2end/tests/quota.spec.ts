import { expect, test } from '@playwright/test';
import { AccountPages } from '../pages/account';
import { FilePages } from '../pages/files';
import { SendPage } from '../pages/send';
import { binaryWithMarker, uniqueUsername } from '../support/data';
import { RequestRecorder } from '../support/recorder';

const MiB = 1024 * 1024;

test('the send page shows usage and refuses a file past the quota', async ({ browser }) => {
  const recipient = uniqueUsername('oda');
  const setup = await browser.newPage();
  await new AccountPages(setup).register(recipient, 'oda password 123');
  await new AccountPages(setup).expectSignedIn(recipient);
  await setup.context().close();

  const context = await browser.newContext();
  const recorder = new RequestRecorder(context);
  const page = await context.newPage();
  const username = uniqueUsername('pia');
  const account = new AccountPages(page);
  await account.register(username, 'pia password 123');
  await account.expectSignedIn(username);

  const send = new SendPage(page);
  await send.open();
  const usage = send.usage();
  await expect(usage).toHaveText(/^Storage: 0 B of \d+\.\d [KMGTP]iB used, 0 of [\d ]+ files$/);

  const first = { name: 'first.bin', mimeType: 'application/octet-stream', buffer: binaryWithMarker(20 * MiB, 'QUOTA-1') };
  await send.send(recipient, first);
  await expect(usage).toHaveText(/^Storage: 20\.0 MiB of \d+\.\d [KMGTP]iB used, 1 of [\d ]+ files$/);

  const files = new FilePages(page);
  await files.openSent();
  await expect(files.sentRow(first.name).getByTestId('file-expiry')).toHaveText(
    /^Expires on \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC([+-]\d{1,2}(:\d{2})?)?$/,
  );

  // The playwright.config.ts server runs with a 40 MiB quota; a server started
  // elsewhere (E2E_BASE_URL) may have another one.
  await send.open();
  const line = (await usage.textContent()) ?? '';
  test.skip(!line.includes(' of 40.0 MiB used'), `the server under test has another quota: ${line}`);
  await send.lookUp(recipient);
  await send.chooseFile({ name: 'second.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(21 * MiB, 3) });
  await expect(send.alert()).toContainText(
    'his upload of 21.0 MiB would bring your storage to 41.0 MiB of 40.0 MiB; ' +
      'delete files you no longer need, or ask the operator for a larger quota',
  );
  await send.submit();
  await expect(page.getByTestId('send-done')).toHaveCount(0);
  expect(await recorder.matching(/create_upload/)).toHaveLength(1);

  await files.openSent();
  await files.deleteSent(first.name);
  await send.open();
  await expect(usage).toHaveText(/^Storage: 0 B of 40\.0 MiB used, 0 of [\d ]+ files$/);
});

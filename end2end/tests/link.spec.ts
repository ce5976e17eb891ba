import {
  expect,
  test,
  type Browser,
  type BrowserContext,
  type BrowserContextOptions,
  type Page,
} from '@playwright/test';
import { hkdfSync } from 'node:crypto';
import jsQR from 'jsqr';
import { AccountPages } from '../pages/account';
import { FilePages } from '../pages/files';
import { LinkPage } from '../pages/link';
import { SendPage } from '../pages/send';
import { binaryWithMarker, downloadedSha256, sha256, uniqueUsername } from '../support/data';
import { findLeaks, RequestRecorder } from '../support/recorder';

const MiB = 1024 * 1024;
const marker = 'LINK-PLAINTEXT-MARKER-41c9e07d-never-on-the-wire';

/** Every browser context of one test, each with a request recorder. */
class Contexts {
  private readonly contexts: BrowserContext[] = [];
  private readonly recorders: RequestRecorder[] = [];

  constructor(private readonly browser: Browser) {}

  /** Opens a fresh context, with no cookies and no account, and a page in it. */
  async fresh(options: BrowserContextOptions = {}): Promise<Page> {
    const context = await this.browser.newContext(options);
    this.contexts.push(context);
    this.recorders.push(new RequestRecorder(context));
    return context.newPage();
  }

  /** Returns every place where a secret appeared in a request of any context. */
  async leaks(secrets: Record<string, string>): Promise<string[]> {
    const requests = (await Promise.all(this.recorders.map((r) => r.requests()))).flat();
    return findLeaks(requests, secrets);
  }

  /** Returns the JSON bodies sent to the server function `endpoint` in any context. */
  async bodiesSentTo(endpoint: string): Promise<unknown[]> {
    const pattern = new RegExp(`^/api/${endpoint}$`);
    const found = (await Promise.all(this.recorders.map((recorder) => recorder.matching(pattern)))).flat();
    return found.map((request) => JSON.parse(request.body.toString('utf8')) as unknown);
  }

  /** Returns the count of share-link part downloads across all contexts. */
  async linkPartRequests(): Promise<number> {
    const found = await Promise.all(this.recorders.map((r) => r.matching(/^\/api\/links\/.+\/parts\/\d+$/)));
    return found.flat().length;
  }

  async close(): Promise<void> {
    await Promise.all(this.contexts.map((context) => context.close()));
  }
}

/** Registers a new account in a fresh context and returns its page. */
async function signedInSender(contexts: Contexts, prefix: string, password: string): Promise<Page> {
  const page = await contexts.fresh();
  const username = uniqueUsername(prefix);
  const account = new AccountPages(page);
  await account.register(username, password);
  await account.expectSignedIn(username);
  return page;
}

function fragmentOf(url: string): string {
  return new URL(url).hash.slice(1);
}

/** Returns the first string value named `field` anywhere inside a parsed JSON body. */
function fieldOf(body: unknown, field: string): string | undefined {
  if (Array.isArray(body)) {
    return body.map((item) => fieldOf(item, field)).find((value) => value !== undefined);
  }
  if (body && typeof body === 'object') {
    const value = (body as Record<string, unknown>)[field];
    if (typeof value === 'string') {
      return value;
    }
    return Object.values(body).map((item) => fieldOf(item, field)).find((found) => found !== undefined);
  }
  return undefined;
}

/** Computes the gate key of a link from its URL, as crypto/src/link.rs defines it. */
function gateKeyOf(url: string): Buffer {
  const secret = Buffer.from(fragmentOf(url), 'base64url');
  const linkId = Buffer.from(new URL(url).pathname.split('/').pop() ?? '', 'hex');
  const info = Buffer.concat([Buffer.from('data-transfer-cloud/v1/link-gate', 'utf8'), Buffer.from([0]), linkId]);
  return Buffer.from(hkdfSync('sha256', Buffer.alloc(0), secret, info, 32));
}

/**
 * Checks that every `create_link` and `unlock_link` request of the link at `url`
 * carried its gate key and a 32-byte access key, which the server may see, and that
 * neither key is the link secret. The leak check covers the fragment itself.
 */
async function expectLinkKeysSent(contexts: Contexts, url: string, endpoints: string[]): Promise<void> {
  const linkId = new URL(url).pathname.split('/').pop();
  const secret = Buffer.from(fragmentOf(url), 'base64url');
  const gate = gateKeyOf(url);
  for (const endpoint of endpoints) {
    const bodies = (await contexts.bodiesSentTo(endpoint)).filter((body) => fieldOf(body, 'link_id') === linkId);
    expect(bodies.length, `${endpoint} requests of link ${linkId}`).toBeGreaterThanOrEqual(1);
    for (const body of bodies) {
      const sentGate = Buffer.from(fieldOf(body, 'gate_key') ?? '', 'base64url');
      const sentAccess = Buffer.from(fieldOf(body, 'access_key') ?? '', 'base64url');
      expect(sentGate.toString('hex'), `gate key sent to ${endpoint}`).toBe(gate.toString('hex'));
      expect(sentAccess.length, `access key length sent to ${endpoint}`).toBe(32);
      expect(sentAccess.equals(gate), `access key equal to the gate key in ${endpoint}`).toBe(false);
      expect(sentAccess.equals(secret), `access key equal to the link secret in ${endpoint}`).toBe(false);
      expect(sentGate.equals(secret), `gate key equal to the link secret in ${endpoint}`).toBe(false);
    }
  }
}

/** Returns `url` with its link id in capital letters, as someone might type it. */
function withCapitalId(url: string): string {
  const parsed = new URL(url);
  parsed.pathname = parsed.pathname.toUpperCase().replace('/S/', '/s/');
  return parsed.toString();
}

test('a link downloads once without an account, then is dead', async ({ browser }) => {
  const contexts = new Contexts(browser);
  const senderPassword = 'link sender password 1';
  const sender = await signedInSender(contexts, 'gina', senderPassword);
  const file = {
    name: `link capture ${marker.slice(0, 8)} 2026.bin`,
    mimeType: 'application/octet-stream',
    buffer: binaryWithMarker(5 * MiB + 4321, marker),
  };
  const url = await new SendPage(sender).sendWithLink(file, { downloadLimit: 1 });

  const first = new LinkPage(await contexts.fresh());
  await first.open(url);
  await expect(first.fileName()).toHaveText(file.name);
  await expect(first.downloadsLeft()).toHaveText('1');
  const download = await first.download();
  expect(download.suggestedFilename()).toBe(file.name);
  expect(await downloadedSha256(download)).toBe(sha256(file.buffer));
  await expect(first.downloadsLeft()).toHaveText('0');
  await expect(first.downloadButton()).toBeDisabled();

  const second = new LinkPage(await contexts.fresh());
  await second.open(url);
  await expect(second.deadMessage()).toContainText('This link does not work');
  await expect(second.deadMessage()).toHaveText(/\.$/);
  await expect(second.fileName()).toHaveCount(0);

  const leaks = await contexts.leaks({
    'link fragment': fragmentOf(url),
    'plaintext marker': marker,
    'file name': file.name,
    'sender password': senderPassword,
  });
  expect(leaks).toEqual([]);
  await expectLinkKeysSent(contexts, url, ['create_link', 'unlock_link']);
  // Two parts were fetched, so an empty leak list covers the downloads too.
  expect(await contexts.linkPartRequests()).toBeGreaterThanOrEqual(2);
  await contexts.close();
});

/**
 * Decodes the QR code shown by `qr`. The element's screenshot is drawn on a canvas in
 * a blank page of the same context, and jsQR reads the pixels.
 */
async function decodeQr(page: Page, qr: ReturnType<Page['getByRole']>): Promise<string | undefined> {
  const png = (await qr.screenshot()).toString('base64');
  const scratch = await page.context().newPage();
  const image = await scratch.evaluate(async (data) => {
    const img = new Image();
    img.src = `data:image/png;base64,${data}`;
    await img.decode();
    const canvas = document.createElement('canvas');
    canvas.width = img.width;
    canvas.height = img.height;
    const drawing = canvas.getContext('2d');
    if (!drawing) {
      throw new Error('no 2d canvas context in the scratch page');
    }
    drawing.drawImage(img, 0, 0);
    const pixels = drawing.getImageData(0, 0, img.width, img.height);
    return { width: pixels.width, height: pixels.height, data: Array.from(pixels.data) };
  }, png);
  await scratch.close();
  const decoded = jsQR(Uint8ClampedArray.from(image.data), image.width, image.height);
  return decoded?.data;
}

test('the link card copies the link and its QR code reads as the link', async ({ browser }) => {
  const contexts = new Contexts(browser);
  const sender = await contexts.fresh({ permissions: ['clipboard-read', 'clipboard-write'] });
  const username = uniqueUsername('ines');
  await new AccountPages(sender).register(username, 'link sender password 12');
  await new AccountPages(sender).expectSignedIn(username);
  const file = { name: 'qr.txt', mimeType: 'text/plain', buffer: Buffer.from(marker) };
  const url = await new SendPage(sender).sendWithLink(file, { downloadLimit: 1 });

  const card = sender.getByTestId('link-card');
  await card.getByRole('button', { name: 'Copy link' }).click();
  await expect(card.getByRole('button', { name: 'Copied' })).toBeVisible();
  expect(await sender.evaluate(() => navigator.clipboard.readText())).toBe(url);

  const qr = card.getByRole('img', { name: 'QR code of the share link' });
  await expect(qr).toBeVisible();
  expect(await decodeQr(sender, qr)).toBe(url);
  await contexts.close();
});

test('a password link rejects a wrong password', async ({ browser }) => {
  const contexts = new Contexts(browser);
  const sender = await signedInSender(contexts, 'hugo', 'link sender password 2');
  const linkPassword = 'blue walrus 4711';
  const wrongPassword = 'red walrus 4711';
  const file = {
    name: 'password protected ✓.txt',
    mimeType: 'text/plain',
    buffer: Buffer.from(`${marker}\nbehind a password\n`, 'utf8'),
  };
  const url = await new SendPage(sender).sendWithLink(file, {
    downloadLimit: 3,
    password: linkPassword,
  });
  await expect(sender.getByTestId('link-card')).toContainText('Pass the password on separately');

  const recipient = new LinkPage(await contexts.fresh());
  await recipient.open(url);
  await recipient.unlock(wrongPassword);
  await expect(recipient.alert()).toContainText('Wrong password');
  await expect(recipient.alert()).toHaveText(/\.$/);
  await expect(recipient.fileName()).toHaveCount(0);
  await recipient.unlock(linkPassword);
  await expect(recipient.fileName()).toHaveText(file.name);
  const download = await recipient.download();
  expect(await downloadedSha256(download)).toBe(sha256(file.buffer));

  const leaks = await contexts.leaks({
    'link fragment': fragmentOf(url),
    'link password': linkPassword,
    'wrong link password': wrongPassword,
    'plaintext marker': marker,
    'file name': file.name,
  });
  expect(leaks).toEqual([]);
  await expectLinkKeysSent(contexts, url, ['create_link', 'unlock_link']);
  await contexts.close();
});

test('repeated wrong passwords make the page count down', async ({ browser }) => {
  const contexts = new Contexts(browser);
  const sender = await signedInSender(contexts, 'kira', 'link sender password 5');
  const linkPassword = 'green heron 0815';
  const file = { name: 'throttled.txt', mimeType: 'text/plain', buffer: Buffer.from(marker) };
  const url = await new SendPage(sender).sendWithLink(file, { downloadLimit: 1, password: linkPassword });

  const recipient = new LinkPage(await contexts.fresh());
  await recipient.open(url);
  // Failures 1 to 4 have no delay. From the 5th on, the server makes the next attempt
  // wait, so one of the next few tries comes back with 429.
  let attempts = 0;
  while (attempts < 12 && !(await recipient.retryCountdown().isVisible())) {
    attempts += 1;
    await recipient.unlock(`wrong guess ${attempts}`);
    await expect(recipient.unlockButton()).toHaveText('Open link');
    await expect(recipient.alert().first()).toBeVisible();
  }
  await expect(recipient.retryCountdown()).toContainText(/Try again in \d+ seconds/);
  expect(attempts).toBeGreaterThanOrEqual(5);
  await expect(recipient.unlockButton()).toBeDisabled();

  await expect(recipient.retryCountdown()).toHaveCount(0, { timeout: 70_000 });
  await recipient.unlock(linkPassword);
  await expect(recipient.fileName()).toHaveText(file.name);

  const leaks = await contexts.leaks({
    'link fragment': fragmentOf(url),
    'link password': linkPassword,
    'plaintext marker': marker,
  });
  expect(leaks).toEqual([]);
  await contexts.close();
});

test('a link made from the sent list opens with its password', async ({ browser }) => {
  const contexts = new Contexts(browser);
  const page = await contexts.fresh();
  const username = uniqueUsername('lena');
  const account = new AccountPages(page);
  await account.register(username, 'link sender password 6');
  await account.expectSignedIn(username);
  const file = { name: 'shared later.bin', mimeType: 'application/octet-stream', buffer: binaryWithMarker(3000, marker) };
  await new SendPage(page).send(username, file);

  const sent = new FilePages(page);
  await sent.openSent();
  const linkPassword = 'orange lynx 2024';
  const url = await sent.createLink(file.name, { downloadLimit: 2, password: linkPassword });
  await expect(sent.linkRows(file.name)).toHaveCount(1);
  // The new link's box sits inside its own row, not after the list.
  await expect(sent.linkRows(file.name).getByTestId('link-url')).toHaveValue(url);
  await expect(sent.linkRows(file.name).getByTestId('link-downloads')).toHaveText('0 of 2 downloads used');

  const recipient = new LinkPage(await contexts.fresh());
  await recipient.open(url);
  await recipient.unlock(linkPassword);
  await expect(recipient.fileName()).toHaveText(file.name);
  await expect(recipient.downloadsLeft()).toHaveText('2');
  const download = await recipient.download();
  expect(await downloadedSha256(download)).toBe(sha256(file.buffer));
  await expect(recipient.downloadsLeft()).toHaveText('1');
  await expect(recipient.downloadButton()).toHaveText('Download again (uses 1 of 1 left)');
  await expect(recipient.downloadButton()).toBeEnabled();

  const leaks = await contexts.leaks({
    'link fragment': fragmentOf(url),
    'link password': linkPassword,
    'plaintext marker': marker,
    'file name': file.name,
  });
  expect(leaks).toEqual([]);
  await contexts.close();
});

test('a revoked link stops working at once', async ({ browser }) => {
  const contexts = new Contexts(browser);
  const sender = await signedInSender(contexts, 'iris', 'link sender password 3');
  const file = { name: 'to be revoked.txt', mimeType: 'text/plain', buffer: Buffer.from(marker) };
  const url = await new SendPage(sender).sendWithLink(file, { downloadLimit: 5 });

  const sent = new FilePages(sender);
  await sent.openSent();
  await expect(sent.linkRows(file.name)).toHaveCount(1);
  expect(await sent.showLink(file.name)).toBe(url);

  const before = new LinkPage(await contexts.fresh());
  await before.open(withCapitalId(url));
  await expect(before.fileName()).toHaveText(file.name);

  // Revoking takes a second step, and keeping the link leaves it active.
  const row = sent.linkRows(file.name).first();
  await row.getByRole('button', { name: 'Revoke', exact: true }).click();
  await row.getByRole('button', { name: 'Keep link' }).click();
  await expect(row.getByTestId('link-state')).toHaveText('active');
  await expect(row.getByRole('button', { name: 'Revoke', exact: true })).toBeVisible();

  await sent.revokeLink(file.name);
  await expect(sent.linkRows(file.name).getByTestId('link-card')).toHaveCount(0);
  await expect(sent.linkRows(file.name).getByRole('button', { name: 'Show link' })).toHaveCount(0);
  const after = new LinkPage(await contexts.fresh());
  await after.open(url);
  await expect(after.deadMessage()).toContainText('This link does not work');

  const damaged = new LinkPage(await contexts.fresh());
  await damaged.open(url.slice(0, url.indexOf('#') + 10));
  await expect(damaged.deadMessage()).toContainText('Copy the whole link');

  const leaks = await contexts.leaks({
    'link fragment': fragmentOf(url),
    'plaintext marker': marker,
    'file name': file.name,
  });
  expect(leaks).toEqual([]);
  await contexts.close();
});

test("the owner's list counts downloads and shows used up", async ({ browser }) => {
  const contexts = new Contexts(browser);
  const sender = await signedInSender(contexts, 'jules', 'link sender password 4');
  const file = { name: 'counted twice.bin', mimeType: 'application/octet-stream', buffer: binaryWithMarker(70_000, marker) };
  const url = await new SendPage(sender).sendWithLink(file, { downloadLimit: 2 });

  const sent = new FilePages(sender);
  const link = () => sent.linkRows(file.name).first();
  await sent.openSent();
  await expect(link().getByTestId('link-downloads')).toHaveText('0 of 2 downloads used');
  await expect(link().getByTestId('link-state')).toHaveText('active');

  for (const expected of ['1 of 2 downloads used', '2 of 2 downloads used']) {
    const recipient = new LinkPage(await contexts.fresh());
    await recipient.open(url);
    const download = await recipient.download();
    expect(await downloadedSha256(download)).toBe(sha256(file.buffer));
    await sent.refresh();
    await expect(link().getByTestId('link-downloads')).toHaveText(expected);
  }
  await expect(link().getByTestId('link-state')).toHaveText('used up');
  await expect(link().getByRole('button', { name: 'Revoke' })).toHaveCount(0);

  const leaks = await contexts.leaks({
    'link fragment': fragmentOf(url),
    'plaintext marker': marker,
    'file name': file.name,
  });
  expect(leaks).toEqual([]);
  await contexts.close();
});

test('a held last download is explained to the next visitor', async ({ browser }) => {
  const contexts = new Contexts(browser);
  const sender = await signedInSender(contexts, 'mona', 'link sender password 7');
  const file = { name: 'held once.bin', mimeType: 'application/octet-stream', buffer: binaryWithMarker(40_000, marker) };
  const url = await new SendPage(sender).sendWithLink(file, { downloadLimit: 1 });

  // The first visitor receives the whole file but never confirms it, as when the tab
  // closes at once, so the server keeps the download in progress.
  const firstPage = await contexts.fresh();
  await firstPage.route('**/api/confirm_download', (route) => route.abort());
  const first = new LinkPage(firstPage);
  await first.open(url);
  const saved = firstPage.waitForEvent('download');
  await first.downloadButton().click();
  expect(await downloadedSha256(await saved)).toBe(sha256(file.buffer));
  await expect(first.alert()).toContainText('was saved, but reporting the finished download failed');

  const next = new LinkPage(await contexts.fresh());
  await next.open(url);
  await expect(next.fileName()).toHaveText(file.name);
  await expect(next.downloadsLeft()).toHaveText('0');
  await expect(next.downloadButton()).toBeDisabled();
  await expect(next.reservedNotice()).toContainText('in progress or was interrupted');

  const sent = new FilePages(sender);
  await sent.openSent();
  await expect(sent.linkRows(file.name).getByTestId('link-in-progress')).toContainText('1 in progress or interrupted');
  await contexts.close();
});

test('the losing tab of a last-download race shows the dead link', async ({ browser }) => {
  const contexts = new Contexts(browser);
  const sender = await signedInSender(contexts, 'nils', 'link sender password 8');
  const file = { name: 'raced for.bin', mimeType: 'application/octet-stream', buffer: binaryWithMarker(30_000, marker) };
  const url = await new SendPage(sender).sendWithLink(file, { downloadLimit: 1 });

  const winner = new LinkPage(await contexts.fresh());
  const loser = new LinkPage(await contexts.fresh());
  await winner.open(url);
  await loser.open(url);
  await expect(winner.downloadsLeft()).toHaveText('1');
  await expect(loser.downloadsLeft()).toHaveText('1');

  await winner.download();
  await loser.downloadButton().click();
  await expect(loser.deadMessage()).toContainText('This link does not work');
  await expect(loser.downloadButton()).toHaveCount(0);
  await expect(loser.downloadsLeft()).toHaveCount(0);
  await contexts.close();
});

test('the link page shows the expiry with its time zone', async ({ browser }) => {
  const contexts = new Contexts(browser);
  const sender = await signedInSender(contexts, 'olga', 'link sender password 9');
  const file = { name: 'zoned.txt', mimeType: 'text/plain', buffer: Buffer.from(marker) };
  const url = await new SendPage(sender).sendWithLink(file, { downloadLimit: 1 });

  // India has no daylight saving time, so the offset is the same on every date.
  const recipient = new LinkPage(await contexts.fresh({ timezoneId: 'Asia/Kolkata' }));
  await recipient.open(url);
  await expect(recipient.expires()).toHaveText(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC\+5:30$/);
  await contexts.close();
});

test('a link-only file reads as link only in the sent list', async ({ browser }) => {
  const contexts = new Contexts(browser);
  const sender = await signedInSender(contexts, 'pia', 'link sender password 10');
  const file = { name: 'only by link.txt', mimeType: 'text/plain', buffer: Buffer.from(marker) };
  await new SendPage(sender).sendWithLink(file, { downloadLimit: 1 });

  const sent = new FilePages(sender);
  await sent.openSent();
  await expect(sent.linkRows(file.name)).toHaveCount(1);
  await expect(sent.sentRow(file.name).getByTestId('file-recipient')).toHaveText('link only');
  await contexts.close();
});

test('the send form is empty after a send and on the next visit', async ({ browser }) => {
  const contexts = new Contexts(browser);
  const recipientName = uniqueUsername('quin');
  const recipientPage = await contexts.fresh();
  await new AccountPages(recipientPage).register(recipientName, 'link recipient password 1');
  await new AccountPages(recipientPage).expectSignedIn(recipientName);
  const sender = await signedInSender(contexts, 'rosa', 'link sender password 11');
  const file = { name: 'form reset.txt', mimeType: 'text/plain', buffer: Buffer.from(marker) };

  const send = new SendPage(sender);
  const url = await send.sendWithLink(file, { downloadLimit: 4, password: 'purple finch 1234' }, recipientName);
  await expect(sender.getByTestId('link-url')).toHaveValue(url);
  await expect(sender.getByLabel('Recipient')).toHaveValue('');
  await expect(sender.getByTestId('recipient-fingerprint')).toHaveCount(0);
  await expect(sender.getByTestId('selected-file')).toHaveCount(0);
  await expect(sender.getByLabel('Also make a share link')).not.toBeChecked();
  await sender.getByLabel('Also make a share link').check();
  await expect(sender.getByLabel('Download limit')).toHaveValue('1');
  await expect(sender.getByLabel('Link password (optional)')).toHaveValue('');
  await expect(sender.getByLabel('Confirm link password')).toHaveValue('');

  // A failed send empties the password fields too.
  await sender.getByLabel('Link password (optional)').fill('mismatch one 1');
  await sender.getByLabel('Confirm link password').fill('mismatch two 2');
  await send.chooseFile(file);
  await send.submit();
  await expect(send.alert()).toContainText('do not match');
  await expect(sender.getByLabel('Link password (optional)')).toHaveValue('');
  await expect(sender.getByLabel('Confirm link password')).toHaveValue('');

  await sender.getByLabel('Recipient').fill(recipientName);
  await new FilePages(sender).openSent();
  await send.open();
  await expect(sender.getByLabel('Recipient')).toHaveValue('');
  await expect(sender.getByLabel('Also make a share link')).not.toBeChecked();
  await expect(sender.getByTestId('selected-file')).toHaveCount(0);
  await contexts.close();
});

import { expect, test } from '@playwright/test';
import { AccountPages } from '../pages/account';
import { uniqueUsername } from '../support/data';

test('registration shows the username and the key fingerprint', async ({ page }) => {
  const account = new AccountPages(page);
  const username = uniqueUsername('grace');
  await account.register(username, 'grace password 123');
  await account.expectSignedIn(username);
  await account.ownFingerprint();
});

test('a taken username is rejected', async ({ browser }) => {
  const username = uniqueUsername('heidi');
  const first = await browser.newPage();
  await new AccountPages(first).register(username, 'heidi password 123');
  await new AccountPages(first).expectSignedIn(username);

  const second = await browser.newPage();
  const account = new AccountPages(second);
  await account.register(username, 'another password 456');
  await expect(account.alert()).toContainText('taken');
  await expect(second.getByTestId('current-user')).toHaveCount(0);
  await first.context().close();
  await second.context().close();
});

test('bad registration input gets a clear message', async ({ page }) => {
  const account = new AccountPages(page);
  const cases: [string, string, string, RegExp][] = [
    ['', 'long enough password', 'long enough password', /^Username is empty; enter a username\.$/],
    ['x'.repeat(40), 'long enough password', 'long enough password', /use 3 to 32/],
    ['bad name!', 'long enough password', 'long enough password', /contains/],
    [uniqueUsername('ivan'), 'short', 'short', /^Password is too short/],
    [uniqueUsername('ivan'), 'long enough password', 'different password', /do not match/],
  ];
  for (const [username, password, confirm, message] of cases) {
    await account.register(username, password, confirm);
    await expect(account.alert()).toContainText(message);
    await expect(page.getByTestId('current-user')).toHaveCount(0);
  }
});

test('wrong password and unknown username get the same message', async ({ browser }) => {
  const username = uniqueUsername('judy');
  const setup = await browser.newPage();
  await new AccountPages(setup).register(username, 'judy password 123');
  await new AccountPages(setup).expectSignedIn(username);
  await setup.context().close();

  const messages: string[] = [];
  for (const [name, password] of [
    [username, 'not the password'],
    [uniqueUsername('nobody'), 'judy password 123'],
  ]) {
    const page = await browser.newPage();
    const account = new AccountPages(page);
    await account.login(name, password);
    await expect(account.alert()).toBeVisible({ timeout: 60_000 });
    messages.push((await account.alert().textContent()) ?? '');
    await expect(page.getByTestId('current-user')).toHaveCount(0);
    await page.context().close();
  }
  expect(messages[0]).toBe('Invalid username or password.');
  expect(messages[1]).toBe(messages[0]);
});

test('after a reload the keys are unlocked with the password again', async ({ page }) => {
  const account = new AccountPages(page);
  const username = uniqueUsername('kate');
  await account.register(username, 'kate password 123');
  await account.expectSignedIn(username);
  const fingerprint = await account.ownFingerprint();

  await page.reload();
  await expect(page.getByText('Enter your password to unlock your keys')).toBeVisible();
  // The card matches the header, which offers "Unlock": the session is signed in.
  await expect(page.getByRole('heading', { name: 'Unlock', exact: true })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Log in' })).toHaveCount(0);
  await expect(page.getByRole('link', { name: 'Register' })).toHaveCount(0);
  await expect(page.getByLabel('Username')).toHaveValue(username);
  await page.getByLabel('Password', { exact: true }).fill('kate password 123');
  await page.getByRole('button', { name: 'Unlock', exact: true }).click();
  await account.expectSignedIn(username);
  expect(await account.ownFingerprint()).toBe(fingerprint);
});

test('log out everywhere signs out the other browser too', async ({ browser }) => {
  const username = uniqueUsername('leon');
  const password = 'leon password 123';
  const phone = await browser.newContext();
  const phonePage = await phone.newPage();
  const phoneAccount = new AccountPages(phonePage);
  await phoneAccount.register(username, password);
  await phoneAccount.expectSignedIn(username);

  const laptop = await browser.newContext();
  const laptopPage = await laptop.newPage();
  const laptopAccount = new AccountPages(laptopPage);
  await laptopAccount.login(username, password);
  await laptopAccount.expectSignedIn(username);

  await expect(phonePage.getByRole('button', { name: 'Log out everywhere' })).toHaveAttribute(
    'title',
    'Ends your sessions on every device, this one included',
  );
  await phoneAccount.logoutEverywhere();
  await phoneAccount.expectSignedOut();

  // The laptop still has its keys in memory; its next request finds no session.
  await laptopPage.getByRole('link', { name: 'Sent' }).click();
  await laptopAccount.expectSignedOut();
  await laptopPage.reload();
  await expect(laptopPage.getByText('Enter your password to unlock your keys')).toHaveCount(0);
  await expect(laptopPage.getByTestId('current-user')).toHaveCount(0);
  await phone.close();
  await laptop.close();
});

test('too many failed logins show a countdown', async ({ browser }) => {
  const username = uniqueUsername('mona');
  const setup = await browser.newPage();
  await new AccountPages(setup).register(username, 'mona password 123');
  await new AccountPages(setup).expectSignedIn(username);
  await setup.context().close();

  const page = await browser.newPage();
  const account = new AccountPages(page);
  const countdown = page.getByTestId('login-retry-countdown');
  // The first five failures are free and the waits after them grow from 1 s. An
  // attempt whose key derivation outlasts a short wait is compared and fails again.
  let failures = 0;
  for (let attempt = 0; attempt < 10 && (await countdown.count()) === 0; attempt++) {
    await account.login(username, 'not the password');
    await expect(account.alert()).toBeVisible({ timeout: 60_000 });
    if ((await countdown.count()) === 0) {
      await expect(account.alert()).toHaveText('Invalid username or password.');
      failures++;
    }
  }
  expect(failures).toBeGreaterThanOrEqual(5);
  await expect(countdown).toHaveText(/^Too many failed attempts; try again in \d+ s$/);
  await expect(page.getByRole('button', { name: 'Log in' })).toBeDisabled();
  await expect(countdown).toHaveCount(0, { timeout: 20_000 });
  await expect(page.getByRole('button', { name: 'Log in' })).toBeEnabled();
  await page.context().close();
});

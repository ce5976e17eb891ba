import { expect, type Page } from '@playwright/test';

/** The register and log-in pages, and the account header shown after either. */
export class AccountPages {
  constructor(private readonly page: Page) {}

  async register(username: string, password: string, confirm = password): Promise<void> {
    await this.page.goto('/register');
    await this.page.getByLabel('Username').fill(username);
    await this.page.getByLabel('Password', { exact: true }).fill(password);
    await this.page.getByLabel('Confirm password').fill(confirm);
    await this.page.getByRole('button', { name: 'Create account' }).click();
  }

  async login(username: string, password: string): Promise<void> {
    await this.page.goto('/login');
    await this.page.getByLabel('Username').fill(username);
    await this.page.getByLabel('Password', { exact: true }).fill(password);
    // A session kept over a reload shows the same form as "Unlock".
    await this.page.getByRole('button', { name: /^(Log in|Unlock)$/ }).click();
  }

  async logout(): Promise<void> {
    await this.page.getByRole('button', { name: 'Log out', exact: true }).click();
  }

  async logoutEverywhere(): Promise<void> {
    await this.page.getByRole('button', { name: 'Log out everywhere' }).click();
  }

  async expectSignedOut(): Promise<void> {
    await expect(this.page).toHaveURL(/\/login/);
    await expect(this.page.getByTestId('current-user')).toHaveCount(0);
    await expect(this.page.getByRole('link', { name: 'Log in' })).toBeVisible();
  }

  async expectSignedIn(username: string): Promise<void> {
    await expect(this.page.getByTestId('current-user')).toHaveText(username, { timeout: 60_000 });
  }

  /** Returns the signed-in account's fingerprint as the header displays it. */
  async ownFingerprint(): Promise<string> {
    const fingerprint = this.page.getByTestId('own-fingerprint');
    await expect(fingerprint).toHaveText(/^(\d{5} ){7}\d{5}$/);
    return (await fingerprint.textContent()) ?? '';
  }

  alert() {
    return this.page.getByRole('alert');
  }
}

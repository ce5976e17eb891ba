import { expect, type Download, type Locator, type Page } from '@playwright/test';
import { fillLinkOptions, type LinkChoice } from './link';

/** The inbox and sent lists. */
export class FilePages {
  constructor(private readonly page: Page) {}

  // Both lists open through the header links: a full page load would drop the keys.
  async openInbox(): Promise<void> {
    await this.page.getByRole('link', { name: 'Inbox', exact: true }).click();
    await expect(this.page).toHaveURL(/\/inbox$/);
  }

  async openSent(): Promise<void> {
    await this.page.getByRole('link', { name: 'Sent', exact: true }).click();
    await expect(this.page).toHaveURL(/\/sent$/);
  }

  inboxRow(name: string): Locator {
    return this.page
      .getByTestId('inbox-row')
      .filter({ has: this.page.getByTestId('file-name').getByText(name, { exact: true }) });
  }

  sentRow(name: string): Locator {
    return this.page
      .getByTestId('sent-row')
      .filter({ has: this.page.getByTestId('file-name').getByText(name, { exact: true }) });
  }

  /** Clicks Download on the inbox row of `name` and returns the saved download. */
  async download(name: string): Promise<Download> {
    const row = this.inboxRow(name);
    await expect(row).toBeVisible();
    const saved = this.page.waitForEvent('download', { timeout: 120_000 });
    await row.getByRole('button', { name: 'Download' }).click();
    return saved;
  }

  async deleteSent(name: string): Promise<void> {
    const row = this.sentRow(name);
    await expect(row).toBeVisible();
    await row.getByRole('button', { name: 'Delete' }).click();
    await expect(row).toHaveCount(0);
  }

  alert() {
    return this.page.getByRole('alert');
  }

  /** Loads the list again, with the share links of each sent file. */
  async refresh(): Promise<void> {
    await this.page.getByRole('button', { name: 'Refresh' }).click();
  }

  /** The share-link rows listed under the sent file `name`. */
  linkRows(name: string): Locator {
    return this.sentRow(name).getByTestId('link-row');
  }

  /** Revokes the first link of `name`, confirming with "Yes, revoke". */
  async revokeLink(name: string): Promise<void> {
    const link = this.linkRows(name).first();
    await link.getByRole('button', { name: 'Revoke', exact: true }).click();
    await link.getByRole('button', { name: 'Yes, revoke' }).click();
    await expect(this.linkRows(name).first().getByTestId('link-state')).toHaveText('revoked');
  }

  /** Makes a share link for the sent file `name` and returns the link the page shows. */
  async createLink(name: string, choice: LinkChoice): Promise<string> {
    const row = this.sentRow(name);
    await row.getByRole('button', { name: 'Create link' }).click();
    await fillLinkOptions(row, choice);
    await row.getByRole('button', { name: 'Make link' }).click();
    const url = row.getByTestId('link-url');
    await expect(url).toHaveValue(/\/s\/[0-9a-f]{32}#[A-Za-z0-9_-]{43}$/);
    return url.inputValue();
  }

  /** Shows the first link of `name` again and returns its URL. */
  async showLink(name: string): Promise<string> {
    const link = this.linkRows(name).first();
    await link.getByRole('button', { name: 'Show link' }).click();
    const url = link.getByTestId('link-url');
    await expect(url).toHaveValue(/#[A-Za-z0-9_-]{43}$/);
    return url.inputValue();
  }
}

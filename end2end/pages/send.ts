import { expect, type Page } from '@playwright/test';
import { fillLinkOptions, type LinkChoice } from './link';

export interface FileToSend {
  name: string;
  mimeType: string;
  buffer: Buffer;
}

/** The send page: recipient look-up, file choice, encryption and upload. */
export class SendPage {
  constructor(private readonly page: Page) {}

  /** Opens the page through the header link: a full page load would drop the keys. */
  async open(): Promise<void> {
    await this.page.getByRole('link', { name: 'Send', exact: true }).click();
    await expect(this.page.getByLabel('Recipient')).toBeVisible();
  }

  /** Looks up `recipient` and returns the fingerprint the page shows for it. */
  async lookUp(recipient: string): Promise<string> {
    await this.page.getByLabel('Recipient').fill(recipient);
    await this.page.getByRole('button', { name: 'Look up' }).click();
    const fingerprint = this.page.getByTestId('recipient-fingerprint');
    await expect(fingerprint).toHaveText(/^(\d{5} ){7}\d{5}$/);
    return (await fingerprint.textContent()) ?? '';
  }

  async chooseFile(file: FileToSend): Promise<void> {
    await this.page.getByTestId('file-input').setInputFiles(file);
  }

  async submit(): Promise<void> {
    await this.page.getByRole('button', { name: 'Encrypt and send' }).click();
  }

  /** Sends `file` to `recipient` and waits until the page reports it sent. */
  async send(recipient: string, file: FileToSend): Promise<void> {
    await this.open();
    await this.lookUp(recipient);
    await this.chooseFile(file);
    await this.submit();
    await expect(this.page.getByTestId('send-done')).toContainText(file.name, { timeout: 120_000 });
  }

  alert() {
    return this.page.getByRole('alert');
  }

  /** The line with the account's stored bytes and files and its quotas. */
  usage() {
    return this.page.getByTestId('storage-usage');
  }

  /**
   * Sends `file` with a share link and returns the link the page shows. Without a
   * recipient the file goes to the sender's own account.
   */
  async sendWithLink(file: FileToSend, choice: LinkChoice, recipient?: string): Promise<string> {
    await this.open();
    if (recipient !== undefined) {
      await this.lookUp(recipient);
    }
    await this.page.getByLabel('Also make a share link').check();
    await fillLinkOptions(this.page, choice);
    await this.chooseFile(file);
    await this.submit();
    await expect(this.page.getByTestId('send-done')).toContainText(file.name, { timeout: 120_000 });
    const url = this.page.getByTestId('link-url');
    await expect(url).toHaveValue(/\/s\/[0-9a-f]{32}#[A-Za-z0-9_-]{43}$/);
    return url.inputValue();
  }
}

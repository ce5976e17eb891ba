import { expect, type Download, type Locator, type Page } from '@playwright/test';

/** Options of a share link as the send and sent pages offer them. */
export interface LinkChoice {
  downloadLimit: number;
  password?: string;
}

/** Fills the share-link fields inside `scope` (the send page, or one sent row). */
export async function fillLinkOptions(scope: Locator | Page, choice: LinkChoice): Promise<void> {
  await scope.getByLabel('Download limit').fill(String(choice.downloadLimit));
  if (choice.password !== undefined) {
    await scope.getByLabel('Link password (optional)').fill(choice.password);
    await scope.getByLabel('Confirm link password').fill(choice.password);
  }
}

/** The share-link page `/s/LINK_ID#SECRET`, which needs no account. */
export class LinkPage {
  constructor(private readonly page: Page) {}

  async open(url: string): Promise<void> {
    await this.page.goto(url);
  }

  async unlock(password: string): Promise<void> {
    await this.page.getByLabel('Password', { exact: true }).fill(password);
    await this.unlockButton().click();
  }

  fileName(): Locator {
    return this.page.getByTestId('link-file-name');
  }

  /** The button that unlocks the link, named apart from the header's account unlock. */
  unlockButton(): Locator {
    return this.page.getByRole('button', { name: 'Open link' });
  }

  /** The wait after too many wrong passwords, counting down the seconds. */
  retryCountdown(): Locator {
    return this.page.getByTestId('retry-countdown');
  }

  downloadsLeft(): Locator {
    return this.page.getByTestId('link-downloads-left');
  }

  downloadButton(): Locator {
    return this.page.getByRole('button', { name: 'Download' });
  }

  expires(): Locator {
    return this.page.getByTestId('link-expires');
  }

  /** The note that a download in progress has reserved the link's last download. */
  reservedNotice(): Locator {
    return this.page.getByTestId('link-reserved');
  }

  deadMessage(): Locator {
    return this.page.getByTestId('link-dead');
  }

  alert(): Locator {
    return this.page.getByRole('alert');
  }

  /** Clicks Download, waits until the page reports the download confirmed, and
   *  returns the saved file. */
  async download(): Promise<Download> {
    const saved = this.page.waitForEvent('download', { timeout: 120_000 });
    await this.downloadButton().click();
    const download = await saved;
    await expect(this.page.getByTestId('download-done')).toBeVisible();
    return download;
  }
}

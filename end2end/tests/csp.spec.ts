import { expect, test, type Browser, type BrowserContext, type Page } from '@playwright/test';
import { AccountPages } from '../pages/account';
import { FilePages } from '../pages/files';
import { LinkPage } from '../pages/link';
import { SendPage } from '../pages/send';
import { binaryWithMarker, downloadedSha256, sha256, uniqueUsername } from '../support/data';

// The policy is strict: scripts come from the server only, with no inline script or
// style. This spec walks every page and runs the worker's WebAssembly under it. It
// fails on any report of a blocked resource in a page or in the worker.

/** Collects every Content-Security-Policy report of one browser context. */
class PolicyReports {
  readonly found: string[] = [];

  constructor(private readonly context: BrowserContext) {}

  static async watch(browser: Browser): Promise<{ page: Page; reports: PolicyReports }> {
    const context = await browser.newContext();
    const reports = new PolicyReports(context);
    await context.exposeBinding('reportPolicyViolation', (_source, text: string) => {
      reports.found.push(`violation: ${text}`);
    });
    await context.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (event) => {
        const report = window as unknown as { reportPolicyViolation(text: string): void };
        report.reportPolicyViolation(
          `${event.effectiveDirective} blocked ${event.blockedURI || 'inline'} in ${event.sourceFile}`,
        );
      });
    });
    const page = await context.newPage();
    reports.follow(page);
    return { page, reports };
  }

  /** Records console messages about the policy from `page` and from its workers. */
  private follow(page: Page): void {
    const record = (where: string, text: string) => {
      if (/content security policy|content-security-policy/i.test(text)) {
        this.found.push(`${where}: ${text}`);
      }
    };
    page.on('console', (message) => record('console', message.text()));
    page.on('pageerror', (error) => record('page error', error.message));
    page.on('worker', (worker) => {
      worker.on('console', (message) => record(`worker ${worker.url()}`, message.text()));
    });
  }

  async close(): Promise<void> {
    await this.context.close();
  }
}

/** Asserts that a page's response carries the policy, so that a clean run means something. */
async function expectPolicyOn(page: Page, path: string): Promise<void> {
  const response = await page.goto(path);
  expect(response?.status()).toBe(200);
  const policy = response?.headers()['content-security-policy'] ?? '';
  expect(policy).toContain("script-src 'self' 'wasm-unsafe-eval'");
  expect(policy).not.toContain('unsafe-inline');
}

test('pages and the worker run under the security policy', async ({ browser }) => {
  const password = 'correct horse battery staple csp';
  const username = uniqueUsername('csp');
  const file = {
    name: 'policy check.txt',
    mimeType: 'text/plain',
    buffer: binaryWithMarker(300_000, 'CSP-SPEC-MARKER'),
  };

  const sender = await PolicyReports.watch(browser);
  const visitor = await PolicyReports.watch(browser);
  try {
    const page = sender.page;
    await expectPolicyOn(page, '/');
    await expect(page.getByRole('link', { name: 'Register' }).first()).toBeVisible();
    await expectPolicyOn(page, '/register');

    const account = new AccountPages(page);
    await account.register(username, password);
    await account.expectSignedIn(username);

    const linkUrl = await new SendPage(page).sendWithLink(file, { downloadLimit: 2 });
    const files = new FilePages(page);
    await files.openInbox();
    const download = await files.download(file.name);
    expect(await downloadedSha256(download)).toBe(sha256(file.buffer));

    const linkPage = new LinkPage(visitor.page);
    await linkPage.open(linkUrl);
    await expect(linkPage.fileName()).toHaveText(file.name);
    const linkDownload = await linkPage.download();
    expect(await downloadedSha256(linkDownload)).toBe(sha256(file.buffer));
  } finally {
    // A blocked script usually stops the app, so the reports are checked even when a
    // step above failed: they name the cause.
    expect(sender.reports.found).toEqual([]);
    expect(visitor.reports.found).toEqual([]);
    await sender.reports.close();
    await visitor.reports.close();
  }
});

test('pages declare an empty icon, so browsers request no /favicon.ico', async ({ page }) => {
  // The server returns index.html for /favicon.ico, and the policy allows data: images.
  await expectPolicyOn(page, '/');
  const icon = page.locator('link[rel="icon"]');
  await expect(icon).toHaveAttribute('href', 'data:,');
});

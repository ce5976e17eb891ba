import type { BrowserContext, Request } from '@playwright/test';

/** One request as the browser sent it. */
export interface RecordedRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: Buffer;
}

/**
 * Records every request a browser context sends (URL, headers and body), so a
 * test can prove that no secret ever leaves the browser.
 */
export class RequestRecorder {
  private readonly pending: Promise<RecordedRequest>[] = [];

  constructor(context: BrowserContext) {
    context.on('request', (request) => this.pending.push(capture(request)));
  }

  async requests(): Promise<RecordedRequest[]> {
    return Promise.all(this.pending);
  }

  /** Requests whose URL path matches `pattern`. */
  async matching(pattern: RegExp): Promise<RecordedRequest[]> {
    return (await this.requests()).filter((r) => pattern.test(new URL(r.url).pathname));
  }
}

async function capture(request: Request): Promise<RecordedRequest> {
  return {
    method: request.method(),
    url: request.url(),
    headers: await request.allHeaders(),
    body: request.postDataBuffer() ?? Buffer.alloc(0),
  };
}

/**
 * Returns the forms in which a secret could appear in a request: its UTF-8 bytes,
 * its URL encoding, and its base64 and base64url encodings.
 */
function encodingsOf(secret: string): Buffer[] {
  const raw = Buffer.from(secret, 'utf8');
  const forms = [raw, Buffer.from(encodeURIComponent(secret), 'utf8')];
  forms.push(Buffer.from(raw.toString('base64').replace(/=+$/, ''), 'utf8'));
  forms.push(Buffer.from(raw.toString('base64url'), 'utf8'));
  return forms;
}

/** Decodes every base64url or base64 string found in a JSON body to bytes. */
function decodedJsonStrings(body: Buffer): Buffer[] {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    return [];
  }
  const found: Buffer[] = [];
  const visit = (node: unknown): void => {
    if (typeof node === 'string' && /^[A-Za-z0-9_\-+/]+=*$/.test(node)) {
      found.push(Buffer.from(node, 'base64url'), Buffer.from(node, 'base64'));
    } else if (Array.isArray(node)) {
      node.forEach(visit);
    } else if (node && typeof node === 'object') {
      Object.values(node).forEach(visit);
    }
  };
  visit(value);
  return found;
}

/**
 * Returns a description of every place where one of `secrets` appears in the
 * recorded requests: URL, any header name or value, the raw body, or a
 * base64-decoded string inside a JSON body.
 */
export function findLeaks(requests: RecordedRequest[], secrets: Record<string, string>): string[] {
  const leaks: string[] = [];
  for (const request of requests) {
    const headerText = Object.entries(request.headers)
      .map(([name, value]) => `${name}: ${value}`)
      .join('\n');
    const places: [string, Buffer][] = [
      ['url', Buffer.from(request.url, 'utf8')],
      ['headers', Buffer.from(headerText, 'utf8')],
      ['body', request.body],
      ...decodedJsonStrings(request.body).map((b): [string, Buffer] => ['decoded body field', b]),
    ];
    for (const [label, secret] of Object.entries(secrets)) {
      for (const form of encodingsOf(secret)) {
        for (const [place, bytes] of places) {
          if (bytes.includes(form)) {
            leaks.push(`${label} found in the ${place} of ${request.method} ${request.url}`);
          }
        }
      }
    }
  }
  return leaks;
}

import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Download } from '@playwright/test';

/** Returns a username that no earlier run has taken. */
export function uniqueUsername(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
}

/** Random bytes of `size` with `marker` written at the start, the middle and the end. */
export function binaryWithMarker(size: number, marker: string): Buffer {
  const bytes = randomBytes(size);
  const mark = Buffer.from(marker, 'utf8');
  for (const offset of [0, Math.floor(size / 2), size - mark.length]) {
    mark.copy(bytes, offset);
  }
  return bytes;
}

export function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export async function downloadedSha256(download: Download): Promise<string> {
  const path = await download.path();
  return sha256(await readFile(path));
}

import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { ROOT } from './processes';

/**
 * Debian's chromium (installed by apt in .ci/run), driven by playwright-core:
 * no browser download. Running as root needs --no-sandbox.
 */
export const CHROMIUM = '/usr/bin/chromium';

export async function launchBrowser(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (as .ci/run does)`);
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
}

/** Where tests save their screenshots; the README's pictures are copied from here. */
export function screenshotPath(name: string): string {
  const dir = path.join(ROOT, '.test-data', 'screenshots');
  fs.mkdirSync(dir, { recursive: true });
  return path.join(dir, `${name}.png`);
}

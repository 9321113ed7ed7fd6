import fs from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { expect } from 'vitest';
import { ROOT } from './processes';
import { screenshotPath } from './browser';
import { tokenOf } from './stack';

/** A phone held upright: the counting page's home. */
export const PHONE = { width: 390, height: 844 };
export const DESK = { width: 1400, height: 900 };

const AXE = fs.readFileSync(path.join(ROOT, 'node_modules/axe-core/axe.min.js'), 'utf8');

/** A fresh browser context (its own sessionStorage and IndexedDB) on a page of Stocktake, signed in as `user`. */
export async function signedIn(browser: Browser, baseUrl: string, pagePath: string, user: string, viewport = DESK): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport, baseURL: baseUrl, acceptDownloads: true });
  const page = await context.newPage();
  const errors: string[] = [];
  // A page that throws or breaks the CSP shows up here, not as a silently blank page.
  page.on('pageerror', (e) => errors.push(e.message));
  // The browser also logs every refused or unreachable request as an error: the page shows those in words itself.
  page.on('console', (m) => { if (m.type() === 'error' && !/^Failed to load resource/.test(m.text())) errors.push(m.text()); });
  ERRORS.set(page, errors);
  await page.goto(pagePath);
  await page.getByLabel('Bearer token').fill(tokenOf(user));
  await page.getByRole('button', { name: 'Sign in' }).click();
  return { context, page };
}

const ERRORS = new WeakMap<Page, string[]>();

/** Scripts that threw and errors the page logged (a CSP violation, say) since it opened. */
export function pageErrors(page: Page): string[] {
  return ERRORS.get(page) ?? [];
}

/**
 * axe-core on the page as it stands (WCAG 2.1 A and AA plus best practice):
 * evaluated through the DevTools protocol, so the pages' CSP needs no hole for it.
 */
export async function expectAccessible(page: Page): Promise<void> {
  await page.evaluate(AXE);
  const violations = await page.evaluate<string[]>(`(async () => {
    const result = await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } });
    return result.violations.map((v) => v.id + ': ' + v.help + ' ' + v.nodes.slice(0, 3).map((n) => JSON.stringify(n.target)).join(', '));
  })()`);
  expect(violations).toEqual([]);
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: screenshotPath(name), fullPage: true });
}

/** The page said this in words (a verdict, role status). */
export async function says(page: Page, text: string | RegExp): Promise<void> {
  await page.getByRole('status').filter({ hasText: text }).first().waitFor({ timeout: 30_000 });
}

/** The page shows this refusal (role alert), e.g. the API's problem title and detail. */
export async function refuses(page: Page, text: string | RegExp): Promise<void> {
  await page.getByRole('alert').filter({ hasText: text }).first().waitFor({ timeout: 30_000 });
}

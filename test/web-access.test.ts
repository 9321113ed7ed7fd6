import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser } from './support/browser';
import { DESK, expectAccessible, pageErrors, PHONE, refuses, screenshot, signedIn } from './support/pages';
import { useStack } from './support/stack';

/**
 * The web pages are served by Stocktake itself, public as code; what they
 * show and change needs a token, and the API decides, exactly as it does
 * for curl. A counter on the manager pages is told no, and the API says no.
 */
describe('web pages: serving and access', () => {
  const ctx = useStack(undefined, { worker: false });
  let browser: Browser;
  beforeAll(async () => { browser = await launchBrowser(); }, 60_000);
  afterAll(async () => browser?.close());

  it('serves both pages and their libraries without a token, same-origin only by CSP', async () => {
    for (const path of ['/ui/', '/ui/count', '/ui/vendor/preact.js', '/ui/vendor/preact-hooks.js', '/ui/vendor/htm.js', '/ui/vendor/idb-keyval.js', '/ui/app/manager/app.js', '/ui/app/styles.css']) {
      const res = await fetch(ctx.stack.baseUrl + path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-security-policy'), path).toMatch(/default-src 'self'.*script-src 'self' 'sha256-/);
    }
  });

  it('serves no file outside the page code', async () => {
    for (const path of ['/ui/app/../package.json', '/ui/app/%2e%2e/package.json', '/ui/app/manager/nothing.js', '/ui/vendor/pg.js', '/ui/app/README.md']) {
      const res = await fetch(ctx.stack.baseUrl + path);
      expect(res.status, path).toBe(404);
    }
  });

  it('shows a counter who signs in to the manager pages a refusal, and the API refuses them too', async () => {
    const { context, page } = await signedIn(browser, ctx.stack.baseUrl, '/ui/', 'dev-1');
    await refuses(page, 'these pages are for managers and auditors; dev-1 is a counter');
    expect(await page.getByRole('heading', { name: 'Reconciliations' }).count()).toBe(0);
    await expectAccessible(page);
    await screenshot(page, 'web-refusal');
    const api = await ctx.stack.http('GET', '/reconciliations', undefined, { 'x-as': 'dev-1' });
    expect(api.status).toBe(403);
    expect(pageErrors(page)).toEqual([]);
    await context.close();
  });

  it('shows an unknown token the API\'s own words', async () => {
    const context = await browser.newContext({ viewport: PHONE, baseURL: ctx.stack.baseUrl });
    const page = await context.newPage();
    await page.goto('/ui/count');
    await page.getByLabel('Bearer token').fill('token-nobody');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await refuses(page, 'Authentication required');
    await refuses(page, 'the token is not known');
    await expectAccessible(page);
    await context.close();
  });

  it('shows a manager the exception queue, empty here, accessibly', async () => {
    const { context, page } = await signedIn(browser, ctx.stack.baseUrl, '/ui/#/exceptions', 'manager-1');
    await page.getByText('No open exceptions.').waitFor();
    await expectAccessible(page);
    expect(pageErrors(page)).toEqual([]);
    await context.close();
  });

  it('passes axe on the sign-in pages', async () => {
    for (const [path, viewport] of [['/ui/', DESK], ['/ui/count', PHONE]] as const) {
      const context = await browser.newContext({ viewport, baseURL: ctx.stack.baseUrl });
      const page = await context.newPage();
      await page.goto(path);
      await page.getByLabel('Bearer token').waitFor();
      await expectAccessible(page);
      await context.close();
    }
  });
});

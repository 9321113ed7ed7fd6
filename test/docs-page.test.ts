import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, screenshotPath } from './support/browser';
import { rawHttp } from './support/raw-http';
import { useStack } from './support/stack';

/**
 * /docs in a real headless Chromium against the live API: Swagger UI,
 * served from this origin, renders every operation of /openapi.json under
 * its Content-Security-Policy, and takes a bearer token (Authorize).
 */
const ctx = useStack(undefined, { worker: false });
let browser: Browser;
beforeAll(async () => {
  browser = await launchBrowser();
}, 60_000);
afterAll(async () => {
  await browser?.close();
});

describe('/docs', () => {
  it('renders the operations of /openapi.json with assets from this origin only', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1600 } });
    const problems: string[] = [];
    const origins = new Set<string>();
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(e.message));
    page.on('request', (r) => origins.add(new URL(r.url()).origin));
    const res = await page.goto(`${ctx.stack.baseUrl}/docs/`);
    expect(res?.status()).toBe(200);
    expect(res?.headers()['content-security-policy']).toContain("script-src 'self'");
    const operation = page.locator('.opblock-summary-path', { hasText: '/reconciliations/{id}/rows' }).first();
    await operation.waitFor({ timeout: 30_000 });
    const operations = await page.locator('.opblock').count();
    const documented = await ctx.stack.http('GET', '/openapi.json');
    const expected = Object.values(documented.body.paths as Record<string, object>).reduce((n, item) => n + Object.keys(item).length, 0);
    expect(operations).toBe(expected);
    // Opened, an operation shows its parameters, its example body and its responses: still nothing the policy refuses.
    await page.locator('#operations-Count_reconciliations-postReconciliations .opblock-summary').click();
    await page.locator('#operations-Count_reconciliations-postReconciliations .opblock-body .body-param__example, #operations-Count_reconciliations-postReconciliations .opblock-body .microlight').first().waitFor({ timeout: 15_000 });
    expect(await page.locator('#operations-Count_reconciliations-postReconciliations').textContent()).toContain('WH1');
    await page.screenshot({ path: screenshotPath('api-docs'), fullPage: false });
    expect([...origins].filter((o) => o !== ctx.stack.baseUrl && !o.startsWith('data:'))).toEqual([]);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('takes a bearer token with Authorize', async () => {
    const page = await browser.newPage();
    await page.goto(`${ctx.stack.baseUrl}/docs/`);
    await page.locator('button.authorize').first().click();
    const field = page.locator('.auth-container input[type=text], .auth-container input[type=password]').first();
    await field.fill('token-manager-1');
    await page.locator('.auth-btn-wrapper button.authorize').first().click();
    // Once authorized, Swagger UI offers Logout for the scheme.
    await expect.poll(() => page.locator('.auth-btn-wrapper button', { hasText: 'Logout' }).count()).toBe(1);
    await page.close();
  });
});

describe('an unsupported method', () => {
  // fetch refuses to send TRACE: the request goes byte for byte on a socket.
  const allowOf = (raw: string) => /\r\nallow: ([^\r]*)/i.exec(raw)?.[1];

  it('answers TRACE on a known path 405 with Allow and a problem', async () => {
    const res = await rawHttp(ctx.stack.baseUrl, 'TRACE', '/reconciliations');
    expect(res.status).toBe(405);
    expect(allowOf(res.raw)).toBe('GET, POST, HEAD');
    expect(res.contentType).toBe('application/problem+json');
    expect(res.body).toMatchObject({ status: 405, type: 'https://stocktake.dev/problems/method-not-allowed' });
  });

  it('answers DELETE on a path served for GET only 405 naming GET', async () => {
    const res = await rawHttp(ctx.stack.baseUrl, 'DELETE', '/health');
    expect(res.status).toBe(405);
    expect(allowOf(res.raw)).toBe('GET, HEAD');
  });

  it('still answers 404 for a path the API does not serve', async () => {
    const res = await rawHttp(ctx.stack.baseUrl, 'TRACE', '/no-such-thing');
    expect(res.status).toBe(404);
  });
});

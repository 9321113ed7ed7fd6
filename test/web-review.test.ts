import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemoWarehouse } from '../db/seed';
import { sql } from '../db/sql';
import { launchBrowser } from './support/browser';
import { countAll } from './support/counting';
import { flow } from './support/flow';
import { DESK, expectAccessible, says, screenshot, signedIn } from './support/pages';
import { useStack } from './support/stack';

/** A varied count: some rows over, some under, most exact; serials as they were. */
const VARIED = sql`case when i.serial_tracked then r.snapshot_quantity
  when r.id % 7 = 0 then r.snapshot_quantity + 1 + r.id % 3
  when r.id % 11 = 0 and r.snapshot_quantity >= 1 then r.snapshot_quantity - 1
  else r.snapshot_quantity end`;

type Row = { id: number; zone: string; varianceQuantity: number | null; expectedQuantity: number; varianceValue: number | null; approval: string; state: string };

/**
 * The review grid on a count of 2,000 rows: the API sorts, filters and pages
 * (so the grid costs one page whatever the size), and the grid shows what
 * the API answers; the approval limit is visible on the rows before a click.
 */
describe('web pages: the review grid', () => {
  const ctx = useStack(async (stack) => {
    await seedDemoWarehouse(stack.db.orm, { positions: 2_000 });
    const f = flow(stack);
    const rec = await f.create({ warehouse: 'WH1', scope: { kind: 'warehouse' }, managerApprovalLimit: 20, tolerance: { default: { quantity: { plus: 0, minus: 0 } } } });
    await f.waitFor(rec.id, 'ready');
    await countAll(stack, f, rec.id, VARIED);
    return { id: rec.id, all: await f.rows(rec.id) as Row[] };
  });
  let browser: Browser;
  let manager: { context: BrowserContext; page: Page };
  beforeAll(async () => {
    browser = await launchBrowser();
    manager = await signedIn(browser, ctx.stack.baseUrl, `/ui/#/r/${ctx.fixture.id}/review`, 'manager-1');
  }, 60_000);
  afterAll(async () => browser?.close());
  const rowsApi = (q: string) => ctx.stack.http('GET', `/reconciliations/${ctx.fixture.id}/rows?${q}`);

  it('pages sorted rows by offset, every row once, largest absolute value first', async () => {
    const seen: Row[] = [];
    let offset: number | null = 0;
    while (offset !== null) {
      const res = await rowsApi(`sort=absValue&order=desc&limit=500&offset=${offset}&total=true`);
      expect(res.status).toBe(200);
      expect(res.body.total).toBe(ctx.fixture.all.length);
      seen.push(...res.body.rows);
      offset = res.body.nextOffset;
    }
    expect(seen.map((r) => r.id).sort((a, b) => a - b)).toEqual(ctx.fixture.all.map((r) => r.id).sort((a, b) => a - b));
    const values = seen.map((r) => Math.abs(r.varianceValue ?? 0));
    expect(values).toEqual([...values].sort((a, b) => b - a));
  });

  it('filters by direction and by variance percentage exactly as the rows say', async () => {
    const all = ctx.fixture.all;
    const loss = await rowsApi('direction=loss&limit=5000&total=true');
    expect(loss.body.total).toBe(all.filter((r) => (r.varianceQuantity ?? 0) < 0).length);
    const gain = await rowsApi('direction=gain&limit=5000&total=true');
    expect(gain.body.total).toBe(all.filter((r) => (r.varianceQuantity ?? 0) > 0).length);
    const over = (p: number) => all.filter((r) => r.varianceQuantity !== null && Math.abs(r.varianceQuantity) * 100 >= p * Math.abs(r.expectedQuantity)).length;
    for (const p of [10, 50]) expect((await rowsApi(`minAbsPercent=${p}&limit=1&total=true`)).body.total, `${p} %`).toBe(over(p));
    expect(loss.body.total).toBeGreaterThan(0);
    expect(gain.body.total).toBeGreaterThan(0);
  });

  it('refuses an unknown sort as a problem, changing nothing', async () => {
    const res = await rowsApi('sort=colour');
    expect(res.status).toBe(422);
    expect(res.contentType).toContain('application/problem+json');
  });

  it('shows the first page of the API\'s order and pages on', async () => {
    const page = manager.page;
    const total = ctx.fixture.all.length;
    await says(page, `Rows 1–50 of ${total.toLocaleString('en-US')}`);
    const first = await rowsApi('sort=absValue&order=desc&limit=50');
    await expect.poll(() => page.locator('tbody tr').first().getAttribute('aria-rowindex')).toBe('2');
    expect(await page.getByRole('columnheader', { name: /Value/ }).getAttribute('aria-sort')).toBe('descending');
    expect(await page.locator('tbody tr td:nth-child(3)').first().textContent()).toBe(first.body.rows[0].location);
    await screenshot(page, 'web-review-sorted');
    await page.getByRole('button', { name: 'Next page' }).click();
    await says(page, `Rows 51–100 of ${total.toLocaleString('en-US')}`);
    await page.getByRole('button', { name: 'Zone' }).click();
    await expect.poll(() => page.getByRole('columnheader', { name: /Zone/ }).getAttribute('aria-sort')).toBe('ascending');
    await says(page, /Rows 1–50 of/);
    await expect.poll(() => page.locator('tbody tr td:nth-child(2)').first().textContent()).toBe('Z01');
  });

  it('narrows the grid by filter to the API\'s count', async () => {
    const page = manager.page;
    await page.getByLabel('Direction').selectOption('loss');
    await page.getByLabel('Zones').fill('Z01');
    await page.getByRole('button', { name: 'Apply filter' }).click();
    const expected = (await rowsApi('direction=loss&zone=Z01&limit=1&total=true')).body.total as number;
    expect(expected).toBeGreaterThan(0);
    await says(page, new RegExp(`of ${expected}$`));
    await page.getByRole('button', { name: 'Clear' }).click();
  });

  it('marks rows above the manager\'s approval limit before any click, and will not approve them', async () => {
    const page = manager.page;
    await page.getByLabel('Approval').selectOption('to_approve');
    await page.getByRole('button', { name: 'Apply filter' }).click();
    const above = ctx.fixture.all.filter((r) => r.approval === 'to_approve' && Math.abs(r.varianceValue ?? 0) > 20).length;
    expect(above).toBeGreaterThan(0);
    await expect.poll(() => page.locator('#approve-hint').textContent()).toContain(`${above} rows To Approve in this filter are above your limit`);
    expect(await page.getByRole('button', { name: /Approve the whole filter/ }).isDisabled()).toBe(true);
    const firstRow = page.locator('tbody tr').first();
    await expect.poll(() => firstRow.textContent()).toContain('above your limit');
    await firstRow.getByRole('checkbox').check();
    expect(await page.getByRole('button', { name: 'Approve ticked' }).isDisabled()).toBe(true);
    await expect.poll(() => page.locator('#approve-hint').textContent()).toContain('1 row ticked you may not approve (above your limit)');
    await screenshot(page, 'web-review-grid');
    await expectAccessible(page);
  });

  it('lets a senior manager approve the rows above the limit by filter', async () => {
    const senior = await signedIn(browser, ctx.stack.baseUrl, `/ui/#/r/${ctx.fixture.id}/review`, 'senior-1', DESK);
    await senior.page.getByLabel('Approval').selectOption('to_approve');
    await senior.page.getByLabel('Min. |value|').fill('20.0001');
    await senior.page.getByRole('button', { name: 'Apply filter' }).click();
    const above = ctx.fixture.all.filter((r) => r.approval === 'to_approve' && Math.abs(r.varianceValue ?? 0) >= 20.0001).length;
    await senior.page.getByRole('button', { name: `Approve the whole filter (${above} rows)` }).click();
    await says(senior.page, `Approved ${above} rows of the filter.`);
    await senior.context.close();
  });

  it('deletes a ticked row with a reason, answered in words', async () => {
    const page = manager.page;
    await page.getByRole('button', { name: 'Clear' }).click();
    await says(page, /Rows 1–50 of 2,000/);
    const checkbox = page.locator('tbody tr').first().getByRole('checkbox');
    const rowId = Number(/Tick row (\d+)/.exec((await checkbox.getAttribute('aria-label'))!)![1]);
    await checkbox.check();
    await page.getByLabel('Reason to delete').fill('label unreadable, counted under the right item elsewhere');
    await page.getByRole('button', { name: 'Delete ticked' }).click();
    await says(page, 'Deleted 1 row.');
    const row = await ctx.stack.http('GET', `/reconciliations/${ctx.fixture.id}/rows/${rowId}`);
    expect(row.body).toMatchObject({ state: 'deleted', deletedReason: 'label unreadable, counted under the right item elsewhere' });
  });
});

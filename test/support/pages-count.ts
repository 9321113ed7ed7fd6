import type { Page } from 'playwright-core';
import { expect } from 'vitest';
import { says } from './pages';

/** Opens one of the device's orders from its list. */
export async function openOrder(page: Page, name: RegExp): Promise<void> {
  await page.getByRole('button', { name: 'Refresh' }).click();
  await page.getByRole('button', { name }).click();
}

/** The location the page sends the counter to next. */
export async function currentLocation(page: Page): Promise<string | null> {
  const code = page.locator('.task .code').first();
  await code.waitFor();
  return code.textContent();
}

type Entry = { item?: string; lot?: string; serial?: string; handlingUnit?: string; quantity: string };

/**
 * One task as a counter with a keyboard-wedge scanner does it: the location
 * scanned (typed, then Enter), each entry's fields typed one after another,
 * each ended with Enter; then on to the next task unless `stay`.
 */
export async function countTask(page: Page, location: string, entries: Entry[], opts: { stay?: boolean } = {}): Promise<void> {
  await expect.poll(() => page.locator('.task .code').first().textContent()).toBe(location);
  await page.getByLabel('Scan or type the location').fill(location);
  await page.keyboard.press('Enter');
  for (const e of entries) {
    const recount = e.item === undefined;
    const scope = page.locator('fieldset', { hasText: recount ? 'Count this' : 'What is here' });
    if (!recount) {
      await scope.getByLabel('Item').fill(e.item!);
      await page.keyboard.press('Enter');
      for (const field of ['lot', 'serial', 'handlingUnit'] as const) {
        await expect.poll(() => page.evaluate('document.activeElement?.getAttribute("name")')).toBe(field);
        if (e[field]) await page.keyboard.type(e[field]!);
        await page.keyboard.press('Enter');
      }
    } else {
      await scope.getByLabel('Quantity counted').focus();
    }
    await expect.poll(() => page.evaluate('document.activeElement?.getAttribute("name")')).toBe('quantity');
    await page.keyboard.type(e.quantity);
    await page.keyboard.press('Enter');
    await says(page, `Saved ${e.quantity} × ${e.item ?? ''}`);
  }
  if (!opts.stay) await page.getByRole('button', { name: /next task/ }).click();
}

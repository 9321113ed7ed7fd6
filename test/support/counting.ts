import { expect } from 'vitest';
import { rows, sql } from '../../db/sql';
import type { flow } from './flow';
import type { Stack } from './stack';

type Flow = ReturnType<typeof flow>;
type Fragment = ReturnType<typeof sql>;

/**
 * Counts every row of a reconciliation over HTTP, as a device would: the
 * entries are derived from the rows (`quantity` is an SQL expression over
 * `r` = reconciliation_row and `i` = item), sent in batches of 5,000 to the
 * one initial order, and the order is completed.
 */
export async function countAll(stack: Stack, f: Flow, reconciliationId: string, quantity: Fragment, timeoutMs = 60_000): Promise<void> {
  await f.decide(reconciliationId, 'initial-count');
  const orders = await f.orders(reconciliationId, 0);
  expect(orders).toHaveLength(1);
  const entries = await rows(stack.db.orm.em.fork(), sql<Record<string, string | number>>`
    select l.code as location, i.code as item, r.lot, r.serial, r.handling_unit as "handlingUnit", r.owner,
           (${quantity})::float8 as quantity
    from reconciliation_row r join location l on l.id = r.location_id join item i on i.id = r.item_id
    where r.reconciliation_id = ${reconciliationId} order by r.id`);
  for (let i = 0; i < entries.length; i += 5000) {
    const res = await f.submit(orders[0]!.id, `all-${i}`, entries.slice(i, i + 5000));
    expect(res.status, JSON.stringify(res.body)).toBe(201);
  }
  await f.complete(orders[0]!.id);
  await f.waitFor(reconciliationId, 'review', 0, timeoutMs);
}

/** One more than expected on every row that is not serial-tracked (a serial is counted as it was). */
export const ONE_MORE = sql`case when i.serial_tracked then r.snapshot_quantity else r.snapshot_quantity + 1 end`;

import type { Context } from 'hono';
import type { Em } from '../db/sql';
import { getCountOrder, type CountOrderView } from '../store/count-orders';
import { requireReconciliation, type ReconciliationRecord } from '../store/reconciliations';
import { notFound } from '../store/refusal';
import { COUNTERS, MANAGERS, READERS, requireRole, seesWarehouse, type Caller } from './auth';

/**
 * Who may see and do what, in one place. Roles decide what kind of thing a
 * caller may do (403 otherwise); warehouse grants and order assignment
 * decide which things: what a caller may not see answers 404, exactly as if
 * it did not exist, so ids cannot be probed.
 */

/** A reconciliation the caller may read: a reader granted its warehouse. */
export async function readable(c: Context, em: Em, id: string): Promise<{ who: Caller; record: ReconciliationRecord }> {
  const who = requireRole(c, READERS);
  return { who, record: await inWarehouse(who, em, id) };
}

/** A reconciliation the caller may decide on: a manager granted its warehouse. */
export async function decidable(c: Context, em: Em, id: string): Promise<{ who: Caller; record: ReconciliationRecord }> {
  const who = requireRole(c, MANAGERS);
  return { who, record: await inWarehouse(who, em, id) };
}

async function inWarehouse(who: Caller, em: Em, id: string): Promise<ReconciliationRecord> {
  const record = await requireReconciliation(em, id);
  if (!seesWarehouse(who, record.warehouse)) throw notFound(`reconciliation ${id}`);
  return record;
}

/**
 * A count order the caller may see: a reader granted its warehouse, or the
 * one who counts it (assigned to them). A counter sees no other order.
 */
export async function visibleOrder(c: Context, em: Em, id: number): Promise<{ who: Caller; order: CountOrderView }> {
  const who = requireRole(c, [...new Set([...READERS, ...COUNTERS])]);
  const order = await getCountOrder(em, id);
  const reads = READERS.includes(who.role) && seesWarehouse(who, order.warehouse);
  const counts = order.assignedTo === who.name && seesWarehouse(who, order.warehouse);
  if (!reads && !counts) throw notFound(`count order ${id}`);
  return { who, order };
}

/** A count order the caller counts: assigned to them, in a warehouse granted to them. */
export async function countedOrder(c: Context, em: Em, id: number): Promise<{ who: Caller; order: CountOrderView }> {
  const who = requireRole(c, COUNTERS);
  const order = await getCountOrder(em, id);
  if (!seesWarehouse(who, order.warehouse)) throw notFound(`count order ${id}`);
  if (order.assignedTo !== who.name) {
    // A manager who can see the order is told why; anyone else learns nothing about it.
    if (READERS.includes(who.role)) throw notFound(`count order ${id} assigned to you`);
    throw notFound(`count order ${id}`);
  }
  return { who, order };
}

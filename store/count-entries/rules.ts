import type { RawBuilder } from 'kysely';
import { sql } from '../../db/sql';
import { MAX_COUNTED_QUANTITY, MAX_INVENTORY_QUANTITY, MAX_VALUE, quantityProblem } from '../../domain/quantity-bounds';

/**
 * What makes a count entry storable: its codes resolve, its location is part
 * of the order, and its quantities follow the item's unit and tracking
 * (domain/quantity-bounds). The same rules for entries sent in batches
 * (batches.ts) and in files (files.ts).
 */
export interface CountEntryInput {
  location: string;
  item: string;
  lot: string;
  serial: string;
  handlingUnit: string;
  owner: string;
  quantity: number;
  /** Counted blocked quantity per reason; omit when the device does not count blockings. */
  blocked?: Record<string, number>;
}

export interface Submission {
  submissionId: string;
  device: string;
  countedBy: string;
  entries: CountEntryInput[];
}

/** An entry resolved against master data and the order. */
export interface ResolvedLine {
  line: number;
  location_id: number | null;
  item_id: number | null;
  in_order: boolean;
  unit: string;
  decimals: number;
  serial_tracked: boolean;
  lot_tracked: boolean;
  conversion_factor: string;
  standard_cost: string;
  /** Quantity already stored for the same stock position in this order (entries add up). */
  stored: string;
}

/** Why the entry cannot be stored, or undefined. `batchTotal`: what the same request holds for the same position, this entry included. */
export function lineProblem(e: CountEntryInput, r: ResolvedLine, batchTotal: number): string | undefined {
  if (r.location_id === null) return `unknown location ${e.location}`;
  if (r.item_id === null) return `unknown item ${e.item}`;
  if (!r.in_order) return `location ${e.location} is not part of this count order`;
  if (r.serial_tracked && e.serial === '') return `item ${e.item} is serial-tracked: give the serial and a quantity of 0 or 1`;
  if (r.lot_tracked && e.lot === '') return `item ${e.item} is lot-tracked: give the lot`;
  const rules = { decimals: r.decimals, serialTracked: r.serial_tracked };
  const quantity = quantityProblem(e.quantity, r.unit, rules);
  if (quantity) return `item ${e.item}: ${quantity}`;
  let blockedTotal = 0;
  for (const [reason, q] of Object.entries(e.blocked ?? {})) {
    const p = quantityProblem(q, r.unit, rules);
    if (p) return `item ${e.item}, blocked ${reason}: ${p}`;
    blockedTotal += q;
  }
  if (blockedTotal > e.quantity) return `item ${e.item}: the blocked quantity ${blockedTotal} exceeds the counted quantity ${e.quantity}`;
  const total = Number(r.stored) + batchTotal;
  const inventory = total * Number(r.conversion_factor);
  if (total > MAX_COUNTED_QUANTITY || inventory > MAX_INVENTORY_QUANTITY || inventory * Number(r.standard_cost) > MAX_VALUE) {
    return `item ${e.item}: ${total} ${r.unit} at this stock position is more than the stock records can hold`;
  }
  return undefined;
}

/**
 * Two CTEs for one statement, `loc (code, id)` and `itm (code, id,
 * storage_unit, decimals, serial_tracked, lot_tracked, conversion_factor,
 * standard_cost)`: every distinct location and item code of `lines` (a
 * relation with `location` and `item` columns) looked up once by its unique
 * index, with what the rules need of the item; id null for an unknown code.
 * OFFSET 0 keeps the probes from becoming joins, which hashed every location
 * of the warehouse and the whole item master (50,000 items at a million
 * positions) for a request that names a few hundred codes.
 */
export function codesLookedUp(lines: RawBuilder<unknown>, warehouse: string): RawBuilder<unknown> {
  return sql`
    loc as materialized (
      select c.code, l.id from (select distinct location as code from ${lines}) c
      left join lateral (select l.id from location l where l.warehouse_code = ${warehouse} and l.code = c.code offset 0) l on true
    ), itm as materialized (
      select c.code, i.id, i.storage_unit, u.decimals, i.serial_tracked, i.lot_tracked, i.conversion_factor, i.standard_cost
      from (select distinct item as code from ${lines}) c
      left join lateral (
        select i.id, i.storage_unit, i.serial_tracked, i.lot_tracked, i.conversion_factor, i.standard_cost
        from item i where i.code = c.code offset 0) i on true
      left join unit u on u.code = i.storage_unit
    )`;
}

/**
 * A SQL condition true for every line lineProblem could refuse, so that only
 * those lines are read back and judged (a valid request then returns no
 * rows). It reads the columns of ResolvedLine (`unit` aside) with the line's
 * `lot`, `quantity` and `blocked`, and `request_total`: what the request
 * holds for the line's position, or any amount not below it (the condition
 * only grows with it). A line it leaves out passes every test of
 * lineProblem: its codes resolve, its location is in the order, its item is
 * tracked by neither lot nor serial, it counts no blockings, its quantity is
 * whole and not negative (so within any unit's decimals), and the
 * position's total stays below 10^9, a tenth of the smallest bound (10^10 in
 * the storage unit, 10^11 in the inventory unit, 10^13 in value), which also
 * absorbs the rounding of lineProblem's floating point. A test holds the two
 * together (test/entry-rules-sql.test.ts).
 */
export const couldBreakARule = sql<boolean>`(
  location_id is null or item_id is null or not in_order or serial_tracked or (lot_tracked and lot = '')
  or blocked is not null or quantity < 0 or quantity <> trunc(quantity)
  or stored + request_total >= 1e9 or (stored + request_total) * conversion_factor * greatest(standard_cost, 1) >= 1e9)`;

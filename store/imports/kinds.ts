import type { RawBuilder } from 'kysely';
import type { Em } from '../../db/sql';

/**
 * What a load of master data or stock is made of: one kind per load, one row
 * per line. The API reads the lines (store/streaming/records.ts) and checks
 * their text; each kind here stages the rows, checks what needs the database,
 * set-based, and merges them into the real tables.
 */
export const IMPORT_KINDS = ['warehouses', 'zones', 'locations', 'units', 'items', 'stock'] as const;
export type ImportKind = (typeof IMPORT_KINDS)[number];

export interface WarehouseRow {
  code: string;
  name: string;
}
export interface ZoneRow {
  warehouse: string;
  code: string;
}
export interface LocationRow {
  warehouse: string;
  zone: string;
  code: string;
}
export interface UnitRow {
  code: string;
  /** Decimals a quantity in this unit may have, 0 to 4. */
  decimals: number;
}
export interface ItemRow {
  code: string;
  description: string;
  storageUnit: string;
  inventoryUnit: string;
  /** Inventory units per storage unit, above 0. */
  conversionFactor: number;
  /** Per inventory unit, 0 or more. */
  standardCost: number;
  lotTracked: boolean;
  serialTracked: boolean;
}
export interface StockRow {
  warehouse: string;
  location: string;
  item: string;
  lot: string;
  serial: string;
  handlingUnit: string;
  owner: string;
  /** In the item's storage unit. */
  quantity: number;
  /** Blocked quantity per reason, in the storage unit; the position's blockings become exactly these. */
  blocked: Record<string, number>;
}

export interface RowOf {
  warehouses: WarehouseRow;
  zones: ZoneRow;
  locations: LocationRow;
  units: UnitRow;
  items: ItemRow;
  stock: StockRow;
}

export interface LineProblem {
  line: number;
  problem: string;
}

/** A line as the API read it: a row to load, or why it cannot be one. */
export type ParsedLine<K extends ImportKind = ImportKind> = { line: number; row: RowOf[K] } | LineProblem;

export interface MergeCounts {
  created: number;
  updated: number;
  movements: number;
}

/**
 * One kind of load. Rows are staged in the temp table `import_row` (created
 * by `staging`); problems go to `import_problem (line, problem)`.
 */
export interface KindSpec<R> {
  staging: RawBuilder<unknown>[];
  /** The warehouse a row belongs to: rows of a warehouse the caller is not granted are bad lines. */
  warehouseOf?: (row: R) => string;
  /** Whether `import_row` has a `warehouse` column: the load is audited under each warehouse it touches. */
  warehouseScoped: boolean;
  /** Stages a batch of rows; lines that cannot be loaded for a reason the batch can see go to `problems`. */
  stage(em: Em, batch: Array<{ line: number; row: R }>, problems: LineProblem[]): Promise<void>;
  /** Set-based checks over every staged row, each writing the lines it finds bad into import_problem. */
  checks: Array<RawBuilder<unknown> | ((em: Em) => Promise<void>)>;
  /** Applies the staged rows; only called when no line has a problem. */
  merge(em: Em, importId: string): Promise<MergeCounts>;
}

/** Column values of a batch, for unnest(). */
export function column<R, T>(batch: Array<{ line: number; row: R }>, f: (row: R) => T): T[] {
  return batch.map((l) => f(l.row));
}

import type { RawBuilder } from 'kysely';
import { sql } from '../db/sql';

/** How a numeric column leaves the database: a JSON number, or exact decimal text for CSV. */
export type NumberFormat = (column: RawBuilder<unknown>) => RawBuilder<unknown>;
export const asNumber: NumberFormat = (c) => sql`${c}::float8`;
// trim_scale drops numeric's padding zeros ('-2.0000' -> '-2') without passing through binary floating point.
export const asDecimalText: NumberFormat = (c) => sql`trim_scale(${c})::text`;

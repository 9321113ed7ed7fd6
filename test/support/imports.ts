import { expect } from 'vitest';
import { one, sql } from '../../db/sql';
import { upsertUser } from '../../store/users';
import { toCsv } from '../../store/csv';
import { ALL_TABLES, dbFingerprint, type Fingerprint } from './db-fingerprint';
import type { Stack } from './stack';

/** Loads through POST /imports/{kind}: bodies as text (CSV or JSON lines), sent as integration principals. */

/** An integration principal (kind system, role integration) granted `warehouses`; its token is `token-<name>`. */
export async function integration(stack: Stack, name: string, warehouses: 'all' | string[] = 'all'): Promise<string> {
  return upsertUser(stack.db.orm.em.fork(), name, 'integration', `token-${name}`, { kind: 'system', warehouses });
}

export interface LoadAnswer {
  status: number;
  body: any;
  contentType: string | null;
}

export async function postLoad(
  stack: Stack,
  kind: string,
  body: string | ReadableStream<Uint8Array>,
  opts: { importId?: string | null; format?: 'csv' | 'jsonl'; contentType?: string; as?: string } = {},
): Promise<LoadAnswer> {
  const headers: Record<string, string> = {
    authorization: `Bearer token-${opts.as ?? 'wms-dc1'}`,
    'content-type': opts.contentType ?? (opts.format === 'jsonl' ? 'application/x-ndjson' : 'text/csv'),
  };
  if (opts.importId !== null) headers['import-id'] = opts.importId ?? `load-${Math.random().toString(36).slice(2)}`;
  const res = await fetch(`${stack.baseUrl}/imports/${kind}`, { method: 'POST', headers, body, duplex: 'half' } as RequestInit);
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body: parsed, contentType: res.headers.get('content-type') };
}

/** A 201 or 200 with a summary; the summary. */
export function applied(res: LoadAnswer, status = 201): Record<string, any> {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  return res.body;
}

export function csv(header: string[], records: Array<Record<string, unknown>>): string {
  return toCsv(header, records);
}

export function jsonl(records: unknown[]): string {
  return records.map((r) => JSON.stringify(r)).join('\n') + '\n';
}

/** Every table's content, import_load included. */
export function fingerprint(stack: Stack): Promise<Fingerprint> {
  return dbFingerprint(stack.db.orm, [...ALL_TABLES, 'import_load']);
}

/** Quantity and blockings of one stock position, as text ('' when it does not exist). */
export async function positionState(stack: Stack, warehouse: string, location: string, item: string, attrs: { lot?: string; serial?: string } = {}) {
  const r = await one(stack.db.orm.em.fork(), sql<{ id: number; quantity: number; blocked: Record<string, number> | null }>`
    select p.id::int, p.quantity::float8 as quantity,
           (select jsonb_object_agg(b.reason, b.quantity::float8) from blocking b where b.stock_position_id = p.id) as blocked
    from stock_position p join location l on l.id = p.location_id join item i on i.id = p.item_id
    where p.warehouse_code = ${warehouse} and l.code = ${location} and i.code = ${item}
      and p.lot = ${attrs.lot ?? ''} and p.serial = ${attrs.serial ?? ''} and p.handling_unit = '' and p.owner = ''`);
  return r ? { id: r.id, quantity: r.quantity, blocked: r.blocked ?? {} } : undefined;
}

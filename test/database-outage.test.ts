import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { seedDemoWarehouse } from '../db/seed';
import { upsertUser } from '../store/users';
import { one, rows, sql } from '../db/sql';
import { countAll, ONE_MORE } from './support/counting';
import { auditEvents, expectProblem } from './support/problem-checks';
import { checkedOutConnections, useOutageStack, whileConnectionsDrop } from './support/outage';
import type { Stack } from './support/stack';
import type { flow } from './support/flow';

/**
 * A decision whose activity cannot reach the database through all its
 * retries answers 503 "retry" and changes nothing. The caller's retry must
 * then work (also with the same Idempotency-Key), and the dropped
 * connections must not be lost to the pool.
 */
async function inReview(stack: Stack, f: ReturnType<typeof flow>, warehouse: string): Promise<string> {
  const rec = await f.create({
    warehouse, scope: { kind: 'warehouse' }, tolerance: { default: { quantity: { plus: 0.5, minus: 0.5 } } }, managerApprovalLimit: 1e9,
  });
  await f.waitFor(rec.id, 'ready');
  await countAll(stack, f, rec.id, ONE_MORE);
  return rec.id;
}

const approvalOf = async (stack: Stack, rowId: number) =>
  (await one(stack.db.orm.em.fork(), sql<{ approval: string }>`select approval from reconciliation_row where id = ${rowId}`))!.approval;

describe('a decision retried with its Idempotency-Key after a 503', () => {
  const t = useOutageStack(async (stack) => {
    await seedDemoWarehouse(stack.db.orm, { positions: 24, warehouseCode: 'OUT' });
  });

  it('is applied once the database is back: the retry with the same key answers 200 and approves the row', async () => {
    const { stack, f } = t;
    const id = await inReview(stack, f, 'OUT');
    const [row] = await f.rows(id, '&approval=to_approve');
    const approve = () =>
      stack.http('POST', `/reconciliations/${id}/approvals`, { rowIds: [row!.id] }, { 'idempotency-key': 'approve-after-outage' });

    const { answer, dropped } = await whileConnectionsDrop(stack, id, approve);
    expect(dropped).toBe(5);
    expectProblem(answer, 503, 'decision-failed', 'while the database kept dropping the connection');
    expect(await approvalOf(stack, row!.id)).toBe('to_approve');
    expect(await rows(stack.db.orm.em.fork(), sql`select 1 from idempotency_record where key = 'approve-after-outage'`)).toEqual([]);

    // The database is back; the caller retries as the 503 says, with the same key.
    const retry = await approve();
    expect(retry.status, JSON.stringify(retry.body)).toBe(200);
    expect(retry.body).toEqual({ rows: 1 });
    expect(await approvalOf(stack, row!.id)).toBe('approved');
    expect((await auditEvents(stack, id, 'row_approved')).filter((e) => e.subject === `row ${row!.id}`)).toHaveLength(1);
  }, 60_000);
});

describe('connections the database drops in the middle of a decision', () => {
  const t = useOutageStack(async (stack) => {
    await seedDemoWarehouse(stack.db.orm, { positions: 24, warehouseCode: 'OUT' });
  });

  it('go back to the pool: after ten dropped connections no connection stays checked out and the API still answers', async () => {
    const { stack, f } = t;
    const id = await inReview(stack, f, 'OUT');
    const [a, b] = await f.rows(id, '&approval=to_approve');
    expect(await checkedOutConnections(stack)).toBe(0);

    let dropped = 0;
    for (const rowId of [a!.id, b!.id]) {
      const outage = await whileConnectionsDrop(stack, id, () => stack.http('POST', `/reconciliations/${id}/approvals`, { rowIds: [rowId] }));
      expectProblem(outage.answer, 503, 'decision-failed');
      dropped += outage.dropped;
    }
    expect(dropped).toBe(10);

    // The pool holds ten connections: had each dropped one been lost, nothing could reach the database any more.
    const res = await fetch(`${stack.baseUrl}/reconciliations/${id}`, {
      headers: { authorization: 'Bearer token-manager-1' },
      signal: AbortSignal.timeout(10_000),
    }).catch((e: unknown) => ({ status: `no answer within 10 s (${String(e)})` }));
    expect(res.status).toBe(200);
    expect(await checkedOutConnections(stack)).toBe(0);
  }, 90_000);
});

describe('a stock load whose connection the database drops while its lines are being copied', () => {
  const t = useOutageStack(async (stack) => {
    await seedDemoWarehouse(stack.db.orm, { positions: 24, warehouseCode: 'CPY' });
    await upsertUser(stack.db.orm.em.fork(), 'wms-outage', 'integration', 'token-wms-outage', { kind: 'system' });
  });
  /** A body of `lines` new positions at CPY's first location, the last part held back until `release` resolves. */
  const heldBody = async (lines: number, release: Promise<void>) => {
    const first = (await one(t.stack.db.orm.em.fork(), sql<{ location: string }>`
      select code as location from location where warehouse_code = 'CPY' order by code limit 1`))!.location;
    const item = (await one(t.stack.db.orm.em.fork(), sql<{ code: string }>`
      select code from item where not serial_tracked and not lot_tracked order by code limit 1`))!.code;
    // Each line names its own handling unit: one new position per line.
    const text = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => `CPY,${first},${item},HU-${from + k},${1 + ((from + k) % 5)}\n`).join('');
    return new ReadableStream<Uint8Array>({
      async start(controller) {
        controller.enqueue(new TextEncoder().encode('warehouse,location,item,handlingUnit,quantity\n' + text(0, lines - 100)));
        await release;
        controller.enqueue(new TextEncoder().encode(text(lines - 100, lines)));
        controller.close();
      },
    });
  };

  it('answers 503, applies nothing, gives the connection back, and the same load sent again applies', async () => {
    const { stack } = t;
    const positionsBefore = (await one(stack.db.orm.em.fork(), sql<{ n: number }>`select count(*)::int as n from stock_position`))!.n;
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const post = (body: ReadableStream<Uint8Array>) =>
      fetch(`${stack.baseUrl}/imports/stock`, {
        method: 'POST',
        headers: { authorization: 'Bearer token-wms-outage', 'content-type': 'text/csv', 'import-id': 'cut-mid-copy' },
        body,
        duplex: 'half',
      } as RequestInit);
    const answer = post(await heldBody(12_000, released));

    // The load has copied its first batches and waits for the rest of the body: its connection is dropped.
    const admin = new pg.Client({ connectionString: stack.db.url });
    await admin.connect();
    try {
      let pid: number | undefined;
      while (pid === undefined) {
        const found = await admin.query<{ pid: number }>(
          `select pid from pg_stat_activity where datname = current_database() and query ilike 'copy import_row%' limit 1`);
        pid = found.rows[0]?.pid;
        if (pid === undefined) await new Promise((r) => setTimeout(r, 20));
      }
      await admin.query('select pg_terminate_backend($1)', [pid]);
    } finally {
      await admin.end();
    }
    release();
    const res = await answer;
    const body = await res.json();
    expectProblem({ status: res.status, body, contentType: res.headers.get('content-type') }, 503, 'unavailable');
    expect((await one(stack.db.orm.em.fork(), sql<{ n: number }>`select count(*)::int as n from stock_position`))!.n).toBe(positionsBefore);
    expect(await rows(stack.db.orm.em.fork(), sql`select id from import_load where id = 'cut-mid-copy'`)).toEqual([]);
    expect(await checkedOutConnections(stack)).toBe(0);

    const again = await post(await heldBody(12_000, Promise.resolve()));
    expect(again.status, await again.clone().text()).toBe(201);
    expect(((await again.json()) as { created: number }).created).toBe(12_000);
  }, 60_000);
});

import { describe, expect, it } from 'vitest';
import { seedDemoWarehouse } from '../db/seed';
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

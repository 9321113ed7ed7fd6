import { describe, expect, it } from 'vitest';
import { seedDemoWarehouse } from '../db/seed';
import { one, rows, sql } from '../db/sql';
import { countAll, ONE_MORE } from './support/counting';
import { smallWarehouse } from './support/fixtures';
import { auditEvents, expectProblem, percentile, timed } from './support/problem-checks';
import { useStack } from './support/stack';

/**
 * Decisions sent at the same time queue on the workflow's one lock and are
 * applied one after another: none is lost, none is applied twice, and a
 * decision that no longer fits once the one before it applied is refused.
 */
const PARALLEL = 50;

describe('parallel decisions', () => {
  const t = useStack(async (stack) => {
    await seedDemoWarehouse(stack.db.orm, { positions: 160, warehouseCode: 'PAR' });
    await smallWarehouse(stack.db.orm, 'W2');
  });
  const db = () => t.stack.db.orm.em.fork();

  /** A reconciliation of PAR in review, every row that is not serial-tracked counted one too many (To Approve). */
  let inReview: Promise<{ id: string; workflowId: string }> | undefined;
  const reviewed = () =>
    (inReview ??= (async () => {
      const { stack, f } = t;
      const rec = await f.create({
        warehouse: 'PAR',
        scope: { kind: 'warehouse' },
        tolerance: { default: { quantity: { plus: 0.5, minus: 0.5 } } },
        managerApprovalLimit: 1e9,
      });
      await f.waitFor(rec.id, 'ready');
      await countAll(stack, f, rec.id, ONE_MORE);
      return rec;
    })());

  it('applies 50 approvals sent at once one after another: each answers 200 with rows 1, all 50 rows end approved, 50 audit events', async () => {
    const { stack, f } = t;
    const rec = await reviewed();
    const toApprove = await f.rows(rec.id, '&approval=to_approve');
    expect(toApprove.length).toBeGreaterThanOrEqual(PARALLEL + 10);
    const chosen = toApprove.slice(0, PARALLEL).map((r) => r.id as number);

    const answers = await Promise.all(
      chosen.map((rowId) => timed(() => stack.http('POST', `/reconciliations/${rec.id}/approvals`, { rowIds: [rowId] }))),
    );
    const ms = answers.map((a) => a.ms);
    console.log(
      `parallel approvals: ${PARALLEL} requests, p50 ${percentile(ms, 50).toFixed(0)} ms, p99 ${percentile(ms, 99).toFixed(0)} ms, ` +
        `max ${Math.max(...ms).toFixed(0)} ms`,
    );
    for (const a of answers) {
      expect(a.result.status, JSON.stringify(a.result.body)).toBe(200);
      expect(a.result.body).toEqual({ rows: 1 });
    }

    const states = await rows(db(), sql<{ id: number; approval: string; approved_by: string }>`
      select id::int, approval, approved_by from reconciliation_row where id = any(${chosen}::bigint[]) order by id`);
    expect(states).toEqual([...chosen].sort((a, b) => a - b).map((id) => ({ id, approval: 'approved', approved_by: 'manager-1' })));
    const events = await auditEvents(stack, rec.id, 'row_approved');
    expect(events).toHaveLength(PARALLEL);
    expect(new Set(events.map((e) => e.subject))).toEqual(new Set(chosen.map((id) => `row ${id}`)));
    const trail = await stack.http('GET', `/reconciliations/${rec.id}/audit?limit=1000`);
    expect(trail.body.events.filter((e: { action: string }) => e.action === 'row_approved')).toHaveLength(PARALLEL);
    // Nothing else was approved, and the workflow's counters agree with the database.
    const progress = await f.progress(rec.id);
    expect(progress!.rows.approved).toBe(PARALLEL);
    expect(progress!.rows.toApprove).toBe(toApprove.length - PARALLEL);
  });

  it('two approvals of the same row at once: one approves it, the other changes nothing', async () => {
    const { stack, f } = t;
    const rec = await reviewed();
    const [row] = await f.rows(rec.id, '&approval=to_approve');
    const before = (await auditEvents(stack, rec.id, 'row_approved')).length;
    const answers = await Promise.all([1, 2].map(() => stack.http('POST', `/reconciliations/${rec.id}/approvals`, { rowIds: [row!.id] })));
    expect(answers.map((a) => a.status)).toEqual([200, 200]);
    expect(answers.map((a) => a.body.rows).sort()).toEqual([0, 1]);
    const events = await auditEvents(stack, rec.id, 'row_approved');
    expect(events).toHaveLength(before + 1);
    expect(events.filter((e) => e.subject === `row ${row!.id}`)).toHaveLength(1);
  });

  it('two releases at once: exactly one applies, the other answers 409, and every difference is posted once', async () => {
    const { stack, f } = t;
    const rec = await reviewed();
    await f.decide(rec.id, 'approvals', { filter: { approval: 'to_approve' } });
    const expected = (await one(db(), sql<{ nonzero: number; difference: string; stock: string }>`
      select count(*) filter (where variance_quantity <> 0)::int as nonzero, sum(variance_quantity)::text as difference,
             (select sum(quantity)::text from stock_position where warehouse_code = 'PAR') as stock
      from reconciliation_row where reconciliation_id = ${rec.id}`))!;
    expect(expected.nonzero).toBeGreaterThan(PARALLEL);

    const answers = await Promise.all([1, 2].map(() => stack.http('POST', `/reconciliations/${rec.id}/release`)));
    const ok = answers.filter((a) => a.status === 200);
    const refused = answers.filter((a) => a.status !== 200);
    expect(ok, JSON.stringify(answers.map((a) => a.body))).toHaveLength(1);
    expect(refused).toHaveLength(1);
    expectProblem(refused[0]!, 409, 'invalid-state', 'second release');
    expect(ok[0]!.body).toMatchObject({ rowsToPost: expected.nonzero });

    await f.waitFor(rec.id, 'released', undefined, 60_000);
    expect(await auditEvents(stack, rec.id, 'reconciliation_released')).toHaveLength(1);
    const ledger = (await one(db(), sql<{ transitions: number; postings: number; movements: number; keys: number; moved: string; orders: number }>`
      select (select count(*)::int from status_transition where reconciliation_id = ${rec.id} and status = 'releasing') as transitions,
             (select count(*)::int from posting where reconciliation_id = ${rec.id} and kind = 'transaction' and status = 'done') as postings,
             count(*)::int as movements, count(distinct posting_key)::int as keys, sum(quantity)::text as moved,
             (select count(*)::int from adjustment_order where reconciliation_id = ${rec.id}) as orders
      from movement where posting_key like ${rec.id + ':%'}`))!;
    expect(ledger).toEqual({
      transitions: 1,
      postings: expected.nonzero,
      movements: expected.nonzero,
      keys: expected.nonzero,
      moved: expected.difference,
      orders: 1,
    });
    // Stock moved by exactly the differences, once.
    const stock = (await one(db(), sql<{ now: string; want: string }>`
      select (select sum(quantity) from stock_position where warehouse_code = 'PAR')::text as now,
             (${expected.stock}::numeric + ${expected.difference}::numeric)::text as want`))!;
    expect(stock.now).toBe(stock.want);
  });

  it('two initial counts at once: one creates the count orders, the other answers 409', async () => {
    const { stack, f } = t;
    const rec = await f.create({ warehouse: 'W2', scope: { kind: 'warehouse' }, splitPolicy: { kind: 'by_zone' } });
    await f.waitFor(rec.id, 'ready');
    const answers = await Promise.all([1, 2].map(() => stack.http('POST', `/reconciliations/${rec.id}/initial-count`)));
    const ok = answers.filter((a) => a.status === 200);
    const refused = answers.filter((a) => a.status !== 200);
    expect(ok, JSON.stringify(answers.map((a) => a.body))).toHaveLength(1);
    expect(ok[0]!.body).toEqual({ round: 0, orders: 2, tasks: 3 });
    expect(refused).toHaveLength(1);
    expectProblem(refused[0]!, 409, 'invalid-state', 'second initial count');
    const orders = (await one(db(), sql<{ orders: number; tasks: number; events: number }>`
      select count(*)::int as orders,
             (select count(*)::int from count_task t join count_order o2 on o2.id = t.count_order_id where o2.reconciliation_id = ${rec.id}) as tasks,
             (select count(*)::int from audit_event where reconciliation_id = ${rec.id} and action = 'initial_count_started') as events
      from count_order where reconciliation_id = ${rec.id}`))!;
    expect(orders).toEqual({ orders: 2, tasks: 3, events: 1 });
    expect(await f.progress(rec.id)).toMatchObject({ status: 'counting', round: 0, ordersOpen: 2 });
  });
});

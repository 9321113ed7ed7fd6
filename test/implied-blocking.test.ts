import { describe, expect, it } from 'vitest';
import { rows, sql } from '../db/sql';
import { impliedBlockings } from '../domain/blocking-correction';
import { position, smallWarehouse } from './support/fixtures';
import { useStack } from './support/stack';

/**
 * A count below the blocked quantity, with no blocked figure reported: the
 * blocking cannot exceed what is there, so it is cut to the count (shown in
 * review as implied) and corrected before the OUT on release, instead of the
 * release failing with "blocked quantity would exceed stock".
 */
describe('a count below the blocked quantity', () => {
  const t = useStack(async (stack) => {
    const positions = await smallWarehouse(stack.db.orm);
    // A-02/BOX: 6 boxes, 2 damaged and 3 on quality hold.
    const box = await position(stack.db.orm, 'W1', 'A-02', 'BOX', { quantity: 6 });
    await rows(stack.db.orm.em.fork(), sql`insert into blocking (stock_position_id, reason, quantity) values (${box}, 'damaged', 2), (${box}, 'quality', 3)`);
    return { ...positions, box };
  });

  it('cuts the blockings to the count in reason order, as the domain rule does, and posts them before the OUT', async () => {
    const { stack, f } = t;
    const rec = await f.create({ warehouse: 'W1', scope: { kind: 'locations', locations: ['A-02'] }, tolerance: { default: {} }, managerApprovalLimit: 1e6 });
    await f.waitFor(rec.id, 'ready');
    await f.decide(rec.id, 'initial-count');
    const [order] = await f.orders(rec.id, 0);
    expect((await f.submit(order!.id, 's', [{ location: 'A-02', item: 'P1', quantity: 4 }, { location: 'A-02', item: 'BOX', quantity: 3 }])).status).toBe(201);
    await f.complete(order!.id);
    await f.waitFor(rec.id, 'review', 0);

    const box = await f.row(rec.id, 'BOX', 'A-02');
    const detail = (await stack.http('GET', `/reconciliations/${rec.id}/rows/${box.id}`)).body;
    const expected = impliedBlockings(3, [{ reason: 'damaged', quantity: 2 }, { reason: 'quality', quantity: 3 }]);
    expect(detail.blockings).toEqual(expected.map((b) => ({ reason: b.reason, snapshotQuantity: b.reason === 'damaged' ? 2 : 3, countedQuantity: b.quantity, implied: true })));

    await f.decide(rec.id, 'approvals', { filter: { approval: 'to_approve' } });
    await f.decide(rec.id, 'release');
    await f.waitFor(rec.id, 'released');
    const after = await rows(stack.db.orm.em.fork(), sql<{ quantity: string; blocked: Record<string, string> }>`
      select sp.quantity::text, (select jsonb_object_agg(b.reason, b.quantity::text) from blocking b where b.stock_position_id = sp.id) as blocked
      from stock_position sp where sp.id = ${t.fixture.box}`);
    expect(after).toEqual([{ quantity: '3.0000', blocked: { damaged: '2.0000', quality: '1.0000' } }]);
    const order2 = (await stack.http('GET', `/reconciliations/${rec.id}/rows/${box.id}`)).body.postings.map((p: { kind: string; direction: string | null; reason: string | null }) =>
      p.kind === 'transaction' ? p.direction : `blocking ${p.reason}`);
    expect(order2).toEqual(['blocking quality', 'OUT']);
  });
});

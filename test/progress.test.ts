import { beforeAll, describe, expect, it } from 'vitest';
import { smallWarehouse } from './support/fixtures';
import { useStack } from './support/stack';

/**
 * GET /reconciliations/{id} carries `stepProgress`, the long steps' progress
 * for a progress bar, written by the activities as they advance: after each
 * step has committed, done == total.
 */
describe('step progress', () => {
  const t = useStack((stack) => smallWarehouse(stack.db.orm));
  let id: string;
  let orderId: number;
  const stepProgress = async () => {
    const res = await t.stack.http('GET', `/reconciliations/${id}`);
    expect(res.status).toBe(200);
    return res.body.stepProgress as { phase: string; done: number; total: number | null; ratePerSecond: number | null; startedAt: string; updatedAt: string };
  };

  beforeAll(async () => {
    const rec = await t.f.create({ warehouse: 'W1', scope: { kind: 'warehouse' }, tolerance: { default: { quantity: { plus: 5, minus: 5 } } } });
    id = rec.id;
    await t.f.waitFor(id, 'ready');
  }, 120_000);

  it('shows the snapshot done: done == total == the rows it made', async () => {
    const p = await stepProgress();
    expect(p).toMatchObject({ phase: 'snapshot', done: 5, total: 5 });
    expect(Date.parse(p.updatedAt)).toBeGreaterThanOrEqual(Date.parse(p.startedAt));
  });

  it('shows populate done once the round is reviewed: every decided row, found stock included', async () => {
    await t.f.decide(id, 'initial-count');
    orderId = (await t.f.orders(id, 0))[0]!.id;
    expect((await t.f.submit(orderId, 'p-1', [
      { location: 'A-01', item: 'P1', quantity: 12 },
      { location: 'A-01', item: 'BOX', quantity: 5 },
      { location: 'A-02', item: 'P1', quantity: 4, blocked: { damaged: 1 } },
      { location: 'B-01', item: 'LOT', lot: 'L1', quantity: 20 },
      { location: 'B-01', item: 'SER', serial: 'S1', quantity: 1 },
      // Found: no position expected it.
      { location: 'B-01', item: 'P1', quantity: 1 },
    ])).status).toBe(201);
    await t.f.complete(orderId);
    await t.f.waitFor(id, 'review', 0);
    expect(await stepProgress()).toMatchObject({ phase: 'populate', done: 6, total: 6 });
  });

  it('shows the release done: done == total == the rows it posted', async () => {
    // A-01 P1 (+2) and the found P1 in B-01 (+1) differ, within tolerance: two rows to post.
    expect(await t.f.decide(id, 'release')).toMatchObject({ rowsToPost: 2 });
    await t.f.waitFor(id, 'released');
    const p = await stepProgress();
    expect(p).toMatchObject({ phase: 'release', done: 2, total: 2 });
    expect(p.ratePerSecond === null || p.ratePerSecond > 0).toBe(true);
  });

  it('declares stepProgress in the OpenAPI document of GET /reconciliations/{id}', async () => {
    const res = await fetch(`${t.stack.baseUrl}/openapi.json`);
    const doc = (await res.json()) as { paths: Record<string, Record<string, any>>; components: { schemas: Record<string, any> } };
    const schema = doc.paths['/reconciliations/{id}']!.get.responses['200'].content['application/json'].schema;
    expect(JSON.stringify(schema)).toContain('stepProgress');
    expect(Object.keys(doc.components.schemas.StepProgress.properties).sort()).toEqual(['done', 'phase', 'ratePerSecond', 'startedAt', 'total', 'updatedAt']);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { one, sql } from '../db/sql';
import { smallWarehouse } from './support/fixtures';
import { startStack, tokenOf, type Stack } from './support/stack';

/** Bad input gets a clear 4xx problem+json and changes nothing. */
describe('bad input', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
    await smallWarehouse(stack.db.orm);
  });
  afterAll(async () => stack?.close());

  const raw = (method: string, path: string, body: string, user = 'manager-1') => () =>
    fetch(stack.baseUrl + path, {
      method,
      body: method === 'GET' ? undefined : body,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${tokenOf(user)}` },
    });
  const reconciliations = async () =>
    (await one(stack.db.orm.em.fork(), sql<{ n: number }>`select count(*)::int as n from reconciliation`))!.n;

  it('refuses malformed, unknown, out-of-range and unauthorised requests without writing anything', async () => {
    const cases: Array<[string, () => Promise<Response>, number]> = [
      ['malformed JSON', raw('POST', '/reconciliations', '{"warehouse": "W1",'), 400],
      ['unknown field', raw('POST', '/reconciliations', JSON.stringify({ warehouse: 'W1', scope: { kind: 'warehouse' }, colour: 'red' })), 422],
      ['unknown scope kind', raw('POST', '/reconciliations', JSON.stringify({ warehouse: 'W1', scope: { kind: 'aisle' } })), 422],
      ['negative tolerance', raw('POST', '/reconciliations', JSON.stringify({ warehouse: 'W1', scope: { kind: 'warehouse' }, tolerance: { default: { quantity: { plus: -1, minus: 1 } } } })), 422],
      ['unknown warehouse', raw('POST', '/reconciliations', JSON.stringify({ warehouse: 'NOPE', scope: { kind: 'warehouse' } })), 422],
      ['counter creating', raw('POST', '/reconciliations', JSON.stringify({ warehouse: 'W1', scope: { kind: 'warehouse' } }), 'dev-1'), 403],
      ['unknown token', raw('POST', '/reconciliations', JSON.stringify({ warehouse: 'W1', scope: { kind: 'warehouse' } }), 'nobody'), 401],
      ['not a uuid', raw('GET', '/reconciliations/42', ''), 422],
      ['unknown reconciliation', raw('GET', '/reconciliations/00000000-0000-4000-8000-000000000000', ''), 404],
      ['unknown count order', raw('POST', '/count-orders/999999/submissions', JSON.stringify({ submissionId: 's', device: 'd', entries: [{ location: 'A-01', item: 'P1', quantity: 1 }] }), 'dev-1'), 404],
      ['negative count', raw('POST', '/count-orders/1/submissions', JSON.stringify({ submissionId: 's', device: 'd', entries: [{ location: 'A-01', item: 'P1', quantity: -1 }] }), 'dev-1'), 422],
      ['empty batch', raw('POST', '/count-orders/1/submissions', JSON.stringify({ submissionId: 's', device: 'd', entries: [] }), 'dev-1'), 422],
      ['no route', raw('GET', '/stockrooms', ''), 404],
    ];
    for (const [name, request, status] of cases) {
      const res = await request();
      expect(res.status, name).toBe(status);
      expect(res.headers.get('content-type'), name).toContain('application/problem+json');
      const problem = (await res.json()) as { type: string; title: string; status: number };
      expect(problem.status, name).toBe(status);
      expect(problem.title, name).toBeTruthy();
    }
    expect(await reconciliations()).toBe(0);
  });
});

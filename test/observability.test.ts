import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { smallWarehouse } from './support/fixtures';
import { jsonLines, sample, spawnApi, spawnMetricsWorker } from './support/observability';
import type { SpawnedGroup } from './support/processes';
import { tokenOf, useStack } from './support/stack';
import { eventually } from './support/wait';

/**
 * What operators see: JSON log lines from the API and worker processes as
 * deployed (`npm run api`, `npm run worker`), Prometheus metrics at /metrics
 * while a reconciliation runs, and the Temporal SDK's worker metrics on
 * WORKER_METRICS_PORT. The stack's API and worker (in this process) run
 * reconciliation A in zone A; the spawned API and worker, on a task queue of
 * their own, run reconciliation B in zone B.
 */
describe('observability', () => {
  const t = useStack((stack) => smallWarehouse(stack.db.orm));
  const queue = `observed-${randomUUID()}`;
  const spawned = {} as { api: { group: SpawnedGroup; baseUrl: string }; worker: { group: SpawnedGroup; metricsUrl: string } };
  beforeAll(async () => {
    const [api, worker] = await Promise.all([spawnApi(t.stack, queue), spawnMetricsWorker(t.stack, queue)]);
    Object.assign(spawned, { api, worker });
  }, 240_000);
  afterAll(async () => {
    await spawned.api?.group.kill();
    await spawned.worker?.group.kill();
  });

  const call = (baseUrl: string, path: string, init: { as?: string | null; method?: string; body?: unknown; headers?: Record<string, string> } = {}) =>
    fetch(baseUrl + path, {
      method: init.method ?? 'GET',
      headers: {
        'content-type': 'application/json',
        ...(init.as === null ? {} : { authorization: `Bearer ${tokenOf(init.as ?? 'manager-1')}` }),
        ...init.headers,
      },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
  const scrape = async () => {
    const res = await call(t.stack.baseUrl, '/metrics', { as: 'auditor-1' });
    expect(res.status).toBe(200);
    return res.text();
  };
  const apiLines = () => jsonLines(spawned.api.group.output());

  describe('logs', () => {
    it('echoes a sane x-request-id and writes the request as one JSON line carrying it', async () => {
      const requestId = `probe-${randomUUID()}`;
      const res = await call(spawned.api.baseUrl, '/health', { as: null, headers: { 'x-request-id': requestId } });
      expect(res.headers.get('x-request-id')).toBe(requestId);
      const line = await eventually(async () => apiLines().find((l) => l.requestId === requestId), 'the access log line');
      expect(line).toMatchObject({ level: 'info', event: 'http_request', method: 'GET', route: '/health', status: 200 });
      expect(typeof line.durationMs).toBe('number');
      expect(Number.isNaN(Date.parse(String(line.time)))).toBe(false);
    });

    it('replaces an x-request-id that is not sane with a generated one', async () => {
      const res = await call(spawned.api.baseUrl, '/health', { as: null, headers: { 'x-request-id': 'two words\tand a tab' } });
      expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    });

    it('logs who called with the route pattern and the reconciliation, never the token', async () => {
      const requestId = `who-${randomUUID()}`;
      const id = randomUUID();
      const res = await call(spawned.api.baseUrl, `/reconciliations/${id}`, { headers: { 'x-request-id': requestId } });
      expect(res.status).toBe(404);
      const line = await eventually(async () => apiLines().find((l) => l.requestId === requestId), 'the access log line');
      expect(line).toMatchObject({ principal: 'manager-1', role: 'manager', route: '/reconciliations/:id', reconciliationId: id, status: 404 });
      expect(spawned.api.group.output()).not.toContain(tokenOf('manager-1'));
    });

    it("logs a step's activity lines as JSON with the workflow id and the activity's type and id", async () => {
      const created = await call(spawned.api.baseUrl, '/reconciliations', { method: 'POST', body: { warehouse: 'W1', scope: { kind: 'zones', zones: ['B'] } } });
      expect(created.status).toBe(201);
      const rec = (await created.json()) as { id: string; workflowId: string };
      const workerLines = () => jsonLines(spawned.worker.group.output());
      const finished = await eventually(
        async () => workerLines().find((l) => l.reconciliationId === rec.id && l.msg === 'snapshot finished'),
        'the snapshot to be logged by the spawned worker',
        60_000,
      );
      expect(finished).toMatchObject({ level: 'info', phase: 'snapshot', done: 2, workflowId: rec.workflowId, activityType: 'generateSnapshot', taskQueue: queue });
      expect(typeof finished.activityId).toBe('string');
      // The task token would let its holder complete the activity: never logged.
      expect(finished).not.toHaveProperty('taskToken');
    });
  });

  describe('metrics', () => {
    it('answers /metrics to admin and auditor only', async () => {
      expect((await call(t.stack.baseUrl, '/metrics', { as: null })).status).toBe(401);
      expect((await call(t.stack.baseUrl, '/metrics', { as: 'manager-1' })).status).toBe(403);
      expect((await call(t.stack.baseUrl, '/metrics', { as: 'dev-1' })).status).toBe(403);
      expect((await call(t.stack.baseUrl, '/metrics', { as: 'admin-1' })).status).toBe(200);
      const res = await call(t.stack.baseUrl, '/metrics', { as: 'auditor-1' });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/plain');
    });

    it('lets an auditor granted no warehouse scrape, while it reads no reconciliation', async () => {
      const created = await call(t.stack.baseUrl, '/users', { as: 'admin-1', method: 'POST', body: { name: 'prometheus', role: 'auditor', warehouses: [] } });
      expect(created.status).toBe(201);
      const { token } = (await created.json()) as { token: string };
      const as = { authorization: `Bearer ${token}` };
      expect((await call(t.stack.baseUrl, '/metrics', { as: null, headers: as })).status).toBe(200);
      const listed = await call(t.stack.baseUrl, '/reconciliations', { as: null, headers: as });
      expect(((await listed.json()) as { reconciliations: unknown[] }).reconciliations).toEqual([]);
    });

    describe('while reconciliation A runs', () => {
      let rec: { id: string; workflowId: string };
      let orderId: number;
      beforeAll(async () => {
        rec = await t.f.create({ warehouse: 'W1', scope: { kind: 'zones', zones: ['A'] }, tolerance: { default: { quantity: { plus: 5, minus: 5 } } } });
        await t.f.waitFor(rec.id, 'ready');
        await t.f.decide(rec.id, 'initial-count');
        orderId = (await t.f.orders(rec.id, 0))[0]!.id;
      }, 120_000);

      it('labels the HTTP metrics with the route pattern, never the raw path', async () => {
        await t.stack.http('GET', `/reconciliations/${rec.id}`);
        const text = await scrape();
        expect(sample(text, 'stocktake_http_requests_total', { method: 'GET', route: '/reconciliations/:id', status: '200' })).toBeGreaterThanOrEqual(1);
        expect(sample(text, 'stocktake_http_request_duration_seconds_count', { method: 'GET', route: '/reconciliations/:id', status: '200' })).toBeGreaterThanOrEqual(1);
        expect(sample(text, 'stocktake_http_request_duration_seconds_bucket', { route: '/reconciliations/:id', le: '+Inf' })).toBeGreaterThanOrEqual(1);
        expect(text).not.toContain(rec.id);
      });

      it('reports reconciliations by status, read from the database', async () => {
        const text = await scrape();
        expect(sample(text, 'stocktake_reconciliations', { status: 'counting' })).toBe(1);
        expect(sample(text, 'stocktake_reconciliations', { status: 'released' })).toBe(0);
      });

      it('counts the entries of an accepted submission once, not again for its retry', async () => {
        const before = sample(await scrape(), 'stocktake_count_entries_accepted_total') ?? 0;
        const entries = [
          { location: 'A-01', item: 'P1', quantity: 12 },
          { location: 'A-01', item: 'BOX', quantity: 5 },
          { location: 'A-02', item: 'P1', quantity: 4, blocked: { damaged: 1 } },
        ];
        expect((await t.f.submit(orderId, 'obs-1', entries)).status).toBe(201);
        expect((await t.f.submit(orderId, 'obs-1', entries)).status).toBe(200);
        expect(sample(await scrape(), 'stocktake_count_entries_accepted_total')).toBe(before + 3);
      });

      it('counts the rows a release posted', async () => {
        const before = sample(await scrape(), 'stocktake_postings_total', { outcome: 'done' }) ?? 0;
        await t.f.complete(orderId);
        await t.f.waitFor(rec.id, 'review', 0);
        // Only A-01 P1 differs (+2, within tolerance): one row to post.
        expect(await t.f.decide(rec.id, 'release')).toMatchObject({ rowsToPost: 1 });
        await t.f.waitFor(rec.id, 'released');
        const text = await scrape();
        expect(sample(text, 'stocktake_postings_total', { outcome: 'done' })).toBe(before + 1);
        expect(sample(text, 'stocktake_postings_total', { outcome: 'failed' }) ?? 0).toBe(0);
      });
    });

    it("serves the Temporal SDK's worker metrics, with Stocktake's, on WORKER_METRICS_PORT", async () => {
      const res = await fetch(spawned.worker.metricsUrl);
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(text).toMatch(/^temporal_\w+/m);
      expect(text).toMatch(new RegExp(`^temporal_\\w+\\{[^}]*task_queue="${queue}"`, 'm'));
      expect(text).toContain('# TYPE stocktake_postings_total counter');
    });
  });
});

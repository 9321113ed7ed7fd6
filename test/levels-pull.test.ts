import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rows, sql } from '../db/sql';
import { LevelsFetchError, pullLevels } from '../store/levels';
import { Refusal } from '../store/refusal';
import { registerSystem } from '../store/systems';
import { smallWarehouse } from './support/fixtures';
import { createRun, createSystemsUsers, erp, useSystemsStack, WMS } from './support/systems-stack';

/**
 * A pulled system's levels, fetched from a real HTTP server in this process
 * (node:http) that checks the Authorization header: retried on 503 and on a
 * dropped connection, final on 4xx with a message that never holds the
 * secret, bounded when the system never recovers.
 */
const SECRET = 'Bearer erp-pull-secret-51c2';
const WRONG = 'Bearer wrong-secret-0d9e';

type Behaviour = 'fail-twice' | 'always-503' | 'drop-first' | 'json-lines' | 'redirect';

describe('pulled levels', () => {
  /** Requests the server got, per request id. */
  const seen = new Map<string, Array<{ authorization: string | undefined; query: URLSearchParams }>>();
  const behaviour = new Map<string, Behaviour>();
  let server: http.Server;
  let base = '';

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const id = url.searchParams.get('requestId') ?? '';
      const calls = seen.get(id) ?? [];
      calls.push({ authorization: req.headers.authorization, query: url.searchParams });
      seen.set(id, calls);
      if (req.headers.authorization !== SECRET) {
        // Echoes what it got, as careless servers do: the caller must not repeat it.
        res.writeHead(401, { 'content-type': 'text/plain' }).end(`unauthorized: got ${req.headers.authorization}`);
        return;
      }
      const how = behaviour.get(id) ?? 'fail-twice';
      if (how === 'always-503' || (how === 'fail-twice' && calls.length <= 2)) {
        res.writeHead(503, { 'content-type': 'text/plain' }).end('busy');
        return;
      }
      if (how === 'drop-first' && calls.length === 1) {
        res.writeHead(200, { 'content-type': 'text/csv' });
        res.write('item,warehouse,status,quantity\nP1,W1,available,14\n');
        setTimeout(() => res.socket?.destroy(), 20);
        return;
      }
      if (how === 'redirect') {
        res.writeHead(302, { location: 'http://127.0.0.2:9/elsewhere' }).end();
        return;
      }
      if (how === 'json-lines') {
        res.writeHead(200, { 'content-type': 'application/x-ndjson' }).end('{"item":"P1","warehouse":"W1","status":"available","quantity":14}\n');
        return;
      }
      res.writeHead(200, { 'content-type': 'text/csv; charset=utf-8' });
      res.write('item,warehouse,status,quantity\n');
      res.write('P1,W1,available,13\n');
      res.end('P1,W1,unavailable,1\n');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const t = useSystemsStack(async (stack) => {
    await smallWarehouse(stack.orm, 'W1');
    await smallWarehouse(stack.orm, 'W2');
    await createSystemsUsers(stack.orm);
    await registerSystem(stack.orm.em.fork(), erp(`${base}/levels?tenant=7`, SECRET), 'admin-1');
    await registerSystem(stack.orm.em.fork(), erp(`${base}/levels`, WRONG, 'erp-wrong'), 'admin-1');
    await registerSystem(stack.orm.em.fork(), WMS, 'admin-1');
  });

  const levelsOf = (runId: string) =>
    rows(t.stack.orm.em.fork(), sql<{ line: number; item: string; location: string; status: string; quantity: string }>`
      select line, item_code as item, location_code as location, status, quantity::text as quantity
      from source_level where system_reconciliation_id = ${runId} and source like 'erp%' order by line`);
  const pull = (runId: string, source = 'erp', beats?: { n: number }) =>
    pullLevels(t.stack.orm, runId, source, () => {
      if (beats) beats.n++;
    }, { backoffMs: 5, timeoutMs: 5_000 });

  it('retries two 503s and stores the third answer', async () => {
    const run = await createRun(t.stack.orm, { sourceA: 'erp', sourceB: 'book', selection: { itemFrom: 'A', itemTo: 'Q' } });
    expect(await pull(run)).toEqual({ lines: 2 });
    expect(seen.get(run)).toHaveLength(3);
    expect(await levelsOf(run)).toEqual([
      { line: 2, item: 'P1', location: '', status: 'available', quantity: '13.0000' },
      { line: 3, item: 'P1', location: '', status: 'unavailable', quantity: '1.0000' },
    ]);
  });

  it('sends the configured Authorization header on every attempt', async () => {
    const run = await createRun(t.stack.orm, { sourceA: 'erp', sourceB: 'book' });
    await pull(run);
    expect(seen.get(run)!.map((c) => c.authorization)).toEqual([SECRET, SECRET, SECRET]);
  });

  it('asks with the request id, warehouse and selection, keeping the URL’s own parameters', async () => {
    const run = await createRun(t.stack.orm, { sourceA: 'erp', sourceB: 'book', selection: { itemFrom: 'A', itemTo: 'Q', items: ['P1', 'BOX'], locations: ['A-01'] } });
    await pull(run);
    const q = seen.get(run)![0]!.query;
    expect({
      tenant: q.get('tenant'), requestId: q.get('requestId'), warehouse: q.get('warehouse'), itemFrom: q.get('itemFrom'), itemTo: q.get('itemTo'),
      items: q.getAll('items'), locations: q.getAll('locations'),
    }).toEqual({ tenant: '7', requestId: run, warehouse: 'W1', itemFrom: 'A', itemTo: 'Q', items: ['P1', 'BOX'], locations: ['A-01'] });
  });

  it('heartbeats while it waits and reads', async () => {
    const run = await createRun(t.stack.orm, { sourceA: 'erp', sourceB: 'book' });
    const beats = { n: 0 };
    await pull(run, 'erp', beats);
    expect(beats.n).toBeGreaterThanOrEqual(3);
  });

  it('reads JSON lines when the answer says application/x-ndjson', async () => {
    const run = await createRun(t.stack.orm, { sourceA: 'erp', sourceB: 'book' });
    behaviour.set(run, 'json-lines');
    expect(await pull(run)).toEqual({ lines: 1 });
    expect((await levelsOf(run)).map((l) => l.quantity)).toEqual(['14.0000']);
  });

  it('retries a connection dropped mid-body, keeping nothing of the broken attempt', async () => {
    const run = await createRun(t.stack.orm, { sourceA: 'erp', sourceB: 'book' });
    behaviour.set(run, 'drop-first');
    expect(await pull(run)).toEqual({ lines: 2 });
    expect(seen.get(run)).toHaveLength(2);
    expect((await levelsOf(run)).map((l) => l.quantity)).toEqual(['13.0000', '1.0000']);
  });

  it('gives up on a 4xx at once, with a clear message that does not hold the secret', async () => {
    const run = await createRun(t.stack.orm, { sourceA: 'erp-wrong', sourceB: 'book' });
    const failure = await pull(run, 'erp-wrong').then(() => undefined, (e: unknown) => e);
    expect(failure).toBeInstanceOf(Refusal);
    expect((failure as Refusal).type).toBe('InvalidLevels');
    expect((failure as Refusal).message).toMatch(/^erp-wrong \(GET http:\/\/127\.0\.0\.1:\d+\/levels\) answered 401: unauthorized: got \[authorization\]$/);
    expect(JSON.stringify({ m: (failure as Refusal).message, x: (failure as Refusal).extra })).not.toContain('wrong-secret');
    expect(seen.get(run)).toHaveLength(1);
    expect(await levelsOf(run)).toEqual([]);
  });

  it('does not follow a redirect (the secret stays with the configured host): final, one call', async () => {
    const run = await createRun(t.stack.orm, { sourceA: 'erp', sourceB: 'book' });
    behaviour.set(run, 'redirect');
    await expect(pull(run)).rejects.toMatchObject({ type: 'InvalidLevels', message: expect.stringContaining('answered 302 (a redirect)') });
    expect(seen.get(run)).toHaveLength(1);
  });

  it('stops after the attempts it was given when the system never recovers (retryable), without the secret', async () => {
    const run = await createRun(t.stack.orm, { sourceA: 'erp', sourceB: 'book' });
    behaviour.set(run, 'always-503');
    const failure = await pullLevels(t.stack.orm, run, 'erp', () => {}, { attempts: 3, backoffMs: 5 }).then(() => undefined, (e: unknown) => e);
    expect(failure).toBeInstanceOf(LevelsFetchError);
    expect((failure as Error).message).toMatch(/failed 3 times; last: answered 503$/);
    expect((failure as Error).message).not.toContain('pull-secret');
    expect(seen.get(run)).toHaveLength(3);
  });

  it('stops at once, storing nothing, when the heartbeat says the step was cancelled while reading', async () => {
    const run = await createRun(t.stack.orm, { sourceA: 'erp', sourceB: 'book' });
    behaviour.set(run, 'json-lines');
    let beats = 0;
    const cancelled = new Error('cancelled');
    const failure = await pullLevels(t.stack.orm, run, 'erp', () => {
      // The first beat comes before the call, the second with the body's first chunk.
      if (++beats === 2) throw cancelled;
    }, { backoffMs: 5 }).then(() => undefined, (e: unknown) => e);
    expect(failure).toBe(cancelled);
    expect(seen.get(run)).toHaveLength(1);
    expect(await levelsOf(run)).toEqual([]);
  });

  it('does not call again for levels already received', async () => {
    const run = await createRun(t.stack.orm, { sourceA: 'erp', sourceB: 'book' });
    await pull(run);
    expect(await pull(run)).toEqual({ lines: 2 });
    expect(seen.get(run)).toHaveLength(3);
  });

  it('refuses to pull a system that pushes its levels', async () => {
    const run = await createRun(t.stack.orm, { sourceA: 'erp', sourceB: 'wms-dc1' });
    await expect(pull(run, 'wms-dc1')).rejects.toMatchObject({ type: 'InvalidMapping' });
  });
});

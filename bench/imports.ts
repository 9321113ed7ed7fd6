import fs from 'node:fs';
import type { Server } from 'node:http';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { serve } from '@hono/node-server';
import type { Client } from '@temporalio/client';
import { createApp } from '../api/app';
import { migrate, openOrm } from '../db/orm';
import { affected, one, sizeForBulk, sql } from '../db/sql';
import { freePort } from '../platform/free-port';
import { startEmbeddedPostgres } from '../platform/embedded-postgres';
import { upsertUser } from '../store/users';
import { differingStockSql, handWrittenStockLoad } from './import-baseline';

/**
 * `npx tsx bench/imports.ts [--lines 1000000]`: a stock load of N lines over
 * real HTTP into a throwaway embedded PostgreSQL (durable commits, defaults),
 * as an integration would send it: CSV generated on the fly and streamed, so
 * neither side ever holds the body. Loaded three times: every position new,
 * then every quantity changed (the update path with its movements), then
 * the same stock again under a new Import-Id (nothing changes).
 * Prints time, lines per second and the Node process's peak RSS (API and the
 * generating client share the process, so the figure is an upper bound for
 * the API). Not part of npm test.
 */
const { values } = parseArgs({
  options: { lines: { type: 'string', default: '1000000' }, out: { type: 'string', default: path.join('.test-data', 'bench-imports.json') } },
});
const N = Number(values.lines);
const LOCATIONS = Math.max(1, Math.ceil(N / 100));
const ITEMS = 100;

/** A CSV body generated on the fly, a header and then 2,000 lines a chunk, so no side ever holds all of it. */
function* csvChunks(header: string, count: number, line: (i: number) => string): Generator<string> {
  yield header + '\n';
  for (let i = 0; i < count; i += 2_000) {
    const chunk: string[] = [];
    for (let j = i; j < Math.min(count, i + 2_000); j++) chunk.push(line(j));
    yield chunk.join('\n') + '\n';
  }
}

const dataDir = path.resolve('.test-data', `bench-imports-${process.pid}`);
const pg = await startEmbeddedPostgres({ dataDir, persistent: false });
const orm = await openOrm(pg.adminUrl, { poolMax: 4 });
let server: Server | undefined;
try {
  await migrate(orm);
  await upsertUser(orm.em.fork(), 'bench-wms', 'integration', 'token-bench-wms', { kind: 'system' });
  const app = createApp({ orm, temporal: {} as Client, taskQueue: 'bench', decisionKey: new Uint8Array(32) });
  const port = await freePort();
  server = serve({ fetch: app.fetch, port, hostname: '127.0.0.1' }) as Server;
  const base = `http://127.0.0.1:${port}`;

  const load = async (kind: string, importId: string, header: string, count: number, line: (i: number) => string) => {
    const encoder = new TextEncoder();
    const chunks = csvChunks(header, count, line);
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        const next = chunks.next();
        if (next.done) controller.close();
        else controller.enqueue(encoder.encode(next.value));
      },
    });
    const t0 = performance.now();
    const res = await fetch(`${base}/imports/${kind}`, {
      method: 'POST',
      headers: { authorization: 'Bearer token-bench-wms', 'content-type': 'text/csv', 'import-id': importId },
      body,
      duplex: 'half',
    } as RequestInit);
    const text = await res.text();
    const ms = performance.now() - t0;
    if (res.status !== 201) throw new Error(`${kind} ${importId}: ${res.status} ${text.slice(0, 500)}`);
    return { ms, summary: JSON.parse(text) as Record<string, number> };
  };

  await load('warehouses', 'wh', 'code,name', 1, () => 'BENCH,Bench warehouse');
  await load('zones', 'zones', 'warehouse,code', 10, (i) => `BENCH,Z${i}`);
  await load('locations', 'locations', 'warehouse,zone,code', LOCATIONS, (i) => `BENCH,Z${i % 10},L${i}`);
  await load('items', 'items', 'code,storageUnit,inventoryUnit,conversionFactor,standardCost', ITEMS, (i) => `I${i},PCS,PCS,1,2.5`);

  const baselineRssMb = Math.round(process.memoryUsage().rss / 2 ** 20);
  console.log(`RSS before the stock loads: ${baselineRssMb} MB`);
  const stockLine = (shift: number, warehouse = 'BENCH') => (i: number) =>
    `${warehouse},L${i % LOCATIONS},I${Math.floor(i / LOCATIONS) % ITEMS},,,${Math.floor(i / (LOCATIONS * ITEMS)) || ''},,${1 + ((i + shift) % 7)},${i % 10 === 0 ? 'damaged=1' : ''}`;
  const header = 'warehouse,location,item,lot,serial,handlingUnit,owner,quantity,blocked';
  const results: Array<{ load: string; ms: number; linesPerSecond: number; summary: Record<string, number> }> = [];
  const em = orm.em.fork();
  /** A copy of the bench warehouse's zones and locations, for a baseline to write its stock into. */
  const copyLayout = async (code: string) => {
    await affected(em, sql`insert into warehouse (code, name) values (${code}, ${'Baseline ' + code})`);
    await affected(em, sql`insert into zone (warehouse_code, code) select ${code}, code from zone where warehouse_code = 'BENCH'`);
    await affected(em, sql`
      insert into location (warehouse_code, zone_id, code)
      select ${code}, z2.id, l.code from location l join zone z on z.id = l.zone_id
      join zone z2 on z2.warehouse_code = ${code} and z2.code = z.code where l.warehouse_code = 'BENCH'`);
  };
  const record = (name: string, ms: number, summary: Record<string, number> = {}) => {
    const linesPerSecond = Math.round(N / (ms / 1000));
    results.push({ load: name, ms: Math.round(ms), linesPerSecond, summary });
    console.log(`${name}: ${N} lines in ${(ms / 1000).toFixed(1)} s, ${linesPerSecond} lines/s  ${JSON.stringify(summary)}`);
  };
  const runs = [['new positions', 0, 'new'], ['every quantity changed', 1, 'changed'], ['nothing changed (the same stock again)', 1, 'again']] as const;
  for (const [name, shift, id] of runs) {
    const { ms, summary } = await load('stock', `stock-${id}`, header, N, stockLine(shift));
    record(`stock, ${name}`, ms, summary);
    if (id !== 'new') continue;
    // Baseline in the same run, while the bench warehouse holds the new
    // stock: the same body loaded by hand-written SQL (bench/import-baseline.ts)
    // into a copy of the warehouse's layout, checked to write the same stock.
    await copyLayout('HAND');
    const h0 = performance.now();
    await handWrittenStockLoad(pg.adminUrl, csvChunks(header, N, stockLine(shift, 'HAND')));
    record('baseline: the same body by hand-written SQL (COPY, then one INSERT ... SELECT each)', performance.now() - h0);
    const differing = (await one(em, sql<{ n: number }>`${sql.raw(differingStockSql('BENCH', 'HAND'))}`))!.n;
    if (differing !== 0) throw new Error(`the hand-written load wrote other stock than Stocktake's: ${differing} rows differ`);
  }
  // The database's limit in the same run: the same new positions, blockings
  // and movements generated inside PostgreSQL (one INSERT ... SELECT, no
  // body at all), for another copy of the warehouse's layout.
  await copyLayout('BASE');
  const b0 = performance.now();
  await em.transactional(async (tx) => {
    // The memory Stocktake's load gives its statements (store/imports/load.ts).
    await sizeForBulk(tx);
    await affected(tx, sql`
      create temp table base_position on commit drop as
      with p as (
        insert into stock_position (warehouse_code, location_id, item_id, handling_unit, quantity)
        select 'BASE', l.id, it.id, case when g.i / ${LOCATIONS * ITEMS} = 0 then '' else (g.i / ${LOCATIONS * ITEMS})::text end, 1 + g.i % 7
        from generate_series(0::bigint, ${N - 1}) g(i)
        join location l on l.warehouse_code = 'BASE' and l.code = 'L' || (g.i % ${LOCATIONS})
        join item it on it.code = 'I' || ((g.i / ${LOCATIONS}) % ${ITEMS})
        returning id, quantity
      ) select * from p`);
    await affected(tx, sql`insert into blocking (stock_position_id, reason, quantity) select id, 'damaged', 1 from base_position where id % 10 = 0`);
    await affected(tx, sql`insert into movement (stock_position_id, kind, quantity, reference) select id, 'adjustment', quantity, 'baseline' from base_position`);
  });
  record('limit: the same new positions generated in PostgreSQL alone', performance.now() - b0);

  const check = await one(orm.em.fork(), sql<{ positions: number; movements: number }>`
    select (select count(*)::int from stock_position) as positions, (select count(*)::int from movement) as movements`);
  console.log(`database: ${check!.positions} positions, ${check!.movements} movements`);
  const peakRssMb = Math.round(process.resourceUsage().maxRSS / 1024);
  console.log(`peak RSS of the Node process (API and client): ${peakRssMb} MB`);
  fs.mkdirSync(path.dirname(path.resolve(values.out)), { recursive: true });
  fs.writeFileSync(values.out, JSON.stringify({ lines: N, baselineRssMb, peakRssMb, results }, null, 2));
} finally {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await orm.close();
  await pg.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
}

import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { randomUUID } from 'node:crypto';
import { migrate, openOrm, type Orm } from '../db/orm';
import { affected, one, sizeForBulk, sql, type Em } from '../db/sql';
import { compareSources, type CompareResult } from '../store/system-reconciliation/compare';

/**
 * `npx tsx bench/system-comparison.ts [--positions 1000000] [--erp location|warehouse]`:
 * the system comparison (Reconcile) at scale on a throwaway embedded
 * PostgreSQL. Generates `positions` stock positions per side, set-based in
 * SQL: a WMS per location, an ERP per location (or per warehouse: its levels
 * rolled up), with mapped statuses, items in cases, boxes and EA, and about 1%
 * differences (a third of them within tolerance, the rest explained by
 * unprocessed messages, by movements in the cutoff window, or exceptions),
 * plus noise (processed messages, old movements) and an earlier matched run.
 * Then times compareSources beside a hand-written set-based SQL comparison
 * of the same rules, checks that both find the same differences, and reports
 * the peak RSS of Node and of each PostgreSQL backend. Results in
 * .test-data/system-comparison.json.
 *
 * The core (runSystemComparisonBench) takes a database URL, so a test runs it
 * at a small size on its own database.
 */

export interface SystemComparisonBench {
  positions: number;
  erpGranularity: 'location' | 'warehouse';
  levelRows: { erp: number; wms: number };
  result: CompareResult;
  generateMs: number;
  compareMs: number;
  /** The hand-written comparison, run before and after compareSources (the first pays the colder cache). */
  baselineMs: [number, number];
  /** compareMs / the faster baseline. */
  ratio: number;
  /** Lines the baseline has and compareSources has not, and the other way round. */
  missing: number;
  extra: number;
  identical: boolean;
  /** VmHWM of the backend that ran compareSources / the baseline (a fresh connection each). */
  compareBackendPeakRssMb: number | null;
  baselineBackendPeakRssMb: number | null;
  /** Sampled peak of that backend plus its parallel workers (an upper bound: shared buffers count in each). */
  compareWithWorkersPeakRssMb: number | null;
  baselineWithWorkersPeakRssMb: number | null;
  nodePeakRssMb: number;
}

const AS_OF = '2024-06-01T10:00:00Z';
const TOLERANCE = { default: { quantity: { plus: 1, minus: 1 } } };
const CUTOFF_MINUTES = 60;

/** Deterministic 0 .. 2^32-1 from an integer expression (as db/seed.ts). */
function hash(expr: string, multiplier: number): string {
  const a = `((((${expr})::bigint + 1) * ${multiplier}) & 4294967295)`;
  const b = `(((${a} # (${a} >> 16)) * 73244475) & 4294967295)`;
  return `(${b} # (${b} >> 16))`;
}

interface Names {
  warehouse: string;
  erp: string;
  wms: string;
  runId: string;
  earlierRunId: string;
}

export async function runSystemComparisonBench(
  url: string,
  opts: { positions: number; erpGranularity?: 'location' | 'warehouse'; log?: (line: string) => void },
): Promise<SystemComparisonBench> {
  const positions = opts.positions;
  const erpGranularity = opts.erpGranularity ?? 'location';
  const log = opts.log ?? (() => {});
  const tag = erpGranularity === 'location' ? 'L' : 'W';
  const names: Names = {
    warehouse: `SCB${tag}`,
    erp: `SCB-ERP-${tag}`,
    wms: `SCB-WMS-${tag}`,
    runId: randomUUID(),
    earlierRunId: randomUUID(),
  };

  const setup = await openOrm(url, { poolMax: 1 });
  let generateMs: number;
  let levelRows: { erp: number; wms: number };
  try {
    const t0 = performance.now();
    levelRows = await setup.em.fork().transactional((em) => generate(em, names, positions, erpGranularity));
    for (const table of ['source_level', 'interface_message', 'movement_event', 'item', 'unit_mapping', 'status_mapping']) {
      await affected(setup.em.fork(), sql`analyze ${sql.table(table)}`);
    }
    generateMs = Math.round(performance.now() - t0);
    log(`generate ${positions} positions per side (ERP per ${erpGranularity})  ${generateMs} ms  (ERP ${levelRows.erp} rows, WMS ${levelRows.wms} rows)`);
  } finally {
    await setup.close();
  }

  const baselineMs: number[] = [];
  let baselineBackendPeakRssMb: number | null = null;
  let baselineWithWorkersPeakRssMb: number | null = null;
  const baseline = async () => {
    const b = await timedOnFreshBackend(url, (em) => handWrittenComparison(em, names, erpGranularity === 'location'));
    baselineMs.push(b.ms);
    baselineBackendPeakRssMb = Math.max(baselineBackendPeakRssMb ?? 0, b.peakRssMb ?? 0) || null;
    baselineWithWorkersPeakRssMb = Math.max(baselineWithWorkersPeakRssMb ?? 0, b.withWorkersMb ?? 0) || null;
    log(`hand-written SQL comparison  ${b.ms} ms  (${b.value} differences; backend peak RSS ${b.peakRssMb ?? '?'} MB, with parallel workers ${b.withWorkersMb ?? '?'} MB)`);
  };
  await baseline();
  const compared = await timedOnFreshBackend(url, (em) => compareSources(em, names.runId, () => {}));
  const result = compared.value;
  log(`compareSources  ${compared.ms} ms  (${JSON.stringify(result)}; backend peak RSS ${compared.peakRssMb ?? '?'} MB, with parallel workers ${compared.withWorkersMb ?? '?'} MB)`);
  await baseline();

  const check = await openOrm(url, { poolMax: 1 });
  let missing: number;
  let extra: number;
  try {
    ({ missing, extra } = await check.em.fork().transactional(async (em) => {
      await handWrittenComparison(em, names, erpGranularity === 'location');
      const d = await one(
        em,
        sql<{ missing: number; extra: number }>`
          with actual as (
            select item_id, warehouse_code, location_code, category, quantity_a, quantity_b, difference, value, outcome, root_cause
            from system_difference where system_reconciliation_id = ${names.runId}
          ),
          expected as (
            select item_id, warehouse_code, location_code, category, quantity_a, quantity_b, difference, value, outcome, root_cause
            from bench_expected
          )
          select (select count(*) from (select * from expected except all select * from actual) x)::int as missing,
                 (select count(*) from (select * from actual except all select * from expected) y)::int as extra`,
      );
      return d!;
    }));
  } finally {
    await check.close();
  }
  const fastest = Math.min(...baselineMs);
  const bench: SystemComparisonBench = {
    positions,
    erpGranularity,
    levelRows,
    result,
    generateMs,
    compareMs: compared.ms,
    baselineMs: [baselineMs[0]!, baselineMs[1]!],
    ratio: fastest > 0 ? Number((compared.ms / fastest).toFixed(2)) : 0,
    missing,
    extra,
    identical: missing === 0 && extra === 0,
    compareBackendPeakRssMb: compared.peakRssMb,
    baselineBackendPeakRssMb,
    compareWithWorkersPeakRssMb: compared.withWorkersMb,
    baselineWithWorkersPeakRssMb,
    nodePeakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
  };
  log(`compareSources / hand-written SQL: x${bench.ratio}; same differences: ${bench.identical} (missing ${missing}, extra ${extra})`);
  return bench;
}

/**
 * Runs `work` in one transaction on a connection of its own (a fresh backend),
 * timed, with that backend's peak RSS (VmHWM) and, sampled every 100 ms, the
 * peak of its RSS plus that of its parallel workers (separate processes;
 * shared buffers count in each, so the sum is an upper bound).
 */
async function timedOnFreshBackend<T>(url: string, work: (em: Em) => Promise<T>): Promise<{ value: T; ms: number; peakRssMb: number | null; withWorkersMb: number | null }> {
  const orm: Orm = await openOrm(url, { poolMax: 1 });
  try {
    return await orm.em.fork().transactional(async (em) => {
      const pid = (await one(em, sql<{ pid: number }>`select pg_backend_pid() as pid`))!.pid;
      // As in Stocktake's steps (activities/step.ts), for both sides.
      await sizeForBulk(em);
      let withWorkers = 0;
      const sample = () => {
        withWorkers = Math.max(withWorkers, rssKbOf(pid, 'VmRSS') + parallelWorkersOf(pid).reduce((sum, w) => sum + rssKbOf(w, 'VmRSS'), 0));
      };
      const timer = setInterval(sample, 100);
      const t0 = performance.now();
      try {
        const value = await work(em);
        const ms = Math.round(performance.now() - t0);
        sample();
        const hwm = rssKbOf(pid, 'VmHWM');
        return { value, ms, peakRssMb: hwm > 0 ? Math.round(hwm / 1024) : null, withWorkersMb: withWorkers > 0 ? Math.round(Math.max(withWorkers, hwm) / 1024) : null };
      } finally {
        clearInterval(timer);
      }
    });
  } finally {
    await orm.close();
  }
}

/** A field of /proc/<pid>/status in kB (VmRSS now, VmHWM the peak); 0 when /proc cannot tell (another machine, gone). */
function rssKbOf(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const kb = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb === undefined ? 0 : Number(kb);
  } catch {
    return 0;
  }
}

/** The parallel workers PostgreSQL runs for a backend right now (their process title names the leader). */
function parallelWorkersOf(leader: number): number[] {
  const found: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(`parallel worker for PID ${leader}`)) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/**
 * The data, set-based. Item n (1-based) by n % 10: 0 stored in PCS and
 * reported by the ERP in CS (24 PCS, an item-specific unit mapping); 1 stored
 * in BOX of 12 PCS and reported by the WMS in PCS (its inventory unit); 2
 * reported by the WMS in EA (a mapping for every item); else PCS on both.
 * Position i: location i / 8, item (i × 7919) mod items + 1, a WMS status
 * (ok, damaged, quality, pending_putaway, transit), a base quantity; its
 * difference class k (per mille): 0-2 the WMS has 1 more (within tolerance),
 * 3-5 the WMS has m more and sent the ERP a receipt it has not processed, 6-7
 * the WMS has m less after a shipment 10 minutes before as-of, 8-9 the WMS has
 * m more and nothing explains it.
 */
async function generate(em: Em, n: Names, positions: number, erpGranularity: 'location' | 'warehouse'): Promise<{ erp: number; wms: number }> {
  const items = Math.max(20, Math.ceil(positions / 20));
  let stride = 7919;
  while (gcd(stride, items) !== 1) stride += 2;
  const code = (x: string) => `('SCB-' || lpad((${x})::text, greatest(7, length((${x})::text)), '0'))`;

  await affected(
    em,
    sql.raw(`
      insert into item (code, storage_unit, inventory_unit, conversion_factor, standard_cost)
      select ${code('n')}, case when n % 10 = 1 then 'BOX' else 'PCS' end, 'PCS',
             case when n % 10 = 1 then 12 else 1 end, round(0.5 + (${hash('n', 3266489917)} % 100000)::numeric / 1000, 4)
      from generate_series(1, ${items}) n
      on conflict (code) do nothing`),
  );
  await affected(em, sql`insert into warehouse (code, name) values (${n.warehouse}, 'system comparison bench')`);
  await affected(
    em,
    sql`insert into external_system (name, location_granularity, levels_mode, created_by)
        values (${n.erp}, ${erpGranularity}, 'pushed', 'bench'), (${n.wms}, 'location', 'pushed', 'bench')`,
  );
  await affected(
    em,
    sql`insert into status_mapping (source, status, category) values
          (${n.erp}, 'free', 'available'), (${n.erp}, 'unavailable', 'unavailable'), (${n.erp}, 'transit', 'in_transit'),
          (${n.wms}, 'ok', 'available'), (${n.wms}, 'damaged', 'unavailable'), (${n.wms}, 'quality', 'unavailable'),
          (${n.wms}, 'pending_putaway', 'unavailable'), (${n.wms}, 'transit', 'in_transit')`,
  );
  await affected(em, sql`insert into unit_mapping (source, unit, item_code, storage_units) values (${n.wms}, 'EA', '', 1)`);
  await affected(
    em,
    sql.raw(`insert into unit_mapping (source, unit, item_code, storage_units)
             select '${n.erp}', 'CS', ${code('n')}, 24 from generate_series(10, ${items}, 10) n`),
  );
  for (const [id, comparedAt] of [[n.earlierRunId, true], [n.runId, false]] as const) {
    await affected(
      em,
      sql`insert into system_reconciliation (id, source_a, source_b, warehouse_code, selection, tolerance, cutoff_minutes,
                                             levels_deadline_minutes, manager_approval_limit, status, workflow_id, created_by, compared_at)
          values (${id}, ${n.erp}, ${n.wms}, ${n.warehouse}, '{}', ${JSON.stringify(TOLERANCE)}::jsonb, ${CUTOFF_MINUTES}, 60, 1e9,
                  'comparing', ${'bench-' + id}, 'bench', case when ${comparedAt}::boolean then ${AS_OF}::timestamptz - interval '1 day' end)`,
    );
  }
  for (const source of [n.erp, n.wms]) {
    await affected(
      em,
      sql`insert into levels_receipt (system_reconciliation_id, source, lines, request_hash, as_of, received_by)
          values (${n.runId}, ${source}, 0, 'bench', ${AS_OF}::timestamptz, 'bench')`,
    );
  }

  // One row per position with everything both sides derive from it.
  await affected(
    em,
    sql.raw(`
      create temp table bench_position on commit drop as
      select i, item_no, ${code('item_no')} as item_code, 'L' || lpad((i / 8)::text, 7, '0') as location_code,
             item_no % 10 as kind, status, erp_status, base, delta_class, m,
             base + case when delta_class < 3 then 1 when delta_class < 6 then m when delta_class < 8 then -m when delta_class < 10 then m else 0 end
               as wms_storage,
             h_noise % 100 = 0 as noisy
      from (
        select i, item_no, s.status, s.erp_status,
               (6 + h_qty % 40) * case when item_no % 10 = 0 then 24 else 1 end as base,
               h_class % 1000 as delta_class, 2 + h_m % 5 as m, h_noise
        from (
          select i, ((i * ${stride}::bigint) % ${items}) + 1 as item_no,
                 ${hash('i', 2246822519)} % 100 as h_status, ${hash('i', 668265263)} as h_qty,
                 ${hash('i', 374761393)} as h_class, ${hash('i', 3432918353)} as h_m, ${hash('i', 461845907)} as h_noise
          from generate_series(0, ${positions - 1}) i
        ) g
        cross join lateral (select case when h_status < 85 then 'ok' when h_status < 90 then 'damaged' when h_status < 94 then 'quality'
                                        when h_status < 97 then 'pending_putaway' else 'transit' end as status) st
        cross join lateral (select st.status,
                                   case st.status when 'ok' then 'free' when 'transit' then 'transit' else 'unavailable' end as erp_status) s
      ) x`),
  );
  const wmsUnit = `case kind when 1 then 'PCS' when 2 then 'EA' else 'PCS' end`;
  const wmsQuantity = (storage: string) => `(${storage}) * case kind when 1 then 12 else 1 end`;
  const wms = await affected(
    em,
    sql.raw(`
      insert into source_level (system_reconciliation_id, source, line, item_code, warehouse_code, location_code, status, quantity, unit)
      select '${n.runId}', '${n.wms}', i + 1, item_code, '${n.warehouse}', location_code, status, ${wmsQuantity('wms_storage')}, ${wmsUnit}
      from bench_position`),
  );
  const erpUnit = `case kind when 0 then 'CS' when 1 then 'BOX' else 'PCS' end`;
  const erpQuantity = `base / case kind when 0 then 24 else 1 end`;
  const erp = await affected(
    em,
    erpGranularity === 'location'
      ? sql.raw(`
          insert into source_level (system_reconciliation_id, source, line, item_code, warehouse_code, location_code, status, quantity, unit)
          select '${n.runId}', '${n.erp}', i + 1, item_code, '${n.warehouse}', location_code, erp_status, ${erpQuantity}, ${erpUnit}
          from bench_position`)
      : sql.raw(`
          insert into source_level (system_reconciliation_id, source, line, item_code, warehouse_code, location_code, status, quantity, unit)
          select '${n.runId}', '${n.erp}', row_number() over (order by item_code, erp_status), item_code, '${n.warehouse}', '', erp_status,
                 sum(${erpQuantity}), min(${erpUnit})
          from bench_position group by item_code, erp_status`),
  );
  // Outstanding receipts (WMS → ERP, not processed), shipments inside the window, and noise that must not count.
  await affected(
    em,
    sql.raw(`
      insert into interface_message (source, message_id, target, kind, item_code, warehouse_code, location_code, status, quantity, unit, sent_at, processed_at)
      select '${n.wms}', 'M' || i, '${n.erp}', 'receipt', item_code, '${n.warehouse}', location_code, status, ${wmsQuantity('m')}, ${wmsUnit},
             '${AS_OF}'::timestamptz - interval '5 minutes', null
      from bench_position where delta_class between 3 and 5
      union all
      select '${n.wms}', 'N' || i, '${n.erp}', 'receipt', item_code, '${n.warehouse}', location_code, status, ${wmsQuantity('m')}, ${wmsUnit},
             '${AS_OF}'::timestamptz - interval '20 minutes', '${AS_OF}'::timestamptz - interval '1 minute'
      from bench_position where noisy`),
  );
  await affected(
    em,
    sql.raw(`
      insert into movement_event (source, event_id, kind, item_code, warehouse_code, location_code, status, quantity, unit, occurred_at)
      select '${n.wms}', 'E' || i, 'shipment', item_code, '${n.warehouse}', location_code, status, -${wmsQuantity('m')}, ${wmsUnit},
             '${AS_OF}'::timestamptz - interval '10 minutes'
      from bench_position where delta_class between 6 and 7
      union all
      select '${n.wms}', 'O' || i, 'adjustment', item_code, '${n.warehouse}', location_code, status, ${wmsQuantity('m')}, ${wmsUnit},
             '${AS_OF}'::timestamptz - interval '2 days'
      from bench_position where noisy`),
  );
  return { erp, wms };
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/**
 * The same comparison written by hand for the bench's policy (quantity ±1 for
 * every item), in one statement, into bench_expected: normalise and sum both
 * sides per key, keep the keys that differ, value them, and decide the outcome
 * in SQL (within ±1 → no line; outstanding messages whose net leaves a residual
 * within ±1 → unprocessed_message; movements in the window covering |difference|
 * → timing; else unknown). Returns the number of differences.
 */
async function handWrittenComparison(em: Em, n: Names, perLocation: boolean): Promise<number> {
  await affected(em, sql`drop table if exists bench_expected`);
  const loc = (x: string) => sql.raw(perLocation ? `${x}.location_code` : `''`);
  const storage = (x: string) =>
    sql.raw(`(case when umi.storage_units is not null then ${x}.quantity * umi.storage_units
                   when ${x}.unit = i.storage_unit then ${x}.quantity
                   when ${x}.unit = i.inventory_unit then ${x}.quantity / i.conversion_factor
                   else ${x}.quantity * uma.storage_units end)`);
  const units = (x: string) =>
    sql.raw(`left join unit_mapping umi on umi.source = ${x}.source and umi.unit = ${x}.unit and umi.item_code = ${x}.item_code
             left join unit_mapping uma on uma.source = ${x}.source and uma.unit = ${x}.unit and uma.item_code = ''`);
  await affected(
    em,
    sql`
      create temp table bench_expected on commit drop as
      with summed as (
        select i.id as item_id, l.warehouse_code, ${loc('l')} as location_code,
               coalesce(sm.category, 'unmapped:' || l.status) as category,
               round(coalesce(sum(${storage('l')}) filter (where l.source = ${n.erp}), 0), 4) as quantity_a,
               round(coalesce(sum(${storage('l')}) filter (where l.source = ${n.wms}), 0), 4) as quantity_b,
               case when bool_or(sm.category is null) then 'status_mapping' when bool_or(${storage('l')} is null) then 'unit_conversion' end as problem
        from source_level l
        join item i on i.code = l.item_code
        left join status_mapping sm on sm.source = l.source and sm.status = l.status
        ${units('l')}
        where l.system_reconciliation_id = ${n.runId}
        group by 1, 2, 3, 4
      ),
      differing as (
        select s.*, s.quantity_b - s.quantity_a as difference from summed s where s.quantity_a <> s.quantity_b or s.problem is not null
      ),
      messages as (
        select i.id as item_id, m.warehouse_code, ${loc('m')} as location_code,
               case when m.status = '' then 'available' else sm.category end as category,
               count(*) as n,
               sum(case when m.source = ${n.wms} then 1 else -1 end * round(${storage('m')}, 4)) as net
        from interface_message m
        join item i on i.code = m.item_code
        left join status_mapping sm on sm.source = m.source and sm.status = m.status
        ${units('m')}
        where m.warehouse_code = ${n.warehouse}
          and ((m.source = ${n.wms} and m.target = ${n.erp}) or (m.source = ${n.erp} and m.target = ${n.wms}))
          and m.sent_at <= ${AS_OF}::timestamptz and (m.processed_at is null or m.processed_at > ${AS_OF}::timestamptz)
          and ${storage('m')} is not null
        group by 1, 2, 3, 4
      ),
      movements as (
        select i.id as item_id, e.warehouse_code, ${loc('e')} as location_code,
               case when e.status = '' then 'available' else sm.category end as category,
               count(*) as n, sum(abs(round(${storage('e')}, 4))) as magnitude
        from movement_event e
        join item i on i.code = e.item_code
        left join status_mapping sm on sm.source = e.source and sm.status = e.status
        ${units('e')}
        where e.warehouse_code = ${n.warehouse} and e.source in (${n.erp}, ${n.wms})
          and e.occurred_at > ${AS_OF}::timestamptz - make_interval(mins => ${CUTOFF_MINUTES}::int)
          and e.occurred_at <= ${AS_OF}::timestamptz
          and ${storage('e')} is not null
        group by 1, 2, 3, 4
      )
      select * from (
        select d.item_id, d.warehouse_code, d.location_code, d.category, d.quantity_a, d.quantity_b, d.difference,
               round(d.difference * i.conversion_factor * i.standard_cost, 4) as value,
               case when d.problem is not null then 'exception'
                    when d.difference between -1 and 1 then 'match'
                    when m.n > 0 and d.difference - m.net between -1 and 1 then 'explainable'
                    when e.n > 0 and e.magnitude >= abs(d.difference) then 'explainable'
                    else 'exception' end as outcome,
               case when d.problem is not null then d.problem
                    when d.difference between -1 and 1 then null
                    when m.n > 0 and d.difference - m.net between -1 and 1 then 'unprocessed_message'
                    when e.n > 0 and e.magnitude >= abs(d.difference) then 'timing'
                    else 'unknown' end as root_cause
        from differing d
        join item i on i.id = d.item_id
        left join messages m using (item_id, warehouse_code, location_code, category)
        left join movements e using (item_id, warehouse_code, location_code, category)
      ) x
      where outcome <> 'match'`,
  );
  return (await one(em, sql<{ n: number }>`select count(*)::int as n from bench_expected`))!.n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      positions: { type: 'string', default: '1000000' },
      erp: { type: 'string', default: 'location' },
      out: { type: 'string', default: path.join('.test-data', 'system-comparison.json') },
    },
  });
  const positions = Number(values.positions);
  if (!Number.isSafeInteger(positions) || positions < 1) throw new RangeError(`--positions must be a positive integer (got ${values.positions})`);
  if (values.erp !== 'location' && values.erp !== 'warehouse') throw new RangeError(`--erp is location or warehouse (got ${values.erp})`);
  const { startEmbeddedPostgres } = await import('../platform/embedded-postgres');
  const dataDir = path.resolve('.test-data', `system-comparison-${process.pid}`);
  const pg = await startEmbeddedPostgres({ dataDir, persistent: false });
  try {
    const admin = await openOrm(pg.adminUrl, { poolMax: 1 });
    try {
      await migrate(admin);
    } finally {
      await admin.close();
    }
    const bench = await runSystemComparisonBench(pg.adminUrl, { positions, erpGranularity: values.erp, log: (l) => console.log(l) });
    console.log(
      `compareSources ${(bench.compareMs / 1000).toFixed(1)} s (target < 60 s), hand-written SQL ${(Math.min(...bench.baselineMs) / 1000).toFixed(1)} s, ` +
        `x${bench.ratio}; peak RSS: Node ${bench.nodePeakRssMb} MB, PostgreSQL backend ${bench.compareBackendPeakRssMb ?? '?'} MB, ` +
        `with its parallel workers ${bench.compareWithWorkersPeakRssMb ?? '?'} MB (target < 1024 MB)`,
    );
    fs.mkdirSync(path.dirname(path.resolve(values.out)), { recursive: true });
    fs.writeFileSync(values.out, JSON.stringify(bench, null, 2));
    if (!bench.identical) process.exitCode = 1;
  } finally {
    await pg.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) await main();

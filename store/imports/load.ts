import { oneInFlight } from '../../db/one-in-flight';
import { affected, one, rows, sizeForBulk, sql, type Em } from '../../db/sql';
import { audit } from '../audit';
import { refuse } from '../refusal';
import type { ImportKind, KindSpec, LineProblem, ParsedLine, RowOf } from './kinds';
import { items, locations, units, warehouses, zones } from './master-data';
import { stock } from './stock';

/**
 * A load of master data or stock, applied whole or not at all, once per
 * Import-Id. The one home of `import_load`.
 *
 * The lines arrive as the body streams in and are staged in temp tables in
 * batches of BATCH_LINES, so a load of any size costs Node one batch of
 * memory; everything after that is set-based in PostgreSQL: the checks that
 * need the database (unknown references, the same key twice in the load),
 * then the merge. Any bad line, and nothing is applied: the refusal lists the
 * first MAX_LISTED bad lines by number with the total. All of it runs in one
 * transaction that also records the load and its audit event.
 */
export const BATCH_LINES = 5_000;
export const MAX_LISTED = 1_000;

const SPECS: { [K in ImportKind]: KindSpec<RowOf[K]> } = { warehouses, zones, locations, units, items, stock };

export interface ImportSummary {
  importId: string;
  kind: ImportKind;
  /** Lines (records) in the load. */
  lines: number;
  /** Records the load created (stock: positions). */
  created: number;
  /** Records that existed and changed (stock: quantity or blockings). */
  updated: number;
  /** Records listed as they already were. */
  unchanged: number;
  /** Adjustment movements written (stock: one per position whose quantity changed). */
  movements: number;
}

export interface ImportRequest<K extends ImportKind> {
  importId: string;
  kind: K;
  actor: string;
  /** The caller's warehouses: a row of any other is a bad line. */
  warehouses: 'all' | string[];
  /** The body's lines, checked, in batches as they arrive. */
  lines: AsyncIterable<Array<ParsedLine<K>>>;
  /** Reads whatever is left of the body; the hash of all of it. */
  bodyHash(): Promise<string>;
}

/**
 * Applies a load, or answers a repeat of one: the same Import-Id from the
 * same caller for the same kind and body returns the first load's summary
 * (replayed) and applies nothing; the same Import-Id with anything else is
 * refused. Loads with the same id wait for each other (advisory lock), so
 * two sent at once never both apply.
 */
export async function applyImport<K extends ImportKind>(em: Em, req: ImportRequest<K>): Promise<{ summary: ImportSummary; replayed: boolean }> {
  const spec = SPECS[req.kind] as KindSpec<RowOf[K]>;
  return em.transactional(async (tx) => {
    await affected(tx, sql`select pg_advisory_xact_lock(hashtextextended(${'import:' + req.importId}, 0))`);
    const prior = await one(tx, sql<{ kind: string; actor: string; request_hash: string; summary: ImportSummary }>`
      select kind, actor, request_hash, summary from import_load where id = ${req.importId}`);
    if (prior) {
      const hash = await req.bodyHash();
      if (prior.kind === req.kind && prior.actor === req.actor && prior.request_hash === hash) {
        const { importId, kind, lines, created, updated, unchanged, movements } = prior.summary;
        return { summary: { importId, kind, lines, created, updated, unchanged, movements }, replayed: true };
      }
      throw refuse('ImportIdReused', `Import-Id ${req.importId} was already used for another load (another kind, body or sender); a new load needs a new Import-Id`);
    }

    await sizeForBulk(tx);
    await affected(tx, sql`create temp table import_problem (id int generated always as identity, line int not null, problem text not null) on commit drop`);
    for (const ddl of spec.staging) await affected(tx, ddl);

    let lines = 0;
    let batch: Array<{ line: number; row: RowOf[K] }> = [];
    let problems: LineProblem[] = [];
    // One batch is staged while the next is read and checked.
    await oneInFlight(async (start) => {
      const flush = () => {
        const [rowsOf, problemsOf] = [batch, problems];
        batch = [];
        problems = [];
        return start(async () => {
          if (rowsOf.length > 0) await spec.stage(tx, rowsOf, problemsOf);
          if (problemsOf.length > 0) await stageProblems(tx, problemsOf);
        });
      };
      for await (const arrived of req.lines) {
        for (const parsed of arrived) {
          lines++;
          if ('problem' in parsed) {
            problems.push(parsed);
          } else {
            const warehouse = spec.warehouseOf?.(parsed.row);
            if (warehouse !== undefined && !granted(req.warehouses, warehouse)) {
              problems.push({ line: parsed.line, problem: `warehouse ${warehouse} is not granted to ${req.actor}` });
            } else {
              batch.push(parsed);
            }
          }
          if (batch.length + problems.length >= BATCH_LINES) await flush();
        }
      }
      await flush();
    });
    const hash = await req.bodyHash();
    if (lines === 0) throw refuse('InvalidImport', 'the load holds no lines; nothing was applied', { lines: [], badLines: 0 });

    await affected(tx, sql`analyze import_row`);
    for (const check of spec.checks) {
      if (typeof check === 'function') await check(tx);
      else await affected(tx, check);
    }
    await refuseBadLines(tx, lines);

    const counts = await spec.merge(tx, req.importId);
    const summary: ImportSummary = {
      importId: req.importId,
      kind: req.kind,
      lines,
      created: counts.created,
      updated: counts.updated,
      unchanged: lines - counts.created - counts.updated,
      movements: counts.movements,
    };
    await affected(tx, sql`
      insert into import_load (id, kind, actor, request_hash, lines, summary)
      values (${req.importId}, ${req.kind}, ${req.actor}, ${hash}, ${lines}, ${JSON.stringify(summary)}::jsonb)`);
    // A load of one warehouse's data is audited under that warehouse; one that
    // spans several gets an event per warehouse with its share of the lines,
    // so an auditor sees only the warehouses they are granted.
    const parts = spec.warehouseScoped ? await linesByWarehouse(tx) : [{ warehouse: undefined, lines }];
    for (const part of parts) {
      await audit(tx, {
        actor: req.actor,
        action: 'import_applied',
        subject: `import ${req.importId}`,
        warehouse: part.warehouse,
        after: parts.length === 1 ? summary : { importId: req.importId, kind: req.kind, lines: part.lines },
      });
    }
    return { summary, replayed: false };
  });
}

function granted(warehouses: 'all' | string[], warehouse: string): boolean {
  return warehouses === 'all' || warehouses.includes(warehouse);
}

async function stageProblems(em: Em, problems: LineProblem[]): Promise<void> {
  await affected(em, sql`
    insert into import_problem (line, problem)
    select * from unnest(${problems.map((p) => p.line)}::int[], ${problems.map((p) => p.problem)}::text[])`);
}

/** Refuses the load if any line has a problem: the first MAX_LISTED lines by number, one problem each, and how many there are. */
async function refuseBadLines(em: Em, lines: number): Promise<void> {
  const bad = (await one(em, sql<{ n: number }>`select count(distinct line)::int as n from import_problem`))!.n;
  if (bad === 0) return;
  const listed = await rows(em, sql<LineProblem>`
    select line, problem from (select distinct on (line) line, problem from import_problem order by line, id) p
    order by line limit ${MAX_LISTED}`);
  const shown = listed.slice(0, 5).map((p) => `line ${p.line}: ${p.problem}`).join('; ');
  throw refuse(
    'InvalidImport',
    `${bad} of ${lines} lines cannot be loaded, so nothing was applied: ${shown}${bad > 5 ? '; ...' : ''}`,
    { lines: listed, badLines: bad },
  );
}

/** How many staged rows each warehouse has, for the audit trail. */
async function linesByWarehouse(em: Em): Promise<Array<{ warehouse: string; lines: number }>> {
  return rows(em, sql<{ warehouse: string; lines: number }>`
    select warehouse, count(*)::int as lines from import_row group by warehouse order by warehouse`);
}

/**
 * Seeds a demo warehouse: `npm run seed -- --positions 1000000 [--warehouse WH2]`.
 * Uses DATABASE_URL, or the embedded cluster under STOCKTAKE_DATA_DIR (attaching to
 * it when `npm start` already runs it). Idempotent per warehouse code.
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../platform/config';
import { openDatabase } from '../platform/database';
import { migrate, openOrm } from '../db/orm';
import { MAX_SEED_POSITIONS, seedDemoWarehouse } from '../db/seed';
import { exitOnStartupFailure } from '../platform/process-lifecycle';

const USAGE = 'usage: tsx scripts/seed.ts [--positions N] [--warehouse CODE]  (N defaults to SEED_POSITIONS, CODE to WH1)';

class UsageError extends Error {}

function parseCli(argv: string[], defaultPositions: number): { positions: number; warehouseCode: string; help: boolean } {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        positions: { type: 'string', short: 'n' },
        warehouse: { type: 'string', short: 'w', default: 'WH1' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const raw = values.positions ?? String(defaultPositions);
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > MAX_SEED_POSITIONS) {
    throw new UsageError(`--positions must be a positive integer up to ${MAX_SEED_POSITIONS}, got '${raw}'`);
  }
  const warehouseCode = values.warehouse;
  if (!/^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/.test(warehouseCode)) {
    throw new UsageError(`--warehouse must be 1-32 letters, digits, '-' or '_', got '${warehouseCode}'`);
  }
  return { positions: Number(raw), warehouseCode, help: values.help };
}

async function main(): Promise<number> {
  const started = performance.now();
  let args;
  let config;
  try {
    config = loadConfig();
    args = parseCli(process.argv.slice(2), config.seedPositions);
  } catch (e) {
    console.error(`seed: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    console.log(USAGE);
    return 0;
  }

  const db = await openDatabase(config);
  try {
    const orm = await openOrm(db.url, { poolMax: 2 });
    try {
      await migrate(orm);
      const s = await seedDemoWarehouse(orm, { positions: args.positions, warehouseCode: args.warehouseCode });
      const what = s.created ? `seeded ${s.warehouseCode}` : `${s.warehouseCode} already exists, unchanged`;
      const total = ((performance.now() - started) / 1000).toFixed(1);
      console.log(
        `${what}: ${s.positions} positions, ${s.locations} locations in ${s.zones} zones, ${s.items} items, ` +
          `${s.blockings} blockings, ${s.movements} movements; seed ${(s.ms / 1000).toFixed(1)} s, total ${total} s, ` +
          `peak RSS ${process.resourceUsage().maxRSS} KB`,
      );
    } finally {
      await orm.close();
    }
  } finally {
    await db.stop();
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => exitOnStartupFailure('seed', e),
);

import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { parseArgs } from 'node:util';

/**
 * `npm run bench [-- --positions N] [--only count|comparison|imports]`: every
 * benchmark at one size, each beside its baseline in the same run: the count
 * reconciliation's steps (durable beside synchronous_commit=off), the system
 * comparison of N positions per side (beside hand-written SQL), and a stock
 * import of N lines over HTTP (beside PostgreSQL alone). Each runs in a
 * process of its own, on a throwaway embedded PostgreSQL, so one's memory
 * peak is not another's.
 */
const BENCHES = {
  count: (n: string) => ['bench/run.ts', '--positions', n],
  comparison: (n: string) => ['bench/system-comparison.ts', '--positions', n],
  imports: (n: string) => ['bench/imports.ts', '--lines', n],
} as const;
type Bench = keyof typeof BENCHES;

const { values } = parseArgs({ options: { positions: { type: 'string', default: '200000' }, only: { type: 'string', multiple: true } } });
const chosen = (values.only ?? Object.keys(BENCHES)) as Bench[];
const unknown = chosen.filter((b) => !(b in BENCHES));
if (unknown.length > 0 || !/^[1-9][0-9]*$/.test(values.positions)) {
  console.error(`usage: npm run bench -- [--positions N] [--only ${Object.keys(BENCHES).join('|')}]...`);
  process.exit(2);
}

const tsx = path.resolve('node_modules/.bin/tsx');
for (const bench of chosen) {
  console.log(`\n== ${bench} (${values.positions}) ==`);
  const run = spawnSync(tsx, BENCHES[bench](values.positions), { stdio: 'inherit' });
  if (run.status !== 0) {
    console.error(`${bench}: exited with ${run.status ?? run.signal}`);
    process.exit(1);
  }
}

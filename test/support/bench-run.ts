import fs from 'node:fs';
import path from 'node:path';
import { ROOT, spawnGroup } from './processes';

export interface BenchRun {
  code: number | null;
  output: string;
  /** The results file the bench wrote, or {} when it wrote none. */
  results: Record<string, any>;
  /** Removes the results file. */
  cleanUp(): void;
}

/**
 * A benchmark script at a small size, as a process group of its own that is
 * killed whole once it exits (its PostgreSQL, Temporal and API included), so
 * the benchmarks cannot rot unnoticed and leave nothing behind.
 */
export async function runBench(script: string, args: string[]): Promise<BenchRun> {
  const out = path.join(ROOT, '.test-data', `${path.basename(script, '.ts')}-${process.pid}-${Date.now()}.json`);
  const group = spawnGroup(process.execPath, ['--import', 'tsx', script, ...args, '--out', out]);
  try {
    const { code } = await group.exited;
    const results = fs.existsSync(out) ? (JSON.parse(fs.readFileSync(out, 'utf8')) as Record<string, any>) : {};
    return { code, output: group.output(), results, cleanUp: () => fs.rmSync(out, { force: true }) };
  } finally {
    await group.kill();
  }
}

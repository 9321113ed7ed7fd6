import fs from 'node:fs';
import pg from 'pg';
import { startEmbeddedPostgres, type RunningPostgres } from '../platform/embedded-postgres';

/**
 * Memory and checkpoint settings a server holding a million-row document is
 * given (PostgreSQL's defaults are sized for a small machine: 128 MB of
 * shared buffers is less than one such document, so every bulk step evicts
 * dirty pages and waits on the WAL to be flushed first). Durability is
 * untouched: fsync, synchronous_commit and full_page_writes stay on.
 */
export const BENCH_SETTINGS: Record<string, string> = {
  shared_buffers: '1GB',
  max_wal_size: '8GB',
  wal_buffers: '64MB',
  // bench/statements.ts: which statements a phase spends its time in.
  shared_preload_libraries: 'pg_stat_statements',
};

/** A throwaway embedded PostgreSQL with BENCH_SETTINGS (set with ALTER SYSTEM, applied by a restart); removed on stop. */
export async function startBenchPostgres(dataDir: string): Promise<RunningPostgres> {
  const first = await startEmbeddedPostgres({ dataDir, persistent: true });
  const client = new pg.Client({ connectionString: first.adminUrl });
  await client.connect();
  try {
    for (const [name, value] of Object.entries(BENCH_SETTINGS)) await client.query(`alter system set ${name} = '${value}'`);
  } finally {
    await client.end();
  }
  await first.stop();
  const server = await startEmbeddedPostgres({ dataDir, persistent: true, port: first.port });
  return {
    ...server,
    async stop() {
      await server.stop();
      fs.rmSync(server.dataDir, { recursive: true, force: true });
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

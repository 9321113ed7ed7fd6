import type { Pool, PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { one, sql, type Em } from './sql';

/**
 * `COPY ... FROM STDIN` on the connection an entity manager works on, inside
 * its transaction: the cheapest way to hand PostgreSQL many rows (no array
 * literals to build and unpack, no plan). Kysely hides the `pg` client behind
 * its connection, so the pool's clients are known here by backend process id
 * and found through `pg_backend_pid()`.
 */
const clients = new Map<number, Set<PoolClient>>();

/** Called once per pool (db/resilient-driver.ts): every client it opens can then take a COPY. */
export function trackCopyClients(pool: Pool): void {
  pool.on('connect', (client) => {
    const pid = (client as unknown as { processID: number }).processID;
    const withPid = clients.get(pid) ?? new Set();
    withPid.add(client);
    clients.set(pid, withPid);
    client.once('end', () => {
      withPid.delete(client);
      if (withPid.size === 0 && clients.get(pid) === withPid) clients.delete(pid);
    });
  });
}

export type CopyValue = string | number | null;

export interface Copier {
  /** Writes the rows into `table`'s `columns`; resolves when PostgreSQL has them all. */
  copy(table: string, columns: readonly string[], rows: Iterable<readonly CopyValue[]>): Promise<void>;
}

/** A copier for the connection `em` (a transactional one) holds. */
export async function copierFor(em: Em): Promise<Copier> {
  const { pid } = (await one(em, sql<{ pid: number }>`select pg_backend_pid() as pid`))!;
  const withPid = clients.get(pid);
  // Two servers (pools of one process on different database servers) may each have a backend with this
  // pid; then which client holds the transaction is not known, and guessing could copy into the wrong one.
  if (withPid?.size !== 1) throw new Error(`${withPid ? 'more than one' : 'no'} pooled client for backend ${pid}: cannot COPY on it`);
  const client = [...withPid][0]!;
  return {
    async copy(table, columns, rows) {
      const stream = client.query(copyFrom(`copy ${table} (${columns.join(', ')}) from stdin`));
      const done = new Promise<void>((resolve, reject) => {
        stream.on('finish', resolve);
        stream.on('error', reject);
      });
      stream.end(copyText(rows));
      await done;
    },
  };
}

const ESCAPED = /[\\\t\n\r]/;
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/** Rows in COPY's text format: tab between fields, a line per row, \N for null, backslash escapes. */
export function copyText(rows: Iterable<readonly CopyValue[]>): string {
  const lines: string[] = [];
  for (const row of rows) {
    lines.push(row.map(copyField).join('\t'));
  }
  return lines.length > 0 ? lines.join('\n') + '\n' : '';
}

function copyField(value: CopyValue): string {
  if (value === null) return '\\N';
  const text = String(value);
  return ESCAPED.test(text) ? text.replace(/[\\\t\n\r]/g, (c) => ESCAPES[c]!) : text;
}

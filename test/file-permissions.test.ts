import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../platform/free-port';
import { runDataDir, startStocktake, type RunningStart } from './support/processes';

/**
 * `npm start` keeps its local data to its owner: the data directory 0700
 * (0710 with group `postgres` as root, so the server that runs as that user
 * can pass through to its cluster in <dataDir>/pg, and nobody can list or
 * read anything), Temporal's SQLite file and its -wal/-shm siblings 0600, the
 * demo tokens 0600, even where the umask (022 here) would make them readable
 * by everyone and the data directory was left open by an earlier version.
 */
const dataDir = runDataDir('file-permissions');
const mode = (file: string) => fs.statSync(file).mode & 0o777;
const asRoot = process.getuid?.() === 0;

describe('npm start keeps its local data private', () => {
  let running: RunningStart | undefined;

  afterAll(async () => {
    await running?.group.kill();
    expect(running?.group.leftovers() ?? []).toEqual([]);
    removeWithRelocatedCluster(dataDir);
  }, 60_000);

  it('makes the data directory, temporal.sqlite and demo-tokens.json readable by their owner only, and stops on Ctrl-C', async () => {
    fs.mkdirSync(dataDir, { recursive: true });
    fs.chmodSync(dataDir, 0o755);
    const ports = { PORT: await freePort(), TEMPORAL_DEV_PORT: await freePort(), TEMPORAL_UI_PORT: await freePort() };
    running = await startStocktake({ dataDir, ports });

    const cluster = path.join(dataDir, 'pg');
    if (asRoot && !fs.lstatSync(cluster).isSymbolicLink()) {
      // The cluster inside, run by the postgres user: that group may traverse, nothing more.
      expect(mode(dataDir)).toBe(0o710);
      expect(fs.statSync(dataDir).gid).toBe(fs.statSync(cluster).gid);
      expect(fs.statSync(dataDir).uid).toBe(0);
    } else {
      expect(mode(dataDir)).toBe(0o700);
    }

    const sqlite = path.join(dataDir, 'temporal.sqlite');
    expect(mode(sqlite)).toBe(0o600);
    for (const sibling of [`${sqlite}-wal`, `${sqlite}-shm`]) if (fs.existsSync(sibling)) expect(mode(sibling)).toBe(0o600);
    expect(mode(path.join(dataDir, 'demo-tokens.json'))).toBe(0o600);

    await running.ctrlC();
    expect(running.group.leftovers()).toEqual([]);
  }, 180_000);
});

/** The data directory, and a cluster relocated out of it (cluster-location.ts leaves <dataDir>/pg as its symlink). */
function removeWithRelocatedCluster(dir: string): void {
  const pointer = path.join(dir, 'pg');
  try {
    if (fs.lstatSync(pointer).isSymbolicLink()) fs.rmSync(path.dirname(fs.realpathSync(pointer)), { recursive: true, force: true });
  } catch {
    // No cluster, or no link.
  }
  fs.rmSync(dir, { recursive: true, force: true });
}

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../platform/free-port';
import { ROOT, runId, startStocktake, type RunningStart } from './support/processes';

/**
 * A first `npm start` in a folder only its owner may enter (a clone in /root,
 * any `mktemp -d`): as root, PostgreSQL runs as the `postgres` user, which
 * cannot reach the folder, so the cluster is placed where it can and linked
 * from .data/pg. The folder's permissions stay as they were.
 */
const NOT_COPIED = new Set(['node_modules', '.tools', '.data', '.test-data', '.git']);
const asRoot = process.getuid?.() === 0;

describe('npm start in a private folder', () => {
  let folder: string;
  let app: string;
  let running: RunningStart;

  beforeAll(() => {
    folder = fs.mkdtempSync(path.join(os.tmpdir(), `stocktake-${runId()}-`));
    app = path.join(folder, 'stocktake');
    // The working tree as it is (tracked and untracked files), without what is installed or generated.
    fs.cpSync(ROOT, app, { recursive: true, filter: (src) => !(path.dirname(src) === ROOT && (NOT_COPIED.has(path.basename(src)) || path.basename(src).startsWith('.data-'))) });
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(app, 'node_modules'));
    fs.symlinkSync(path.join(ROOT, '.tools'), path.join(app, '.tools'));
  });

  afterAll(async () => {
    await running?.group.kill();
    expect(running?.group.leftovers() ?? []).toEqual([]);
    if (folder) removeWithRelocatedCluster(folder);
  }, 60_000);

  it('starts in a folder of mode 0700', async () => {
    expect(fs.statSync(folder).mode & 0o777).toBe(0o700);
    const ports = { PORT: await freePort(), TEMPORAL_DEV_PORT: await freePort(), TEMPORAL_UI_PORT: await freePort() };
    // STOCKTAKE_DATA_DIR unset: the default .data of the copy, as on a fresh clone.
    running = await startStocktake({ cwd: app, dataDir: path.join(app, '.data'), ports, env: { STOCKTAKE_DATA_DIR: '' } });
  }, 150_000);

  it('serves /health with the database and Temporal up', async () => {
    const health = await (await fetch(`${running.baseUrl}/health`)).json();
    expect(health).toMatchObject({ status: 'ok', database: { status: 'up' }, temporal: { status: 'up' } });
  });

  it('keeps the cluster where the PostgreSQL account can enter it, and leaves the folder private', () => {
    const link = path.join(app, '.data', 'pg');
    // As root the cluster runs as `postgres`, who cannot enter a 0700 folder: it lives outside, linked from .data/pg.
    // Otherwise it runs as the folder's owner and stays in .data/pg itself.
    expect(fs.lstatSync(link).isSymbolicLink()).toBe(asRoot);
    const cluster = asRoot ? fs.readlinkSync(link) : link;
    expect(cluster.startsWith(folder)).toBe(!asRoot);
    expect(fs.existsSync(path.join(cluster, 'PG_VERSION'))).toBe(true);
    expect(fs.statSync(folder).mode & 0o777).toBe(0o700);
  });

  it('stops on Ctrl-C leaving no process behind', async () => {
    await running.ctrlC();
    expect(running.group.leftovers()).toEqual([]);
  });

  it('leaves nothing on disk once the folder and its relocated cluster are removed', () => {
    const link = path.join(app, '.data', 'pg');
    const relocated = fs.lstatSync(link).isSymbolicLink() ? path.dirname(fs.readlinkSync(link)) : undefined;
    removeWithRelocatedCluster(folder);
    expect(fs.existsSync(folder)).toBe(false);
    if (relocated) expect(fs.existsSync(relocated)).toBe(false);
  });
});

/** The folder, and the directory its cluster was relocated to (named in the pointer .data/pg). */
function removeWithRelocatedCluster(folder: string): void {
  const link = path.join(folder, 'stocktake', '.data', 'pg');
  try {
    if (fs.lstatSync(link).isSymbolicLink()) fs.rmSync(path.dirname(fs.readlinkSync(link)), { recursive: true, force: true });
  } catch {
    // No pointer: nothing was relocated.
  }
  fs.rmSync(folder, { recursive: true, force: true });
}

import fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../platform/free-port';
import { runDataDir, startStocktake, type RunningStart, type StartPorts } from './support/processes';
import { eventually } from './support/wait';

/**
 * `npm start` as a newcomer runs it: embedded PostgreSQL, the Temporal dev
 * server, worker and API in one command; Ctrl-C (SIGINT to the process group)
 * leaves no process behind; a second start keeps the data of the first.
 */
const dataDir = runDataDir('start');
const started: RunningStart[] = [];

describe('npm start', () => {
  let ports: StartPorts;
  let first: RunningStart;
  let id: string;

  afterAll(async () => {
    for (const start of started) await start.group.kill();
    for (const start of started) expect(start.group.leftovers()).toEqual([]);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }, 60_000);

  it('serves /health with the database and Temporal up', async () => {
    ports = { PORT: await freePort(), TEMPORAL_DEV_PORT: await freePort(), TEMPORAL_UI_PORT: await freePort() };
    first = await startStocktake({ dataDir, ports });
    started.push(first);
    const health = await (await fetch(`${first.baseUrl}/health`)).json();
    expect(health).toMatchObject({ status: 'ok', database: { status: 'up' }, temporal: { status: 'up' } });
  }, 150_000);

  it('takes a reconciliation of the demo warehouse to ready', async () => {
    const created = await fetch(`${first.baseUrl}/reconciliations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${first.token('manager')}` },
      body: JSON.stringify({ warehouse: 'WH1', scope: { kind: 'warehouse' } }),
    });
    expect(created.status).toBe(201);
    id = ((await created.json()) as { id: string }).id;
    await eventually(async () => {
      const rec = (await (await fetch(`${first.baseUrl}/reconciliations/${id}`, { headers: { authorization: `Bearer ${first.token('manager')}` } })).json()) as {
        progress: { status: string } | null;
      };
      return rec.progress?.status === 'ready' ? rec : undefined;
    }, 'the demo reconciliation to be ready');
  });

  it('stops on Ctrl-C leaving no process behind', async () => {
    await first.ctrlC();
    expect(first.group.leftovers()).toEqual([]);
  });

  it('keeps the data of the first start in a second one', async () => {
    const second = await startStocktake({ dataDir, ports });
    started.push(second);
    const again = (await (await fetch(`${second.baseUrl}/reconciliations/${id}`, { headers: { authorization: `Bearer ${second.token('auditor')}` } })).json()) as {
      progress: { status: string; rows: { total: number } };
    };
    expect(again.progress.status).toBe('ready');
    expect(again.progress.rows.total).toBe(300);
    await second.ctrlC();
  }, 150_000);
});

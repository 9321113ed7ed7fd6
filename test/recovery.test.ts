import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../platform/free-port';
import { isAlive, listProcesses, signal } from '../platform/proc';
import { postgresProcessesIn } from '../platform/stale-cluster';
import { startTemporalDevServer, type RunningTemporal } from '../platform/temporal-dev-server';
import { ROOT, runDataDir, signalGroup, spawnGroup, startStocktake, type RunningStart, type SpawnedGroup, type StartPorts } from './support/processes';

const DECISION_KEY = randomBytes(32).toString('hex');
import { eventually } from './support/wait';

/**
 * Recovery without a person: `npm start` restarts the servers it runs when
 * they are killed, the API and worker reconnect, a worker process obeys
 * SIGTERM with its Temporal server gone, and a start right after the whole
 * tree was SIGKILLed in the middle of a statement comes up.
 *
 * Bounds: /health is 200 again within 30 s of a server's SIGKILL (measured
 * about 1 s for PostgreSQL, about 3 s for Temporal); the worker script exits
 * within 15 s of SIGTERM and the API within 10 s (their stated bounds, in
 * scripts/worker.ts and api/main.ts).
 */
const RECOVERY_BOUND_MS = 30_000;
const WORKER_EXIT_BOUND_MS = 15_000;
const API_EXIT_BOUND_MS = 10_000;

const dataDir = runDataDir('recovery');
const spawned: SpawnedGroup[] = [];

/** One query on a connection of its own (statistics views read inside a transaction stay as first read). */
async function queryOnce(text: string): Promise<Array<Record<string, unknown>>> {
  const client = new pg.Client({ connectionString: clusterUrl() });
  await client.connect();
  try {
    return (await client.query(text)).rows;
  } finally {
    await client.end();
  }
}

/** The cluster's port is on line 4 of postmaster.pid (read through the pointer if the cluster was relocated). */
const clusterUrl = () => `postgres://stocktake:stocktake@127.0.0.1:${fs.readFileSync(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[3]}/stocktake`;

describe('recovery under npm start', () => {
  let ports: StartPorts;
  let stocktake: RunningStart;
  let before: string;

  afterAll(async () => {
    for (const group of spawned) await group.kill();
    for (const group of spawned) expect(group.leftovers()).toEqual([]);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }, 60_000);

  const started = async () => {
    ports ??= { PORT: await freePort(), TEMPORAL_DEV_PORT: await freePort(), TEMPORAL_UI_PORT: await freePort() };
    // Enough positions for three zones: each test's reconciliation needs a zone no other one holds.
    const running = await startStocktake({ dataDir, ports, env: { SEED_POSITIONS: '6500' } });
    spawned.push(running.group);
    return running;
  };
  const api = async (method: string, route: string, body?: unknown) => {
    const res = await fetch(`${stocktake.baseUrl}${route}`, {
      method,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${stocktake.token('manager')}` },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  };
  const readyReconciliation = async (zone: string) => {
    const created = await api('POST', '/reconciliations', { warehouse: 'WH1', scope: { kind: 'zones', zones: [zone] } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.id as string;
    await eventually(async () => ((await api('GET', `/reconciliations/${id}`)).body.progress?.status === 'ready' ? true : undefined), `reconciliation ${id} to be ready`, 60_000);
    return id;
  };
  const healthBackWithin = (boundMs: number, restarted: () => boolean) =>
    eventually(
      async () => (restarted() && (await fetch(`${stocktake.baseUrl}/health`)).status === 200 ? true : undefined),
      `/health to be 200 again within ${boundMs} ms`,
      boundMs,
    );
  const postmasterPid = () => Number(fs.readFileSync(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);
  const temporalServerPid = () => listProcesses().find((p) => p.pgid === stocktake.group.pgid && !p.zombie && p.argv.includes('start-dev'))?.pid;

  it('restarts PostgreSQL killed with SIGKILL, with the data written before', async () => {
    stocktake = await started();
    before = await readyReconciliation('Z01');
    const postmaster = postmasterPid();
    signal(postmaster, 'SIGKILL');

    // Backends answer for a moment after their postmaster died: only a new postmaster's 200 counts.
    await healthBackWithin(RECOVERY_BOUND_MS, () => postmasterPid() !== postmaster);
    expect(isAlive(postmaster)).toBe(false);
    const again = await api('GET', `/reconciliations/${before}`);
    expect(again.status, `${JSON.stringify(again.body)}\n${stocktake.group.output().slice(-3000)}`).toBe(200);
    expect(again.body.progress?.status).toBe('ready');
  }, 150_000);

  it('restarts the Temporal dev server killed with SIGKILL', async () => {
    const server = temporalServerPid();
    expect(server).toBeDefined();
    signal(server!, 'SIGKILL');

    await healthBackWithin(RECOVERY_BOUND_MS, () => temporalServerPid() !== undefined && temporalServerPid() !== server);
    expect(isAlive(server!)).toBe(false);
  });

  it('takes a new reconciliation to ready after the Temporal dev server was restarted', async () => {
    await readyReconciliation('Z02');
  }, 90_000);

  describe('deployable processes whose Temporal server is gone', () => {
    let temporal: RunningTemporal | undefined;
    let apiProcess: SpawnedGroup;
    let worker: SpawnedGroup;
    let lock: pg.Client;

    const spawnScript = (script: string, env: NodeJS.ProcessEnv) => {
      const group = spawnGroup(path.join(ROOT, 'node_modules/.bin/tsx'), [script], {
        env: {
          PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ''}`,
          // Attached to the cluster the start above runs, as `npm run api` / `npm run worker` next to `npm start` are.
          STOCKTAKE_DATA_DIR: dataDir,
          DATABASE_URL: '',
          TEMPORAL_ADDRESS: temporal!.address,
          TASK_QUEUE: 'recovery-sigterm',
          // The API and the worker of one deployment share the decision key.
          STOCKTAKE_DECISION_KEY: DECISION_KEY,
          ...env,
        },
        dataDirs: [dataDir],
      });
      spawned.push(group);
      return group;
    };

    /**
     * The hard case: the worker holds an activity that cannot finish (its
     * statement waits for a lock this test holds) and nothing can be
     * reported to Temporal, when SIGTERM comes.
     */
    beforeAll(async () => {
      temporal = await startTemporalDevServer({});
      const apiPort = await freePort();
      apiProcess = spawnScript('api/main.ts', { PORT: String(apiPort) });
      await eventually(async () => (apiProcess.output().includes('Stocktake API on') ? true : undefined), 'the API process to serve', 60_000);
      const created = await fetch(`http://127.0.0.1:${apiPort}/reconciliations`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${stocktake.token('manager')}` },
        body: JSON.stringify({ warehouse: 'WH1', scope: { kind: 'zones', zones: ['Z03'] } }),
      });
      expect(created.status, await created.text()).toBe(201);

      lock = new pg.Client({ connectionString: clusterUrl() });
      lock.on('error', () => {});
      await lock.connect();
      await lock.query('begin');
      await lock.query('lock table stock_position in access exclusive mode');
      worker = spawnScript('scripts/worker.ts', {});
      // Asked on a connection of its own: inside the lock's transaction pg_stat_activity would stay as first read.
      await eventually(async () => ((await queryOnce(`select 1 from pg_stat_activity where wait_event_type = 'Lock' and datname = 'stocktake'`)).length ? true : undefined), 'the snapshot activity to wait for the lock', 60_000);

      await temporal.stop();
      // Let the worker's polls fail against the closed port first.
      await new Promise((r) => setTimeout(r, 2_000));
    }, 180_000);

    afterAll(async () => {
      await lock?.query('rollback').catch(() => {});
      await lock?.end().catch(() => {});
      await temporal?.stop();
    });

    it('the worker process exits within 15 s of SIGTERM', async () => {
      signalGroup(worker.pgid, 'SIGTERM');
      const exited = await Promise.race([worker.exited, new Promise((r) => setTimeout(r, WORKER_EXIT_BOUND_MS, 'still running'))]);
      expect(exited, worker.output().slice(-2000)).not.toBe('still running');
    }, 30_000);

    it('the API process exits within 10 s of SIGTERM', async () => {
      signalGroup(apiProcess.pgid, 'SIGTERM');
      const exited = await Promise.race([apiProcess.exited, new Promise((r) => setTimeout(r, API_EXIT_BOUND_MS, 'still running'))]);
      expect(exited, apiProcess.output().slice(-2000)).not.toBe('still running');
    }, 30_000);
  });

  it('stops on Ctrl-C leaving no process behind after its servers were restarted', async () => {
    await stocktake.ctrlC();
    expect(stocktake.group.leftovers()).toEqual([]);
  });

  it('comes up right after the whole tree was SIGKILLed during a long statement', async () => {
    stocktake = await started();
    const url = clusterUrl();
    const client = new pg.Client({ connectionString: url });
    client.on('error', () => {});
    await client.connect();
    // CPU-bound and unmaterialised: it runs on after its postmaster dies, as a big seed or snapshot statement would.
    const long = client.query('select count(*) from (select generate_series(1, 5000000000)) s').catch(() => undefined);
    const pid = await eventually(async () => {
      const rows = await queryOnce(`select pid from pg_stat_activity where state = 'active' and query like 'select count(*) from (select generate_series%'`);
      return rows[0]?.pid as number | undefined;
    }, 'the long statement to run');

    signalGroup(stocktake.group.pgid, 'SIGKILL');
    await stocktake.group.exited;
    // The situation that used to block a restart: the backend outlives its postmaster.
    expect(postgresProcessesIn(fs.realpathSync(path.join(dataDir, 'pg'))).map((p) => p.pid)).toContain(pid);

    stocktake = await started();
    const health = await (await fetch(`${stocktake.baseUrl}/health`)).json();
    expect(health).toMatchObject({ status: 'ok', database: { status: 'up' }, temporal: { status: 'up' } });
    await long;
    await client.end().catch(() => {});
    await stocktake.ctrlC();
  }, 240_000);
});

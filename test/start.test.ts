import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../platform/free-port';
import { eventually } from './support/wait';

/**
 * `npm start` as a newcomer runs it: embedded PostgreSQL, the Temporal dev
 * server, worker and API in one command; Ctrl-C (SIGINT to the process group)
 * leaves no process behind; a second start keeps the data of the first.
 */
const root = path.resolve(import.meta.dirname, '..');
const dataDir = path.join(root, '.test-data', `start-${process.pid}`);

describe('npm start', () => {
  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it('serves /health with both dependencies up, stops cleanly on Ctrl-C and keeps its data', async () => {
    const ports = { PORT: await freePort(), TEMPORAL_DEV_PORT: await freePort(), TEMPORAL_UI_PORT: await freePort() };
    const base = `http://127.0.0.1:${ports.PORT}`;

    const first = await start(ports);
    const health = await (await fetch(`${base}/health`)).json();
    expect(health).toMatchObject({ status: 'ok', database: { status: 'up' }, temporal: { status: 'up' } });
    const created = await fetch(`${base}/reconciliations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${demoToken('manager')}` },
      body: JSON.stringify({ warehouse: 'WH1', scope: { kind: 'warehouse' } }),
    });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    await eventually(async () => {
      const rec = (await (await fetch(`${base}/reconciliations/${id}`, { headers: { authorization: `Bearer ${demoToken('manager')}` } })).json()) as { progress: { status: string; rows: { total: number } } | null };
      return rec.progress?.status === 'ready' ? rec : undefined;
    }, 'the demo reconciliation to be ready');
    await ctrlC(first);

    const second = await start(ports);
    const again = (await (await fetch(`${base}/reconciliations/${id}`, { headers: { authorization: `Bearer ${demoToken('counter')}` } })).json()) as { progress: { status: string; rows: { total: number } } };
    expect(again.progress.status).toBe('ready');
    expect(again.progress.rows.total).toBe(300);
    await ctrlC(second);
  }, 240_000);
});

async function start(ports: Record<string, number>): Promise<ChildProcess> {
  const child = spawn(path.join(root, 'node_modules/.bin/tsx'), ['scripts/start.ts'], {
    cwd: root,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])),
      STOCKTAKE_DATA_DIR: dataDir,
      SEED_POSITIONS: '300',
      DATABASE_URL: '',
      TEMPORAL_ADDRESS: '',
    },
  });
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const exitedEarly = new Promise<never>((_, reject) =>
    child.once('exit', (code) => reject(new Error(`npm start exited early (code ${code}):\n${output.slice(-3000)}`))),
  );
  const healthy = eventually(async () => {
    const res = await fetch(`http://127.0.0.1:${ports.PORT}/health`);
    return res.ok ? true : undefined;
  }, 'npm start to serve /health', 120_000);
  await Promise.race([healthy, exitedEarly]).catch((e) => {
    throw new Error(`${e}\n${output.slice(-3000)}`);
  });
  child.removeAllListeners('exit');
  return child;
}

/** Ctrl-C in a terminal sends SIGINT to the whole foreground process group. */
async function ctrlC(child: ChildProcess): Promise<void> {
  const group = child.pid!;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  process.kill(-group, 'SIGINT');
  await exited;
  await eventually(async () => (processesInGroup(group).length === 0 ? true : undefined), `process group ${group} to be empty`, 30_000).catch(() => {
    throw new Error(`left behind: ${processesInGroup(group).join('\n')}`);
  });
}

function processesInGroup(group: number): string[] {
  const out = execFileSync('ps', ['-eo', 'pid=,pgid=,args='], { encoding: 'utf8' });
  return out
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && Number(l.split(/\s+/)[1]) === group);
}

function demoToken(user: string): string {
  const tokens = JSON.parse(fs.readFileSync(path.join(dataDir, 'demo-tokens.json'), 'utf8')) as Record<string, { token: string }>;
  return tokens[user]!.token;
}

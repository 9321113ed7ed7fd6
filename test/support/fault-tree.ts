import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { freePort } from '../../platform/free-port';
import { runDataDir, startStocktake, type RunningStart, type StartPorts } from './processes';
import { eventually } from './wait';

/**
 * A whole Stocktake process tree as `npm start` runs it (embedded
 * PostgreSQL, Temporal dev server with SQLite, worker, API), killed with
 * SIGKILL at chosen moments and started again on the same data directory.
 */
export class FaultTree {
  private running: RunningStart | undefined;
  private db: pg.Client | undefined;
  readonly restarts: number[] = [];

  private constructor(
    readonly dataDir: string,
    private readonly ports: StartPorts,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  static async create(name: string, env: NodeJS.ProcessEnv): Promise<FaultTree> {
    const ports = { PORT: await freePort(), TEMPORAL_DEV_PORT: await freePort(), TEMPORAL_UI_PORT: await freePort() };
    const tree = new FaultTree(runDataDir(name), ports, env);
    await tree.start();
    return tree;
  }

  async start(): Promise<void> {
    const t0 = performance.now();
    for (let attempt = 1; ; attempt++) {
      try {
        this.running = await startStocktake({ dataDir: this.dataDir, ports: this.ports, env: this.env, readyTimeoutMs: 180_000 });
        break;
      } catch (e) {
        // A port picked free can be taken by a parallel test before npm start binds it: pick again, not a fault of the tree.
        if (attempt === 3 || !String(e).includes('is already in use')) throw e;
        Object.assign(this.ports, { PORT: await freePort(), TEMPORAL_DEV_PORT: await freePort(), TEMPORAL_UI_PORT: await freePort() });
      }
    }
    this.restarts.push(Math.round(performance.now() - t0));
  }

  /** kill -9 of every process of the tree at once, as a power cut would leave it (the data directory survives). */
  async kill(): Promise<void> {
    await this.db?.end().catch(() => {});
    this.db = undefined;
    await this.running!.group.kill();
    this.running = undefined;
  }

  async restart(): Promise<void> {
    await this.kill();
    await this.start();
  }

  async stop(): Promise<void> {
    await this.db?.end().catch(() => {});
    if (this.running) await this.running.group.kill();
    fs.rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** A connection of the test's own to the tree's PostgreSQL (found through postmaster.pid), for watching and checking. */
  async sql<T extends Record<string, unknown>>(text: string, params: unknown[] = []): Promise<T[]> {
    this.db ??= await this.connect();
    return (await this.db.query(text, params)).rows as T[];
  }

  /** Another connection of the test's own to the tree's PostgreSQL; it dies with the tree. */
  async connect(): Promise<pg.Client> {
    const pid = fs.readFileSync(path.join(this.dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n');
    const client = new pg.Client({ connectionString: `postgres://stocktake:stocktake@127.0.0.1:${pid[3]}/stocktake` });
    client.on('error', () => {});
    await client.connect();
    return client;
  }

  async http(user: 'manager' | 'senior' | 'counter', method: string, p: string, body?: unknown, headers: Record<string, string> = {}) {
    const res = await fetch(this.running!.baseUrl + p, {
      method,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${this.running!.token(user)}`, ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  }

  /** Polls the tree's database until `check` holds; returns its value. */
  async until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
    return eventually(check, what, timeoutMs);
  }
}

import http from 'node:http';
import { Runtime } from '@temporalio/worker';
import type { Logger as TemporalLogger, LogLevel, LogMetadata } from '@temporalio/common';
import { freePort } from './free-port';
import { log, type Logger } from './log';
import { registry } from './metrics';
import { StartupError } from './startup-error';

/** The port `npm start` serves the worker's metrics on when WORKER_METRICS_PORT is not set (a free one if taken). */
export const DEFAULT_WORKER_METRICS_PORT = 9464;

export interface WorkerMetrics {
  /** http://host:port/metrics */
  url: string;
  close(): Promise<void>;
}

/**
 * Installs the Temporal runtime of a process that runs a worker, once,
 * before any worker or native connection exists:
 * - its logger is the process's pino logger, so the SDK's lines, the core's
 *   (forwarded at WARN and above) and the activity context logs (which carry
 *   the workflow id, activity type and id, attempt) come out as the same
 *   JSON lines as everything else;
 * - with `metrics`, the SDK's own Prometheus metrics (task slots, pollers,
 *   schedule-to-start and execution latencies, all named temporal_*) are
 *   served on host:port at /metrics, followed by the process's Stocktake
 *   metrics when `withStocktakeMetrics` (a worker process of its own: its
 *   postings count nowhere else). The SDK's exporter itself listens on a
 *   loopback port of its own that this endpoint reads on every scrape.
 * Signals stay the caller's: the SDK would otherwise stop the worker on its own.
 */
export async function installWorkerRuntime(opts: {
  /** `anyPortIfTaken`: a port the OS picks when `port` is in use (npm start's default), instead of a startup failure. */
  metrics?: { port: number; host: string; withStocktakeMetrics: boolean; anyPortIfTaken?: boolean };
} = {}): Promise<WorkerMetrics | undefined> {
  const exporterPort = opts.metrics ? await freePort() : undefined;
  Runtime.install({
    logger: temporalLogger(log),
    shutdownSignals: [],
    telemetryOptions: {
      logging: { filter: { core: 'WARN', other: 'ERROR' }, forward: {} },
      ...(exporterPort ? { metrics: { prometheus: { bindAddress: `127.0.0.1:${exporterPort}` } } } : {}),
    },
  });
  if (!opts.metrics || !exporterPort) return undefined;
  const { port, host, withStocktakeMetrics, anyPortIfTaken } = opts.metrics;
  const exporter = `http://127.0.0.1:${exporterPort}/metrics`;
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('GET /metrics\n');
      return;
    }
    scrape(exporter, withStocktakeMetrics).then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (e: unknown) => {
        log.warn({ event: 'worker_metrics_failed', err: e }, 'worker metrics scrape failed');
        res.writeHead(503, { 'content-type': 'text/plain' }).end('metrics not available just now\n');
      },
    );
  });
  const bind = (on: number) => new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(on, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  await bind(port).catch(async (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EADDRINUSE') throw e;
    if (!anyPortIfTaken) throw new StartupError(`WORKER_METRICS_PORT ${port} on ${host} is already in use: set WORKER_METRICS_PORT to a free port`);
    await bind(0);
  });
  const bound = server.address();
  return {
    url: `http://${host}:${typeof bound === 'object' && bound ? bound.port : port}/metrics`,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

async function scrape(exporter: string, withStocktakeMetrics: boolean): Promise<string> {
  const temporal = await fetch(exporter, { signal: AbortSignal.timeout(5_000) });
  if (!temporal.ok) throw new Error(`the Temporal SDK's exporter answered ${temporal.status}`);
  const text = await temporal.text();
  return withStocktakeMetrics ? `${text.trimEnd()}\n${await registry.metrics()}` : text;
}

/** WORKER_METRICS_PORT: a port number, or undefined when unset or empty. */
export function workerMetricsPort(env: NodeJS.ProcessEnv): number | undefined {
  const raw = (env.WORKER_METRICS_PORT ?? '').trim();
  if (raw === '') return undefined;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new StartupError(`WORKER_METRICS_PORT=${raw} is not a port number (1-65535)`);
  return port;
}

const PINO_LEVEL: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error',
};

/** Temporal's Logger on top of pino: the SDK's metadata (workflowId, activityType, ...) become fields of the line. */
export function temporalLogger(base: Logger): TemporalLogger {
  const write = (level: LogLevel, message: string, meta?: LogMetadata) => {
    // An activity's task token completes it through Temporal's API: a capability, not a log field.
    const fields: LogMetadata = { ...meta };
    delete fields.taskToken;
    base[PINO_LEVEL[level] ?? 'info'](fields, message);
  };
  return {
    log: write,
    trace: (message, meta) => write('TRACE', message, meta),
    debug: (message, meta) => write('DEBUG', message, meta),
    info: (message, meta) => write('INFO', message, meta),
    warn: (message, meta) => write('WARN', message, meta),
    error: (message, meta) => write('ERROR', message, meta),
  };
}

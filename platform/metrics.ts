import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Stocktake's own Prometheus metrics, one registry per process. The API
 * serves it at /metrics; a worker process of its own serves it with the
 * Temporal SDK's metrics on WORKER_METRICS_PORT (platform/worker-telemetry.ts).
 * Under `npm start` the API and the worker share one process, so /metrics
 * also holds what the worker's activities counted.
 *
 * Labels stay bounded: a route pattern, never a raw path; a status code or
 * a status name, never an id.
 */
export const registry = new Registry();

// Process figures (CPU, memory, event loop lag, handles), under their standard names.
collectDefaultMetrics({ register: registry });

export const httpRequests = new Counter({
  name: 'stocktake_http_requests_total',
  help: 'HTTP requests answered, by method, route pattern and status code',
  labelNames: ['method', 'route', 'status'] as const,
  registers: [registry],
});

export const httpDuration = new Histogram({
  name: 'stocktake_http_request_duration_seconds',
  help: 'Time from a request arriving to its response being ready, by method, route pattern and status code',
  labelNames: ['method', 'route', 'status'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  registers: [registry],
});

export const countEntriesAccepted = new Counter({
  name: 'stocktake_count_entries_accepted_total',
  help: 'Count entries accepted from devices and counters (a repeated submission is not counted again)',
  registers: [registry],
});

export const postings = new Counter({
  name: 'stocktake_postings_total',
  help: 'Release rows posted: done (every posting of the row carried out) or failed (refused, e.g. stock would go negative)',
  labelNames: ['outcome'] as const,
  registers: [registry],
});
// Both series exist from the start, so a rate over them works before the first release.
for (const outcome of ['done', 'failed']) postings.inc({ outcome }, 0);

/** Set from the database when scraped (api/metrics.ts), not counted in a process: every API instance reports the same truth. */
export const reconciliationsByStatus = new Gauge({
  name: 'stocktake_reconciliations',
  help: 'Reconciliations by status, read from the database at scrape time',
  labelNames: ['status'] as const,
  registers: [registry],
});

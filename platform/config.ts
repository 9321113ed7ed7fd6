import path from 'node:path';

/**
 * Runtime configuration, read once from the environment. Every variable is
 * documented in the README's configuration table; keep the two in step.
 */
export interface Config {
  /** External PostgreSQL; when absent, `npm start` runs embedded PostgreSQL under `dataDir`. */
  databaseUrl: string | undefined;
  /** External Temporal frontend (host:port); when absent, `npm start` runs the Temporal dev server. */
  temporalAddress: string | undefined;
  temporalNamespace: string;
  taskQueue: string;
  port: number;
  dataDir: string;
  /** Stock positions the demo warehouse gets when `npm start` seeds an empty database. */
  seedPositions: number;
  /** Ports of the Temporal dev server `npm start` runs when TEMPORAL_ADDRESS is not set. */
  temporalDevPort: number;
  temporalUiPort: number;
}

function intFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) {
    throw new Error(`${name} must be a non-negative integer, got '${raw}'`);
  }
  return value;
}

export function loadConfig(): Config {
  return {
    databaseUrl: process.env.DATABASE_URL || undefined,
    temporalAddress: process.env.TEMPORAL_ADDRESS || undefined,
    temporalNamespace: process.env.TEMPORAL_NAMESPACE || 'default',
    taskQueue: process.env.TASK_QUEUE || 'stocktake',
    port: intFromEnv('PORT', 3000),
    dataDir: path.resolve(process.env.STOCKTAKE_DATA_DIR || '.data'),
    seedPositions: intFromEnv('SEED_POSITIONS', 5000),
    temporalDevPort: intFromEnv('TEMPORAL_DEV_PORT', 7233),
    temporalUiPort: intFromEnv('TEMPORAL_UI_PORT', 8233),
  };
}

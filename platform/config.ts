import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { StartupError } from './startup-error';

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
  /**
   * How to reach a secured Temporal at `temporalAddress` (TLS, mTLS, API key);
   * platform/temporal-connection.ts turns it into connection options. Not used
   * for the dev server `npm start` runs itself, which is plain loopback.
   */
  temporalSecurity: TemporalSecurity;
  taskQueue: string;
  port: number;
  dataDir: string;
  /** Stock positions the demo warehouse gets when `npm start` seeds an empty database. */
  seedPositions: number;
  /** Ports of the Temporal dev server `npm start` runs when TEMPORAL_ADDRESS is not set. */
  temporalDevPort: number;
  temporalUiPort: number;
  /** Worker Versioning: the worker's deployment version; undefined, an unversioned worker (the default). */
  workerVersioning: WorkerVersioning | undefined;
}

/**
 * A worker of a Worker Deployment (TEMPORAL_DEPLOYMENT_NAME, TEMPORAL_BUILD_ID):
 * it gets the tasks of workflows on its version once that version is made
 * current or ramping (README, "Changing a workflow safely").
 */
export interface WorkerVersioning {
  deploymentName: string;
  buildId: string;
  /**
   * TEMPORAL_VERSIONING_BEHAVIOR: AUTO_UPGRADE (default) moves running
   * workflows to the current version at their next task, so workflow changes
   * still need patched(); PINNED keeps each run on the version it started on.
   */
  defaultBehavior: 'AUTO_UPGRADE' | 'PINNED';
}

/** Connection security towards Temporal; files are read (and checked) once, at start. */
export interface TemporalSecurity {
  /** TLS to the frontend; undefined: plaintext (a local or in-cluster server). */
  tls: TemporalTls | undefined;
  /** Sent as `Authorization: Bearer <key>` (Temporal Cloud API keys); never logged. */
  apiKey: string | undefined;
}

export interface TemporalTls {
  /** Server name for SNI and certificate verification, when it is not the host of the address. */
  serverName: string | undefined;
  /** The root CA the server's certificate chains to (PEM); undefined: the system's roots. */
  serverRootCa: { file: string; pem: Buffer } | undefined;
  /** mTLS: this client's certificate and key (PEM). */
  clientCert: { certFile: string; keyFile: string; crt: Buffer; key: Buffer } | undefined;
}

/** No TLS, no API key: what `npm start` uses towards its own dev server. */
export const PLAINTEXT: TemporalSecurity = { tls: undefined, apiKey: undefined };

type Env = Record<string, string | undefined>;

function intFromEnv(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) {
    throw new Error(`${name} must be a non-negative integer, got '${raw}'`);
  }
  return value;
}

export function loadConfig(env: Env = process.env): Config {
  return {
    databaseUrl: env.DATABASE_URL || undefined,
    temporalAddress: env.TEMPORAL_ADDRESS || undefined,
    temporalNamespace: env.TEMPORAL_NAMESPACE || 'default',
    temporalSecurity: readTemporalSecurity(env),
    taskQueue: env.TASK_QUEUE || 'stocktake',
    port: intFromEnv(env, 'PORT', 3000),
    dataDir: path.resolve(env.STOCKTAKE_DATA_DIR || '.data'),
    seedPositions: intFromEnv(env, 'SEED_POSITIONS', 5000),
    temporalDevPort: intFromEnv(env, 'TEMPORAL_DEV_PORT', 7233),
    temporalUiPort: intFromEnv(env, 'TEMPORAL_UI_PORT', 8233),
    workerVersioning: readWorkerVersioning(env),
  };
}

/** Both or neither of TEMPORAL_DEPLOYMENT_NAME and TEMPORAL_BUILD_ID; a version is `<deployment>.<build id>`, so the name holds no dot. */
export function readWorkerVersioning(env: Env): WorkerVersioning | undefined {
  const deploymentName = (env.TEMPORAL_DEPLOYMENT_NAME ?? '').trim();
  const buildId = (env.TEMPORAL_BUILD_ID ?? '').trim();
  const behavior = (env.TEMPORAL_VERSIONING_BEHAVIOR ?? '').trim().toUpperCase().replace('-', '_') || 'AUTO_UPGRADE';
  if (!deploymentName && !buildId) {
    if (env.TEMPORAL_VERSIONING_BEHAVIOR?.trim()) throw new StartupError('TEMPORAL_VERSIONING_BEHAVIOR is set without TEMPORAL_DEPLOYMENT_NAME and TEMPORAL_BUILD_ID: set those too, or unset it');
    return undefined;
  }
  if (!deploymentName) throw new StartupError('TEMPORAL_BUILD_ID is set without TEMPORAL_DEPLOYMENT_NAME: Worker Versioning needs both, so set both or neither');
  if (!buildId) throw new StartupError('TEMPORAL_DEPLOYMENT_NAME is set without TEMPORAL_BUILD_ID: Worker Versioning needs both, so set both or neither');
  if (deploymentName.includes('.')) throw new StartupError(`TEMPORAL_DEPLOYMENT_NAME=${deploymentName} contains a dot: Temporal names a version <deployment>.<build id>, so choose a name without one`);
  if (behavior !== 'AUTO_UPGRADE' && behavior !== 'PINNED') throw new StartupError(`TEMPORAL_VERSIONING_BEHAVIOR must be auto-upgrade or pinned, got '${env.TEMPORAL_VERSIONING_BEHAVIOR}'`);
  return { deploymentName, buildId, defaultBehavior: behavior };
}

/**
 * TEMPORAL_TLS_CERT + TEMPORAL_TLS_KEY (mTLS), TEMPORAL_TLS_CA, TEMPORAL_TLS_SERVER_NAME,
 * TEMPORAL_TLS=true (TLS with the system's roots), TEMPORAL_API_KEY (implies TLS).
 * Any of them turns TLS on, as the Temporal CLI does. Whatever cannot work (a
 * file that cannot be read or holds no PEM certificate or key, a certificate
 * without its key, a key of another certificate, TLS switched off beside
 * settings that need it) is a StartupError of one sentence, before anything connects.
 */
export function readTemporalSecurity(env: Env): TemporalSecurity {
  const value = (name: string) => (env[name] ?? '').trim() || undefined;
  const certFile = value('TEMPORAL_TLS_CERT');
  const keyFile = value('TEMPORAL_TLS_KEY');
  const caFile = value('TEMPORAL_TLS_CA');
  const serverName = value('TEMPORAL_TLS_SERVER_NAME');
  const apiKey = value('TEMPORAL_API_KEY');
  const tlsSwitch = booleanFromEnv(env, 'TEMPORAL_TLS');

  const needingTls = (
    [
      ['TEMPORAL_TLS_CERT', certFile],
      ['TEMPORAL_TLS_KEY', keyFile],
      ['TEMPORAL_TLS_CA', caFile],
      ['TEMPORAL_TLS_SERVER_NAME', serverName],
      ['TEMPORAL_API_KEY', apiKey],
    ] as const
  )
    .filter(([, v]) => v !== undefined)
    .map(([name]) => name);
  if (tlsSwitch === false && needingTls.length > 0) {
    throw new StartupError(`TEMPORAL_TLS=false contradicts ${needingTls.join(', ')}, which need TLS: unset TEMPORAL_TLS or ${needingTls.length > 1 ? 'them' : 'it'}`);
  }
  if (certFile && !keyFile) throw new StartupError('TEMPORAL_TLS_CERT is set without TEMPORAL_TLS_KEY: mTLS needs the client certificate and its private key, so set both or neither');
  if (keyFile && !certFile) throw new StartupError('TEMPORAL_TLS_KEY is set without TEMPORAL_TLS_CERT: mTLS needs the client certificate and its private key, so set both or neither');
  if (apiKey && /[\s\p{Cc}]/u.test(apiKey)) {
    throw new StartupError('TEMPORAL_API_KEY contains whitespace or control characters: set it to the key alone');
  }

  if (tlsSwitch !== true && needingTls.length === 0) return { tls: undefined, apiKey: undefined };
  let clientCert: TemporalTls['clientCert'];
  if (certFile && keyFile) {
    const crt = readPem('TEMPORAL_TLS_CERT', certFile, 'client certificate');
    const key = readPem('TEMPORAL_TLS_KEY', keyFile, 'private key');
    const cert = parseCertificate('TEMPORAL_TLS_CERT', certFile, crt);
    if (new Date(cert.validTo).getTime() < Date.now()) {
      throw new StartupError(`the client certificate in TEMPORAL_TLS_CERT=${certFile} expired on ${new Date(cert.validTo).toISOString()}: renew it`);
    }
    if (!cert.checkPrivateKey(parseKey('TEMPORAL_TLS_KEY', keyFile, key))) {
      throw new StartupError(`the private key in TEMPORAL_TLS_KEY=${keyFile} does not belong to the certificate in TEMPORAL_TLS_CERT=${certFile}: give the key the certificate was issued for`);
    }
    clientCert = { certFile, keyFile, crt, key };
  }
  let serverRootCa: TemporalTls['serverRootCa'];
  if (caFile) {
    const pem = readPem('TEMPORAL_TLS_CA', caFile, 'CA certificate');
    parseCertificate('TEMPORAL_TLS_CA', caFile, pem);
    serverRootCa = { file: caFile, pem };
  }
  return { tls: { serverName, serverRootCa, clientCert }, apiKey };
}

function booleanFromEnv(env: Env, name: string): boolean | undefined {
  const raw = (env[name] ?? '').trim().toLowerCase();
  if (raw === '') return undefined;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw new StartupError(`${name} must be true or false, got '${env[name]}': correct it or unset it`);
}

function readPem(name: string, file: string, what: string): Buffer {
  let content: Buffer;
  try {
    content = fs.readFileSync(file);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'does not exist' : err.code === 'EISDIR' ? 'is a directory' : `cannot be read (${err.code ?? err.message})`;
    throw new StartupError(`${name}=${file} ${why}: give the path of the ${what} (PEM) or unset ${name}`);
  }
  if (!content.includes('-----BEGIN ')) {
    throw new StartupError(`${name}=${file} is not a PEM file: give the ${what} in PEM form (-----BEGIN ...)`);
  }
  return content;
}

function parseCertificate(name: string, file: string, pem: Buffer): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (e) {
    throw new StartupError(`${name}=${file} holds no valid X.509 certificate (${firstLine(e)}): give a PEM certificate`);
  }
}

function parseKey(name: string, file: string, pem: Buffer): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (e) {
    throw new StartupError(`${name}=${file} holds no usable private key (${firstLine(e)}): give the unencrypted PEM private key of the client certificate`);
  }
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0]!.trim();
}

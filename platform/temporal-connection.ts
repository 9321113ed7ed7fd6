import type { ConnectionOptions, TLSConfig } from '@temporalio/client';
import { NativeConnection, type NativeConnectionOptions } from '@temporalio/worker';
import type { Config, TemporalSecurity, TemporalTls } from './config';
import { StartupError } from './startup-error';

/**
 * The one place that turns configuration into Temporal connection options,
 * for every connection Stocktake opens: the API's and scripts' Client
 * `Connection` and the worker's `NativeConnection`. Security (TLS, mTLS, API
 * key) comes from `Config.temporalSecurity` (platform/config.ts reads and
 * checks it once); the option shapes are the SDK's own (`tls: TLSConfig`,
 * `apiKey`, as typed in @temporalio/client and @temporalio/worker 1.24).
 */

/** Where a connection goes and how it is secured: a Config, or `npm start`'s own dev server (PLAINTEXT). */
export type TemporalTarget = Pick<Config, 'temporalAddress' | 'temporalSecurity'>;

/** Where `npm run api`, `npm run worker` and the scripts look when TEMPORAL_ADDRESS is not set. */
export const DEFAULT_TEMPORAL_ADDRESS = '127.0.0.1:7233';

/**
 * How long a connect may take before it fails. The Client's Connection has
 * `connectTimeout`; NativeConnection has none, and a TLS handshake with a
 * server that accepts the TCP connection but never answers (a wrong port, a
 * stuck proxy) waits forever, so `connectNative` bounds it.
 */
export const CONNECT_TIMEOUT_MS = 10_000;

export function temporalAddress(target: TemporalTarget): string {
  return target.temporalAddress ?? DEFAULT_TEMPORAL_ADDRESS;
}

/** Options for the Client's `Connection.connect` (the API, scripts, `npm start`'s client). */
export function temporalConnectionOptions(target: TemporalTarget): ConnectionOptions {
  const { tls, apiKey } = target.temporalSecurity;
  return {
    address: temporalAddress(target),
    connectTimeout: CONNECT_TIMEOUT_MS,
    ...(tls ? { tls: tlsConfig(tls) } : {}),
    ...(apiKey ? { apiKey } : {}),
  };
}

/** Options for the worker's `NativeConnection.connect`; connect with `connectNative` for a bounded wait. */
export function nativeConnectionOptions(target: TemporalTarget): NativeConnectionOptions {
  const { tls, apiKey } = target.temporalSecurity;
  return {
    address: temporalAddress(target),
    ...(tls ? { tls: tlsConfig(tls) } : {}),
    ...(apiKey ? { apiKey } : {}),
  };
}

/**
 * `tls: {}` is TLS with the system's roots and the address's host as server
 * name; each setting present adds its field.
 */
function tlsConfig(tls: TemporalTls): TLSConfig {
  return {
    ...(tls.serverName ? { serverNameOverride: tls.serverName } : {}),
    ...(tls.serverRootCa ? { serverRootCACertificate: tls.serverRootCa.pem } : {}),
    ...(tls.clientCert ? { clientCertPair: { crt: tls.clientCert.crt, key: tls.clientCert.key } } : {}),
  };
}

/**
 * NativeConnection.connect, failing after `timeoutMs` instead of waiting for a
 * handshake that never comes. A connection that succeeds after the caller
 * gave up is closed.
 */
export async function connectNative(options: NativeConnectionOptions, timeoutMs = CONNECT_TIMEOUT_MS): Promise<NativeConnection> {
  const pending = NativeConnection.connect(options);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no connection to Temporal at ${options.address} within ${timeoutMs / 1000} s`)), timeoutMs);
  });
  try {
    return await Promise.race([pending, timeout]);
  } catch (e) {
    pending.then((late) => late.close(), () => {}).catch(() => {});
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

/** For log lines and errors: how the connection is secured, never a secret. */
export function describeTemporalSecurity(security: TemporalSecurity): string {
  const { tls, apiKey } = security;
  if (!tls) return 'plaintext';
  return [
    tls.clientCert ? `mTLS with ${tls.clientCert.certFile}` : 'TLS',
    tls.serverRootCa ? `CA ${tls.serverRootCa.file}` : 'system CAs',
    ...(tls.serverName ? [`server name ${tls.serverName}`] : []),
    ...(apiKey ? ['API key'] : []),
  ].join(', ');
}

/**
 * The startup error for a Temporal that could not be reached: one sentence
 * with the address, how it was secured, and `fix`; with TLS or an API key
 * configured, those settings are named as a possible cause too. What the SDK
 * said goes into the detail.
 */
export function temporalUnreachable(target: TemporalTarget, fix: string, cause: unknown): StartupError {
  const secured = target.temporalSecurity.tls !== undefined || target.temporalSecurity.apiKey !== undefined;
  return new StartupError(
    `cannot reach Temporal at ${temporalAddress(target)} (${describeTemporalSecurity(target.temporalSecurity)}): ${fix}` +
      (secured ? ', or correct TEMPORAL_TLS_* and TEMPORAL_API_KEY to what the server expects' : ''),
    cause instanceof Error ? cause.message : String(cause),
  );
}

import { Connection } from '@temporalio/client';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../platform/config';
import { freePort } from '../platform/free-port';
import { StartupError } from '../platform/startup-error';
import { findTemporalBinary } from '../platform/temporal-binaries';
import { connectNative, nativeConnectionOptions, temporalConnectionOptions, temporalUnreachable } from '../platform/temporal-connection';
import { freshDatabase } from './support/db';
import { runDataDir, signalGroup, spawnGroup, type SpawnedGroup } from './support/processes';
import { eventually } from './support/wait';

/**
 * Connection security towards a secured Temporal (mTLS, TLS, Temporal Cloud
 * API keys): the options every connection gets from TEMPORAL_TLS_* and
 * TEMPORAL_API_KEY, the one-sentence errors of a setting that cannot work,
 * and proof on the wire. `temporal server start-dev` cannot serve TLS (its
 * flags have none), so the real server is reached through a TLS terminator in
 * this process that demands a client certificate from the test's own CA, as a
 * load balancer in front of a cluster would; an HTTP/2 server over TLS shows
 * the API key arriving as a bearer token; and TLS settings against the plain
 * dev server fail with a clear error instead of hanging.
 */
const dir = runDataDir('temporal-connection');
const spawned: SpawnedGroup[] = [];
const cleanups: Array<() => Promise<void> | void> = [];
const file = (name: string) => path.join(dir, name);
const read = (name: string) => fs.readFileSync(file(name));
const SERVER_NAME = 'temporal.test';

/** A run of openssl, spawned (and reaped) like every process a test starts. */
async function openssl(...args: string[]): Promise<void> {
  const run = spawnGroup('openssl', args, { cwd: dir });
  spawned.push(run);
  const { code } = await run.exited;
  if (code !== 0) throw new Error(`openssl ${args.join(' ')} failed:\n${run.output()}`);
}

/** A CA, a server certificate for temporal.test signed by it, a client certificate signed by it. */
async function makeCertificates(): Promise<void> {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await openssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=Stocktake test CA');
  fs.writeFileSync(file('server.ext'), `subjectAltName=DNS:${SERVER_NAME}\nextendedKeyUsage=serverAuth\n`);
  fs.writeFileSync(file('client.ext'), 'extendedKeyUsage=clientAuth\n');
  for (const [name, cn] of [
    ['server', SERVER_NAME],
    ['client', 'stocktake-worker'],
  ] as const) {
    await openssl('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
    await openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`);
  }
  fs.writeFileSync(file('not-pem.txt'), 'this is not a certificate\n');
}

const mtlsEnv = (address: string) => ({
  TEMPORAL_ADDRESS: address,
  TEMPORAL_TLS_CERT: file('client.pem'),
  TEMPORAL_TLS_KEY: file('client.key'),
  TEMPORAL_TLS_CA: file('ca.pem'),
  TEMPORAL_TLS_SERVER_NAME: SERVER_NAME,
});

function startupError(env: Record<string, string>): StartupError {
  try {
    loadConfig(env);
  } catch (e) {
    expect(e).toBeInstanceOf(StartupError);
    return e as StartupError;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

/** One sentence: one line, no sentence break inside, a fix after the colon. */
function expectOneSentence(message: string): void {
  expect(message).toMatch(/^[^\n]+: [^\n]+$/);
  expect(message).not.toMatch(/\.\s+\S/);
  expect(message).not.toMatch(/\.$/);
}

beforeAll(async () => {
  fs.mkdirSync(dir, { recursive: true });
  await makeCertificates();
});

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  for (const run of spawned) await run.kill();
  for (const run of spawned) expect(run.leftovers()).toEqual([]);
  fs.rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe('connection options from the environment', () => {
  it('plain: the address only, no TLS, no API key', () => {
    const config = loadConfig({ TEMPORAL_ADDRESS: 'temporal.internal:7233' });
    expect(temporalConnectionOptions(config)).toEqual({ address: 'temporal.internal:7233', connectTimeout: 10_000 });
    expect(nativeConnectionOptions(config)).toEqual({ address: 'temporal.internal:7233' });
    expect(temporalConnectionOptions(loadConfig({})).address).toBe('127.0.0.1:7233');
    expect(loadConfig({ TEMPORAL_TLS: 'false' }).temporalSecurity).toEqual({ tls: undefined, apiKey: undefined });
  });

  it('TEMPORAL_TLS=true: TLS with the system roots and no client certificate', () => {
    const config = loadConfig({ TEMPORAL_ADDRESS: 'temporal.example.com:7233', TEMPORAL_TLS: 'true' });
    expect(temporalConnectionOptions(config)).toEqual({ address: 'temporal.example.com:7233', connectTimeout: 10_000, tls: {} });
    expect(nativeConnectionOptions(config)).toEqual({ address: 'temporal.example.com:7233', tls: {} });
  });

  it('mTLS with a CA and a server name: client certificate pair, root CA and SNI override', () => {
    const config = loadConfig(mtlsEnv('10.0.0.5:7233'));
    const tlsOptions = {
      serverNameOverride: SERVER_NAME,
      serverRootCACertificate: read('ca.pem'),
      clientCertPair: { crt: read('client.pem'), key: read('client.key') },
    };
    expect(temporalConnectionOptions(config)).toEqual({ address: '10.0.0.5:7233', connectTimeout: 10_000, tls: tlsOptions });
    expect(nativeConnectionOptions(config)).toEqual({ address: '10.0.0.5:7233', tls: tlsOptions });
  });

  it('TEMPORAL_API_KEY: the key, and TLS with it (as Temporal Cloud requires)', () => {
    const config = loadConfig({ TEMPORAL_ADDRESS: 'eu-west-1.aws.api.temporal.io:7233', TEMPORAL_API_KEY: 'key-123' });
    expect(temporalConnectionOptions(config)).toEqual({ address: 'eu-west-1.aws.api.temporal.io:7233', connectTimeout: 10_000, tls: {}, apiKey: 'key-123' });
    expect(nativeConnectionOptions(config)).toEqual({ address: 'eu-west-1.aws.api.temporal.io:7233', tls: {}, apiKey: 'key-123' });
    const withCa = loadConfig({ TEMPORAL_API_KEY: 'key-123', TEMPORAL_TLS_CA: file('ca.pem') });
    expect(nativeConnectionOptions(withCa)).toEqual({ address: '127.0.0.1:7233', tls: { serverRootCACertificate: read('ca.pem') }, apiKey: 'key-123' });
  });

  it.each([
    ['a certificate without its key', () => ({ TEMPORAL_TLS_CERT: file('client.pem') }), /^TEMPORAL_TLS_CERT is set without TEMPORAL_TLS_KEY: /],
    ['a key without its certificate', () => ({ TEMPORAL_TLS_KEY: file('client.key') }), /^TEMPORAL_TLS_KEY is set without TEMPORAL_TLS_CERT: /],
    [
      'a certificate file that does not exist',
      () => ({ TEMPORAL_TLS_CERT: file('missing.pem'), TEMPORAL_TLS_KEY: file('client.key') }),
      /^TEMPORAL_TLS_CERT=.*missing\.pem does not exist: give the path of the client certificate/,
    ],
    ['a CA path that is a directory', () => ({ TEMPORAL_TLS_CA: dir }), /^TEMPORAL_TLS_CA=.* is a directory: /],
    ['a CA file that is not PEM', () => ({ TEMPORAL_TLS_CA: file('not-pem.txt') }), /^TEMPORAL_TLS_CA=.*not-pem\.txt is not a PEM file: /],
    [
      'a key where the certificate belongs',
      () => ({ TEMPORAL_TLS_CERT: file('client.key'), TEMPORAL_TLS_KEY: file('client.key') }),
      /^TEMPORAL_TLS_CERT=.*client\.key holds no valid X\.509 certificate \(.*\): give a PEM certificate$/,
    ],
    [
      'the key of another certificate',
      () => ({ TEMPORAL_TLS_CERT: file('client.pem'), TEMPORAL_TLS_KEY: file('server.key') }),
      /^the private key in TEMPORAL_TLS_KEY=.*server\.key does not belong to the certificate in TEMPORAL_TLS_CERT=.*client\.pem: /,
    ],
    ['TLS switched off beside an API key', () => ({ TEMPORAL_TLS: 'false', TEMPORAL_API_KEY: 'key-123' }), /^TEMPORAL_TLS=false contradicts TEMPORAL_API_KEY, which need TLS: /],
    ['TEMPORAL_TLS that is not a boolean', () => ({ TEMPORAL_TLS: 'yes' }), /^TEMPORAL_TLS must be true or false, got 'yes': /],
    ['an API key with a line break', () => ({ TEMPORAL_API_KEY: 'key\n123' }), /^TEMPORAL_API_KEY contains whitespace or control characters: /],
  ])('%s is one sentence naming the fix', (_what, env, expected) => {
    const error = startupError(env());
    expect(error.message).toMatch(expected);
    expectOneSentence(error.message);
    expect(error.message).not.toContain('key-123');
  });

  it('reaches the deployable processes as their one-sentence startup failure', async () => {
    const env = {
      DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none',
      TEMPORAL_ADDRESS: '127.0.0.1:1',
      TEMPORAL_TLS_CERT: file('client.pem'),
      TEMPORAL_TLS_KEY: '',
    };
    const runs = ['scripts/worker.ts', 'api/main.ts'].map((script) => spawnGroup(process.execPath, ['--import', 'tsx', script], { env }));
    spawned.push(...runs);
    for (const [run, name] of [
      [runs[0]!, 'worker'],
      [runs[1]!, 'api'],
    ] as const) {
      expect((await run.exited).code).toBe(1);
      expect(run.output()).toContain(`[${name}] cannot start: TEMPORAL_TLS_CERT is set without TEMPORAL_TLS_KEY: mTLS needs the client certificate and its private key, so set both or neither\n`);
      expect(run.output()).not.toMatch(/\n\s+at /);
    }
  }, 60_000);
});

describe('on the wire', () => {
  let devAddress: string;
  /** A TLS terminator in front of the dev server that requires a client certificate of the test CA. */
  let mtlsAddress: string;
  const handshakes: Array<{ servername: string | false | null; clientCN: unknown }> = [];
  const refusals: string[] = [];

  beforeAll(async () => {
    const port = await freePort();
    const server = spawnGroup(findTemporalBinary('cli'), ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--headless', '--log-level', 'warn']);
    spawned.push(server);
    devAddress = `127.0.0.1:${port}`;
    await eventually(async () => {
      const connection = await Connection.connect({ address: devAddress, connectTimeout: 2_000 });
      try {
        return (await connection.workflowService.describeNamespace({ namespace: 'default' })).namespaceInfo?.name;
      } finally {
        await connection.close();
      }
    }, 'the Temporal dev server to serve', 60_000);

    const terminator = tls.createServer(
      { key: read('server.key'), cert: read('server.pem'), ca: read('ca.pem'), requestCert: true, rejectUnauthorized: true, ALPNProtocols: ['h2'] },
      (socket) => {
        handshakes.push({ servername: socket.servername, clientCN: socket.getPeerCertificate().subject?.CN });
        const upstream = net.connect(port, '127.0.0.1');
        socket.pipe(upstream).pipe(socket);
        socket.on('error', () => upstream.destroy());
        upstream.on('error', () => socket.destroy());
        socket.on('close', () => upstream.destroy());
      },
    );
    terminator.on('tlsClientError', (e) => refusals.push(e.message));
    mtlsAddress = `127.0.0.1:${await listenOn(terminator)}`;
  }, 120_000);

  it('mTLS with CA and server name: the worker’s NativeConnection and the client’s Connection reach the real server', async () => {
    const config = loadConfig(mtlsEnv(mtlsAddress));
    const native = await connectNative(nativeConnectionOptions(config));
    try {
      expect((await native.workflowService.describeNamespace({ namespace: 'default' })).namespaceInfo?.name).toBe('default');
    } finally {
      await native.close();
    }
    const client = await Connection.connect(temporalConnectionOptions(config));
    try {
      expect((await client.workflowService.describeNamespace({ namespace: 'default' })).namespaceInfo?.name).toBe('default');
    } finally {
      await client.close();
    }
    // Both presented the client certificate and asked for the configured server name.
    expect(handshakes.length).toBeGreaterThanOrEqual(2);
    expect(new Set(handshakes.map((h) => JSON.stringify(h)))).toEqual(new Set([JSON.stringify({ servername: SERVER_NAME, clientCN: 'stocktake-worker' })]));
  });

  it('npm run worker and npm run api connect over mTLS from the environment, and stop on SIGTERM', async () => {
    const db = await freshDatabase();
    cleanups.push(() => db.close());
    const port = await freePort();
    const env = {
      DATABASE_URL: db.url,
      PORT: String(port),
      TASK_QUEUE: `tls-${randomBytes(4).toString('hex')}`,
      STOCKTAKE_DECISION_KEY: randomBytes(32).toString('hex'),
      ...mtlsEnv(mtlsAddress),
    };
    // Node with tsx as a loader rather than the tsx wrapper, so the exit code is the script's own.
    const worker = spawnGroup(process.execPath, ['--import', 'tsx', 'scripts/worker.ts'], { env });
    const api = spawnGroup(process.execPath, ['--import', 'tsx', 'api/main.ts'], { env });
    spawned.push(worker, api);
    const before = handshakes.length;
    const secured = `${mtlsAddress} (mTLS with ${file('client.pem')}, CA ${file('ca.pem')}, server name ${SERVER_NAME})`;
    await eventually(async () => (worker.output().includes(`worker polling task queue ${env.TASK_QUEUE} on ${secured}`) ? true : undefined), 'the worker to poll', 90_000).catch((e: unknown) => {
      throw new Error(`${String(e)}\n${worker.output()}`);
    });
    const health = await eventually(
      async () => {
        const response = await fetch(`http://127.0.0.1:${port}/health`);
        return response.status === 200 ? ((await response.json()) as unknown) : undefined;
      },
      'the API to serve /health',
      90_000,
    ).catch((e: unknown) => {
      throw new Error(`${String(e)}\n${api.output()}`);
    });
    expect(health).toMatchObject({ status: 'ok', temporal: { status: 'up' } });
    expect(api.output()).toContain(`(Temporal ${mtlsAddress}, mTLS with ${file('client.pem')}`);
    // Their connections went through the terminator, with the client certificate.
    expect(handshakes.length).toBeGreaterThanOrEqual(before + 2);
    for (const h of handshakes.slice(before)) expect(h).toEqual({ servername: SERVER_NAME, clientCN: 'stocktake-worker' });

    for (const run of [worker, api]) signalGroup(run.pgid, 'SIGTERM');
    for (const run of [worker, api]) expect((await run.exited).code, run.output().slice(-2000)).toBe(0);
    for (const run of [worker, api]) expect(run.leftovers()).toEqual([]);
  }, 180_000);

  it('without the client certificate the server refuses, and the error says how it connected', async () => {
    const config = loadConfig({ TEMPORAL_ADDRESS: mtlsAddress, TEMPORAL_TLS_CA: file('ca.pem'), TEMPORAL_TLS_SERVER_NAME: SERVER_NAME });
    const nativeFailure = await connectNative(nativeConnectionOptions(config)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(nativeFailure).toBeInstanceOf(Error);
    expect(refusals.some((r) => r.includes('peer did not return a certificate'))).toBe(true);
    const error = temporalUnreachable(config, 'start it or set TEMPORAL_ADDRESS', nativeFailure);
    expect(error.message).toBe(
      `cannot reach Temporal at ${mtlsAddress} (TLS, CA ${file('ca.pem')}, server name ${SERVER_NAME}): start it or set TEMPORAL_ADDRESS, or correct TEMPORAL_TLS_* and TEMPORAL_API_KEY to what the server expects`,
    );
    expectOneSentence(error.message);
    await expect(Connection.connect({ ...temporalConnectionOptions(config), connectTimeout: 2_000 })).rejects.toThrow();
  });

  it('TLS settings against the plain dev server fail with an error, not a hang', async () => {
    const config = loadConfig(mtlsEnv(devAddress));
    await expect(connectNative(nativeConnectionOptions(config))).rejects.toThrow(/InvalidContentType|transport/i);
    // The Client's connect is bounded by connectTimeout (10 s as configured; shortened here).
    await expect(Connection.connect({ ...temporalConnectionOptions(config), connectTimeout: 2_000 })).rejects.toThrow(/deadline/i);
  });

  it('a TLS handshake nobody answers fails at the connect bound', async () => {
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((socket) => sockets.add(socket));
    const port = await listenOn(silent);
    cleanups.push(() => {
      for (const socket of sockets) socket.destroy();
    });
    const config = loadConfig(mtlsEnv(`127.0.0.1:${port}`));
    // NativeConnection itself would wait for ever here; connectNative gives up (10 s in the processes, 1 s here).
    await expect(connectNative(nativeConnectionOptions(config), 1_000)).rejects.toThrow(`no connection to Temporal at 127.0.0.1:${port} within 1 s`);
  });

  it('TEMPORAL_API_KEY arrives as a bearer token over TLS, from the worker’s and the client’s connections', async () => {
    const authorizations: string[] = [];
    const recorder = http2.createSecureServer({ key: read('server.key'), cert: read('server.pem') });
    recorder.on('stream', (stream, headers) => {
      authorizations.push(String(headers.authorization));
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '12', 'grpc-message': 'recorder' }));
      stream.end();
    });
    const address = `127.0.0.1:${await listenOn(recorder)}`;
    const config = loadConfig({ TEMPORAL_ADDRESS: address, TEMPORAL_API_KEY: 'test-api-key', TEMPORAL_TLS_CA: file('ca.pem'), TEMPORAL_TLS_SERVER_NAME: SERVER_NAME });

    // Whether a connect accepts the recorder's "unimplemented" does not matter: what arrived does.
    await connectNative(nativeConnectionOptions(config)).then(
      (c) => c.close(),
      () => {},
    );
    expect(authorizations.length).toBeGreaterThan(0);
    expect(new Set(authorizations)).toEqual(new Set(['Bearer test-api-key']));
    authorizations.length = 0;
    await Connection.connect(temporalConnectionOptions(config)).then(
      (c) => c.close(),
      () => {},
    );
    expect(authorizations.length).toBeGreaterThan(0);
    expect(new Set(authorizations)).toEqual(new Set(['Bearer test-api-key']));
  });
});

/** Listens on a free loopback port; closed (its connections with it) after the file. */
async function listenOn(server: net.Server | http2.Http2SecureServer): Promise<number> {
  const sockets = new Set<net.Socket>();
  server.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  );
  return (server.address() as net.AddressInfo).port;
}


import { createAdaptorServer } from '@hono/node-server';
import type { Server } from 'node:http';
import { answerClientErrors } from '../api/client-errors';
import { StartupError } from './startup-error';

export interface RunningHttpServer {
  /** Stops accepting, lets requests in flight finish for `graceMs`, then drops the connections left. */
  close(graceMs?: number): Promise<void>;
}

/** Serves `fetch` on host:port; a port already taken is a startup failure that names the fix. */
export async function listen(fetch: (request: Request) => Response | Promise<Response>, port: number, hostname: string): Promise<RunningHttpServer> {
  const server = createAdaptorServer({ fetch }) as Server;
  answerClientErrors(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        e.code === 'EADDRINUSE'
          ? new StartupError(`port ${port} on ${hostname} is already in use (another Stocktake?): stop what uses it or set PORT to a free port`)
          : e,
      ),
    );
    server.listen(port, hostname, () => resolve());
  });
  return {
    close(graceMs = 5_000) {
      return new Promise<void>((resolve) => {
        const force = setTimeout(() => server.closeAllConnections(), graceMs);
        server.close(() => {
          clearTimeout(force);
          resolve();
        });
        server.closeIdleConnections();
      });
    },
  };
}

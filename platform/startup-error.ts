/**
 * A startup failure a person has to fix, told in one sentence that names the
 * fix. `npm start` prints `message` as is, never a stack; `detail` keeps what
 * the underlying tool said, for one extra log line.
 */
export class StartupError extends Error {
  constructor(
    message: string,
    readonly detail?: string,
  ) {
    super(message);
    this.name = 'StartupError';
  }
}

/** The one sentence for any error that stopped a start; errors we did not anticipate keep their first line. */
export function describeStartupFailure(e: unknown): { sentence: string; detail: string | undefined } {
  if (e instanceof StartupError) return { sentence: e.message, detail: e.detail && !e.message.includes(e.detail.trim()) ? e.detail : undefined };
  const err = e as NodeJS.ErrnoException & { address?: string; port?: number };
  const message = e instanceof Error ? e.message : String(e);
  const firstLine = message.split('\n')[0]!.trim() || 'unknown error';
  switch (err?.code) {
    case 'EADDRINUSE':
      return { sentence: `port ${err.port ?? ''} is already in use: stop what uses it or choose another port`, detail: firstLine };
    case 'ENOSPC':
      return { sentence: 'the disk is full: free some space and start again', detail: firstLine };
    case 'EACCES':
    case 'EPERM':
      return { sentence: `permission denied (${firstLine}): run as a user who may write the data directory or set STOCKTAKE_DATA_DIR`, detail: undefined };
    default:
      return { sentence: firstLine, detail: undefined };
  }
}

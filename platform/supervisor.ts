/**
 * Keeps a server process `npm start` runs alive: when it exits without being
 * asked to, it is started again (same port, same data) after a backoff that
 * doubles from `firstDelayMs` up to `maxDelayMs`, and is reset once a run has
 * lasted a minute. One log line per exit and per restart.
 */
export interface Supervised {
  /** Settles when the process exits, saying how. */
  exited: Promise<string>;
  stop(): Promise<void>;
}

export interface Supervision<T extends Supervised> {
  /** The process running now (replaced on each restart). */
  readonly current: T;
  /** Stops supervising, then the process; a restart in progress is waited for and stopped too. */
  stop(): Promise<void>;
}

const STABLE_RUN_MS = 60_000;

export async function supervise<T extends Supervised>(opts: {
  name: string;
  /** Starts the process; its first failure is the caller's (a startup failure), later ones are retried. */
  start: () => Promise<T>;
  log: (line: string) => void;
  /**
   * Aborted when the owner starts shutting down, before it gets to stop this
   * process: a server that exits then (Ctrl-C reaches the whole process group)
   * is not restarted.
   */
  until?: AbortSignal;
  firstDelayMs?: number;
  maxDelayMs?: number;
}): Promise<Supervision<T>> {
  const firstDelay = opts.firstDelayMs ?? 500;
  const maxDelay = opts.maxDelayMs ?? 15_000;
  let current = await opts.start();
  let stopping = false;
  let wake: () => void = () => {};
  const stopRequested = new Promise<void>((resolve) => (wake = resolve));
  const halt = () => {
    stopping = true;
    wake();
  };
  if (opts.until?.aborted) halt();
  opts.until?.addEventListener('abort', halt);
  const pause = (ms: number) =>
    Promise.race([stopRequested, new Promise<void>((resolve) => setTimeout(resolve, ms).unref())]);

  const keepAlive = async () => {
    let delay = firstDelay;
    let restarts = 0;
    for (;;) {
      const startedAt = Date.now();
      let how = await Promise.race([current.exited, stopRequested.then(() => undefined)]);
      if (stopping || how === undefined) return;
      if (Date.now() - startedAt >= STABLE_RUN_MS) delay = firstDelay;
      for (;;) {
        opts.log(`${opts.name} ${how}; restarting it in ${(delay / 1000).toFixed(1)} s`);
        await pause(delay);
        if (stopping) return;
        delay = Math.min(delay * 2, maxDelay);
        try {
          current = await opts.start();
          opts.log(`${opts.name} restarted (restart ${++restarts})`);
          break;
        } catch (e) {
          how = `did not restart (${e instanceof Error ? e.message.split('\n')[0] : String(e)})`;
        }
        if (stopping) return;
      }
    }
  };
  const loop = keepAlive();

  return {
    get current() {
      return current;
    },
    async stop() {
      stopping = true;
      wake();
      await loop;
      await current.stop();
    },
  };
}

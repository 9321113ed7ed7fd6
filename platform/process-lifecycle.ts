import { describeStartupFailure } from './startup-error';

/**
 * How the deployable processes (`npm run api`, `npm run worker`) start and
 * stop: a startup failure is one sentence and exit code 1; SIGINT/SIGTERM run
 * `stop` once, and if that has not finished within `boundMs` (a dependency
 * that no longer answers, say) the process exits 1 anyway, so an orchestrator's
 * SIGTERM is always obeyed in bounded time.
 */
export function stopOnSignal(name: string, boundMs: number, stop: () => Promise<void>): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    console.log(`[${name}] ${signal}: stopping (at most ${boundMs / 1000} s)`);
    setTimeout(() => {
      console.error(`[${name}] not stopped within ${boundMs / 1000} s: exiting anyway`);
      process.exit(1);
    }, boundMs).unref();
    stop().then(
      () => process.exit(0),
      (e: unknown) => {
        console.error(`[${name}] while stopping: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

export function exitOnStartupFailure(name: string, e: unknown): never {
  const { sentence, detail } = describeStartupFailure(e);
  console.error(`[${name}] cannot start: ${sentence}`);
  if (detail) console.error(`[${name}] details: ${detail.replaceAll('\n', ' | ')}`);
  process.exit(1);
}

import { Context } from '@temporalio/activity';
import type { Orm } from '../db/orm';
import { log } from '../platform/log';
import { advancePhase, beginPhase, finishPhase, rowsInState, type ProgressPhase } from '../store/progress';

/**
 * A long step reporting how far it got: to the step_progress table (read by
 * GET /reconciliations/{id}) and to the log. Each write is one single-row
 * statement on a connection of its own, after the work it reports has
 * committed, and a failed write is logged and forgotten: progress must never
 * fail or slow the step it describes.
 *
 * Log lines go through the activity's context logger when there is one, so
 * they carry the workflow id, the activity type and id and the attempt.
 */
export function trackProgress(orm: Orm, reconciliationId: string, phase: ProgressPhase) {
  const started = performance.now();
  const write = async (what: string, work: () => Promise<void>) => {
    try {
      await work();
    } catch (e) {
      logger().warn(`progress not recorded (${what})`, { reconciliationId, phase, error: e instanceof Error ? e.message : String(e) });
    }
  };
  return {
    /** The rows of the reconciliation now in these states: what the step is about to handle. */
    rowsInState: (states: string[]) => rowsInState(orm.em.fork(), reconciliationId, states),
    async begin(total: number | null): Promise<void> {
      logger().info(`${phase} started`, { reconciliationId, phase, total });
      await write('begin', () => beginPhase(orm.em.fork(), reconciliationId, phase, total));
    },
    async advance(done: number): Promise<void> {
      logger().debug(`${phase} advanced`, { reconciliationId, phase, done });
      await write('advance', () => advancePhase(orm.em.fork(), reconciliationId, phase, done));
    },
    async finish(done: number): Promise<void> {
      logger().info(`${phase} finished`, { reconciliationId, phase, done, durationMs: Math.round(performance.now() - started) });
      await write('finish', () => finishPhase(orm.em.fork(), reconciliationId, phase, done));
    },
  };
}

interface StepLogger {
  debug(message: string, meta: Record<string, unknown>): void;
  info(message: string, meta: Record<string, unknown>): void;
  warn(message: string, meta: Record<string, unknown>): void;
}

/** The activity's logger (Temporal adds the activity's identity); the process logger outside an activity (benchmarks, scripts). */
function logger(): StepLogger {
  try {
    return Context.current().log;
  } catch {
    return {
      debug: (message, meta) => log.debug(meta, message),
      info: (message, meta) => log.info(meta, message),
      warn: (message, meta) => log.warn(meta, message),
    };
  }
}

import { ApplicationFailure, ApplicationFailureCategory, CancelledFailure } from '@temporalio/common';
import type { ActivityExecuteInput, ActivityInboundCallsInterceptor, Next } from '@temporalio/worker';
import type { Context } from '@temporalio/activity';
import { Refusal } from '../store/refusal';

/**
 * Every activity failure leaves the worker as one of three things:
 * - a business refusal (store/refusal): final, BENIGN, its type and extras kept;
 * - a deterministic data or program error (PostgreSQL classes 22, 23, 42 ...):
 *   final, because retrying the same statement on the same data fails the
 *   same way; the workflow reports it instead of retrying forever. The
 *   message is ours: a database's own text never reaches a manager;
 * - anything else (a connection lost, a server restarting, a deadlock):
 *   retried by Temporal with the activity's bounded retry policy.
 */
export class FailureTranslation implements ActivityInboundCallsInterceptor {
  constructor(private readonly ctx: Context) {}

  async execute(input: ActivityExecuteInput, next: Next<ActivityInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    try {
      return await next(input);
    } catch (e) {
      const translated = translateFailure(e);
      // Refusals are business as usual; a data error is worth an engineer's look, with the database's own words.
      if (!(e instanceof Refusal) && translated !== e) this.ctx.log.warn('activity failed for good', { error: describe(e) });
      throw translated;
    }
  }
}

/** SQLSTATE classes whose errors are a property of the data or the code, not of the moment. */
const DETERMINISTIC: Record<string, string> = {
  '22': 'a value does not fit the stock records (too large, too precise or malformed)',
  '23': 'the change would break a rule of the stock records',
  '42': 'an internal error stopped this step; it has been logged for the engineers',
  '2B': 'the change would break a rule of the stock records',
  '44': 'the change would break a rule of the stock records',
  P0: 'the change would break a rule of the stock records',
};

export function translateFailure(e: unknown): unknown {
  if (e instanceof Refusal) {
    return ApplicationFailure.create({ message: e.message, type: e.type, nonRetryable: true, details: [e.extra], category: ApplicationFailureCategory.BENIGN });
  }
  if (e instanceof ApplicationFailure || e instanceof CancelledFailure) return e;
  const state = sqlState(e);
  const phrase = state ? DETERMINISTIC[state.slice(0, 2)] : undefined;
  if (phrase) return ApplicationFailure.create({ message: phrase, type: 'DataError', nonRetryable: true });
  return e;
}

function sqlState(e: unknown): string | undefined {
  for (let c: unknown = e, depth = 0; c && typeof c === 'object' && depth < 5; c = (c as { cause?: unknown }).cause, depth++) {
    const code = (c as { code?: unknown; sqlState?: unknown }).sqlState ?? (c as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}

function describe(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

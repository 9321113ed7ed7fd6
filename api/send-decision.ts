import type { UpdateDefinition } from '@temporalio/common';
import type { Context } from 'hono';
import { signDecision } from '../domain/decision-signature';
import { replayOf, requestHash, type IdempotentRequest } from '../store/idempotency';
import type { DecisionBy } from '../workflows/messages';
import type { AppDeps } from './deps';
import type { Caller } from './auth';
import { idempotencyKey } from './http';

/**
 * A manager's decision, sent to a workflow as an Update: signed (the
 * workflow trusts nothing unsigned), and idempotent by key. The key is
 * bound to the caller, the decision and the body; the activity that applies
 * the decision records its result under the key in the same transaction, so
 * a retry gets that result (after continue-as-new and restarts too), and a
 * reuse for anything else is a 422. A refused or failed decision recorded
 * nothing: its retry with the same key is decided afresh.
 */
export async function sendDecision<R, A extends DecisionBy>(
  deps: AppDeps,
  c: Context,
  target: { who: Caller; workflowId: string; subject: string },
  update: UpdateDefinition<R, [A]>,
  arg: Omit<A, 'user' | 'role' | 'request' | 'signature'>,
): Promise<R> {
  const em = deps.orm.em.fork();
  const key = idempotencyKey(c);
  const request: IdempotentRequest | undefined = key
    ? { key, actor: target.who.name, operation: update.name, subject: target.subject, requestHash: requestHash(arg) }
    : undefined;
  if (request) {
    const prior = await replayOf<R>(em, request);
    if (prior !== undefined) return prior;
  }
  const unsigned = {
    ...arg,
    user: target.who.name,
    role: target.who.role as DecisionBy['role'],
    ...(request ? { request: { key: request.key, operation: request.operation, requestHash: request.requestHash } } : {}),
  };
  const signature = signDecision(deps.decisionKey, { workflowId: target.workflowId, update: update.name, args: unsigned, issuedAt: Date.now() });
  // No update id from the key: Temporal would hand a retry the first attempt's failure. The activity's record is the guard.
  try {
    return await deps.temporal.workflow.getHandle(target.workflowId).executeUpdate(update, { args: [{ ...unsigned, signature } as unknown as A] });
  } catch (e) {
    // The same request may have been applied meanwhile (a retry that raced this one): its result is the answer.
    if (request) {
      const prior = await replayOf<R>(deps.orm.em.fork(), request);
      if (prior !== undefined) return prior;
    }
    throw e;
  }
}

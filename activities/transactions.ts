import type { Orm } from '../db/orm';
import type { Em } from '../db/sql';
import { once } from '../store/idempotency';
import {
  alreadyApplied,
  applyTransition,
  lockReconciliation,
  transitionOutcome,
  type LockedReconciliation,
} from '../store/reconciliations';
import { refuse } from '../store/refusal';
import { rowCounts } from '../store/rows/queries';
import type { Decided, DecisionInput, OnReconciliation, WithTransition } from './inputs';
import { inStep } from './step';

type Work<T> = (em: Em, rec: LockedReconciliation, checkpoint: () => void) => Promise<T>;

/**
 * A step that moves the status: its work and the status change commit
 * together, under the document lock. A retry of a step that already
 * committed (its worker died before reporting) returns what the step
 * reported then, without doing the work twice.
 */
export function transitionStep<T>(orm: Orm, input: WithTransition & Partial<DecisionInput>, work: Work<T>): Promise<Decided<T>> {
  const { reconciliationId: id, transition } = input;
  return inStep(orm, async (em, checkpoint) => {
    const rec = await lockReconciliation(em, id);
    let outcome: T;
    if (alreadyApplied(rec, transition)) {
      const stored = await transitionOutcome<T>(em, id, transition.seq);
      // A later transition was applied instead: this attempt is stale and its result goes nowhere.
      if (!stored) throw refuse('InvalidState', `the reconciliation has moved on (status ${rec.status})`);
      outcome = stored.outcome;
    } else {
      outcome = await once(em, requestOf(input), async () => {
        const result = await work(em, rec, checkpoint);
        await applyTransition(em, id, transition, { outcome: result });
        return result;
      });
    }
    return { outcome, rows: await rowCounts(em, id) };
  });
}

/** A decision that leaves the status as it is (approve, mark, delete): under the document lock, once per key. */
export function decisionStep<T>(orm: Orm, input: DecisionInput, work: Work<T>): Promise<Decided<T>> {
  return inStep(orm, async (em, checkpoint) => {
    const rec = await lockReconciliation(em, input.reconciliationId);
    const outcome = await once(em, requestOf(input), () => work(em, rec, checkpoint));
    return { outcome, rows: await rowCounts(em, input.reconciliationId) };
  });
}

function requestOf(input: OnReconciliation & Partial<DecisionInput>) {
  if (!input.request || !input.by) return undefined;
  return {
    key: input.request.key,
    actor: input.by.user,
    operation: input.request.operation,
    subject: input.reconciliationId,
    requestHash: input.request.requestHash,
  };
}

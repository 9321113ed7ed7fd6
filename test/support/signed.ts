import type { WorkflowHandle } from '@temporalio/client';
import type { UpdateDefinition } from '@temporalio/common';
import { inject } from 'vitest';
import { decodeKey, signDecision } from '../../domain/decision-signature';

/** This run's decision key: the one compiled into the workflow bundle the tests' workers run. */
export function testDecisionKey(): Uint8Array {
  return decodeKey(inject('decisionKey'));
}

/**
 * An Update sent straight to the workflow, signed as the API signs it.
 * `issuedAt`: the time to sign at (the time-skipping server's clock, where it runs ahead of the wall).
 */
export function executeSigned<R, A extends object>(handle: WorkflowHandle, update: UpdateDefinition<R, [A]>, arg: A, issuedAt = Date.now()): Promise<R> {
  const signature = signDecision(testDecisionKey(), { workflowId: handle.workflowId, update: update.name, args: arg, issuedAt });
  return handle.executeUpdate(update, { args: [{ ...arg, signature }] });
}

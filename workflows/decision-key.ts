import { decodeKey } from '../domain/decision-signature';

/**
 * The key decisions are signed with, compiled into the workflow bundle by the
 * worker that bundles it (platform/workflow-bundle.ts), so it lives only in
 * the worker's memory: never in workflow history, never in a payload. A
 * bundle built without one refuses every decision.
 */
declare const __STOCKTAKE_DECISION_KEY__: string | undefined;

let key: Uint8Array | null | undefined;

export function decisionKey(): Uint8Array | null {
  if (key === undefined) {
    const text = typeof __STOCKTAKE_DECISION_KEY__ === 'string' ? __STOCKTAKE_DECISION_KEY__ : undefined;
    key = text ? decodeKey(text) : null;
  }
  return key;
}

import { createHash } from 'node:crypto';
import { affected, one, sql, type Em } from '../db/sql';
import { refuse } from './refusal';

/**
 * Idempotency-Keys, kept outside workflow history so they outlive
 * continue-as-new and restarts. A key is bound to who sent it, what it was
 * for and the body it came with; the record is written in the transaction
 * that applies the request, so "recorded" and "applied" are one fact.
 */
export interface IdempotentRequest {
  key: string;
  actor: string;
  /** What the key was used for, e.g. 'create-reconciliation' or 'approveRows'. */
  operation: string;
  /** The resource it was used on (a reconciliation id; '' for a create). */
  subject: string;
  requestHash: string;
}

/** A stable hash of a request body: object keys sorted, so field order does not matter. */
export function requestHash(body: unknown): string {
  return createHash('sha256').update(canonicalJson(body)).digest('hex');
}

function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined).sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonicalJson(x)}`).join(',')}}`;
  }
  return JSON.stringify(v ?? null);
}

/**
 * The result recorded for this key, if the same request was applied before;
 * undefined if the key is new. The same key for anything else is refused.
 */
export async function replayOf<T>(em: Em, request: IdempotentRequest): Promise<T | undefined> {
  const prior = await one(
    em,
    sql<{ actor: string; operation: string; subject: string; request_hash: string; result: T }>`
      select actor, operation, subject, request_hash, result from idempotency_record where key = ${request.key}`,
  );
  if (!prior) return undefined;
  const same =
    prior.actor === request.actor &&
    prior.operation === request.operation &&
    prior.subject === request.subject &&
    prior.request_hash === request.requestHash;
  if (!same) {
    throw refuse('IdempotencyKeyReused', 'this Idempotency-Key was already used for a different request; use a new key for a new request');
  }
  return prior.result;
}

/** Records the result of an applied request; call it in the transaction that applied it. */
export async function recordResult(em: Em, request: IdempotentRequest, result: unknown): Promise<void> {
  await affected(
    em,
    sql`insert into idempotency_record (key, actor, operation, subject, request_hash, result)
        values (${request.key}, ${request.actor}, ${request.operation}, ${request.subject}, ${request.requestHash},
                ${JSON.stringify(result)}::jsonb)`,
  );
}

/**
 * Runs `apply` once per key: a replay returns the recorded result without
 * applying anything. Without a request (no key sent) it just applies.
 */
export async function once<T>(em: Em, request: IdempotentRequest | undefined, apply: () => Promise<T>): Promise<T> {
  if (!request) return apply();
  await affected(em, sql`select pg_advisory_xact_lock(hashtext(${'idempotency:' + request.key}))`);
  const prior = await replayOf<T>(em, request);
  if (prior !== undefined) return prior;
  const result = await apply();
  await recordResult(em, request, result);
  return result;
}

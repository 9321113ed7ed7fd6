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

/**
 * Keys in code-unit order, undefined members left out. Hashes are stored
 * (count_submission, idempotency_record) and a device may retry across an
 * upgrade, so the output must never change: store/idempotency.test.ts pins
 * it. Written as loops because a 500-entry submission hashes 4,000 members
 * on every request.
 */
function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) {
    let out = '[';
    for (let i = 0; i < v.length; i++) out += (i === 0 ? '' : ',') + canonicalJson(v[i]);
    return out + ']';
  }
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const members = membersInOrder(Object.keys(o));
    let out = '{';
    for (const [key, prefix] of members) {
      const member = o[key];
      if (member === undefined) continue;
      out += (out.length === 1 ? prefix.slice(1) : prefix) + canonicalJson(member);
    }
    return out + '}';
  }
  return JSON.stringify(v ?? null);
}

let lastKeys: string[] = [];
let lastMembers: Array<readonly [key: string, prefix: string]> = [];

/**
 * An object's keys sorted, each with its `,"key":`. The entries of a
 * submission share one set of keys, so the last one's order is reused when
 * the keys are the same (this halves the hashing of a batch).
 */
function membersInOrder(keys: string[]): Array<readonly [key: string, prefix: string]> {
  if (keys.length === lastKeys.length && keys.every((k, i) => k === lastKeys[i])) return lastMembers;
  lastKeys = keys;
  lastMembers = [...keys].sort().map((k) => [k, `,${JSON.stringify(k)}:`] as const);
  return lastMembers;
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

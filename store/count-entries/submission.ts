import { affected, one, sql, type Em } from '../../db/sql';
import { auditFrom } from '../audit';
import { notFound, refuse } from '../refusal';

/**
 * A submission of count entries, whichever way it came (a batch, a file): the
 * order it is for, locked, a repeat of it recognised by its id, and the
 * record of it with its audit event. The one home of `count_submission`.
 */
export interface OrderForEntries {
  id: number;
  status: string;
  assigned_to: string | null;
  warehouse: string;
  reconciliation_id: string;
}

export interface Received {
  submissionId: string;
  accepted: number;
  duplicate: boolean;
}

/**
 * The order, locked for the rest of the transaction (its submissions and
 * completion wait for each other), and, when this submission id was received
 * already, the answer of the first time; the same id with other content is refused.
 */
export async function orderForSubmission(
  tx: Em,
  orderId: number,
  submissionId: string,
  hash: () => Promise<string> | string,
): Promise<{ order: OrderForEntries; repeat?: Received }> {
  // One round trip: a device sends hundreds of batches, and each pays for every statement twice (API and database).
  const found = await one(tx, sql<OrderForEntries & { request_hash: string | null; entries: number | null }>`
    select o.id::int, o.status, o.assigned_to, r.warehouse_code as warehouse, o.reconciliation_id, s.request_hash, s.entries
    from count_order o join reconciliation r on r.id = o.reconciliation_id
    left join count_submission s on s.count_order_id = o.id and s.submission_id = ${submissionId}
    where o.id = ${orderId} for update of o`);
  if (!found) throw notFound(`count order ${orderId}`);
  const { request_hash: priorHash, entries: priorEntries, ...order } = found;
  if (priorHash === null) return { order };
  if (priorHash !== (await hash())) {
    throw refuse('SubmissionIdReused', `submission ${submissionId} was already received with different entries`);
  }
  return { order, repeat: { submissionId, accepted: priorEntries!, duplicate: true } };
}

/** A completed order takes no new entries, and an assigned one only its device's. */
export function refuseUnlessOpenFor(order: OrderForEntries, device: string): void {
  if (order.status !== 'open') {
    throw refuse('CountOrderClosed', `count order ${order.id} is ${order.status}; entries after completion are rejected`);
  }
  if (order.assigned_to && order.assigned_to !== device) {
    throw refuse('CountOrderAssigned', `count order ${order.id} is assigned to device ${order.assigned_to}`);
  }
}

/** Records the submission under its id, in the transaction that stored its entries, with its audit event (one statement). */
export async function recordSubmission(
  tx: Em,
  order: OrderForEntries,
  s: { submissionId: string; device: string; countedBy: string; hash: string; entries: number },
): Promise<Received> {
  await affected(tx, sql`
    with recorded as (
      insert into count_submission (count_order_id, submission_id, request_hash, entries, device)
      values (${order.id}, ${s.submissionId}, ${s.hash}, ${s.entries}, ${s.device})
      returning count_order_id
    )
    ${auditFrom(sql`
      select ${order.reconciliation_id}::uuid, ${s.countedBy}::text, 'count_submitted', 'count order ' || count_order_id,
             null::jsonb, ${JSON.stringify({ submissionId: s.submissionId, entries: s.entries, device: s.device })}::jsonb
      from recorded`)}`);
  return { submissionId: s.submissionId, accepted: s.entries, duplicate: false };
}

import { affected, one, sql, type Em } from '../../db/sql';
import { audit } from '../audit';
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
  const order = await one(tx, sql<OrderForEntries>`
    select o.id::int, o.status, o.assigned_to, r.warehouse_code as warehouse, o.reconciliation_id
    from count_order o join reconciliation r on r.id = o.reconciliation_id where o.id = ${orderId} for update of o`);
  if (!order) throw notFound(`count order ${orderId}`);
  const prior = await one(tx, sql<{ request_hash: string; entries: number }>`
    select request_hash, entries from count_submission where count_order_id = ${orderId} and submission_id = ${submissionId}`);
  if (!prior) return { order };
  if (prior.request_hash !== (await hash())) {
    throw refuse('SubmissionIdReused', `submission ${submissionId} was already received with different entries`);
  }
  return { order, repeat: { submissionId, accepted: prior.entries, duplicate: true } };
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

/** Records the submission under its id, in the transaction that stored its entries, with its audit event. */
export async function recordSubmission(
  tx: Em,
  order: OrderForEntries,
  s: { submissionId: string; device: string; countedBy: string; hash: string; entries: number },
): Promise<Received> {
  await affected(tx, sql`insert into count_submission (count_order_id, submission_id, request_hash, entries, device)
    values (${order.id}, ${s.submissionId}, ${s.hash}, ${s.entries}, ${s.device})`);
  await audit(tx, {
    reconciliationId: order.reconciliation_id,
    actor: s.countedBy,
    action: 'count_submitted',
    subject: `count order ${order.id}`,
    after: { submissionId: s.submissionId, entries: s.entries, device: s.device },
  });
  return { submissionId: s.submissionId, accepted: s.entries, duplicate: false };
}

import type { UpdateDefinition } from '@temporalio/common';
import type { WorkflowHandle } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALLOWED_IN, DECISIONS, type Decision, type ReconciliationStatus } from '../../domain/reconciliation-status';
import * as m from '../../workflows/messages';
import type { FakeBook } from '../support/fake-activities';
import { BY, workflowHarness } from '../support/workflow-harness';

/**
 * The reconciliation workflow as a state machine, with its activities
 * stubbed: every decision in every status is either applied (and leads
 * where the status table says) or refused, and the workflow's status always
 * ends equal to the one its activities persisted.
 */
type Harness = Awaited<ReturnType<typeof workflowHarness>>;
let h: Harness;
beforeAll(async () => {
  h = await workflowHarness();
});
afterAll(async () => h?.close());

const selection = { rowIds: [1] };
const REQUESTS: Record<Decision, [UpdateDefinition<unknown, [never]>, unknown]> = {
  startInitialCount: [m.startInitialCountUpdate as never, BY],
  markForRecount: [m.markForRecountUpdate as never, { ...BY, ...selection }],
  generateRecountOrder: [m.generateRecountOrderUpdate as never, BY],
  approveRows: [m.approveRowsUpdate as never, { ...BY, ...selection }],
  deleteRows: [m.deleteRowsUpdate as never, { ...BY, ...selection, reason: 'not ours' }],
  release: [m.releaseUpdate as never, BY],
  retryFailedRows: [m.retryFailedRowsUpdate as never, { ...BY, ...selection }],
  skipFailedRows: [m.skipFailedRowsUpdate as never, { ...BY, ...selection, reason: 'found later' }],
  retryStep: [m.retryStepUpdate as never, BY],
  cancel: [m.cancelUpdate as never, { ...BY, reason: 'test' }],
};
const send = (handle: WorkflowHandle, d: Decision) => h.verdict(handle, REQUESTS[d][0], REQUESTS[d][1] as never);

/** Drives a fresh reconciliation into `status`; transient statuses are held open by their step. */
async function into(status: ReconciliationStatus): Promise<{ handle: WorkflowHandle; book: FakeBook }> {
  const prepare = (b: FakeBook) => {
    if (status === 'snapshotting') b.hold('generateSnapshot');
    if (status === 'populating') b.hold('populateCountedQuantities');
    if (status === 'releasing') b.hold('postPendingRows');
    if (status === 'awaiting_failed_rows') b.failRowsOnce = 1;
    if (status === 'step_failed') b.failing.add('populateCountedQuantities');
  };
  const { handle, book } = await h.start(prepare);
  if (status === 'snapshotting') {
    await book.started('generateSnapshot');
    return { handle, book };
  }
  await h.waitFor(handle, 'ready');
  if (status === 'ready') return { handle, book };
  expect(await send(handle, 'startInitialCount')).toBe('applied');
  if (status === 'counting') return { handle, book };
  book.completeOrder(1);
  await handle.signal(m.orderCompletedSignal, { countOrderId: 1, round: 0 });
  if (status === 'populating') {
    await book.started('populateCountedQuantities');
    await h.waitFor(handle, 'populating');
    return { handle, book };
  }
  if (status === 'step_failed') {
    await h.waitFor(handle, 'step_failed');
    return { handle, book };
  }
  await h.waitFor(handle, 'review');
  if (status === 'review') return { handle, book };
  if (status === 'cancelled') {
    expect(await send(handle, 'cancel')).toBe('applied');
    await handle.result();
    return { handle, book };
  }
  expect(await send(handle, 'release')).toBe('applied');
  if (status === 'releasing') {
    await book.started('postPendingRows');
    return { handle, book };
  }
  await h.waitFor(handle, status === 'released' ? 'released' : 'awaiting_failed_rows');
  if (status === 'released') await handle.result();
  return { handle, book };
}

/** Where an applied decision leads (once any step it starts has run). */
const LEADS_TO: Partial<Record<`${Decision}@${ReconciliationStatus}`, ReconciliationStatus>> = {
  'startInitialCount@ready': 'counting',
  'markForRecount@ready': 'ready',
  'markForRecount@review': 'review',
  'generateRecountOrder@ready': 'counting',
  'generateRecountOrder@review': 'counting',
  'approveRows@review': 'review',
  'deleteRows@ready': 'ready',
  'deleteRows@review': 'review',
  'release@review': 'released',
  'retryFailedRows@awaiting_failed_rows': 'released',
  'skipFailedRows@awaiting_failed_rows': 'released',
  'retryStep@step_failed': 'review',
};

const STATUSES: ReconciliationStatus[] = [
  'snapshotting', 'ready', 'counting', 'populating', 'review', 'releasing', 'awaiting_failed_rows', 'step_failed', 'released', 'cancelled',
];

describe('every decision in every status', () => {
  for (const status of STATUSES) {
    const refused = DECISIONS.filter((d) => !ALLOWED_IN[d].includes(status));
    it(`refuses ${refused.join(', ')} while ${status}, leaving no trace in history`, async () => {
      const { handle, book } = await into(status);
      const acceptedUpdates = async () =>
        (await handle.fetchHistory()).events!.filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes).length;
      const before = await acceptedUpdates();
      for (const d of refused) expect([d, await send(handle, d)]).toEqual([d, ['released', 'cancelled'].includes(status) ? 'closed' : 'InvalidState']);
      // Refused by the validator: not one of them was accepted into history.
      expect(await acceptedUpdates()).toBe(before);
      if (!['released', 'cancelled'].includes(status)) expect((await h.progress(handle)).status).toBe(status);
      expect(book.status).toBe(status);
      if (!['released', 'cancelled'].includes(status)) await send(handle, 'cancel');
    });

    for (const d of DECISIONS.filter((x) => ALLOWED_IN[x].includes(status))) {
      const target = d === 'cancel' ? 'cancelled' : LEADS_TO[`${d}@${status}`]!;
      it(`applies ${d} while ${status}, leading to ${target}`, async () => {
        const { handle, book } = await into(status);
        // The data in the step's way was corrected before the manager retries it.
        if (d === 'retryStep') book.failing.clear();
        expect(await send(handle, d)).toBe('applied');
        await h.waitFor(handle, target);
        expect(book.status).toBe(target);
        if (d === 'cancel' && ['snapshotting', 'populating', 'releasing'].includes(status)) {
          // The running step was stopped, not waited for.
          expect(book.cancelled).toHaveLength(1);
        }
        if (target === 'cancelled' || target === 'released') expect(await handle.result()).toEqual({ status: target });
        else await send(handle, 'cancel');
      });
    }
  }
});

describe('the last completion and a cancel arriving together', () => {
  for (const order of ['signal first', 'cancel first', 'at once'] as const) {
    for (const populate of ['held', 'quick'] as const) {
      it(`ends cancelled in the workflow and the book alike (${order}, populate ${populate})`, async () => {
        const { handle, book } = await h.start((b) => {
          if (populate === 'held') b.hold('populateCountedQuantities');
        });
        await h.waitFor(handle, 'ready');
        await send(handle, 'startInitialCount');
        const signal = () => {
          book.completeOrder(1);
          return handle.signal(m.orderCompletedSignal, { countOrderId: 1, round: 0 });
        };
        const cancel = () => send(handle, 'cancel');
        if (order === 'signal first') {
          await signal();
          expect(await cancel()).toBe('applied');
        } else if (order === 'cancel first') {
          expect(await cancel()).toBe('applied');
          // The workflow may already have closed: a late completion then has nowhere to go, and that is fine.
          await signal().catch((e: Error) => expect(e.name).toBe('WorkflowNotFoundError'));
        } else {
          const [, verdict] = await Promise.all([signal(), cancel()]);
          expect(verdict).toBe('applied');
        }
        expect(await handle.result()).toEqual({ status: 'cancelled' });
        expect(book.status).toBe('cancelled');
        // Whatever populate did, it came before the cancel and never after it.
        const last = book.applied.at(-1)!;
        expect(last.to).toBe('cancelled');
        expect(book.applied.filter((t) => t.seq > last.seq)).toEqual([]);
      });
    }
  }
});

describe('decisions sent together', () => {
  it('applies 20 parallel approvals one after another, refusing none', async () => {
    const { handle, book } = await into('review');
    const verdicts = await Promise.all(Array.from({ length: 20 }, () => send(handle, 'approveRows')));
    expect(verdicts).toEqual(Array(20).fill('applied'));
    expect(book.calls.filter((c) => c === 'approveRows')).toHaveLength(20);
    await send(handle, 'cancel');
  });

  it('refuses a decision queued behind a release that moved the status on', async () => {
    const { handle, book } = await into('review');
    book.hold('prepareRelease');
    const release = send(handle, 'release');
    await book.started('prepareRelease');
    const approve = send(handle, 'approveRows');
    book.open('prepareRelease');
    expect(await release).toBe('applied');
    expect(await approve).toBe('InvalidState');
    expect(book.calls.filter((c) => c === 'approveRows')).toHaveLength(0);
    await h.waitFor(handle, 'released');
  });
});

describe('a step that fails for good', () => {
  it('parks the reconciliation in step_failed with the reason, and a retry resumes the step', async () => {
    const { handle, book } = await into('step_failed');
    const p = await h.progress(handle);
    expect(p.failure).toEqual({ step: 'populate', reason: 'a value does not fit the stock records' });
    book.failing.delete('populateCountedQuantities');
    expect(await send(handle, 'retryStep')).toBe('applied');
    expect((await h.waitFor(handle, 'review')).failure).toBeNull();
    expect(book.status).toBe('review');
    await send(handle, 'cancel');
  });
});

describe('continue-as-new', () => {
  it('carries the status numbering into the next run, so its transitions still apply', async () => {
    const { handle, book } = await h.start(() => {}, 12);
    await h.waitFor(handle, 'ready');
    expect(await send(handle, 'startInitialCount')).toBe('applied');
    const first = (await handle.describe()).runId;
    book.completeOrder(1);
    await handle.signal(m.orderCompletedSignal, { countOrderId: 1, round: 0 });
    await h.waitFor(handle, 'review');
    expect((await handle.describe()).runId).not.toBe(first);
    expect(book.status).toBe('review');
    expect(await send(handle, 'cancel')).toBe('applied');
    expect(book.status).toBe('cancelled');
  });
});

describe('a completion signal', () => {
  it('closes the round only once the book says the order is complete', async () => {
    const { handle, book } = await into('counting');
    await handle.signal(m.orderCompletedSignal, { countOrderId: 1, round: 0 });
    // The signal made the workflow read the round's orders back: the order is still open there.
    await eventuallyRead(book);
    expect(await h.progress(handle)).toMatchObject({ status: 'counting', ordersOpen: 1, ordersComplete: 0 });
    book.completeOrder(1);
    await handle.signal(m.orderCompletedSignal, { countOrderId: 1, round: 0 });
    await h.waitFor(handle, 'review');
    await send(handle, 'cancel');
  });
});

/** Waits until the workflow has read the round's orders (a roundOrders call after the signal). */
async function eventuallyRead(book: FakeBook): Promise<void> {
  const before = book.calls.filter((c) => c === 'roundOrders').length;
  for (let i = 0; i < 200 && book.calls.filter((c) => c === 'roundOrders').length === before; i++) await new Promise((r) => setTimeout(r, 25));
  expect(book.calls.filter((c) => c === 'roundOrders').length).toBeGreaterThan(before);
}

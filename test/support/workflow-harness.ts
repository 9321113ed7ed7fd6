import { Client, Connection, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import type { UpdateDefinition } from '@temporalio/common';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import type { Activities } from '../../activities';
import type { ReconciliationStatus } from '../../domain/reconciliation-status';
import * as m from '../../workflows/messages';
import type { reconciliationWorkflow } from '../../workflows/reconciliation';
import { FakeBook } from './fake-activities';
import { executeSigned } from './signed';
import { eventually } from './wait';

export const BY: m.DecisionBy = { user: 'manager-1', role: 'manager' };

/**
 * The real workflow on the real Temporal dev server, with activities
 * replaced by one FakeBook per reconciliation: for the state machine alone.
 */
export async function workflowHarness() {
  try {
    Runtime.install({ logger: new DefaultLogger('ERROR') });
  } catch {
    // Already installed in this process.
  }
  const address = inject('temporalAddress');
  const taskQueue = `state-machine-${randomUUID()}`;
  const books = new Map<string, FakeBook>();
  const route = new Proxy({} as Activities, {
    get: (_t, name: string) => (input: { reconciliationId: string }) =>
      (books.get(input.reconciliationId)!.activities() as unknown as Record<string, (i: unknown) => unknown>)[name]!(input),
  });
  const nativeConnection = await NativeConnection.connect({ address });
  const worker = await Worker.create({
    connection: nativeConnection,
    taskQueue,
    activities: Object.fromEntries(
      ['generateSnapshot', 'createInitialCountOrders', 'createRecountOrder', 'roundOrders', 'recordEscalation', 'populateCountedQuantities',
        'markForRecount', 'approveRows', 'deleteRows', 'rowCounts', 'prepareRelease', 'postPendingRows', 'retryFailedRows', 'skipFailedRows',
        'finishRelease', 'recordTransition', 'cancelReconciliation'].map((n) => [n, (route as unknown as Record<string, unknown>)[n]]),
    ),
    workflowBundle: { codePath: inject('workflowBundlePath') },
    maxHeartbeatThrottleInterval: '200 milliseconds',
  });
  const running = worker.run();
  const connection = await Connection.connect({ address });
  const client = new Client({ connection });

  const h = {
    client,
    /** Starts a reconciliation workflow on a fresh book; `prepare` holds or breaks steps before it starts. */
    async start(prepare: (book: FakeBook) => void = () => {}, historyLimit?: number) {
      const id = randomUUID();
      const book = new FakeBook();
      prepare(book);
      books.set(id, book);
      const handle: WorkflowHandle<typeof reconciliationWorkflow> = await client.workflow.start(m.RECONCILIATION_WORKFLOW, {
        workflowId: m.reconciliationWorkflowId(id),
        taskQueue,
        args: [{ reconciliationId: id, countDeadlineMinutes: null, ...(historyLimit ? { historyLimit } : {}) }],
      });
      return { id, book, handle };
    },
    progress: (handle: WorkflowHandle) => handle.query(m.progressQuery),
    async waitFor(handle: WorkflowHandle, status: ReconciliationStatus) {
      return eventually(async () => {
        const p = await handle.query(m.progressQuery);
        return p.status === status ? p : undefined;
      }, `status ${status}`, 20_000);
    },
    /** The update's refusal type, or 'applied'. */
    async verdict<R, A>(handle: WorkflowHandle, update: UpdateDefinition<R, [A]>, arg: A): Promise<string> {
      try {
        await executeSigned(handle, update as UpdateDefinition<R, [object]>, arg as object);
        return 'applied';
      } catch (e) {
        if (e instanceof WorkflowUpdateFailedError) return (e.cause as { type?: string } | undefined)?.type ?? 'failed';
        return `closed`;
      }
    },
    async close() {
      worker.shutdown();
      await running;
      await connection.close();
      await nativeConnection.close();
    },
  };
  return h;
}

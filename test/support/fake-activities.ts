import { CancelledFailure, Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Activities } from '../../activities';
import type { ReconciliationStatus, Transition } from '../../domain/reconciliation-status';
import type { RowCounts } from '../../workflows/messages';
import { NO_ROWS } from '../../workflows/reconciliation-state';

type Deferred = { promise: Promise<void>; resolve: () => void };
function deferred(): Deferred {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/**
 * The activities as a small in-memory book, for the workflow's state machine
 * on its own: transitions are applied with the same numbering rule as the
 * database (a number not above the last applied one changes nothing), a
 * step can be held open (it heartbeats and honours cancellation while held),
 * made to fail for good, or made to leave rows failed.
 */
export class FakeBook {
  status: ReconciliationStatus = 'snapshotting';
  seq = 0;
  readonly applied: Transition[] = [];
  readonly calls: string[] = [];
  /** Steps that were stopped by a cancellation while they ran. */
  readonly cancelled: string[] = [];
  rows: RowCounts = { ...NO_ROWS, total: 3, markedForRecount: 1 };
  /** Count orders by id: true once complete (the database's truth the workflow reads back). */
  readonly orders = new Map<number, { round: number; complete: boolean }>();
  /** Posting leaves this many rows failed (then resets to 0). */
  failRowsOnce = 0;
  /** These steps fail for good (non-retryable data error). */
  readonly failing = new Set<string>();
  private readonly gates = new Map<string, Deferred>();
  private readonly entered = new Map<string, Deferred>();

  /** A device completed the order: the book says so (as the database would) before the signal arrives. */
  completeOrder(id: number): void {
    const order = this.orders.get(id);
    if (!order) throw new Error(`no count order ${id} in the book`);
    order.complete = true;
  }

  /** The step `name` will wait (heartbeating) until `open(name)`, or until it is cancelled. */
  hold(name: string): void {
    this.gates.set(name, deferred());
    this.entered.set(name, deferred());
  }
  open(name: string): void {
    this.gates.get(name)?.resolve();
    this.gates.delete(name);
  }
  /** Resolves once the held step `name` has started. */
  started(name: string): Promise<void> {
    return this.entered.get(name)?.promise ?? Promise.resolve();
  }

  apply(t: Transition): boolean {
    if (t.seq <= this.seq) return false;
    this.seq = t.seq;
    this.status = t.to;
    this.applied.push(t);
    return true;
  }

  private async step(name: string, t?: Transition): Promise<void> {
    this.calls.push(name);
    const gate = this.gates.get(name);
    if (gate) {
      this.entered.get(name)!.resolve();
      const ctx = Context.current();
      const beat = setInterval(() => ctx.heartbeat(), 100);
      try {
        await Promise.race([gate.promise, ctx.cancelled]);
      } catch (e) {
        this.cancelled.push(name);
        throw e instanceof CancelledFailure ? e : new CancelledFailure(String(e));
      } finally {
        clearInterval(beat);
      }
    }
    if (this.failing.has(name)) throw ApplicationFailure.create({ message: 'a value does not fit the stock records', type: 'DataError', nonRetryable: true });
    if (t) this.apply(t);
  }

  activities(): Activities {
    const decided = async <T>(name: string, outcome: T, t?: Transition) => {
      await this.step(name, t);
      return { outcome, rows: this.rows };
    };
    const orders = (round: number) => {
      const id = round * 100 + 1;
      if (!this.orders.has(id)) this.orders.set(id, { round, complete: false });
      return { round, orders: 1, tasks: 1, countOrderIds: [id] };
    };
    const acts: Partial<Activities> = {
      generateSnapshot: async (i) => decided('generateSnapshot', { rows: 3, snapshotAt: '2026-01-01T00:00:00Z' }, i.transition),
      createInitialCountOrders: async (i) => decided('createInitialCountOrders', orders(0), i.transition),
      createRecountOrder: async (i) => decided('createRecountOrder', orders(i.round), i.transition),
      roundOrders: async (i) => {
        this.calls.push('roundOrders');
        const ofRound = [...this.orders].filter(([, o]) => o.round === i.round);
        return { open: ofRound.filter(([, o]) => !o.complete).map(([id]) => id), complete: ofRound.filter(([, o]) => o.complete).map(([id]) => id) };
      },
      recordEscalation: async () => {},
      populateCountedQuantities: async (i) => decided('populateCountedQuantities', { round: i.round, rowsCounted: 3, foundRows: 0, toApprove: 1 }, i.transition),
      markForRecount: async () => decided('markForRecount', { rows: 1 }),
      approveRows: async () => decided('approveRows', { rows: 1 }),
      deleteRows: async () => decided('deleteRows', { rows: 1 }),
      rowCounts: async () => this.rows,
      prepareRelease: async (i) => decided('prepareRelease', { rowsToPost: 1, postings: 1, processedWithoutPosting: 0 }, i.transition),
      postPendingRows: async () => {
        await this.step('postPendingRows');
        const failed = this.failRowsOnce;
        this.failRowsOnce = 0;
        return { processed: 3 - failed, failed, rows: { ...this.rows, failed } };
      },
      retryFailedRows: async (i) => decided('retryFailedRows', { rows: 1 }, i.transition),
      skipFailedRows: async (i) => decided('skipFailedRows', { rows: 1 }, i.transition),
      finishRelease: async (i) => decided('finishRelease', { orderNumber: 1, lines: 1 }, i.transition),
      recordTransition: async (i) => {
        this.calls.push(`recordTransition:${i.transition.to}`);
        this.apply(i.transition);
        return this.rows;
      },
      cancelReconciliation: async (i) =>
        decided('cancelReconciliation', {
          status: 'cancelled' as const,
          cancelledWhile: this.status,
          countOrdersCancelled: 0,
          postingsDone: 0,
          postingsWithdrawn: 0,
          rowsWithdrawn: 0,
          adjustmentOrder: null,
        }, i.transition),
    };
    return acts as Activities;
  }
}

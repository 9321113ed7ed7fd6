import { CancellationScope, CancelledFailure } from '@temporalio/workflow';

/**
 * The bulk step in progress (snapshot, populate, posting), held so that a
 * cancel decision can stop it at once instead of queueing behind it. Once a
 * cancel is requested no new step starts until the cancel is decided.
 */
export class RunningStep {
  private scope: CancellationScope | undefined;
  private cancelRequested = false;

  get cancelling(): boolean {
    return this.cancelRequested;
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.cancelRequested) throw new CancelledFailure('a cancel is being decided');
    const scope = new CancellationScope();
    this.scope = scope;
    try {
      return await scope.run(fn);
    } finally {
      this.scope = undefined;
    }
  }

  cancel(): void {
    this.cancelRequested = true;
    this.scope?.cancel();
  }

  /** The cancel was refused or failed: steps may run again. */
  resume(): void {
    this.cancelRequested = false;
  }
}

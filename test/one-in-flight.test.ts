import { describe, expect, it } from 'vitest';
import { oneInFlight } from '../db/one-in-flight';

/** db/one-in-flight.ts: pure promise logic, no database needed. */
const tick = () => new Promise((r) => setImmediate(r));

describe('one piece of work in flight', () => {
  it('starts a piece only once the one before it has finished', async () => {
    const log: string[] = [];
    const piece = (name: string) => async () => {
      log.push(`${name} starts`);
      await tick();
      log.push(`${name} ends`);
    };
    await oneInFlight(async (start) => {
      await start(piece('a'));
      log.push('body reads on');
      await start(piece('b'));
    });
    expect(log).toEqual(['a starts', 'body reads on', 'a ends', 'b starts', 'b ends']);
  });

  it('surfaces a failed piece at the next start', async () => {
    let reachedSecond = false;
    const run = oneInFlight(async (start) => {
      await start(async () => {
        throw new Error('copy failed');
      });
      await start(async () => {
        reachedSecond = true;
      });
    });
    await expect(run).rejects.toThrow('copy failed');
    expect(reachedSecond).toBe(false);
  });

  it('waits for the piece in flight before passing on the failure of the body', async () => {
    let pieceDone = false;
    const run = oneInFlight(async (start) => {
      await start(async () => {
        await tick();
        pieceDone = true;
      });
      throw new Error('body failed');
    });
    await expect(run).rejects.toThrow('body failed');
    expect(pieceDone).toBe(true);
  });
});

/**
 * Statements that run on a transaction's connection while the caller prepares
 * the next ones (PostgreSQL stores a batch while Node parses the next): one
 * piece of work in flight at a time. `body` hands each piece to `start`,
 * which first waits for the piece before, so a failure surfaces at the next
 * `start` or when `body` is done. Whatever way `body` ends, the piece in
 * flight is settled before this returns: none of its statements may run
 * after the transaction has been rolled back.
 */
export async function oneInFlight<T>(body: (start: (work: () => Promise<void>) => Promise<void>) => Promise<T>): Promise<T> {
  let current: Promise<void> = Promise.resolve();
  const start = async (work: () => Promise<void>) => {
    await current;
    current = work();
    current.catch(() => {}); // surfaced by the next start or below
  };
  let result: T;
  try {
    result = await body(start);
  } finally {
    await current.catch(() => {});
  }
  await current;
  return result;
}

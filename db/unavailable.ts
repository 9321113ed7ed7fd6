/**
 * Whether an error means "the database (or Temporal) is not reachable right
 * now" rather than "this request is wrong": connection refused or reset,
 * a server shutting down or starting up, too many connections, a gRPC
 * UNAVAILABLE. Such a request may succeed if retried a moment later.
 */
const NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
const SQLSTATE_CLASSES = ['08', '53', '57P'];

export function isUnavailable(e: unknown): boolean {
  for (let c: unknown = e, depth = 0; c && typeof c === 'object' && depth < 6; c = (c as { cause?: unknown }).cause, depth++) {
    const code = (c as { code?: unknown }).code;
    if (typeof code === 'string' && (NODE_CODES.has(code) || SQLSTATE_CLASSES.some((p) => code.startsWith(p)))) return true;
    if (code === 14) return true; // gRPC UNAVAILABLE
    const message = (c as { message?: unknown }).message;
    if (typeof message === 'string' && /Connection terminated|connection timeout|Client has encountered a connection error/i.test(message)) return true;
  }
  return false;
}

/**
 * Whether an error is PostgreSQL giving up one of two transactions that got
 * in each other's way (a deadlock, a serialization failure): the transaction
 * was rolled back whole, and the same request may succeed if sent again.
 */
export function isTransactionConflict(e: unknown): boolean {
  for (let c: unknown = e, depth = 0; c && typeof c === 'object' && depth < 6; c = (c as { cause?: unknown }).cause, depth++) {
    const code = (c as { code?: unknown }).code;
    if (code === '40001' || code === '40P01') return true;
  }
  return false;
}

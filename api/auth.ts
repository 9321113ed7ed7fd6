import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context, MiddlewareHandler } from 'hono';
import type { Orm } from '../db/orm';
import { principalByToken, type Principal, type Role } from '../store/users';
import type { AppEnv } from './deps';
import { Problem } from './problem';
import { FailedAuthThrottle } from './throttle';

export type { Role } from '../store/users';
export type Caller = Principal;

export const MANAGERS: Role[] = ['manager', 'senior_manager'];
/** Who may read reconciliations: managers, and auditors (read-only). Counters never: a count stays blind. */
export const READERS: Role[] = ['manager', 'senior_manager', 'auditor'];
/** Systems (ERP, WMS) that load master data and stock, report levels and send messages, as themselves. */
export const INTEGRATIONS: Role[] = ['integration', 'admin'];
/** Who may count an order assigned to them. */
export const COUNTERS: Role[] = ['counter', 'manager', 'senior_manager'];

/**
 * Bearer tokens. Every failure (no token, unknown, expired, revoked, a
 * disabled user) is logged with the client's address and counted: past the
 * throttle's limit the address gets 429 with Retry-After. The rest of the
 * API only ever sees a Caller.
 */
export function authenticate(orm: Orm, publicPaths: string[], throttle = new FailedAuthThrottle()): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (isPublic(c.req.path, publicPaths)) return next();
    const address = clientAddress(c);
    const wait = throttle.retryAfter(address);
    if (wait !== undefined) {
      logFailure(c, address, 'throttled');
      c.header('retry-after', String(wait));
      throw new Problem(429, 'too-many-failed-authentications', 'Too many failed authentications', `try again in ${wait} s`);
    }
    const token = /^Bearer\s+([\x21-\x7e]{1,200})$/i.exec(c.req.header('authorization') ?? '')?.[1];
    const found = token ? await principalByToken(orm.em.fork(), token) : { refused: 'missing' as const };
    if ('refused' in found) {
      throttle.record(address);
      logFailure(c, address, found.refused);
      const detail = found.refused === 'missing' ? 'send Authorization: Bearer <token>' : `the token is ${found.refused === 'unknown' ? 'not known' : found.refused}`;
      c.header('www-authenticate', `Bearer realm="stocktake"${found.refused === 'missing' ? '' : ', error="invalid_token"'}`);
      throw new Problem(401, 'unauthenticated', 'Authentication required', detail);
    }
    c.set('caller', found.principal);
    return next();
  };
}

function clientAddress(c: Context): string {
  try {
    return getConnInfo(c).remote.address ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function logFailure(c: Context, address: string, reason: string): void {
  console.warn(JSON.stringify({ event: 'authentication_failed', reason, address, method: c.req.method, path: c.req.path, at: new Date().toISOString() }));
}

export function caller(c: Context<AppEnv>): Caller {
  const who: Caller | undefined = c.get('caller');
  if (!who) throw new Problem(401, 'unauthenticated', 'Authentication required');
  return who;
}

export function requireRole(c: Context<AppEnv>, roles: Role[]): Caller {
  const who = caller(c);
  if (!roles.includes(who.role)) {
    throw new Problem(403, 'forbidden', 'Not allowed for this role', `${who.name} is ${who.role}; this needs ${roles.join(' or ')}`);
  }
  return who;
}

/** Whether the caller was granted the warehouse. */
export function seesWarehouse(who: Caller, warehouse: string): boolean {
  return who.warehouses === 'all' || who.warehouses.includes(warehouse);
}

/** An entry ending in `/*` opens everything under it (pages and their assets); any other entry is one exact path. */
function isPublic(path: string, publicPaths: string[]): boolean {
  return publicPaths.some((p) => (p.endsWith('/*') ? path === p.slice(0, -2) || path.startsWith(p.slice(0, -1)) : path === p));
}

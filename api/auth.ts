import { createHash, randomBytes } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import type { Orm } from '../db/orm';
import { affected, one, sql, type Em } from '../db/sql';
import { Problem } from './problem';

export type Role = 'counter' | 'manager' | 'senior_manager';
export interface Caller {
  name: string;
  role: Role;
}

export const MANAGERS: Role[] = ['manager', 'senior_manager'];

/**
 * Bearer tokens, one per user, each with a role. Only the token's SHA-256 is
 * stored. Deliberately simple (no expiry, no rotation API) until it is
 * hardened; the rest of the API only ever sees a Caller.
 */
export function authenticate(orm: Orm, publicPaths: string[]): MiddlewareHandler {
  return async (c, next) => {
    if (publicPaths.includes(c.req.path)) return next();
    const header = c.req.header('authorization') ?? '';
    const token = /^Bearer\s+(\S+)$/i.exec(header)?.[1];
    if (!token) throw new Problem(401, 'unauthenticated', 'Authentication required', 'send Authorization: Bearer <token>');
    const user = await one(
      orm.em.fork(),
      sql<Caller>`select name, role from app_user where token_sha256 = ${sha256(token)}`,
    );
    if (!user) throw new Problem(401, 'unauthenticated', 'Authentication required', 'unknown token');
    c.set('caller' as never, user as never);
    return next();
  };
}

export function caller(c: Context): Caller {
  const who = c.get('caller' as never) as Caller | undefined;
  if (!who) throw new Problem(401, 'unauthenticated', 'Authentication required');
  return who;
}

export function requireRole(c: Context, roles: Role[]): Caller {
  const who = caller(c);
  if (!roles.includes(who.role)) {
    throw new Problem(403, 'forbidden', 'Not allowed for this role', `${who.name} is ${who.role}; this needs ${roles.join(' or ')}`);
  }
  return who;
}

/** Creates (or re-keys) a user; returns the token, which is shown once and never stored. */
export async function upsertUser(em: Em, name: string, role: Role, token = randomBytes(24).toString('base64url')): Promise<string> {
  await affected(
    em,
    sql`insert into app_user (name, role, token_sha256) values (${name}, ${role}, ${sha256(token)})
        on conflict (name) do update set role = excluded.role, token_sha256 = excluded.token_sha256`,
  );
  return token;
}

function sha256(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

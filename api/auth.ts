import type { Context, MiddlewareHandler } from 'hono';
import type { Orm } from '../db/orm';
import { userByToken, type Role, type User } from '../store/users';
import { Problem } from './problem';

export type { Role } from '../store/users';
export type Caller = User;

export const MANAGERS: Role[] = ['manager', 'senior_manager'];

/**
 * Bearer tokens, one per user, each with a role. The rest of the API only
 * ever sees a Caller.
 */
export function authenticate(orm: Orm, publicPaths: string[]): MiddlewareHandler {
  return async (c, next) => {
    if (publicPaths.includes(c.req.path)) return next();
    const header = c.req.header('authorization') ?? '';
    const token = /^Bearer\s+([\x21-\x7e]{1,200})$/i.exec(header)?.[1];
    if (!token) throw new Problem(401, 'unauthenticated', 'Authentication required', 'send Authorization: Bearer <token>');
    const user = await userByToken(orm.em.fork(), token);
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

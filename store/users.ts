import { createHash, randomBytes } from 'node:crypto';
import { affected, one, sql, type Em } from '../db/sql';

/**
 * Users and their bearer tokens. Only a token's SHA-256 is stored; the token
 * itself is shown once, when it is made. The one home of `app_user`.
 */
export type Role = 'counter' | 'manager' | 'senior_manager';
export const ROLES: readonly Role[] = ['counter', 'manager', 'senior_manager'];

export interface User {
  name: string;
  role: Role;
}

/** Creates (or re-keys) a user; returns the token, which is never stored. */
export async function upsertUser(em: Em, name: string, role: Role, token = randomBytes(24).toString('base64url')): Promise<string> {
  await affected(
    em,
    sql`insert into app_user (name, role, token_sha256) values (${name}, ${role}, ${sha256(token)})
        on conflict (name) do update set role = excluded.role, token_sha256 = excluded.token_sha256`,
  );
  return token;
}

export async function userByToken(em: Em, token: string): Promise<User | undefined> {
  return one(em, sql<User>`select name, role from app_user where token_sha256 = ${sha256(token)}`);
}

function sha256(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

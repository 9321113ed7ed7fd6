import { createHash, randomBytes } from 'node:crypto';
import { affected, one, rows, sql, type Em } from '../db/sql';
import { audit } from './audit';
import { notFound, refuse } from './refusal';

/**
 * Principals (people and devices), their bearer tokens and the warehouses
 * granted to them. Only a token's SHA-256 is stored; the token itself is
 * shown once, when it is issued. Tokens expire and can be revoked; rotating
 * issues a new one and revokes the others. The one home of `app_user`,
 * `api_token` and `user_warehouse`.
 */
export type Role = 'counter' | 'manager' | 'senior_manager' | 'auditor' | 'admin' | 'integration';
export const ROLES: readonly Role[] = ['counter', 'manager', 'senior_manager', 'auditor', 'admin', 'integration'];
/** system: an ERP or WMS that loads data and reports levels as itself (role integration, named like the system). */
export type Kind = 'person' | 'device' | 'system';

export interface Principal {
  name: string;
  role: Role;
  kind: Kind;
  /** Every warehouse, or those granted. */
  warehouses: 'all' | string[];
}

export interface UserView extends Principal {
  createdAt: string;
  disabledAt: string | null;
  tokens: Array<{ id: number; createdAt: string; expiresAt: string; revokedAt: string | null }>;
}

export interface IssuedToken {
  token: string;
  expiresAt: string;
}

export const DEFAULT_TOKEN_DAYS = 90;

/**
 * A principal's name: letters, digits and `. _ @ -`. Names are recorded as
 * who counted a row (several counters of one row joined by commas) and
 * matched for segregation of duties, so a comma in a name would let its
 * owner approve their own count.
 */
export const PRINCIPAL_NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$/;

function refuseBadName(name: string): void {
  if (!PRINCIPAL_NAME.test(name)) {
    throw refuse('InvalidRole', `a user or device name is 1 to 100 letters, digits, '.', '_', '@' or '-', starting with a letter or digit`);
  }
}

/** Who a bearer token belongs to, or why it does not authenticate. */
export async function principalByToken(em: Em, token: string): Promise<{ principal: Principal } | { refused: 'unknown' | 'expired' | 'revoked' | 'disabled' }> {
  const r = await one(
    em,
    sql<{ name: string; role: Role; kind: Kind; all_warehouses: boolean; warehouses: string[] | null; expired: boolean; revoked: boolean; disabled: boolean }>`
      select u.name, u.role, u.kind, u.all_warehouses,
             (select array_agg(w.warehouse_code order by w.warehouse_code) from user_warehouse w where w.user_name = u.name) as warehouses,
             t.expires_at <= now() as expired, t.revoked_at is not null as revoked, u.disabled_at is not null as disabled
      from api_token t join app_user u on u.name = t.user_name
      where t.token_sha256 = ${sha256(token)}`,
  );
  if (!r) return { refused: 'unknown' };
  if (r.revoked) return { refused: 'revoked' };
  if (r.expired) return { refused: 'expired' };
  if (r.disabled) return { refused: 'disabled' };
  return { principal: { name: r.name, role: r.role, kind: r.kind, warehouses: r.all_warehouses ? 'all' : (r.warehouses ?? []) } };
}

export interface NewUser {
  name: string;
  role: Role;
  kind: Kind;
  warehouses: 'all' | string[];
  tokenDays?: number;
}

/** Creates a principal with its first token; refused if the name is taken or a warehouse is unknown. */
export async function createUser(em: Em, u: NewUser, by: string): Promise<{ user: Principal } & IssuedToken> {
  refuseBadName(u.name);
  return em.transactional(async (tx) => {
    const taken = await one(tx, sql`select 1 from app_user where name = ${u.name} for update`);
    if (taken) throw refuse('NameTaken', `a user or device named ${u.name} already exists`);
    if (u.kind === 'device' && u.role !== 'counter') throw refuse('InvalidRole', 'a device counts: its role is counter');
    if ((u.kind === 'system') !== (u.role === 'integration')) throw refuse('InvalidRole', 'a system is a principal of kind system with the role integration, and only a system has that role');
    await affected(tx, sql`insert into app_user (name, role, kind, all_warehouses) values (${u.name}, ${u.role}, ${u.kind}, ${u.warehouses === 'all'})`);
    await grant(tx, u.name, u.warehouses);
    const issued = await issue(tx, u.name, u.tokenDays ?? DEFAULT_TOKEN_DAYS);
    await audit(tx, { actor: by, action: 'user_created', subject: `user ${u.name}`, after: { role: u.role, kind: u.kind, warehouses: u.warehouses, tokenExpiresAt: issued.expiresAt } });
    return { user: { name: u.name, role: u.role, kind: u.kind, warehouses: u.warehouses }, ...issued };
  });
}

/** A new token for the user; every earlier one is revoked in the same transaction. */
export async function rotateToken(em: Em, name: string, by: string, days = DEFAULT_TOKEN_DAYS): Promise<IssuedToken> {
  return em.transactional(async (tx) => {
    await requireUser(tx, name);
    const revoked = await affected(tx, sql`update api_token set revoked_at = now() where user_name = ${name} and revoked_at is null`);
    const issued = await issue(tx, name, days);
    await audit(tx, { actor: by, action: 'token_rotated', subject: `user ${name}`, after: { revoked, expiresAt: issued.expiresAt } });
    return issued;
  });
}

/** Revokes every token of the user: it can no longer authenticate until a token is issued again. */
export async function revokeTokens(em: Em, name: string, by: string): Promise<{ revoked: number }> {
  return em.transactional(async (tx) => {
    await requireUser(tx, name);
    const revoked = await affected(tx, sql`update api_token set revoked_at = now() where user_name = ${name} and revoked_at is null`);
    await audit(tx, { actor: by, action: 'tokens_revoked', subject: `user ${name}`, after: { revoked } });
    return { revoked };
  });
}

/** Replaces the warehouses granted to the user. */
export async function setWarehouses(em: Em, name: string, warehouses: 'all' | string[], by: string): Promise<Principal> {
  return em.transactional(async (tx) => {
    const before = await requireUser(tx, name);
    await affected(tx, sql`delete from user_warehouse where user_name = ${name}`);
    await affected(tx, sql`update app_user set all_warehouses = ${warehouses === 'all'} where name = ${name}`);
    await grant(tx, name, warehouses);
    await audit(tx, { actor: by, action: 'warehouses_granted', subject: `user ${name}`, before: { warehouses: before.warehouses }, after: { warehouses } });
    return { ...before, warehouses };
  });
}

export async function listUsers(em: Em): Promise<UserView[]> {
  const names = await rows(em, sql<{ name: string }>`select name from app_user order by name`);
  return Promise.all(names.map((n) => requireUser(em, n.name)));
}

export async function requireUser(em: Em, name: string): Promise<UserView> {
  const u = await one(
    em,
    sql<{ name: string; role: Role; kind: Kind; all_warehouses: boolean; warehouses: string[] | null; createdAt: string; disabledAt: string | null }>`
      select name, role, kind, all_warehouses, created_at as "createdAt", disabled_at as "disabledAt",
             (select array_agg(w.warehouse_code order by w.warehouse_code) from user_warehouse w where w.user_name = u.name) as warehouses
      from app_user u where name = ${name}`,
  );
  if (!u) throw notFound(`user ${name}`);
  const tokens = await rows(em, sql<UserView['tokens'][number]>`
    select id::int, created_at as "createdAt", expires_at as "expiresAt", revoked_at as "revokedAt"
    from api_token where user_name = ${name} order by id`);
  return {
    name: u.name, role: u.role, kind: u.kind, warehouses: u.all_warehouses ? 'all' : (u.warehouses ?? []),
    createdAt: u.createdAt, disabledAt: u.disabledAt, tokens,
  };
}

/** Whether `name` is a principal that may count in `warehouse` (an order can be assigned to it). */
export async function canCountIn(em: Em, name: string, warehouse: string): Promise<boolean> {
  const r = await one(em, sql<{ ok: boolean }>`
    select u.role in ('counter', 'manager', 'senior_manager') and u.disabled_at is null
           and (u.all_warehouses or exists (select 1 from user_warehouse w where w.user_name = u.name and w.warehouse_code = ${warehouse})) as ok
    from app_user u where u.name = ${name}`);
  return r?.ok ?? false;
}

/**
 * Creates or re-keys a principal with the given token (scripts, tests and the
 * demo users of `npm start`): every warehouse unless told otherwise.
 */
export async function upsertUser(
  em: Em,
  name: string,
  role: Role,
  token = newToken(),
  opts: { kind?: Kind; warehouses?: 'all' | string[]; tokenDays?: number } = {},
): Promise<string> {
  refuseBadName(name);
  const warehouses = opts.warehouses ?? 'all';
  await em.transactional(async (tx) => {
    await affected(tx, sql`insert into app_user (name, role, kind, all_warehouses) values (${name}, ${role}, ${opts.kind ?? 'person'}, ${warehouses === 'all'})
      on conflict (name) do update set role = excluded.role, kind = excluded.kind, all_warehouses = excluded.all_warehouses`);
    await affected(tx, sql`delete from user_warehouse where user_name = ${name}`);
    await grant(tx, name, warehouses);
    await affected(tx, sql`insert into api_token (user_name, token_sha256, expires_at)
      values (${name}, ${sha256(token)}, now() + make_interval(days => ${opts.tokenDays ?? DEFAULT_TOKEN_DAYS}))
      on conflict (token_sha256) do update set revoked_at = null, expires_at = excluded.expires_at`);
  });
  return token;
}

async function grant(em: Em, name: string, warehouses: 'all' | string[]): Promise<void> {
  if (warehouses === 'all' || warehouses.length === 0) return;
  const unknown = await rows(em, sql<{ code: string }>`
    select x as code from unnest(${warehouses}::text[]) x where not exists (select 1 from warehouse w where w.code = x)`);
  if (unknown.length > 0) throw refuse('UnknownWarehouse', `unknown warehouses: ${unknown.map((u) => u.code).join(', ')}`);
  await affected(em, sql`insert into user_warehouse (user_name, warehouse_code) select ${name}, x from unnest(${warehouses}::text[]) x on conflict do nothing`);
}

async function issue(em: Em, name: string, days: number): Promise<IssuedToken> {
  const token = newToken();
  const r = await one(em, sql<{ expiresAt: string }>`
    insert into api_token (user_name, token_sha256, expires_at) values (${name}, ${sha256(token)}, now() + make_interval(days => ${days}))
    returning expires_at as "expiresAt"`);
  return { token, expiresAt: new Date(r!.expiresAt).toISOString() };
}

function newToken(): string {
  return randomBytes(24).toString('base64url');
}

function sha256(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

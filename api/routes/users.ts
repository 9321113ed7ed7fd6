import { createRoute, z } from '@hono/zod-openapi';
import { searchAudit } from '../../store/audit';
import { createUser, listUsers, PRINCIPAL_NAME, requireUser, revokeTokens, rotateToken, setWarehouses, type Role } from '../../store/users';
import { rows, sql } from '../../db/sql';
import type { App, AppDeps } from '../deps';
import { caller, requireRole } from '../auth';
import { jsonBody, jsonResponse, problemResponses } from '../http';
import { code } from '../text';
import { Instant } from '../schemas';

const Warehouses = z.union([z.literal('all'), z.array(code()).max(1_000)]);
const TokenDays = z.number().int().min(1).max(366);
const NewUser = z
  .object({
    name: z.string().regex(PRINCIPAL_NAME, "1 to 100 letters, digits, '.', '_', '@' or '-', starting with a letter or digit"),
    role: z.enum(['counter', 'manager', 'senior_manager', 'auditor', 'admin', 'integration']),
    kind: z.enum(['person', 'device', 'system']).default('person'),
    warehouses: Warehouses,
    tokenDays: TokenDays.optional(),
  })
  .strict()
  .openapi('NewUser');
const NameParam = z.object({ name: code() });
const Rotation = z.object({ tokenDays: TokenDays.optional() }).strict();
const AuditQuery = z.object({
  reconciliationId: z.string().uuid().optional(),
  actor: code().optional(),
  action: code().optional(),
  from: Instant.optional(),
  to: Instant.optional(),
  after: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(0),
  limit: z.coerce.number().int().min(1).max(1_000).default(100),
});

/**
 * Identities, managed by admins: people and devices, their role, the
 * warehouses granted to them, their tokens (shown once, when issued;
 * expiring; revocable; rotation revokes the old ones). Everyone may see who
 * they are and rotate their own token. The audit trail across
 * reconciliations, for auditors and managers (their warehouses) and admins
 * (identity events).
 */
export function userRoutes(app: App, deps: AppDeps): void {
  const admin = ['admin'] as Role[];

  app.openapi(
    createRoute({ method: 'get', path: '/me', summary: 'Who the caller is: name, role, kind, warehouses', responses: { 200: jsonResponse('The caller') } }),
    async (c) => c.json(caller(c), 200),
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/me/token-rotation',
      summary: 'A new token for the caller; the old ones stop working at once (the new one is shown once)',
      request: { body: { content: { 'application/json': { schema: Rotation } }, required: false } },
      responses: { 200: jsonResponse('The new token and when it expires') },
    }),
    async (c) => {
      const who = caller(c);
      const body = (c.req.valid('json') as { tokenDays?: number } | undefined) ?? {};
      return c.json(await rotateToken(deps.orm.em.fork(), who.name, who.name, body.tokenDays), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/users',
      summary: 'Create a person or a device with a role and warehouses (admin); its token is shown once',
      request: jsonBody(NewUser),
      responses: { 201: jsonResponse('The user and its token'), 403: { description: 'Not an admin (application/problem+json)' }, ...problemResponses },
    }),
    async (c) => {
      const who = requireRole(c, admin);
      return c.json(await createUser(deps.orm.em.fork(), c.req.valid('json'), who.name), 201);
    },
  );

  app.openapi(
    createRoute({ method: 'get', path: '/users', summary: 'Every person and device (admin); never a token', responses: { 200: jsonResponse('Users') } }),
    async (c) => {
      requireRole(c, admin);
      return c.json({ users: await listUsers(deps.orm.em.fork()) }, 200);
    },
  );

  app.openapi(
    createRoute({ method: 'get', path: '/users/{name}', request: { params: NameParam }, responses: { 200: jsonResponse('The user'), ...problemResponses } }),
    async (c) => {
      requireRole(c, admin);
      return c.json(await requireUser(deps.orm.em.fork(), c.req.valid('param').name), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'put',
      path: '/users/{name}/warehouses',
      summary: "Replace the warehouses granted to a user (admin): a list of codes, or 'all'",
      request: { params: NameParam, ...jsonBody(z.object({ warehouses: Warehouses }).strict()) },
      responses: { 200: jsonResponse('The user'), ...problemResponses },
    }),
    async (c) => {
      const who = requireRole(c, admin);
      return c.json(await setWarehouses(deps.orm.em.fork(), c.req.valid('param').name, c.req.valid('json').warehouses, who.name), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/users/{name}/token-rotation',
      summary: "A new token for the user (admin), shown once; the user's earlier tokens stop working",
      request: { params: NameParam, body: { content: { 'application/json': { schema: Rotation } }, required: false } },
      responses: { 200: jsonResponse('The new token'), ...problemResponses },
    }),
    async (c) => {
      const who = requireRole(c, admin);
      const body = (c.req.valid('json') as { tokenDays?: number } | undefined) ?? {};
      return c.json(await rotateToken(deps.orm.em.fork(), c.req.valid('param').name, who.name, body.tokenDays), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/users/{name}/token-revocation',
      summary: 'Revoke every token of the user (admin): it can no longer authenticate',
      request: { params: NameParam },
      responses: { 200: jsonResponse('How many tokens were revoked'), ...problemResponses },
    }),
    async (c) => {
      const who = requireRole(c, admin);
      return c.json(await revokeTokens(deps.orm.em.fork(), c.req.valid('param').name, who.name), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/warehouses',
      summary: 'The warehouses the caller is granted (admins: all)',
      responses: { 200: jsonResponse('Warehouses') },
    }),
    async (c) => {
      const who = caller(c);
      const codes = who.role === 'admin' || who.warehouses === 'all' ? null : who.warehouses;
      const list = await rows(deps.orm.em.fork(), sql<{ code: string; name: string }>`
        select code, name from warehouse where ${codes}::text[] is null or code = any(${codes}::text[]) order by code`);
      return c.json({ warehouses: list }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/audit',
      summary: 'The audit trail, oldest first, by reconciliation, actor, action and time: auditors and managers in their warehouses; admins and auditors also identity events',
      request: { query: AuditQuery },
      responses: { 200: jsonResponse('A page of audit events; `next` is the `after` of the next page'), ...problemResponses },
    }),
    async (c) => {
      const who = requireRole(c, ['auditor', 'manager', 'senior_manager', 'admin']);
      const scope = {
        warehouses: who.role === 'admin' ? [] : who.warehouses,
        identity: who.role === 'admin' || who.role === 'auditor',
      };
      return c.json(await searchAudit(deps.orm.em.fork(), c.req.valid('query'), scope), 200);
    },
  );
}

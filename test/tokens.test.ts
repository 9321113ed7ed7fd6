import { createHash, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { affected, one, rows, sql } from '../db/sql';
import { upsertUser } from '../store/users';
import { call, freshLoopback, type Answer } from './support/access-http';
import { changedTables, dbFingerprint } from './support/db-fingerprint';
import { smallWarehouse } from './support/fixtures';
import { expectProblem } from './support/problem-checks';
import { tokenOf, useStack } from './support/stack';

/**
 * Identities and tokens: admins create people and devices, whose token is
 * shown once; tokens rotate, are revoked and expire; warehouse grants take
 * effect at once; every identity change is audited for admins and auditors;
 * failed authentications are logged and throttled per client address; and
 * the database keeps the audit trail append-only.
 */
interface AuthFailure {
  event: string;
  reason: string;
  address: string;
  method: string;
  path: string;
  at: string;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

describe('tokens and identities', () => {
  const t = useStack(async (stack) => {
    await smallWarehouse(stack.db.orm, 'W1');
    await smallWarehouse(stack.db.orm, 'W2');
  });
  const db = () => t.stack.db.orm.em.fork();

  /** Failed authentications the API logged (console.warn, in this process), parsed. */
  const logged: AuthFailure[] = [];
  beforeAll(() => {
    const warn = console.warn.bind(console);
    vi.spyOn(console, 'warn').mockImplementation((...args: unknown[]) => {
      const line = args[0];
      if (typeof line === 'string' && line.includes('"authentication_failed"')) logged.push(JSON.parse(line) as AuthFailure);
      else warn(...args);
    });
  });
  afterAll(() => vi.restoreAllMocks());

  /** As a token, from 127.0.0.1 unless told. A request meant to fail authentication comes from an address of its own: see `refusedToken`. */
  const as = (token: string | null, method: string, path: string, body?: unknown, from?: string) =>
    call(t.stack.baseUrl, { method, path, body, token, ...(from ? { from } : {}) });
  const admin = (method: string, path: string, body?: unknown) => as(tokenOf('admin-1'), method, path, body);

  /** The token does not authenticate: 401 problem+json saying why. */
  const refusedToken = async (token: string, why: RegExp) => {
    const res = await as(token, 'GET', '/me', undefined, freshLoopback());
    expectProblem(res, 401, 'unauthenticated', 'token');
    expect(res.body.detail).toMatch(why);
    return res;
  };
  const works = async (token: string, name: string) => {
    const res = await as(token, 'GET', '/me');
    expect(res.status, res.text).toBe(200);
    expect(res.body.name).toBe(name);
  };

  const created = new Map<string, Promise<{ token: string; expiresAt: string; user: Record<string, unknown>; res: Answer }>>();
  /** Creates a principal through the API as admin-1 (once per name): the 201 and its token. */
  const user = (name: string, body: Record<string, unknown> = {}) => {
    if (!created.has(name)) {
      created.set(name, (async () => {
        const res = await admin('POST', '/users', { name, role: 'manager', kind: 'person', warehouses: ['W1'], ...body });
        expect(res.status, res.text).toBe(201);
        return { token: res.body.token as string, expiresAt: res.body.expiresAt as string, user: res.body.user, res };
      })());
    }
    return created.get(name)!;
  };

  let recs: Promise<{ w1: string; w2: string }> | undefined;
  /** A reconciliation in W1 and one in W2 (created by manager-1, granted every warehouse). */
  const reconciliations = () =>
    (recs ??= (async () => ({
      w1: (await t.f.create({ warehouse: 'W1', scope: { kind: 'warehouse' } })).id,
      w2: (await t.f.create({ warehouse: 'W2', scope: { kind: 'warehouse' } })).id,
    }))());

  const tokenDaysOf = async (token: string) =>
    (await one(db(), sql<{ days: number }>`
      select extract(epoch from expires_at - created_at)::int / 86400 as days from api_token where token_sha256 = ${sha256(token)}`))!.days;

  describe('creating people and devices', () => {
    it('an admin creates a person: the 201 shows its token once, which authenticates as that person for 90 days', async () => {
      const alice = await user('alice');
      expect(alice.user).toEqual({ name: 'alice', role: 'manager', kind: 'person', warehouses: ['W1'] });
      expect(alice.token).toMatch(/^[A-Za-z0-9_-]{32,}$/);
      const me = await as(alice.token, 'GET', '/me');
      expect(me.status).toBe(200);
      expect(me.body).toEqual({ name: 'alice', role: 'manager', kind: 'person', warehouses: ['W1'] });
      expect(await tokenDaysOf(alice.token)).toBe(90);
    });

    it('an admin creates a device: a counter that authenticates as itself, with the token lifetime asked for', async () => {
      const device = await user('handheld-7', { role: 'counter', kind: 'device', tokenDays: 30 });
      const me = await as(device.token, 'GET', '/me');
      expect(me.body).toEqual({ name: 'handheld-7', role: 'counter', kind: 'device', warehouses: ['W1'] });
      const orders = await as(device.token, 'GET', '/me/count-orders');
      expect(orders.status).toBe(200);
      expect(orders.body).toEqual({ countOrders: [] });
      expect(await tokenDaysOf(device.token)).toBe(30);
    });

    it('a device is a counter: a device with another role is refused (422 invalid-role) and nothing is written', async () => {
      const before = await dbFingerprint(t.stack.db.orm);
      expectProblem(await admin('POST', '/users', { name: 'rogue-device', role: 'manager', kind: 'device', warehouses: ['W1'] }), 422, 'invalid-role');
      expect(changedTables(before, await dbFingerprint(t.stack.db.orm))).toEqual([]);
    });

    it('a name already taken is refused (409 name-taken) and nothing is written', async () => {
      await user('alice');
      const before = await dbFingerprint(t.stack.db.orm);
      expectProblem(await admin('POST', '/users', { name: 'alice', role: 'auditor', kind: 'person', warehouses: 'all' }), 409, 'name-taken');
      expect(changedTables(before, await dbFingerprint(t.stack.db.orm))).toEqual([]);
    });

    it('a user granted an unknown warehouse is refused (422 unknown-warehouse) and nothing is written', async () => {
      const before = await dbFingerprint(t.stack.db.orm);
      expectProblem(await admin('POST', '/users', { name: 'lost', role: 'manager', kind: 'person', warehouses: ['W1', 'W9'] }), 422, 'unknown-warehouse');
      expect(changedTables(before, await dbFingerprint(t.stack.db.orm))).toEqual([]);
    });

    it('replacing grants with an unknown warehouse is refused (422 unknown-warehouse) and the old grants stay', async () => {
      await user('alice');
      const before = await dbFingerprint(t.stack.db.orm);
      expectProblem(await admin('PUT', '/users/alice/warehouses', { warehouses: ['W9'] }), 422, 'unknown-warehouse');
      expect(changedTables(before, await dbFingerprint(t.stack.db.orm))).toEqual([]);
      expect((await admin('GET', '/users/alice')).body.warehouses).toEqual(['W1']);
    });

    it('GET /users and GET /users/{name} never show a token or its hash, only when each token was issued, expires and was revoked', async () => {
      const issued = [await user('alice'), await user('handheld-7')];
      const secrets = issued.flatMap((u) => [u.token, sha256(u.token)]);
      const list = await admin('GET', '/users');
      expect(list.status).toBe(200);
      const single = await admin('GET', '/users/alice');
      expect(single.status).toBe(200);
      for (const res of [list, single]) for (const secret of secrets) expect(res.text).not.toContain(secret);
      expect(Object.keys(single.body.tokens[0]).sort()).toEqual(['createdAt', 'expiresAt', 'id', 'revokedAt']);
      expect(list.body.users.map((u: { name: string }) => u.name)).toEqual(expect.arrayContaining(['alice', 'handheld-7', 'admin-1', 'dev-1']));
    });

    it('the audit trail does not hold a token either', async () => {
      const issued = [await user('alice'), await user('handheld-7')];
      const audit = await admin('GET', '/audit?limit=1000');
      expect(audit.status).toBe(200);
      expect(audit.body.events.some((e: { action: string }) => e.action === 'user_created')).toBe(true);
      for (const u of issued) {
        expect(audit.text).not.toContain(u.token);
        expect(audit.text).not.toContain(sha256(u.token));
      }
    });

    it('a manager is refused (403) every /users operation, and nothing is written', async () => {
      await user('alice');
      const before = await dbFingerprint(t.stack.db.orm);
      const manager = (method: string, path: string, body?: unknown) => as(tokenOf('manager-1'), method, path, body);
      const answers = [
        await manager('GET', '/users'),
        await manager('GET', '/users/alice'),
        await manager('POST', '/users', { name: 'by-manager', role: 'senior_manager', kind: 'person', warehouses: 'all' }),
        await manager('PUT', '/users/alice/warehouses', { warehouses: 'all' }),
        await manager('POST', '/users/alice/token-rotation', {}),
        await manager('POST', '/users/alice/token-revocation'),
      ];
      answers.forEach((res, i) => expectProblem(res, 403, 'forbidden', `call ${i}`));
      expect(changedTables(before, await dbFingerprint(t.stack.db.orm))).toEqual([]);
    });
  });

  describe('rotation, revocation, expiry', () => {
    it('rotation by an admin: the new token (shown once) works and the old one is refused as revoked', async () => {
      const { token: old } = await user('rot-by-admin');
      const rotated = await admin('POST', '/users/rot-by-admin/token-rotation', {});
      expect(rotated.status, rotated.text).toBe(200);
      expect(Object.keys(rotated.body).sort()).toEqual(['expiresAt', 'token']);
      await works(rotated.body.token, 'rot-by-admin');
      await refusedToken(old, /revoked/);
    });

    it('rotation by the user itself: the new token works and the one it rotated with is refused', async () => {
      const { token: old } = await user('rot-by-self', { role: 'counter', kind: 'device' });
      const rotated = await as(old, 'POST', '/me/token-rotation', { tokenDays: 7 });
      expect(rotated.status, rotated.text).toBe(200);
      await works(rotated.body.token, 'rot-by-self');
      await refusedToken(old, /revoked/);
      expect(await tokenDaysOf(rotated.body.token)).toBe(7);
    });

    it('revocation refuses every token of the user, however it was issued', async () => {
      const { token: first } = await user('revoked-user');
      // A second live token, as `npm run users` would issue one.
      const second = await upsertUser(db(), 'revoked-user', 'manager', `second-${randomUUID()}`, { warehouses: ['W1'] });
      await works(first, 'revoked-user');
      await works(second, 'revoked-user');
      const revoked = await admin('POST', '/users/revoked-user/token-revocation');
      expect(revoked.status, revoked.text).toBe(200);
      expect(revoked.body).toEqual({ revoked: 2 });
      await refusedToken(first, /revoked/);
      await refusedToken(second, /revoked/);
    });

    it('an expired token is refused', async () => {
      const { token } = await user('expiring');
      await works(token, 'expiring');
      await affected(db(), sql`update api_token set expires_at = now() - interval '1 minute' where user_name = 'expiring'`);
      await refusedToken(token, /expired/);
    });

    it('an unknown token and a missing one are refused', async () => {
      await refusedToken(`unknown-${randomUUID()}`, /not known/);
      const res = await as(null, 'GET', '/me', undefined, freshLoopback());
      expectProblem(res, 401, 'unauthenticated', 'no token');
    });
  });

  describe('warehouse grants', () => {
    it('a grant replaced by PUT takes effect on the very next request', async () => {
      const { w1, w2 } = await reconciliations();
      const { token } = await user('mover');
      expect((await as(token, 'GET', `/reconciliations/${w1}`)).status).toBe(200);
      expectProblem(await as(token, 'GET', `/reconciliations/${w2}`), 404, 'not-found', 'W2 before');

      const put = await admin('PUT', '/users/mover/warehouses', { warehouses: ['W2'] });
      expect(put.status, put.text).toBe(200);
      expect(put.body.warehouses).toEqual(['W2']);

      expectProblem(await as(token, 'GET', `/reconciliations/${w1}`), 404, 'not-found', 'W1 after');
      expect((await as(token, 'GET', `/reconciliations/${w2}`)).status).toBe(200);
      const listed = await as(token, 'GET', '/reconciliations');
      expect(listed.body.reconciliations.map((r: { id: string }) => r.id)).toEqual([w2]);
      expect((await as(token, 'GET', '/me')).body.warehouses).toEqual(['W2']);
    });
  });

  describe('the audit trail of identities', () => {
    let changes: Promise<void> | undefined;
    /** Every kind of identity change to `audited`: created, rotated by an admin and by itself, regranted, revoked. */
    const identityChanges = () =>
      (changes ??= (async () => {
        const { token } = await user('audited');
        const byAdmin = await admin('POST', '/users/audited/token-rotation', {});
        expect(byAdmin.status).toBe(200);
        expect(token).not.toBe(byAdmin.body.token);
        expect((await as(byAdmin.body.token, 'POST', '/me/token-rotation', {})).status).toBe(200);
        expect((await admin('PUT', '/users/audited/warehouses', { warehouses: ['W1', 'W2'] })).status).toBe(200);
        expect((await admin('POST', '/users/audited/token-revocation')).status).toBe(200);
      })());

    const subjectEvents = async (token: string, query: string) => {
      const res = await as(token, 'GET', `/audit?limit=1000&${query}`);
      expect(res.status, res.text).toBe(200);
      return (res.body.events as Array<Record<string, any>>).filter((e) => e.subject === 'user audited');
    };

    it('an admin finds every identity change in GET /audit, with who made it, and no warehouse', async () => {
      await identityChanges();
      const events = await subjectEvents(tokenOf('admin-1'), '');
      expect(events.map((e) => [e.action, e.actor])).toEqual([
        ['user_created', 'admin-1'],
        ['token_rotated', 'admin-1'],
        ['token_rotated', 'audited'],
        ['warehouses_granted', 'admin-1'],
        ['tokens_revoked', 'admin-1'],
      ]);
      for (const e of events) expect([e.warehouse, e.reconciliationId]).toEqual([null, null]);
      expect(events[3]).toMatchObject({ before: { warehouses: ['W1'] }, after: { warehouses: ['W1', 'W2'] } });
    });

    it('an auditor finds them too', async () => {
      await identityChanges();
      expect((await subjectEvents(tokenOf('auditor-1'), '')).map((e) => e.action)).toEqual([
        'user_created', 'token_rotated', 'token_rotated', 'warehouses_granted', 'tokens_revoked',
      ]);
    });

    it('a manager, even one granted every warehouse, sees no identity event', async () => {
      await identityChanges();
      await reconciliations();
      const res = await as(tokenOf('manager-1'), 'GET', '/audit?limit=1000');
      expect(res.status).toBe(200);
      expect(res.body.events.length).toBeGreaterThan(0);
      expect(res.body.events.filter((e: { warehouse: string | null }) => e.warehouse === null)).toEqual([]);
      for (const action of ['user_created', 'token_rotated', 'tokens_revoked', 'warehouses_granted']) {
        expect((await as(tokenOf('manager-1'), 'GET', `/audit?action=${action}`)).body.events).toEqual([]);
      }
    });
  });

  describe('failed authentications', () => {
    it('each is logged as one JSON line: why, from which address, which call; never the token', async () => {
      const { token: revoked } = await user('logged-revoked');
      expect((await admin('POST', '/users/logged-revoked/token-revocation')).status).toBe(200);
      const { token: expired } = await user('logged-expired');
      await affected(db(), sql`update api_token set expires_at = now() - interval '1 minute' where user_name = 'logged-expired'`);
      const unknown = `unknown-${randomUUID()}`;
      const cases = [
        { reason: 'missing', token: null, path: '/me' },
        { reason: 'unknown', token: unknown, path: '/reconciliations' },
        { reason: 'revoked', token: revoked, path: '/me/count-orders' },
        { reason: 'expired', token: expired, path: '/warehouses' },
      ];
      for (const c of cases) {
        const from = freshLoopback();
        const start = logged.length;
        const res = await as(c.token, 'GET', c.path, undefined, from);
        expectProblem(res, 401, 'unauthenticated', c.reason);
        const lines = logged.slice(start);
        expect(lines).toHaveLength(1);
        expect(lines[0]).toMatchObject({ event: 'authentication_failed', reason: c.reason, address: from, method: 'GET', path: c.path });
        expect(Number.isNaN(Date.parse(lines[0]!.at))).toBe(false);
        if (c.token) expect(JSON.stringify(lines[0])).not.toContain(c.token);
      }
    });

    describe('throttling, per client address', () => {
      const address = freshLoopback();
      let flooded: Promise<Answer[]> | undefined;
      /** Eleven requests with wrong tokens from one address. */
      const flood = () =>
        (flooded ??= (async () => {
          const answers: Answer[] = [];
          for (let i = 0; i < 11; i++) answers.push(await as(`wrong-${i}-${randomUUID()}`, 'GET', '/me', undefined, address));
          return answers;
        })());

      it('ten failures are each a 401; the eleventh is 429 too-many-failed-authentications with a Retry-After of 1 to 60 s', async () => {
        const answers = await flood();
        answers.slice(0, 10).forEach((res, i) => expectProblem(res, 401, 'unauthenticated', `attempt ${i + 1}`));
        const throttled = answers[10]!;
        expectProblem(throttled, 429, 'too-many-failed-authentications', 'attempt 11');
        const wait = Number(throttled.retryAfter);
        expect(wait).toBeGreaterThanOrEqual(1);
        expect(wait).toBeLessThanOrEqual(60);
      });

      it('during the window even a valid token from that address gets 429', async () => {
        await flood();
        const res = await as(tokenOf('manager-1'), 'GET', '/me', undefined, address);
        expectProblem(res, 429, 'too-many-failed-authentications', 'valid token');
        expect(Number(res.retryAfter)).toBeGreaterThanOrEqual(1);
      });

      it('another address is not throttled', async () => {
        await flood();
        const res = await as(tokenOf('manager-1'), 'GET', '/me', undefined, freshLoopback());
        expect(res.status, res.text).toBe(200);
      });

      it('throttled requests are logged too', async () => {
        await flood();
        const fromAddress = logged.filter((l) => l.address === address).map((l) => l.reason);
        expect(fromAddress.slice(0, 10)).toEqual(Array(10).fill('unknown'));
        expect(fromAddress.slice(10).length).toBeGreaterThanOrEqual(1);
        expect(new Set(fromAddress.slice(10))).toEqual(new Set(['throttled']));
      });
    });
  });

  describe('the audit trail is append-only in the database', () => {
    const auditRows = () => dbFingerprint(t.stack.db.orm, ['audit_event']);
    /** As the application's own database user (the API's connection pool). */
    const attempt = async (statement: string) => {
      await reconciliations();
      const before = await auditRows();
      const error = await affected(db(), sql.raw(statement)).then(() => undefined, (e: unknown) => e);
      expect(error, `${statement} succeeded`).toBeInstanceOf(Error);
      expect((error as Error).message).toMatch(/append-only/);
      expect(await auditRows()).toEqual(before);
    };

    it('UPDATE of an audit event fails, and the rows are unchanged', async () => {
      await attempt(`update audit_event set actor = 'someone-else'`);
    });

    it('DELETE of an audit event fails, and the rows are unchanged', async () => {
      await attempt(`delete from audit_event`);
    });

    it('TRUNCATE of the audit trail fails, and the rows are unchanged', async () => {
      await attempt(`truncate audit_event`);
    });
  });

  describe('searching the audit trail', () => {
    let made: Promise<Array<{ id: number; at: string; subject: string }>> | undefined;
    /** Three users created one after another: three user_created events, each at its own time (its own transaction). */
    const three = () =>
      (made ??= (async () => {
        for (const name of ['search-1', 'search-2', 'search-3']) await user(name);
        return rows(db(), sql<{ id: number; at: string; subject: string }>`
          select id::int, to_json(at) #>> '{}' as at, subject from audit_event
          where action = 'user_created' and subject in ('user search-1', 'user search-2', 'user search-3') order by id`);
      })());
    const search = async (query: string, token = tokenOf('admin-1')) => {
      const res = await as(token, 'GET', `/audit?limit=1000&${query}`);
      expect(res.status, res.text).toBe(200);
      return res.body.events as Array<Record<string, any>>;
    };

    let selfRotated: Promise<void> | undefined;
    /** A device that rotated its own token: the one event it is the actor of. */
    const identityChangesBySelf = () =>
      (selfRotated ??= (async () => {
        const { token } = await user('self-rotator', { role: 'counter', kind: 'device' });
        expect((await as(token, 'POST', '/me/token-rotation')).status).toBe(200);
      })());

    it('by actor: only what that principal did', async () => {
      await identityChangesBySelf();
      const events = await search('actor=self-rotator');
      expect(events.map((e) => [e.actor, e.action, e.subject])).toEqual([['self-rotator', 'token_rotated', 'user self-rotator']]);
    });

    it('by action: only events of that action', async () => {
      await three();
      const events = await search('action=user_created');
      expect(events.length).toBeGreaterThanOrEqual(3);
      expect(new Set(events.map((e) => e.action))).toEqual(new Set(['user_created']));
    });

    it('by time window: from is included, to is not', async () => {
      const [e1, e2, e3] = await three();
      expect(new Set([e1!.at, e2!.at, e3!.at]).size).toBe(3);
      const window = (from: string, to: string) =>
        search(`action=user_created&from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`).then((events) =>
          events.filter((e) => e.subject.startsWith('user search-')).map((e) => e.id));
      expect(await window(e2!.at, e3!.at)).toEqual([e2!.id]);
      expect(await window(e1!.at, e3!.at)).toEqual([e1!.id, e2!.id]);
      expect(await window(e1!.at, e1!.at)).toEqual([]);
    });

    it('an auditor granted W1 sees the events of W1 (and identity events) but none of W2', async () => {
      const { w1, w2 } = await reconciliations();
      const { token } = await user('auditor-w1', { role: 'auditor', warehouses: ['W1'] });
      const events = await search('', token);
      const ofReconciliations = events.filter((e) => e.reconciliationId !== null);
      expect(ofReconciliations.some((e) => e.reconciliationId === w1 && e.action === 'reconciliation_created')).toBe(true);
      expect(ofReconciliations.filter((e) => e.warehouse !== 'W1')).toEqual([]);
      expect(events.some((e) => e.reconciliationId === w2)).toBe(false);
      expect(events.some((e) => e.action === 'user_created')).toBe(true);
      expect(await search(`reconciliationId=${w2}`, token)).toEqual([]);
      expectProblem(await as(token, 'GET', `/reconciliations/${w2}/audit`), 404, 'not-found', 'W2 trail');
    });

  });
});

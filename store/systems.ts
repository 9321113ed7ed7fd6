import type { RawBuilder } from 'kysely';
import { affected, one, rows, sql, type Em } from '../db/sql';
import { audit } from './audit';
import { notFound, refuse } from './refusal';
import { PRINCIPAL_NAME } from './users';

/**
 * External systems (ERP, WMS ...) registered by name, and the rules that make
 * their stock comparable with another source's: status mapping (a system's
 * own status -> category available / unavailable / in_transit, and for
 * statuses that are blockings in the book, the book's blocking reason), unit
 * mapping (one of the system's units = so many storage units, for all items
 * or one item), location granularity, and how their levels are obtained
 * (pushed: the system uploads them; pulled: Stocktake calls its endpoint).
 *
 * `book` is Stocktake's own stock: always a source, never registered; its
 * status mapping (available and the blocking reasons) is editable like a
 * system's. The one home of `external_system`, `status_mapping` and
 * `unit_mapping`. The pull authorization is a secret: stored to call the
 * system, never returned, never audited, never in a message.
 */
export const BOOK = 'book';
export const CATEGORIES = ['available', 'unavailable', 'in_transit'] as const;
export type Category = (typeof CATEGORIES)[number];
export type LocationGranularity = 'location' | 'warehouse';
export type LevelsMode = 'pushed' | 'pulled';

export interface StatusRule {
  status: string;
  category: Category;
  /** For a status that is a blocking in the book: the book's blocking reason; null otherwise. */
  blockingReason: string | null;
}

export interface UnitRule {
  unit: string;
  /** The item the rule is for; null: every item. */
  item: string | null;
  /** Storage units per one `unit`. */
  storageUnits: number;
}

export interface StatusRuleInput {
  status: string;
  category: Category;
  blockingReason?: string | null;
}

export interface UnitRuleInput {
  unit: string;
  item?: string | null;
  storageUnits: number;
}

/** How a system's levels are obtained. For `pulled`, `authorization` is the Authorization header value (a secret). */
export type LevelsSetting = { mode: 'pushed' } | { mode: 'pulled'; url: string; authorization?: string };

/** What the API shows of a levels setting: never the authorization itself. */
export type LevelsView = { mode: 'pushed' } | { mode: 'pulled'; url: string; authorization: 'set' } | { mode: 'book' };

export interface NewSystem {
  name: string;
  description?: string;
  locationGranularity: LocationGranularity;
  levels: LevelsSetting;
  statuses: StatusRuleInput[];
  units?: UnitRuleInput[];
}

export interface SystemView {
  name: string;
  /** book: Stocktake's own stock; external: a registered system. */
  kind: 'book' | 'external';
  description: string;
  locationGranularity: LocationGranularity;
  levels: LevelsView;
  statuses: StatusRule[];
  units: UnitRule[];
  createdBy: string | null;
  createdAt: string | null;
}

/** What levels, messages and movements need to know of a source. */
export interface SourceRecord {
  name: string;
  kind: 'book' | 'external';
  locationGranularity: LocationGranularity;
  mode: LevelsMode | 'book';
}

const BOOK_DESCRIPTION = "Stocktake's own stock: stock positions and blockings (storage units, per location)";
/** A header value: visible ASCII and spaces, no line breaks. */
const HEADER_VALUE = /^[\x20-\x7e]{1,4096}$/;
const MAX_STORAGE_UNITS = 1e11;

// ---------------------------------------------------------------- registration

/** Registers a system with its mappings; refused if the name is taken (or is `book`) or a rule is invalid. */
export async function registerSystem(em: Em, s: NewSystem, by: string): Promise<SystemView> {
  if (s.name.toLowerCase() === BOOK) {
    throw refuse('SourceExists', "book is Stocktake's own stock: it is always a source and cannot be registered");
  }
  if (!PRINCIPAL_NAME.test(s.name)) {
    throw refuse('InvalidMapping', "a system's name is 1 to 100 letters, digits, '.', '_', '@' or '-', starting with a letter or digit (its integration principal has the same name)");
  }
  if (s.levels.mode === 'pulled' && !s.levels.authorization) {
    throw refuse('InvalidMapping', 'a pulled system needs the authorization header value Stocktake sends it');
  }
  const levels = checkLevels(s.levels);
  const statuses = checkStatuses(s.name, s.statuses);
  const units = checkUnits(s.units ?? []);
  return em.transactional(async (tx) => {
    await lockSource(tx, s.name);
    const inserted = await affected(tx, sql`
      insert into external_system (name, description, location_granularity, levels_mode, pull_url, pull_authorization, created_by)
      values (${s.name}, ${s.description ?? ''}, ${s.locationGranularity}, ${levels.mode},
              ${levels.mode === 'pulled' ? levels.url : null}, ${levels.mode === 'pulled' ? (levels.authorization ?? null) : null}, ${by})
      on conflict (name) do nothing`);
    if (inserted === 0) throw refuse('SourceExists', `a system named ${s.name} is already registered`);
    // Mapping rows of a name registered, then gone, would otherwise come back to life.
    await affected(tx, sql`delete from status_mapping where source = ${s.name}`);
    await affected(tx, sql`delete from unit_mapping where source = ${s.name}`);
    await writeStatuses(tx, s.name, statuses);
    await requireKnownItems(tx, units);
    await writeUnits(tx, s.name, units);
    const view = await requireSystem(tx, s.name);
    await audit(tx, { actor: by, action: 'system_registered', subject: `system ${s.name}`, after: auditable(view) });
    return view;
  });
}

// ---------------------------------------------------------------- reading

export async function listSystems(em: Em): Promise<SystemView[]> {
  const names = await rows(em, sql<{ name: string }>`select name from external_system order by name`);
  const systems = [await requireSystem(em, BOOK)];
  for (const n of names) systems.push(await requireSystem(em, n.name));
  return systems;
}

/** A system (or the book) with its mappings; NotFound if it is neither. */
export async function requireSystem(em: Em, name: string): Promise<SystemView> {
  const source = await requireSource(em, name);
  const statuses = await rows(em, sql<StatusRule>`
    select status, category, blocking_reason as "blockingReason" from status_mapping where source = ${name} order by status`);
  const units = await rows(em, sql<{ unit: string; item: string; storageUnits: string }>`
    select unit, item_code as item, storage_units::text as "storageUnits" from unit_mapping where source = ${name} order by unit, item_code`);
  const unitRules = units.map((u) => ({ unit: u.unit, item: u.item === '' ? null : u.item, storageUnits: Number(u.storageUnits) }));
  if (source.kind === 'book') {
    return {
      name: BOOK, kind: 'book', description: BOOK_DESCRIPTION, locationGranularity: 'location', levels: { mode: 'book' },
      statuses, units: unitRules, createdBy: null, createdAt: null,
    };
  }
  const s = (await one(em, sql<{ description: string; mode: LevelsMode; url: string | null; createdBy: string; createdAt: string }>`
    select description, levels_mode as mode, pull_url as url, created_by as "createdBy", created_at as "createdAt"
    from external_system where name = ${name}`))!;
  return {
    name, kind: 'external', description: s.description, locationGranularity: source.locationGranularity,
    levels: s.mode === 'pulled' ? { mode: 'pulled', url: s.url!, authorization: 'set' } : { mode: 'pushed' },
    statuses, units: unitRules, createdBy: s.createdBy, createdAt: new Date(s.createdAt).toISOString(),
  };
}

/** A source: the book or a registered system; NotFound otherwise. */
export async function requireSource(em: Em, name: string): Promise<SourceRecord> {
  if (name === BOOK) return { name, kind: 'book', locationGranularity: 'location', mode: 'book' };
  const s = await one(em, sql<{ granularity: LocationGranularity; mode: LevelsMode }>`
    select location_granularity as granularity, levels_mode as mode from external_system where name = ${name}`);
  if (!s) throw notFound(`system ${name}`);
  return { name, kind: 'external', locationGranularity: s.granularity, mode: s.mode };
}

/** Where and how to fetch a pulled system's levels: the URL and the secret. Only for pullLevels; never for a response. */
export async function pullSetting(em: Em, name: string): Promise<{ url: string; authorization: string | null }> {
  const s = await one(em, sql<{ mode: LevelsMode; url: string | null; authorization: string | null }>`
    select levels_mode as mode, pull_url as url, pull_authorization as authorization from external_system where name = ${name}`);
  if (!s) throw notFound(`system ${name}`);
  if (s.mode !== 'pulled' || !s.url) throw refuse('InvalidMapping', `${name} pushes its levels: Stocktake does not fetch them`);
  return { url: s.url, authorization: s.authorization };
}

// ---------------------------------------------------------------- editing

/** Replaces a source's status mapping (the book's too); audited with before and after. */
export async function setStatusMapping(em: Em, name: string, statuses: StatusRuleInput[], by: string): Promise<SystemView> {
  const checked = checkStatuses(name, statuses);
  return em.transactional(async (tx) => {
    await lockSource(tx, name);
    const before = await requireSystem(tx, name);
    await affected(tx, sql`delete from status_mapping where source = ${name}`);
    await writeStatuses(tx, name, checked);
    const after = await requireSystem(tx, name);
    await audit(tx, { actor: by, action: 'status_mapping_changed', subject: `system ${name}`, before: before.statuses, after: after.statuses });
    return after;
  });
}

/** Replaces a system's unit mapping; audited with before and after. The book reports in storage units: it has none. */
export async function setUnitMapping(em: Em, name: string, units: UnitRuleInput[], by: string): Promise<SystemView> {
  if (name === BOOK) throw refuse('InvalidMapping', 'the book reports every item in its storage unit: it has no unit mapping');
  const checked = checkUnits(units);
  return em.transactional(async (tx) => {
    await lockSource(tx, name);
    const before = await requireSystem(tx, name);
    await requireKnownItems(tx, checked);
    await affected(tx, sql`delete from unit_mapping where source = ${name}`);
    await writeUnits(tx, name, checked);
    const after = await requireSystem(tx, name);
    await audit(tx, { actor: by, action: 'unit_mapping_changed', subject: `system ${name}`, before: before.units, after: after.units });
    return after;
  });
}

/**
 * Changes how a system's levels are obtained. Switching to pulled needs the
 * authorization; a pulled system keeps its authorization when none is sent,
 * but only while the URL stays on the same origin (a secret never goes to
 * another host without being given again). Audited without the secret.
 */
export async function setLevelsSetting(em: Em, name: string, levels: LevelsSetting, by: string): Promise<SystemView> {
  if (name === BOOK) throw refuse('InvalidMapping', "the book's levels are Stocktake's own stock, captured when a run asks for them");
  const checked = checkLevels(levels);
  return em.transactional(async (tx) => {
    await lockSource(tx, name);
    const before = await requireSystem(tx, name);
    const stored = await one(tx, sql<{ url: string | null; authorization: string | null }>`
      select pull_url as url, pull_authorization as authorization from external_system where name = ${name}`);
    let authorization: string | null = null;
    if (checked.mode === 'pulled') {
      const sameOrigin = stored?.url ? new URL(stored.url).origin === new URL(checked.url).origin : false;
      authorization = checked.authorization ?? (sameOrigin ? (stored?.authorization ?? null) : null);
      if (!authorization) {
        throw refuse('InvalidMapping', stored?.url
          ? 'the URL moves to another host: send the authorization again'
          : 'a pulled system needs the authorization header value Stocktake sends it');
      }
    }
    await affected(tx, sql`
      update external_system set levels_mode = ${checked.mode},
        pull_url = ${checked.mode === 'pulled' ? checked.url : null}, pull_authorization = ${authorization}
      where name = ${name}`);
    const after = await requireSystem(tx, name);
    await audit(tx, {
      actor: by, action: 'levels_setting_changed', subject: `system ${name}`, before: before.levels,
      after: { ...after.levels, ...(checked.mode === 'pulled' ? { authorizationChanged: checked.authorization !== undefined } : {}) },
    });
    return after;
  });
}

// ---------------------------------------------------------------- conversion

/**
 * Storage units per one `unit` of `item` as `source` reports it, as an SQL
 * expression (null when the unit is not mapped): the source's rule for that
 * item first, then the item's own storage unit (1) and inventory unit
 * (1 / conversion factor), then the source's rule for every item. Levels,
 * messages and comparisons all convert with this one rule.
 */
export function storageUnitsSql(source: RawBuilder<unknown>, itemCode: RawBuilder<unknown>, unit: RawBuilder<unknown>): RawBuilder<string | null> {
  return sql<string | null>`coalesce(
    (select m.storage_units from unit_mapping m where m.source = ${source} and m.unit = ${unit} and m.item_code = ${itemCode}),
    (select case when ${unit} = it.storage_unit then 1::numeric when ${unit} = it.inventory_unit then 1 / it.conversion_factor end
       from item it where it.code = ${itemCode}),
    (select m.storage_units from unit_mapping m where m.source = ${source} and m.unit = ${unit} and m.item_code = ''))`;
}

// ---------------------------------------------------------------- rules

function checkLevels(levels: LevelsSetting): LevelsSetting {
  if (levels.mode === 'pushed') return { mode: 'pushed' };
  let url: URL;
  try {
    url = new URL(levels.url);
  } catch {
    throw refuse('InvalidMapping', 'the levels URL is not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw refuse('InvalidMapping', 'the levels URL must be http or https');
  if (url.username || url.password) throw refuse('InvalidMapping', 'the levels URL must not hold credentials: send them as the authorization');
  if (url.hash) throw refuse('InvalidMapping', 'the levels URL must not have a fragment');
  if (levels.authorization !== undefined && (!HEADER_VALUE.test(levels.authorization) || levels.authorization.trim() === '')) {
    throw refuse('InvalidMapping', 'the authorization must be a header value: 1 to 4096 visible ASCII characters or spaces');
  }
  return { mode: 'pulled', url: url.toString(), ...(levels.authorization === undefined ? {} : { authorization: levels.authorization }) };
}

function checkStatuses(source: string, statuses: StatusRuleInput[]): StatusRule[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  const rules = statuses.map((s): StatusRule => {
    if (seen.has(s.status)) problems.push(`status ${s.status} is mapped twice`);
    seen.add(s.status);
    if (!(CATEGORIES as readonly string[]).includes(s.category)) problems.push(`status ${s.status}: category must be one of ${CATEGORIES.join(', ')}`);
    let reason = s.blockingReason ?? null;
    if (source === BOOK) {
      // The book's statuses are 'available' and its blocking reasons themselves.
      if (s.status === 'available') {
        if (s.category !== 'available' || reason !== null) problems.push("the book's status available maps to category available, with no blocking reason");
      } else {
        if (reason !== null && reason !== s.status) problems.push(`the book's status ${s.status} is the blocking reason ${s.status} itself`);
        if (s.category === 'available') problems.push(`the book's blocking reason ${s.status} cannot be available stock`);
        reason = s.status;
      }
    } else if (reason !== null && s.category === 'available') {
      problems.push(`status ${s.status}: available stock is not blocked, so it has no blocking reason`);
    }
    return { status: s.status, category: s.category, blockingReason: reason };
  });
  if (rules.length === 0) problems.push('map at least one status');
  if (source === BOOK && !seen.has('available')) problems.push("the book's mapping keeps the status available");
  if (problems.length > 0) throw refuse('InvalidMapping', `the status mapping cannot be applied: ${problems.join('; ')}`, { problems });
  return rules;
}

function checkUnits(units: UnitRuleInput[]): UnitRule[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  const rules = units.map((u): UnitRule => {
    const item = u.item ?? null;
    const key = `${u.unit}\u0000${item ?? ''}`;
    if (seen.has(key)) problems.push(`unit ${u.unit}${item ? ` for item ${item}` : ''} is mapped twice`);
    seen.add(key);
    if (!Number.isFinite(u.storageUnits) || u.storageUnits <= 0 || u.storageUnits > MAX_STORAGE_UNITS) {
      problems.push(`unit ${u.unit}: storageUnits must be more than 0 and at most ${MAX_STORAGE_UNITS}`);
    } else if (!/^\d+(\.\d{1,6})?$/.test(String(u.storageUnits))) {
      problems.push(`unit ${u.unit}: storageUnits has at most 6 decimals`);
    }
    return { unit: u.unit, item, storageUnits: u.storageUnits };
  });
  if (problems.length > 0) throw refuse('InvalidMapping', `the unit mapping cannot be applied: ${problems.join('; ')}`, { problems });
  return rules;
}

async function requireKnownItems(em: Em, units: UnitRule[]): Promise<void> {
  const items = [...new Set(units.map((u) => u.item).filter((i): i is string => i !== null))];
  if (items.length === 0) return;
  const unknown = await rows(em, sql<{ code: string }>`
    select x as code from unnest(${items}::text[]) x where not exists (select 1 from item i where i.code = x) order by x`);
  if (unknown.length > 0) {
    const problems = unknown.map((u) => `unknown item ${u.code}`);
    throw refuse('InvalidMapping', `the unit mapping cannot be applied: ${problems.join('; ')}`, { problems });
  }
}

async function writeStatuses(em: Em, source: string, statuses: StatusRule[]): Promise<void> {
  if (statuses.length === 0) return;
  await affected(em, sql`
    insert into status_mapping (source, status, category, blocking_reason)
    select ${source}, s, c, r from unnest(${statuses.map((x) => x.status)}::text[], ${statuses.map((x) => x.category)}::text[],
                                          ${statuses.map((x) => x.blockingReason)}::text[]) as v(s, c, r)`);
}

async function writeUnits(em: Em, source: string, units: UnitRule[]): Promise<void> {
  if (units.length === 0) return;
  await affected(em, sql`
    insert into unit_mapping (source, unit, item_code, storage_units)
    select ${source}, u, i, n::numeric from unnest(${units.map((x) => x.unit)}::text[], ${units.map((x) => x.item ?? '')}::text[],
                                                  ${units.map((x) => String(x.storageUnits))}::text[]) as v(u, i, n)`);
}

/** One change to a source's setting at a time; the source must exist (NotFound). */
async function lockSource(em: Em, name: string): Promise<void> {
  await one(em, sql`select pg_advisory_xact_lock(hashtext(${'external_system:' + name}))`);
}

/** A view as the audit trail keeps it (it never holds the secret: the view does not). */
function auditable(view: SystemView): Omit<SystemView, 'createdAt' | 'createdBy'> {
  return { name: view.name, kind: view.kind, description: view.description, locationGranularity: view.locationGranularity, levels: view.levels, statuses: view.statuses, units: view.units };
}

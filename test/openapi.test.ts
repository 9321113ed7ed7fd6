import fs from 'node:fs';
import path from 'node:path';
import { Validator } from '@seriousme/openapi-schema-validator';
import { describe, expect, it } from 'vitest';
import { createApp } from '../api/app';
import { ROOT } from './support/processes';

/**
 * The document at /openapi.json is the API's contract: valid OpenAPI 3.1,
 * naming every route the app serves. Building the app and its document
 * touches neither the database nor Temporal (they are used per request), so
 * these checks need no stack; what the live server answers is Schemathesis'
 * part (test/schemathesis.test.ts).
 */
const app = createApp({ orm: {} as never, temporal: {} as never, taskQueue: 'openapi-test', decisionKey: new Uint8Array(32) });

async function document(): Promise<any> {
  const res = await app.request('/openapi.json');
  expect(res.status).toBe(200);
  return res.json();
}

/** Served routes that are not API operations, each with the reason it is not in the document. */
const NOT_OPERATIONS: Array<{ path: RegExp; reason: string }> = [
  { path: /^\/openapi\.json$/, reason: 'the document itself' },
  { path: /^\/docs(\/|$)/, reason: 'the interactive reference (HTML and its assets), rendered from the document' },
  { path: /^\/ui(\/|$)/, reason: 'the web pages (HTML, scripts, styles); they call the documented API' },
];

const METHODS = ['GET', 'PUT', 'POST', 'DELETE', 'PATCH'];

/** Hono's `/a/:id{regex}/b` as OpenAPI's `/a/{id}/b`. */
function openApiPath(honoPath: string): string {
  return honoPath.replace(/:([A-Za-z0-9_]+)(\{[^}]*\})?/g, '{$1}');
}

describe('the OpenAPI document', () => {
  it('validates as OpenAPI 3.1', async () => {
    const doc = await document();
    const validator = new Validator();
    const result = await validator.validate(doc);
    expect(result.errors ?? [], JSON.stringify(result.errors, null, 1)?.slice(0, 4000)).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it('lists every route the app serves, with its method', async () => {
    const doc = await document();
    const documented = new Set<string>();
    for (const [p, item] of Object.entries(doc.paths as Record<string, object>)) {
      for (const m of Object.keys(item)) documented.add(`${m.toUpperCase()} ${p}`);
    }
    const served = app.routes
      .filter((r) => METHODS.includes(r.method))
      .filter((r) => !NOT_OPERATIONS.some((x) => x.path.test(r.path)))
      .map((r) => `${r.method} ${openApiPath(r.path)}`);
    expect(served.length).toBeGreaterThan(60);
    expect(served.filter((op) => !documented.has(op))).toEqual([]);
  });

  it('declares the bearer scheme, applied to all but the public operations', async () => {
    const doc = await document();
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.security).toEqual([{ bearer: [] }]);
    expect(doc.paths['/health'].get.security).toEqual([]);
    expect(doc.paths['/reconciliations'].post.security).toBeUndefined();
  });

  it('answers every refusal as a Problem, with 401 on every operation that needs a token', async () => {
    const doc = await document();
    const lacking: string[] = [];
    for (const [p, item] of Object.entries(doc.paths as Record<string, Record<string, any>>)) {
      for (const [m, op] of Object.entries(item)) {
        const statuses = Object.keys(op.responses);
        if (p !== '/health' && !statuses.includes('401')) lacking.push(`${m} ${p}: no 401`);
        for (const s of statuses.filter((x) => Number(x) >= 400)) {
          const schema = op.responses[s].content?.['application/problem+json']?.schema;
          if (p !== '/health' && schema?.$ref !== '#/components/schemas/Problem') lacking.push(`${m} ${p} ${s}: not a Problem`);
        }
      }
    }
    expect(lacking).toEqual([]);
  });

  it('links a created reconciliation to the operations that take its id', async () => {
    const doc = await document();
    const links = doc.paths['/reconciliations'].post.responses['201'].links;
    const targets = Object.values(links as Record<string, { operationId: string; parameters: Record<string, string> }>);
    expect(targets.map((l) => l.operationId)).toEqual(expect.arrayContaining(['getReconciliationsId', 'getReconciliationsIdRows', 'postReconciliationsIdInitialCount']));
    expect(targets.every((l) => l.parameters.id === '$response.body#/id')).toBe(true);
  });

  it('has no schema whose allOf parts exclude each other', async () => {
    // A strict object inside allOf refuses the other parts' properties: no body could satisfy both.
    const doc = await document();
    const offending: string[] = [];
    const walk = (node: unknown, where: string) => {
      if (!node || typeof node !== 'object') return;
      const n = node as Record<string, unknown>;
      if (Array.isArray(n.allOf) && n.allOf.some((part: any) => part?.additionalProperties === false) && n.allOf.length > 1) offending.push(where);
      for (const [k, v] of Object.entries(n)) walk(v, `${where}/${k}`);
    };
    walk(doc, '#');
    expect(offending).toEqual([]);
  });
});

describe('the api/ modules', () => {
  it('import one another without a circle', () => {
    const api = path.join(ROOT, 'api');
    const files = fs.readdirSync(api, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts')).map((f) => path.join(api, f));
    const edges = new Map<string, string[]>();
    for (const file of files) {
      const source = fs.readFileSync(file, 'utf8');
      const targets = [...source.matchAll(/^\s*(?:import|export)\s[^;]*?from\s+'(\.[^']+)'/gms)]
        .map((m) => path.resolve(path.dirname(file), m[1]!) + '.ts')
        .filter((t) => t.startsWith(api + path.sep) && files.includes(t));
      edges.set(file, targets);
    }
    const cycles: string[] = [];
    const state = new Map<string, 'visiting' | 'done'>();
    const visit = (file: string, trail: string[]) => {
      if (state.get(file) === 'done') return;
      if (state.get(file) === 'visiting') {
        cycles.push([...trail.slice(trail.indexOf(file)), file].map((f) => path.relative(ROOT, f)).join(' -> '));
        return;
      }
      state.set(file, 'visiting');
      for (const next of edges.get(file) ?? []) visit(next, [...trail, file]);
      state.set(file, 'done');
    };
    for (const file of files) visit(file, []);
    expect(cycles).toEqual([]);
  });
});

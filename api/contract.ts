/**
 * The OpenAPI document as the contract: what the routes declare, completed
 * with what the layers around every route do to it. Authentication,
 * validation, the JSON body parser and the error handler answer on every
 * route alike, so their statuses are added here, from the same facts the
 * middleware acts on, rather than repeated (and forgotten) in each route.
 * Links tie an answer to the operations that take its ids, so a client (and
 * Schemathesis' stateful phase) can walk from a create to what follows.
 */

/** Operations anyone may call, without a token (the document itself is served outside it). */
export const PUBLIC_OPERATIONS = new Set(['GET /health']);
/** Operations every authenticated principal may call, whatever its role: they never answer 403. */
const ANY_ROLE = new Set(['GET /me', 'POST /me/token-rotation', 'GET /warehouses']);

const METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const;

type Json = Record<string, unknown>;
interface Operation {
  operationId?: string;
  tags?: string[];
  parameters?: Array<{ in: string; name: string }>;
  requestBody?: { content?: Record<string, unknown> };
  responses: Record<string, Json>;
  security?: Array<Record<string, string[]>>;
}
type Document = Json & { paths: Record<string, Partial<Record<(typeof METHODS)[number], Operation>>>; components?: Json & { schemas?: Json; securitySchemes?: Json } };

export const PROBLEM_SCHEMA = {
  type: 'object',
  description: 'RFC 9457 problem details; some problems carry more members (issues, lines, badLines ...)',
  required: ['type', 'title', 'status'],
  properties: {
    type: { type: 'string', format: 'uri', example: 'https://stocktake.dev/problems/invalid-request' },
    title: { type: 'string' },
    status: { type: 'integer', minimum: 400, maximum: 599 },
    detail: { type: 'string' },
  },
  additionalProperties: true,
};

const STANDARD: Record<string, string> = {
  400: 'The request cannot be read: a malformed URL (percent-escape that is not UTF-8) or a body that is not JSON',
  401: 'No valid bearer token (missing, unknown, expired or revoked)',
  403: 'The caller\'s role may not do this',
  404: 'Not found, or in a warehouse the caller is not granted (answered as if absent)',
  405: 'The method is not served here (Allow lists those that are)',
  409: 'Conflicts with the current state',
  415: 'The body\'s Content-Type is not one the operation takes',
  422: 'The request is not valid (path, query, headers or body): the problem lists the issues',
  431: 'The request line and headers are too large to read (Node\'s limit: 16 KiB)',
  429: 'Too many failed authentications from this address; wait Retry-After seconds',
  503: 'The database or Temporal is not reachable just now, or a concurrent change rolled this back; nothing was changed, retry after Retry-After seconds',
};

const HEADERS: Record<string, Json> = {
  401: { 'WWW-Authenticate': { description: 'Bearer realm="stocktake"', schema: { type: 'string' } } },
  405: { Allow: { description: 'The methods served at this path', schema: { type: 'string' } } },
  429: { 'Retry-After': { description: 'Seconds to wait', schema: { type: 'string' } } },
  503: { 'Retry-After': { description: 'Seconds to wait', schema: { type: 'string' } } },
};

/** `$response` expressions: where a create (or a list) answers the id that other operations take. */
interface LinkSource {
  from: string;
  statuses: string[];
  /** Operations whose path starts with this prefix get the link. */
  to: string;
  parameters: Record<string, string>;
}

const LINKS: LinkSource[] = [
  { from: 'POST /reconciliations', statuses: ['201', '200'], to: '/reconciliations/{id}', parameters: { id: '$response.body#/id' } },
  { from: 'POST /system-exceptions/{id}/count-reconciliation', statuses: ['201', '200'], to: '/reconciliations/{id}', parameters: { id: '$response.body#/id' } },
  { from: 'GET /reconciliations', statuses: ['200'], to: '/reconciliations/{id}', parameters: { id: '$response.body#/reconciliations/0/id' } },
  { from: 'GET /reconciliations/{id}/count-orders', statuses: ['200'], to: '/count-orders/{id}', parameters: { id: '$response.body#/countOrders/0/id' } },
  { from: 'GET /me/count-orders', statuses: ['200'], to: '/count-orders/{id}', parameters: { id: '$response.body#/countOrders/0/id' } },
  { from: 'GET /reconciliations/{id}/rows', statuses: ['200'], to: '/reconciliations/{id}/rows/{rowId}', parameters: { id: '$request.path.id', rowId: '$response.body#/rows/0/id' } },
  { from: 'POST /system-reconciliations', statuses: ['201', '200'], to: '/system-reconciliations/{id}', parameters: { id: '$response.body#/id' } },
  { from: 'GET /system-reconciliations', statuses: ['200'], to: '/system-reconciliations/{id}', parameters: { id: '$response.body#/systemReconciliations/0/id' } },
  { from: 'GET /system-exceptions', statuses: ['200'], to: '/system-exceptions/{id}', parameters: { id: '$response.body#/exceptions/0/id' } },
  { from: 'POST /system-reconciliation-schedules', statuses: ['201'], to: '/system-reconciliation-schedules/{name}', parameters: { name: '$response.body#/name' } },
  { from: 'POST /users', statuses: ['201'], to: '/users/{name}', parameters: { name: '$response.body#/user/name' } },
  { from: 'POST /systems', statuses: ['201'], to: '/systems/{name}', parameters: { name: '$response.body#/name' } },
];

/** Groups for the reference (/docs), by path; the first that matches. */
const TAGS: Array<{ name: string; description: string; paths: RegExp }> = [
  { name: 'Service', description: 'Health and metrics', paths: /^\/(health|metrics)$/ },
  { name: 'Counting', description: 'Count orders and what devices submit', paths: /^\/(me\/count-orders|devices|count-orders)(\/|$)/ },
  { name: 'Count reconciliations', description: 'Reconciliations of counted stock: rows, decisions, adjustment order, reports', paths: /^\/reconciliations(\/|$)/ },
  { name: 'System reconciliations', description: 'Comparisons of two systems\' levels, their schedules, exceptions and KPIs', paths: /^\/(system-|kpis\/)/ },
  { name: 'Systems', description: 'External systems, their mappings and the messages and movements they send', paths: /^\/systems(\/|$)/ },
  { name: 'Loads', description: 'Master data and stock from the systems that own them', paths: /^\/imports(\/|$)/ },
  { name: 'Identity and audit', description: 'Who the caller is, users and tokens, warehouses, the audit trail', paths: /./ },
];

/** Completes the generated document in place and returns it. */
export function completeContract<D extends object>(generated: D): D {
  const doc = generated as unknown as Document;
  doc.components ??= {};
  doc.components.schemas = { ...doc.components.schemas, Problem: PROBLEM_SCHEMA };
  doc.components.securitySchemes = {
    ...doc.components.securitySchemes,
    bearer: { type: 'http', scheme: 'bearer', description: 'A token issued by an admin (POST /users) or by rotation; `npm start` writes the demo users\' tokens to <data dir>/demo-tokens.json' },
  };
  doc.security = [{ bearer: [] }];
  doc.tags = TAGS.map(({ name, description }) => ({ name, description }));
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      const key = `${method.toUpperCase()} ${path}`;
      op.operationId ??= operationId(method, path);
      op.tags ??= [TAGS.find((t) => t.paths.test(path))!.name];
      const isPublic = PUBLIC_OPERATIONS.has(key);
      if (isPublic) op.security = [];
      const statuses = ['400', '431', '503'];
      if (!isPublic) statuses.push('401', '429');
      if (!isPublic && !ANY_ROLE.has(key)) statuses.push('403');
      const params = op.parameters ?? [];
      if (params.length > 0 || op.requestBody) statuses.push('422');
      if (params.some((p) => p.in === 'path')) statuses.push('404');
      if (op.requestBody) statuses.push('415');
      for (const status of statuses) op.responses[status] ??= { description: STANDARD[status] };
      for (const [status, response] of Object.entries(op.responses)) {
        if (Number(status) < 400) continue;
        response.description ??= STANDARD[status] ?? 'A problem';
        response.content ??= { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } };
        if (HEADERS[status]) response.headers = { ...HEADERS[status], ...(response.headers as Json | undefined) };
      }
    }
  }
  addLinks(doc);
  return generated;
}

/** `get /reconciliations/{id}/rows` -> `getReconciliationsIdRows`. */
function operationId(method: string, path: string): string {
  const words = path.split(/[^A-Za-z0-9]+/).filter(Boolean);
  return method + words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');
}

function addLinks(doc: Document): void {
  for (const source of LINKS) {
    const [method, path] = source.from.split(' ') as [string, string];
    const op = doc.paths[path]?.[method.toLowerCase() as (typeof METHODS)[number]];
    if (!op) throw new Error(`link source ${source.from} is not in the document`);
    for (const [targetPath, item] of Object.entries(doc.paths)) {
      if (targetPath !== source.to && !targetPath.startsWith(`${source.to}/`)) continue;
      for (const m of METHODS) {
        const target = item[m];
        if (!target?.operationId) continue;
        const names = new Set((target.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name));
        const parameters = Object.fromEntries(Object.entries(source.parameters).filter(([name]) => names.has(name)));
        // Only a link that supplies every path parameter leads somewhere real.
        if (Object.keys(parameters).length !== names.size) continue;
        for (const status of source.statuses) {
          const response = op.responses[status];
          if (!response) continue;
          const links = ((response.links as Json | undefined) ?? {});
          links[target.operationId] = { operationId: target.operationId, parameters };
          response.links = links;
        }
      }
    }
  }
}

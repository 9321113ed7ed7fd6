import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

/**
 * RFC 9457 problem details. Every refusal the API gives is one of these, so
 * devices and managers get a machine-readable type plus a sentence a person
 * can act on.
 */
export class Problem extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly type: string,
    readonly title: string,
    readonly detail?: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(detail ?? title);
  }
}

export const notFound = (what: string) => new Problem(404, 'not-found', `${what} not found`);
export const conflict = (type: string, detail: string, extra: Record<string, unknown> = {}) =>
  new Problem(409, type, 'Conflict with the current state', detail, extra);
export const unprocessable = (type: string, detail: string, extra: Record<string, unknown> = {}) =>
  new Problem(422, type, 'The request cannot be applied', detail, extra);

export function problemResponse(c: Context, p: Problem): Response {
  return c.body(
    JSON.stringify({ type: `https://stocktake.dev/problems/${p.type}`, title: p.title, status: p.status, detail: p.detail, ...p.extra }),
    p.status,
    { 'content-type': 'application/problem+json' },
  );
}

import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { REFUSALS, type RefusalKind } from '../domain/refusals';
import type { Refusal } from '../store/refusal';

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

const STATUS: Record<RefusalKind, { status: ContentfulStatusCode; title: string }> = {
  not_found: { status: 404, title: 'Not found' },
  conflict: { status: 409, title: 'Conflict with the current state' },
  invalid: { status: 422, title: 'The request cannot be applied' },
  forbidden: { status: 403, title: 'Not allowed' },
};

/** A business refusal from the store or the workflow, as the problem the caller gets. */
export function refusalProblem(r: Refusal, title?: string): Problem {
  const kind = STATUS[REFUSALS[r.type]];
  return new Problem(kind.status, kebab(r.type), kind.status === 404 ? r.message : (title ?? kind.title), r.message, r.extra);
}

export function problemResponse(c: Context, p: Problem): Response {
  return c.body(
    JSON.stringify({ type: `https://stocktake.dev/problems/${p.type}`, title: p.title, status: p.status, detail: p.detail, ...p.extra }),
    p.status,
    { 'content-type': 'application/problem+json' },
  );
}

function kebab(s: string): string {
  return s.replace(/([a-z])([A-Z])/g, '$1-$2').toLowerCase();
}

import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { caller } from './auth';
import { Problem } from './problem';

/** Response entry for createRoute: JSON of a shape documented by its description. */
export function jsonResponse(description: string) {
  return { description, content: { 'application/json': { schema: z.any() } } };
}

export const problemResponses = {
  404: { description: 'Not found (application/problem+json)' },
  409: { description: 'Conflicts with the current state (application/problem+json)' },
  422: { description: 'Invalid request (application/problem+json)' },
};

export function jsonBody<T extends z.ZodTypeAny>(schema: T) {
  return { body: { content: { 'application/json': { schema } }, required: true } };
}

/** Who is acting, for decisions and the audit trail: the authenticated caller's name. */
export function actingUser(c: Context): string {
  return caller(c).name;
}

export function idempotencyKey(c: Context): string | undefined {
  const key = c.req.header('idempotency-key')?.trim();
  if (key !== undefined && (key.length === 0 || key.length > 200)) {
    throw new Problem(422, 'invalid-idempotency-key', 'Invalid Idempotency-Key', 'use 1 to 200 characters');
  }
  return key;
}

import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { MAX_COUNTED_QUANTITY } from '../../domain/quantity-bounds';
import { countEntriesAccepted } from '../../platform/metrics';
import { submitCountFile } from '../../store/count-entries/files';
import { BodyTap } from '../../store/imports/body';
import { readRecordBatches } from '../../store/streaming/records';
import { countedOrder } from '../access';
import type { App, AppDeps } from '../deps';
import { jsonResponse } from '../http';
import { blocked, decimal, lineFormatOf, linesBody, optional, optionalLabel, parseRecords, requestName } from '../line-fields';
import { Problem } from '../problem';
import { OrderIdParam, SubmissionIdHeaders } from '../schemas';
import { code } from '../text';

/**
 * `POST /count-orders/{id}/entry-files`: a whole file of count entries as one
 * submission, streamed (CSV with a header line, or JSON lines): what a device
 * that counted offline sends when it is back. The Submission-Id header names
 * it, as submissionId names a batch: the same id and file again changes
 * nothing. Stored whole or not at all; bad lines are answered by number.
 */

/** Counted blockings by reason; absent or empty: the device did not count blockings. */
const countedBlockings = z.unknown().transform((v, ctx) => {
  if (v === undefined || v === null || v === '') return undefined;
  const parsed = blocked.safeParse(v);
  if (!parsed.success) {
    ctx.addIssue({ code: 'custom', message: parsed.error.issues[0]?.message ?? 'blocked quantities by reason' });
    return z.NEVER;
  }
  return parsed.data;
});

/** A line: the fields of a batch's entry (schemas.ts CountEntry), CSV header names and JSON keys alike. */
const ENTRY_LINE = z.strictObject({
  location: code(),
  item: code(),
  lot: optionalLabel(),
  serial: optionalLabel(),
  handlingUnit: optionalLabel(),
  owner: optionalLabel(),
  quantity: decimal({ decimals: 4, max: MAX_COUNTED_QUANTITY }),
  blocked: optional(countedBlockings),
});

function submissionIdOf(c: Context): string {
  const id = requestName(c.req.header('submission-id'));
  if (id === undefined) {
    throw new Problem(422, 'invalid-submission-id', 'Submission-Id required', 'send a Submission-Id header of 1 to 200 visible ASCII characters that names this file of entries');
  }
  return id;
}

const route = createRoute({
  method: 'post',
  path: '/count-orders/{id}/entry-files',
  summary: 'Submit a whole file of count entries (CSV or JSON lines, streamed) as one submission; a repeated Submission-Id changes nothing',
  description: [
    'For a device that counted offline: every entry of the order in one request, read as it streams in and stored by COPY.',
    'Fields: location, item, lot, serial, handlingUnit, owner, quantity (storage unit), blocked (JSON lines: {"reason": quantity}; CSV: reason=quantity;reason=quantity).',
    'The rules are those of a batch (POST /count-orders/{id}/submissions); the file is stored whole or not at all: any bad line and 422 with `lines` (the first 1,000 `{line, problem}`) and `badLines`.',
    'The same Submission-Id with the same file: 200 with the first answer; with another file: 422 submission-id-reused.',
  ].join('\n'),
  request: {
    params: OrderIdParam,
    headers: SubmissionIdHeaders,
    body: linesBody('entry'),
  },
  responses: {
    201: jsonResponse('Stored: { submissionId, accepted, duplicate: false }'),
    200: jsonResponse('The same file again: the first answer; nothing stored'),
    403: { description: 'Not a device or a person who counts (application/problem+json)' },
    404: { description: 'No such order assigned to the caller (application/problem+json)' },
    415: { description: 'Neither text/csv nor application/x-ndjson (application/problem+json)' },
    409: { description: 'The order is complete, or assigned to another device (application/problem+json)' },
    422: { description: 'Bad lines (invalid-count-entries, with `lines` and `badLines`), a reused Submission-Id (submission-id-reused) or none (invalid-submission-id) (application/problem+json)' },
  },
});

export function entryFileRoutes(app: App, deps: AppDeps): void {
  // Registered by hand: the body is streamed, not parsed into JSON by the framework.
  app.openAPIRegistry.registerPath(route);
  app.post('/count-orders/:id/entry-files', async (c) => {
    const param = OrderIdParam.safeParse({ id: c.req.param('id') });
    if (!param.success) throw new Problem(422, 'invalid-request', 'Invalid request', 'id: a count order number');
    const submissionId = submissionIdOf(c);
    const format = lineFormatOf(c);
    const em = deps.orm.em.fork();
    const { who, order } = await countedOrder(c, em, param.data.id);
    const body = new BodyTap(c.req.raw.body);
    const result = await submitCountFile(em, order.id, {
      submissionId,
      device: who.name,
      countedBy: who.name,
      lines: parseRecords(ENTRY_LINE, readRecordBatches(body.chunks(), format)),
      bodyHash: () => body.finish(),
    });
    if (!result.duplicate) countEntriesAccepted.inc(result.accepted);
    return c.json(result, result.duplicate ? 200 : 201);
  });
}

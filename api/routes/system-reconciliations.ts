import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppDeps } from '../app';

/** System reconciliations, their orders and schedules (filled in by the workflow work). */
export function systemReconciliationRoutes(_app: OpenAPIHono, _deps: AppDeps): void {}

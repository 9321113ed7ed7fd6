import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppDeps } from '../app';

/** The exception queue and KPIs (filled in by the exceptions work). */
export function exceptionRoutes(_app: OpenAPIHono, _deps: AppDeps): void {}

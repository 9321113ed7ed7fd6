import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppDeps } from '../app';

/** Loads of master data and stock (filled in by the imports work). */
export function importRoutes(_app: OpenAPIHono, _deps: AppDeps): void {}

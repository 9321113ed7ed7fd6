import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppDeps } from '../app';

/** External systems, their mappings, levels uploads, messages and movements (filled in by the systems work). */
export function systemRoutes(_app: OpenAPIHono, _deps: AppDeps): void {}

import type { OpenAPIHono } from '@hono/zod-openapi';
import type { Client } from '@temporalio/client';
import type { Orm } from '../db/orm';
import type { Principal } from '../store/users';
import type { FailedAuthThrottle } from './throttle';

/**
 * What the app is built from, and the shape of its Hono context. Its own
 * module so route modules depend on it, never on app.ts (which imports
 * them): no import circle.
 */
export interface AppDeps {
  orm: Orm;
  temporal: Client;
  taskQueue: string;
  /** Signs every decision the API sends to a workflow; the workers' workflows verify it (domain/decision-signature). */
  decisionKey: Uint8Array;
  /** Failed-authentication throttle; a fresh default one when absent. (The Schemathesis run raises its limit: it probes every operation without credentials by design.) */
  authThrottle?: FailedAuthThrottle;
}

/** Context variables: `caller` is set by authenticate() for every non-public path. */
export interface AppEnv {
  Variables: { caller: Principal };
}

export type App = OpenAPIHono<AppEnv>;

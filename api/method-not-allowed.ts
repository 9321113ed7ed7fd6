import type { Context } from 'hono';
import { TrieRouter } from 'hono/router/trie-router';
import { Problem } from './problem';

/** The methods the API serves; anything else (TRACE, OPTIONS, CONNECT ...) is never served. */
const SERVED = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

interface RegisteredRoute {
  method: string;
  path: string;
}

/**
 * 405 instead of 404 for a path the API serves under another method
 * (RFC 9110 15.5.6): the answer names the methods it does take in `Allow`.
 * The routes are read from the app on first use, after every module
 * registered its own, so a new route is covered without being listed here.
 */
export function methodNotAllowed(routes: () => RegisteredRoute[]): (c: Context) => Problem | undefined {
  let router: TrieRouter<string> | undefined;
  const build = () => {
    const r = new TrieRouter<string>();
    for (const route of routes()) {
      // Middleware is registered for ALL methods; it serves nothing itself.
      if ((SERVED as readonly string[]).includes(route.method)) r.add(route.method, route.path, route.method);
    }
    return r;
  };
  return (c) => {
    router ??= build();
    const allowed = SERVED.filter((m) => router!.match(m, c.req.path)[0].length > 0);
    if (allowed.length === 0 || (allowed as string[]).includes(c.req.method)) return undefined;
    // HEAD is answered wherever GET is (Hono runs the GET handler without the body).
    const allow = allowed.includes('GET') ? [...allowed, 'HEAD'] : allowed;
    c.header('allow', allow.join(', '));
    return new Problem(405, 'method-not-allowed', 'Method not allowed', `${c.req.method} is not served at ${c.req.path}; it takes ${allow.join(', ')}`);
  };
}

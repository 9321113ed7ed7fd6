import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { App } from './deps';
import { Problem } from './problem';

/**
 * The web pages (web/): the manager app at /ui/ and the counting page at
 * /ui/count, plain ES modules served as they are, with their few libraries
 * from node_modules under /ui/vendor/. Nothing is built, so `npm ci && npm
 * start` serves them as checked in. The pages and their code are public;
 * every piece of data they show comes from the API with the bearer token the
 * user signs in with, so the pages can do nothing the token cannot.
 */
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const WEB = path.join(ROOT, 'web');

/** The libraries the pages import by bare name, resolved by the import map below. */
const VENDOR: Record<string, string> = {
  'preact.js': 'node_modules/preact/dist/preact.mjs',
  'preact-hooks.js': 'node_modules/preact/hooks/dist/hooks.mjs',
  'htm.js': 'node_modules/htm/dist/htm.mjs',
  'idb-keyval.js': 'node_modules/idb-keyval/dist/index.js',
};

const IMPORT_MAP = JSON.stringify({
  imports: {
    preact: '/ui/vendor/preact.js',
    'preact/hooks': '/ui/vendor/preact-hooks.js',
    htm: '/ui/vendor/htm.js',
    'idb-keyval': '/ui/vendor/idb-keyval.js',
  },
});

/** Same origin only; the one inline script (the import map) is allowed by its hash. */
const CSP = [
  "default-src 'self'",
  `script-src 'self' 'sha256-${createHash('sha256').update(IMPORT_MAP).digest('base64')}'`,
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.svg': 'image/svg+xml',
};

const PAGES: Record<string, string> = { '/ui/': 'manager.html', '/ui/count': 'count.html' };

const cache = new Map<string, string>();

function read(file: string): string {
  let text = cache.get(file);
  if (text === undefined) {
    text = fs.readFileSync(file, 'utf8');
    // Read once per process: the files change only with a new release.
    cache.set(file, text);
  }
  return text;
}

function headers(type: string): Record<string, string> {
  return {
    'content-type': type,
    'content-security-policy': CSP,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cache-control': 'no-cache',
  };
}

export function pageRoutes(app: App): void {
  app.get('/ui', (c) => c.redirect('/ui/', 301));
  for (const [route, file] of Object.entries(PAGES)) {
    app.get(route, (c) => {
      // The import map goes inline (browsers load no external one); the page names it with a placeholder.
      const html = read(path.join(WEB, file)).replace('<!--import-map-->', `<script type="importmap">${IMPORT_MAP}</script>`);
      return c.body(html, 200, headers(TYPES['.html']!));
    });
  }
  app.get('/ui/vendor/:file', (c) => {
    const file = VENDOR[c.req.param('file')];
    if (!file) throw new Problem(404, 'not-found', 'No such resource', `GET ${c.req.path}`);
    return c.body(read(path.join(ROOT, file)), 200, headers(TYPES['.js']!));
  });
  app.get('/ui/app/*', (c) => {
    const relative = c.req.path.slice('/ui/app/'.length);
    const type = TYPES[path.extname(relative)];
    const file = path.resolve(WEB, relative);
    // Only page code: no path out of web/, no other kinds of files.
    if (!type || !file.startsWith(WEB + path.sep) || !/^[a-z0-9/_-]+\.[a-z]+$/.test(relative) || !fs.existsSync(file)) {
      throw new Problem(404, 'not-found', 'No such resource', `GET ${c.req.path}`);
    }
    return c.body(read(file), 200, headers(type));
  });
}

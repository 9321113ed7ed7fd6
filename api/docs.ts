import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { App } from './deps';
import { Problem } from './problem';

/**
 * /docs: the interactive API reference, Swagger UI rendering /openapi.json.
 * Its files come from the installed swagger-ui-dist package and are served
 * from this origin (no CDN), so the page works offline and its
 * Content-Security-Policy can allow nothing but this origin. The page and
 * its assets are public; trying an operation needs a bearer token, entered
 * with Authorize, and sent only to this origin.
 */
const DIST = fileURLToPath(new URL('../node_modules/swagger-ui-dist/', import.meta.url));

/** The only files of the package the page loads. */
const ASSETS: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
};

// Everything from this origin; Swagger UI draws its icons from data: URIs (its styles it sets through the DOM, which the policy allows).
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Stocktake API reference</title>
<link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png">
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/assets/start.js"></script>
</body>
</html>
`;

/** The page's own script: a file, not inline, so the policy needs no exception for it. */
const START = `window.ui = SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  displayOperationId: true,
  displayRequestDuration: true,
  docExpansion: 'list',
  persistAuthorization: false,
  presets: [SwaggerUIBundle.presets.apis],
  layout: 'BaseLayout',
});
`;

const HEADERS = {
  'content-security-policy': CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

const files = new Map<string, Buffer>();
function asset(name: string): Buffer {
  let bytes = files.get(name);
  if (!bytes) {
    // Read once per process: the package changes only with a new install.
    bytes = fs.readFileSync(path.join(DIST, name));
    files.set(name, bytes);
  }
  return bytes;
}

export function docsRoutes(app: App): void {
  app.get('/docs', (c) => c.redirect('/docs/', 301));
  app.get('/docs/', (c) => c.body(PAGE, 200, { ...HEADERS, 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache' }));
  app.get('/docs/assets/start.js', (c) => c.body(START, 200, { ...HEADERS, 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-cache' }));
  app.get('/docs/assets/:file', (c) => {
    const name = c.req.param('file');
    const type = Object.hasOwn(ASSETS, name) ? ASSETS[name] : undefined;
    if (!type) throw new Problem(404, 'not-found', 'No such resource', `GET ${c.req.path}`);
    return c.body(new Uint8Array(asset(name)), 200, { ...HEADERS, 'content-type': type, 'cache-control': 'public, max-age=3600' });
  });
}

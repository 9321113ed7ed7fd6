import http from 'node:http';

/**
 * Real HTTP for the access tests, from a chosen loopback source address.
 * The API throttles failed authentications per client address, so requests
 * that are meant to fail authentication come from addresses of their own
 * (`freshLoopback()`) and never throttle the 127.0.0.1 the other requests
 * use. Bodies of any type (JSON, problem+json, CSV) come back as text and,
 * when JSON, parsed.
 */
export interface Answer {
  status: number;
  contentType: string | null;
  retryAfter: string | null;
  text: string;
  body: any;
}

export interface Call {
  method: string;
  path: string;
  /** Bearer token; none when null or undefined. */
  token?: string | null;
  body?: unknown;
  /** A body sent as it is, with its content type (CSV, JSON lines), instead of `body` as JSON. */
  raw?: { type: string; text: string };
  /** Source address (127.x.y.z); 127.0.0.1 by default. */
  from?: string;
  headers?: Record<string, string>;
}

export function call(baseUrl: string, c: Call): Promise<Answer> {
  const url = new URL(c.path, baseUrl);
  const payload = c.raw ? Buffer.from(c.raw.text, 'utf8') : c.body === undefined ? undefined : Buffer.from(JSON.stringify(c.body), 'utf8');
  const headers: Record<string, string> = {
    ...(payload ? { 'content-type': c.raw?.type ?? 'application/json', 'content-length': String(payload.length) } : {}),
    ...(c.token ? { authorization: `Bearer ${c.token}` } : {}),
    ...c.headers,
  };
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: url.hostname, port: Number(url.port), path: url.pathname + url.search, method: c.method, headers, localAddress: c.from ?? '127.0.0.1', agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const contentType = res.headers['content-type'] ?? null;
          let body: unknown = text;
          if (contentType?.includes('json') && text) {
            try {
              body = JSON.parse(text);
            } catch {
              // not JSON after all: keep the text
            }
          }
          const retryAfter = res.headers['retry-after'];
          resolve({ status: res.statusCode ?? 0, contentType, retryAfter: typeof retryAfter === 'string' ? retryAfter : null, text, body });
        });
      },
    );
    // A refusal may come before the body is read (403 on the role): the server closing early is its answer.
    req.on('error', reject);
    req.setTimeout(30_000, () => req.destroy(new Error(`no answer to ${c.method} ${c.path} within 30 s`)));
    req.end(payload);
  });
}

let used = 0;

/** A loopback address (127.1.x.y) no earlier call in this process got: a client address with no failed authentications yet. */
export function freshLoopback(): string {
  do used++;
  while ((used & 255) === 0 || (used & 255) === 255);
  return `127.1.${(used >> 8) & 255}.${used & 255}`;
}

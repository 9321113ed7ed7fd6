import net from 'node:net';
import { tokenOf } from './stack';

/**
 * One HTTP/1.1 request written byte for byte on a socket, for what fetch
 * refuses to send: header values with NUL or non-Latin-1 bytes, invalid
 * UTF-8 percent-escapes in a path. Answers as Stack.http does.
 */
export async function rawHttp(
  baseUrl: string,
  method: string,
  path: string,
  opts: { headerLines?: Buffer[]; body?: string; as?: string } = {},
): Promise<{ status: number; body: any; contentType: string | null; raw: string }> {
  const url = new URL(baseUrl);
  const body = Buffer.from(opts.body ?? '', 'utf8');
  const head = [
    `${method} ${path} HTTP/1.1`,
    `Host: ${url.host}`,
    `Authorization: Bearer ${tokenOf(opts.as ?? 'manager-1')}`,
    'Content-Type: application/json',
    `Content-Length: ${body.length}`,
    'Connection: close',
  ].join('\r\n');
  const request = Buffer.concat([
    Buffer.from(head + '\r\n', 'latin1'),
    ...(opts.headerLines ?? []).map((line) => Buffer.concat([line, Buffer.from('\r\n', 'latin1')])),
    Buffer.from('\r\n', 'latin1'),
    body,
  ]);
  const response = await new Promise<Buffer>((resolve, reject) => {
    const socket = net.connect({ host: url.hostname, port: Number(url.port) });
    const chunks: Buffer[] = [];
    socket.on('data', (c) => chunks.push(c));
    socket.on('end', () => resolve(Buffer.concat(chunks)));
    socket.on('error', reject);
    socket.setTimeout(15_000, () => socket.destroy(new Error('no answer within 15 s')));
    socket.write(request);
  });
  const split = response.indexOf('\r\n\r\n');
  const headerText = (split < 0 ? response : response.subarray(0, split)).toString('latin1');
  let payloadBytes = split < 0 ? Buffer.alloc(0) : response.subarray(split + 4);
  const [statusLine, ...headerLines] = headerText.split('\r\n');
  const headers = new Map(headerLines.map((l) => [l.slice(0, l.indexOf(':')).trim().toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
  if (headers.get('transfer-encoding')?.includes('chunked')) payloadBytes = dechunk(payloadBytes);
  const payload = payloadBytes.toString('utf8');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '')?.[1] ?? 0);
  let parsed: unknown = payload;
  try {
    parsed = payload ? JSON.parse(payload) : undefined;
  } catch {
    // not JSON: keep the text
  }
  return { status, body: parsed, contentType: headers.get('content-type') ?? null, raw: `${headerText}\r\n\r\n${payload}` };
}

function dechunk(b: Buffer): Buffer {
  const parts: Buffer[] = [];
  let rest = b;
  for (;;) {
    const eol = rest.indexOf('\r\n');
    if (eol < 0) break;
    const size = parseInt(rest.subarray(0, eol).toString('latin1'), 16);
    if (!size) break;
    parts.push(rest.subarray(eol + 2, eol + 2 + size));
    rest = rest.subarray(eol + 2 + size + 2);
  }
  return Buffer.concat(parts);
}

/**
 * The pages' only way to the data: the API, same origin, with the bearer
 * token the user signed in with (kept in sessionStorage, so it goes when the
 * tab closes). Every refusal comes back as a Problem whose title and detail
 * are shown to the user as they are.
 */
const TOKEN_KEY = 'stocktake.token';

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function signIn(value) {
  sessionStorage.setItem(TOKEN_KEY, value.trim());
}

export function signOut() {
  sessionStorage.removeItem(TOKEN_KEY);
}

/** An answer that is not a success: RFC 9457 problem details, or our own words when the network gave none. */
export class Problem extends Error {
  constructor(status, title, detail, extra = {}) {
    super(detail ? `${title}: ${detail}` : title);
    this.status = status;
    this.title = title;
    this.detail = detail;
    this.extra = extra;
  }

  /** No answer at all (offline, server down): worth sending again later. */
  get unreachable() {
    return this.status === 0;
  }
}

async function send(method, path, body, headers) {
  const all = { accept: 'application/json', ...headers };
  const t = token();
  if (t) all.authorization = `Bearer ${t}`;
  if (body !== undefined) all['content-type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, { method, headers: all, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new Problem(0, 'No connection', 'the server cannot be reached; check the network and try again');
  }
  if (res.ok) return res;
  let problem = {};
  try {
    problem = await res.json();
  } catch {
    // A proxy's HTML error page, say: the status is all there is.
  }
  // Beyond the standard members, a problem may name what is in the way (rows, a reconciliation).
  const extra = Object.fromEntries(Object.entries(problem).filter(([k]) => !['type', 'title', 'status', 'detail'].includes(k)));
  throw new Problem(res.status, problem.title || `The server answered ${res.status}`, problem.detail, extra);
}

export async function api(method, path, body, headers = {}) {
  const res = await send(method, path, body, headers);
  const text = await res.text();
  return text ? JSON.parse(text) : undefined;
}

/** A file the API serves (CSV), fetched with the token and handed to the browser as a download. */
export async function download(path, fallbackName) {
  const res = await send('GET', path, undefined, { accept: 'text/csv' });
  const name = /filename="([^"]+)"/.exec(res.headers.get('content-disposition') ?? '')?.[1] ?? fallbackName;
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  return name;
}

/** A fresh key for one decision: a repeat of the same click's request is then applied once. */
export function newKey() {
  // randomUUID needs a secure context; a handheld on plain http over the LAN has only getRandomValues.
  if (crypto.randomUUID) return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
}

export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

// Hop-by-hop header handling for the hand-written baseline proxy (RFC 9110 §7.6.1).
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

function connectionTokens(value: string | undefined): Set<string> | null {
  if (value === undefined) return null;
  let tokens: Set<string> | null = null;
  for (const raw of value.split(',')) {
    const t = raw.trim().toLowerCase();
    if (t === '' || t === 'close' || t === 'keep-alive') continue;
    (tokens ??= new Set()).add(t);
  }
  return tokens;
}

/**
 * Turns Node's rawHeaders ([name, value, name, value, ...], original case) into the flat
 * array undici accepts, dropping hop-by-hop headers and any header named in Connection.
 */
export function requestHeaders(raw: string[], connection: string | undefined): string[] {
  const extra = connectionTokens(connection);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || (extra !== null && extra.has(lower))) continue;
    out.push(name, raw[i + 1]!);
  }
  return out;
}

/** Copies an upstream response header object without its hop-by-hop headers. */
export function responseHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const conn = headers.connection;
  const extra = connectionTokens(Array.isArray(conn) ? conn.join(',') : conn);
  const out: OutgoingHttpHeaders = {};
  for (const name in headers) {
    if (HOP_BY_HOP.has(name) || (extra !== null && extra.has(name))) continue;
    const v = headers[name];
    if (v !== undefined) out[name] = v;
  }
  return out;
}

/** True when a request carries a body (framed by Content-Length > 0 or Transfer-Encoding). */
export function hasBody(headers: IncomingHttpHeaders): boolean {
  const cl = headers['content-length'];
  if (cl !== undefined) return cl !== '0';
  return headers['transfer-encoding'] !== undefined;
}

// The downstream request head as the gateway forwards it and filters see it: lower-case pairs without
// hop-by-hop headers, pseudo-headers in front, request id, X-Forwarded-* and Via added.
import type { IncomingMessage } from 'node:http';
import type { HeaderMap } from './header-map.ts';
import { removeFlat } from './header-map.ts';
import { connectionTokens, isHopByHop } from './hop-by-hop.ts';
import { newRequestId } from './request-id.ts';

export interface RequestHead {
  readonly method: string;
  /** Origin-form path with the query string, as received. */
  readonly path: string;
  readonly authority: string;
  readonly requestId: string;
  /** Whether a body follows, and whether it announces trailers (which need the trailer-capable path). */
  readonly body: 'none' | 'body' | 'trailers';
  /**
   * The status to answer when the head is unacceptable even though it parsed: 400 for no Host (HTTP/1.1)
   * or several, or a fragment in the target, 501 for a transfer coding other than chunked; 0 when fine.
   */
  readonly reject: 0 | 400 | 501;
}

/** Fills `headers` (empty on entry) from `req` and returns the request's routing facts. */
export function readRequestHead(req: IncomingMessage, headers: HeaderMap, via: string): RequestHead {
  const list = headers.list;
  const raw = req.rawHeaders;
  let authority = '';
  let connection: string | undefined;
  let requestId: string | undefined;
  let hasBody = false;
  let chunked = false;
  let hasTrailers = false;
  let reject: 0 | 400 | 501 = 0;
  let hosts = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const value = raw[i + 1]!;
    if (name === 'host') {
      if (hosts++ === 0) authority = value;
      continue;
    }
    if (isHopByHop(name)) {
      if (name === 'connection') connection = connection === undefined ? value : `${connection}, ${value}`;
      else if (name === 'transfer-encoding') {
        // as nginx and Envoy: chunked is the only transfer coding a request may have (a gzip coding under
        // it would be dropped with the header, and the body sent on still compressed)
        if (chunked || value.trim().toLowerCase() !== 'chunked') reject = 501;
        hasBody = chunked = true;
      }
      else if (name === 'trailer') hasTrailers = true;
      continue;
    }
    if (name === 'expect') continue; // 100-continue is answered by the server itself
    if (name === 'content-length') hasBody = value !== '0';
    if (name === 'x-request-id' && requestId === undefined && value !== '') requestId = value;
    list.push(name, value);
  }
  if (connection !== undefined) removeFlat(list, connectionTokens(connection));

  let path = req.url ?? '/';
  // a fragment is the client's own business and never part of a request target (RFC 9112 §3.2); a path
  // carrying one would miss exact and regex routes and reach the upstream as is: refused, as Envoy does
  if (path.includes('#')) reject ||= 400;
  if (path.charCodeAt(0) !== 47 /* / */ && path !== '*') {
    // absolute-form request target: its authority wins over Host (RFC 9112 §3.2.2)
    const m = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)([^#]*)/i.exec(path);
    if (m !== null) {
      authority = m[1]!;
      path = m[2] === '' ? '/' : m[2]![0] === '?' ? `/${m[2]}` : m[2]!;
    }
  }
  const method = req.method ?? 'GET';
  headers.pseudo.push(':method', method, ':scheme', 'http', ':authority', authority, ':path', path);

  if (requestId === undefined) {
    requestId = newRequestId();
    list.push('x-request-id', requestId);
  }
  const remote = req.socket.remoteAddress;
  if (remote !== undefined) headers.append('x-forwarded-for', remote);
  headers.append('x-forwarded-proto', 'http');
  if (authority !== '') headers.append('x-forwarded-host', authority);
  if (via !== '') headers.append('via', via);
  // several Host headers; or none on HTTP/1.1 without an absolute-form target (RFC 9112 §3.2)
  if (hosts > 1 || (hosts === 0 && authority === '' && req.httpVersion === '1.1')) reject ||= 400;
  // trailers can only follow a chunked body: a content-length request that names some has none, and must
  // never go upstream with both framings (the upstream could read the body as a second request)
  return { method, path, authority, requestId, body: hasBody ? (hasTrailers && chunked ? 'trailers' : 'body') : 'none', reject };
}

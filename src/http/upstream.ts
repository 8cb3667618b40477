// One undici Pool per upstream, with keep-alive, and the translation of undici's failures into the
// statuses a user expects: refused/unreachable 503, broken response 502, too slow 504.
import { Pool } from 'undici';
import type { ResolvedUpstream } from '../config/types.ts';
import { ErrorCodes, type ErrorCode } from '../errors.ts';

export interface Upstream {
  readonly name: string;
  /** Position in the config's `upstreams` (indexes the per-upstream counters). */
  readonly index: number;
  readonly config: ResolvedUpstream;
  readonly pool: Pool;
  /** Path of the upstream url ('' when "/"), prepended to every forwarded path. */
  readonly basePath: string;
  /** scheme://host:port of the upstream url. */
  readonly origin: string;
  /** host:port of the upstream url, used as Host when the route rewrites to the upstream's host. */
  readonly host: string;
  /** Deadline for the response headers: the smaller of timeout_ms and headers_timeout_ms. */
  readonly headersTimeoutMs: number;
}

export function createUpstream(config: ResolvedUpstream, index: number): Upstream {
  const url = new URL(config.url);
  const pool = new Pool(url.origin, {
    connections: config.connections,
    connect: { timeout: config.connect_timeout_ms },
    headersTimeout: config.headers_timeout_ms,
    bodyTimeout: config.body_timeout_ms,
    keepAliveTimeout: config.keep_alive_timeout_ms,
    keepAliveMaxTimeout: Math.max(config.keep_alive_timeout_ms, 600_000),
    pipelining: 1,
  });
  const basePath = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
  const headersTimeoutMs = Math.min(config.timeout_ms, config.headers_timeout_ms);
  return { name: config.name, index, config, pool, basePath, origin: url.origin, host: url.host, headersTimeoutMs };
}

export function createUpstreams(configs: Readonly<Record<string, ResolvedUpstream>>): Map<string, Upstream> {
  const map = new Map<string, Upstream>();
  Object.keys(configs).forEach((name, i) => map.set(name, createUpstream(configs[name]!, i)));
  return map;
}

export interface UpstreamFailure {
  readonly code: ErrorCode;
  /** Status for the downstream when the response has not started yet. */
  readonly status: 502 | 503 | 504;
  /** Short reason, safe to show to clients and to use as a metric label. */
  readonly reason: 'connect_failed' | 'connect_timeout' | 'timeout' | 'reset' | 'bad_response';
}

const CONNECT_FAILED: UpstreamFailure = { code: ErrorCodes.GW_ERR_UPSTREAM_CONNECT_FAILED, status: 503, reason: 'connect_failed' };
const CONNECT_TIMEOUT: UpstreamFailure = { code: ErrorCodes.GW_ERR_UPSTREAM_CONNECT_TIMEOUT, status: 503, reason: 'connect_timeout' };
const TIMEOUT: UpstreamFailure = { code: ErrorCodes.GW_ERR_UPSTREAM_TIMEOUT, status: 504, reason: 'timeout' };
// a connection reset before the response (a keep-alive connection the upstream closed as the request went
// out, a crash): 503, as Envoy answers "upstream connect error or disconnect/reset before headers"
const RESET: UpstreamFailure = { code: ErrorCodes.GW_ERR_UPSTREAM_RESET, status: 503, reason: 'reset' };
const BAD_RESPONSE: UpstreamFailure = { code: ErrorCodes.GW_ERR_UPSTREAM_BAD_RESPONSE, status: 502, reason: 'bad_response' };

const CONNECT_ERRNO = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL']);

/** Classifies an error from undici (UND_ERR_*, errno codes, llhttp HPE_*). */
export function classifyUpstreamError(err: unknown): UpstreamFailure {
  const e = err as { code?: unknown; name?: unknown } | null;
  if (e?.name === 'HTTPParserError') return BAD_RESPONSE;
  const code = e?.code;
  if (typeof code !== 'string') return RESET;
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return CONNECT_TIMEOUT;
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') return TIMEOUT;
  if (CONNECT_ERRNO.has(code)) return CONNECT_FAILED;
  if (code.startsWith('HPE_') || code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH' || code === 'UND_ERR_INFO') return BAD_RESPONSE;
  // undici's SocketError for an answer it cannot take: a response to no request, or a 100 Continue the
  // request did not ask for (undici sends no Expect; Envoy would drop the 100 and forward what follows)
  if (code === 'UND_ERR_SOCKET' && (err as Error).message === 'bad response') return BAD_RESPONSE;
  return RESET;
}

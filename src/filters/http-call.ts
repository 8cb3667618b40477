// proxy_http_call's client: a filter calls an upstream named in gateway.yaml (never an arbitrary URL),
// through that upstream's undici pool. The answer comes back asynchronously as Envoy's async client
// gives it: a response (refused/unreachable upstreams become a 503 response, a timeout a 504, as Envoy's
// router answers them), or a failure without a response ("reset": a broken connection, a response over
// the body limit).
import { classifyUpstreamError, type Upstream } from '../http/upstream.ts';

export type CallResult =
  | { readonly kind: 'response'; readonly headers: string[]; readonly body: Buffer; readonly trailers: string[] }
  | { readonly kind: 'failure'; readonly message: string };

export interface CallRequest {
  readonly upstream: Upstream;
  readonly method: string;
  readonly path: string;
  /** Regular headers (lower-case names, flat pairs), host included. */
  readonly headers: string[];
  readonly body: Buffer;
  /** 0 = the upstream's own timeouts. */
  readonly timeoutMs: number;
  /** Largest response body accepted; more is a failure. */
  readonly maxBodyBytes: number;
}

const CONNECT_FAILURE_BODY = 'upstream connect error or disconnect/reset before headers. reset reason: connection failure';

export function sendCall(req: CallRequest, done: (r: CallResult) => void): void {
  const ac = new AbortController();
  let finished = false;
  const finish = (r: CallResult): void => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    done(r);
  };
  const timeout = req.timeoutMs > 0 ? req.timeoutMs : req.upstream.config.timeout_ms;
  const timer = setTimeout(() => {
    ac.abort();
    finish(synthetic(504, 'upstream request timeout'));
  }, timeout);
  timer.unref();
  req.upstream.pool
    .request({
      method: req.method as 'GET',
      path: req.path,
      headers: req.headers,
      body: req.body.length > 0 || req.method === 'POST' || req.method === 'PUT' || req.method === 'PATCH' ? req.body : null,
      signal: ac.signal,
      headersTimeout: timeout,
      bodyTimeout: timeout,
    })
    .then(async (res) => {
      const headers: string[] = [':status', String(res.statusCode)];
      for (const [name, value] of Object.entries(res.headers)) {
        if (value === undefined) continue;
        if (Array.isArray(value)) for (const v of value) headers.push(name, v);
        else headers.push(name, value);
      }
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of res.body) {
        size += (chunk as Buffer).length;
        if (size > req.maxBodyBytes) {
          ac.abort();
          finish({ kind: 'failure', message: 'reset' });
          return;
        }
        chunks.push(chunk as Buffer);
      }
      const trailers: string[] = [];
      for (const [name, value] of Object.entries(res.trailers)) {
        if (typeof value === 'string') trailers.push(name, value);
      }
      finish({ kind: 'response', headers, body: Buffer.concat(chunks, size), trailers });
    })
    .catch((err: unknown) => {
      if (finished) return;
      const f = classifyUpstreamError(err);
      if (f.reason === 'connect_failed' || f.reason === 'connect_timeout') finish(synthetic(503, CONNECT_FAILURE_BODY));
      else if (f.reason === 'timeout') finish(synthetic(504, 'upstream request timeout'));
      else finish({ kind: 'failure', message: 'reset' });
    });
}

function synthetic(status: number, body: string): CallResult {
  const b = Buffer.from(body);
  return { kind: 'response', headers: [':status', String(status), 'content-length', String(b.length), 'content-type', 'text/plain'], body: b, trailers: [] };
}

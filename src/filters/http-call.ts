// proxy_http_call's client: a filter calls an upstream named in gateway.yaml (never an arbitrary URL),
// through that upstream's undici pool. The answer comes back asynchronously as Envoy's async client
// gives it: a response (refused/unreachable upstreams and resets before the response headers become a
// 503 response, a timeout a 504, as Envoy's router answers them), or a failure without a response
// ("reset": a connection broken after the response headers, a response over the body limit).
import type { Dispatcher } from 'undici';
import { rawPairs } from '../http/header-map.ts';
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
const RESET_BODY = 'upstream connect error or disconnect/reset before headers. reset reason: connection termination';

export function sendCall(req: CallRequest, done: (r: CallResult) => void): void {
  // a timer holds at most 2^31 - 1 ms (Node fires a longer one at once)
  const timeout = Math.min(req.timeoutMs > 0 ? req.timeoutMs : req.upstream.config.timeout_ms, 2 ** 31 - 1);
  const call = new Call(req.maxBodyBytes, done);
  call.timer = setTimeout(() => call.timedOut(), timeout);
  call.timer.unref();
  try {
    req.upstream.pool.dispatch(
      {
        method: req.method,
        path: req.path,
        headers: req.headers,
        body: req.body.length > 0 || req.method === 'POST' || req.method === 'PUT' || req.method === 'PATCH' ? req.body : null,
        headersTimeout: timeout,
        bodyTimeout: timeout,
      },
      call as unknown as Dispatcher.DispatchHandler,
    );
  } catch (err) {
    call.onError(err as Error);
  }
}

/**
 * One call as an undici dispatch handler (raw header Buffers, chunks as they come): no promise, stream
 * or header object per call, which is most of what a call costs at the gateway's rate.
 */
class Call {
  timer: NodeJS.Timeout | undefined = undefined;
  private finished = false;
  private abort: ((err?: Error) => void) | undefined = undefined;
  private headers: string[] = [];
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private readonly maxBodyBytes: number;
  private readonly done: (r: CallResult) => void;

  constructor(maxBodyBytes: number, done: (r: CallResult) => void) {
    this.maxBodyBytes = maxBodyBytes;
    this.done = done;
  }

  private finish(r: CallResult): void {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.timer);
    this.done(r);
  }

  timedOut(): void {
    if (this.finished) return;
    this.finish(synthetic(504, 'upstream request timeout'));
    this.abort?.();
  }

  onConnect(abort: (err?: Error) => void): void {
    this.abort = abort;
    if (this.finished) abort();
  }

  onHeaders(statusCode: number, raw: ReadonlyArray<Buffer | string>): boolean {
    if (statusCode < 200) return true;
    this.headers = rawPairs(raw, [':status', String(statusCode)]);
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.finished) return false;
    this.size += chunk.length;
    if (this.size > this.maxBodyBytes) {
      this.finish({ kind: 'failure', message: 'reset' });
      this.abort?.();
      return false;
    }
    this.chunks.push(chunk);
    return true;
  }

  onComplete(raw: ReadonlyArray<Buffer | string> | null): void {
    const trailers = raw === null ? [] : rawPairs(raw);
    const c = this.chunks;
    this.finish({ kind: 'response', headers: this.headers, body: c.length === 1 ? c[0]! : Buffer.concat(c, this.size), trailers });
  }

  onError(err: Error): void {
    if (this.finished) return;
    const f = classifyUpstreamError(err);
    if (f.reason === 'connect_failed' || f.reason === 'connect_timeout') this.finish(synthetic(503, CONNECT_FAILURE_BODY));
    else if (f.reason === 'timeout') this.finish(synthetic(504, 'upstream request timeout'));
    // before the response headers, Envoy's router answers a reset with a 503 local reply, which its async
    // client delivers as the response; after them, the call fails
    else if (this.headers.length === 0) this.finish(synthetic(503, RESET_BODY));
    else this.finish({ kind: 'failure', message: 'reset' });
  }
}


function synthetic(status: number, body: string): CallResult {
  const b = Buffer.from(body);
  return { kind: 'response', headers: [':status', String(status), 'content-length', String(b.length), 'content-type', 'text/plain'], body: b, trailers: [] };
}

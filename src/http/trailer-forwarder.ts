// Requests that announce trailers (`Trailer:` on a chunked request) cannot go through undici, which has no
// way to send request trailers over HTTP/1.1. They take this slower path: node:http with a keep-alive
// agent per upstream, driving the same handler callbacks as undici's dispatch does.
import http from 'node:http';
import type { Readable } from 'node:stream';
import type { Upstream } from './upstream.ts';

/** The part of the dispatch handler this forwarder drives (ProxyStream implements it). */
export interface ForwardHandler {
  onConnect(abort: (err?: Error) => void): void;
  onBodySent(chunk: Buffer | string): void;
  onHeaders(statusCode: number, raw: ReadonlyArray<Buffer | string>, resume: () => void, statusText: string): boolean;
  onData(chunk: Buffer): boolean;
  onComplete(trailers: ReadonlyArray<Buffer | string> | null): void;
  onError(err: Error): void;
}

/** Per upstream: a keep-alive agent and the address it connects to, made on first use. */
const targets = new WeakMap<Upstream, { agent: http.Agent; host: string; port: number }>();

/** The upstream is gone (no plane holds it any more): the trailer path's idle connections to it are closed. */
export function closeTrailerPath(upstream: Upstream): void {
  targets.get(upstream)?.agent.destroy();
  targets.delete(upstream);
}

export function forwardWithTrailers(
  handler: ForwardHandler,
  upstream: Upstream,
  body: Readable,
  method: string,
  path: string,
  headers: readonly string[],
  headersTimeoutMs: number,
  trailers: () => readonly string[],
): void {
  let target = targets.get(upstream);
  if (target === undefined) {
    const url = new URL(upstream.origin);
    target = {
      agent: new http.Agent({ keepAlive: true, maxSockets: upstream.config.connections }),
      host: url.hostname,
      port: url.port === '' ? 80 : Number(url.port),
    };
    targets.set(upstream, target);
  }
  const out = http.request({
    host: target.host,
    port: target.port,
    method,
    path,
    agent: target.agent,
    // chunked framing carries the trailers: a content-length must not go along (never both framings)
    headers: [...withoutContentLength(headers), 'transfer-encoding', 'chunked'],
  });
  let failed = false;
  const fail = (err: Error): void => {
    if (failed) return;
    failed = true;
    out.destroy();
    handler.onError(err);
  };
  handler.onConnect((err) => fail(err ?? new Error('aborted')));
  // as undici's timeouts: the response headers within headersTimeoutMs of the request sent whole, then
  // no gap longer than the upstream's body_timeout_ms between response body chunks
  let timer: NodeJS.Timeout | undefined;
  let responded = false;
  const bodyTimeoutMs = upstream.config.body_timeout_ms;
  const arm = (ms: number, message: string, code: string): void => {
    clearTimeout(timer);
    if (ms > 0 && !failed) timer = setTimeout(() => fail(Object.assign(new Error(message), { code })), ms);
  };
  out.on('finish', () => {
    if (!responded) arm(headersTimeoutMs, 'upstream headers timeout', 'UND_ERR_HEADERS_TIMEOUT');
  });
  out.on('error', (err) => fail(err));
  out.on('close', () => clearTimeout(timer));

  body.on('data', (chunk: Buffer) => {
    handler.onBodySent(chunk);
    if (!out.write(chunk)) {
      body.pause();
      out.once('drain', () => body.resume());
    }
  });
  body.on('end', () => {
    const t = trailers();
    if (t.length > 0) {
      const pairs: Array<[string, string]> = [];
      for (let i = 0; i < t.length; i += 2) pairs.push([t[i]!, t[i + 1]!]);
      out.addTrailers(pairs);
    }
    out.end();
  });

  out.on('response', (res) => {
    responded = true;
    const idle = (): void => arm(bodyTimeoutMs, 'upstream body timeout', 'UND_ERR_BODY_TIMEOUT');
    // paused for the client (backpressure) or a filter: no body is expected meanwhile
    const pause = (): void => {
      clearTimeout(timer);
      res.pause();
    };
    const resume = (): void => {
      idle();
      res.resume();
    };
    idle();
    if (!handler.onHeaders(res.statusCode ?? 502, res.rawHeaders, resume, res.statusMessage ?? '')) pause();
    res.on('data', (chunk: Buffer) => {
      idle();
      if (!handler.onData(chunk)) pause();
    });
    res.on('end', () => {
      clearTimeout(timer);
      if (!failed) handler.onComplete(res.rawTrailers);
    });
    res.on('error', (err) => fail(err));
  });
}

function withoutContentLength(headers: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) if (headers[i] !== 'content-length') out.push(headers[i]!, headers[i + 1]!);
  return out;
}

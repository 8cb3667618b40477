// One downstream request through a worker: headers into a HeaderMap (the view filters get), routing,
// then either a local answer or an upstream exchange through undici's `dispatch`, with this object as
// the dispatch handler writing straight to the downstream response (no intermediate streams, no
// per-request header objects). Bodies stream both ways with backpressure.
import { performance } from 'node:perf_hooks';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { HeaderMap, appendFlat, removeFlat } from './header-map.ts';
import { readRequestHead } from './request-head.ts';
import { connectionTokens, isHopByHop } from './hop-by-hop.ts';
import { LocalReplyBodies, sendLocalReply } from './local-reply.ts';
import { classifyUpstreamError, type Upstream } from './upstream.ts';
import { upstreamPath, type CompiledRoute } from './router.ts';
import { forwardWithTrailers, type ForwardHandler } from './trailer-forwarder.ts';
import type { DataPlane } from './data-plane.ts';

// undici's typings describe its wrapped handler API; at run time `dispatch` calls these raw legacy
// callbacks (rawHeaders and trailers as Buffers, onBodySent with the chunk), the cheapest path it has.
export class ProxyStream implements ForwardHandler {
  readonly plane: DataPlane;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly startedAt: number;
  requestId = '';
  readonly requestHeaders: HeaderMap;
  route: CompiledRoute | undefined = undefined;
  upstream: Upstream | undefined = undefined;
  status = 0;
  bytesIn = 0;
  bytesOut = 0;
  /** Why the exchange failed, when it did (upstream failure reason or "client_abort"). */
  failure = '';
  private finished = false;
  private abortUpstream: ((err: Error) => void) | undefined = undefined;

  constructor(plane: DataPlane, req: IncomingMessage, res: ServerResponse) {
    this.plane = plane;
    this.req = req;
    this.res = res;
    this.startedAt = performance.now();
    this.requestHeaders = new HeaderMap();
  }

  start(): void {
    const { req, res, plane } = this;
    plane.stats.active++;
    res.once('close', () => this.onDownstreamClose());

    const head = readRequestHead(req, this.requestHeaders, plane.via);
    const { method, path, authority } = head;
    this.requestId = head.requestId;
    if (head.invalid) {
      this.res.shouldKeepAlive = false;
      this.localReply(400, LocalReplyBodies[400]);
      return;
    }

    // Filters' request-headers phase goes here (it may rewrite :path/:authority/headers before routing).

    const route = plane.router.match(method, path, this.requestHeaders);
    this.route = route;
    if (route === undefined) {
      this.localReply(404, LocalReplyBodies[404]);
      return;
    }
    const direct = route.route.direct_response;
    if (direct !== undefined) {
      this.localReply(direct.status, direct.body, plane.directHeaders[route.index]);
      return;
    }
    this.forward(route, method, path, authority, head.body);
  }

  private forward(route: CompiledRoute, method: string, path: string, authority: string, body: 'none' | 'body' | 'trailers'): void {
    const { plane, req } = this;
    const r = route.route;
    const upstream = plane.routeUpstreams[route.index]!;
    this.upstream = upstream;

    path = upstreamPath(route, upstream.basePath, path);
    const list = this.requestHeaders.list;
    list.push('host', r.host_rewrite ?? (authority === '' ? upstream.host : authority));

    const headersTimeout = r.timeout_ms ?? upstream.headersTimeoutMs;
    if (body === 'trailers') {
      forwardWithTrailers(this, upstream, req, method, path, list, headersTimeout);
      return;
    }
    try {
      upstream.pool.dispatch(
        {
          path,
          method,
          headers: list,
          body: body === 'none' ? null : req,
          headersTimeout,
        },
        this as unknown as Dispatcher.DispatchHandler,
      );
    } catch (err) {
      this.onError(err as Error);
    }
  }

  // ---- undici dispatch handler (called by undici) ----

  onConnect(abort: (err?: Error) => void): void {
    if (this.finished) abort(new Error('downstream closed'));
    else this.abortUpstream = abort;
  }

  onBodySent(chunk: Buffer | string): void {
    this.bytesIn += chunk.length;
  }

  onHeaders(statusCode: number, raw: ReadonlyArray<Buffer | string>, resume: () => void, _statusText: string): boolean {
    if (statusCode < 200) return true; // 1xx informational responses are not forwarded
    if (this.finished) return false;
    // undici's resume, called whenever the downstream drains after a write that filled its buffer
    this.res.on('drain', resume);
    this.status = statusCode;
    const list: string[] = [];
    let connection: string | undefined;
    let hasRequestId = false;
    for (let i = 0; i < raw.length; i += 2) {
      const name = latin1(raw[i]!).toLowerCase();
      const value = latin1(raw[i + 1]!);
      if (isHopByHop(name)) {
        if (name === 'connection') connection = connection === undefined ? value : `${connection}, ${value}`;
        continue;
      }
      if (name === 'x-request-id') hasRequestId = true;
      list.push(name, value);
    }
    if (connection !== undefined) removeFlat(list, connectionTokens(connection));
    if (!hasRequestId) list.push('x-request-id', this.requestId);
    if (this.plane.via !== '') appendFlat(list, 'via', this.plane.via);
    // Filters' response-headers phase (reverse order) goes here.
    if (this.plane.draining) this.res.shouldKeepAlive = false;
    try {
      this.res.writeHead(statusCode, list);
    } catch {
      // a header Node refuses to write (invalid characters): the upstream response is unusable
      this.abortUpstream?.(new Error('invalid upstream header'));
      this.status = 0;
      this.upstreamFailed('bad_response', 502, LocalReplyBodies[502]);
      return false;
    }
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.bytesOut += chunk.length;
    return this.res.write(chunk);
  }

  onComplete(trailers: ReadonlyArray<Buffer | string> | null): void {
    if (this.finished) return;
    if (trailers !== null && trailers.length > 0) {
      const t: Record<string, string> = {};
      for (let i = 0; i < trailers.length; i += 2) t[latin1(trailers[i]!).toLowerCase()] = latin1(trailers[i + 1]!);
      try {
        this.res.addTrailers(t);
      } catch {
        // invalid trailer from upstream: dropped
      }
    }
    this.res.end();
    this.finish();
  }

  onError(err: Error): void {
    if (this.finished) return;
    if (this.res.destroyed || (this.req.destroyed && !this.req.complete)) {
      this.failure = 'client_abort';
      this.finish();
      return;
    }
    const f = classifyUpstreamError(err);
    if (this.upstream !== undefined) this.plane.stats.upstreamError(this.upstream.index, f.reason);
    this.plane.log.debug({ reqId: this.requestId, err, code: f.code }, 'upstream failure');
    if (this.res.headersSent) {
      // the response has started: all we can do is cut the downstream connection so the client sees it
      this.failure = f.reason;
      this.res.destroy();
      this.finish();
      return;
    }
    this.upstreamFailed(f.reason, f.status, LocalReplyBodies[f.status]);
  }

  // ---- helpers ----

  private upstreamFailed(reason: string, status: number, body: string): void {
    this.failure = reason;
    this.localReply(status, body);
  }

  private localReply(status: number, body: string, headers?: readonly string[]): void {
    if (this.plane.draining) this.res.shouldKeepAlive = false;
    this.status = status;
    this.bytesOut += sendLocalReply(this.res, status, body, this.requestId, headers);
    this.finish();
  }

  /** The downstream response closed: when that happens before the end, the client went away. */
  private onDownstreamClose(): void {
    if (this.finished) return;
    // the client went away before the response was complete: abort the upstream exchange
    this.failure = 'client_abort';
    this.plane.stats.clientAborts++;
    this.abortUpstream?.(new Error('client aborted'));
    this.finish();
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    const plane = this.plane;
    plane.stats.active--;
    const status = this.failure === 'client_abort' && this.status === 0 ? 499 : this.status;
    plane.stats.record(status, this.route?.index ?? -1, this.upstream?.index ?? -1, this.bytesIn, this.bytesOut);
    if (plane.accessLog !== undefined) plane.accessLog.write(this, status, performance.now() - this.startedAt);
  }
}

const latin1 = (v: Buffer | string): string => (typeof v === 'string' ? v : v.toString('latin1'));

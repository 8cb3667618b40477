// One downstream request through a worker: headers into a HeaderMap (the view filters get), routing,
// then either a local answer or an upstream exchange through undici's `dispatch`, with this object as
// the dispatch handler writing straight to the downstream response (no intermediate streams, no
// per-request header objects). Bodies stream both ways with backpressure.
import { performance } from 'node:perf_hooks';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Dispatcher } from 'undici';
import { HeaderMap, appendFlat, headerName, latin1, rawPairs, removeFlat } from './header-map.ts';
import { readRequestHead, type RequestHead } from './request-head.ts';
import { connectionTokens, isHopByHop } from './hop-by-hop.ts';
import { LINGER_MS, LocalReplyBodies, destroyWithin, sendLocalReply } from './local-reply.ts';
import { classifyUpstreamError, type Upstream } from './upstream.ts';
import { upstreamPath, type CompiledRoute } from './router.ts';
import { forwardWithTrailers, type ForwardHandler } from './trailer-forwarder.ts';
import type { DataPlane } from './data-plane.ts';
import { FilterRun, type Exchange } from '../filters/http-filters.ts';
import { streamProperty } from '../filters/properties.ts';
import { Readable } from 'node:stream';

const EMPTY = Buffer.alloc(0);
const NO_HEAD: RequestHead = { method: 'GET', path: '/', authority: '', requestId: '', body: 'none', reject: 0 };
/** The stream a downstream response belongs to (for listeners shared by every request). */
const STREAM = Symbol('wasmgate.stream');
type StreamResponse = ServerResponse & { [STREAM]?: ProxyStream };

// one listener function for every request (no closure per request): `this` is the response
function onResponseClose(this: StreamResponse): void {
  this[STREAM]?.downstreamClosed();
}
function onResponseDrain(this: StreamResponse): void {
  this[STREAM]?.resumed();
}

// undici's typings describe its wrapped handler API; at run time `dispatch` calls these raw legacy
// callbacks (rawHeaders and trailers as Buffers, onBodySent with the chunk), the cheapest path it has.
export class ProxyStream implements ForwardHandler, Exchange {
  readonly plane: DataPlane;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly startedAt: number;
  requestId = '';
  readonly requestHeaders: HeaderMap;
  route: CompiledRoute | undefined = undefined;
  /** The request head as it arrived (method, path and authority the route was matched with). */
  private head: RequestHead = NO_HEAD;
  upstream: Upstream | undefined = undefined;
  status = 0;
  bytesIn = 0;
  bytesOut = 0;
  /** Why the exchange failed, when it did (upstream failure reason or "client_abort"). */
  failure = '';
  private finished = false;
  private abortUpstream: ((err: Error) => void) | undefined = undefined;

  // ---- with filters (run is undefined on the no-filter fast path) ----
  run: FilterRun | undefined = undefined;
  requestTrailers: HeaderMap | undefined = undefined;
  responseHeaders: HeaderMap | undefined = undefined;
  responseTrailers: HeaderMap | undefined = undefined;
  responseDetails = '';
  requestHeadersSent = false;
  requestHeadersWritten = false;
  private state: Map<string, Buffer> | undefined = undefined;
  private bodyKind: 'none' | 'body' | 'trailers' = 'none';
  /** The upstream request was sent (dispatch called). */
  private dispatched = false;
  /** A filter's local reply or reset replaced the upstream exchange: ignore what it still reports. */
  private abandoned = false;
  /** Request body fed through the chain into the upstream request. */
  private upstreamBody: Readable | undefined = undefined;
  /** The response head waits for the first body bytes (body filters may still change its length). */
  private headPending = false;
  private headEos = false;
  private resumeUpstream: (() => void) | undefined = undefined;
  /** The 'drain' listener is on the response (added at the first write that filled its buffer). */
  private drainHooked = false;
  /** Response body bytes still expected by content-length (-1: unknown): the last chunk carries end_of_stream. */
  private responseRemaining = -1;
  /** end_of_stream went into the chain with the last response chunk. */
  private responseEosSent = false;
  private writeOk = true;
  /** The response head went out without a content-length (chunked framing: trailers possible). */
  private responseChunked = false;
  readonly receivedAt = Date.now();
  /** Monotonic ms when the stream ended (0 until then). */
  endedAt = 0;

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
    plane.active++;
    (res as StreamResponse)[STREAM] = this;
    res.on('close', onResponseClose);

    const head = readRequestHead(req, this.requestHeaders, plane.via);
    this.head = head;
    const { method, path, authority } = head;
    this.requestId = head.requestId;
    this.bodyKind = head.body;
    if (head.reject !== 0) {
      this.res.shouldKeepAlive = false;
      this.localReply(head.reject, LocalReplyBodies[head.reject]);
      return;
    }

    const route = plane.router.match(method, path, this.requestHeaders);
    this.route = route;
    const chain = plane.chainFor(route);
    if (chain !== undefined) {
      // the chain is the one of the route the request matched as it arrived; routing is decided again
      // once the request-headers phase is over, with the headers as the filters left them
      this.run = new FilterRun(this, chain);
      this.requestHeaders.measure(); // for the filters' header limit, while its strings are in the cache
      this.run.requestHeaders(head.body === 'none');
      return;
    }
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
      forwardWithTrailers(this, upstream, req, method, path, list, headersTimeout, () => rawPairs(req.rawTrailers));
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


  // ---- Exchange: what the filter chain calls ----

  get responseHeadersSent(): boolean {
    return this.res.headersSent;
  }

  get filterState(): Map<string, Buffer> {
    return (this.state ??= new Map());
  }

  get bodyBufferLimit(): number {
    return this.plane.config.server.max_buffer_bytes;
  }

  get connectionId(): number {
    return connectionIdOf(this.req.socket);
  }

  get nodeId(): string {
    return this.plane.nodeId;
  }

  property(path: readonly string[]): Buffer | undefined {
    return streamProperty(this, path);
  }

  /**
   * The downstream drained, or a filter continued the response: let undici read the upstream again,
   * unless a filter still holds the response.
   */
  resumed(): void {
    const resume = this.resumeUpstream;
    if (resume === undefined || this.finished) return;
    if (this.run === undefined || !this.run.responseHeld) resume();
  }

  requestHeadersDone(): void {
    const h = this.requestHeaders;
    const list = h.list;
    let { method, path, authority } = this.head;
    let route = this.route;
    if (this.requestHeadersWritten) {
      method = h.get(':method') ?? method;
      path = h.get(':path') ?? '/';
      // a Host header set by a filter wins over :authority; HTTP/1.1 sends one Host
      const host = h.get('host');
      if (host !== undefined) h.remove('host');
      authority = host ?? h.get(':authority') ?? '';
      // routing is decided again when what it depends on changed (headers no filter wrote still match
      // the route they matched as they arrived)
      if (this.plane.router.matchesHeaders || method !== this.head.method || path !== this.head.path) route = this.plane.router.match(method, path, h);
    }
    this.route = route;
    if (route === undefined) {
      this.localReply(404, LocalReplyBodies[404], undefined, 'route_not_found');
      return;
    }
    const direct = route.route.direct_response;
    if (direct !== undefined) {
      this.localReply(direct.status, direct.body, this.plane.directHeaders[route.index], 'direct_response');
      return;
    }
    const upstream = this.plane.routeUpstreams[route.index]!;
    this.upstream = upstream;
    list.push('host', route.route.host_rewrite ?? (authority === '' ? upstream.host : authority));
    this.requestHeadersSent = true;
    this.targetMethod = method;
    this.targetPath = upstreamPath(route, upstream.basePath, path);
    this.targetTimeout = route.route.timeout_ms ?? upstream.headersTimeoutMs;
    const run = this.run!;
    if (this.bodyKind === 'none') {
      this.dispatchFiltered(null);
    } else if (!run.chain.requestBody) {
      this.dispatchFiltered(this.req);
    } else {
      // the request body goes through the chain; the upstream request starts with the first bytes out
      const req = this.req;
      const length = this.bodyKind === 'body' ? this.req.headers['content-length'] : undefined;
      let remaining = contentLength(length);
      let eosSent = false;
      req.on('data', (chunk: Buffer) => {
        if (this.abandoned) return;
        // with a known length, the last chunk carries end_of_stream (as Envoy's HTTP/1 codec does)
        if (remaining > 0) {
          remaining -= chunk.length;
          eosSent = remaining <= 0;
        }
        run.requestData(chunk, eosSent);
      });
      req.on('end', () => {
        if (this.abandoned || eosSent) return;
        const t = req.rawTrailers;
        // trailers reach the filters when they came, announced with `Trailer:` or not (as Envoy's codec: a
        // request that announced some and sent none ends with its body); unannounced ones go upstream when
        // its request has not started yet (a filter held the body)
        if (t.length > 0) {
          if (!this.dispatched) this.bodyKind = 'trailers';
          this.requestTrailers = new HeaderMap([], rawPairs(t));
          run.requestTrailers();
        } else {
          run.requestData(EMPTY, true);
        }
      });
    }
  }

  // the upstream request the request-headers phase decided on (its upstream is this.upstream): fields,
  // not an object per request
  private targetMethod = '';
  private targetPath = '';
  private targetTimeout = 0;

  sendRequestData(chunk: Buffer, eos: boolean): void {
    if (!this.dispatched) {
      if (eos && this.requestTrailers !== undefined && this.requestTrailers.list.length > 0 && this.bodyKind !== 'trailers') {
        // a filter added trailers in the last body callback: the request goes out chunked with them
        this.bodyKind = 'trailers';
        this.requestHeaders.remove('content-length');
      }
      if (eos && this.bodyKind !== 'trailers') {
        // the whole body is known: send it with its exact length (filters may have changed it)
        this.requestHeaders.set('content-length', String(chunk.length));
        this.dispatchFiltered(chunk);
        return;
      }
      const req = this.req;
      this.upstreamBody = new Readable({ read: () => req.resume() });
      this.dispatchFiltered(this.upstreamBody);
    }
    const body = this.upstreamBody;
    if (body === undefined) return;
    if (chunk.length > 0 && !body.push(chunk)) this.req.pause();
    if (eos) {
      if (this.requestTrailers !== undefined && this.requestTrailers.list.length > 0 && this.bodyKind !== 'trailers') {
        this.plane.log.debug({ reqId: this.requestId }, 'request trailers added by a filter dropped: the upstream request had started without them');
      }
      body.push(null);
    }
  }

  sendRequestTrailers(): void {
    if (!this.dispatched) {
      this.upstreamBody = new Readable({ read: () => this.req.resume() });
      this.dispatchFiltered(this.upstreamBody);
    }
    this.upstreamBody?.push(null);
  }

  private dispatchFiltered(body: Buffer | Readable | null): void {
    const upstream = this.upstream!;
    this.dispatched = true;
    const list = this.requestHeaders.list;
    if (this.bodyKind === 'trailers') {
      const source = body instanceof Readable ? body : this.req;
      forwardWithTrailers(this, upstream, source, this.targetMethod, this.targetPath, list, this.targetTimeout, () => (this.requestTrailers === undefined ? rawPairs(this.req.rawTrailers) : this.requestTrailers.list));
      return;
    }
    try {
      upstream.pool.dispatch(
        { path: this.targetPath, method: this.targetMethod, headers: list, body, headersTimeout: this.targetTimeout },
        this as unknown as Dispatcher.DispatchHandler,
      );
    } catch (err) {
      this.onError(err as Error);
    }
  }

  responseHeadersDone(eos: boolean): void {
    if (this.finished) return;
    const noBody = eos || this.req.method === 'HEAD';
    if (!noBody && this.run!.chain.responseBody) {
      this.headPending = true; // written with the first bytes: body filters may change the length
      return;
    }
    if (!this.writeResponseHead()) return;
    if (eos) {
      this.res.end();
      this.finish();
    }
  }

  sendResponseData(chunk: Buffer, eos: boolean): void {
    if (this.finished) return;
    if (eos && this.responseTrailers !== undefined && this.responseTrailers.list.length > 0) {
      // a filter added trailers in the last body callback
      if (chunk.length > 0) {
        if (this.headPending) {
          this.headPending = false;
          this.responseHeaders!.remove('content-length'); // trailers need chunked framing
          if (!this.writeResponseHead()) return;
        }
        this.bytesOut += chunk.length;
        this.res.write(chunk);
      }
      this.sendResponseTrailers();
      return;
    }
    if (this.headPending) {
      this.headPending = false;
      if (eos && this.req.method !== 'HEAD') {
        const h = this.responseHeaders!;
        const st = h.get(':status');
        if (st !== '204' && st !== '304') h.set('content-length', String(chunk.length));
      }
      if (!this.writeResponseHead()) return;
    }
    if (chunk.length > 0) {
      this.bytesOut += chunk.length;
      this.writeOk = this.write(chunk);
    }
    if (eos) {
      this.res.end();
      this.finish();
    }
  }

  sendResponseTrailers(): void {
    if (this.finished) return;
    if (this.headPending) {
      this.headPending = false;
      this.responseHeaders!.remove('content-length'); // trailers need chunked framing
      if (!this.writeResponseHead()) return;
    }
    const t = this.responseTrailers;
    if (t !== undefined && t.list.length > 0) {
      if (!this.responseChunked) this.plane.log.debug({ reqId: this.requestId }, 'response trailers dropped: the response went out with a content-length');
      try {
        this.res.addTrailers(pairsOf(t.list));
      } catch {
        // a trailer Node refuses to write: dropped
      }
    }
    this.res.end();
    this.finish();
  }

  /** Writes the response head from responseHeaders (:status and the regular headers). */
  private writeResponseHead(): boolean {
    const h = this.responseHeaders!;
    const status = parseStatus(h.get(':status'));
    if (this.plane.draining) this.res.shouldKeepAlive = false;
    if (this.responseDetails !== 'via_upstream') this.closeIfRequestUnread();
    try {
      if (!Number.isInteger(status) || status < 200 || status > 999) throw new Error(`bad :status ${h.get(':status')}`);
      this.res.writeHead(status, h.list);
      this.status = status;
      this.responseChunked = !h.has('content-length');
      return true;
    } catch (err) {
      this.plane.log.warn({ reqId: this.requestId, err: (err as Error).message }, 'filters left an unusable response head');
      this.abandonUpstream();
      this.res.removeHeader('content-length');
      this.writeDirectReply(502, Buffer.from(LocalReplyBodies[502]), []);
      return false;
    }
  }

  abandonUpstream(): void {
    this.abandoned = true;
    this.upstreamBody?.destroy();
    this.abortUpstream?.(new Error('replaced by a local reply'));
    if (this.bodyPending) this.req.resume(); // drain what is left of the request body
  }

  writeDirectReply(status: number, body: Buffer, headers: readonly string[]): void {
    if (this.finished) return;
    if (this.res.headersSent) {
      this.reset('reply after the response started');
      return;
    }
    this.sendReply(status, body, headers);
  }

  reset(reason: string): void {
    if (this.finished) return;
    this.abandoned = true;
    this.failure = 'filter_reset';
    this.plane.log.debug({ reqId: this.requestId, reason }, 'stream reset by a filter');
    this.upstreamBody?.destroy();
    this.abortUpstream?.(new Error(reason));
    this.res.destroy();
    this.finish();
  }

  // ---- undici dispatch handler (called by undici) ----

  onConnect(abort: (err?: Error) => void): void {
    if (this.finished || this.abandoned) abort(new Error('downstream closed'));
    else this.abortUpstream = abort;
  }

  onBodySent(chunk: Buffer | string): void {
    this.bytesIn += chunk.length;
  }

  onHeaders(statusCode: number, raw: ReadonlyArray<Buffer | string>, resume: () => void, _statusText: string): boolean {
    if (statusCode < 200) return true; // 1xx informational responses are not forwarded
    if (this.finished || this.abandoned) return false;
    // undici's resume, called when the downstream drains after a write that filled its buffer
    this.resumeUpstream = resume;
    this.status = statusCode;
    const list: string[] = [];
    let connection: string | undefined;
    let hasRequestId = false;
    for (let i = 0; i < raw.length; i += 2) {
      const name = headerName(raw[i]!);
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
    const run = this.run;
    if (run !== undefined) {
      this.responseDetails = 'via_upstream';
      this.responseHeaders = new HeaderMap([':status', String(statusCode)], list);
      this.responseHeaders.measure();
      const length = this.responseHeaders.get('content-length');
      const eos = statusCode === 204 || statusCode === 304 || this.req.method === 'HEAD' || length === '0';
      this.headEos = eos;
      // as Envoy's HTTP/1 codec: with a known length, the last body chunk carries end_of_stream
      this.responseRemaining = eos ? -1 : contentLength(length);
      run.responseHeaders(eos);
      return !this.finished && !this.abandoned && !run.responseHeld;
    }
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
    const run = this.run;
    if (run !== undefined) {
      if (this.finished || this.abandoned) return false;
      this.writeOk = true;
      let eos = false;
      if (this.responseRemaining > 0) {
        this.responseRemaining -= chunk.length;
        eos = this.responseRemaining <= 0;
        this.responseEosSent = eos;
      }
      run.responseData(chunk, eos);
      return this.writeOk && !run.responseHeld;
    }
    this.bytesOut += chunk.length;
    return this.write(chunk);
  }

  /** Writes response bytes; false when the response's buffer is full (undici pauses until 'drain'). */
  private write(chunk: Buffer): boolean {
    if (this.res.write(chunk)) return true;
    if (!this.drainHooked) {
      this.drainHooked = true;
      this.res.on('drain', onResponseDrain);
    }
    return false;
  }


  onComplete(trailers: ReadonlyArray<Buffer | string> | null): void {
    if (this.finished || this.abandoned) return;
    const run = this.run;
    if (run !== undefined) {
      if (trailers !== null && trailers.length > 0) {
        this.responseTrailers = new HeaderMap([], rawPairs(trailers));
        run.responseTrailers();
      } else if (!this.headEos && !this.responseEosSent) {
        run.responseData(EMPTY, true);
      }
      return;
    }
    if (trailers !== null && trailers.length > 0) {
      const t: Record<string, string> = {};
      for (let i = 0; i < trailers.length; i += 2) t[headerName(trailers[i]!)] = latin1(trailers[i + 1]!);
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
    if (this.finished || this.abandoned) return;
    if (this.res.destroyed || (this.bodyPending && this.req.destroyed)) {
      this.failure = 'client_abort';
      this.finish();
      return;
    }
    if (this.res.headersSent && (this.status === 204 || this.status === 304) && (err as { code?: string }).code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH') {
      // a 204/304 may carry a content-length (of the representation) and never a body; undici, which
      // excuses only HEAD, reports the missing body as a mismatch: the response is complete
      this.res.end();
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
    this.localReply(status, body, undefined, `upstream_${reason}`);
  }

  private localReply(status: number, body: string, headers?: readonly string[], details = 'local_reply'): void {
    if (this.run !== undefined) {
      // the gateway's own replies go through the filters' response phases too
      this.run.gatewayReply(status, body, headers ?? [], details);
      return;
    }
    this.sendReply(status, body, headers);
  }

  /** Writes a whole reply of the gateway's or a filter's straight to the client, and ends the stream. */
  private sendReply(status: number, body: string | Buffer, headers: readonly string[] | undefined): void {
    if (this.plane.draining) this.res.shouldKeepAlive = false;
    this.closeIfRequestUnread();
    this.status = status;
    this.bytesOut += sendLocalReply(this.res, status, body, this.requestId, headers);
    this.finish();
  }

  /**
   * A reply that answers a request whose body has not arrived whole ends the connection, as Envoy and
   * nginx do: `connection: close`, and a lingering close (see lingeringClose) so that the rest of the body
   * the client is still sending is read and dropped instead of being answered with a reset.
   */
  private closeIfRequestUnread(): void {
    if (!this.bodyPending) return;
    this.res.shouldKeepAlive = false;
    (this.req.socket as Socket).destroySoon = lingeringClose;
  }

  /**
   * The request body has not all arrived. A request without a body is complete once its head is read,
   * before Node marks it so; and it starts ended and destroyed (optimizeEmptyRequests in server.ts), which
   * must not read as a client that left.
   */
  private get bodyPending(): boolean {
    return this.bodyKind !== 'none' && !this.req.complete;
  }

  /** The downstream response closed: when that happens before the end, the client went away. */
  downstreamClosed(): void {
    if (this.finished) return;
    // the client went away before the response was complete: abort the upstream exchange
    this.failure = 'client_abort';
    this.plane.stats.clientAborts++;
    this.abandoned = true;
    this.upstreamBody?.destroy();
    this.abortUpstream?.(new Error('client aborted'));
    this.finish();
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    const plane = this.plane;
    this.endedAt = performance.now();
    // on_log, on_done, on_delete of every filter context (also after an abort or a failure)
    this.run?.finish();
    plane.stats.active--;
    const status = this.failure === 'client_abort' && this.status === 0 ? 499 : this.status;
    plane.stats.record(status, this.route === undefined ? -1 : plane.routeStat[this.route.index]!, this.upstream?.index ?? -1, this.bytesIn, this.bytesOut);
    if (plane.accessLog !== undefined) plane.accessLog.write(this, status, this.endedAt - this.startedAt);
    plane.release();
  }
}

/**
 * Replaces Node's `socket.destroySoon()` (called once a `connection: close` response is written) on the
 * connection of a reply sent before its request body arrived: closing a socket with unread bytes makes
 * the kernel send a reset, which can destroy the reply before the client reads it. So the reply is
 * followed by a FIN, what the client still sends is read and dropped, and the socket is closed when the
 * client closes its side or after LINGER_MS.
 */
function lingeringClose(this: Socket): void {
  if (this.writable) this.end();
  destroyWithin(this, LINGER_MS);
  // the client closed its side: nothing more to read; close once the reply has left (a reply still
  // queued in the socket would be lost to an early destroy)
  this.once('end', () => (this.writableFinished ? this.destroy() : this.once('finish', () => this.destroy())));
  this.resume();
}

function pairsOf(list: readonly string[]): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i < list.length; i += 2) out.push([list[i]!, list[i + 1]!]);
  return out;
}

let nextConnectionId = 1;
const connectionIds = new WeakMap<object, number>();
function connectionIdOf(socket: object): number {
  let id = connectionIds.get(socket);
  if (id === undefined) {
    id = nextConnectionId++;
    connectionIds.set(socket, id);
  }
  return id;
}

/** A :status value as a number (three digits), or NaN. */
function parseStatus(value: string | undefined): number {
  if (value === undefined || value.length !== 3) return Number.NaN;
  const a = value.charCodeAt(0) - 48;
  const b = value.charCodeAt(1) - 48;
  const c = value.charCodeAt(2) - 48;
  if (a < 0 || a > 9 || b < 0 || b > 9 || c < 0 || c > 9) return Number.NaN;
  return a * 100 + b * 10 + c;
}

/** A content-length value as a number of bytes, or -1 when absent or not a plain decimal. */
function contentLength(value: string | undefined): number {
  if (value === undefined || value.length === 0 || value.length > 15) return -1;
  let n = 0;
  for (let i = 0; i < value.length; i++) {
    const d = value.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

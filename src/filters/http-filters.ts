// The filter chain of one HTTP stream: each filter's stream context, and the runner that moves headers,
// body chunks and trailers through the chain as Envoy does — request phases in chain order, response
// phases in reverse — with Continue, Pause (until proxy_continue_stream), body buffering
// (StopIterationAndBuffer, up to a limit), local replies and the fail policy. The stream it serves (the
// Exchange: ProxyStream) provides the header maps and the sinks at both ends.
import { HeaderMapType, StreamType, WasmResult, BufferType } from '../wasm/abi/constants.ts';
import { TRAPPED, type FilterVm, type StreamContext } from '../wasm/vm.ts';
import { HeaderMap } from '../http/header-map.ts';
import { BodyBuffer } from '../http/body-buffer.ts';
import { localReplyHeaders } from '../http/local-reply.ts';
import type { FilterChain, Plugin } from './plugin.ts';
import { Callback } from './filter-cost.ts';

/** The HTTP stream a chain runs on. */
export interface Exchange {
  readonly requestHeaders: HeaderMap;
  requestTrailers: HeaderMap | undefined;
  responseHeaders: HeaderMap | undefined;
  responseTrailers: HeaderMap | undefined;
  /** Response code details (Envoy's): "via_upstream", a filter's local-reply details, ... */
  responseDetails: string;
  /** Trailers can still be added to the response (head not written, or written with chunked framing). */
  readonly responseTrailersPossible: boolean;
  /** The request headers went upstream: they can no longer change. */
  readonly requestHeadersSent: boolean;
  /** The upstream request has started (its framing is decided): trailers can no longer be added. */
  readonly requestBodyStarted: boolean;
  /** The response headers went to the client: they can no longer change, nor can a reply replace them. */
  readonly responseHeadersSent: boolean;
  /** The request-headers phase is over: route and forward (or answer) with the headers as filters left them. */
  requestHeadersDone(): void;
  sendRequestData(chunk: Buffer, eos: boolean): void;
  sendRequestTrailers(): void;
  /** The response-headers phase is over: the response head may be written. */
  responseHeadersDone(eos: boolean): void;
  sendResponseData(chunk: Buffer, eos: boolean): void;
  sendResponseTrailers(): void;
  /** A local reply replaces the upstream exchange: abort it and stop reading the request body. */
  abandonUpstream(): void;
  /** Writes a reply straight to the client, bypassing filters (when response filters already ran). */
  writeDirectReply(status: number, body: Buffer, headers: readonly string[]): void;
  /** Cuts the stream: no response (or the rest of it) reaches the client. */
  reset(reason: string): void;
  /** Envoy attributes of the stream (request.*, response.*, source.*, ...). */
  property(path: readonly string[]): Buffer | undefined;
  /** Values filters stored with proxy_set_property. */
  readonly filterState: Map<string, Buffer>;
  /** The request's id (x-request-id). */
  readonly requestId: string;
  /** Body bytes a filter may hold before the stream is answered 413 (request) or 500 (response). */
  readonly bodyBufferLimit: number;
  /** A filter continued a direction: response data may flow again. */
  resumed(): void;
}

const REQ = 0;
const RESP = 1;
type Kind = typeof REQ | typeof RESP;

// what a filter is waiting on (for proxy_continue_stream)
const W_NONE = 0;
const W_HEADERS = 1;
const W_BODY = 2;
const W_TRAILERS = 3;

// outcome of one callback, for the runner
const CONTINUE = 0;
const STOP = 1;
const ABORTED = -1; // the stream was answered, reset or failed: this direction goes no further

class DirState {
  headersDone = false;
  waiting = W_NONE;
  held: BodyBuffer | undefined = undefined;
  heldEos = false;
  trailersPending = false;
  /** A body callback has run: the held body is visible to the filter. */
  bodySeen = false;
  /** proxy_continue_stream was called during this filter's own callback. */
  continueAsked = false;

  hold(chunk: Buffer, eos: boolean): BodyBuffer {
    const held = (this.held ??= new BodyBuffer());
    held.push(chunk);
    if (eos) this.heldEos = true;
    return held;
  }

  take(): Buffer {
    return this.held === undefined ? EMPTY : this.held.take();
  }
}

const EMPTY = Buffer.alloc(0);

/** One filter's stream context on one request. */
export class FilterContext implements StreamContext {
  readonly run: FilterRun;
  readonly plugin: Plugin;
  /** Position in the chain (request order). */
  readonly index: number;
  id = 0;
  vmSlot = -1;
  vm: FilterVm | undefined = undefined;
  created = false;
  /** The filter is out of this stream: it failed open, or its VM could not be had. */
  skipped = false;
  readonly dirs: readonly [DirState, DirState] = [new DirState(), new DirState()];

  get requestId(): string {
    return this.run.exchange.requestId;
  }

  constructor(run: FilterRun, plugin: Plugin, index: number) {
    this.run = run;
    this.plugin = plugin;
    this.index = index;
  }

  // ---- StreamHost: what the host calls of this context do ----

  headerMap(type: number, forWrite: boolean): HeaderMap | WasmResult {
    const ex = this.run.exchange;
    switch (type) {
      case HeaderMapType.RequestHeaders:
        if (forWrite && ex.requestHeadersSent) return WasmResult.BadArgument;
        return ex.requestHeaders;
      case HeaderMapType.RequestTrailers:
        if (ex.requestTrailers === undefined) {
          // trailers can be added from the last body callback of a request that had none
          if (forWrite && this.run.inBodyEos === this.dirs[REQ] && !ex.requestBodyStarted) return (ex.requestTrailers = new HeaderMap());
          return WasmResult.BadArgument;
        }
        if (forWrite && this.run.requestTrailersSent) return WasmResult.BadArgument;
        return ex.requestTrailers;
      case HeaderMapType.ResponseHeaders:
        if (ex.responseHeaders === undefined) return WasmResult.BadArgument;
        if (forWrite && ex.responseHeadersSent) return WasmResult.BadArgument;
        return ex.responseHeaders;
      case HeaderMapType.ResponseTrailers:
        if (ex.responseTrailers === undefined) {
          // only while the response head can still switch to chunked framing
          if (forWrite && this.run.inBodyEos === this.dirs[RESP] && ex.responseTrailersPossible) return (ex.responseTrailers = new HeaderMap());
          return WasmResult.BadArgument;
        }
        if (forWrite && this.run.responseTrailersSent) return WasmResult.BadArgument;
        return ex.responseTrailers;
      default:
        return WasmResult.BadArgument; // gRPC metadata and call-response maps do not exist on an HTTP stream
    }
  }

  body(type: number): BodyBuffer | undefined {
    const s = type === BufferType.HttpRequestBody ? this.dirs[REQ] : type === BufferType.HttpResponseBody ? this.dirs[RESP] : undefined;
    if (s === undefined || !s.bodySeen) return undefined;
    return (s.held ??= new BodyBuffer());
  }

  bodyWritable(type: number): boolean {
    return this.body(type) !== undefined;
  }

  /** Twice the buffer limit: room to rewrite a body held at the limit, and a bound on a filter appending in a loop. */
  get bodyLimit(): number {
    return 2 * this.run.exchange.bodyBufferLimit;
  }

  sendLocalResponse(status: number, details: string, body: Buffer, headers: string[], grpcStatus: number): WasmResult {
    if (grpcStatus >= 0 && grpcStatus <= 16 && isGrpc(this.run.exchange.requestHeaders)) {
      // as Envoy answers a gRPC request: 200, a trailers-only response carrying grpc-status and the body
      // as grpc-message
      headers.push('content-type', 'application/grpc', 'grpc-status', String(grpcStatus));
      if (body.length > 0) headers.push('grpc-message', encodeURIComponent(body.toString('utf8')));
      status = 200;
      body = EMPTY;
    }
    const reply = { status, details, body, headers, from: this.index };
    // the first local reply asked in a callback is the one sent, as Envoy runs them in order and the
    // first one ends the stream
    if (this.run.calling === this) this.run.pendingReply ??= reply;
    else this.vm?.defer(() => this.run.reply(reply));
    return WasmResult.Ok;
  }

  continueStream(type: number): WasmResult {
    const kind: Kind = type === StreamType.HttpRequest ? REQ : RESP;
    if (type !== StreamType.HttpRequest && type !== StreamType.HttpResponse) return WasmResult.Ok; // no TCP here
    if (this.run.calling === this) this.dirs[kind].continueAsked = true;
    else this.vm?.defer(() => this.run.resume(this, kind));
    return WasmResult.Ok;
  }

  closeStream(type: number): WasmResult {
    void type;
    this.vm?.defer(() => this.run.reset('filter closed the stream'));
    if (this.run.calling === this) this.run.pendingReset = true;
    return WasmResult.Ok;
  }

  property(path: readonly string[]): Buffer | undefined {
    const ex = this.run.exchange;
    return ex.property(path) ?? ex.filterState.get(path.join('.'));
  }

  setProperty(path: string, value: Buffer): WasmResult {
    this.run.exchange.filterState.set(path.replaceAll('\0', '.'), value);
    return WasmResult.Ok;
  }
}

interface Reply {
  readonly status: number;
  readonly details: string;
  readonly body: Buffer;
  readonly headers: readonly string[];
  /** Index of the filter that sent it: the response goes through it and the filters before it. */
  readonly from: number;
}

/**
 * One direction of the stream: the first `length` contexts of the chain, in chain order for the request
 * and in reverse for the response (a view: no array per direction and stream).
 */
class Direction {
  readonly kind: Kind;
  readonly length: number;
  private readonly contexts: readonly FilterContext[];
  headersEos = false;
  ended = false;
  constructor(kind: Kind, contexts: readonly FilterContext[], length: number) {
    this.kind = kind;
    this.contexts = contexts;
    this.length = length;
  }

  /** The context at position i of this direction's order. */
  at(i: number): FilterContext {
    return this.contexts[this.kind === REQ ? i : this.length - 1 - i]!;
  }

  /** The position of c in this direction's order, or -1. */
  indexOf(c: FilterContext): number {
    const i = this.kind === REQ ? c.index : this.length - 1 - c.index;
    return i >= 0 && i < this.length && this.at(i) === c ? i : -1;
  }
}

export class FilterRun {
  readonly exchange: Exchange;
  readonly chain: FilterChain;
  readonly contexts: readonly FilterContext[];
  private readonly req: Direction;
  private resp: Direction | undefined = undefined;
  /** The context whose callback runs now (its own continue/reply/reset are handled when it returns). */
  calling: FilterContext | undefined = undefined;
  /** The direction state of a body callback running with end_of_stream (trailers may be added then). */
  inBodyEos: DirState | undefined = undefined;
  pendingReply: Reply | undefined = undefined;
  pendingReset = false;
  requestTrailersSent = false;
  responseTrailersSent = false;
  private finished = false;
  /** The stream was answered or reset by a filter (or the gateway): no more request/response phases. */
  private answered = false;

  constructor(exchange: Exchange, chain: FilterChain) {
    this.exchange = exchange;
    this.chain = chain;
    const plugins = chain.plugins;
    const contexts = new Array<FilterContext>(plugins.length);
    for (let i = 0; i < plugins.length; i++) contexts[i] = new FilterContext(this, plugins[i]!, i);
    this.contexts = contexts;
    this.req = new Direction(REQ, contexts, contexts.length);
  }

  // ---- the stream drives these ----

  requestHeaders(eos: boolean): void {
    this.req.headersEos = eos;
    this.runHeaders(this.req, 0);
  }

  requestData(chunk: Buffer, eos: boolean): void {
    this.deliver(this.req, 0, chunk, eos);
  }

  requestTrailers(): void {
    this.deliverTrailers(this.req, 0);
  }

  /** The upstream response headers are in exchange.responseHeaders. */
  responseHeaders(eos: boolean): void {
    const d = new Direction(RESP, this.contexts, this.contexts.length);
    this.resp = d;
    d.headersEos = eos;
    this.runHeaders(d, 0);
  }

  responseData(chunk: Buffer, eos: boolean): void {
    if (this.resp !== undefined) this.deliver(this.resp, 0, chunk, eos);
  }

  responseTrailers(): void {
    if (this.resp !== undefined) this.deliverTrailers(this.resp, 0);
  }

  /** True when response data is held in the chain (waiting on a filter), not flowing to the client. */
  get responseHeld(): boolean {
    const d = this.resp;
    if (d === undefined) return false;
    for (let i = 0; i < d.length; i++) if (d.at(i).dirs[RESP].waiting !== W_NONE) return true;
    return false;
  }

  /**
   * A reply made by the gateway (no route, direct_response, upstream failure): it goes through every
   * filter's response phases, as Envoy's router replies do.
   */
  gatewayReply(status: number, body: string, headers: readonly string[], details: string): void {
    this.reply({ status, details, body: Buffer.from(body), headers, from: this.contexts.length - 1 });
  }

  /** The stream ended (completed, failed or aborted): on_log, on_done, on_delete for every context. */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.answered = true;
    this.req.ended = true;
    if (this.resp !== undefined) this.resp.ended = true;
    for (const c of this.contexts) {
      if (c.skipped && !c.created) continue;
      if (!c.created && !this.create(c)) continue;
      const vm = c.vm!;
      const cb = vm.callbacks;
      if (cb.onLog !== undefined) vm.call(Callback.Log, cb.onLog, c, 0, 0, 0);
      if (cb.onDone !== undefined) vm.call(Callback.Done, cb.onDone, c, 0, 0, 0);
      if (cb.onDelete !== undefined) vm.call(Callback.Delete, cb.onDelete, c, 0, 0, 0);
      vm.removeStream(c);
    }
  }

  // ---- host-call actions (deferred until the callback returns) ----

  reply(r: Reply): void {
    if (this.finished || this.answered) return;
    const ex = this.exchange;
    this.answered = true;
    this.req.ended = true;
    if (ex.responseHeadersSent) {
      ex.reset('local reply after the response started');
      return;
    }
    ex.abandonUpstream();
    ex.responseDetails = r.details;
    if (this.resp !== undefined) {
      // the response phases already ran on a response: the reply goes straight out (Envoy's direct reply)
      this.resp.ended = true;
      ex.writeDirectReply(r.status, r.body, r.headers);
      return;
    }
    ex.responseHeaders = new HeaderMap([':status', String(r.status)], localReplyHeaders(r.status, r.body.length, ex.requestId, r.headers));
    ex.responseTrailers = undefined;
    const d = new Direction(RESP, this.contexts, r.from + 1);
    this.resp = d;
    const eos = r.body.length === 0;
    d.headersEos = eos;
    this.answered = false; // the reply's own response phases run
    this.runHeaders(d, 0);
    if (!eos && !d.ended) this.deliver(d, 0, r.body, true);
    this.answered = true;
  }

  reset(reason: string): void {
    if (this.finished) return;
    this.answered = true;
    this.req.ended = true;
    if (this.resp !== undefined) this.resp.ended = true;
    this.exchange.reset(reason);
  }

  /** proxy_continue_stream for `c` in direction `kind`. */
  resume(c: FilterContext, kind: Kind): void {
    this.continueDirection(c, kind);
    if (!this.finished) this.exchange.resumed();
  }

  private continueDirection(c: FilterContext, kind: Kind): void {
    const d = kind === REQ ? this.req : this.resp;
    if (d === undefined || d.ended || this.finished) return;
    const i = d.indexOf(c);
    if (i < 0) return;
    const s = c.dirs[kind];
    const w = s.waiting;
    s.waiting = W_NONE;
    switch (w) {
      case W_HEADERS: {
        s.headersDone = true;
        this.runHeaders(d, i + 1);
        // what arrived while paused goes to this filter's own body callback first
        if (!d.ended && ((s.held !== undefined && s.held.length > 0) || s.heldEos)) {
          const eos = s.heldEos;
          s.heldEos = false;
          this.deliver(d, i, s.take(), eos);
        }
        if (!d.ended && s.trailersPending && s.waiting === W_NONE) {
          s.trailersPending = false;
          this.deliverTrailers(d, i);
        }
        return;
      }
      case W_BODY:
        s.heldEos = false;
        this.deliver(d, i + 1, s.take(), true);
        return;
      case W_TRAILERS:
        if (s.held !== undefined && s.held.length > 0) this.deliver(d, i + 1, s.take(), false);
        if (!d.ended) this.deliverTrailers(d, i + 1);
        return;
      default:
        // buffering mid-body: release what is held
        if (s.headersDone && s.held !== undefined && s.held.length > 0) this.deliver(d, i + 1, s.take(), false);
    }
  }

  // ---- the runner ----

  private runHeaders(d: Direction, from: number): void {
    for (let i = from; i < d.length; i++) {
      const c = d.at(i);
      const s = c.dirs[d.kind];
      if (!c.skipped) {
        const r = this.callHeaders(d, c);
        if (r === ABORTED) return;
        if (r === STOP && !c.skipped) {
          s.waiting = W_HEADERS;
          return;
        }
      }
      s.headersDone = true;
    }
    if (d.ended) return;
    if (d.kind === REQ) this.exchange.requestHeadersDone();
    else this.exchange.responseHeadersDone(d.headersEos);
  }

  private deliver(d: Direction, from: number, chunk: Buffer, eos: boolean): void {
    const kind = d.kind;
    for (let i = from; ; i++) {
      if (d.ended) return;
      if (i === d.length) {
        if (kind === REQ) this.exchange.sendRequestData(chunk, eos);
        else this.exchange.sendResponseData(chunk, eos);
        return;
      }
      const c = d.at(i);
      if (c.skipped) continue;
      const s = c.dirs[kind];
      if (!s.headersDone || s.waiting !== W_NONE) {
        this.checkLimit(d, c, s.hold(chunk, eos).length);
        return;
      }
      const p = c.plugin;
      if (!(kind === REQ ? p.requestBody : p.responseBody)) continue;
      const held = s.hold(chunk, eos);
      s.bodySeen = true;
      const r = this.callBody(d, c, held.length, eos);
      if (r === ABORTED) return;
      if (r === CONTINUE || c.skipped) {
        chunk = s.take();
        eos = s.heldEos;
        s.heldEos = false;
        if (chunk.length === 0 && !eos) return;
        continue;
      }
      if (eos) s.waiting = W_BODY;
      else this.checkLimit(d, c, held.length);
      return;
    }
  }

  private deliverTrailers(d: Direction, from: number): void {
    const kind = d.kind;
    for (let i = from; i < d.length; i++) {
      if (d.ended) return;
      const c = d.at(i);
      if (c.skipped) continue;
      const s = c.dirs[kind];
      if (!s.headersDone || s.waiting !== W_NONE) {
        s.trailersPending = true;
        return;
      }
      if (kind === REQ ? c.plugin.requestTrailers : c.plugin.responseTrailers) {
        const r = this.callTrailers(d, c);
        if (r === ABORTED) return;
        if (r === STOP && !c.skipped) {
          s.waiting = W_TRAILERS;
          return;
        }
      }
      // a filter that was buffering the body releases it ahead of the trailers
      if (s.held !== undefined && s.held.length > 0) this.deliver(d, i + 1, s.take(), false);
    }
    if (d.ended) return;
    if (kind === REQ) {
      this.requestTrailersSent = true;
      this.exchange.sendRequestTrailers();
    } else {
      this.responseTrailersSent = true;
      this.exchange.sendResponseTrailers();
    }
  }

  /** Over the buffer limit: 413 for a request, 500 for a response (or a reset once it started). */
  private checkLimit(d: Direction, c: FilterContext, held: number): void {
    if (held <= this.exchange.bodyBufferLimit) return;
    const status = d.kind === REQ ? 413 : 500;
    const body = d.kind === REQ ? 'request body too large\n' : 'response body too large\n';
    d.ended = true;
    this.reply({ status, details: d.kind === REQ ? 'request_payload_too_large' : 'response_payload_too_large', body: Buffer.from(body), headers: [], from: d.kind === REQ ? c.index : this.contexts.length - 1 });
  }

  // ---- calls into a filter ----

  /** Creates the context in its VM (on_context_create) at its first event. False when it has no VM. */
  private create(c: FilterContext): boolean {
    const vm = c.plugin.acquire();
    if (vm === undefined) return false;
    c.vm = vm;
    c.id = vm.newContextId();
    c.created = true;
    vm.addStream(c);
    const fn = vm.callbacks.onContextCreate;
    if (fn !== undefined) return vm.call(Callback.ContextCreate, fn, c, vm.rootContextId, 0, 0) !== TRAPPED;
    return true;
  }

  private callHeaders(d: Direction, c: FilterContext): number {
    if (!c.created && !this.create(c)) return this.failed(d, c);
    const vm = c.vm!;
    const fn = d.kind === REQ ? vm.callbacks.onRequestHeaders : vm.callbacks.onResponseHeaders;
    if (fn === undefined) return CONTINUE;
    const map = d.kind === REQ ? this.exchange.requestHeaders : this.exchange.responseHeaders!;
    return this.after(d, c, this.invoke(d.kind === REQ ? Callback.RequestHeaders : Callback.ResponseHeaders, vm, fn, c, map.size, d.headersEos ? 1 : 0));
  }

  private callBody(d: Direction, c: FilterContext, size: number, eos: boolean): number {
    if (!c.created && !this.create(c)) return this.failed(d, c);
    const vm = c.vm!;
    const fn = d.kind === REQ ? vm.callbacks.onRequestBody : vm.callbacks.onResponseBody;
    if (fn === undefined) return CONTINUE;
    this.inBodyEos = eos ? c.dirs[d.kind] : undefined;
    const r = this.invoke(d.kind === REQ ? Callback.RequestBody : Callback.ResponseBody, vm, fn, c, size, eos ? 1 : 0);
    this.inBodyEos = undefined;
    return this.after(d, c, r);
  }

  private callTrailers(d: Direction, c: FilterContext): number {
    if (!c.created && !this.create(c)) return this.failed(d, c);
    const vm = c.vm!;
    const fn = d.kind === REQ ? vm.callbacks.onRequestTrailers : vm.callbacks.onResponseTrailers;
    if (fn === undefined) return CONTINUE;
    const map = d.kind === REQ ? this.exchange.requestTrailers : this.exchange.responseTrailers;
    return this.after(d, c, this.invoke(d.kind === REQ ? Callback.RequestTrailers : Callback.ResponseTrailers, vm, fn, c, map === undefined ? 0 : map.size, 0));
  }

  private invoke(cb: Callback, vm: FilterVm, fn: (...a: number[]) => number | undefined, c: FilterContext, a: number, b: number): number {
    const outer = this.calling;
    this.calling = c;
    const r = vm.call(cb, fn, c, a, b, 0);
    this.calling = outer;
    return r;
  }

  /** Turns a callback's result into what the runner does next, applying its own deferred actions. */
  private after(d: Direction, c: FilterContext, r: number): number {
    if (r === TRAPPED) return this.failed(d, c);
    const s = c.dirs[d.kind];
    if (this.pendingReset) {
      this.pendingReset = false;
      this.pendingReply = undefined;
      this.reset('filter closed the stream');
      return ABORTED;
    }
    const reply = this.pendingReply;
    if (reply !== undefined) {
      this.pendingReply = undefined;
      d.ended = true;
      this.reply(reply);
      return ABORTED;
    }
    if (d.ended || this.finished) return ABORTED;
    // a continue of the other direction, asked while this one ran: resume it if it is paused
    const otherKind: Kind = d.kind === REQ ? RESP : REQ;
    const other = c.dirs[otherKind];
    if (other.continueAsked) {
      other.continueAsked = false;
      if (other.waiting !== W_NONE) queueMicrotask(() => this.resume(c, otherKind));
    }
    if (s.continueAsked) {
      s.continueAsked = false;
      return CONTINUE;
    }
    // headers: 0 Continue, 2 ContinueAndEndStream (= Continue); bodies and trailers: 0 Continue
    return r === 0 || (r === 2 && !s.headersDone) ? CONTINUE : STOP;
  }

  /**
   * A filter failed: fail open skips it; fail closed answers 500 when the stream's own callback broke the
   * VM (the filter failed on this request), 503 when the filter is unavailable to it (quarantined, no VM
   * starts, or another stream's call broke the VM it shared, as Envoy's `wasm_fail_stream`); or resets
   * when the response already started.
   */
  private failed(d: Direction, c: FilterContext): number {
    c.plugin.cost.failedStreams++;
    c.skipped = true;
    if (c.plugin.filter.fail_open[c.plugin.failureClass(c.vm)]) return CONTINUE;
    d.ended = true;
    const own = c.vm !== undefined && c.vm.failedIn === c;
    this.reply({
      status: own ? 500 : 503,
      details: own ? 'wasm_filter_failed' : 'wasm_fail_stream',
      body: Buffer.from(own ? 'filter failed\n' : 'filter unavailable\n'),
      headers: [],
      from: d.kind === REQ ? c.index : this.contexts.length - 1,
    });
    return ABORTED;
  }
}

function isGrpc(h: HeaderMap): boolean {
  const type = h.get('content-type');
  return type !== undefined && type.startsWith('application/grpc');
}

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
import { propertyPath } from '../wasm/host/general.ts';

/** The HTTP stream a chain runs on. */
export interface Exchange {
  readonly requestHeaders: HeaderMap;
  requestTrailers: HeaderMap | undefined;
  responseHeaders: HeaderMap | undefined;
  responseTrailers: HeaderMap | undefined;
  /** Response code details (Envoy's): "via_upstream", a filter's local-reply details, ... */
  responseDetails: string;
  /** The request headers went upstream: they can no longer change. */
  readonly requestHeadersSent: boolean;
  /** A filter asked to write the request headers (routing is decided again after the request-headers phase). */
  requestHeadersWritten: boolean;
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

// A context's per-direction state, as bits of FilterContext.flags: the request's in the low byte, the
// response's in the next one (kind << 3 is the shift). One small integer instead of two state objects per
// context: every object allocated per request outlives a young-generation GC (the request waits on the
// upstream), so it is copied and promoted, which costs more than the work itself.
/** The headers callback returned Continue (or was continued). */
const F_HEADERS_DONE = 1;
/** end_of_stream arrived with the held body. */
const F_HELD_EOS = 2;
/** Trailers arrived while this filter was not done with the body. */
const F_TRAILERS_PENDING = 4;
/** A body callback has run: the held body is visible to the filter. */
const F_BODY_SEEN = 8;
/** proxy_continue_stream was called during this filter's own callback. */
const F_CONTINUE_ASKED = 16;
/** What the filter is waiting on (W_*), 2 bits. */
const WAIT_SHIFT = 5;

// outcome of one callback, for the runner
const CONTINUE = 0;
const STOP = 1;
const ABORTED = -1; // the stream was answered, reset or failed: this direction goes no further

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
  /** Both directions' state bits (F_*, waiting). */
  flags = 0;
  /** Body bytes this filter holds, per direction. */
  reqHeld: BodyBuffer | undefined = undefined;
  respHeld: BodyBuffer | undefined = undefined;

  get requestId(): string {
    return this.run.exchange.requestId;
  }

  constructor(run: FilterRun, plugin: Plugin, index: number) {
    this.run = run;
    this.plugin = plugin;
    this.index = index;
  }

  // ---- per-direction state ----

  is(kind: Kind, bit: number): boolean {
    return (this.flags & (bit << (kind << 3))) !== 0;
  }

  mark(kind: Kind, bit: number): void {
    this.flags |= bit << (kind << 3);
  }

  unmark(kind: Kind, bit: number): void {
    this.flags &= ~(bit << (kind << 3));
  }

  waiting(kind: Kind): number {
    return (this.flags >> ((kind << 3) + WAIT_SHIFT)) & 3;
  }

  setWaiting(kind: Kind, w: number): void {
    const shift = (kind << 3) + WAIT_SHIFT;
    this.flags = (this.flags & ~(3 << shift)) | (w << shift);
  }

  /** Bytes held in direction `kind` (0 when none). */
  heldBytes(kind: Kind): number {
    const h = kind === REQ ? this.reqHeld : this.respHeld;
    return h === undefined ? 0 : h.length;
  }

  heldBuffer(kind: Kind): BodyBuffer {
    if (kind === REQ) return (this.reqHeld ??= new BodyBuffer());
    return (this.respHeld ??= new BodyBuffer());
  }

  hold(kind: Kind, chunk: Buffer, eos: boolean): BodyBuffer {
    const held = this.heldBuffer(kind);
    held.push(chunk);
    if (eos) this.mark(kind, F_HELD_EOS);
    return held;
  }

  take(kind: Kind): Buffer {
    const h = kind === REQ ? this.reqHeld : this.respHeld;
    return h === undefined ? EMPTY : h.take();
  }

  // ---- StreamHost: what the host calls of this context do ----

  headerMap(type: number, forWrite: boolean): HeaderMap | WasmResult {
    const ex = this.run.exchange;
    switch (type) {
      case HeaderMapType.RequestHeaders:
        if (forWrite) {
          if (ex.requestHeadersSent) return WasmResult.BadArgument;
          ex.requestHeadersWritten = true;
        }
        return ex.requestHeaders;
      case HeaderMapType.RequestTrailers:
        if (ex.requestTrailers === undefined) {
          // trailers can be added from the last body callback of a request that had none (they reach the
          // upstream when its request has not started yet; else, as Envoy's HTTP/1 codec does with
          // trailers it cannot send, they are dropped)
          if (forWrite && this.run.inBodyEos === this && this.run.inBodyEosKind === REQ) return (ex.requestTrailers = new HeaderMap());
          return this.missingMap(forWrite);
        }
        if (forWrite && this.run.requestTrailersSent) return WasmResult.BadArgument;
        return ex.requestTrailers;
      case HeaderMapType.ResponseHeaders:
        if (ex.responseHeaders === undefined) return this.missingMap(forWrite);
        if (forWrite && ex.responseHeadersSent) return WasmResult.BadArgument;
        return ex.responseHeaders;
      case HeaderMapType.ResponseTrailers:
        if (ex.responseTrailers === undefined) {
          // they reach the client when the response head can still switch to chunked framing, or went out
          // with it; else they are dropped (as for request trailers)
          if (forWrite && this.run.inBodyEos === this && this.run.inBodyEosKind === RESP) return (ex.responseTrailers = new HeaderMap());
          return this.missingMap(forWrite);
        }
        if (forWrite && this.run.responseTrailersSent) return WasmResult.BadArgument;
        return ex.responseTrailers;
      default:
        return WasmResult.BadArgument; // gRPC metadata and call-response maps do not exist on an HTTP stream
    }
  }

  /**
   * A map the stream does not have: BadArgument, as Envoy answers, but for a read in on_log, where Envoy
   * answers NotFound ("maps might point to nullptr in the access log phase": a client that left before
   * the response, a response without trailers). SDKs treat BadArgument as a bug and abort the VM.
   */
  private missingMap(forWrite: boolean): WasmResult {
    return !forWrite && this.run.logging === this ? WasmResult.NotFound : WasmResult.BadArgument;
  }

  body(type: number): BodyBuffer | undefined {
    const kind = type === BufferType.HttpRequestBody ? REQ : type === BufferType.HttpResponseBody ? RESP : -1;
    if (kind === -1 || !this.is(kind, F_BODY_SEEN)) return undefined;
    return this.heldBuffer(kind);
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
    if (this.run.calling === this) this.mark(kind, F_CONTINUE_ASKED);
    else this.vm?.defer(() => this.run.resume(this, kind));
    return WasmResult.Ok;
  }

  closeStream(type: number): WasmResult {
    void type;
    this.vm?.defer(() => this.run.reset('filter closed the stream'));
    if (this.run.calling === this) this.run.pendingReset = true;
    return WasmResult.Ok;
  }

  vmFailed(): void {
    this.run.vmLost(this);
  }

  property(path: readonly string[]): Buffer | undefined {
    const ex = this.run.exchange;
    return ex.property(path) ?? ex.filterState.get(path.join('.'));
  }

  setProperty(path: string, value: Buffer): WasmResult {
    this.run.exchange.filterState.set(propertyPath(path).join('.'), value);
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
 * The runner. Each direction of the stream is the first `length` contexts of the chain, in chain order for
 * the request (all of them) and in reverse for the response (all, or those up to a local reply's filter);
 * a direction's state is kept in fields of the run, not in an object per direction and stream.
 */
export class FilterRun {
  readonly exchange: Exchange;
  readonly chain: FilterChain;
  readonly contexts: readonly FilterContext[];
  /** The request direction got end_of_stream with its headers / goes no further. */
  private reqHeadersEos = false;
  private reqEnded = false;
  /** Contexts in the response direction (-1: the response phases have not started). */
  private respLength = -1;
  private respHeadersEos = false;
  private respEnded = false;
  /** The context whose callback runs now (its own continue/reply/reset are handled when it returns). */
  calling: FilterContext | undefined = undefined;
  /** The context (and direction) of a body callback running with end_of_stream (trailers may be added then). */
  inBodyEos: FilterContext | undefined = undefined;
  inBodyEosKind: Kind = REQ;
  /** The context whose on_log runs now. */
  logging: FilterContext | undefined = undefined;
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
  }

  // ---- the directions ----

  private length(kind: Kind): number {
    return kind === REQ ? this.contexts.length : this.respLength;
  }

  private ended(kind: Kind): boolean {
    return kind === REQ ? this.reqEnded : this.respEnded;
  }

  private end(kind: Kind): void {
    if (kind === REQ) this.reqEnded = true;
    else this.respEnded = true;
  }

  /** The context at position i of direction `kind`'s order. */
  private at(kind: Kind, i: number): FilterContext {
    return this.contexts[kind === REQ ? i : this.respLength - 1 - i]!;
  }

  /** The position of c in direction `kind`'s order, or -1. */
  private indexOf(kind: Kind, c: FilterContext): number {
    const n = this.length(kind);
    const i = kind === REQ ? c.index : n - 1 - c.index;
    return i >= 0 && i < n && this.at(kind, i) === c ? i : -1;
  }

  /** Starts the response direction through the first `length` contexts (in reverse). */
  private startResponse(length: number, eos: boolean): void {
    this.respLength = length;
    this.respHeadersEos = eos;
  }

  // ---- the stream drives these ----

  requestHeaders(eos: boolean): void {
    this.reqHeadersEos = eos;
    this.runHeaders(REQ, 0);
  }

  requestData(chunk: Buffer, eos: boolean): void {
    this.deliver(REQ, 0, chunk, eos);
  }

  requestTrailers(): void {
    this.deliverTrailers(REQ, 0);
  }

  /** The upstream response headers are in exchange.responseHeaders. */
  responseHeaders(eos: boolean): void {
    this.startResponse(this.contexts.length, eos);
    this.runHeaders(RESP, 0);
  }

  responseData(chunk: Buffer, eos: boolean): void {
    if (this.respLength >= 0) this.deliver(RESP, 0, chunk, eos);
  }

  responseTrailers(): void {
    if (this.respLength >= 0) this.deliverTrailers(RESP, 0);
  }

  /** True when response data is held in the chain (waiting on a filter), not flowing to the client. */
  get responseHeld(): boolean {
    const n = this.respLength;
    for (let i = 0; i < n; i++) if (this.at(RESP, i).waiting(RESP) !== W_NONE) return true;
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
    this.reqEnded = true;
    if (this.respLength >= 0) this.respEnded = true;
    const contexts = this.contexts;
    for (let i = 0; i < contexts.length; i++) {
      const c = contexts[i]!;
      if (c.skipped && !c.created) continue;
      if (!c.created && !this.create(c)) continue;
      const vm = c.vm!;
      const cb = vm.callbacks;
      if (cb.onLog !== undefined) {
        this.logging = c;
        vm.call(Callback.Log, cb.onLog, c, 0, 0, 0);
        this.logging = undefined;
      }
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
    this.reqEnded = true;
    if (ex.responseHeadersSent) {
      ex.reset('local reply after the response started');
      return;
    }
    ex.abandonUpstream();
    ex.responseDetails = r.details;
    if (this.respLength >= 0) {
      // the response phases already ran on a response: the reply goes straight out (Envoy's direct reply)
      this.respEnded = true;
      ex.writeDirectReply(r.status, r.body, r.headers);
      return;
    }
    ex.responseHeaders = new HeaderMap([':status', String(r.status)], localReplyHeaders(r.status, r.body.length, ex.requestId, r.headers));
    ex.responseTrailers = undefined;
    // as Envoy's local replies: a HEAD request, a 204 or a 304 get the head alone (end_of_stream on the
    // headers, no body callback); a HEAD's head keeps the length of the body it would have had
    const eos = r.body.length === 0 || r.status === 204 || r.status === 304 || ex.requestHeaders.get(':method') === 'HEAD';
    this.startResponse(r.from + 1, eos);
    this.answered = false; // the reply's own response phases run
    this.runHeaders(RESP, 0);
    if (!eos && !this.respEnded) this.deliver(RESP, 0, r.body, true);
    this.answered = true;
  }

  reset(reason: string): void {
    if (this.finished) return;
    this.answered = true;
    this.reqEnded = true;
    if (this.respLength >= 0) this.respEnded = true;
    this.exchange.reset(reason);
  }

  /**
   * The VM of `c` failed in some other call: a direction paused on `c` fails as its own callback's failure
   * would (503, or on without the filter when it fails open); otherwise the failure shows at c's next call.
   */
  vmLost(c: FilterContext): void {
    if (this.finished || c.skipped) return;
    const paused = ([REQ, RESP] as const).filter((kind) => !(kind === RESP && this.respLength < 0) && !this.ended(kind) && c.waiting(kind) !== W_NONE);
    for (const kind of paused) {
      if (this.finished) return;
      // fail open: the direction goes on without the filter (failed() counted the stream once)
      if (c.skipped || this.failed(kind, c) === CONTINUE) this.resume(c, kind);
    }
  }

  /** proxy_continue_stream for `c` in direction `kind`. */
  resume(c: FilterContext, kind: Kind): void {
    this.continueDirection(c, kind);
    if (!this.finished) this.exchange.resumed();
  }

  private continueDirection(c: FilterContext, kind: Kind): void {
    if ((kind === RESP && this.respLength < 0) || this.ended(kind) || this.finished) return;
    const i = this.indexOf(kind, c);
    if (i < 0) return;
    const w = c.waiting(kind);
    c.setWaiting(kind, W_NONE);
    switch (w) {
      case W_HEADERS: {
        c.mark(kind, F_HEADERS_DONE);
        this.runHeaders(kind, i + 1);
        // what arrived while paused goes to this filter's own body callback first
        if (!this.ended(kind) && (c.heldBytes(kind) > 0 || c.is(kind, F_HELD_EOS))) {
          const eos = c.is(kind, F_HELD_EOS);
          c.unmark(kind, F_HELD_EOS);
          this.deliver(kind, i, c.take(kind), eos);
        }
        if (!this.ended(kind) && c.is(kind, F_TRAILERS_PENDING) && c.waiting(kind) === W_NONE) {
          c.unmark(kind, F_TRAILERS_PENDING);
          this.deliverTrailers(kind, i);
        }
        return;
      }
      case W_BODY:
        c.unmark(kind, F_HELD_EOS);
        this.deliver(kind, i + 1, c.take(kind), true);
        return;
      case W_TRAILERS:
        if (c.heldBytes(kind) > 0) this.deliver(kind, i + 1, c.take(kind), false);
        if (!this.ended(kind)) this.deliverTrailers(kind, i + 1);
        return;
      default:
        // buffering mid-body: release what is held
        if (c.is(kind, F_HEADERS_DONE) && c.heldBytes(kind) > 0) this.deliver(kind, i + 1, c.take(kind), false);
    }
  }

  // ---- the runner ----

  private runHeaders(kind: Kind, from: number): void {
    const n = this.length(kind);
    for (let i = from; i < n; i++) {
      const c = this.at(kind, i);
      if (!c.skipped) {
        const r = this.callHeaders(kind, c);
        if (r === ABORTED) return;
        if (r === STOP && !c.skipped) {
          c.setWaiting(kind, W_HEADERS);
          return;
        }
      }
      c.mark(kind, F_HEADERS_DONE);
    }
    if (this.ended(kind)) return;
    if (kind === REQ) this.exchange.requestHeadersDone();
    else this.exchange.responseHeadersDone(this.respHeadersEos);
  }

  private deliver(kind: Kind, from: number, chunk: Buffer, eos: boolean): void {
    for (let i = from; ; i++) {
      if (this.ended(kind)) return;
      if (i === this.length(kind)) {
        if (kind === REQ) this.exchange.sendRequestData(chunk, eos);
        else this.exchange.sendResponseData(chunk, eos);
        return;
      }
      const c = this.at(kind, i);
      if (c.skipped) continue;
      if (!c.is(kind, F_HEADERS_DONE) || c.waiting(kind) !== W_NONE) {
        this.checkLimit(kind, c, c.hold(kind, chunk, eos).length);
        return;
      }
      const p = c.plugin;
      if (!(kind === REQ ? p.requestBody : p.responseBody)) continue;
      const held = c.hold(kind, chunk, eos);
      c.mark(kind, F_BODY_SEEN);
      const r = this.callBody(kind, c, held.length, eos);
      if (r === ABORTED) return;
      if (r === CONTINUE || c.skipped) {
        chunk = c.take(kind);
        eos = c.is(kind, F_HELD_EOS);
        c.unmark(kind, F_HELD_EOS);
        if (chunk.length === 0 && !eos) return;
        continue;
      }
      // as Envoy's watermark buffer: what a filter buffers is limited whether or not the body is complete
      // (a request with a content-length ends with its last chunk)
      if (eos) c.setWaiting(kind, W_BODY);
      this.checkLimit(kind, c, held.length);
      return;
    }
  }

  private deliverTrailers(kind: Kind, from: number): void {
    for (let i = from; i < this.length(kind); i++) {
      if (this.ended(kind)) return;
      const c = this.at(kind, i);
      if (c.skipped) continue;
      if (!c.is(kind, F_HEADERS_DONE) || c.waiting(kind) !== W_NONE) {
        c.mark(kind, F_TRAILERS_PENDING);
        return;
      }
      if (kind === REQ ? c.plugin.requestTrailers : c.plugin.responseTrailers) {
        const r = this.callTrailers(kind, c);
        if (r === ABORTED) return;
        if (r === STOP && !c.skipped) {
          c.setWaiting(kind, W_TRAILERS);
          return;
        }
      }
      // a filter that was buffering the body releases it ahead of the trailers
      if (c.heldBytes(kind) > 0) this.deliver(kind, i + 1, c.take(kind), false);
    }
    if (this.ended(kind)) return;
    if (kind === REQ) {
      this.requestTrailersSent = true;
      this.exchange.sendRequestTrailers();
    } else {
      this.responseTrailersSent = true;
      this.exchange.sendResponseTrailers();
    }
  }

  /** Over the buffer limit: 413 for a request, 500 for a response (or a reset once it started). */
  private checkLimit(kind: Kind, c: FilterContext, held: number): void {
    if (held <= this.exchange.bodyBufferLimit) return;
    const status = kind === REQ ? 413 : 500;
    const body = kind === REQ ? 'request body too large\n' : 'response body too large\n';
    this.end(kind);
    this.reply({ status, details: kind === REQ ? 'request_payload_too_large' : 'response_payload_too_large', body: Buffer.from(body), headers: [], from: kind === REQ ? c.index : this.contexts.length - 1 });
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

  private callHeaders(kind: Kind, c: FilterContext): number {
    if (!c.created && !this.create(c)) return this.failed(kind, c);
    const vm = c.vm!;
    const fn = kind === REQ ? vm.callbacks.onRequestHeaders : vm.callbacks.onResponseHeaders;
    if (fn === undefined) return CONTINUE;
    const map = kind === REQ ? this.exchange.requestHeaders : this.exchange.responseHeaders!;
    const eos = kind === REQ ? this.reqHeadersEos : this.respHeadersEos;
    return this.after(kind, c, this.invoke(kind === REQ ? Callback.RequestHeaders : Callback.ResponseHeaders, vm, fn, c, map.size, eos ? 1 : 0));
  }

  private callBody(kind: Kind, c: FilterContext, size: number, eos: boolean): number {
    if (!c.created && !this.create(c)) return this.failed(kind, c);
    const vm = c.vm!;
    const fn = kind === REQ ? vm.callbacks.onRequestBody : vm.callbacks.onResponseBody;
    if (fn === undefined) return CONTINUE;
    this.inBodyEos = eos ? c : undefined;
    this.inBodyEosKind = kind;
    const r = this.invoke(kind === REQ ? Callback.RequestBody : Callback.ResponseBody, vm, fn, c, size, eos ? 1 : 0);
    this.inBodyEos = undefined;
    return this.after(kind, c, r);
  }

  private callTrailers(kind: Kind, c: FilterContext): number {
    if (!c.created && !this.create(c)) return this.failed(kind, c);
    const vm = c.vm!;
    const fn = kind === REQ ? vm.callbacks.onRequestTrailers : vm.callbacks.onResponseTrailers;
    if (fn === undefined) return CONTINUE;
    const map = kind === REQ ? this.exchange.requestTrailers : this.exchange.responseTrailers;
    return this.after(kind, c, this.invoke(kind === REQ ? Callback.RequestTrailers : Callback.ResponseTrailers, vm, fn, c, map === undefined ? 0 : map.size, 0));
  }

  private invoke(cb: Callback, vm: FilterVm, fn: (...a: number[]) => number | undefined, c: FilterContext, a: number, b: number): number {
    const outer = this.calling;
    this.calling = c;
    const r = vm.call(cb, fn, c, a, b, 0);
    this.calling = outer;
    return r;
  }

  /** Turns a callback's result into what the runner does next, applying its own deferred actions. */
  private after(kind: Kind, c: FilterContext, r: number): number {
    if (r === TRAPPED) return this.failed(kind, c);
    if (this.pendingReset) {
      this.pendingReset = false;
      this.pendingReply = undefined;
      this.reset('filter closed the stream');
      return ABORTED;
    }
    const reply = this.pendingReply;
    if (reply !== undefined) {
      this.pendingReply = undefined;
      this.end(kind);
      this.reply(reply);
      return ABORTED;
    }
    if (this.ended(kind) || this.finished) return ABORTED;
    // a continue of the other direction, asked while this one ran: resume it if it is paused
    const otherKind: Kind = kind === REQ ? RESP : REQ;
    if (c.is(otherKind, F_CONTINUE_ASKED)) {
      c.unmark(otherKind, F_CONTINUE_ASKED);
      if (c.waiting(otherKind) !== W_NONE) queueMicrotask(() => this.resume(c, otherKind));
    }
    if (c.is(kind, F_CONTINUE_ASKED)) {
      c.unmark(kind, F_CONTINUE_ASKED);
      return CONTINUE;
    }
    // headers: 0 Continue, 2 ContinueAndEndStream (= Continue); bodies and trailers: 0 Continue
    return r === 0 || (r === 2 && !c.is(kind, F_HEADERS_DONE)) ? CONTINUE : STOP;
  }

  /**
   * A filter failed: fail open skips it; fail closed answers 503 as Envoy's `wasm_fail_stream` does, both
   * when the stream's own callback broke the VM ("filter failed") and when the filter is unavailable to it
   * (quarantined, no VM starts, or another stream's call broke the VM it shared: "filter unavailable"); or
   * resets when the response already started.
   */
  private failed(kind: Kind, c: FilterContext): number {
    c.plugin.cost.failedStreams++;
    c.skipped = true;
    if (c.plugin.filter.fail_open[c.plugin.failureClass(c.vm)]) return CONTINUE;
    this.end(kind);
    const own = c.vm !== undefined && c.vm.failedIn === c;
    this.reply({
      status: 503,
      details: 'wasm_fail_stream',
      body: Buffer.from(own ? 'filter failed\n' : 'filter unavailable\n'),
      headers: [],
      from: kind === REQ ? c.index : this.contexts.length - 1,
    });
    return ABORTED;
  }
}

function isGrpc(h: HeaderMap): boolean {
  const type = h.get('content-type');
  return type !== undefined && type.startsWith('application/grpc');
}

// The contexts a filter implements. A RootContext exists once per plugin (per configured filter): it
// reads the configuration and creates an HttpContext for every HTTP stream. Override the callbacks you
// need; the defaults let everything through.
import { BufferType, FilterDataStatus, FilterHeadersStatus, FilterTrailersStatus, WasmResult } from "./constants";
import { getBuffer, getBufferString, BUFFER_END } from "./buffers";
import { HeaderPair, httpCallResponseHeaders, httpCallResponseTrailers, serializePairs } from "./headers";
import { proxy_done, proxy_get_status, proxy_http_call } from "./imports";
import { RET_DATA, RET_EXTRA, RET_SIZE, clearRet, ptrOf, takeString, utf8 } from "./memory";

/** Called when an httpCall completes, with the context that made the call (downcast it to your class). */
export type HttpCallCallback = (origin: Context, response: HttpCallResponse) => void;

/** Base of root and HTTP contexts: an id the host chose, and the calls both kinds can make. */
export class Context {
  constructor(public readonly id: u32) {}

  /**
   * Sends an HTTP request to the named upstream (a cluster name from the gateway configuration, not a
   * URL). `headers` must include :method, :path and :authority. `callback` runs later, with this
   * context as the effective one, so it may change headers, continueRequest() or sendLocalResponse().
   * Returns Ok, or the host's error status (BadArgument: unknown upstream or missing pseudo-headers;
   * Unimplemented: the host has no HTTP callouts); on an error the callback never runs.
   */
  httpCall(
    upstream: string,
    headers: HeaderPair[],
    body: ArrayBuffer | null,
    trailers: HeaderPair[],
    timeoutMs: u32,
    callback: HttpCallCallback,
  ): WasmResult {
    const u = utf8(upstream);
    const h = serializePairs(headers);
    const b = body !== null ? body : new ArrayBuffer(0);
    const t = serializePairs(trailers);
    clearRet();
    const status = <WasmResult>proxy_http_call(
      ptrOf(u), u.byteLength, ptrOf(h), h.byteLength, ptrOf(b), b.byteLength, ptrOf(t), t.byteLength,
      timeoutMs, RET_EXTRA,
    );
    if (status == WasmResult.Ok) pendingCalls.set(load<u32>(RET_EXTRA), new PendingCall(this.id, callback));
    return status;
  }
}

/** A plugin's root context. Construct it in the factory given to registerRootContext(). */
export class RootContext extends Context {
  /** The VM is starting; `vmConfigurationSize` bytes of VM configuration are readable. false = refuse. */
  onVmStart(vmConfigurationSize: u32): bool {
    return true;
  }

  /** The plugin configuration is readable (getPluginConfiguration()). false = refuse the configuration. */
  onConfigure(configurationSize: u32): bool {
    return true;
  }

  /** A new HTTP stream: return its context, or null to let the stream pass without callbacks. */
  createHttpContext(id: u32): HttpContext | null {
    return new HttpContext(id, this);
  }

  /** Every period set with setTickPeriod(). */
  onTick(): void {}

  /** Items were enqueued on a queue this root registered (registerSharedQueue): dequeue them. */
  onQueueReady(queueId: u32): void {}

  /**
   * The host is done with the plugin. Return false to finish asynchronously, then call done(). Called
   * only when the filter's entry file exports proxy_on_done (see sdk/exports.ts).
   */
  onDone(): bool {
    return true;
  }

  onDelete(): void {}

  /** The plugin configuration as text; readable only during onConfigure. */
  getPluginConfiguration(): string {
    const s = getBufferString(BufferType.PluginConfiguration, 0, BUFFER_END);
    return s !== null ? s : "";
  }

  /** The VM configuration as text; readable during onVmStart. */
  getVmConfiguration(): string {
    const s = getBufferString(BufferType.VmConfiguration, 0, BUFFER_END);
    return s !== null ? s : "";
  }

  /** Tells the host a shutdown delayed by onDone() returning false has finished. */
  done(): WasmResult {
    return <WasmResult>proxy_done();
  }
}

/**
 * One HTTP stream (request and response). The host calls, in order: onRequestHeaders, onRequestBody
 * (0+ times; none if the headers ended the request), onRequestTrailers?, onResponseHeaders,
 * onResponseBody*, onResponseTrailers?, onLog, onDone, onDelete. Headers and bodies are read and
 * changed through requestHeaders, getRequestBody(), ... while the matching callback runs.
 */
export class HttpContext extends Context {
  constructor(id: u32, public readonly root: RootContext) {
    super(id);
  }

  onRequestHeaders(numHeaders: u32, endOfStream: bool): FilterHeadersStatus {
    return FilterHeadersStatus.Continue;
  }
  /** `bodySize` is everything received so far when the previous call returned StopIterationAndBuffer. */
  onRequestBody(bodySize: u32, endOfStream: bool): FilterDataStatus {
    return FilterDataStatus.Continue;
  }
  onRequestTrailers(numTrailers: u32): FilterTrailersStatus {
    return FilterTrailersStatus.Continue;
  }
  onResponseHeaders(numHeaders: u32, endOfStream: bool): FilterHeadersStatus {
    return FilterHeadersStatus.Continue;
  }
  onResponseBody(bodySize: u32, endOfStream: bool): FilterDataStatus {
    return FilterDataStatus.Continue;
  }
  onResponseTrailers(numTrailers: u32): FilterTrailersStatus {
    return FilterTrailersStatus.Continue;
  }
  /**
   * The request is complete (headers and trailers are still readable): access logging. Called only when
   * the filter's entry file exports proxy_on_log (see sdk/exports.ts); onDone likewise needs proxy_on_done.
   */
  onLog(): void {}
  onDone(): void {}
  onDelete(): void {}
}

/** The outcome of an httpCall, valid only while its callback runs. */
export class HttpCallResponse {
  constructor(
    public readonly token: u32,
    public readonly numHeaders: u32,
    public readonly bodySize: u32,
    public readonly numTrailers: u32,
  ) {}

  /** No response arrived (reset, oversize…): see getStatus() for why. */
  get failed(): bool {
    return this.numHeaders == 0;
  }
  /** The response's :status, or 0 when it failed. */
  get status(): u32 {
    if (this.failed) return 0;
    const s = httpCallResponseHeaders.get(":status");
    return s !== null ? <u32>I32.parseInt(s) : 0;
  }
  header(name: string): string | null {
    return httpCallResponseHeaders.get(name);
  }
  headers(): HeaderPair[] {
    return httpCallResponseHeaders.getAll();
  }
  trailers(): HeaderPair[] {
    return httpCallResponseTrailers.getAll();
  }
  body(): ArrayBuffer {
    const b = getBuffer(BufferType.HttpCallResponseBody, 0, this.bodySize);
    return b !== null ? b : new ArrayBuffer(0);
  }
  bodyString(): string {
    return String.UTF8.decode(this.body());
  }
}

/** A status code and message from the host (e.g. 11 "reset" for a failed httpCall). */
export class HostStatus {
  constructor(public readonly code: u32, public readonly message: string) {}
}

/** The status of the last httpCall (inside its callback). */
export function getStatus(): HostStatus {
  clearRet();
  if (proxy_get_status(RET_EXTRA, RET_DATA, RET_SIZE) != WasmResult.Ok) return new HostStatus(WasmResult.InternalFailure, "");
  const code = load<u32>(RET_EXTRA);
  return new HostStatus(code, takeString());
}

export class PendingCall {
  constructor(public readonly contextId: u32, public readonly callback: HttpCallCallback) {}
}

const pendingCalls = new Map<u32, PendingCall>();

/** Removes and returns the call waiting for `token` (runtime.ts dispatches its response). */
export function takePendingCall(token: u32): PendingCall | null {
  if (!pendingCalls.has(token)) return null;
  const call = pendingCalls.get(token);
  pendingCalls.delete(token);
  return call;
}

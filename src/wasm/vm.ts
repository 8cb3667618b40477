// One instance of a filter module (one VM, in proxy-wasm terms): start-up (instantiate with the import
// table, run the module's initializer, create the root context, proxy_on_vm_start and proxy_on_configure
// with the VM and plugin configuration readable as buffers 6 and 7), then the calls into the guest that
// streams and timers make. A trap or a `false` at start refuses the filter with an error that carries
// the filter's own last log lines; a trap later marks the VM failed for good (it is never called again;
// the plugin replaces it with a fresh instance).
import { performance } from 'node:perf_hooks'; // the global is a lazy getter, run on every access
import type { ResolvedFilter } from '../config/types.ts';
import type { Logger } from '../observability/logger.ts';
import { BufferType, HeaderMapType, WasmResult, type LogLevel } from './abi/constants.ts';
import { GuestMemory } from './memory/codec.ts';
import { TRANSFER_BYTES_PER_FUEL } from './meter.ts';
import { buildImports, type LinkReport } from './host/index.ts';
import { GuestExit, type StreamHost, type VmHost } from './host/types.ts';
import type { FilterModule } from './module.ts';
import { HeaderMap } from '../http/header-map.ts';
import type { Upstream } from '../http/upstream.ts';
import type { CallRequest, CallResult } from '../filters/http-call.ts';
import { VmShared, type SharedState } from './shared/vm-shared.ts';
import { CALLBACK_NAMES, Callback, FilterCost, failureCause } from '../filters/filter-cost.ts';

/** What a VM may reach outside itself: the gateway's upstreams (proxy_http_call) and the shared state. */

/** Outbound calls one VM may have in flight; more answer InternalFailure at once (Envoy's default circuit breaker). */
export const MAX_PENDING_CALLS = 1024;
export interface VmServices {
  /** Shared data, queues and metrics; absent where there are no workers (wasmgate validate). */
  readonly shared?: SharedState;
  upstream(name: string): Upstream | undefined;
  sendCall(req: CallRequest, done: (r: CallResult) => void): void;
  /** Largest http-call response body accepted. */
  readonly maxCallBodyBytes: number;
  /**
   * The worker's watchdog cells, read by the main thread: [calls started, calls ended, filter index,
   * hard timeout ms]. A call that does not end within the timeout gets the worker terminated.
   */
  readonly watchdog?: Int32Array;
  /** The filter's position in the serving config (named in the watchdog's log line). */
  filterIndex?(name: string): number;
}

const EMPTY = Buffer.alloc(0);
/** Stream callbacks are timed one in this many (a power of two); the histograms weigh each sample so. */
const TIME_SAMPLE = 16;
/**
 * The per-filter cost accounting (calls, sampled timings) can be turned off with
 * WASMGATE_FILTER_COST=off, only to measure what it costs (bench setup wasmgate-f5-nocost).
 */
const ACCOUNTING = process.env['WASMGATE_FILTER_COST'] !== 'off';
import { ErrorCodes, GatewayError } from '../errors.ts';

type Export = (...args: number[]) => number | undefined;

const PINO_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
const RECENT_LINES = 20;
/** Most log lines a VM writes per second; the rest are dropped and counted. */
const LOG_LINES_PER_SECOND = 200;

/** What a call into a failed or trapping VM returns instead of a callback result (no i32 is this). */
export const TRAPPED = 2 ** 32;

export class FilterStartError extends GatewayError {
  readonly filter: string;
  /** The filter's own last log lines before it failed. */
  readonly filterLog: readonly string[];
  constructor(filter: string, reason: string, filterLog: readonly string[], cause?: unknown) {
    const tail = filterLog.length === 0 ? '' : `\n  filter log:\n${filterLog.map((l) => `    ${l}`).join('\n')}`;
    super(ErrorCodes.GW_ERR_WASM_START_FAILED, `filter "${filter}": ${reason}${tail}`, cause === undefined ? undefined : { cause });
    this.name = 'FilterStartError';
    this.filter = filter;
    this.filterLog = filterLog;
  }
}

/** A stream context as the VM knows it: its id and the host side of its host calls. */
export interface StreamContext extends StreamHost {
  readonly id: number;
  /** The request's id (x-request-id), for log lines. */
  readonly requestId: string;
  /** Where the VM keeps it among its live streams (-1: not registered); only the VM sets it. */
  vmSlot: number;
  /** The VM failed in another stream's call (or a root callback): a stream paused on it must not wait forever. */
  vmFailed(): void;
}

/** The stream callbacks a module exports (undefined when it does not: calling it costs nothing). */
export interface StreamCallbacks {
  readonly onContextCreate: Export | undefined;
  readonly onRequestHeaders: Export | undefined;
  readonly onRequestBody: Export | undefined;
  readonly onRequestTrailers: Export | undefined;
  readonly onResponseHeaders: Export | undefined;
  readonly onResponseBody: Export | undefined;
  readonly onResponseTrailers: Export | undefined;
  readonly onLog: Export | undefined;
  readonly onDone: Export | undefined;
  readonly onDelete: Export | undefined;
}

export class FilterVm {
  readonly filter: ResolvedFilter;
  readonly module: FilterModule;
  readonly link: LinkReport;
  readonly memory: GuestMemory;
  readonly callbacks: StreamCallbacks;
  /** Set when the VM trapped (or exited) after start: it is never called again. */
  failed = false;
  failure = '';
  /** The stream whose own callback failed the VM (undefined: a root callback, or none). */
  failedIn: StreamContext | undefined = undefined;
  private readonly exports: Record<string, Export>;
  readonly log: Logger;
  private readonly recent: string[] = [];
  private readonly vmConfig: Buffer;
  private readonly pluginConfig: Buffer;
  /** Buffers readable in the callback now running (configuration during start-up). */
  private readable: ReadonlyMap<number, Buffer> = new Map();
  private nextContextId = 1;
  rootContextId = 0;
  /** The context host calls act on: the running callback's, or the one proxy_set_effective_context chose. */
  private effective: StreamContext | undefined = undefined;
  /**
   * Live stream contexts, each at its vmSlot (removal moves the last one into the hole). Not a Map keyed
   * by id: a long-lived Map that every request adds to and deletes from made V8's young-generation GC
   * keep (and promote) about 9 KB per request, roughly the whole cost of a simple filter.
   */
  private readonly streams: StreamContext[] = [];
  /** Work host calls asked for that must wait until the outermost callback returns. */
  private readonly deferred: Array<() => void> = [];
  private depth = 0;
  private tickMs = 0;
  private tickTimer: NodeJS.Timeout | undefined = undefined;
  /** Called when the VM fails after start (a trap in any callback). */
  onFailure: ((vm: FilterVm) => void) | undefined = undefined;
  private readonly services: VmServices | undefined;
  private nextCallToken = 0;
  /** Outbound calls started and not yet answered. */
  pendingCalls = 0;
  /** The http-call response being delivered (maps 6/7, buffer 4, proxy_get_status). */
  private callResponse: { headers: HeaderMap; trailers: HeaderMap } | undefined = undefined;
  private callStatus = { code: 0, message: '' };
  private readonly sharedView: VmShared | undefined;
  /** Where this VM's calls, time and failures are counted (the plugin's, across its VMs). */
  private readonly cost: FilterCost;
  private readonly watchdog: Int32Array | undefined;
  /** The metering fuel global (when the module was metered) and the budget each callback starts with. */
  private fuel: WebAssembly.Global | undefined = undefined;
  /** The last memory.grow result (metered modules): -1 when the module was refused memory. */
  private lastGrow: WebAssembly.Global | undefined = undefined;
  private readonly fuelBudget: bigint;
  /** By Callback: the module sets the budget itself on entry (see MeteringOptions.entryPoints). */
  private readonly selfFueled: readonly boolean[];
  private readonly watchIndex: number;
  private readonly hardTimeoutMs: number;
  private logWindow = 0;
  private logLines = 0;
  private logDropped = 0;

  constructor(mod: FilterModule, filter: ResolvedFilter, log: Logger, services?: VmServices, cost = new FilterCost()) {
    this.filter = filter;
    this.cost = cost;
    this.watchdog = services?.watchdog;
    this.fuelBudget = BigInt(filter.limits.cpu);
    this.selfFueled = CALLBACK_NAMES.map((n) => mod.entryFuel === this.fuelBudget && mod.refueling.has(`proxy_${n}`));
    this.watchIndex = services?.filterIndex?.(filter.name) ?? -1;
    this.hardTimeoutMs = filter.limits.hard_timeout_ms;
    this.services = services;
    this.module = mod;
    this.log = log.child({ filter: filter.name, rootId: filter.root_id, vmId: filter.vm_id }, { msgPrefix: 'wasm: ' });
    this.vmConfig = Buffer.from(filter.vm_config, 'utf8');
    this.pluginConfig = Buffer.from(filter.config, 'utf8');
    // the import functions get the memory object now; it is attached once the instance exists
    const memory = new GuestMemory();
    this.memory = memory;
    const host: VmHost = {
      memory,
      abi: mod.abi,
      clockResolutionNs: BigInt(filter.limits.clock_resolution_us) * 1000n,
      alloc: (size) => this.alloc(size),
      log: (level, message, admitted) => {
        if (admitted === true || this.logAdmit()) this.guestLog(level, message);
      },
      logAdmit: () => this.logAdmit(),
      logLevel: () => this.logLevel(),
      buffer: (type) => this.readable.get(type) ?? (type === BufferType.VmConfiguration ? this.vmConfig : undefined),
      property: (path) => this.property(path),
      stream: () => this.effective,
      setEffectiveContext: (id) => this.setEffectiveContext(id),
      done: () => WasmResult.NotFound, // root contexts never delay their deletion here (no pending on_done)
      setTickPeriod: (ms) => this.setTickPeriod(ms),
      httpCall: (upstream, headers, body, trailers, timeoutMs) => this.httpCall(upstream, headers, body, trailers, timeoutMs),
      callResponseMap: (type) => (type === HeaderMapType.HttpCallResponseHeaders ? this.callResponse?.headers : this.callResponse?.trailers),
      status: () => this.callStatus,
      shared: () => this.sharedView,
    };
    const { imports, report } = buildImports(mod, host);
    this.link = report;
    let instance: WebAssembly.Instance;
    try {
      instance = new WebAssembly.Instance(mod.module, imports);
    } catch (err) {
      const message = (err as Error).message;
      // the start section runs inside instantiation, metered with one callback's budget
      const hint = mod.fuelExport !== undefined && /unreachable/.test(message) ? ` (its start function trapped; it may have spent its CPU budget, limits.cpu ${filter.limits.cpu})` : '';
      throw new FilterStartError(filter.name, `cannot instantiate ${mod.file}: ${message}${hint}`, [], err);
    }
    this.exports = instance.exports as Record<string, Export>;
    memory.attach(instance.exports.memory as WebAssembly.Memory);
    if (mod.fuelExport !== undefined) {
      const fuel = instance.exports[mod.fuelExport] as WebAssembly.Global;
      this.fuel = fuel;
      // host functions run outside the meter: a large transfer is charged for its size
      memory.onTransfer = (bytes) => {
        fuel.value = (fuel.value as bigint) - BigInt(Math.ceil(bytes / TRANSFER_BYTES_PER_FUEL));
      };
    }
    if (mod.growExport !== undefined) this.lastGrow = instance.exports[mod.growExport] as WebAssembly.Global;
    if (services?.shared !== undefined) {
      const vm = this;
      this.sharedView = new VmShared(services.shared, filter.vm_id, filter.name, {
        queueReady: (id) => vm.callRoot(Callback.QueueReady, 'proxy_on_queue_ready', id),
        get alive() {
          return !vm.failed;
        },
      });
      let warned = false;
      this.sharedView.onFull = () => {
        if (warned) return;
        warned = true;
        this.log.warn('the shared data store is full: new keys and queue items are refused (raise shared_data.max_entries / max_bytes)');
      };
    }
    const e = this.exports;
    this.callbacks = {
      onContextCreate: e.proxy_on_context_create,
      onRequestHeaders: e.proxy_on_request_headers,
      onRequestBody: e.proxy_on_request_body,
      onRequestTrailers: e.proxy_on_request_trailers,
      onResponseHeaders: e.proxy_on_response_headers,
      onResponseBody: e.proxy_on_response_body,
      onResponseTrailers: e.proxy_on_response_trailers,
      onLog: e.proxy_on_log,
      onDone: e.proxy_on_done,
      onDelete: e.proxy_on_delete,
    };
  }

  /** The allocator export, looked up once (a keyed load from the exports object costs on every call). */
  private allocator: Export | undefined = undefined;

  /** Allocates in the guest through its allocator export; 0 when it fails. */
  private alloc(size: number): number {
    const p = (this.allocator ??= this.exports[this.module.allocator]!)(size >>> 0);
    return typeof p === 'number' ? p >>> 0 : 0;
  }

  /** Runs the module's initializer: `_initialize` (then `main` if exported) for reactors, `_start` otherwise. */
  initialize(): void {
    if (this.exports._initialize !== undefined) {
      this.startCall('_initialize');
      if (this.exports.main !== undefined) this.startCall('main', 0, 0);
    } else if (this.exports._start !== undefined) {
      this.startCall('_start');
    }
  }

  /** Creates the root context and runs proxy_on_vm_start and proxy_on_configure. */
  startRootContext(): number {
    const root = this.nextContextId++;
    this.rootContextId = root;
    this.startCall('proxy_on_context_create', root, 0);
    this.readable = new Map([[BufferType.VmConfiguration, this.vmConfig]]);
    try {
      if (this.startCall('proxy_on_vm_start', root, this.vmConfig.length) === 0) this.refuse('proxy_on_vm_start returned false');
      this.readable = new Map([
        [BufferType.VmConfiguration, this.vmConfig],
        [BufferType.PluginConfiguration, this.pluginConfig],
      ]);
      if (this.startCall('proxy_on_configure', root, this.pluginConfig.length) === 0) this.refuse('proxy_on_configure returned false (the filter refused its configuration)');
    } finally {
      this.readable = new Map();
    }
    return root;
  }

  /** A new stream context id (ids are never reused while the VM lives). */
  newContextId(): number {
    return this.nextContextId++;
  }

  /** Registers a stream context so proxy_set_effective_context can find it. */
  addStream(ctx: StreamContext): void {
    ctx.vmSlot = this.streams.length;
    this.streams.push(ctx);
  }

  removeStream(ctx: StreamContext): void {
    const list = this.streams;
    const i = ctx.vmSlot;
    if (i >= 0 && list[i] === ctx) {
      const last = list.pop()!;
      if (last !== ctx) {
        list[i] = last;
        last.vmSlot = i;
      }
      ctx.vmSlot = -1;
    }
    if (this.effective === ctx) this.effective = undefined;
  }

  /**
   * Calls a stream callback with the stream's context as the effective one. Returns the callback's
   * result (as u32), or TRAPPED when the VM failed (now or before). Deferred work runs afterwards.
   */
  call(cb: Callback, fn: Export, ctx: StreamContext, a: number, b: number, c: number): number {
    return this.enter(cb, fn, ctx, ctx.id, a, b, c, 0);
  }

  /**
   * Every call into a callback: the CPU budget set, the effective context (undefined: the root), the
   * watchdog told, the call counted (and timed one in TIME_SAMPLE: two clock reads cost about as much as
   * a small callback), a trap turned into the VM's failure, deferred work run once the outermost returns.
   */
  private enter(cb: Callback, fn: Export, ctx: StreamContext | undefined, id: number, a: number, b: number, c: number, d: number): number {
    if (this.failed) return TRAPPED;
    // each callback's CPU budget, unless the callback sets it itself (callbacks only run at depth 0: what
    // a host call makes happen in the VM waits until the callback returns; the allocator is no callback)
    if (this.depth === 0 && this.fuel !== undefined && !this.selfFueled[cb]) this.fuel.value = this.fuelBudget;
    const outer = this.effective;
    this.effective = ctx;
    this.depth++;
    let r: number | undefined;
    // each callback is timed one in TIME_SAMPLE of its own calls: a stream makes the same calls in the
    // same order, so one count over all of them would always time the same callback
    const timed = ACCOUNTING && (++this.cost.calls[cb]! & (TIME_SAMPLE - 1)) === 0;
    const t0 = timed ? performance.now() : 0;
    const w = this.watchStart();
    try {
      r = fn(id, a, b, c, d);
    } catch (err) {
      this.fail(err, cb, ctx);
      r = TRAPPED;
    } finally {
      this.depth--;
      this.effective = outer;
      if (timed) this.cost.record(cb, performance.now() - t0, TIME_SAMPLE);
      if (w !== undefined) w[1]!++;
    }
    if (this.depth === 0 && this.deferred.length > 0) this.runDeferred();
    // the VM failed during the call (in a nested call into it, e.g. its allocator): the callback failed too
    if (this.failed && r !== TRAPPED) return TRAPPED;
    return r === undefined ? 0 : r === TRAPPED ? TRAPPED : r >>> 0;
  }

  /** Queues work until the outermost callback returns (Envoy's after-VM-call actions). */
  defer(action: () => void): void {
    if (this.depth === 0) action();
    else this.deferred.push(action);
  }

  private runDeferred(): void {
    const actions = this.deferred.splice(0);
    for (const a of actions) a();
  }

  /** proxy_http_call: to an upstream named in gateway.yaml, answered later in proxy_on_http_call_response. */
  private httpCall(name: string, headers: string[], body: Buffer, trailers: string[], timeoutMs: number): { result: WasmResult; token: number } {
    void trailers; // undici cannot send request trailers over HTTP/1.1: they are dropped
    const services = this.services;
    if (services === undefined) return { result: WasmResult.Unimplemented, token: 0 };
    const upstream = services.upstream(name);
    if (upstream === undefined) return { result: WasmResult.BadArgument, token: 0 };
    let method: string | undefined;
    let path: string | undefined;
    let authority: string | undefined;
    const list: string[] = [];
    for (let i = 0; i < headers.length; i += 2) {
      const n = headers[i]!;
      const v = headers[i + 1]!;
      if (n === ':method') method = v;
      else if (n === ':path') path = v;
      else if (n === ':authority' || n === 'host') authority ??= v;
      else if (n.charCodeAt(0) !== 58 && n !== 'content-length' && n !== 'transfer-encoding' && n !== 'connection') list.push(n, v);
    }
    if (method === undefined || path === undefined || authority === undefined || method === '' || path === '') {
      return { result: WasmResult.BadArgument, token: 0 };
    }
    list.push('host', authority);
    // as Envoy's circuit breakers (1024 pending requests by default): a VM cannot flood an upstream
    if (this.pendingCalls >= MAX_PENDING_CALLS) return { result: WasmResult.InternalFailure, token: 0 };
    // tokens as Envoy numbers them: 4, 8, 12, ...
    this.nextCallToken = (this.nextCallToken + 4) >>> 0 || 4;
    const token = this.nextCallToken;
    this.pendingCalls++;
    this.cost.httpCalls++;
    const started = performance.now();
    services.sendCall({ upstream, method, path, headers: list, body, timeoutMs, maxBodyBytes: services.maxCallBodyBytes }, (r) => {
      this.pendingCalls--;
      this.cost.recordCall(performance.now() - started, r.kind === 'failure');
      // an answer known at once (undici reports some failures synchronously) waits until the callback that
      // made the call has returned: the filter must have its token before the answer comes
      this.defer(() => this.deliverCall(token, r));
    });
    return { result: WasmResult.Ok, token };
  }

  private deliverCall(token: number, r: CallResult): void {
    if (this.failed) return; // a failed or closed VM is never called again
    if (r.kind === 'failure') {
      this.callStatus = { code: WasmResult.BrokenConnection, message: r.message };
      this.callResponse = { headers: new HeaderMap(), trailers: new HeaderMap() };
      this.readable = new Map([[BufferType.HttpCallResponseBody, EMPTY]]);
      try {
        this.callRoot(Callback.HttpCallResponse, 'proxy_on_http_call_response', token, 0, 0, 0);
      } finally {
        this.endCallDelivery();
      }
      return;
    }
    const headers = new HeaderMap();
    for (let i = 0; i < r.headers.length; i += 2) headers.add(r.headers[i]!, r.headers[i + 1]!);
    const trailers = new HeaderMap([], r.trailers);
    this.callStatus = { code: WasmResult.Ok, message: '' };
    this.callResponse = { headers, trailers };
    this.readable = new Map([[BufferType.HttpCallResponseBody, r.body]]);
    try {
      this.callRoot(Callback.HttpCallResponse, 'proxy_on_http_call_response', token, headers.size, r.body.length, trailers.size);
    } finally {
      this.endCallDelivery();
    }
  }

  private endCallDelivery(): void {
    this.callResponse = undefined;
    this.callStatus = { code: 0, message: '' };
    this.readable = new Map();
  }

  /** A call into the root context (ticks, queues, http call responses), if the module exports it. */
  private callRoot(cb: Callback, name: string, a = 0, b = 0, c = 0, d = 0): void {
    const fn = this.exports[name];
    if (fn !== undefined) this.enter(cb, fn, undefined, this.rootContextId, a, b, c, d);
  }

  private failureKind: 'cpu' | 'memory' | undefined = undefined;

  private fail(err: unknown, cb: Callback, ctx?: StreamContext): void {
    if (this.failed) return;
    this.failed = true;
    this.failedIn = ctx;
    const d = this.describe(err);
    this.failureKind = d.kind === 'trap' ? undefined : d.kind;
    this.failure = d.reason;
    this.cost.failure(d.cause);
    this.stopTicks();
    this.sharedView?.release();
    // the other streams on this VM: those paused on it (waiting on a call, a tick, a queue) fail now, as
    // Envoy fails them, instead of waiting for a continue that will never come; the others fail at their
    // next callback. After the current call has returned: their runs are not re-entered from inside it.
    const others = this.streams.filter((s) => s !== ctx);
    if (others.length > 0) {
      queueMicrotask(() => {
        for (const s of others) s.vmFailed();
      });
    }
    // one line per failure: the filter (logger bindings), the callback, the request, the wasm stack
    const stack = err instanceof Error && err.stack !== undefined ? err.stack.split('\n').filter((l) => l.includes('wasm://')).slice(0, 8) : [];
    this.log.error({ callback: CALLBACK_NAMES[cb], reqId: ctx?.requestId, wasmStack: stack.length > 0 ? stack.map((l) => l.trim()) : undefined }, `VM failed: ${this.failure}`);
    this.onFailure?.(this);
  }

  /** Why a call into the guest threw: the CPU budget, memory at its limit, an exit, or another trap. */
  private describe(err: unknown): { kind: 'cpu' | 'memory' | 'trap'; reason: string; cause: string } {
    if (this.outOfFuel()) return { kind: 'cpu', reason: `spent its CPU budget (limits.cpu ${this.filter.limits.cpu})`, cause: 'cpu_exhausted' };
    const message = err instanceof Error ? err.message : String(err);
    const exit = err instanceof GuestExit;
    const cause = failureCause(err, exit ? err.exitCode : undefined);
    if (cause === 'unreachable' || cause === 'abort' || cause === 'exit' || cause === 'trap') {
      // an abort after memory.grow was refused (metered modules record it), or with memory at its limit,
      // is the allocator failing: the module ran out of memory
      const max = this.module.memoryMaxBytes;
      const refused = this.lastGrow !== undefined && Number(this.lastGrow.value) === -1;
      if (refused || (max !== undefined && this.memory.byteLength + 65536 > max)) {
        return { kind: 'memory', reason: `ran out of memory (limits.memory_mb ${this.filter.limits.memory_mb}): ${message}`, cause: 'memory_exhausted' };
      }
    }
    return { kind: 'trap', reason: exit ? message : `trapped: ${message}`, cause };
  }

  /** What kind of failure this VM had: the CPU budget, the memory limit, or another trap. */
  get failureClass(): 'cpu' | 'memory' | 'trap' {
    if (this.failureKind !== undefined) return this.failureKind;
    return 'trap';
  }

  /** Tells the main thread's watchdog a call into this filter starts (the caller counts its end in w[1]). */
  private watchStart(): Int32Array | undefined {
    const w = this.watchdog;
    if (w !== undefined) {
      w[2] = this.watchIndex;
      w[3] = this.hardTimeoutMs;
      w[0]!++;
    }
    return w;
  }

  /** The metering counter went below zero: the trap was the CPU budget running out. */
  private outOfFuel(): boolean {
    return this.fuel !== undefined && (this.fuel.value as bigint) < 0n;
  }

  private setEffectiveContext(id: number): WasmResult {
    if (id === this.rootContextId) {
      this.effective = undefined;
      return WasmResult.Ok;
    }
    // rare (an http-call response made effective by the SDK): a scan of the live streams
    for (const ctx of this.streams) {
      if (ctx.id === id) {
        this.effective = ctx;
        return WasmResult.Ok;
      }
    }
    return WasmResult.BadArgument;
  }

  private setTickPeriod(ms: number): WasmResult {
    this.tickMs = ms;
    this.stopTicks();
    if (ms > 0 && !this.failed) this.armTick();
    return WasmResult.Ok;
  }

  private armTick(): void {
    this.tickTimer = setTimeout(() => {
      this.tickTimer = undefined;
      this.callRoot(Callback.Tick, 'proxy_on_tick');
      // re-armed after each tick returns (no catch-up), unless the tick changed or cleared the period
      if (this.tickMs > 0 && this.tickTimer === undefined && !this.failed) this.armTick();
    }, this.tickMs);
    this.tickTimer.unref();
  }

  private stopTicks(): void {
    if (this.tickTimer !== undefined) clearTimeout(this.tickTimer);
    this.tickTimer = undefined;
  }

  /** The root context's end (a reload replaced this VM): proxy_on_done, then proxy_on_delete. */
  shutdownRoot(): void {
    if (this.failed) return;
    this.stopTicks();
    this.callRoot(Callback.Done, 'proxy_on_done');
    this.callRoot(Callback.Delete, 'proxy_on_delete');
  }

  /** Stops the VM's timers: it will not be called again. */
  close(): void {
    this.stopTicks();
    this.sharedView?.release();
    this.failed = true;
    if (this.failure === '') this.failure = 'closed';
  }

  /** Calls an export during start-up; a missing callback answers `undefined`. Traps become FilterStartError. */
  private startCall(name: string, ...args: number[]): number | undefined {
    const fn = this.exports[name];
    if (fn === undefined) return undefined;
    if (this.fuel !== undefined) this.fuel.value = this.fuelBudget;
    const w = this.watchStart();
    try {
      return fn(...args);
    } catch (err) {
      if (err instanceof GuestExit && err.exitCode === 0 && name === '_start') return undefined; // a command that finished
      this.refuse(`${name} ${this.describe(err).reason}`, err);
    } finally {
      if (w !== undefined) w[1]!++;
    }
  }

  private refuse(reason: string, cause?: unknown): never {
    throw new FilterStartError(this.filter.name, reason, [...this.recent], cause);
  }

  /** A log flood is cut at LOG_LINES_PER_SECOND per VM; what was dropped is said once a second. */
  private logAdmit(): boolean {
    const now = Date.now();
    if (now - this.logWindow >= 1000) {
      if (this.logDropped > 0) this.log.warn({ dropped: this.logDropped }, `filter log lines dropped (over ${LOG_LINES_PER_SECOND}/s)`);
      this.logWindow = now;
      this.logLines = 0;
      this.logDropped = 0;
    }
    if (++this.logLines > LOG_LINES_PER_SECOND) {
      this.logDropped++;
      this.cost.logDropped++;
      return false;
    }
    return true;
  }

  private guestLog(level: LogLevel, message: string): void {
    if (this.recent.length === RECENT_LINES) this.recent.shift();
    this.recent.push(`[${PINO_LEVELS[level]}] ${message}`);
    this.log[PINO_LEVELS[level]](message);
  }

  private logLevel(): number {
    const i = PINO_LEVELS.indexOf(this.log.level as (typeof PINO_LEVELS)[number]);
    return i === -1 ? 6 : i; // "silent" is above critical
  }

  private property(path: readonly string[]): Buffer | undefined {
    if (path.length === 1) {
      switch (path[0]) {
        case 'plugin_name':
          return Buffer.from(this.filter.name);
        case 'plugin_root_id':
          return Buffer.from(this.filter.root_id);
        case 'plugin_vm_id':
          return Buffer.from(this.filter.vm_id);
      }
    }
    return this.effective?.property(path);
  }
}

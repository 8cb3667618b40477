// The callbacks the host calls (PROXY-WASM.md §4), dispatching to the contexts the filter registered.
// Every callback tolerates a context id it does not know (a stream the root chose not to filter, a
// late HTTP call response): it does nothing and answers Continue. None of them traps by itself.
// exports.ts re-exports the ones every filter needs; a filter exports the body and trailer callbacks
// itself, only when it implements them (a host streams bodies past filters that do not export them).
import { FilterDataStatus, FilterHeadersStatus, FilterTrailersStatus } from "./constants";
import { Context, HttpCallResponse, HttpContext, RootContext, takePendingCall } from "./context";
import { proxy_set_effective_context } from "./imports";
import { log } from "./log";
import { allocate } from "./memory";
import { getPropertyString } from "./properties";

/** Makes the root context of one plugin (one configured filter). */
export type RootContextFactory = (id: u32) => RootContext;

class Registration {
  constructor(public readonly rootId: string, public readonly factory: RootContextFactory) {}
}

const registrations = new Array<Registration>();
const roots = new Map<u32, RootContext>();
const streams = new Map<u32, HttpContext>();

/**
 * Registers the root context implementation for plugins configured with `rootId` (the filter's
 * `root_id`). Call it from the filter's top-level code. A plugin whose root_id matches no registration
 * gets the one registered with "" (the default); with root_id "" and a single registration, that one.
 */
export function registerRootContext(factory: RootContextFactory, rootId: string = ""): void {
  registrations.push(new Registration(rootId, factory));
}

function findFactory(rootId: string): RootContextFactory | null {
  let fallback: RootContextFactory | null = null;
  for (let i = 0; i < registrations.length; i++) {
    const r = registrations[i];
    if (r.rootId == rootId) return r.factory;
    if (r.rootId == "") fallback = r.factory;
  }
  if (fallback === null && rootId == "" && registrations.length == 1) fallback = registrations[0].factory;
  return fallback;
}

// The root looked up last: a plugin has one root context, and every stream's creation names it.
let lastRootId: u32 = 0;
let lastRoot: RootContext | null = null;

function rootOf(id: u32): RootContext | null {
  if (id == lastRootId && lastRoot !== null) return lastRoot;
  if (!roots.has(id)) return null;
  const root = roots.get(id);
  lastRootId = id;
  lastRoot = root;
  return root;
}

function forgetRoot(id: u32): void {
  roots.delete(id);
  if (id == lastRootId) {
    lastRootId = 0;
    lastRoot = null;
  }
}

// Live streams: the host numbers contexts one after another, so a stream goes in the slot of its id's
// low bits, found and removed without hashing; the rare stream whose slot is taken by a live one goes in
// the map. One slot per stream a VM can have in flight at once, in the common case.
const SLOTS: i32 = 1024;
const slotIds = new StaticArray<u32>(SLOTS);
const slotStreams = new StaticArray<HttpContext | null>(SLOTS);

function rememberStream(id: u32, stream: HttpContext): void {
  const i = <i32>(id & <u32>(SLOTS - 1));
  if (unchecked(slotIds[i]) == 0) {
    unchecked((slotIds[i] = id));
    unchecked((slotStreams[i] = stream));
  } else {
    streams.set(id, stream);
  }
}

function streamOf(id: u32): HttpContext | null {
  const i = <i32>(id & <u32>(SLOTS - 1));
  if (unchecked(slotIds[i]) == id && id != 0) return unchecked(slotStreams[i]);
  if (streams.size == 0 || !streams.has(id)) return null;
  return streams.get(id);
}

function forgetStream(id: u32): void {
  const i = <i32>(id & <u32>(SLOTS - 1));
  if (unchecked(slotIds[i]) == id && id != 0) {
    unchecked((slotIds[i] = 0));
    unchecked((slotStreams[i] = null));
  } else if (streams.size > 0) {
    streams.delete(id);
  }
}

// ---- ABI marker and allocator -------------------------------------------------------------------

/** Tells the host this module speaks proxy-wasm ABI 0.2.1. Never called. */
export function proxy_abi_version_0_2_1(): void {}

/** The host allocates the data it returns here (freed by the SDK once copied). 0 = out of memory. */
export function proxy_on_memory_allocate(size: usize): usize {
  return allocate(size);
}

// ---- lifecycle ----------------------------------------------------------------------------------

export function proxy_on_context_create(contextId: u32, parentId: u32): void {
  if (parentId == 0) {
    const property = getPropertyString(["plugin_root_id"]);
    const rootId = property !== null ? property : "";
    const factory = findFactory(rootId);
    if (factory === null) {
      log.error("no root context registered for root_id \"" + rootId + "\"");
      return;
    }
    roots.set(contextId, factory(contextId));
    return;
  }
  const root = rootOf(parentId);
  if (root === null) return;
  const stream = root.createHttpContext(contextId);
  if (stream !== null) {
    rememberStream(contextId, stream);
  }
}

export function proxy_on_vm_start(rootId: u32, vmConfigurationSize: u32): u32 {
  const root = rootOf(rootId);
  if (root === null) {
    log.error("proxy_on_vm_start: unknown root context " + rootId.toString());
    return 0;
  }
  return root.onVmStart(vmConfigurationSize) ? 1 : 0;
}

export function proxy_on_configure(rootId: u32, configurationSize: u32): u32 {
  const root = rootOf(rootId);
  if (root === null) {
    log.error("proxy_on_configure: unknown root context " + rootId.toString());
    return 0;
  }
  return root.onConfigure(configurationSize) ? 1 : 0;
}

export function proxy_on_tick(rootId: u32): void {
  const root = rootOf(rootId);
  if (root !== null) root.onTick();
}

/** An item was enqueued on a queue this root registered (delivered to the root, never to a stream). */
export function proxy_on_queue_ready(rootId: u32, queueId: u32): void {
  const root = rootOf(rootId);
  if (root !== null) root.onQueueReady(queueId);
}

export function proxy_on_log(contextId: u32): void {
  const stream = streamOf(contextId);
  if (stream !== null) stream.onLog();
}

export function proxy_on_done(contextId: u32): u32 {
  const stream = streamOf(contextId);
  if (stream !== null) {
    stream.onDone();
    return 1;
  }
  const root = rootOf(contextId);
  if (root !== null) return root.onDone() ? 1 : 0;
  return 1;
}

export function proxy_on_delete(contextId: u32): void {
  const stream = streamOf(contextId);
  if (stream !== null) {
    stream.onDelete();
    forgetStream(contextId);
    return;
  }
  const root = rootOf(contextId);
  if (root !== null) {
    root.onDelete();
    forgetRoot(contextId);
  }
}

// ---- HTTP stream --------------------------------------------------------------------------------

export function proxy_on_request_headers(contextId: u32, numHeaders: u32, endOfStream: u32): u32 {
  const stream = streamOf(contextId);
  return stream !== null ? stream.onRequestHeaders(numHeaders, endOfStream != 0) : FilterHeadersStatus.Continue;
}

export function proxy_on_request_body(contextId: u32, bodySize: u32, endOfStream: u32): u32 {
  const stream = streamOf(contextId);
  return stream !== null ? stream.onRequestBody(bodySize, endOfStream != 0) : FilterDataStatus.Continue;
}

export function proxy_on_request_trailers(contextId: u32, numTrailers: u32): u32 {
  const stream = streamOf(contextId);
  return stream !== null ? stream.onRequestTrailers(numTrailers) : FilterTrailersStatus.Continue;
}

export function proxy_on_response_headers(contextId: u32, numHeaders: u32, endOfStream: u32): u32 {
  const stream = streamOf(contextId);
  return stream !== null ? stream.onResponseHeaders(numHeaders, endOfStream != 0) : FilterHeadersStatus.Continue;
}

export function proxy_on_response_body(contextId: u32, bodySize: u32, endOfStream: u32): u32 {
  const stream = streamOf(contextId);
  return stream !== null ? stream.onResponseBody(bodySize, endOfStream != 0) : FilterDataStatus.Continue;
}

export function proxy_on_response_trailers(contextId: u32, numTrailers: u32): u32 {
  const stream = streamOf(contextId);
  return stream !== null ? stream.onResponseTrailers(numTrailers) : FilterTrailersStatus.Continue;
}

// ---- HTTP callouts ------------------------------------------------------------------------------

/**
 * An httpCall finished. It is delivered to the root; the SDK finds the context that made the call,
 * makes it the effective context (so header/body/continue calls act on that stream) and runs the
 * callback. A response for a stream that is gone already is dropped.
 */
export function proxy_on_http_call_response(rootId: u32, token: u32, numHeaders: u32, bodySize: u32, numTrailers: u32): void {
  const call = takePendingCall(token);
  if (call === null) return;
  let origin: Context | null = streamOf(call.contextId);
  if (origin !== null) {
    proxy_set_effective_context(call.contextId);
  } else {
    origin = rootOf(call.contextId);
    if (origin === null) return;
  }
  const callback = call.callback;
  callback(origin, new HttpCallResponse(token, numHeaders, bodySize, numTrailers));
}

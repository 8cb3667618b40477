// What host functions need from the VM they serve. Host functions are thin glue: they check and decode
// arguments, call one method here, encode the result and return a status. They never throw for bad
// input (that is a status); only a trap — an unknown import being called, proc_exit, an abort — throws.
import type { GuestMemory } from '../memory/codec.ts';
import type { AbiVersion, LogLevel, WasmResult } from '../abi/constants.ts';
import type { HeaderMap } from '../../http/header-map.ts';
import type { BodyBuffer } from '../../http/body-buffer.ts';
import type { VmShared } from '../shared/vm-shared.ts';

export interface VmHost {
  readonly memory: GuestMemory;
  /** The ABI version the module was built for (a few answers differ in 0.1.0). */
  readonly abi: AbiVersion;
  /** The finest clock the filter may read, in nanoseconds (limits.clock_resolution_us). */
  readonly clockResolutionNs: bigint;
  /** Allocates `size` bytes in the guest through its allocator; 0 on failure. May grow memory. */
  alloc(size: number): number;
  /** A line of the filter's log (`admitted`: logAdmit already said yes to it). */
  log(level: LogLevel, message: string, admitted?: boolean): void;
  /** False when the VM is over its log-line rate (the line is counted as dropped): skip decoding it. */
  logAdmit(): boolean;
  /** The proxy-wasm log level the filter's logger is at (0 trace … 5 critical). */
  logLevel(): number;
  /** Bytes of a non-stream buffer (configuration) readable now, or undefined when not available. */
  buffer(type: number): Buffer | undefined;
  /** A property's serialized value, or undefined (NotFound). `path` holds the NUL-separated segments. */
  property(path: readonly string[]): Buffer | undefined;
  /** The stream context host calls act on now (the effective context), or undefined in a root context. */
  stream(): StreamHost | undefined;
  setEffectiveContext(id: number): WasmResult;
  /** proxy_done: the root finished the shutdown it delayed. */
  done(): WasmResult;
  setTickPeriod(ms: number): WasmResult;
  /** proxy_http_call: starts a call (the answer comes later to the root context). */
  httpCall(upstream: string, headers: string[], body: Buffer, trailers: string[], timeoutMs: number): { result: WasmResult; token: number };
  /** The http-call response maps (6 headers, 7 trailers) while proxy_on_http_call_response runs. */
  callResponseMap(type: number): HeaderMap | undefined;
  /** proxy_get_status: the status of the call whose response is being delivered. */
  status(): { code: number; message: string };
  /** The VM's view of shared data, queues and metrics; undefined without shared state. */
  shared(): VmShared | undefined;
}

/** One HTTP stream as one filter sees it: what the stream host calls read and change. */
export interface StreamHost {
  /**
   * The header map of `type` (0 request headers … 3 response trailers), or a status when it cannot be
   * read (`forWrite` false) or changed (`forWrite` true) in the current phase.
   */
  headerMap(type: number, forWrite: boolean): HeaderMap | WasmResult;
  /** The body buffer of `type` readable (and writable) now, or undefined. */
  body(type: number): BodyBuffer | undefined;
  /** Queues a local reply (sent once the callback returns; Ok, as Envoy answers). */
  sendLocalResponse(status: number, details: string, body: Buffer, headers: string[], grpcStatus: number): WasmResult;
  /** The most bytes a body buffer may hold after a filter writes it (twice server.max_buffer_bytes). */
  readonly bodyLimit: number;
  continueStream(type: number): WasmResult;
  closeStream(type: number): WasmResult;
  property(path: readonly string[]): Buffer | undefined;
  setProperty(path: string, value: Buffer): WasmResult;
}

/** Thrown by host functions to stop the guest: the call that was running fails as a trap. */
export class GuestExit extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number) {
    super(message);
    this.name = 'GuestExit';
    this.exitCode = exitCode;
  }
}

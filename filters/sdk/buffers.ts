// Buffers: request/response bodies (readable in the body callbacks), the plugin and VM configuration
// (readable in onConfigure / onVmStart), and an HTTP call's response body.
import { BufferType, WasmResult } from "./constants";
import { proxy_get_buffer_bytes, proxy_get_buffer_status, proxy_set_buffer_bytes } from "./imports";
import { RET_DATA, RET_SIZE, clearRet, ptrOf, takeBytes, takeString } from "./memory";

/** "To the end" for start/size arguments, as the Go SDK passes it (PROXY-WASM.md §3.4). */
export const BUFFER_END: u32 = 0x7fffffff;

/** Bytes [start, start+maxSize) of a buffer (clamped to its length), or null when it is unavailable now. */
export function getBuffer(type: BufferType, start: u32, maxSize: u32): ArrayBuffer | null {
  clearRet();
  if (proxy_get_buffer_bytes(type, start, maxSize, RET_DATA, RET_SIZE) != WasmResult.Ok) return null;
  return takeBytes();
}

/** Like getBuffer, decoded as UTF-8. */
export function getBufferString(type: BufferType, start: u32, maxSize: u32): string | null {
  clearRet();
  if (proxy_get_buffer_bytes(type, start, maxSize, RET_DATA, RET_SIZE) != WasmResult.Ok) return null;
  return takeString();
}

/** Current length of a buffer, or -1 when it is unavailable now. */
export function getBufferLength(type: BufferType): i64 {
  clearRet();
  if (proxy_get_buffer_status(type, RET_DATA, RET_SIZE) != WasmResult.Ok) return -1;
  return <i64>load<u32>(RET_DATA);
}

/**
 * Raw proxy_set_buffer_bytes: replaces `size` bytes at `start` with `data`. Hosts reliably support
 * only the shapes the helpers below use: start 0 (drop `size` bytes, then prepend) and start ≥ length
 * (append).
 */
export function setBuffer(type: BufferType, start: u32, size: u32, data: ArrayBuffer): WasmResult {
  return <WasmResult>proxy_set_buffer_bytes(type, start, size, ptrOf(data), data.byteLength);
}

/** Replaces the whole buffer (start 0, size "to the end"). */
export function replaceBuffer(type: BufferType, data: ArrayBuffer): WasmResult {
  return setBuffer(type, 0, BUFFER_END, data);
}

/** Appends to the buffer (start past the end, size 0). */
export function appendBuffer(type: BufferType, data: ArrayBuffer): WasmResult {
  return setBuffer(type, BUFFER_END, 0, data);
}

/** Prepends to the buffer (start 0, size 0). */
export function prependBuffer(type: BufferType, data: ArrayBuffer): WasmResult {
  return setBuffer(type, 0, 0, data);
}

// Body shorthands. Valid in the matching body callback (or while that direction is paused in it).
// After changing a body's length, make sure no stale content-length goes out: remove it in the headers
// callback (the host then re-frames the message).

/** The request body received so far: `bodySize` is the size onRequestBody was given. */
export function getRequestBody(bodySize: u32): ArrayBuffer | null {
  return getBuffer(BufferType.HttpRequestBody, 0, bodySize);
}
export function getResponseBody(bodySize: u32): ArrayBuffer | null {
  return getBuffer(BufferType.HttpResponseBody, 0, bodySize);
}
export function replaceRequestBody(data: ArrayBuffer): WasmResult {
  return replaceBuffer(BufferType.HttpRequestBody, data);
}
export function replaceResponseBody(data: ArrayBuffer): WasmResult {
  return replaceBuffer(BufferType.HttpResponseBody, data);
}
export function appendRequestBody(data: ArrayBuffer): WasmResult {
  return appendBuffer(BufferType.HttpRequestBody, data);
}
export function appendResponseBody(data: ArrayBuffer): WasmResult {
  return appendBuffer(BufferType.HttpResponseBody, data);
}
export function prependRequestBody(data: ArrayBuffer): WasmResult {
  return prependBuffer(BufferType.HttpRequestBody, data);
}
export function prependResponseBody(data: ArrayBuffer): WasmResult {
  return prependBuffer(BufferType.HttpResponseBody, data);
}

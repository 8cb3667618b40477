// env host functions available in every phase: logging, time, buffers (configuration, and the body of
// the stream in a stream context) and properties. One thin function per import (see types.ts for the rules).
import { BufferType, LogLevel, WasmResult } from '../abi/constants.ts';
import { copyNothing, copyOut, copyOutWith } from './output.ts';
import type { VmHost } from './types.ts';
import { wallClockNs } from './clock.ts';

type HostFn = (...args: number[]) => number;

const MAX_LOG_BYTES = 64 * 1024;

export function generalImports(host: VmHost): Record<string, HostFn> {
  const mem = host.memory;
  return {
    proxy_log(level, ptr, len) {
      if (level >>> 0 > LogLevel.Critical) return WasmResult.BadArgument;
      if (!mem.inBounds(ptr, len)) return WasmResult.InvalidMemoryAccess;
      // a line over the rate limit is dropped before it is decoded (a flood costs no decoding)
      if (!host.logAdmit()) return WasmResult.Ok;
      const msg = mem.utf8(ptr, Math.min(len >>> 0, MAX_LOG_BYTES));
      if (msg === undefined) return WasmResult.InvalidMemoryAccess;
      host.log(level as LogLevel, msg, true);
      return WasmResult.Ok;
    },
    proxy_get_log_level(retPtr) {
      return mem.writeU32(retPtr, host.logLevel()) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
    },
    proxy_get_current_time_nanoseconds(retPtr) {
      const ns = wallClockNs(host.clockResolutionNs);
      return mem.writeU64(retPtr, ns) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
    },
    proxy_get_buffer_bytes(type, start, maxSize, retPtrPtr, retSizePtr) {
      if (type >>> 0 > BufferType.CallData) return WasmResult.BadArgument;
      // start + maxSize past the end reads to the end (SDKs ask for "everything" with a max of u32::MAX);
      // as cpp-host, nothing to copy is Ok with the out-params left as the caller set them
      start >>>= 0;
      maxSize >>>= 0;
      if (type === BufferType.HttpRequestBody || type === BufferType.HttpResponseBody) {
        const body = host.stream()?.body(type);
        if (body === undefined) return WasmResult.NotFound;
        // straight from the chunks into the guest: a buffered body is not joined first
        const size = start >= body.length ? 0 : Math.min(body.length - start, maxSize);
        if (size === 0) return copyNothing(host, retPtrPtr, retSizePtr);
        return copyOutWith(host, size, (dst) => body.copyTo(dst, start), retPtrPtr, retSizePtr);
      }
      const buf = host.buffer(type);
      if (buf === undefined) return WasmResult.NotFound;
      if (start >= buf.length || maxSize === 0) return copyNothing(host, retPtrPtr, retSizePtr);
      return copyOut(host, buf.subarray(start, Math.min(buf.length, start + maxSize)), retPtrPtr, retSizePtr);
    },
    proxy_get_buffer_status(type, retLenPtr, retFlagsPtr) {
      if (type >>> 0 > BufferType.CallData) return WasmResult.BadArgument;
      const length =
        type === BufferType.HttpRequestBody || type === BufferType.HttpResponseBody ? host.stream()?.body(type)?.length : host.buffer(type)?.length;
      if (length === undefined) return WasmResult.NotFound;
      if (!mem.writeU32(retLenPtr, length) || !mem.writeU32(retFlagsPtr, 0)) return WasmResult.InvalidMemoryAccess;
      return WasmResult.Ok;
    },
    // 0.1.0: the plugin configuration during on_configure, else the VM configuration
    proxy_get_configuration(retPtrPtr, retSizePtr) {
      const buf = host.buffer(BufferType.PluginConfiguration) ?? host.buffer(BufferType.VmConfiguration) ?? Buffer.alloc(0);
      return copyOut(host, buf, retPtrPtr, retSizePtr);
    },
    proxy_get_property(pathPtr, pathLen, retPtrPtr, retSizePtr) {
      const raw = mem.latin1(pathPtr, pathLen);
      if (raw === undefined) return WasmResult.InvalidMemoryAccess;
      const path = propertyPath(raw);
      const value = host.property(path);
      if (value === undefined) return WasmResult.NotFound;
      return copyOut(host, value, retPtrPtr, retSizePtr);
    },
  };
}

/** Paths split lately: filters read the same few properties on every request. */
const paths = new Map<string, readonly string[]>();

/**
 * A property path's segments: NUL-separated (the ABI form; a NUL that ends the path ends its last
 * segment, as Envoy reads it: the C++ SDK ends every segment with one); a single dotted segment is
 * accepted too.
 */
export function propertyPath(raw: string): readonly string[] {
  let path = paths.get(raw);
  if (path === undefined) {
    path = raw.includes('\0') ? (raw.endsWith('\0') ? raw.slice(0, -1) : raw).split('\0') : raw.split('.');
    if (raw.length <= 128) {
      if (paths.size >= 256) paths.clear(); // a filter asking for ever new paths keeps it bounded
      paths.set(raw, path);
    }
  }
  return path;
}

// Hands bytes to the guest the proxy-wasm way: allocate in the guest, copy, and write the pointer and
// size to the two out-params. An empty value is ptr 0 / size 0 with no allocation (as cpp-host does),
// except for a buffer read with nothing to copy, which leaves the out-params alone (copyNothing).
import { WasmResult } from '../abi/constants.ts';
import type { VmHost } from './types.ts';

/** Nothing to copy (cpp-host's get_buffer_bytes): Ok with the out-params left as the guest set them. */
export function copyNothing(host: VmHost, retPtrPtr: number, retSizePtr: number): WasmResult {
  const mem = host.memory;
  return mem.inBounds(retPtrPtr, 4) && mem.inBounds(retSizePtr, 4) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
}

/** As copyOut, for `size` (> 0) bytes that `fill` writes into the guest's memory (no intermediate copy). */
export function copyOutWith(host: VmHost, size: number, fill: (dst: Uint8Array) => void, retPtrPtr: number, retSizePtr: number): WasmResult {
  const mem = host.memory;
  if (!mem.inBounds(retPtrPtr, 4) || !mem.inBounds(retSizePtr, 4)) return WasmResult.InvalidMemoryAccess;
  const ptr = host.alloc(size);
  const dst = ptr === 0 ? undefined : mem.view8(ptr, size);
  if (dst === undefined) return WasmResult.InvalidMemoryAccess;
  fill(dst);
  if (!mem.writeU32(retPtrPtr, ptr) || !mem.writeU32(retSizePtr, size)) return WasmResult.InvalidMemoryAccess;
  return WasmResult.Ok;
}

export function copyOut(host: VmHost, bytes: Uint8Array, retPtrPtr: number, retSizePtr: number): WasmResult {
  const mem = host.memory;
  if (!mem.inBounds(retPtrPtr, 4) || !mem.inBounds(retSizePtr, 4)) return WasmResult.InvalidMemoryAccess;
  if (bytes.byteLength === 0) {
    mem.writeU32(retPtrPtr, 0);
    mem.writeU32(retSizePtr, 0);
    return WasmResult.Ok;
  }
  const ptr = host.alloc(bytes.byteLength);
  if (ptr === 0 || !mem.write(ptr, bytes)) return WasmResult.InvalidMemoryAccess;
  // the allocator may have grown memory: the out-params are checked again by the writes
  if (!mem.writeU32(retPtrPtr, ptr) || !mem.writeU32(retSizePtr, bytes.byteLength)) return WasmResult.InvalidMemoryAccess;
  return WasmResult.Ok;
}

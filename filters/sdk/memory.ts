// Moving bytes across the ABI. Inputs are passed as (pointer, length) of a managed ArrayBuffer the SDK
// keeps alive for the call. Outputs are allocated by the host inside this module through
// proxy_on_memory_allocate (heap.alloc: unmanaged, invisible to the GC), then copied into a managed
// ArrayBuffer or String and freed here at once, so no host-made block outlives the call that made it.

/** The allocator the host calls to hand data to the module: unmanaged memory, freed by the SDK. */
export function allocate(size: usize): usize {
  return heap.alloc(size);
}

// Out-param slots in static memory. The host writes a pointer/size (or a scalar) here; the SDK reads it
// right after the call. Host calls are not re-entered, so one set of slots suffices.
export const RET_DATA: usize = memory.data(8);
export const RET_SIZE: usize = memory.data(8);
/** A third slot, for calls with a code and a message (proxy_get_status) or a token. */
export const RET_EXTRA: usize = memory.data(8);

/** Clears the out-params before a call, so a host that writes nothing reads as "empty". */
export function clearRet(): void {
  store<u64>(RET_DATA, 0);
  store<u64>(RET_SIZE, 0);
  store<u64>(RET_EXTRA, 0);
}

/** Takes the bytes the host returned through RET_DATA/RET_SIZE: copies them and frees the block. */
export function takeBytes(): ArrayBuffer {
  const ptr = load<usize>(RET_DATA);
  const size = load<usize>(RET_SIZE);
  if (ptr == 0) return new ArrayBuffer(0);
  const out = new ArrayBuffer(<i32>size);
  memory.copy(changetype<usize>(out), ptr, size);
  heap.free(ptr);
  return out;
}

/** Takes the bytes the host returned as a UTF-8 string, and frees the block. */
export function takeString(): string {
  const ptr = load<usize>(RET_DATA);
  const size = load<usize>(RET_SIZE);
  if (ptr == 0) return "";
  const s = String.UTF8.decodeUnsafe(ptr, size);
  heap.free(ptr);
  return s;
}

/** The UTF-8 bytes of a string (what crosses the ABI for names, values, messages and text bodies). */
// @ts-ignore: decorator
@inline
export function utf8(s: string): ArrayBuffer {
  return String.UTF8.encode(s);
}

/** Address of a managed buffer's bytes. */
// @ts-ignore: decorator
@inline
export function ptrOf(buf: ArrayBuffer): usize {
  return changetype<usize>(buf);
}

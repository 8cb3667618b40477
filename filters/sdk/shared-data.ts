// Shared data (PROXY-WASM.md §3.8): a key-value store per vm_id that every VM with that vm_id sees, in
// every worker thread. Each value carries a CAS token; a write with that token succeeds only if nobody
// wrote the key in between, which makes read-modify-write loops exact across workers:
//   for (let i = 0; i < 8; i++) {
//     const d = getSharedData(key);              // d.value null: absent (d.status NotFound)
//     ... compute `next` from d.value ...
//     const s = setSharedData(key, next, d.cas);
//     if (s != WasmResult.CasMismatch) break;    // Ok, or an error to handle
//   }
// The loop is exact for a key that does not exist yet too: getSharedData then answers CAS_ABSENT, so two
// workers creating the same key cannot both succeed (CAS 0 would let the second overwrite the first).
// There is no delete in ABI 0.2.1; write an empty value instead.
import { WasmResult } from "./constants";
import { proxy_get_shared_data, proxy_set_shared_data } from "./imports";
import { RET_DATA, RET_EXTRA, RET_SIZE, clearRet, ptrOf, takeBytes, utf8 } from "./memory";

/**
 * The CAS getSharedData answers for a missing key. Passed to setSharedData it means "create only if still
 * absent": a non-zero CAS creates a missing key, and mismatches on a key someone else created meanwhile
 * (hosts number CAS values from one counter, so an existing key has this one only after ~4 billion
 * writes). CAS 0 instead writes unconditionally.
 */
export const CAS_ABSENT: u32 = 0xffffffff;

/** What getSharedData found: a value and its CAS token, or a status saying why there is none. */
export class SharedData {
  constructor(
    /** Ok; NotFound when the key was never written; Unimplemented when the host has no shared data. */
    public readonly status: WasmResult,
    /** The bytes stored (null unless status is Ok). */
    public readonly value: ArrayBuffer | null,
    /** Pass it to setSharedData to write only if the value is still this one (CAS_ABSENT: still absent). */
    public readonly cas: u32,
  ) {}

  /** The value as UTF-8 text, or null. */
  get text(): string | null {
    const v = this.value;
    return v === null ? null : String.UTF8.decode(v);
  }
}

/** Reads `key`. */
export function getSharedData(key: string): SharedData {
  return getSharedDataBytes(utf8(key));
}

/** Reads a key given as its bytes (getSharedData encodes a string key as UTF-8 first). */
export function getSharedDataBytes(k: ArrayBuffer): SharedData {
  clearRet();
  const status = <WasmResult>proxy_get_shared_data(ptrOf(k), k.byteLength, RET_DATA, RET_SIZE, RET_EXTRA);
  if (status != WasmResult.Ok) return new SharedData(status, null, status == WasmResult.NotFound ? CAS_ABSENT : 0);
  const cas = load<u32>(RET_EXTRA);
  return new SharedData(status, takeBytes(), cas);
}

/**
 * Writes `key`. `cas` 0 writes unconditionally; otherwise the write happens only if the key still has
 * that CAS token (or does not exist), else CasMismatch: read again and retry. Hosts with a bounded store
 * (wasmgate) also answer CasMismatch when a new key does not fit: a read then still finds no key.
 */
export function setSharedData(key: string, value: ArrayBuffer, cas: u32 = 0): WasmResult {
  return setSharedDataBytes(utf8(key), value, cas);
}

/** Writes a key given as its bytes (see setSharedData). */
export function setSharedDataBytes(k: ArrayBuffer, value: ArrayBuffer, cas: u32 = 0): WasmResult {
  return <WasmResult>proxy_set_shared_data(ptrOf(k), k.byteLength, ptrOf(value), value.byteLength, cas);
}

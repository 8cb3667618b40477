// Host properties (Envoy "attributes", PROXY-WASM.md §7): a path of segments, e.g.
// ["request", "path"], ["plugin_root_id"], ["request", "headers", "x-foo"]. The path crosses the ABI
// as its segments joined by NUL; values are typed bytes (§5.3): strings raw, ints 8-byte little-endian.
import { WasmResult } from "./constants";
import { proxy_get_property, proxy_set_property } from "./imports";
import { RET_DATA, RET_SIZE, clearRet, ptrOf, takeBytes, utf8 } from "./memory";

function encodePath(path: string[]): ArrayBuffer {
  return utf8(path.join("\0"));
}

/** The raw value of a property, or null when the host has none (now). */
export function getProperty(path: string[]): ArrayBuffer | null {
  return getEncoded(encodePath(path));
}

function getEncoded(p: ArrayBuffer): ArrayBuffer | null {
  clearRet();
  if (proxy_get_property(ptrOf(p), p.byteLength, RET_DATA, RET_SIZE) != WasmResult.Ok) return null;
  return takeBytes();
}

/**
 * A property path encoded once, for a filter that reads the same property on every request:
 *   const SOURCE_ADDRESS = new Property(["source", "address"]);   // at the top level
 *   const addr = SOURCE_ADDRESS.getString();                      // per request
 * saves building and encoding the path on each read (getProperty(["source", "address"]) does both).
 */
export class Property {
  readonly encoded: ArrayBuffer;
  constructor(path: string[]) {
    this.encoded = encodePath(path);
  }

  /** As getProperty. */
  get(): ArrayBuffer | null {
    return getEncoded(this.encoded);
  }

  /** As getPropertyString. */
  getString(): string | null {
    const v = getEncoded(this.encoded);
    return v === null ? null : String.UTF8.decode(v);
  }
}

/** A string property (UTF-8), or null when absent. */
export function getPropertyString(path: string[]): string | null {
  const v = getProperty(path);
  return v === null ? null : String.UTF8.decode(v);
}

/** An int/uint/timestamp/duration property (8 bytes, little-endian), or `fallback` when absent or not 8 bytes. */
export function getPropertyI64(path: string[], fallback: i64 = 0): i64 {
  const v = getProperty(path);
  if (v === null || v.byteLength != 8) return fallback;
  return load<i64>(ptrOf(v));
}

/** A bool property (1 byte), or `fallback` when absent. */
export function getPropertyBool(path: string[], fallback: bool = false): bool {
  const v = getProperty(path);
  if (v === null || v.byteLength != 1) return fallback;
  return load<u8>(ptrOf(v)) != 0;
}

/** Stores bytes under `path` for this stream (readable later by this and other filters). */
export function setProperty(path: string[], value: ArrayBuffer): WasmResult {
  const p = encodePath(path);
  return <WasmResult>proxy_set_property(ptrOf(p), p.byteLength, ptrOf(value), value.byteLength);
}

// Header maps: request/response headers and trailers, and the headers of an HTTP call's response.
// Names and values cross the ABI as UTF-8. The host keeps names lower-case and exposes the HTTP/2
// pseudo-headers (:method, :path, :authority, :scheme; :status on responses).
import { MapType, WasmResult } from "./constants";
import {
  proxy_add_header_map_value, proxy_get_header_map_pairs, proxy_get_header_map_value,
  proxy_remove_header_map_value, proxy_replace_header_map_value, proxy_set_header_map_pairs,
} from "./imports";
import { RET_DATA, RET_SIZE, clearRet, ptrOf, takeBytes, takeString, utf8 } from "./memory";

/** One header: a name and a value. A map's pairs keep their order and may repeat a name. */
export class HeaderPair {
  constructor(public name: string, public value: string) {}
}

/**
 * A header name and value encoded once (UTF-8), for a filter that writes the same header on every
 * request: HeaderMap's setEncoded/addEncoded/removeEncoded then skip encoding and allocating per call.
 */
export class EncodedHeader {
  readonly name: ArrayBuffer;
  readonly value: ArrayBuffer;
  constructor(name: string, value: string = "") {
    this.name = utf8(name);
    this.value = utf8(value);
  }
}

/**
 * Serializes pairs in the ABI's format (PROXY-WASM.md §5.1):
 * u32 N, then N × (u32 name_len, u32 value_len), then N × (name bytes, NUL, value bytes, NUL), little-endian.
 */
export function serializePairs(pairs: HeaderPair[]): ArrayBuffer {
  const n = pairs.length;
  const encoded = new Array<ArrayBuffer>(n * 2);
  let size = 4 + n * 8;
  for (let i = 0; i < n; i++) {
    const name = utf8(pairs[i].name);
    const value = utf8(pairs[i].value);
    encoded[i * 2] = name;
    encoded[i * 2 + 1] = value;
    size += name.byteLength + value.byteLength + 2;
  }
  const out = new ArrayBuffer(size);
  const base = ptrOf(out);
  store<u32>(base, n);
  let lens = base + 4;
  let data = base + 4 + n * 8;
  for (let i = 0; i < n * 2; i++) {
    const part = encoded[i];
    const len = part.byteLength;
    store<u32>(lens, len);
    lens += 4;
    memory.copy(data, ptrOf(part), len);
    data += len;
    store<u8>(data, 0);
    data += 1;
  }
  return out;
}

/** Parses serialized pairs; malformed input (which the host never sends) yields the pairs read so far. */
export function deserializePairs(buf: ArrayBuffer): HeaderPair[] {
  const out = new Array<HeaderPair>();
  const size = <usize>buf.byteLength;
  if (size < 4) return out;
  const base = ptrOf(buf);
  const n = <usize>load<u32>(base);
  if (n > (size - 4) / 8) return out;
  let lens = base + 4;
  let data = base + 4 + n * 8;
  const end = base + size;
  for (let i: usize = 0; i < n; i++) {
    const nameLen = <usize>load<u32>(lens);
    const valueLen = <usize>load<u32>(lens + 4);
    lens += 8;
    // name NUL value NUL must fit in what is left (written so that no sum can overflow)
    const left = end - data;
    if (nameLen >= left || valueLen >= left - nameLen - 1) break;
    const name = String.UTF8.decodeUnsafe(data, nameLen);
    data += nameLen + 1;
    const value = String.UTF8.decodeUnsafe(data, valueLen);
    data += valueLen + 1;
    out.push(new HeaderPair(name, value));
  }
  return out;
}

/** True for a valid header name: an RFC 9110 token (letters, digits, !#$%&'*+-.^_`|~). */
export function isHeaderName(name: string): bool {
  if (name.length == 0) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    const alnum = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
    if (!alnum && "!#$%&'*+-.^_`|~".indexOf(String.fromCharCode(c)) < 0) return false;
  }
  return true;
}

/** True for a value that can go on the wire: no CR, LF or NUL (which would split or end a header). */
export function isHeaderValue(value: string): bool {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c == 0x0d || c == 0x0a || c == 0) return false;
  }
  return true;
}

/**
 * One of the host's header maps. Mutations return the host's status: BadArgument when the map is not
 * available in the current callback (e.g. request headers from onResponseBody).
 */
export class HeaderMap {
  constructor(public readonly type: MapType) {}

  /** The first value of `name`, or null when absent (or the map is unavailable now). */
  get(name: string): string | null {
    const key = utf8(name);
    clearRet();
    if (proxy_get_header_map_value(this.type, ptrOf(key), key.byteLength, RET_DATA, RET_SIZE) != WasmResult.Ok) return null;
    return takeString();
  }

  /** Every value of `name`, in order (a name may repeat, e.g. set-cookie, cookie). */
  getValues(name: string): string[] {
    const all = this.getAll();
    const out = new Array<string>();
    const wanted = name.toLowerCase();
    for (let i = 0; i < all.length; i++) {
      if (all[i].name == wanted) out.push(all[i].value);
    }
    return out;
  }

  has(name: string): bool {
    return this.get(name) !== null;
  }

  /** Every pair of the map, in order. */
  getAll(): HeaderPair[] {
    clearRet();
    if (proxy_get_header_map_pairs(this.type, RET_DATA, RET_SIZE) != WasmResult.Ok) return new Array<HeaderPair>();
    return deserializePairs(takeBytes());
  }

  /** Replaces the whole map with `pairs`. */
  setAll(pairs: HeaderPair[]): WasmResult {
    const buf = serializePairs(pairs);
    return <WasmResult>proxy_set_header_map_pairs(this.type, ptrOf(buf), buf.byteLength);
  }

  /** Sets `name` to `value`, replacing every existing value (adds it when absent). */
  set(name: string, value: string): WasmResult {
    const k = utf8(name);
    const v = utf8(value);
    return <WasmResult>proxy_replace_header_map_value(this.type, ptrOf(k), k.byteLength, ptrOf(v), v.byteLength);
  }

  /** Appends a value for `name`, keeping existing ones. */
  add(name: string, value: string): WasmResult {
    const k = utf8(name);
    const v = utf8(value);
    return <WasmResult>proxy_add_header_map_value(this.type, ptrOf(k), k.byteLength, ptrOf(v), v.byteLength);
  }

  /** Removes every value of `name`; Ok when it was absent too. */
  remove(name: string): WasmResult {
    const k = utf8(name);
    return <WasmResult>proxy_remove_header_map_value(this.type, ptrOf(k), k.byteLength);
  }

  /** set() with a name and value encoded before. */
  setEncoded(h: EncodedHeader): WasmResult {
    return <WasmResult>proxy_replace_header_map_value(this.type, ptrOf(h.name), h.name.byteLength, ptrOf(h.value), h.value.byteLength);
  }

  /** add() with a name and value encoded before. */
  addEncoded(h: EncodedHeader): WasmResult {
    return <WasmResult>proxy_add_header_map_value(this.type, ptrOf(h.name), h.name.byteLength, ptrOf(h.value), h.value.byteLength);
  }

  /** remove() with a name encoded before (its value is not used). */
  removeEncoded(h: EncodedHeader): WasmResult {
    return <WasmResult>proxy_remove_header_map_value(this.type, ptrOf(h.name), h.name.byteLength);
  }
}

export const requestHeaders = new HeaderMap(MapType.HttpRequestHeaders);
export const requestTrailers = new HeaderMap(MapType.HttpRequestTrailers);
export const responseHeaders = new HeaderMap(MapType.HttpResponseHeaders);
export const responseTrailers = new HeaderMap(MapType.HttpResponseTrailers);
/** Readable only inside an httpCall callback. */
export const httpCallResponseHeaders = new HeaderMap(MapType.HttpCallResponseHeaders);
export const httpCallResponseTrailers = new HeaderMap(MapType.HttpCallResponseTrailers);

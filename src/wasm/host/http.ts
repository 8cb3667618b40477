// env host functions of an HTTP stream: header maps, body buffers, stream control, local replies,
// stream properties, effective context. Thin glue over the StreamHost of the effective context: check
// and decode arguments, call one method, encode the result, return a status (never throw).
import { HeaderMapType, StreamType, WasmResult } from '../abi/constants.ts';
import { copyOut } from './output.ts';
import { decodePairs, pairsSize, writePairs } from '../memory/pairs.ts';
import { HeaderMap, pairsWireBytes } from '../../http/header-map.ts';
import type { VmHost } from './types.ts';

type HostFn = (...args: number[]) => number;

const MAX_HEADER_MAP = 7; // HttpCallResponseTrailers

/**
 * The most a header map may hold once a filter wrote to it, counted as on the wire (name, value and 4
 * bytes of `: ` and CRLF per header): Envoy's default max_request_headers_kb. A write past it answers
 * BadArgument and changes nothing, so a filter adding headers in a loop cannot grow the gateway's memory.
 */
export const MAX_FILTER_HEADER_BYTES = 60 * 1024;

export function httpImports(host: VmHost): Record<string, HostFn> {
  const mem = host.memory;

  /** The map to read, or a status. Outside a stream every map but an http-call response is unavailable. */
  function readable(type: number): HeaderMap | number {
    if (type === HeaderMapType.HttpCallResponseHeaders || type === HeaderMapType.HttpCallResponseTrailers) {
      return host.callResponseMap(type) ?? WasmResult.BadArgument;
    }
    return streamMap(type, false);
  }
  /** The map to change, or a status (http-call response maps are read-only: the stream says BadArgument). */
  function writable(type: number): HeaderMap | number {
    return streamMap(type, true);
  }
  function streamMap(type: number, forWrite: boolean): HeaderMap | number {
    if (type >>> 0 > MAX_HEADER_MAP) return WasmResult.BadArgument;
    const s = host.stream();
    return s === undefined ? WasmResult.BadArgument : s.headerMap(type, forWrite);
  }

  /** add (duplicates allowed) or replace one header value, checked as the wire needs it. */
  function writeValue(type: number, keyPtr: number, keyLen: number, valuePtr: number, valueLen: number, replace: boolean): number {
    const key = mem.latin1(keyPtr, keyLen);
    const value = mem.latin1(valuePtr, valueLen);
    if (key === undefined || value === undefined) return WasmResult.InvalidMemoryAccess;
    const map = writable(type);
    if (typeof map === 'number') return map;
    const name = lowerCase(key);
    if (!validHeader(type, name, value)) return WasmResult.BadArgument;
    const size = map.wireSize();
    const added = name.length + value.length + 4;
    if (size + added > MAX_FILTER_HEADER_BYTES) {
      // a replace that does not grow the map is fine: measure what it would leave
      if (!replace) return WasmResult.BadArgument;
      const old = map.getJoined(name, '');
      if (old === undefined || size + added - old.length - 4 > MAX_FILTER_HEADER_BYTES) return WasmResult.BadArgument;
    }
    if (replace) map.set(name, value);
    else map.add(name, value);
    return WasmResult.Ok;
  }

  return {
    proxy_get_header_map_pairs(type, retPtrPtr, retSizePtr) {
      if (type >>> 0 > MAX_HEADER_MAP) return WasmResult.BadArgument;
      const map = readable(type);
      // a map that does not exist in this phase reads as empty (as Envoy answers)
      if (typeof map === 'number') return copyPairsOut(host, EMPTY_MAP, retPtrPtr, retSizePtr);
      return copyPairsOut(host, map, retPtrPtr, retSizePtr);
    },
    proxy_set_header_map_pairs(type, ptr, len) {
      const bytes = mem.view8(ptr, len);
      if (bytes === undefined) return WasmResult.InvalidMemoryAccess;
      const map = writable(type);
      if (typeof map === 'number') return map;
      // malformed or oversized input decodes to nothing: the map is cleared (cpp-host does the same)
      const pairs = decodePairs(bytes) ?? [];
      if (!lowerAndCheck(type, pairs)) return WasmResult.BadArgument; // nothing changed
      if (pairsWireBytes(pairs) > MAX_FILTER_HEADER_BYTES) return WasmResult.BadArgument;
      map.clear();
      for (let i = 0; i < pairs.length; i += 2) map.add(pairs[i]!, pairs[i + 1]!);
      return WasmResult.Ok;
    },
    proxy_get_header_map_value(type, keyPtr, keyLen, retPtrPtr, retSizePtr) {
      const key = mem.latin1(keyPtr, keyLen);
      if (key === undefined) return WasmResult.InvalidMemoryAccess;
      const map = readable(type);
      // NotFound: a map missing in on_log (ABI 0.1.0 answered a missing header with Ok and an empty value)
      if (map === WasmResult.NotFound && host.abi === '0.1.0') return copyStringOut(host, '', retPtrPtr, retSizePtr);
      if (typeof map === 'number') return map;
      const value = map.get(key.toLowerCase());
      // ABI 0.1.0 answered a missing header with Ok and an empty value
      if (value === undefined) return host.abi === '0.1.0' ? copyStringOut(host, '', retPtrPtr, retSizePtr) : WasmResult.NotFound;
      return copyStringOut(host, value, retPtrPtr, retSizePtr);
    },
    proxy_add_header_map_value(type, keyPtr, keyLen, valuePtr, valueLen) {
      return writeValue(type, keyPtr, keyLen, valuePtr, valueLen, false);
    },
    proxy_replace_header_map_value(type, keyPtr, keyLen, valuePtr, valueLen) {
      return writeValue(type, keyPtr, keyLen, valuePtr, valueLen, true);
    },
    proxy_remove_header_map_value(type, keyPtr, keyLen) {
      const key = mem.latin1(keyPtr, keyLen);
      if (key === undefined) return WasmResult.InvalidMemoryAccess;
      const map = writable(type);
      if (typeof map === 'number') return map;
      map.remove(key.toLowerCase());
      return WasmResult.Ok;
    },
    proxy_get_header_map_size(type, retSizePtr) {
      const map = readable(type);
      if (typeof map === 'number') return WasmResult.BadArgument; // also in on_log, as Envoy answers
      // as Envoy: the byte size of the map (sum of name and value lengths), not the number of pairs
      let size = 0;
      for (const s of map.pseudo) size += s.length;
      for (const s of map.list) size += s.length;
      return mem.writeU32(retSizePtr, size) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
    },

    proxy_set_buffer_bytes(type, start, size, dataPtr, dataLen) {
      const data = mem.view8(dataPtr, dataLen);
      if (data === undefined) return WasmResult.InvalidMemoryAccess;
      if (type >>> 0 > 8) return WasmResult.BadArgument;
      const s = host.stream();
      const body = s?.body(type);
      if (s === undefined || body === undefined) {
        // configuration and call-response buffers exist but are read-only
        return host.buffer(type) !== undefined ? WasmResult.BadArgument : WasmResult.NotFound;
      }
      // a body a filter writes stays within s.bodyLimit (twice server.max_buffer_bytes: room to rewrite a
      // body held at the limit; a bound on appending in a loop)
      const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      return body.set(start >>> 0, size >>> 0, bytes, s.bodyLimit) ? WasmResult.Ok : WasmResult.BadArgument;
    },

    proxy_send_local_response(status, detailsPtr, detailsLen, bodyPtr, bodyLen, headersPtr, headersLen, grpcStatus) {
      const details = mem.latin1(detailsPtr, detailsLen);
      const body = mem.copy(bodyPtr, bodyLen);
      const headerBytes = mem.view8(headersPtr, headersLen);
      if (details === undefined || body === undefined || headerBytes === undefined) return WasmResult.InvalidMemoryAccess;
      const s = host.stream();
      // Envoy answers Ok and does nothing without an HTTP stream
      if (s === undefined) return WasmResult.Ok;
      // a status no HTTP response can carry, or headers that are malformed, invalid or too big: nothing
      // is sent (a final response has a 2xx–5xx status; 1xx are interim)
      if (status >>> 0 < 200 || status >>> 0 > 599) return WasmResult.BadArgument;
      const headers = headerBytes.length === 0 ? [] : decodePairs(headerBytes);
      if (headers === undefined || pairsWireBytes(headers) > MAX_FILTER_HEADER_BYTES) return WasmResult.BadArgument;
      // checked as a trailer map is: no pseudo-header means anything in extra reply headers
      if (!lowerAndCheck(HeaderMapType.ResponseTrailers, headers)) return WasmResult.BadArgument;
      return s.sendLocalResponse(status >>> 0, details.replace(/\s/g, '_'), body, headers, grpcStatus | 0);
    },
    proxy_continue_stream(type) {
      if (type >>> 0 > StreamType.Upstream) return WasmResult.BadArgument;
      if (type === StreamType.Upstream) return WasmResult.Unimplemented;
      const s = host.stream();
      return s === undefined ? WasmResult.NotFound : s.continueStream(type);
    },
    proxy_close_stream(type) {
      if (type >>> 0 > StreamType.Upstream) return WasmResult.BadArgument;
      const s = host.stream();
      return s === undefined ? WasmResult.NotFound : s.closeStream(type);
    },
    // 0.1.0 spellings
    proxy_continue_request() {
      const s = host.stream();
      return s === undefined ? WasmResult.NotFound : s.continueStream(StreamType.HttpRequest);
    },
    proxy_continue_response() {
      const s = host.stream();
      return s === undefined ? WasmResult.NotFound : s.continueStream(StreamType.HttpResponse);
    },
    // 0.1.0: routing is decided after the request-headers phase anyway, so there is no cache to clear
    proxy_clear_route_cache() {
      return WasmResult.Ok;
    },

    proxy_set_property(pathPtr, pathLen, valuePtr, valueLen) {
      const path = mem.latin1(pathPtr, pathLen);
      const value = mem.copy(valuePtr, valueLen);
      if (path === undefined || value === undefined) return WasmResult.InvalidMemoryAccess;
      const s = host.stream();
      return s === undefined ? WasmResult.NotFound : s.setProperty(path, value);
    },
    proxy_set_effective_context(id) {
      return host.setEffectiveContext(id >>> 0);
    },
    proxy_done() {
      return host.done();
    },
    proxy_set_tick_period_milliseconds(ms) {
      return host.setTickPeriod(ms >>> 0);
    },
    proxy_http_call(upPtr, upLen, headersPtr, headersLen, bodyPtr, bodyLen, trailersPtr, trailersLen, timeoutMs, retTokenPtr) {
      const upstream = mem.utf8(upPtr, upLen);
      const headerBytes = mem.view8(headersPtr, headersLen);
      const headers = headerBytes === undefined ? undefined : decodePairs(headerBytes);
      const body = mem.copy(bodyPtr, bodyLen);
      const trailerBytes = mem.view8(trailersPtr, trailersLen);
      const trailers = trailerBytes === undefined ? undefined : decodePairs(trailerBytes);
      if (upstream === undefined || headerBytes === undefined || body === undefined || trailerBytes === undefined || !mem.inBounds(retTokenPtr, 4)) {
        return WasmResult.InvalidMemoryAccess;
      }
      if (headers === undefined || trailers === undefined) return WasmResult.BadArgument;
      // checked as a request's headers are: CR, LF or NUL, or a name that is not a token, never reach a wire
      if (!lowerAndCheck(HeaderMapType.RequestHeaders, headers) || !lowerAndCheck(HeaderMapType.RequestTrailers, trailers)) return WasmResult.BadArgument;
      // the timeout is an int for Envoy: one past 2^31 - 1 ms is negative, and refused
      if ((timeoutMs | 0) < 0) return WasmResult.BadArgument;
      const { result, token } = host.httpCall(upstream, headers, body, trailers, timeoutMs | 0);
      if (result === WasmResult.Ok) mem.writeU32(retTokenPtr, token);
      return result;
    },
    proxy_get_status(codePtr, msgPtrPtr, msgSizePtr) {
      if (!mem.inBounds(codePtr, 4)) return WasmResult.InvalidMemoryAccess;
      const s = host.status();
      mem.writeU32(codePtr, s.code);
      return copyOut(host, Buffer.from(s.message), msgPtrPtr, msgSizePtr);
    },
    proxy_call_foreign_function(namePtr, nameLen, argsPtr, argsLen, retPtrPtr, retSizePtr) {
      if (mem.latin1(namePtr, nameLen) === undefined || !mem.inBounds(argsPtr, argsLen)) return WasmResult.InvalidMemoryAccess;
      void retPtrPtr;
      void retSizePtr;
      return WasmResult.NotFound; // no foreign functions are registered
    },
  };
}

const EMPTY_MAP = new HeaderMap();

/** RFC 9110 token characters (header names), lower-case letters only: 1 in a table by char code. */
const TOKEN = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz") TOKEN[c.charCodeAt(0)] = 1;
const REQUEST_PSEUDO = new Set([':method', ':path', ':authority', ':scheme']);

/** Lower-cases the names of flat pairs a filter handed over, in place; false when one is not valid for a map of `type`. */
function lowerAndCheck(type: number, pairs: string[]): boolean {
  for (let i = 0; i < pairs.length; i += 2) {
    const name = (pairs[i] = lowerCase(pairs[i]!));
    if (!validHeader(type, name, pairs[i + 1]!)) return false;
  }
  return true;
}

/** The name in lower case (the same string when it already is: the usual case, without a copy). */
function lowerCase(name: string): string {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 65 && c <= 90) return name.toLowerCase();
  }
  return name;
}

/** A lower-case token: non-empty, RFC 9110 token characters only. */
function isToken(name: string): boolean {
  if (name.length === 0) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 128 || TOKEN[c] === 0) return false;
  }
  return true;
}

/** What a header value may not contain: CR, LF, NUL (header injection) and other controls but tab. */
function badValue(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if ((c < 32 && c !== 9) || c === 127) return true;
  }
  return false;
}

/**
 * A header a filter writes must be one the wire can carry: a token name (or a pseudo-header the map
 * has: :method :path :authority :scheme on requests, :status on responses) and a value without CR,
 * LF or NUL. Anything else is refused with BadArgument and never reaches the wire.
 */
function validHeader(type: number, name: string, value: string): boolean {
  if (badValue(value)) return false;
  if (name.charCodeAt(0) === 58 /* : */) {
    if (type === HeaderMapType.RequestHeaders) return REQUEST_PSEUDO.has(name);
    if (type === HeaderMapType.ResponseHeaders) return name === ':status' && /^[1-9][0-9]{2}$/.test(value);
    return false;
  }
  return isToken(name);
}

/** Writes a header map in the pairs format straight into guest memory (one allocation in the guest). */
function copyPairsOut(host: VmHost, map: HeaderMap, retPtrPtr: number, retSizePtr: number): number {
  const mem = host.memory;
  if (!mem.inBounds(retPtrPtr, 4) || !mem.inBounds(retSizePtr, 4)) return WasmResult.InvalidMemoryAccess;
  const { pseudo, list } = map;
  const n = (pseudo.length + list.length) >> 1;
  if (n === 0) {
    // an empty map is ptr 0 / size 0, as cpp-host answers
    mem.writeU32(retPtrPtr, 0);
    mem.writeU32(retSizePtr, 0);
    return WasmResult.Ok;
  }
  const lists = [pseudo, list];
  const size = pairsSize(lists);
  const ptr = host.alloc(size);
  if (ptr === 0 || !mem.inBounds(ptr, size)) return WasmResult.InvalidMemoryAccess;
  mem.transferred(size);
  writePairs(mem.bytes(), ptr, lists); // straight into guest memory
  if (!mem.writeU32(retPtrPtr, ptr) || !mem.writeU32(retSizePtr, size)) return WasmResult.InvalidMemoryAccess;
  return WasmResult.Ok;
}

/** A latin1 string (bytes) to the guest: allocate, write in place, fill the out-params. */
function copyStringOut(host: VmHost, value: string, retPtrPtr: number, retSizePtr: number): number {
  const mem = host.memory;
  if (!mem.inBounds(retPtrPtr, 4) || !mem.inBounds(retSizePtr, 4)) return WasmResult.InvalidMemoryAccess;
  const len = value.length;
  if (len === 0) {
    mem.writeU32(retPtrPtr, 0);
    mem.writeU32(retSizePtr, 0);
    return WasmResult.Ok;
  }
  const ptr = host.alloc(len);
  if (ptr === 0 || !mem.inBounds(ptr, len)) return WasmResult.InvalidMemoryAccess;
  mem.transferred(len);
  mem.bytes().write(value, ptr, len, 'latin1');
  if (!mem.writeU32(retPtrPtr, ptr) || !mem.writeU32(retSizePtr, len)) return WasmResult.InvalidMemoryAccess;
  return WasmResult.Ok;
}


// The JSON serializer: compact UTF-8 output, as JSON.stringify (json.ts has the overview).
import { JsonArray, JsonBool, JsonNumber, JsonObject, JsonString, JsonType, JsonValue } from "./json-value";

/** Compact JSON text of a value (no spaces), as JSON.stringify(v). */
export function stringifyJson(v: JsonValue): string {
  return String.UTF8.decode(stringifyJsonBytes(v));
}

/** Compact JSON text of a value as UTF-8 bytes (ready to be a body). */
export function stringifyJsonBytes(v: JsonValue): ArrayBuffer {
  const w = new ByteWriter(v.sourceEnd - v.sourceStart + 64); // a parsed value's text: about the size it will have
  write(v, w);
  return w.finish();
}

/** `s` as a JSON string literal, quotes included. */
export function quoteJsonString(s: string): string {
  const w = new ByteWriter(s.length + 2);
  w.jsonString(s);
  return String.UTF8.decode(w.finish());
}

function write(v: JsonValue, w: ByteWriter): void {
  const source = v.source;
  if (source !== null && v.verbatim) {
    // parsed text nobody changed, already as we would write it (an unread container, a string)
    w.copy(changetype<usize>(source) + <usize>v.sourceStart, v.sourceEnd - v.sourceStart);
    return;
  }
  switch (v.type) {
    case JsonType.Null:
      w.ascii("null");
      break;
    case JsonType.Bool:
      w.ascii(changetype<JsonBool>(v).value ? "true" : "false");
      break;
    case JsonType.Number:
      w.ascii(changetype<JsonNumber>(v).raw);
      break;
    case JsonType.String:
      w.jsonString(changetype<JsonString>(v).value);
      break;
    case JsonType.Array: {
      const items = changetype<JsonArray>(v).items;
      w.byte(0x5b);
      for (let i = 0; i < items.length; i++) {
        if (i > 0) w.byte(0x2c);
        write(items[i], w);
      }
      w.byte(0x5d);
      break;
    }
    case JsonType.Object: {
      const obj = changetype<JsonObject>(v);
      const n = obj.size;
      w.byte(0x7b);
      for (let i = 0; i < n; i++) {
        if (i > 0) w.byte(0x2c);
        w.jsonString(obj.keyAt(i));
        w.byte(0x3a);
        write(obj.valueAt(i), w);
      }
      w.byte(0x7d);
      break;
    }
  }
}

const HEX = "0123456789abcdef";

/** A growable UTF-8 output buffer. */
class ByteWriter {
  private buf: ArrayBuffer;
  private len: i32 = 0;

  constructor(capacity: i32) {
    this.buf = new ArrayBuffer(max(capacity, 64));
  }

  /** Room for `n` more bytes; returns where they go (advance with `done`). */
  private room(n: i32): usize {
    const need = this.len + n;
    if (need > this.buf.byteLength) {
      let cap = this.buf.byteLength << 1;
      while (cap < need) cap <<= 1;
      const grown = new ArrayBuffer(cap);
      memory.copy(changetype<usize>(grown), changetype<usize>(this.buf), <usize>this.len);
      this.buf = grown;
    }
    return changetype<usize>(this.buf) + <usize>this.len;
  }

  /** Marks the bytes up to `end` (a pointer from room()) as written. */
  // @ts-ignore: decorator
  @inline private done(end: usize): void {
    this.len = <i32>(end - changetype<usize>(this.buf));
  }

  /** `n` bytes from `src`. */
  copy(src: usize, n: i32): void {
    const at = this.room(n);
    memory.copy(at, src, <usize>n);
    this.done(at + <usize>n);
  }

  byte(b: i32): void {
    const at = this.room(1);
    store<u8>(at, <u8>b);
    this.done(at + 1);
  }

  /** A string known to be ASCII (literals, number text). */
  ascii(s: string): void {
    const n = s.length;
    const at = this.room(n);
    for (let i = 0; i < n; i++) store<u8>(at + <usize>i, <u8>s.charCodeAt(i));
    this.done(at + <usize>n);
  }

  /** `s` as a JSON string literal in UTF-8; lone surrogates are escaped as JSON.stringify does. */
  jsonString(s: string): void {
    const n = s.length;
    let p = this.room(n * 6 + 2); // the worst case: every unit a \uXXXX escape
    store<u8>(p++, 0x22);
    for (let i = 0; i < n; i++) {
      const c = <u32>s.charCodeAt(i);
      if (c >= 0x20 && c < 0x80) {
        if (c == 0x22 || c == 0x5c) store<u8>(p++, 0x5c);
        store<u8>(p++, <u8>c);
      } else if (c < 0x20) {
        store<u8>(p++, 0x5c);
        if (c == 0x0a) store<u8>(p++, 0x6e); // \n
        else if (c == 0x0d) store<u8>(p++, 0x72); // \r
        else if (c == 0x09) store<u8>(p++, 0x74); // \t
        else if (c == 0x08) store<u8>(p++, 0x62); // \b
        else if (c == 0x0c) store<u8>(p++, 0x66); // \f
        else p = unicodeEscape(p, c);
      } else if (c < 0x800) {
        store<u8>(p++, <u8>(0xc0 | (c >> 6)));
        store<u8>(p++, <u8>(0x80 | (c & 0x3f)));
      } else if (c < 0xd800 || c > 0xdfff) {
        store<u8>(p++, <u8>(0xe0 | (c >> 12)));
        store<u8>(p++, <u8>(0x80 | ((c >> 6) & 0x3f)));
        store<u8>(p++, <u8>(0x80 | (c & 0x3f)));
      } else {
        const next = i + 1 < n ? <u32>s.charCodeAt(i + 1) : 0;
        if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
          const cp = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
          store<u8>(p++, <u8>(0xf0 | (cp >> 18)));
          store<u8>(p++, <u8>(0x80 | ((cp >> 12) & 0x3f)));
          store<u8>(p++, <u8>(0x80 | ((cp >> 6) & 0x3f)));
          store<u8>(p++, <u8>(0x80 | (cp & 0x3f)));
          i++;
        } else {
          store<u8>(p++, 0x5c);
          p = unicodeEscape(p, c); // a lone surrogate
        }
      }
    }
    store<u8>(p++, 0x22);
    this.done(p);
  }

  finish(): ArrayBuffer {
    return this.buf.slice(0, this.len);
  }
}

/** Writes "uXXXX" (the backslash is already written) at `p`; returns the end. */
function unicodeEscape(p: usize, c: u32): usize {
  store<u8>(p, 0x75);
  store<u8>(p + 1, <u8>HEX.charCodeAt((c >> 12) & 15));
  store<u8>(p + 2, <u8>HEX.charCodeAt((c >> 8) & 15));
  store<u8>(p + 3, <u8>HEX.charCodeAt((c >> 4) & 15));
  store<u8>(p + 4, <u8>HEX.charCodeAt(c & 15));
  return p + 5;
}

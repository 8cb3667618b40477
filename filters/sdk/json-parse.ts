// The JSON parser: strict RFC 8259 over UTF-8 bytes, errors as values (json.ts has the overview).
// parse() checks the whole text first, without building anything; then it hands out the root value,
// whose strings and members are read from the (known good) text only when first used (json-value.ts).
import { JsonArray, JsonBool, JsonNull, JsonNumber, JsonObject, JsonString, JsonValue } from "./json-value";

/** Deepest nesting accepted (as serde_json): deeper input is an error, not a stack overflow. */
export const MAX_JSON_DEPTH = 128;

export class JsonParser {
  /** Why parse() returned null, with the byte offset. */
  error: string = "";
  private pos: i32 = 0;
  private depth: i32 = 0;
  private readonly base: usize;
  private readonly len: i32;

  /** A parser of UTF-8 JSON text (a request body, a configuration buffer). */
  constructor(private readonly bytes: ArrayBuffer) {
    this.base = changetype<usize>(bytes);
    this.len = bytes.byteLength;
  }

  static ofText(text: string): JsonParser {
    return new JsonParser(String.UTF8.encode(text));
  }

  /** The value of the whole text, or null (see `error`). */
  parse(): JsonValue | null {
    this.pos = 0;
    this.depth = 0;
    this.error = "";
    this.skipSpace();
    const start = this.pos;
    if (!this.value()) return null;
    this.skipSpace();
    if (this.pos < this.len) return this.fail("unexpected data after the JSON value");
    this.pos = start;
    return this.node();
  }

  private fail(what: string): JsonValue | null {
    if (this.error.length == 0) {
      this.error = this.pos >= this.len ? "unexpected end of input" : what + " at byte " + this.pos.toString();
    }
    return null;
  }

  // @ts-ignore: decorator
  @inline private peek(): i32 {
    return this.pos < this.len ? <i32>load<u8>(this.base + <usize>this.pos) : -1;
  }

  private skipSpace(): void {
    for (;;) {
      const c = this.peek();
      if (c != 0x20 && c != 0x0a && c != 0x0d && c != 0x09) return;
      this.pos++;
    }
  }

  // ---- checking: one pass over the whole text, nothing built; false (and `error`) when it is not JSON ----

  private value(): bool {
    const c = this.peek();
    if (c == 0x7b) return this.object(); // {
    if (c == 0x5b) return this.array(); // [
    if (c == 0x22) return this.string();
    if (c == 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
    if (this.literal("true") || this.literal("false") || this.literal("null")) return true;
    this.fail("unexpected character");
    return false;
  }

  private literal(word: string): bool {
    const n = word.length;
    if (this.pos + n > this.len) return false;
    for (let i = 0; i < n; i++) {
      if (<i32>load<u8>(this.base + <usize>(this.pos + i)) != word.charCodeAt(i)) return false;
    }
    this.pos += n;
    return true;
  }

  private object(): bool {
    if (++this.depth > MAX_JSON_DEPTH) return this.failed("nesting too deep");
    this.pos++; // {
    this.skipSpace();
    if (this.peek() != 0x7d) {
      for (;;) {
        if (this.peek() != 0x22) return this.failed("expected a string key");
        if (!this.string()) return false;
        this.skipSpace();
        if (this.peek() != 0x3a) return this.failed("expected ':'");
        this.pos++;
        this.skipSpace();
        if (!this.value()) return false;
        this.skipSpace();
        const c = this.peek();
        if (c == 0x7d) break; // }
        if (c != 0x2c) return this.failed("expected ',' or '}'");
        this.pos++;
        this.skipSpace();
      }
    }
    this.pos++;
    this.depth--;
    return true;
  }

  private array(): bool {
    if (++this.depth > MAX_JSON_DEPTH) return this.failed("nesting too deep");
    this.pos++; // [
    this.skipSpace();
    if (this.peek() != 0x5d) {
      for (;;) {
        if (!this.value()) return false;
        this.skipSpace();
        const c = this.peek();
        if (c == 0x5d) break; // ]
        if (c != 0x2c) return this.failed("expected ',' or ']'");
        this.pos++;
        this.skipSpace();
      }
    }
    this.pos++;
    this.depth--;
    return true;
  }

  private failed(what: string): bool {
    this.fail(what);
    return false;
  }

  /** A string literal at `pos` (on the opening quote). */
  private string(): bool {
    this.pos++; // "
    for (;;) {
      while (this.pos + 8 <= this.len && isPlain8(this.base + <usize>this.pos)) this.pos += 8;
      const c = this.peek();
      if (c >= 0x20 && c < 0x80 && c != 0x22 && c != 0x5c) {
        this.pos++; // the common case first
        continue;
      }
      if (c == 0x22) {
        this.pos++;
        return true;
      }
      if (c < 0) return this.failed("unterminated string");
      if (c < 0x20) return this.failed("control character in string");
      if (c >= 0x80) {
        if (!this.utf8Sequence(c)) return this.failed("invalid UTF-8");
        continue;
      }
      // a backslash escape
      this.pos++;
      const e = this.peek();
      this.pos++;
      if (e == 0x75) {
        for (let i = 0; i < 4; i++) {
          if (hexValue(this.peek()) < 0) return this.failed("bad \\u escape");
          this.pos++;
        }
      } else if (e != 0x22 && e != 0x5c && e != 0x2f && e != 0x62 && e != 0x66 && e != 0x6e && e != 0x72 && e != 0x74) {
        this.pos--;
        return this.failed("bad escape");
      }
    }
    return false; // not reached
  }

  /** Skips one well-formed multi-byte UTF-8 sequence starting with `lead` (no overlongs, no surrogates). */
  private utf8Sequence(lead: i32): bool {
    let need = 0;
    let cp = 0;
    let min = 0;
    if (lead >= 0xc2 && lead <= 0xdf) { need = 1; cp = lead & 0x1f; min = 0x80; }
    else if (lead >= 0xe0 && lead <= 0xef) { need = 2; cp = lead & 0x0f; min = 0x800; }
    else if (lead >= 0xf0 && lead <= 0xf4) { need = 3; cp = lead & 0x07; min = 0x10000; }
    else return false;
    if (this.pos + need >= this.len) return false;
    for (let k = 1; k <= need; k++) {
      const b = <i32>load<u8>(this.base + <usize>(this.pos + k));
      if ((b & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (b & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    this.pos += need + 1;
    return true;
  }

  /** number = -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)? */
  private number(): bool {
    if (this.peek() == 0x2d) this.pos++;
    if (this.peek() == 0x30) {
      this.pos++;
    } else if (!this.digits()) {
      return this.failed("bad number");
    }
    if (this.peek() == 0x2e) {
      this.pos++;
      if (!this.digits()) return this.failed("bad number");
    }
    const e = this.peek();
    if (e == 0x65 || e == 0x45) {
      this.pos++;
      const s = this.peek();
      if (s == 0x2b || s == 0x2d) this.pos++;
      if (!this.digits()) return this.failed("bad number");
    }
    return true;
  }

  /** One or more decimal digits; false when there is none. */
  private digits(): bool {
    const start = this.pos;
    for (;;) {
      const c = this.peek();
      if (c < 0x30 || c > 0x39) break;
      this.pos++;
    }
    return this.pos > start;
  }

  // ---- reading: the text is known to be JSON ----

  /** The value at `pos`, which moves past it: scalars are read now, strings and containers left as spans. */
  private node(): JsonValue {
    const c = this.peek();
    const start = this.pos;
    if (c == 0x7b || c == 0x5b) {
      const verbatim = this.skipContainer();
      const v: JsonValue = c == 0x7b ? new JsonObject() : new JsonArray();
      return v.setSource(this.bytes, start, this.pos, verbatim);
    }
    if (c == 0x22) {
      const verbatim = this.skipString();
      return JsonString.parsed(this.bytes, start, this.pos, verbatim);
    }
    if (c == 0x74) { this.pos += 4; return new JsonBool(true); }
    if (c == 0x66) { this.pos += 5; return new JsonBool(false); }
    if (c == 0x6e) { this.pos += 4; return new JsonNull(); }
    for (;;) { // a number: - + . e E and digits
      const d = this.peek();
      if (!((d >= 0x30 && d <= 0x39) || d == 0x2d || d == 0x2b || d == 0x2e || d == 0x65 || d == 0x45)) break;
      this.pos++;
    }
    return new JsonNumber(String.UTF8.decodeUnsafe(this.base + <usize>start, <usize>(this.pos - start)));
  }

  /**
   * Moves past the object or array at `pos`. True when its text is what stringifyJson would write for
   * it: no space between tokens and every string verbatim.
   */
  private skipContainer(): bool {
    let depth = 0;
    let verbatim = true;
    for (;;) {
      const c = <i32>load<u8>(this.base + <usize>this.pos);
      if (c == 0x22) {
        if (!this.skipString()) verbatim = false;
        continue;
      }
      this.pos++;
      if (c == 0x7b || c == 0x5b) depth++;
      else if (c == 0x7d || c == 0x5d) {
        if (--depth == 0) return verbatim;
      } else if (c == 0x20 || c == 0x0a || c == 0x0d || c == 0x09) verbatim = false;
    }
    return false; // not reached
  }

  /**
   * Moves past the string literal at `pos`. True when it is written as stringifyJson would write it:
   * its only escapes are the ones JSON requires, in their shortest form (\n, \u001f, …).
   */
  private skipString(): bool {
    let verbatim = true;
    let p = this.base + <usize>this.pos + 1;
    const end = this.base + <usize>this.len;
    for (;;) {
      while (p + 8 <= end && isPlain8(p)) p += 8;
      const c = <i32>load<u8>(p);
      if (c == 0x22) break;
      if (c != 0x5c) {
        p++;
        continue;
      }
      const e = <i32>load<u8>(p + 1);
      if (e == 0x75) {
        if (!isShortestUnicodeEscape(p + 2)) verbatim = false;
        p += 6;
      } else {
        if (e == 0x2f) verbatim = false; // \/ is written as /
        p += 2;
      }
    }
    this.pos = <i32>(p + 1 - this.base);
    return verbatim;
  }

  /** The string literal at `at` (on the opening quote), decoded; `pos` moves past it. */
  readString(at: i32): string {
    this.pos = at + 1; // "
    let start = this.pos;
    let parts: string[] | null = null;
    for (;;) {
      const c = <i32>load<u8>(this.base + <usize>this.pos);
      if (c == 0x22) break;
      if (c != 0x5c) {
        this.pos++;
        continue;
      }
      // a backslash escape
      if (parts === null) parts = new Array<string>();
      parts.push(String.UTF8.decodeUnsafe(this.base + <usize>start, <usize>(this.pos - start)));
      const e = <i32>load<u8>(this.base + <usize>this.pos + 1);
      this.pos += 2;
      if (e == 0x62) parts.push("\b");
      else if (e == 0x66) parts.push("\f");
      else if (e == 0x6e) parts.push("\n");
      else if (e == 0x72) parts.push("\r");
      else if (e == 0x74) parts.push("\t");
      else if (e == 0x75) {
        // \uXXXX is one UTF-16 code unit; a surrogate pair is two escapes, which concatenate correctly
        let unit = 0;
        for (let i = 0; i < 4; i++) unit = (unit << 4) | hexValue(<i32>load<u8>(this.base + <usize>(this.pos + i)));
        this.pos += 4;
        parts.push(String.fromCharCode(unit));
      } else parts.push(String.fromCharCode(e)); // " \ /
      start = this.pos;
    }
    const tail = String.UTF8.decodeUnsafe(this.base + <usize>start, <usize>(this.pos - start));
    this.pos++;
    if (parts === null) return tail;
    parts.push(tail);
    return parts.join("");
  }

  /** Reads the members of the object or array whose text starts at `start` into `into`. */
  readMembers(into: JsonValue, start: i32): void {
    this.pos = start + 1; // { or [
    const obj = into.asObject();
    const items = obj === null ? changetype<JsonArray>(into).items : null;
    for (;;) {
      this.skipSpace();
      const c = this.peek();
      if (c == 0x7d || c == 0x5d) return;
      if (c == 0x2c) {
        this.pos++;
        continue;
      }
      if (obj !== null) {
        const key = this.readString(this.pos);
        this.skipSpace();
        this.pos++; // :
        this.skipSpace();
        obj.append(key, this.node());
      } else {
        items!.push(this.node());
      }
    }
  }
}

/** Decodes the string literal starting at `start` of a text JsonParser has checked. */
export function readJsonString(source: ArrayBuffer, start: i32): string {
  return new JsonParser(source).readString(start);
}

/** Reads the members of a parsed object or array (json-value.ts calls it on first use). */
export function readJsonMembers(into: JsonValue, source: ArrayBuffer, start: i32): void {
  new JsonParser(source).readMembers(into, start);
}

/**
 * True when none of the 8 bytes at `p` ends a string or needs a look in one: all printable ASCII other
 * than " and \. (Bytes a loop checks one by one cost a CPU-meter tick each: this checks 8 per tick.)
 */
// @ts-ignore: decorator
@inline function isPlain8(p: usize): bool {
  const v = load<u64>(p);
  const ones: u64 = 0x0101010101010101;
  // a byte's top bit ends up set for: a byte < 0x20, a " or \ (their xor is 0), a byte ≥ 0x80
  const flags = (v - ones * 0x20) | ((v ^ (ones * 0x22)) - ones) | ((v ^ (ones * 0x5c)) - ones) | v;
  return (flags & (ones * 0x80)) == 0;
}

/**
 * True when the 4 hex digits at `p` (of a \u escape) are how stringifyJson writes that character: a
 * control character without a short form, in lowercase hex.
 */
function isShortestUnicodeEscape(p: usize): bool {
  if (load<u8>(p) != 0x30 || load<u8>(p + 1) != 0x30) return false;
  const hi = <i32>load<u8>(p + 2);
  const lo = <i32>load<u8>(p + 3);
  if ((hi != 0x30 && hi != 0x31) || !((lo >= 0x30 && lo <= 0x39) || (lo >= 0x61 && lo <= 0x66))) return false;
  const c = ((hi - 0x30) << 4) | hexValue(lo);
  return c != 0x08 && c != 0x09 && c != 0x0a && c != 0x0c && c != 0x0d;
}

function hexValue(c: i32): i32 {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

/** Parses `text`; null when it is not valid JSON (use JsonParser to learn why). */
export function parseJson(text: string): JsonValue | null {
  return JsonParser.ofText(text).parse();
}


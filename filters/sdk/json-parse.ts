// The JSON parser: strict RFC 8259 over UTF-8 bytes, errors as values (json.ts has the overview).
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
    const v = this.value();
    if (v === null) return null;
    this.skipSpace();
    if (this.pos < this.len) return this.fail("unexpected data after the JSON value");
    return v;
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

  private value(): JsonValue | null {
    const c = this.peek();
    if (c == 0x7b) return this.object(); // {
    if (c == 0x5b) return this.array(); // [
    if (c == 0x22) {
      const s = this.string();
      return s === null ? null : new JsonString(s);
    }
    if (c == 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
    if (this.literal("true")) return new JsonBool(true);
    if (this.literal("false")) return new JsonBool(false);
    if (this.literal("null")) return new JsonNull();
    return this.fail("unexpected character");
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

  private object(): JsonValue | null {
    if (++this.depth > MAX_JSON_DEPTH) return this.fail("nesting too deep");
    this.pos++; // {
    const obj = new JsonObject();
    this.skipSpace();
    if (this.peek() == 0x7d) {
      this.pos++;
      this.depth--;
      return obj;
    }
    for (;;) {
      if (this.peek() != 0x22) return this.fail("expected a string key");
      const key = this.string();
      if (key === null) return null;
      this.skipSpace();
      if (this.peek() != 0x3a) return this.fail("expected ':'");
      this.pos++;
      this.skipSpace();
      const v = this.value();
      if (v === null) return null;
      obj.append(key, v);
      this.skipSpace();
      const c = this.peek();
      if (c == 0x7d) break; // }
      if (c != 0x2c) return this.fail("expected ',' or '}'");
      this.pos++;
      this.skipSpace();
    }
    this.pos++;
    this.depth--;
    return obj;
  }

  private array(): JsonValue | null {
    if (++this.depth > MAX_JSON_DEPTH) return this.fail("nesting too deep");
    this.pos++; // [
    const items = new Array<JsonValue>();
    this.skipSpace();
    if (this.peek() == 0x5d) {
      this.pos++;
      this.depth--;
      return new JsonArray(items);
    }
    for (;;) {
      const v = this.value();
      if (v === null) return null;
      items.push(v);
      this.skipSpace();
      const c = this.peek();
      if (c == 0x5d) break; // ]
      if (c != 0x2c) return this.fail("expected ',' or ']'");
      this.pos++;
      this.skipSpace();
    }
    this.pos++;
    this.depth--;
    return new JsonArray(items);
  }

  /** A string literal at `pos` (on the opening quote); null on error. */
  private string(): string | null {
    this.pos++; // "
    let start = this.pos;
    let parts: string[] | null = null;
    for (;;) {
      const c = this.peek();
      if (c == 0x22) {
        const tail = String.UTF8.decodeUnsafe(this.base + <usize>start, <usize>(this.pos - start));
        this.pos++;
        if (parts === null) return tail;
        parts.push(tail);
        return parts.join("");
      }
      if (c < 0) {
        this.fail("unterminated string");
        return null;
      }
      if (c < 0x20) {
        this.fail("control character in string");
        return null;
      }
      if (c >= 0x80) {
        if (!this.utf8Sequence(c)) {
          this.fail("invalid UTF-8");
          return null;
        }
        continue;
      }
      if (c != 0x5c) {
        this.pos++;
        continue;
      }
      // a backslash escape
      if (parts === null) parts = new Array<string>();
      parts.push(String.UTF8.decodeUnsafe(this.base + <usize>start, <usize>(this.pos - start)));
      this.pos++;
      const e = this.peek();
      this.pos++;
      if (e == 0x22) parts.push("\"");
      else if (e == 0x5c) parts.push("\\");
      else if (e == 0x2f) parts.push("/");
      else if (e == 0x62) parts.push("\b");
      else if (e == 0x66) parts.push("\f");
      else if (e == 0x6e) parts.push("\n");
      else if (e == 0x72) parts.push("\r");
      else if (e == 0x74) parts.push("\t");
      else if (e == 0x75) {
        // \uXXXX is one UTF-16 code unit; a surrogate pair is two escapes, which concatenate correctly
        let unit = 0;
        for (let i = 0; i < 4; i++) {
          const h = hexValue(this.peek());
          if (h < 0) {
            this.fail("bad \\u escape");
            return null;
          }
          unit = (unit << 4) | h;
          this.pos++;
        }
        parts.push(String.fromCharCode(unit));
      } else {
        this.pos--;
        this.fail("bad escape");
        return null;
      }
      start = this.pos;
    }
    return null; // not reached
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
  private number(): JsonValue | null {
    const start = this.pos;
    if (this.peek() == 0x2d) this.pos++;
    if (this.peek() == 0x30) {
      this.pos++;
    } else if (!this.digits()) {
      return this.fail("bad number");
    }
    if (this.peek() == 0x2e) {
      this.pos++;
      if (!this.digits()) return this.fail("bad number");
    }
    const e = this.peek();
    if (e == 0x65 || e == 0x45) {
      this.pos++;
      const s = this.peek();
      if (s == 0x2b || s == 0x2d) this.pos++;
      if (!this.digits()) return this.fail("bad number");
    }
    return new JsonNumber(String.UTF8.decodeUnsafe(this.base + <usize>start, <usize>(this.pos - start)));
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


// JSON values: the tree JsonParser builds and stringifyJson writes (json.ts has the overview).
//
// The tree is read lazily: JsonParser checks the whole text at once, but a string is decoded and an
// object or array split into members only when first used; until then the value is a span of the source
// text. So a filter that edits one member of a big body pays for that member's path, not for the whole
// tree, and stringifyJson copies the spans nobody touched as they are (see `verbatim`).
import { readJsonMembers, readJsonString } from "./json-parse";
import { stringifyJson } from "./json-write";

export enum JsonType {
  Null,
  Bool,
  Number,
  String,
  Array,
  Object,
}

/** Any JSON value. Narrow it with asObject()/asArray()/… or by `type`. */
export class JsonValue {
  constructor(public readonly type: JsonType) {}

  // Where a parsed value came from (set by JsonParser; a value made in code has no source). For an object
  // or array, `source` is dropped once its members are read: from then on the members are the truth.
  /** The text this value was parsed from, while its span still stands for it; else null. */
  source: ArrayBuffer | null = null;
  /** The value's byte span in `source`. */
  sourceStart: i32 = 0;
  sourceEnd: i32 = 0;
  /** The span is exactly what stringifyJson would write (no spaces, minimal escapes): it is copied as is. */
  verbatim: bool = false;

  /** Marks this value as the unread span [start, end) of `source`. */
  setSource(source: ArrayBuffer, start: i32, end: i32, verbatim: bool): this {
    this.source = source;
    this.sourceStart = start;
    this.sourceEnd = end;
    this.verbatim = verbatim;
    return this;
  }

  get isNull(): bool { return this.type == JsonType.Null; }
  asBool(): JsonBool | null { return this.type == JsonType.Bool ? changetype<JsonBool>(this) : null; }
  asNumber(): JsonNumber | null { return this.type == JsonType.Number ? changetype<JsonNumber>(this) : null; }
  asString(): JsonString | null { return this.type == JsonType.String ? changetype<JsonString>(this) : null; }
  asArray(): JsonArray | null { return this.type == JsonType.Array ? changetype<JsonArray>(this) : null; }
  asObject(): JsonObject | null { return this.type == JsonType.Object ? changetype<JsonObject>(this) : null; }

  /** A deep copy (values taken from a configuration should be cloned before being inserted elsewhere). */
  clone(): JsonValue {
    if (this.type < JsonType.Array) return this; // scalars are immutable
    const source = this.source;
    if (source !== null) {
      // an unread container's text cannot change: the copy is a second view of it
      const copy: JsonValue = this.type == JsonType.Array ? new JsonArray() : new JsonObject();
      return copy.setSource(source, this.sourceStart, this.sourceEnd, this.verbatim);
    }
    if (this.type == JsonType.Array) {
      const items = changetype<JsonArray>(this).items;
      const copy = new Array<JsonValue>(items.length);
      for (let i = 0; i < items.length; i++) copy[i] = items[i].clone();
      return new JsonArray(copy);
    }
    const src = changetype<JsonObject>(this);
    const copy = new JsonObject();
    const keys = src.keys();
    for (let i = 0; i < keys.length; i++) copy.append(keys[i], src.valueAt(i).clone());
    return copy;
  }

  toString(): string {
    return stringifyJson(this);
  }
}

export class JsonNull extends JsonValue {
  constructor() { super(JsonType.Null); }
}

export class JsonBool extends JsonValue {
  constructor(public readonly value: bool) { super(JsonType.Bool); }
}

export class JsonNumber extends JsonValue {
  /** `raw` is valid JSON number text (the parser checks it; use fromF64/fromI64 to make one). */
  constructor(public readonly raw: string) { super(JsonType.Number); }

  static fromI64(v: i64): JsonNumber {
    return new JsonNumber(v.toString());
  }

  /** JSON has no NaN/Infinity: like JSON.stringify they become null, so fromF64 returns a JsonValue. */
  static fromF64(v: f64): JsonValue {
    if (!isFinite(v)) return new JsonNull();
    if (v == Math.floor(v) && Math.abs(v) < 9007199254740992.0) return new JsonNumber((<i64>v).toString());
    return new JsonNumber(v.toString());
  }

  get value(): f64 {
    return parseFloat(this.raw);
  }

  /** True for numbers written without fraction or exponent (e.g. 42, -7). */
  get isInteger(): bool {
    for (let i = 0; i < this.raw.length; i++) {
      const c = this.raw.charCodeAt(i);
      if (c == 0x2e || c == 0x65 || c == 0x45) return false; // . e E
    }
    return true;
  }
}

export class JsonString extends JsonValue {
  private decoded: string | null;
  constructor(value: string) {
    super(JsonType.String);
    this.decoded = value;
  }

  /** A string literal of a parsed text, decoded when first asked for. */
  static parsed(source: ArrayBuffer, start: i32, end: i32, verbatim: bool): JsonString {
    const s = new JsonString("");
    s.decoded = null;
    s.setSource(source, start, end, verbatim);
    return s;
  }

  get value(): string {
    let s = this.decoded;
    if (s === null) {
      s = readJsonString(this.source!, this.sourceStart);
      this.decoded = s;
    }
    return s;
  }
}

export class JsonArray extends JsonValue {
  private list: JsonValue[];
  constructor(items: JsonValue[] = []) {
    super(JsonType.Array);
    this.list = items;
  }

  /** The elements, in order (a parsed array is read on first use); change them in place. */
  get items(): JsonValue[] {
    if (this.source !== null) {
      const source = this.source!;
      this.source = null; // from now on the list is the truth
      readJsonMembers(this, source, this.sourceStart);
    }
    return this.list;
  }
  set items(items: JsonValue[]) {
    this.source = null;
    this.list = items;
  }
}

/**
 * A JSON object: members in order. Parsing keeps a repeated name as it came (get() answers the last
 * one, as JSON.parse does; set() and remove() act on every occurrence), so no input is quadratic.
 */
export class JsonObject extends JsonValue {
  private names: string[] = [];
  private values: JsonValue[] = [];

  constructor() { super(JsonType.Object); }

  /** A parsed object is split into members on first use. */
  private read(): void {
    if (this.source !== null) {
      const source = this.source!;
      this.source = null; // before appending: from now on the members are the truth
      readJsonMembers(this, source, this.sourceStart);
    }
  }

  /** Number of members (a repeated name counts each time). */
  get size(): i32 { this.read(); return this.names.length; }
  has(key: string): bool { this.read(); return this.names.lastIndexOf(key) >= 0; }
  /** Member names in order. */
  keys(): string[] { this.read(); return this.names.slice(); }
  /** The value of `key`, or null when absent. */
  get(key: string): JsonValue | null {
    this.read();
    const i = this.names.lastIndexOf(key);
    return i >= 0 ? this.values[i] : null;
  }
  /** Sets `key`: in place when present (dropping repeats), else appended. */
  set(key: string, value: JsonValue): void {
    this.read();
    const i = this.names.indexOf(key);
    if (i < 0) {
      this.append(key, value);
      return;
    }
    this.values[i] = value;
    this.removeFrom(key, i + 1);
  }
  /** Removes every member named `key`; false when there was none. */
  remove(key: string): bool {
    this.read();
    return this.removeFrom(key, 0);
  }
  /** Appends a member without looking for an existing one (the parser's way). */
  append(key: string, value: JsonValue): void {
    this.read();
    this.names.push(key);
    this.values.push(value);
  }

  /** The name of the i-th member (in keys() order). */
  keyAt(i: i32): string {
    this.read();
    return this.names[i];
  }

  /** The value of the i-th member (in keys() order). */
  valueAt(i: i32): JsonValue {
    this.read();
    return this.values[i];
  }

  /** The value of `key` when it is known to exist (traps otherwise). */
  getOr(key: string): JsonValue {
    this.read();
    return this.values[this.names.lastIndexOf(key)];
  }

  /** The first key not in `allowed`, or null: for rejecting misspelt configuration fields. */
  unknownKey(allowed: string[]): string | null {
    this.read();
    for (let i = 0; i < this.names.length; i++) {
      if (!allowed.includes(this.names[i])) return this.names[i];
    }
    return null;
  }

  private removeFrom(key: string, from: i32): bool {
    let found = false;
    for (let i = this.names.length - 1; i >= from; i--) {
      if (this.names[i] == key) {
        this.names.splice(i, 1);
        this.values.splice(i, 1);
        found = true;
      }
    }
    return found;
  }
}

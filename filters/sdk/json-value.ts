// JSON values: the tree JsonParser builds and stringifyJson writes (json.ts has the overview).
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

  get isNull(): bool { return this.type == JsonType.Null; }
  asBool(): JsonBool | null { return this.type == JsonType.Bool ? changetype<JsonBool>(this) : null; }
  asNumber(): JsonNumber | null { return this.type == JsonType.Number ? changetype<JsonNumber>(this) : null; }
  asString(): JsonString | null { return this.type == JsonType.String ? changetype<JsonString>(this) : null; }
  asArray(): JsonArray | null { return this.type == JsonType.Array ? changetype<JsonArray>(this) : null; }
  asObject(): JsonObject | null { return this.type == JsonType.Object ? changetype<JsonObject>(this) : null; }

  /** A deep copy (values taken from a configuration should be cloned before being inserted elsewhere). */
  clone(): JsonValue {
    switch (this.type) {
      case JsonType.Array: {
        const items = changetype<JsonArray>(this).items;
        const copy = new Array<JsonValue>(items.length);
        for (let i = 0; i < items.length; i++) copy[i] = items[i].clone();
        return new JsonArray(copy);
      }
      case JsonType.Object: {
        const src = changetype<JsonObject>(this);
        const copy = new JsonObject();
        const keys = src.keys();
        for (let i = 0; i < keys.length; i++) copy.append(keys[i], src.valueAt(i).clone());
        return copy;
      }
      default:
        return this; // scalars are immutable
    }
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
  constructor(public readonly value: string) { super(JsonType.String); }
}

export class JsonArray extends JsonValue {
  constructor(public items: JsonValue[] = []) { super(JsonType.Array); }
}

/**
 * A JSON object: members in order. Parsing keeps a repeated name as it came (get() answers the last
 * one, as JSON.parse does; set() and remove() act on every occurrence), so no input is quadratic.
 */
export class JsonObject extends JsonValue {
  private names: string[] = [];
  private values: JsonValue[] = [];

  constructor() { super(JsonType.Object); }

  /** Number of members (a repeated name counts each time). */
  get size(): i32 { return this.names.length; }
  has(key: string): bool { return this.names.lastIndexOf(key) >= 0; }
  /** Member names in order. */
  keys(): string[] { return this.names.slice(); }
  /** The value of `key`, or null when absent. */
  get(key: string): JsonValue | null {
    const i = this.names.lastIndexOf(key);
    return i >= 0 ? this.values[i] : null;
  }
  /** Sets `key`: in place when present (dropping repeats), else appended. */
  set(key: string, value: JsonValue): void {
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
    return this.removeFrom(key, 0);
  }
  /** Appends a member without looking for an existing one (the parser's way). */
  append(key: string, value: JsonValue): void {
    this.names.push(key);
    this.values.push(value);
  }

  /** The name of the i-th member (in keys() order). */
  keyAt(i: i32): string {
    return this.names[i];
  }

  /** The value of the i-th member (in keys() order). */
  valueAt(i: i32): JsonValue {
    return this.values[i];
  }

  /** The value of `key` when it is known to exist (traps otherwise). */
  getOr(key: string): JsonValue {
    return this.values[this.names.lastIndexOf(key)];
  }

  /** The first key not in `allowed`, or null: for rejecting misspelt configuration fields. */
  unknownKey(allowed: string[]): string | null {
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

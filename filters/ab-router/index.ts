// ab-router: puts every user in a stable variant of an A/B experiment and tells the router which one.
// See README.md for the configuration and the exact bucketing.
export * from "../sdk/exports";

import {
  ConfigObject, FilterHeadersStatus, HttpContext, RootContext, getCurrentTimeNanoseconds, isHeaderName, log,
  randomBytes, registerRootContext, requestHeaders, responseHeaders,
} from "../sdk";

const BUCKETS: u32 = 10000; // weights are percentages with up to two decimals: basis points
const COOKIE_ATTRIBUTES = "; Path=/; Max-Age=31536000; SameSite=Lax";
const RESPONSE_HEADER = "x-experiment-variant";

class Variant {
  /** Buckets [previous end, end) belong to this variant. */
  constructor(public readonly name: string, public readonly end: u32) {}
}

class AbRouterRoot extends RootContext {
  experiment: string = "";
  cookie: string = "uid";
  header: string = "x-variant";
  variants: Variant[] = [];

  onConfigure(configurationSize: u32): bool {
    const error = this.read(this.getPluginConfiguration());
    if (error !== null) {
      log.error("ab-router: invalid configuration: " + error);
      return false;
    }
    return true;
  }

  /** Reads the configuration into this root; the error, or null when it is valid. */
  private read(text: string): string | null {
    const config = ConfigObject.parse(text, ["experiment", "cookie", "header", "variants"]);
    if (config.error !== null) return config.error;
    const obj = config.object!;

    const experiment = obj.get("experiment");
    const e = experiment !== null ? experiment.asString() : null;
    if (e === null || e.value.length == 0) return "experiment: expected a non-empty string (it salts the bucketing)";
    const cookie = obj.get("cookie");
    let cookieName = "uid";
    if (cookie !== null) {
      const c = cookie.asString();
      if (c === null || !isHeaderName(c.value)) return "cookie: expected a cookie name (letters, digits, -_.)";
      cookieName = c.value;
    }
    const header = obj.get("header");
    let headerName = "x-variant";
    if (header !== null) {
      const h = header.asString();
      if (h === null || !isHeaderName(h.value)) return "header: expected a header name";
      headerName = h.value.toLowerCase();
    }

    const list = obj.get("variants");
    const items = list !== null ? list.asArray() : null;
    if (items === null || items.items.length == 0) return "variants: expected a non-empty list of {name, weight}";
    const variants = new Array<Variant>();
    const names = new Set<string>();
    let total: u32 = 0;
    for (let i = 0; i < items.items.length; i++) {
      const at = "variants[" + i.toString() + "]";
      const v = items.items[i].asObject();
      if (v === null) return at + ": expected {name, weight}";
      const unknownField = v.unknownKey(["name", "weight"]);
      if (unknownField !== null) return at + "." + unknownField + ": unknown field (expected name, weight)";
      const nameValue = v.get("name");
      const name = nameValue !== null ? nameValue.asString() : null;
      if (name === null || !isHeaderName(name.value)) return at + ".name: expected a name made of letters, digits, -_.";
      if (names.has(name.value)) return at + ".name: \"" + name.value + "\" appears twice";
      names.add(name.value);
      const weightValue = v.get("weight");
      const weight = weightValue !== null ? weightValue.asNumber() : null;
      if (weight === null) return at + ".weight: expected a number (a percentage)";
      const w = weight.value;
      const points = Math.round(w * 100);
      if (!(w >= 0 && w <= 100) || Math.abs(w * 100 - points) > 1e-6) {
        return at + ".weight: expected a percentage from 0 to 100 with at most two decimals";
      }
      total += <u32>points;
      variants.push(new Variant(name.value, total));
    }
    if (total != BUCKETS) {
      const whole = (total / 100).toString();
      const cents = total % 100;
      const sum = cents == 0 ? whole : whole + "." + (cents < 10 ? "0" : "") + cents.toString();
      return "variants: weights add up to " + sum + ", expected 100";
    }
    this.experiment = e.value;
    this.cookie = cookieName;
    this.header = headerName;
    this.variants = variants;
    return null;
  }

  /** The variant of a user id: FNV-1a 32 of "<experiment>:<id>" (UTF-8), modulo 10000, by cumulative weight. */
  pick(id: string): Variant {
    const bucket = fnv1a32(String.UTF8.encode(this.experiment + ":" + id)) % BUCKETS;
    for (let i = 0; i < this.variants.length; i++) {
      if (bucket < this.variants[i].end) return this.variants[i];
    }
    return this.variants[this.variants.length - 1]; // not reached: the last end is BUCKETS
  }

  createHttpContext(id: u32): HttpContext | null {
    return new AbRouter(id, this);
  }
}

class AbRouter extends HttpContext {
  private variant: string | null = null;
  /** A user id this filter made up, to hand to the client in set-cookie. */
  private newId: string | null = null;

  constructor(id: u32, private readonly config: AbRouterRoot) {
    super(id, config);
  }

  onRequestHeaders(numHeaders: u32, endOfStream: bool): FilterHeadersStatus {
    let id = findCookie(requestHeaders.getValues("cookie"), this.config.cookie);
    if (id === null) {
      id = newUserId();
      this.newId = id;
    }
    const variant = this.config.pick(id);
    this.variant = variant.name;
    // replaces whatever the client sent: clients must not pick their own variant
    requestHeaders.set(this.config.header, variant.name);
    return FilterHeadersStatus.Continue;
  }

  onResponseHeaders(numHeaders: u32, endOfStream: bool): FilterHeadersStatus {
    const variant = this.variant;
    if (variant !== null) responseHeaders.add(RESPONSE_HEADER, variant);
    const newId = this.newId;
    if (newId !== null) responseHeaders.add("set-cookie", this.config.cookie + "=" + newId + COOKIE_ATTRIBUTES);
    return FilterHeadersStatus.Continue;
  }
}

/**
 * The value of cookie `name` in the `cookie` header values ("a=1; uid=xyz"), or null when absent or
 * empty. Surrounding spaces and one pair of double quotes are stripped; the first occurrence wins.
 */
function findCookie(headers: string[], name: string): string | null {
  for (let h = 0; h < headers.length; h++) {
    const pairs = headers[h].split(";");
    for (let i = 0; i < pairs.length; i++) {
      const pair = pairs[i];
      const eq = pair.indexOf("=");
      if (eq < 0 || pair.substring(0, eq).trim() != name) continue;
      let value = pair.substring(eq + 1).trim();
      if (value.length >= 2 && value.startsWith("\"") && value.endsWith("\"")) value = value.substring(1, value.length - 1);
      return value.length > 0 ? value : null;
    }
  }
  return null;
}

const HEX = "0123456789abcdef";
let fallbackCounter: u64 = 0;

/** 32 hex digits (128 bits) from the host's random source; if that fails, from the clock and a counter. */
function newUserId(): string {
  let bytes = randomBytes(16);
  if (bytes === null) {
    bytes = new Uint8Array(16);
    let x = getCurrentTimeNanoseconds() ^ (++fallbackCounter << 40);
    for (let i = 0; i < 16; i++) {
      x = splitmix64(x);
      bytes[i] = <u8>(x >> 56);
    }
  }
  let out = "";
  for (let i = 0; i < bytes.length; i++) {
    const b = <i32>bytes[i];
    out += HEX.charAt(b >> 4) + HEX.charAt(b & 15);
  }
  return out;
}

function splitmix64(x: u64): u64 {
  x += 0x9e3779b97f4a7c15;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9;
  x = (x ^ (x >> 27)) * 0x94d049bb133111eb;
  return x ^ (x >> 31);
}

/** FNV-1a, 32 bits. */
function fnv1a32(data: ArrayBuffer): u32 {
  let h: u32 = 0x811c9dc5;
  const p = changetype<usize>(data);
  for (let i = 0; i < data.byteLength; i++) {
    h ^= <u32>load<u8>(p + <usize>i);
    h *= 0x01000193;
  }
  return h;
}

registerRootContext((id: u32): RootContext => new AbRouterRoot(id));

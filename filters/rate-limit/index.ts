// rate-limit: a token bucket per client (its address, or a request header such as an API key), kept in
// shared data so the limit holds exactly across every worker. See README.md.
export * from "../sdk/exports";

import {
  ConfigObject, EncodedHeader, FilterHeadersStatus, HeaderPair, HttpContext, LogLevel, Property, RootContext, WasmResult,
  getCurrentTimeNanoseconds, getPropertyString, getSharedDataBytes, isHeaderName, log, registerRootContext, requestHeaders,
  responseHeaders, sendLocalResponse, setSharedDataBytes,
} from "../sdk";

/** Tokens are counted in thousandths, so fractional rates refill smoothly. */
const MILLI: u64 = 1000;
const NS_PER_S: u64 = 1_000_000_000;
/** Read-compute-write attempts before giving up on a key other workers keep changing. */
const MAX_ATTEMPTS = 64;
/** Header values longer than this are hashed into the key (the store keeps every key it ever saw). */
const MAX_RAW_KEY = 64;
/** The largest rate and burst accepted: keeps every product below 2^63. */
const MAX_RATE: f64 = 1_000_000;
const MAX_BURST: f64 = 1_000_000;

// Per-request work allocates as little as it can (the limiter runs on every request): the property
// path, the key prefixes and the limit header are encoded once, the key is built as bytes, and the
// value written back and the decision are reused.
const SOURCE_ADDRESS = new Property(["source", "address"]);
/** The bucket written back (the host copies it during the call). */
const VALUE = new ArrayBuffer(16);

class RateLimitRoot extends RootContext {
  /** "" = the client address; otherwise the request header whose value is the key. */
  header: string = "";
  /** The "key" field as configured, for log lines. */
  keySpec: string = "source.address";
  burst: u64 = 0;
  /** Refill rate in milli-tokens per second. */
  rate: u64 = 0;
  /** Key prefixes, "rl:<filter name>:addr:" etc. (filters with their own limits never share buckets). */
  addrPrefix: ArrayBuffer = new ArrayBuffer(0);
  headerPrefix: ArrayBuffer = new ArrayBuffer(0);
  hashedPrefix: ArrayBuffer = new ArrayBuffer(0);
  /** x-ratelimit-limit: <burst>, encoded once. */
  limitHeader: EncodedHeader = new EncodedHeader("x-ratelimit-limit");
  private storeErrorLogged: bool = false;

  onConfigure(configurationSize: u32): bool {
    const error = this.read(this.getPluginConfiguration());
    if (error !== null) {
      log.error("rate-limit: invalid configuration: " + error);
      return false;
    }
    const name = getPropertyString(["plugin_name"]);
    const prefix = "rl:" + (name !== null ? name : "") + ":";
    this.addrPrefix = String.UTF8.encode(prefix + "addr:");
    this.headerPrefix = String.UTF8.encode(prefix + "hdr:");
    this.hashedPrefix = String.UTF8.encode(prefix + "hdr#");
    this.limitHeader = new EncodedHeader("x-ratelimit-limit", this.burst.toString());
    return true;
  }

  private read(text: string): string | null {
    const config = ConfigObject.parse(text, ["key", "requests_per_second", "burst"]);
    if (config.error !== null) return config.error;
    const obj = config.object!;

    let header = "";
    let keySpec = "source.address";
    const keyValue = obj.get("key");
    if (keyValue !== null) {
      const k = keyValue.asString();
      if (k === null) return "key: expected \"source.address\" or \"header:<name>\"";
      keySpec = k.value;
      if (keySpec.startsWith("header:")) {
        header = keySpec.substring(7).toLowerCase();
        if (!isHeaderName(header) || header.startsWith(":")) return "key: \"" + keySpec + "\": expected a header name after header:";
      } else if (keySpec != "source.address") {
        return "key: expected \"source.address\" or \"header:<name>\", got \"" + keySpec + "\"";
      }
    }

    const rpsValue = obj.get("requests_per_second");
    const rps = rpsValue !== null ? rpsValue.asNumber() : null;
    if (rps === null || !(rps.value > 0) || rps.value > MAX_RATE) return "requests_per_second: expected a number above 0, at most 1000000";
    const rate = <u64>Math.round(rps.value * <f64>MILLI);
    if (rate == 0) return "requests_per_second: at least 0.001";

    const burstValue = obj.get("burst");
    let burst: u64 = <u64>Math.max(1, Math.ceil(rps.value)); // default: one second's worth
    if (burstValue !== null) {
      const b = burstValue.asNumber();
      if (b === null || !b.isInteger || b.value < 1 || b.value > MAX_BURST) return "burst: expected an integer from 1 to 1000000";
      burst = <u64>b.value;
    }

    this.header = header;
    this.keySpec = keySpec;
    this.rate = rate;
    this.burst = burst;
    return null;
  }

  /** A store that cannot serve (no shared data, or full) lets requests through; said once. */
  storeError(what: string): void {
    if (this.storeErrorLogged) return;
    this.storeErrorLogged = true;
    log.error("rate-limit: " + what + "; requests are not limited until it works");
  }

  createHttpContext(id: u32): HttpContext | null {
    return new RateLimit(id, this);
  }
}

/** What taking a token decided (one instance, filled by each take()). */
class Decision {
  allowed: bool = false;
  /** Whole tokens left after this request. */
  remaining: u64 = 0;
  /** Seconds until a token is available (0 when allowed). */
  retryAfter: u64 = 0;
  /** Seconds until the bucket is full again. */
  reset: u64 = 0;

  set(allowed: bool, remaining: u64, retryAfter: u64, reset: u64): Decision {
    this.allowed = allowed;
    this.remaining = remaining;
    this.retryAfter = retryAfter;
    this.reset = reset;
    return this;
  }
}
const decision = new Decision();

class RateLimit extends HttpContext {
  /** Set when the request was let through by the limiter (not when it failed open). */
  private allowed: bool = false;
  private remaining: u64 = 0;

  constructor(id: u32, private readonly config: RateLimitRoot) {
    super(id, config);
  }

  onRequestHeaders(numHeaders: u32, endOfStream: bool): FilterHeadersStatus {
    const config = this.config;
    const decision = take(config, this.clientKey());
    if (decision === null) return FilterHeadersStatus.Continue; // fail open
    if (decision.allowed) {
      this.allowed = true;
      this.remaining = decision.remaining;
      return FilterHeadersStatus.Continue;
    }
    const headers = new Array<HeaderPair>();
    headers.push(new HeaderPair("retry-after", decision.retryAfter.toString()));
    headers.push(new HeaderPair("x-ratelimit-limit", config.burst.toString()));
    headers.push(new HeaderPair("x-ratelimit-remaining", "0"));
    headers.push(new HeaderPair("x-ratelimit-reset", decision.reset.toString()));
    sendLocalResponse(429, "rate_limited", "too many requests\n", headers);
    return FilterHeadersStatus.StopIteration;
  }

  onResponseHeaders(numHeaders: u32, endOfStream: bool): FilterHeadersStatus {
    if (this.allowed) {
      responseHeaders.setEncoded(this.config.limitHeader);
      responseHeaders.set("x-ratelimit-remaining", this.remaining.toString());
    }
    return FilterHeadersStatus.Continue;
  }

  /**
   * The bucket's key: "rl:<name>:addr:<ip>" or "rl:<name>:hdr:<value>" ("hdr#<hash>" for long values);
   * a request without the header is limited by its address.
   */
  private clientKey(): ArrayBuffer {
    const config = this.config;
    if (config.header.length > 0) {
      const value = requestHeaders.get(config.header);
      if (value !== null && value.length > 0) {
        if (value.length > MAX_RAW_KEY) return keyOf(config.hashedPrefix, String.UTF8.encode(fnv1a64Hex(value)));
        return keyOf(config.headerPrefix, String.UTF8.encode(value));
      }
    }
    const address = SOURCE_ADDRESS.get();
    return address !== null ? keyOf(config.addrPrefix, address, hostLength(address)) : keyOf(config.addrPrefix, String.UTF8.encode("unknown"));
  }
}

/** prefix + the first `length` bytes of `tail` (all of them by default). */
function keyOf(prefix: ArrayBuffer, tail: ArrayBuffer, length: i32 = -1): ArrayBuffer {
  const n = length < 0 ? tail.byteLength : length;
  const key = new ArrayBuffer(prefix.byteLength + n);
  memory.copy(changetype<usize>(key), changetype<usize>(prefix), prefix.byteLength);
  memory.copy(changetype<usize>(key) + prefix.byteLength, changetype<usize>(tail), n);
  return key;
}

/**
 * Takes one token from the bucket under `key`: read it with its CAS token, refill it for the time
 * since its last update, and (if a token is there) write it back with that CAS; a write some other
 * worker beat us to answers CasMismatch, and we start over. Null when the store cannot serve.
 * Value: u64 milli-tokens, u64 time of the last refill (ns since the epoch), little-endian.
 */
function take(config: RateLimitRoot, key: ArrayBuffer): Decision | null {
  const capacity = config.burst * MILLI;
  const rate = config.rate;
  let lastReset: u64 = 1;
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const now = getCurrentTimeNanoseconds();
    const data = getSharedDataBytes(key);
    let tokens = capacity;
    let stamp = now;
    if (data.status == WasmResult.Ok) {
      const v = data.value!;
      if (v.byteLength == 16) {
        tokens = min(load<u64>(changetype<usize>(v)), capacity);
        stamp = load<u64>(changetype<usize>(v) + 8);
        if (stamp > now) stamp = now; // the clock went back: no refill, no debt
      }
    } else if (data.status != WasmResult.NotFound) {
      config.storeError("shared data answers status " + (<i32>data.status).toString());
      return null;
    }
    // refill; the time to fill up bounds the product (≤ capacity·1e9 < 2^63)
    const missing = capacity - tokens;
    const elapsed = now - stamp;
    if (missing > 0 && elapsed > 0) {
      const fillNs = (missing * NS_PER_S + rate - 1) / rate;
      if (elapsed >= fillNs) {
        tokens = capacity;
        stamp = now;
      } else {
        const added = elapsed * rate / NS_PER_S;
        if (added > 0) {
          tokens += added;
          stamp = now; // else keep the old stamp, so sub-milli-token time is not lost
        }
      }
    } else if (missing == 0) {
      stamp = now;
    }

    if (tokens < MILLI) {
      // over the limit: nothing to write (the refill is recomputed from the stored stamp next time)
      const wait = (MILLI - tokens) * NS_PER_S / rate;
      const full = (capacity - tokens) * NS_PER_S / rate;
      return decision.set(false, 0, max<u64>(1, ceilSeconds(wait)), ceilSeconds(full));
    }
    tokens -= MILLI;
    store<u64>(changetype<usize>(VALUE), tokens);
    store<u64>(changetype<usize>(VALUE) + 8, stamp);
    const status = setSharedDataBytes(key, VALUE, data.cas);
    lastReset = ceilSeconds((capacity - tokens) * NS_PER_S / rate);
    if (status == WasmResult.Ok) return decision.set(true, tokens / MILLI, 0, lastReset);
    if (status != WasmResult.CasMismatch) {
      config.storeError("shared data refuses writes (status " + (<i32>status).toString() + ")");
      return null;
    }
    // CasMismatch on a key that does not exist cannot be contention (a missing key is created whatever
    // the cas): the store refused the new key, as a full store answers
    if (getSharedDataBytes(key).status == WasmResult.NotFound) {
      config.storeError("the shared data store is full (raise shared_data limits)");
      return null;
    }
  }
  // other workers won every round: count it as over the limit rather than let an unbounded burst through
  if (log.enabled(LogLevel.Info)) log.info("rate-limit: " + String.UTF8.decode(key) + " is too contended; answering 429");
  return decision.set(false, 0, 1, lastReset);
}

function ceilSeconds(ns: u64): u64 {
  return (ns + NS_PER_S - 1) / NS_PER_S;
}

/**
 * How many leading bytes of an address are the host: "1.2.3.4:5678" → "1.2.3.4"; "::1:5678" (unbracketed,
 * as wasmgate writes it) → "::1". A bracketed "[::1]:5678" is moved in place to "::1" first.
 */
function hostLength(address: ArrayBuffer): i32 {
  const p = changetype<usize>(address);
  const n = address.byteLength;
  if (n > 0 && load<u8>(p) == 0x5b /* [ */) {
    for (let i = 1; i < n; i++) {
      if (load<u8>(p + i) == 0x5d /* ] */) {
        memory.copy(p, p + 1, i - 1);
        return i - 1;
      }
    }
    return n;
  }
  for (let i = n - 1; i > 0; i--) if (load<u8>(p + i) == 0x3a /* : */) return i;
  return n;
}

/** FNV-1a 64 of the UTF-8 bytes, as 16 hex digits. */
function fnv1a64Hex(s: string): string {
  const bytes = Uint8Array.wrap(String.UTF8.encode(s));
  let h: u64 = 0xcbf29ce484222325;
  for (let i = 0; i < bytes.length; i++) {
    h ^= <u64>bytes[i];
    h *= 0x100000001b3;
  }
  let out = h.toString(16);
  while (out.length < 16) out = "0" + out;
  return out;
}

registerRootContext((id: u32): RootContext => new RateLimitRoot(id));

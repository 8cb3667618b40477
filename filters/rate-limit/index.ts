// rate-limit: a token bucket per client (its address, or a request header such as an API key), kept in
// shared data so the limit holds exactly across every worker. See README.md.
export * from "../sdk/exports";

import {
  ConfigObject, FilterHeadersStatus, HeaderPair, HttpContext, LogLevel, RootContext, WasmResult, getCurrentTimeNanoseconds,
  getPropertyString, getSharedData, isHeaderName, log, registerRootContext, requestHeaders, responseHeaders,
  sendLocalResponse, setSharedData,
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

class RateLimitRoot extends RootContext {
  /** "" = the client address; otherwise the request header whose value is the key. */
  header: string = "";
  /** The "key" field as configured, for log lines. */
  keySpec: string = "source.address";
  burst: u64 = 0;
  /** Refill rate in milli-tokens per second. */
  rate: u64 = 0;
  /** The shared-data key prefix: "rl:<filter name>:" (filters with their own limits never share buckets). */
  prefix: string = "rl:";
  private storeErrorLogged: bool = false;

  onConfigure(configurationSize: u32): bool {
    const error = this.read(this.getPluginConfiguration());
    if (error !== null) {
      log.error("rate-limit: invalid configuration: " + error);
      return false;
    }
    const name = getPropertyString(["plugin_name"]);
    this.prefix = "rl:" + (name !== null ? name : "") + ":";
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

/** What taking a token decided. */
class Decision {
  constructor(
    public readonly allowed: bool,
    /** Whole tokens left after this request. */
    public readonly remaining: u64,
    /** Seconds until a token is available (0 when allowed). */
    public readonly retryAfter: u64,
    /** Seconds until the bucket is full again. */
    public readonly reset: u64,
  ) {}
}

class RateLimit extends HttpContext {
  /** Set when the request was let through by the limiter (not when it failed open). */
  private decision: Decision | null = null;

  constructor(id: u32, private readonly config: RateLimitRoot) {
    super(id, config);
  }

  onRequestHeaders(numHeaders: u32, endOfStream: bool): FilterHeadersStatus {
    const config = this.config;
    const decision = take(config, config.prefix + this.clientKey());
    if (decision === null) return FilterHeadersStatus.Continue; // fail open
    if (decision.allowed) {
      this.decision = decision;
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
    const d = this.decision;
    if (d !== null) {
      responseHeaders.set("x-ratelimit-limit", this.config.burst.toString());
      responseHeaders.set("x-ratelimit-remaining", d.remaining.toString());
    }
    return FilterHeadersStatus.Continue;
  }

  /** "addr:<ip>" or "hdr:<value>"; a request without the header is limited by its address. */
  private clientKey(): string {
    const header = this.config.header;
    if (header.length > 0) {
      const value = requestHeaders.get(header);
      if (value !== null && value.length > 0) {
        return value.length > MAX_RAW_KEY ? "hdr#" + fnv1a64Hex(value) : "hdr:" + value;
      }
    }
    const address = getPropertyString(["source", "address"]);
    return "addr:" + (address !== null ? stripPort(address) : "unknown");
  }
}

/**
 * Takes one token from the bucket under `key`: read it with its CAS token, refill it for the time
 * since its last update, and (if a token is there) write it back with that CAS; a write some other
 * worker beat us to answers CasMismatch, and we start over. Null when the store cannot serve.
 * Value: u64 milli-tokens, u64 time of the last refill (ns since the epoch), little-endian.
 */
function take(config: RateLimitRoot, key: string): Decision | null {
  const capacity = config.burst * MILLI;
  const rate = config.rate;
  let last: Decision | null = null;
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const now = getCurrentTimeNanoseconds();
    const data = getSharedData(key);
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
      return new Decision(false, 0, max<u64>(1, ceilSeconds(wait)), ceilSeconds(full));
    }
    tokens -= MILLI;
    const value = new ArrayBuffer(16);
    store<u64>(changetype<usize>(value), tokens);
    store<u64>(changetype<usize>(value) + 8, stamp);
    const status = setSharedData(key, value, data.cas);
    last = new Decision(true, tokens / MILLI, 0, ceilSeconds((capacity - tokens) * NS_PER_S / rate));
    if (status == WasmResult.Ok) return last;
    if (status != WasmResult.CasMismatch) {
      config.storeError("shared data refuses writes (status " + (<i32>status).toString() + ")");
      return null;
    }
    // CasMismatch on a key that does not exist cannot be contention (a missing key is created whatever
    // the cas): the store refused the new key, as a full store answers
    if (getSharedData(key).status == WasmResult.NotFound) {
      config.storeError("the shared data store is full (raise shared_data limits)");
      return null;
    }
  }
  // other workers won every round: count it as over the limit rather than let an unbounded burst through
  if (log.enabled(LogLevel.Info)) log.info("rate-limit: " + key + " is too contended; answering 429");
  return new Decision(false, 0, 1, last !== null ? last.reset : 1);
}

function ceilSeconds(ns: u64): u64 {
  return (ns + NS_PER_S - 1) / NS_PER_S;
}

/** "1.2.3.4:5678" → "1.2.3.4"; "[::1]:5678" → "::1"; "::1:5678" (unbracketed, as wasmgate writes it) → "::1". */
function stripPort(address: string): string {
  if (address.startsWith("[")) {
    const end = address.indexOf("]");
    return end > 0 ? address.substring(1, end) : address;
  }
  const colon = address.lastIndexOf(":");
  return colon > 0 ? address.substring(0, colon) : address;
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

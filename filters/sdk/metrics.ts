// Metrics (PROXY-WASM.md §3.10): counters, gauges and histograms the host aggregates and exports. A
// metric is defined with the host at its first use (proxy_define_metric) and its id cached, so metrics
// can be plain fields or module-level constants:
//   const requests = new Counter("requests_total");
//   requests.increment();
// A host without metrics answers Unimplemented: the metric remembers that and every later call returns
// it at once (status says so), so a filter can ignore metrics it cannot have.
import { MetricType, WasmResult } from "./constants";
import { proxy_define_metric, proxy_get_metric, proxy_increment_metric, proxy_record_metric } from "./imports";
import { RET_EXTRA, clearRet, ptrOf, utf8 } from "./memory";

/** What a Metric holds before its first use. */
const UNDEFINED_STATUS: i32 = -1;

/** A named metric of one type; its host id is fetched at first use. */
export class Metric {
  private metricId: u32 = 0;
  private defineStatus: i32 = UNDEFINED_STATUS;

  constructor(public readonly type: MetricType, public readonly name: string) {}

  /** Ok once the host defined the metric; its refusal otherwise (e.g. Unimplemented). Defines it if needed. */
  get status(): WasmResult {
    this.id();
    return <WasmResult>this.defineStatus;
  }

  /** The host's id for this metric (defining it at the first call), or 0 when the host refused it. */
  id(): u32 {
    if (this.defineStatus == UNDEFINED_STATUS) {
      const n = utf8(this.name);
      clearRet();
      const status = proxy_define_metric(this.type, ptrOf(n), n.byteLength, RET_EXTRA);
      this.defineStatus = <i32>status;
      if (status == WasmResult.Ok) this.metricId = load<u32>(RET_EXTRA);
    }
    return this.metricId;
  }

  protected hostIncrement(delta: i64): WasmResult {
    const id = this.id();
    return id == 0 ? <WasmResult>this.defineStatus : <WasmResult>proxy_increment_metric(id, delta);
  }

  protected hostRecord(value: u64): WasmResult {
    const id = this.id();
    return id == 0 ? <WasmResult>this.defineStatus : <WasmResult>proxy_record_metric(id, value);
  }

  /** The current value (counters and gauges; this VM's view as the host keeps it), or 0 when unavailable. */
  protected hostGet(): u64 {
    const id = this.id();
    if (id == 0) return 0;
    store<u64>(RET_EXTRA, 0);
    if (proxy_get_metric(id, RET_EXTRA) != WasmResult.Ok) return 0;
    return load<u64>(RET_EXTRA);
  }
}

/** A value that only goes up: requests, errors, bytes. */
export class Counter extends Metric {
  constructor(name: string) {
    super(MetricType.Counter, name);
  }
  /** Adds `delta` (> 0). */
  increment(delta: u64 = 1): WasmResult {
    return this.hostIncrement(<i64>delta);
  }
  get(): u64 {
    return this.hostGet();
  }
}

/** A value that goes up and down: requests in flight, queue lengths. */
export class Gauge extends Metric {
  constructor(name: string) {
    super(MetricType.Gauge, name);
  }
  /** Adds `delta` (negative to subtract). */
  add(delta: i64): WasmResult {
    return this.hostIncrement(delta);
  }
  sub(delta: i64): WasmResult {
    return this.hostIncrement(-delta);
  }
  set(value: i64): WasmResult {
    return this.hostRecord(<u64>value);
  }
  get(): i64 {
    return <i64>this.hostGet();
  }
}

/** A distribution of samples (latencies, sizes); the host keeps the buckets. */
export class Histogram extends Metric {
  constructor(name: string) {
    super(MetricType.Histogram, name);
  }
  record(value: u64): WasmResult {
    return this.hostRecord(value);
  }
}

/**
 * A metric name carrying tags, as "name.key=value.key=value": wasmgate exports every `key=value`
 * segment as a Prometheus label (`wasmcustom_name{filter="…",key="value"}`), in the spirit of Envoy's
 * tag extraction. `tags` alternates keys and values. Segments are split on ".", so a "." inside a
 * value becomes "_" (a route "api.v1" is labelled "api_v1").
 */
export function taggedMetricName(name: string, tags: string[]): string {
  let out = name;
  for (let i = 0; i + 1 < tags.length; i += 2) out += "." + tags[i] + "=" + tags[i + 1].replaceAll(".", "_");
  return out;
}

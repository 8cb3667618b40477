// route-metrics: per-route response counts by status class, response latency, and requests in flight,
// as filter metrics the gateway exports on its admin port. See README.md for the metric names.
export * from "../sdk/exports";
export { proxy_on_log, proxy_on_done } from "../sdk/runtime"; // it counts in onLog and onDone

import {
  Counter, FilterHeadersStatus, Gauge, Histogram, HttpContext, JsonParser, RootContext, WasmResult,
  getPropertyI64, getPropertyString, log, registerRootContext, taggedMetricName,
} from "../sdk";

/** The route label of requests no route matched (route names start with a letter or digit: no clash). */
const NO_ROUTE = "_unmatched";
/** Status classes, by hundreds; index 0 counts streams that ended without a response (reset, client gone). */
const CLASSES: string[] = ["none", "1xx", "2xx", "3xx", "4xx", "5xx"];

/** The metrics of one route, defined with the host the first time the route is seen. */
class RouteMetrics {
  readonly responses: Counter[] = new Array<Counter>();
  readonly latency: Histogram;
  readonly active: Gauge;

  constructor(route: string) {
    this.latency = new Histogram(taggedMetricName("route_response_time_ms", ["route", route]));
    this.active = new Gauge(taggedMetricName("route_requests_active", ["route", route]));
    for (let i = 0; i < CLASSES.length; i++) {
      const counter = new Counter(taggedMetricName("route_responses_total", ["route", route, "class", CLASSES[i]]));
      counter.id(); // defined now, so every class of a route is exported (at 0) once the route is seen
      this.responses.push(counter);
    }
  }
}

class RouteMetricsRoot extends RootContext {
  private readonly routes: Map<string, RouteMetrics> = new Map<string, RouteMetrics>();
  private unavailableLogged: bool = false;

  onConfigure(configurationSize: u32): bool {
    const text = this.getPluginConfiguration().trim();
    if (text.length == 0) return true;
    const parsed = JsonParser.ofText(text).parse();
    const obj = parsed !== null ? parsed.asObject() : null;
    if (obj === null || obj.size > 0) {
      log.error("route-metrics: invalid configuration: expected none (or {}): the filter has no settings");
      return false;
    }
    return true;
  }

  /** The metrics of the stream's current route (property route_name). */
  metricsOf(route: string | null): RouteMetrics {
    const name = route !== null && route.length > 0 ? route : NO_ROUTE;
    if (this.routes.has(name)) return this.routes.get(name);
    const m = new RouteMetrics(name);
    this.routes.set(name, m);
    return m;
  }

  /** Metrics the host refuses are skipped; said once. */
  checked(status: WasmResult): void {
    if (status == WasmResult.Ok || this.unavailableLogged) return;
    this.unavailableLogged = true;
    log.warn("route-metrics: the host refuses metrics (status " + (<i32>status).toString() + "); nothing is counted");
  }

  createHttpContext(id: u32): HttpContext | null {
    return new RouteMetricsStream(id, this);
  }
}

class RouteMetricsStream extends HttpContext {
  /** The gauge this stream incremented (decremented in onDone), if any. */
  private counted: Gauge | null = null;

  constructor(id: u32, private readonly config: RouteMetricsRoot) {
    super(id, config);
  }

  onRequestHeaders(numHeaders: u32, endOfStream: bool): FilterHeadersStatus {
    const gauge = this.config.metricsOf(getPropertyString(["route_name"])).active;
    const status = gauge.add(1);
    this.config.checked(status);
    if (status == WasmResult.Ok) this.counted = gauge;
    return FilterHeadersStatus.Continue;
  }

  /** Every stream ends here, also those answered before this filter saw them (an earlier filter's reply). */
  onLog(): void {
    const m = this.config.metricsOf(getPropertyString(["route_name"]));
    const code = getPropertyI64(["response", "code"], 0);
    const cls = code >= 100 && code <= 599 ? <i32>(code / 100) : 0;
    this.config.checked(m.responses[cls].increment());
    const ns = getPropertyI64(["request", "duration"], -1);
    if (ns >= 0) m.latency.record(<u64>((ns + 999_999) / 1_000_000)); // whole ms, rounded up
  }

  onDone(): void {
    const gauge = this.counted;
    if (gauge !== null) gauge.sub(1);
    this.counted = null;
  }
}

registerRootContext((id: u32): RootContext => new RouteMetricsRoot(id));

// The stats snapshot in Prometheus text exposition format (version 0.0.4).
import type { ClassCounts, StatsSnapshot } from '../observability/stats.ts';
import { SECONDS_BOUNDS, type FilterCostSnapshot, type Histogram } from '../filters/filter-cost.ts';

const CLASS_LABELS = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

class Exposition {
  private readonly out: string[] = [];
  histogram(name: string, labels: Record<string, string>, h: Histogram): void {
    let cumulative = 0;
    SECONDS_BOUNDS.forEach((bound, i) => {
      cumulative += h.buckets[i] ?? 0;
      this.sample(`${name}_bucket`, { ...labels, le: String(bound) }, cumulative);
    });
    this.sample(`${name}_bucket`, { ...labels, le: '+Inf' }, h.count);
    this.sample(`${name}_sum`, labels, h.sum);
    this.sample(`${name}_count`, labels, h.count);
  }
  family(name: string, type: 'counter' | 'gauge' | 'histogram', help: string): void {
    this.out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  }
  sample(name: string, labels: Record<string, string>, value: number): void {
    const keys = Object.keys(labels);
    const l = keys.length === 0 ? '' : `{${keys.map((k) => `${k}="${escapeLabel(labels[k]!)}"`).join(',')}}`;
    this.out.push(`${name}${l} ${value}`);
  }
  classes(name: string, labels: Record<string, string>, c: ClassCounts): void {
    for (let i = 0; i < 5; i++) this.sample(name, { ...labels, class: CLASS_LABELS[i]! }, c[i]!);
  }
  text(): string {
    return `${this.out.join('\n')}\n`;
  }
}

export function toPrometheus(s: StatsSnapshot, extra: { workers: number; workerRestarts: number }): string {
  const e = new Exposition();
  e.family('wasmgate_requests_total', 'counter', 'Downstream requests completed, by status class.');
  e.classes('wasmgate_requests_total', {}, s.classes);
  e.family('wasmgate_requests_active', 'gauge', 'Downstream requests in flight.');
  e.sample('wasmgate_requests_active', {}, s.active);
  e.family('wasmgate_request_bytes_total', 'counter', 'Request body bytes forwarded upstream.');
  e.sample('wasmgate_request_bytes_total', {}, s.bytes_in);
  e.family('wasmgate_response_bytes_total', 'counter', 'Response body bytes sent downstream.');
  e.sample('wasmgate_response_bytes_total', {}, s.bytes_out);
  e.family('wasmgate_access_log_dropped_total', 'counter', 'Access log lines dropped because the reader of stdout fell behind.');
  e.sample('wasmgate_access_log_dropped_total', {}, s.access_log_dropped);
  e.family('wasmgate_downstream_connections_total', 'counter', 'Downstream connections accepted.');
  e.sample('wasmgate_downstream_connections_total', {}, s.downstream.connections_total);
  e.family('wasmgate_downstream_connections_active', 'gauge', 'Downstream connections open.');
  e.sample('wasmgate_downstream_connections_active', {}, s.downstream.connections_active);
  e.family('wasmgate_downstream_client_errors_total', 'counter', 'Requests rejected before routing (400, 408, 431).');
  e.sample('wasmgate_downstream_client_errors_total', {}, s.downstream.client_errors);
  e.family('wasmgate_downstream_client_aborts_total', 'counter', 'Requests whose client went away before the response completed.');
  e.sample('wasmgate_downstream_client_aborts_total', {}, s.downstream.client_aborts);
  e.family('wasmgate_route_requests_total', 'counter', 'Requests per route, by status class.');
  for (const [route, r] of Object.entries(s.routes)) e.classes('wasmgate_route_requests_total', { route }, r.classes);
  e.family('wasmgate_upstream_requests_total', 'counter', 'Requests sent to each upstream, by status class of the downstream response.');
  for (const [upstream, u] of Object.entries(s.upstreams)) e.classes('wasmgate_upstream_requests_total', { upstream }, u.classes);
  e.family('wasmgate_upstream_errors_total', 'counter', 'Upstream failures by reason (connect_failed, connect_timeout, timeout, reset, bad_response).');
  for (const [upstream, u] of Object.entries(s.upstreams)) {
    for (const [reason, n] of Object.entries(u.errors)) e.sample('wasmgate_upstream_errors_total', { upstream, reason }, n);
  }
  filterFamilies(e, s);
  e.family('wasmgate_workers', 'gauge', 'Worker threads listening.');
  e.sample('wasmgate_workers', {}, extra.workers);
  e.family('wasmgate_worker_restarts_total', 'counter', 'Workers replaced after they died.');
  e.sample('wasmgate_worker_restarts_total', {}, extra.workerRestarts);
  return e.text();
}

/** One number per filter, as a counter or a gauge. */
const FILTER_SCALARS: ReadonlyArray<readonly [string, 'counter' | 'gauge', string, (f: FilterCostSnapshot) => number]> = [
  ['wasmgate_filter_http_calls_total', 'counter', 'Outbound calls a filter made (proxy_http_call).', (f) => f.http_calls],
  ['wasmgate_filter_http_call_failures_total', 'counter', 'Outbound calls answered without a response (reset, too large).', (f) => f.http_call_failures],
  ['wasmgate_filter_failed_streams_total', 'counter', 'Requests a failing filter answered 500/503 (fail closed) or let through without it (fail open).', (f) => f.failed_streams],
  ['wasmgate_filter_vm_restarts_total', 'counter', 'Fresh VMs started to replace failed ones.', (f) => f.vm_restarts],
  ['wasmgate_filter_log_dropped_total', 'counter', 'Filter log lines dropped by the rate limit (200 per second per VM).', (f) => f.log_dropped],
  ['wasmgate_filter_quarantines_total', 'counter', 'Times the filter was quarantined for failing repeatedly.', (f) => f.quarantines],
  ['wasmgate_filter_quarantined', 'gauge', 'Workers in which the filter is quarantined now (its fail policy applies without calling it).', (f) => f.quarantined],
  ['wasmgate_filter_vms', 'gauge', 'Live VM instances of each filter (one per worker).', (f) => f.vms],
  ['wasmgate_filter_memory_bytes', 'gauge', 'Linear memory of the live VMs of each filter.', (f) => f.memory_bytes],
];

/** What each filter costs, counted by the host (no filter code involved). */
function filterFamilies(e: Exposition, s: StatsSnapshot): void {
  const filters = Object.entries(s.filters);
  if (filters.length === 0) return;
  e.family('wasmgate_filter_calls_total', 'counter', 'Calls into each filter, by callback.');
  for (const [filter, f] of filters) for (const [callback, n] of Object.entries(f.calls)) e.sample('wasmgate_filter_calls_total', { filter, callback }, n);
  e.family('wasmgate_filter_phase_seconds', 'histogram', 'Time of each call into a filter, by phase (request, response, log, root).');
  for (const [filter, f] of filters) for (const [phase, h] of Object.entries(f.phase_seconds)) e.histogram('wasmgate_filter_phase_seconds', { filter, phase }, h);
  e.family('wasmgate_filter_http_call_seconds', 'histogram', 'Latency of outbound calls, until the answer was delivered.');
  for (const [filter, f] of filters) e.histogram('wasmgate_filter_http_call_seconds', { filter }, f.http_call_seconds);
  e.family('wasmgate_filter_failures_total', 'counter', 'VM failures by cause (unreachable, memory_access, stack_overflow, cpu_exhausted, memory_exhausted, abort, exit, trap, start_failed, restart_failed, ...).');
  for (const [filter, f] of filters) for (const [cause, n] of Object.entries(f.failures)) e.sample('wasmgate_filter_failures_total', { filter, cause }, n);
  for (const [name, type, help, value] of FILTER_SCALARS) {
    e.family(name, type, help);
    for (const [filter, f] of filters) e.sample(name, { filter }, value(f));
  }
}

type ClassObject = Record<(typeof CLASS_LABELS)[number], number>;
const classObject = (c: ClassCounts): ClassObject => ({ '1xx': c[0], '2xx': c[1], '3xx': c[2], '4xx': c[3], '5xx': c[4] });

/** The snapshot for /stats: status classes as { "2xx": n, ... } objects. */
export function toJsonStats(s: StatsSnapshot): Record<string, unknown> {
  const mapValues = <T, U>(o: Record<string, T>, f: (v: T) => U): Record<string, U> =>
    Object.fromEntries(Object.entries(o).map(([k, v]) => [k, f(v)]));
  return {
    ...s,
    classes: classObject(s.classes),
    routes: mapValues(s.routes, (r) => ({ ...r, classes: classObject(r.classes) })),
    upstreams: mapValues(s.upstreams, (u) => ({ ...u, classes: classObject(u.classes) })),
  };
}

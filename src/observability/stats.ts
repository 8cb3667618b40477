// Per-worker request counters, kept as plain numbers in arrays indexed by route / upstream and status
// class so that recording a request costs a few increments. The main thread collects a snapshot from
// every worker and adds them up for /stats and /stats/prometheus.

import { sumFilterCosts, type FilterCostSnapshot } from '../filters/filter-cost.ts';

/** Counts by status class: index 0 = 1xx … 4 = 5xx. */
export type ClassCounts = [number, number, number, number, number];

export interface StatsSnapshot {
  requests: number;
  active: number;
  bytes_in: number;
  bytes_out: number;
  /** Access log lines dropped because stdout's reader fell behind. */
  access_log_dropped: number;
  classes: ClassCounts;
  /** Downstream connections and requests cut before a response by the gateway (400, 408, 431, client aborts). */
  downstream: { connections_total: number; connections_active: number; client_errors: number; client_aborts: number };
  routes: Record<string, { requests: number; classes: ClassCounts }>;
  upstreams: Record<string, { requests: number; classes: ClassCounts; errors: Record<string, number> }>;
  /** What each filter cost (calls, time per phase, outbound calls, failures, VMs, memory). */
  filters: Record<string, FilterCostSnapshot>;
  /** Requests still running on configuration versions a reload replaced. */
  old_version_streams: number;
}

const zero = (): ClassCounts => [0, 0, 0, 0, 0];

export class WorkerStats {
  requests = 0;
  active = 0;
  bytesIn = 0;
  bytesOut = 0;
  connectionsTotal = 0;
  connectionsActive = 0;
  clientErrors = 0;
  clientAborts = 0;
  readonly classes: ClassCounts = zero();
  // per route and upstream name, in the order first seen: a reload keeps the counters of names that stay
  readonly routeNames: string[] = [];
  readonly routeRequests: number[] = [];
  readonly routeClasses: ClassCounts[] = [];
  readonly upstreamNames: string[] = [];
  readonly upstreamRequests: number[] = [];
  readonly upstreamClasses: ClassCounts[] = [];
  readonly upstreamErrors: Array<Record<string, number>> = [];

  constructor(routeNames: readonly string[] = [], upstreamNames: readonly string[] = []) {
    for (const n of routeNames) this.routeIndexOf(n);
    for (const n of upstreamNames) this.upstreamIndexOf(n);
  }

  /** The counters' index of a route name (added when new). */
  routeIndexOf(name: string): number {
    let i = this.routeNames.indexOf(name);
    if (i < 0) {
      i = this.routeNames.push(name) - 1;
      this.routeRequests.push(0);
      this.routeClasses.push(zero());
    }
    return i;
  }

  /** The counters' index of an upstream name (added when new). */
  upstreamIndexOf(name: string): number {
    let i = this.upstreamNames.indexOf(name);
    if (i < 0) {
      i = this.upstreamNames.push(name) - 1;
      this.upstreamRequests.push(0);
      this.upstreamClasses.push(zero());
      this.upstreamErrors.push({});
    }
    return i;
  }

  /** Records one finished request. routeIndex/upstreamIndex are -1 when there was none. */
  record(status: number, routeIndex: number, upstreamIndex: number, bytesIn: number, bytesOut: number): void {
    const c = statusClass(status);
    this.requests++;
    this.classes[c]++;
    this.bytesIn += bytesIn;
    this.bytesOut += bytesOut;
    if (routeIndex >= 0) {
      this.routeRequests[routeIndex]!++;
      this.routeClasses[routeIndex]![c]++;
    }
    if (upstreamIndex >= 0) {
      this.upstreamRequests[upstreamIndex]!++;
      this.upstreamClasses[upstreamIndex]![c]++;
    }
  }

  upstreamError(upstreamIndex: number, reason: string): void {
    const e = this.upstreamErrors[upstreamIndex]!;
    e[reason] = (e[reason] ?? 0) + 1;
  }

  snapshot(accessLogDropped = 0, filters: Record<string, FilterCostSnapshot> = {}): StatsSnapshot {
    const routes: StatsSnapshot['routes'] = {};
    this.routeNames.forEach((n, i) => (routes[n] = { requests: this.routeRequests[i]!, classes: [...this.routeClasses[i]!] as ClassCounts }));
    const upstreams: StatsSnapshot['upstreams'] = {};
    this.upstreamNames.forEach(
      (n, i) =>
        (upstreams[n] = {
          requests: this.upstreamRequests[i]!,
          classes: [...this.upstreamClasses[i]!] as ClassCounts,
          errors: { ...this.upstreamErrors[i]! },
        }),
    );
    return {
      requests: this.requests,
      active: this.active,
      bytes_in: this.bytesIn,
      bytes_out: this.bytesOut,
      access_log_dropped: accessLogDropped,
      classes: [...this.classes] as ClassCounts,
      downstream: {
        connections_total: this.connectionsTotal,
        connections_active: this.connectionsActive,
        client_errors: this.clientErrors,
        client_aborts: this.clientAborts,
      },
      routes,
      upstreams,
      filters,
      old_version_streams: 0,
    };
  }
}

export function statusClass(status: number): 0 | 1 | 2 | 3 | 4 {
  const c = ((status / 100) | 0) - 1;
  return (c < 0 ? 0 : c > 4 ? 4 : c) as 0 | 1 | 2 | 3 | 4;
}

function addClasses(a: ClassCounts, b: ClassCounts): void {
  for (let i = 0; i < 5; i++) a[i]! += b[i]!;
}

/** Sums worker snapshots into one. */
export function sumSnapshots(snaps: readonly StatsSnapshot[]): StatsSnapshot {
  const out: StatsSnapshot = {
    requests: 0,
    active: 0,
    bytes_in: 0,
    bytes_out: 0,
    access_log_dropped: 0,
    classes: zero(),
    downstream: { connections_total: 0, connections_active: 0, client_errors: 0, client_aborts: 0 },
    routes: {},
    upstreams: {},
    filters: {},
    old_version_streams: 0,
  };
  for (const s of snaps) {
    out.old_version_streams += s.old_version_streams;
    for (const [name, f] of Object.entries(s.filters)) out.filters[name] = sumFilterCosts(out.filters[name], f);
    out.requests += s.requests;
    out.active += s.active;
    out.bytes_in += s.bytes_in;
    out.bytes_out += s.bytes_out;
    out.access_log_dropped += s.access_log_dropped;
    addClasses(out.classes, s.classes);
    for (const k of Object.keys(s.downstream) as Array<keyof StatsSnapshot['downstream']>) out.downstream[k] += s.downstream[k];
    for (const [name, r] of Object.entries(s.routes)) {
      const t = (out.routes[name] ??= { requests: 0, classes: zero() });
      t.requests += r.requests;
      addClasses(t.classes, r.classes);
    }
    for (const [name, u] of Object.entries(s.upstreams)) {
      const t = (out.upstreams[name] ??= { requests: 0, classes: zero(), errors: {} });
      t.requests += u.requests;
      addClasses(t.classes, u.classes);
      for (const [reason, n] of Object.entries(u.errors)) t.errors[reason] = (t.errors[reason] ?? 0) + n;
    }
  }
  return out;
}

// Schema-valid, semantically checked options → the deep-frozen ResolvedConfig the gateway runs on.
import os from 'node:os';
import path from 'node:path';
import type { FilterOptions, GatewayOptions, HeaderMatcherOptions, RouteOptions, UpstreamOptions } from './options.ts';
import type {
  HeaderMatcher,
  ResolvedConfig,
  ResolvedFilter,
  ResolvedRoute,
  ResolvedRouteMatch,
  ResolvedUpstream,
} from './types.ts';

/** `source` is the absolute path of the config file ("" = in memory: relative paths resolve against the cwd). */
export function normalizeConfig(options: GatewayOptions, source: string): ResolvedConfig {
  const baseDir = source === '' ? process.cwd() : path.dirname(source);
  const upstreams: Record<string, ResolvedUpstream> = {};
  for (const [name, upstream] of Object.entries(options.upstreams)) upstreams[name] = normalizeUpstream(name, upstream);
  const config: ResolvedConfig = {
    source,
    listen: { host: options.listen.host, port: options.listen.port },
    admin: { host: options.admin.host, port: options.admin.port },
    workers: options.workers ?? os.availableParallelism(),
    log: { level: options.log.level },
    access_log: { enabled: options.access_log.enabled },
    watch: options.watch,
    shared_data: { max_entries: options.shared_data.max_entries, max_bytes: options.shared_data.max_bytes },
    server: { ...options.server },
    upstreams,
    routes: options.routes.map((route, i) => normalizeRoute(route, i)),
    filters: options.filters.map((filter) => normalizeFilter(filter, baseDir)),
  };
  return deepFreeze(config);
}

function normalizeUpstream(name: string, u: UpstreamOptions): ResolvedUpstream {
  return {
    name,
    url: u.url,
    connections: u.connections,
    connect_timeout_ms: u.connect_timeout_ms,
    headers_timeout_ms: u.headers_timeout_ms,
    body_timeout_ms: u.body_timeout_ms,
    timeout_ms: u.timeout_ms,
    keep_alive_timeout_ms: u.keep_alive_timeout_ms,
  };
}

function normalizeRoute(route: RouteOptions, index: number): ResolvedRoute {
  const m = route.match;
  const match: ResolvedRouteMatch = definedOnly({
    prefix: m.prefix,
    path: m.path,
    regex: m.regex,
    methods: m.methods === undefined ? undefined : [...new Set(m.methods.map((x) => x.toUpperCase()))],
    headers: m.headers?.map(normalizeHeaderMatcher),
  });
  const direct = route.direct_response;
  return definedOnly({
    name: route.name ?? `route-${index}`,
    match,
    upstream: route.upstream,
    prefix_rewrite: route.prefix_rewrite,
    host_rewrite: route.host_rewrite,
    timeout_ms: route.timeout_ms,
    direct_response:
      direct === undefined
        ? undefined
        : {
            status: direct.status,
            body: direct.body,
            headers: Object.fromEntries(Object.entries(direct.headers).map(([k, v]) => [k.toLowerCase(), v])),
          },
    filters: route.filters === undefined ? undefined : [...route.filters],
  });
}

function normalizeHeaderMatcher(h: HeaderMatcherOptions): HeaderMatcher {
  return definedOnly({
    name: h.name.toLowerCase(),
    exact: h.exact,
    prefix: h.prefix,
    regex: h.regex,
    present: h.present,
    invert: h.invert,
  });
}

function normalizeFilter(f: FilterOptions, baseDir: string): ResolvedFilter {
  return {
    name: f.name,
    wasm: path.resolve(baseDir, f.wasm),
    root_id: f.root_id,
    vm_id: f.vm_id,
    config: pluginText(f.config),
    vm_config: pluginText(f.vm_config),
    fail_open: failOpen(f.fail_open),
    limits: { memory_mb: f.limits.memory_mb, cpu: f.limits.cpu, hard_timeout_ms: f.limits.hard_timeout_ms, clock_resolution_us: f.limits.clock_resolution_us },
    quarantine: { failures: f.quarantine.failures, window_ms: f.quarantine.window_ms, max_backoff_ms: f.quarantine.max_backoff_ms },
  };
}

/** A string is delivered as written; null/absent as ""; any other value as JSON text. */
export function pluginText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === null || value === undefined) return '';
  return JSON.stringify(value);
}

/** Drops keys whose value is undefined, so the resolved form only has what applies. */
function definedOnly<T extends object>(obj: T): T {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as T;
}

export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** fail_open as written (one boolean, or per class) → per class. */
function failOpen(v: FilterOptions['fail_open']): ResolvedFilter['fail_open'] {
  if (typeof v === 'boolean') return { load: v, start: v, trap: v, cpu: v, memory: v };
  return { load: v.load ?? false, start: v.start ?? false, trap: v.trap ?? false, cpu: v.cpu ?? false, memory: v.memory ?? false };
}

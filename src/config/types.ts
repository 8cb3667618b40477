// The resolved (validated, defaulted, normalized, frozen) configuration the gateway runs on.
// `gateway.yaml` → load.ts (yaml, keeps positions) → ajv against schemas/gateway.schema.json (fills defaults)
// → normalize.ts (resolves paths, compiles nothing, computes workers) → ResolvedConfig.
// Field names follow the YAML (snake_case) so that /config_dump shows what the user wrote.

export interface ResolvedListen {
  readonly host: string;
  readonly port: number;
}

export interface ResolvedUpstream {
  readonly name: string;
  /** Origin the pool connects to, e.g. http://127.0.0.1:3000 (path part, if any, is prepended to request paths). */
  readonly url: string;
  /** Max connections in the undici pool. */
  readonly connections: number;
  readonly connect_timeout_ms: number;
  /** Time to receive the full response headers once the request is sent. */
  readonly headers_timeout_ms: number;
  /** Max idle time between two body chunks of the response. */
  readonly body_timeout_ms: number;
  /** Overall deadline for headers (504 when exceeded before the response starts). */
  readonly timeout_ms: number;
  /** Idle keep-alive time of pooled upstream connections. */
  readonly keep_alive_timeout_ms: number;
}

export type HeaderMatcher = {
  readonly name: string;
  readonly exact?: string;
  readonly prefix?: string;
  readonly regex?: string;
  readonly present?: boolean;
  readonly invert?: boolean;
};

export interface ResolvedRouteMatch {
  readonly prefix?: string;
  readonly path?: string;
  readonly regex?: string;
  readonly methods?: readonly string[];
  readonly headers?: readonly HeaderMatcher[];
}

export interface ResolvedDirectResponse {
  readonly status: number;
  readonly body: string;
  readonly headers: Readonly<Record<string, string>>;
}

export interface ResolvedRoute {
  readonly name: string;
  readonly match: ResolvedRouteMatch;
  readonly upstream?: string;
  readonly prefix_rewrite?: string;
  readonly host_rewrite?: string;
  /** Per-route timeout override (ms) for the upstream response headers. */
  readonly timeout_ms?: number;
  readonly direct_response?: ResolvedDirectResponse;
  /** Names of filters from the top-level `filters:` list; absent = the top-level chain, [] = no filters. */
  readonly filters?: readonly string[];
}

export interface ResolvedFilterLimits {
  readonly memory_mb: number;
  /** Fuel of one callback (1 per function call and loop iteration); 0 = unmetered. */
  readonly cpu: number;
  /** A worker stuck this long in one call into the filter is terminated and replaced. */
  readonly hard_timeout_ms: number;
  /** The finest clock the filter reads, in microseconds. */
  readonly clock_resolution_us: number;
}

/** The classes of filter failure, each with its own fail policy. */
export type FailureClass = 'load' | 'start' | 'trap' | 'cpu' | 'memory';
export type FailOpen = { readonly [K in FailureClass]: boolean };

export interface ResolvedFilter {
  readonly name: string;
  /** Absolute path (resolved against the config file's folder). */
  readonly wasm: string;
  readonly root_id: string;
  readonly vm_id: string;
  /** Plugin configuration as delivered to the filter: a string as written, an object as JSON text. */
  readonly config: string;
  readonly vm_config: string;
  /** Per failure class: let requests through without the filter (true) or fail them (false). */
  readonly fail_open: FailOpen;
  readonly limits: ResolvedFilterLimits;
  /** Failures within window_ms that quarantine the filter; the quarantine doubles up to max_backoff_ms. */
  readonly quarantine: { readonly failures: number; readonly window_ms: number; readonly max_backoff_ms: number };
}

export interface ResolvedServer {
  /** Downstream: time allowed to receive the request headers (slowloris guard). */
  readonly headers_timeout_ms: number;
  /** Downstream: time allowed to receive the whole request. 0 disables. */
  readonly request_timeout_ms: number;
  /** Downstream idle keep-alive timeout. */
  readonly keep_alive_timeout_ms: number;
  /** Largest request head accepted; larger gets 431. */
  readonly max_header_bytes: number;
  /** Value of the Via header added in both directions; empty = none. */
  readonly via: string;
  /** Graceful shutdown: how long in-flight requests may take to finish. */
  readonly drain_timeout_ms: number;
  /** Most body bytes a filter may hold while buffering; beyond it 413 (request) or 500 (response). */
  readonly max_buffer_bytes: number;
}

export interface ResolvedAccessLog {
  readonly enabled: boolean;
}

export interface ResolvedConfig {
  /** Absolute path of the file this config came from ("" when built in memory). */
  readonly source: string;
  readonly listen: ResolvedListen;
  readonly admin: ResolvedListen;
  readonly workers: number;
  readonly log: { readonly level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent' };
  readonly access_log: ResolvedAccessLog;
  /** Reload on changes of gateway.yaml and the filter files. */
  readonly watch: boolean;
  /** Capacity of the store behind shared data and shared queues. */
  readonly shared_data: { readonly max_entries: number; readonly max_bytes: number };
  readonly server: ResolvedServer;
  readonly upstreams: Readonly<Record<string, ResolvedUpstream>>;
  readonly routes: readonly ResolvedRoute[];
  readonly filters: readonly ResolvedFilter[];
}

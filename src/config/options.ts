// The configuration as written by the user, after schema validation filled the defaults
// (the input of normalize.ts). Shapes follow schemas/gateway.schema.json; see types.ts for the resolved form.
import type { ResolvedConfig } from './types.ts';

export type LogLevel = ResolvedConfig['log']['level'];

export interface ListenOptions {
  host: string;
  port: number;
}

export interface UpstreamOptions {
  url: string;
  connections: number;
  connect_timeout_ms: number;
  timeout_ms: number;
  headers_timeout_ms: number;
  body_timeout_ms: number;
  keep_alive_timeout_ms: number;
}

export interface HeaderMatcherOptions {
  name: string;
  exact?: string;
  prefix?: string;
  regex?: string;
  present?: boolean;
  invert?: boolean;
}

export interface RouteMatchOptions {
  prefix?: string;
  path?: string;
  regex?: string;
  methods?: string[];
  headers?: HeaderMatcherOptions[];
}

export interface DirectResponseOptions {
  status: number;
  body: string;
  headers: Record<string, string>;
}

export interface RouteOptions {
  name?: string;
  match: RouteMatchOptions;
  upstream?: string;
  direct_response?: DirectResponseOptions;
  prefix_rewrite?: string;
  host_rewrite?: string;
  timeout_ms?: number;
  filters?: string[];
}

export interface FilterOptions {
  name: string;
  wasm: string;
  root_id: string;
  vm_id: string;
  /** Any YAML value; a string is kept, anything else becomes JSON text. */
  config: unknown;
  vm_config: unknown;
  fail_open: boolean | Partial<Record<'load' | 'start' | 'trap' | 'cpu' | 'memory', boolean>>;
  limits: { memory_mb: number; cpu: number; hard_timeout_ms: number; clock_resolution_us: number };
  quarantine: { failures: number; window_ms: number; max_backoff_ms: number };
}

export interface ServerOptions {
  headers_timeout_ms: number;
  request_timeout_ms: number;
  keep_alive_timeout_ms: number;
  max_header_bytes: number;
  via: string;
  drain_timeout_ms: number;
  max_buffer_bytes: number;
}

export interface GatewayOptions {
  listen: ListenOptions;
  admin: ListenOptions;
  workers?: number;
  log: { level: LogLevel };
  access_log: { enabled: boolean };
  shared_data: { max_entries: number; max_bytes: number };
  watch: boolean;
  server: ServerOptions;
  upstreams: Record<string, UpstreamOptions>;
  routes: RouteOptions[];
  filters: FilterOptions[];
}

// Every host function a proxy-wasm module may import, by module and name, with the ABI area it belongs
// to. Used to check a module's imports at load time and by `wasmgate inspect`.

export const ImportArea = {
  Logging: 'logging',
  Time: 'time',
  Context: 'context',
  Properties: 'properties',
  Headers: 'headers',
  Buffers: 'buffers',
  Stream: 'stream control',
  HttpCall: 'http call',
  Grpc: 'grpc',
  SharedData: 'shared data',
  Queues: 'shared queues',
  Metrics: 'metrics',
  Timers: 'timers',
  Foreign: 'foreign functions',
  Runtime: 'language runtime',
  Wasi: 'wasi',
} as const;
export type ImportArea = (typeof ImportArea)[keyof typeof ImportArea];

/** `env` imports of the proxy-wasm ABI (all versions) and the runtime helpers SDK toolchains import. */
export const ENV_IMPORTS: Readonly<Record<string, ImportArea>> = {
  proxy_log: ImportArea.Logging,
  proxy_get_log_level: ImportArea.Logging,
  proxy_get_current_time_nanoseconds: ImportArea.Time,
  proxy_set_tick_period_milliseconds: ImportArea.Timers,
  proxy_get_status: ImportArea.Context,
  proxy_set_effective_context: ImportArea.Context,
  proxy_done: ImportArea.Context,
  proxy_call_foreign_function: ImportArea.Foreign,
  proxy_get_configuration: ImportArea.Buffers,
  proxy_get_property: ImportArea.Properties,
  proxy_set_property: ImportArea.Properties,
  proxy_get_header_map_pairs: ImportArea.Headers,
  proxy_set_header_map_pairs: ImportArea.Headers,
  proxy_get_header_map_value: ImportArea.Headers,
  proxy_add_header_map_value: ImportArea.Headers,
  proxy_replace_header_map_value: ImportArea.Headers,
  proxy_remove_header_map_value: ImportArea.Headers,
  proxy_get_header_map_size: ImportArea.Headers,
  proxy_get_buffer_bytes: ImportArea.Buffers,
  proxy_set_buffer_bytes: ImportArea.Buffers,
  proxy_get_buffer_status: ImportArea.Buffers,
  proxy_continue_stream: ImportArea.Stream,
  proxy_close_stream: ImportArea.Stream,
  proxy_continue_request: ImportArea.Stream,
  proxy_continue_response: ImportArea.Stream,
  proxy_clear_route_cache: ImportArea.Stream,
  proxy_send_local_response: ImportArea.Stream,
  proxy_http_call: ImportArea.HttpCall,
  proxy_grpc_call: ImportArea.Grpc,
  proxy_grpc_stream: ImportArea.Grpc,
  proxy_grpc_send: ImportArea.Grpc,
  proxy_grpc_cancel: ImportArea.Grpc,
  proxy_grpc_close: ImportArea.Grpc,
  proxy_get_shared_data: ImportArea.SharedData,
  proxy_set_shared_data: ImportArea.SharedData,
  proxy_register_shared_queue: ImportArea.Queues,
  proxy_resolve_shared_queue: ImportArea.Queues,
  proxy_enqueue_shared_queue: ImportArea.Queues,
  proxy_dequeue_shared_queue: ImportArea.Queues,
  proxy_define_metric: ImportArea.Metrics,
  proxy_increment_metric: ImportArea.Metrics,
  proxy_record_metric: ImportArea.Metrics,
  proxy_get_metric: ImportArea.Metrics,
  // Emscripten (C++ SDK) and AssemblyScript runtime helpers
  pthread_equal: ImportArea.Runtime,
  emscripten_notify_memory_growth: ImportArea.Runtime,
  abort: ImportArea.Runtime,
  seed: ImportArea.Runtime,
  trace: ImportArea.Runtime,
};

/** WASI preview1 functions (imported from `wasi_snapshot_preview1` or the legacy `wasi_unstable`). */
export const WASI_FUNCTIONS: ReadonlySet<string> = new Set([
  'args_get', 'args_sizes_get', 'environ_get', 'environ_sizes_get', 'clock_res_get', 'clock_time_get',
  'fd_advise', 'fd_allocate', 'fd_close', 'fd_datasync', 'fd_fdstat_get', 'fd_fdstat_set_flags',
  'fd_fdstat_set_rights', 'fd_filestat_get', 'fd_filestat_set_size', 'fd_filestat_set_times', 'fd_pread',
  'fd_prestat_get', 'fd_prestat_dir_name', 'fd_pwrite', 'fd_read', 'fd_readdir', 'fd_renumber', 'fd_seek',
  'fd_sync', 'fd_tell', 'fd_write', 'path_create_directory', 'path_filestat_get', 'path_filestat_set_times',
  'path_link', 'path_open', 'path_readlink', 'path_remove_directory', 'path_rename', 'path_symlink',
  'path_unlink_file', 'poll_oneoff', 'proc_exit', 'proc_raise', 'random_get', 'sched_yield', 'sock_accept',
  'sock_recv', 'sock_send', 'sock_shutdown',
]);

export const WASI_MODULES: ReadonlySet<string> = new Set(['wasi_snapshot_preview1', 'wasi_unstable']);

/** The ABI area of an import, or undefined when it belongs to no known ABI. */
export function importArea(module: string, name: string): ImportArea | undefined {
  if (module === 'env') return ENV_IMPORTS[name];
  if (WASI_MODULES.has(module)) return WASI_FUNCTIONS.has(name) ? ImportArea.Wasi : undefined;
  return undefined;
}

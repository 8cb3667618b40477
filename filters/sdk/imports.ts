// The host functions of the proxy-wasm ABI v0.2.1 (PROXY-WASM.md §3), declared exactly as the host
// exports them. Every one returns a WasmResult (u32). Outputs come back through out-params: the host
// allocates the bytes inside this module (proxy_on_memory_allocate) and writes their address and size to
// `retData`/`retSize`; the SDK copies them into managed memory and frees the block (memory.ts).
// A declaration that no code calls is not imported, so a filter imports only what it uses.

// §3.1 logging, time, timers, contexts
// @ts-ignore: decorator (AssemblyScript)
@external("env", "proxy_log")
export declare function proxy_log(level: u32, messageData: usize, messageSize: usize): u32;
// @ts-ignore: decorator (AssemblyScript)
@external("env", "proxy_get_log_level")
export declare function proxy_get_log_level(retLevel: usize): u32;
// @ts-ignore: decorator (AssemblyScript)
@external("env", "proxy_get_current_time_nanoseconds")
export declare function proxy_get_current_time_nanoseconds(retTime: usize): u32;
// @ts-ignore: decorator (AssemblyScript)
@external("env", "proxy_set_tick_period_milliseconds")
export declare function proxy_set_tick_period_milliseconds(periodMs: u32): u32;
// @ts-ignore: decorator (AssemblyScript)
@external("env", "proxy_get_status")
export declare function proxy_get_status(retCode: usize, retMessageData: usize, retMessageSize: usize): u32;
// @ts-ignore: decorator (AssemblyScript)
@external("env", "proxy_set_effective_context")
export declare function proxy_set_effective_context(contextId: u32): u32;
// @ts-ignore: decorator (AssemblyScript)
@external("env", "proxy_done")
export declare function proxy_done(): u32;

// §3.2 properties
// @ts-ignore: decorator (AssemblyScript)
@external("env", "proxy_get_property")
export declare function proxy_get_property(pathData: usize, pathSize: usize, retData: usize, retSize: usize): u32;
// @ts-ignore: decorator (AssemblyScript)
@external("env", "proxy_set_property")
export declare function proxy_set_property(pathData: usize, pathSize: usize, valueData: usize, valueSize: usize): u32;

// §3.3 header maps
// @ts-ignore: decorator (AssemblyScript)
@external("env", "proxy_get_header_map_pairs")
export declare function proxy_get_header_map_pairs(mapType: u32, retData: usize, retSize: usize): u32;
// @ts-ignore: decorator (AssemblyScript)
@external("env", "proxy_set_header_map_pairs")
export declare function proxy_set_header_map_pairs(mapType: u32, data: usize, size: usize): u32;
// @ts-ignore: decorator (AssemblyScript)
@external("env", "proxy_get_header_map_value")
export declare function proxy_get_header_map_value(mapType: u32, keyData: usize, keySize: usize, retData: usize, retSize: usize): u32;
// @ts-ignore: decorator (AssemblyScript)
@external("env", "proxy_add_header_map_value")
export declare function proxy_add_header_map_value(mapType: u32, keyData: usize, keySize: usize, valueData: usize, valueSize: usize): u32;
// @ts-ignore: decorator (AssemblyScript)
@external("env", "proxy_replace_header_map_value")
export declare function proxy_replace_header_map_value(mapType: u32, keyData: usize, keySize: usize, valueData: usize, valueSize: usize): u32;
// @ts-ignore: decorator (AssemblyScript)
@external("env", "proxy_remove_header_map_value")
export declare function proxy_remove_header_map_value(mapType: u32, keyData: usize, keySize: usize): u32;

// §3.4 buffers
// @ts-ignore: decorator (AssemblyScript)
@external("env", "proxy_get_buffer_bytes")
export declare function proxy_get_buffer_bytes(bufferType: u32, start: u32, maxSize: u32, retData: usize, retSize: usize): u32;
// @ts-ignore: decorator (AssemblyScript)
@external("env", "proxy_set_buffer_bytes")
export declare function proxy_set_buffer_bytes(bufferType: u32, start: u32, size: u32, data: usize, dataSize: usize): u32;
// @ts-ignore: decorator (AssemblyScript)
@external("env", "proxy_get_buffer_status")
export declare function proxy_get_buffer_status(bufferType: u32, retLength: usize, retFlags: usize): u32;

// §3.5 stream control
// @ts-ignore: decorator (AssemblyScript)
@external("env", "proxy_continue_stream")
export declare function proxy_continue_stream(streamType: u32): u32;
// @ts-ignore: decorator (AssemblyScript)
@external("env", "proxy_close_stream")
export declare function proxy_close_stream(streamType: u32): u32;
// @ts-ignore: decorator (AssemblyScript)
@external("env", "proxy_send_local_response")
export declare function proxy_send_local_response(
  statusCode: u32,
  detailsData: usize, detailsSize: usize,
  bodyData: usize, bodySize: usize,
  headersData: usize, headersSize: usize,
  grpcStatus: i32,
): u32;

// §3.6 HTTP callouts
// @ts-ignore: decorator (AssemblyScript)
@external("env", "proxy_http_call")
export declare function proxy_http_call(
  upstreamData: usize, upstreamSize: usize,
  headersData: usize, headersSize: usize,
  bodyData: usize, bodySize: usize,
  trailersData: usize, trailersSize: usize,
  timeoutMs: u32,
  retToken: usize,
): u32;

// §3.8 shared data (one key-value store per vm_id, shared by every worker)
// @ts-ignore: decorator (AssemblyScript)
@external("env", "proxy_get_shared_data")
export declare function proxy_get_shared_data(keyData: usize, keySize: usize, retData: usize, retSize: usize, retCas: usize): u32;
// @ts-ignore: decorator (AssemblyScript)
@external("env", "proxy_set_shared_data")
export declare function proxy_set_shared_data(keyData: usize, keySize: usize, valueData: usize, valueSize: usize, cas: u32): u32;

// §3.9 shared queues
// @ts-ignore: decorator (AssemblyScript)
@external("env", "proxy_register_shared_queue")
export declare function proxy_register_shared_queue(nameData: usize, nameSize: usize, retId: usize): u32;
// @ts-ignore: decorator (AssemblyScript)
@external("env", "proxy_resolve_shared_queue")
export declare function proxy_resolve_shared_queue(vmIdData: usize, vmIdSize: usize, nameData: usize, nameSize: usize, retId: usize): u32;
// @ts-ignore: decorator (AssemblyScript)
@external("env", "proxy_enqueue_shared_queue")
export declare function proxy_enqueue_shared_queue(queueId: u32, valueData: usize, valueSize: usize): u32;
// @ts-ignore: decorator (AssemblyScript)
@external("env", "proxy_dequeue_shared_queue")
export declare function proxy_dequeue_shared_queue(queueId: u32, retData: usize, retSize: usize): u32;

// §3.10 metrics
// @ts-ignore: decorator (AssemblyScript)
@external("env", "proxy_define_metric")
export declare function proxy_define_metric(metricType: u32, nameData: usize, nameSize: usize, retId: usize): u32;
// @ts-ignore: decorator (AssemblyScript)
@external("env", "proxy_increment_metric")
export declare function proxy_increment_metric(metricId: u32, delta: i64): u32;
// @ts-ignore: decorator (AssemblyScript)
@external("env", "proxy_record_metric")
export declare function proxy_record_metric(metricId: u32, value: u64): u32;
// @ts-ignore: decorator (AssemblyScript)
@external("env", "proxy_get_metric")
export declare function proxy_get_metric(metricId: u32, retValue: usize): u32;

// WASI: randomness (used by randomBytes()); the host gives crypto-quality bytes.
// @ts-ignore: decorator (AssemblyScript)
@external("wasi_snapshot_preview1", "random_get")
export declare function random_get(buf: usize, size: usize): u32;

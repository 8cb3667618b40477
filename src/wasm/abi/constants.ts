// The numbers of the proxy-wasm ABI (v0.2.1, with v0.1.0/v0.2.0 deltas) and nothing else.
// Closed sets are `as const` objects with derived union types (type stripping forbids `enum`).

export const WasmResult = {
  Ok: 0,
  NotFound: 1,
  BadArgument: 2,
  SerializationFailure: 3,
  ParseFailure: 4,
  BadExpression: 5,
  InvalidMemoryAccess: 6,
  Empty: 7,
  CasMismatch: 8,
  ResultMismatch: 9,
  InternalFailure: 10,
  BrokenConnection: 11,
  Unimplemented: 12,
} as const;
export type WasmResult = (typeof WasmResult)[keyof typeof WasmResult];

export const LogLevel = { Trace: 0, Debug: 1, Info: 2, Warn: 3, Error: 4, Critical: 5 } as const;
export type LogLevel = (typeof LogLevel)[keyof typeof LogLevel];

export const HeaderMapType = {
  RequestHeaders: 0,
  RequestTrailers: 1,
  ResponseHeaders: 2,
  ResponseTrailers: 3,
  GrpcReceiveInitialMetadata: 4,
  GrpcReceiveTrailingMetadata: 5,
  HttpCallResponseHeaders: 6,
  HttpCallResponseTrailers: 7,
} as const;
export type HeaderMapType = (typeof HeaderMapType)[keyof typeof HeaderMapType];

export const BufferType = {
  HttpRequestBody: 0,
  HttpResponseBody: 1,
  DownstreamData: 2,
  UpstreamData: 3,
  HttpCallResponseBody: 4,
  GrpcReceiveBuffer: 5,
  VmConfiguration: 6,
  PluginConfiguration: 7,
  CallData: 8,
} as const;
export type BufferType = (typeof BufferType)[keyof typeof BufferType];

export const StreamType = { HttpRequest: 0, HttpResponse: 1, Downstream: 2, Upstream: 3 } as const;
export type StreamType = (typeof StreamType)[keyof typeof StreamType];

export const MetricType = { Counter: 0, Gauge: 1, Histogram: 2 } as const;
export type MetricType = (typeof MetricType)[keyof typeof MetricType];

export const FilterHeadersStatus = {
  Continue: 0,
  StopIteration: 1,
  ContinueAndEndStream: 2,
  StopAllIterationAndBuffer: 3,
  StopAllIterationAndWatermark: 4,
} as const;

export const FilterDataStatus = { Continue: 0, StopIterationAndBuffer: 1, StopIterationAndWatermark: 2, StopIterationNoBuffer: 3 } as const;

export const FilterTrailersStatus = { Continue: 0, StopIteration: 1 } as const;

/** WASI preview1 errno values the host returns. */
export const WasiErrno = {
  Success: 0,
  Badf: 8,
  Notdir: 20,
  Fault: 21,
  Inval: 28,
  Noent: 44,
  Nosys: 52,
  Notsup: 58,
  Notcapable: 76,
} as const;

/** The ABI version markers a module exports (a function never called), newest first. */
export const AbiVersions = {
  proxy_abi_version_0_2_100: '0.2.1',
  proxy_abi_version_0_2_1: '0.2.1',
  proxy_abi_version_0_2_0: '0.2.0',
  proxy_abi_version_0_1_0: '0.1.0',
} as const;
export type AbiVersion = (typeof AbiVersions)[keyof typeof AbiVersions];

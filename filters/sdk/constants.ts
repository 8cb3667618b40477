// The numbers of the proxy-wasm ABI v0.2.1 that a filter sees (PROXY-WASM.md §1).

/** The status every host call returns. */
export enum WasmResult {
  Ok = 0,
  NotFound = 1,
  BadArgument = 2,
  SerializationFailure = 3,
  ParseFailure = 4,
  InvalidMemoryAccess = 6,
  Empty = 7,
  CasMismatch = 8,
  InternalFailure = 10,
  BrokenConnection = 11,
  Unimplemented = 12,
}

export enum LogLevel {
  Trace = 0,
  Debug = 1,
  Info = 2,
  Warn = 3,
  Error = 4,
  Critical = 5,
}

/** Which header map a header call acts on. */
export enum MapType {
  HttpRequestHeaders = 0,
  HttpRequestTrailers = 1,
  HttpResponseHeaders = 2,
  HttpResponseTrailers = 3,
  GrpcReceiveInitialMetadata = 4,
  GrpcReceiveTrailingMetadata = 5,
  HttpCallResponseHeaders = 6,
  HttpCallResponseTrailers = 7,
}

/** Which buffer a buffer call acts on. */
export enum BufferType {
  HttpRequestBody = 0,
  HttpResponseBody = 1,
  DownstreamData = 2,
  UpstreamData = 3,
  HttpCallResponseBody = 4,
  GrpcReceiveBuffer = 5,
  VmConfiguration = 6,
  PluginConfiguration = 7,
  CallData = 8,
}

export enum StreamType {
  HttpRequest = 0,
  HttpResponse = 1,
  Downstream = 2,
  Upstream = 3,
}

/** The kind of a metric (proxy_define_metric). */
export enum MetricType {
  Counter = 0,
  Gauge = 1,
  Histogram = 2,
}

/** What onRequestHeaders / onResponseHeaders return. */
export enum FilterHeadersStatus {
  Continue = 0,
  /** Hold the headers (Envoy: and everything after them) until continueRequest()/continueResponse(). */
  StopIteration = 1,
  ContinueAndEndStream = 2,
  StopAllIterationAndBuffer = 3,
  StopAllIterationAndWatermark = 4,
}

/** What onRequestBody / onResponseBody return. */
export enum FilterDataStatus {
  Continue = 0,
  /** Keep buffering: the next call sees the whole body received so far. */
  StopIterationAndBuffer = 1,
  StopIterationAndWatermark = 2,
  StopIterationNoBuffer = 3,
}

/** What onRequestTrailers / onResponseTrailers return. */
export enum FilterTrailersStatus {
  Continue = 0,
  StopIteration = 1,
}

/** gRPC status passed to sendLocalResponse; None (-1) means "not a gRPC reply". */
export enum GrpcStatus {
  None = -1,
  Ok = 0,
  Cancelled = 1,
  Unknown = 2,
  InvalidArgument = 3,
  DeadlineExceeded = 4,
  NotFound = 5,
  AlreadyExists = 6,
  PermissionDenied = 7,
  ResourceExhausted = 8,
  FailedPrecondition = 9,
  Aborted = 10,
  OutOfRange = 11,
  Unimplemented = 12,
  Internal = 13,
  Unavailable = 14,
  DataLoss = 15,
  Unauthenticated = 16,
}

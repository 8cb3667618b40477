// wasmgate's proxy-wasm SDK for AssemblyScript: the public API in one import.
//   import { RootContext, HttpContext, registerRootContext, requestHeaders, log } from "../sdk";
// A filter's entry file must also export the ABI callbacks: `export * from "../sdk/exports";`.
export * from "./constants";
export { Context, RootContext, HttpContext, HttpCallCallback, HttpCallResponse, HostStatus, getStatus } from "./context";
export { registerRootContext, RootContextFactory } from "./runtime";
export {
  HeaderPair, EncodedHeader, HeaderMap, serializePairs, deserializePairs, isHeaderName, isHeaderValue,
  requestHeaders, requestTrailers, responseHeaders, responseTrailers,
  httpCallResponseHeaders, httpCallResponseTrailers,
} from "./headers";
export {
  BUFFER_END, getBuffer, getBufferString, getBufferLength, setBuffer, replaceBuffer, appendBuffer, prependBuffer,
  getRequestBody, getResponseBody, replaceRequestBody, replaceResponseBody,
  appendRequestBody, appendResponseBody, prependRequestBody, prependResponseBody,
} from "./buffers";
export { Property, getProperty, getPropertyString, getPropertyI64, getPropertyBool, setProperty } from "./properties";
export { continueRequest, continueResponse, resetStream, sendLocalResponse, sendLocalResponseBytes } from "./stream";
export { getCurrentTimeNanoseconds, setTickPeriod, randomBytes } from "./general";
export { CAS_ABSENT, SharedData, getSharedData, getSharedDataBytes, setSharedData, setSharedDataBytes } from "./shared-data";
export { QueueLookup, QueueItem, registerSharedQueue, resolveSharedQueue, enqueueSharedQueue, dequeueSharedQueue } from "./queues";
export { Metric, Counter, Gauge, Histogram, taggedMetricName } from "./metrics";
export { log, Logger, logAt, getLogLevel } from "./log";
export * from "./json";
export { ConfigObject } from "./config";

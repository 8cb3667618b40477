// Stream control for the HTTP context whose callback is running: resume a paused direction, reset the
// stream, or answer the client directly. The host applies these after the callback returns.
import { GrpcStatus, StreamType, WasmResult } from "./constants";
import { HeaderPair, serializePairs } from "./headers";
import { proxy_close_stream, proxy_continue_stream, proxy_send_local_response } from "./imports";
import { ptrOf, utf8 } from "./memory";

/** Resumes a request paused in onRequestHeaders/onRequestBody (e.g. from an httpCall callback). */
export function continueRequest(): WasmResult {
  return <WasmResult>proxy_continue_stream(StreamType.HttpRequest);
}

/** Resumes a paused response. */
export function continueResponse(): WasmResult {
  return <WasmResult>proxy_continue_stream(StreamType.HttpResponse);
}

/** Resets the stream (no HTTP response is sent). */
export function resetStream(): WasmResult {
  return <WasmResult>proxy_close_stream(StreamType.HttpRequest);
}

/**
 * Answers the client instead of (or in place of) the upstream response: `status`, a body, `headers`
 * added to the reply (content-type, ...). `details` names the reason in access logs (no spaces, e.g.
 * "json_transform_invalid_body"). `grpcStatus` 0..16 makes it a gRPC reply; GrpcStatus.None otherwise.
 * The host stops the current direction; return a Stop status from the callback anyway.
 */
export function sendLocalResponse(
  status: u32,
  details: string,
  body: string,
  headers: HeaderPair[] = [],
  grpcStatus: i32 = GrpcStatus.None,
): WasmResult {
  return sendLocalResponseBytes(status, details, utf8(body), headers, grpcStatus);
}

/** sendLocalResponse with a binary body. */
export function sendLocalResponseBytes(
  status: u32,
  details: string,
  body: ArrayBuffer,
  headers: HeaderPair[] = [],
  grpcStatus: i32 = GrpcStatus.None,
): WasmResult {
  const d = utf8(details);
  const h = serializePairs(headers);
  return <WasmResult>proxy_send_local_response(
    status, ptrOf(d), d.byteLength, ptrOf(body), body.byteLength, ptrOf(h), h.byteLength, grpcStatus,
  );
}

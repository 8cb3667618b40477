// The callbacks every filter exports. A filter's entry file starts with
//   export * from "../sdk/exports";
// and adds the body/trailer callbacks it implements, e.g.
//   export { proxy_on_request_body } from "../sdk/runtime";
// (a host streams bodies past a filter that does not export the body callbacks, without copying them).
export {
  proxy_abi_version_0_2_1,
  proxy_on_memory_allocate,
  proxy_on_context_create,
  proxy_on_vm_start,
  proxy_on_configure,
  proxy_on_tick,
  proxy_on_queue_ready,
  proxy_on_request_headers,
  proxy_on_response_headers,
  proxy_on_http_call_response,
  proxy_on_log,
  proxy_on_done,
  proxy_on_delete,
} from "./runtime";

// The callbacks every filter exports. A filter's entry file starts with
//   export * from "../sdk/exports";
// and adds the body/trailer callbacks, and proxy_on_log / proxy_on_done, when it implements them, e.g.
//   export { proxy_on_request_body, proxy_on_log } from "../sdk/runtime";
// A host streams bodies past a filter that does not export the body callbacks, without copying them,
// and makes no call at all for a callback a module does not export: on_log and on_done would be two
// calls into the VM on every request for filters that do nothing then.
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
  proxy_on_delete,
} from "./runtime";

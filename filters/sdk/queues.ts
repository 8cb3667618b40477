// Shared queues (PROXY-WASM.md §3.9): named FIFO queues per vm_id, shared by every worker. The root
// context that registers a queue receives RootContext.onQueueReady(queueId) after items are enqueued
// (asynchronously, on its own VM); any VM can resolve a queue by name and enqueue to it.
//   const q = registerSharedQueue("events");      // in onConfigure; q.status, q.id
//   enqueueSharedQueue(q.id, String.UTF8.encode("hello"));
//   onQueueReady(id) { for (let item = dequeueSharedQueue(id); item.value !== null; item = dequeueSharedQueue(id)) ... }
import { WasmResult } from "./constants";
import {
  proxy_dequeue_shared_queue, proxy_enqueue_shared_queue, proxy_register_shared_queue, proxy_resolve_shared_queue,
} from "./imports";
import { RET_DATA, RET_EXTRA, RET_SIZE, clearRet, ptrOf, takeBytes, utf8 } from "./memory";

/** A queue id, or the status saying why there is none (id 0). */
export class QueueLookup {
  constructor(public readonly status: WasmResult, public readonly id: u32) {}
}

/** A dequeued item, or the status saying why there is none (Empty: the queue has no items). */
export class QueueItem {
  constructor(public readonly status: WasmResult, public readonly value: ArrayBuffer | null) {}
}

/** Creates (or opens) queue `name` of this VM's vm_id; this root context gets its onQueueReady calls. */
export function registerSharedQueue(name: string): QueueLookup {
  const n = utf8(name);
  clearRet();
  const status = <WasmResult>proxy_register_shared_queue(ptrOf(n), n.byteLength, RET_EXTRA);
  return new QueueLookup(status, status == WasmResult.Ok ? load<u32>(RET_EXTRA) : 0);
}

/** Finds queue `name` registered by a VM with `vmId` ("" = this VM's vm_id). NotFound until registered. */
export function resolveSharedQueue(vmId: string, name: string): QueueLookup {
  const v = utf8(vmId);
  const n = utf8(name);
  clearRet();
  const status = <WasmResult>proxy_resolve_shared_queue(ptrOf(v), v.byteLength, ptrOf(n), n.byteLength, RET_EXTRA);
  return new QueueLookup(status, status == WasmResult.Ok ? load<u32>(RET_EXTRA) : 0);
}

/** Appends an item; NotFound for an unknown queue id. */
export function enqueueSharedQueue(queueId: u32, value: ArrayBuffer): WasmResult {
  return <WasmResult>proxy_enqueue_shared_queue(queueId, ptrOf(value), value.byteLength);
}

/** Takes the oldest item; status Empty (value null) when there is none. */
export function dequeueSharedQueue(queueId: u32): QueueItem {
  clearRet();
  const status = <WasmResult>proxy_dequeue_shared_queue(queueId, RET_DATA, RET_SIZE);
  return new QueueItem(status, status == WasmResult.Ok ? takeBytes() : null);
}

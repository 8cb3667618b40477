// env host functions of the process-wide state: shared data, shared queues, metrics. Thin glue over the
// VM's VmShared (see types.ts for the rules); without shared state (wasmgate validate) they answer
// Unimplemented.
import { WasmResult } from '../abi/constants.ts';
import { copyOut } from './output.ts';
import type { VmHost } from './types.ts';

type HostFn = (...args: never[]) => number;

export function sharedImports(host: VmHost): Record<string, HostFn> {
  const mem = host.memory;
  return {
    // keys and values are read in place from guest memory (the store copies what it keeps)
    proxy_get_shared_data(keyPtr: number, keyLen: number, retPtrPtr: number, retSizePtr: number, retCasPtr: number) {
      const key = mem.view8(keyPtr, keyLen);
      if (key === undefined || !mem.inBounds(retCasPtr, 4)) return WasmResult.InvalidMemoryAccess;
      const shared = host.shared();
      if (shared === undefined) return WasmResult.Unimplemented;
      const value = shared.getData(key);
      if (value === undefined) return WasmResult.NotFound;
      const cas = shared.lastCas;
      const status = copyOut(host, value, retPtrPtr, retSizePtr);
      if (status === WasmResult.Ok && !mem.writeU32(retCasPtr, cas)) return WasmResult.InvalidMemoryAccess;
      return status;
    },
    proxy_set_shared_data(keyPtr: number, keyLen: number, valuePtr: number, valueLen: number, cas: number) {
      const key = mem.view8(keyPtr, keyLen);
      const value = mem.view8(valuePtr, valueLen);
      if (key === undefined || value === undefined) return WasmResult.InvalidMemoryAccess;
      const shared = host.shared();
      if (shared === undefined) return WasmResult.Unimplemented;
      return shared.setData(key, value, cas >>> 0);
    },
    proxy_register_shared_queue(namePtr: number, nameLen: number, retIdPtr: number) {
      const name = mem.latin1(namePtr, nameLen);
      if (name === undefined || !mem.inBounds(retIdPtr, 4)) return WasmResult.InvalidMemoryAccess;
      const shared = host.shared();
      if (shared === undefined) return WasmResult.Unimplemented;
      const id = shared.registerQueue(name);
      if (id === 0) return WasmResult.InternalFailure;
      mem.writeU32(retIdPtr, id);
      return WasmResult.Ok;
    },
    proxy_resolve_shared_queue(vmIdPtr: number, vmIdLen: number, namePtr: number, nameLen: number, retIdPtr: number) {
      const vmId = mem.latin1(vmIdPtr, vmIdLen);
      const name = mem.latin1(namePtr, nameLen);
      if (vmId === undefined || name === undefined || !mem.inBounds(retIdPtr, 4)) return WasmResult.InvalidMemoryAccess;
      const shared = host.shared();
      if (shared === undefined) return WasmResult.Unimplemented;
      const id = shared.resolveQueue(vmId, name);
      if (id === undefined) return WasmResult.NotFound;
      mem.writeU32(retIdPtr, id);
      return WasmResult.Ok;
    },
    proxy_enqueue_shared_queue(id: number, valuePtr: number, valueLen: number) {
      const value = mem.copy(valuePtr, valueLen);
      if (value === undefined) return WasmResult.InvalidMemoryAccess;
      const shared = host.shared();
      if (shared === undefined) return WasmResult.Unimplemented;
      return shared.enqueue(id >>> 0, value);
    },
    proxy_dequeue_shared_queue(id: number, retPtrPtr: number, retSizePtr: number) {
      if (!mem.inBounds(retPtrPtr, 4) || !mem.inBounds(retSizePtr, 4)) return WasmResult.InvalidMemoryAccess;
      const shared = host.shared();
      if (shared === undefined) return WasmResult.Unimplemented;
      const r = shared.dequeue(id >>> 0);
      if (typeof r === 'number') return r;
      return copyOut(host, r, retPtrPtr, retSizePtr);
    },
    proxy_define_metric(type: number, namePtr: number, nameLen: number, retIdPtr: number) {
      const name = mem.utf8(namePtr, nameLen);
      if (name === undefined || !mem.inBounds(retIdPtr, 4)) return WasmResult.InvalidMemoryAccess;
      const shared = host.shared();
      if (shared === undefined) return WasmResult.Unimplemented;
      const { status, id } = shared.defineMetric(type >>> 0, name);
      if (status === WasmResult.Ok) mem.writeU32(retIdPtr, id);
      return status;
    },
    proxy_increment_metric(id: number, delta: bigint) {
      const shared = host.shared();
      if (shared === undefined) return WasmResult.Unimplemented;
      return shared.incrementMetric(id >>> 0, BigInt.asIntN(64, delta));
    },
    proxy_record_metric(id: number, value: bigint) {
      const shared = host.shared();
      if (shared === undefined) return WasmResult.Unimplemented;
      return shared.recordMetric(id >>> 0, BigInt.asUintN(64, value));
    },
    proxy_get_metric(id: number, retPtr: number) {
      if (!mem.inBounds(retPtr, 8)) return WasmResult.InvalidMemoryAccess;
      const shared = host.shared();
      if (shared === undefined) return WasmResult.Unimplemented;
      const r = shared.getMetric(id >>> 0);
      if (typeof r === 'number') return r;
      mem.writeU64(retPtr, r);
      return WasmResult.Ok;
    },
  };
}

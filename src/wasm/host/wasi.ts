// WASI preview1, sandboxed: stdout/stderr go to the filter's log, clocks and randomness work, and
// nothing else of the machine is reachable (no files, no sockets, no environment, no arguments).
import { randomFillSync } from 'node:crypto';
import { LogLevel, WasiErrno } from '../abi/constants.ts';
import { GuestExit, type VmHost } from './types.ts';
import { monotonicNs, wallClockNs } from './clock.ts';

type HostFn = (...args: never[]) => number;

const MAX_RANDOM_BYTES = 64 * 1024;

export function wasiImports(host: VmHost): Record<string, HostFn> {
  const mem = host.memory;
  return {
    fd_write(fd: number, iovs: number, iovsLen: number, retWritten: number) {
      if (fd !== 1 && fd !== 2) return WasiErrno.Badf;
      let text = '';
      let total = 0;
      for (let i = 0; i < iovsLen >>> 0; i++) {
        const ptr = mem.readU32(iovs + i * 8);
        const len = mem.readU32(iovs + i * 8 + 4);
        if (ptr === undefined || len === undefined) return WasiErrno.Fault;
        const s = mem.utf8(ptr, len);
        if (s === undefined) return WasiErrno.Fault;
        text += s;
        total += len;
      }
      if (!mem.writeU32(retWritten, total)) return WasiErrno.Fault;
      // as cpp-host: one log line per write, without its trailing newline
      host.log(fd === 1 ? LogLevel.Info : LogLevel.Error, text.endsWith('\n') ? text.slice(0, -1) : text);
      return WasiErrno.Success;
    },
    fd_fdstat_get(fd: number, out: number) {
      if (fd !== 1 && fd !== 2) return WasiErrno.Badf;
      const bytes = Buffer.alloc(24);
      bytes.writeBigUInt64LE(64n, 8); // rights_base: FD_WRITE
      return mem.write(out, bytes) ? WasiErrno.Success : WasiErrno.Fault;
    },
    fd_prestat_get: () => WasiErrno.Badf, // no preopened directories: libc stops looking
    fd_close: () => WasiErrno.Success,
    fd_seek: () => WasiErrno.Success,
    path_open: () => WasiErrno.Noent,
    environ_sizes_get(countPtr: number, sizePtr: number) {
      return mem.writeU32(countPtr, 0) && mem.writeU32(sizePtr, 0) ? WasiErrno.Success : WasiErrno.Fault;
    },
    environ_get: () => WasiErrno.Success,
    args_sizes_get(countPtr: number, sizePtr: number) {
      return mem.writeU32(countPtr, 0) && mem.writeU32(sizePtr, 0) ? WasiErrno.Success : WasiErrno.Fault;
    },
    args_get: () => WasiErrno.Success,
    clock_time_get(id: number, _precision: bigint, retPtr: number) {
      let ns: bigint;
      if (id === 0) ns = wallClockNs(host.clockResolutionNs);
      else if (id === 1) ns = monotonicNs(host.clockResolutionNs);
      else return WasiErrno.Notsup;
      return mem.writeU64(retPtr, ns) ? WasiErrno.Success : WasiErrno.Fault;
    },
    clock_res_get(id: number, retPtr: number) {
      if (id !== 0 && id !== 1) return WasiErrno.Notsup;
      return mem.writeU64(retPtr, host.clockResolutionNs) ? WasiErrno.Success : WasiErrno.Fault;
    },
    random_get(ptr: number, len: number) {
      if (len >>> 0 > MAX_RANDOM_BYTES) return WasiErrno.Inval;
      const view = mem.view8(ptr, len);
      if (view === undefined) return WasiErrno.Fault;
      randomFillSync(view);
      return WasiErrno.Success;
    },
    sched_yield: () => WasiErrno.Success,
    poll_oneoff(inPtr: number, outPtr: number, nsubs: number, retEvents: number) {
      // every clock subscription fires at once (no sleeping in a proxy); others are ignored
      let events = 0;
      for (let i = 0; i < nsubs >>> 0; i++) {
        const sub = mem.view8(inPtr + i * 48, 48);
        if (sub === undefined) return WasiErrno.Fault;
        if (sub[8] !== 0) continue; // tag 0 = clock
        const event = Buffer.alloc(32);
        Buffer.from(sub.subarray(0, 8)).copy(event, 0); // userdata
        if (!mem.write(outPtr + events * 32, event)) return WasiErrno.Fault;
        events++;
      }
      return mem.writeU32(retEvents, events) ? WasiErrno.Success : WasiErrno.Fault;
    },
    proc_exit(code: number) {
      throw new GuestExit(`proc_exit(${code})`, code);
    },
  };
}

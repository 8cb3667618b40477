// Helpers the SDKs' language runtimes import from `env`: AssemblyScript's abort/seed/trace and
// Emscripten's pthread_equal/emscripten_notify_memory_growth.
import { randomBytes } from 'node:crypto';
import { LogLevel } from '../abi/constants.ts';
import { GuestExit, type VmHost } from './types.ts';

type HostFn = (...args: never[]) => number | void;

/** An AssemblyScript string: UTF-16LE, its byte length in the u32 just before the pointer. */
function asString(host: VmHost, ptr: number): string {
  if (ptr === 0) return '';
  const len = host.memory.readU32(ptr - 4);
  const bytes = len === undefined ? undefined : host.memory.view8(ptr, Math.min(len, 4096));
  return bytes === undefined ? '?' : Buffer.from(bytes).toString('utf16le');
}

export function runtimeImports(host: VmHost): Record<string, HostFn> {
  return {
    abort(msg: number, file: number, line: number, column: number) {
      const text = `abort: ${asString(host, msg)} at ${asString(host, file)}:${line}:${column}`;
      host.log(LogLevel.Critical, text);
      throw new GuestExit(text, 255);
    },
    trace(msg: number, n: number) {
      host.log(LogLevel.Trace, `trace: ${asString(host, msg)} (${n} values)`);
    },
    seed: () => randomBytes(4).readUInt32LE(0),
    pthread_equal: (a: number, b: number) => (a === b ? 1 : 0),
    emscripten_notify_memory_growth: () => undefined,
  };
}

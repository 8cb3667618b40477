// What host functions need from the VM they serve. Host functions are thin glue: they check and decode
// arguments, call one method here, encode the result and return a status. They never throw for bad
// input (that is a status); only a trap — an unknown import being called, proc_exit, an abort — throws.
import type { GuestMemory } from '../memory/codec.ts';
import type { LogLevel } from '../abi/constants.ts';

export interface VmHost {
  readonly memory: GuestMemory;
  /** Allocates `size` bytes in the guest through its allocator; 0 on failure. May grow memory. */
  alloc(size: number): number;
  log(level: LogLevel, message: string): void;
  /** The proxy-wasm log level the filter's logger is at (0 trace … 5 critical). */
  logLevel(): number;
  /** Bytes of a buffer that can be read in the current phase, or undefined when not available. */
  buffer(type: number): Buffer | undefined;
  /** A property's serialized value, or undefined (NotFound). `path` holds the NUL-separated segments. */
  property(path: readonly string[]): Buffer | undefined;
}

/** Thrown by host functions to stop the guest: the call that was running fails as a trap. */
export class GuestExit extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number) {
    super(message);
    this.name = 'GuestExit';
    this.exitCode = exitCode;
  }
}

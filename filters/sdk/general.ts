// Time, timers, randomness.
import { WasmResult } from "./constants";
import { proxy_get_current_time_nanoseconds, proxy_set_tick_period_milliseconds, random_get } from "./imports";
import { RET_DATA } from "./memory";

/** Wall-clock time in nanoseconds since the Unix epoch (0 if the host cannot tell). */
export function getCurrentTimeNanoseconds(): u64 {
  store<u64>(RET_DATA, 0);
  proxy_get_current_time_nanoseconds(RET_DATA);
  return load<u64>(RET_DATA);
}

/**
 * Arms the periodic onTick of the root context that is running (or the root of the running HTTP
 * context): first tick one period from now; 0 stops it.
 */
export function setTickPeriod(periodMs: u32): WasmResult {
  return <WasmResult>proxy_set_tick_period_milliseconds(periodMs);
}

/** `size` random bytes from the host (WASI random_get), or null if it refused. */
export function randomBytes(size: i32): Uint8Array | null {
  const out = new Uint8Array(size);
  if (size > 0 && random_get(out.dataStart, <usize>size) != 0) return null;
  return out;
}

// The clocks a filter reads (proxy_get_current_time_nanoseconds, WASI clock_time_get), at the resolution
// its configuration grants (limits.clock_resolution_us): precise timers help timing side channels
// between filters and requests sharing a process, so a filter gets no finer time than it was given.

import { performance } from 'node:perf_hooks'; // the global is a lazy getter, run on every access

let lastMs = -1;
let lastResolution = 0n;
let lastNs = 0n;

/** Wall-clock time in nanoseconds since the epoch, rounded down to `resolutionNs`. */
export function wallClockNs(resolutionNs: bigint): bigint {
  if (resolutionNs >= 1_000_000n) {
    // at millisecond resolution or coarser, filters that read the clock on every request mostly read
    // it within the same millisecond: reuse that answer (BigInt arithmetic allocates)
    const ms = Date.now();
    if (ms === lastMs && resolutionNs === lastResolution) return lastNs;
    const ns = BigInt(ms) * 1_000_000n;
    lastMs = ms;
    lastResolution = resolutionNs;
    return (lastNs = ns - (ns % resolutionNs));
  }
  const ns = BigInt(Math.floor((performance.timeOrigin + performance.now()) * 1000)) * 1000n; // µs is what a double holds
  return ns - (ns % resolutionNs);
}

/** Monotonic time in nanoseconds, rounded down to `resolutionNs`. */
export function monotonicNs(resolutionNs: bigint): bigint {
  const ns = process.hrtime.bigint();
  return ns - (ns % resolutionNs);
}

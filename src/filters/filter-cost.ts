// What each filter costs, counted by the host without the filter doing anything: calls per callback,
// time spent per phase (a histogram of call durations), outbound calls and their latency, VM failures
// by cause. Kept per worker in flat typed arrays and summed by the main thread for /stats and
// /stats/prometheus. Every call is counted; stream callbacks are timed one in 16 (each sample weighs 16
// in the histogram), because two clock reads cost as much as a small callback.

/** The callbacks the host times, by index. */
export const Callback = {
  ContextCreate: 0,
  RequestHeaders: 1,
  RequestBody: 2,
  RequestTrailers: 3,
  ResponseHeaders: 4,
  ResponseBody: 5,
  ResponseTrailers: 6,
  Log: 7,
  Done: 8,
  Delete: 9,
  Tick: 10,
  HttpCallResponse: 11,
  QueueReady: 12,
} as const;
export type Callback = (typeof Callback)[keyof typeof Callback];

export const CALLBACK_NAMES = [
  'on_context_create',
  'on_request_headers',
  'on_request_body',
  'on_request_trailers',
  'on_response_headers',
  'on_response_body',
  'on_response_trailers',
  'on_log',
  'on_done',
  'on_delete',
  'on_tick',
  'on_http_call_response',
  'on_queue_ready',
] as const;

export const PHASE_NAMES = ['request', 'response', 'log', 'root'] as const;
/** The phase each callback's time counts in (context creation counts as request). */
const PHASE_OF: readonly number[] = [0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3];

/** Histogram bounds, in seconds: 1 µs … 1 s. */
export const SECONDS_BOUNDS: readonly number[] = [1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 1e-2, 0.1, 1];
const NB = SECONDS_BOUNDS.length + 1; // + Inf

export interface Histogram {
  /** Non-cumulative counts per bound, then +Inf. */
  buckets: number[];
  sum: number;
  count: number;
}

export interface FilterCostSnapshot {
  calls: Record<string, number>;
  phase_seconds: Record<string, Histogram>;
  http_calls: number;
  http_call_failures: number;
  http_call_seconds: Histogram;
  failures: Record<string, number>;
  failed_streams: number;
  vm_restarts: number;
  log_dropped: number;
  quarantines: number;
  /** Workers in which the filter is quarantined now, and why (the last reason seen). */
  quarantined: number;
  quarantine_reason: string;
  /** The last failure seen in any worker (start, restart or VM failure) and when (ISO time; '' = none). */
  last_failure: string;
  last_failure_at: string;
  vms: number;
  memory_bytes: number;
}

export class FilterCost {
  readonly calls = new Float64Array(CALLBACK_NAMES.length);
  private readonly phaseBuckets = new Float64Array(PHASE_NAMES.length * NB);
  private readonly phaseSum = new Float64Array(PHASE_NAMES.length);
  httpCalls = 0;
  httpCallFailures = 0;
  private readonly callBuckets = new Float64Array(NB);
  private callSum = 0;
  readonly failures: Record<string, number> = {};
  failedStreams = 0;
  vmRestarts = 0;
  /** Log lines dropped by the per-VM rate limit. */
  logDropped = 0;
  /** Times the filter was quarantined. */
  quarantines = 0;

  /** One call of callback `cb` that took `ms` milliseconds, standing for `weight` calls in the time histograms. */
  /** A timed call (already counted in `calls`). */
  record(cb: number, ms: number, weight: number): void {
    const s = ms / 1000;
    const phase = PHASE_OF[cb]!;
    this.phaseSum[phase]! += s * weight;
    this.phaseBuckets[phase * NB + bucketOf(s)]! += weight;
  }

  /** One outbound call answered (or failed) after `ms` milliseconds. */
  recordCall(ms: number, failed: boolean): void {
    if (failed) this.httpCallFailures++;
    const s = ms / 1000;
    this.callSum += s;
    this.callBuckets[bucketOf(s)]!++;
  }

  failure(cause: string): void {
    this.failures[cause] = (this.failures[cause] ?? 0) + 1;
  }

  snapshot(vms: number, memoryBytes: number): FilterCostSnapshot {
    const calls: Record<string, number> = {};
    CALLBACK_NAMES.forEach((n, i) => {
      if (this.calls[i]! > 0) calls[n] = this.calls[i]!;
    });
    const phase_seconds: Record<string, Histogram> = {};
    PHASE_NAMES.forEach((p, i) => {
      const buckets = Array.from(this.phaseBuckets.subarray(i * NB, (i + 1) * NB));
      phase_seconds[p] = { buckets, sum: this.phaseSum[i]!, count: buckets.reduce((a, b) => a + b, 0) };
    });
    const callBuckets = Array.from(this.callBuckets);
    return {
      calls,
      phase_seconds,
      http_calls: this.httpCalls,
      http_call_failures: this.httpCallFailures,
      http_call_seconds: { buckets: callBuckets, sum: this.callSum, count: callBuckets.reduce((a, b) => a + b, 0) },
      failures: { ...this.failures },
      failed_streams: this.failedStreams,
      vm_restarts: this.vmRestarts,
      log_dropped: this.logDropped,
      quarantines: this.quarantines,
      quarantined: 0,
      quarantine_reason: '',
      last_failure: '',
      last_failure_at: '',
      vms,
      memory_bytes: memoryBytes,
    };
  }
}

function bucketOf(s: number): number {
  let i = 0;
  while (i < NB - 1 && s > SECONDS_BOUNDS[i]!) i++;
  return i;
}

/** Sums the snapshots of one filter from several workers. */
export function sumFilterCosts(a: FilterCostSnapshot | undefined, b: FilterCostSnapshot): FilterCostSnapshot {
  if (a === undefined) return structuredClone(b);
  const addH = (x: Histogram, y: Histogram): Histogram => ({ buckets: x.buckets.map((v, i) => v + (y.buckets[i] ?? 0)), sum: x.sum + y.sum, count: x.count + y.count });
  const addR = (x: Record<string, number>, y: Record<string, number>): Record<string, number> => {
    const out = { ...x };
    for (const [k, v] of Object.entries(y)) out[k] = (out[k] ?? 0) + v;
    return out;
  };
  const phase_seconds: Record<string, Histogram> = {};
  for (const p of PHASE_NAMES) phase_seconds[p] = addH(a.phase_seconds[p]!, b.phase_seconds[p]!);
  return {
    calls: addR(a.calls, b.calls),
    phase_seconds,
    http_calls: a.http_calls + b.http_calls,
    http_call_failures: a.http_call_failures + b.http_call_failures,
    http_call_seconds: addH(a.http_call_seconds, b.http_call_seconds),
    failures: addR(a.failures, b.failures),
    failed_streams: a.failed_streams + b.failed_streams,
    vm_restarts: a.vm_restarts + b.vm_restarts,
    log_dropped: a.log_dropped + b.log_dropped,
    quarantines: a.quarantines + b.quarantines,
    quarantined: a.quarantined + b.quarantined,
    quarantine_reason: b.quarantine_reason !== '' ? b.quarantine_reason : a.quarantine_reason,
    ...(b.last_failure_at > a.last_failure_at ? { last_failure: b.last_failure, last_failure_at: b.last_failure_at } : { last_failure: a.last_failure, last_failure_at: a.last_failure_at }),
    vms: a.vms + b.vms,
    memory_bytes: a.memory_bytes + b.memory_bytes,
  };
}

/** How a VM failed, for the failures counter. */
export function failureCause(err: unknown, exitCode: number | undefined): string {
  if (exitCode !== undefined) return exitCode === 255 ? 'abort' : 'exit';
  const m = err instanceof Error ? err.message : String(err);
  if (/unreachable/i.test(m)) return 'unreachable';
  if (/out of bounds|memory access/i.test(m)) return 'memory_access';
  if (/call stack|stack overflow/i.test(m)) return 'stack_overflow';
  if (/divide by zero|integer overflow|remainder by zero/i.test(m)) return 'arithmetic';
  if (/indirect call|signature mismatch|table index/i.test(m)) return 'bad_indirect_call';
  return 'trap';
}

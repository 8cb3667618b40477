// What the micro-benchmarks (bench/filter-chain.ts, bench/json-transform.ts) share: a filter entry as the
// config would resolve it, an exchange that stands in for the proxy (it only records what the chain asks
// of it), and CPU time per call as the median of 7 batches.
import type { ResolvedFilter } from '../../src/config/types.ts';
import type { Exchange, FilterRun } from '../../src/filters/http-filters.ts';
import type { HeaderMap } from '../../src/http/header-map.ts';

/** A filter entry with every default of gateway.yaml, as the gateway would load it. */
export function benchFilter(name: string, wasm: string, config: unknown, cpu = 200_000_000): ResolvedFilter {
  return {
    name,
    wasm,
    root_id: '',
    vm_id: '',
    config: JSON.stringify(config),
    vm_config: '',
    fail_open: { load: false, start: false, trap: false, cpu: false, memory: false },
    limits: { memory_mb: 64, cpu, hard_timeout_ms: 5000, clock_resolution_us: 1000 },
    quarantine: { failures: 5, window_ms: 10000, max_backoff_ms: 60000 },
  };
}

/** The proxy side of one stream: the request as it arrived, nothing sent anywhere. */
export class StandInExchange implements Exchange {
  readonly requestHeaders: HeaderMap;
  requestTrailers: HeaderMap | undefined = undefined;
  responseHeaders: HeaderMap | undefined = undefined;
  responseTrailers: HeaderMap | undefined = undefined;
  responseDetails = '';
  requestHeadersSent = false;
  requestHeadersWritten = false;
  responseHeadersSent = false;
  readonly filterState = new Map<string, Buffer>();
  readonly requestId = 'abc';
  readonly bodyBufferLimit = 1 << 20;
  run: FilterRun | undefined = undefined;
  private readonly onRequestData: ((chunk: Buffer) => void) | undefined;

  constructor(requestHeaders: HeaderMap, onRequestData?: (chunk: Buffer) => void) {
    this.requestHeaders = requestHeaders;
    this.onRequestData = onRequestData;
  }

  requestHeadersDone(): void {
    this.requestHeadersSent = true;
  }
  sendRequestData(chunk: Buffer): void {
    this.onRequestData?.(chunk);
  }
  sendRequestTrailers(): void {}
  responseHeadersDone(): void {
    this.responseHeadersSent = true;
  }
  sendResponseData(_chunk: Buffer, eos: boolean): void {
    if (eos) this.run?.finish();
  }
  sendResponseTrailers(): void {}
  abandonUpstream(): void {}
  writeDirectReply(): void {}
  reset(): void {}
  property(): Buffer | undefined {
    return undefined;
  }
  resumed(): void {}
}

/** CPU µs per call of `one`: half a batch of warm-up, then the median of 7 batches of `n` calls. */
export function cpuPerCall(n: number, one: () => void): number {
  for (let i = 0; i < n / 2; i++) one();
  const batches: number[] = [];
  for (let k = 0; k < 7; k++) {
    const t = process.cpuUsage();
    for (let i = 0; i < n; i++) one();
    const c = process.cpuUsage(t);
    batches.push((c.user + c.system) / n);
  }
  return batches.sort((a, b) => a - b)[3]!;
}

// Load-generator child: runs autocannon programmatically (its own process, pinned by the harness).
// Usage: node bench/lib/loadgen.ts '<json LoadSpec>'
// Protocol on stdout, one JSON line each:
//   {"phase":"measure"}                      right before the recorded run starts (after warm-up)
//   {"phase":"done","result":{...}}          the recorded run's summary (LoadResult)
import { createRequire } from 'node:module';
import { jsonBody, type LoadResult, type LoadSpec } from './types.ts';

interface AcLatency {
  p50: number;
  p90: number;
  p99: number;
  mean: number;
  max: number;
}
interface AcResult {
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  resets: number;
  mismatches: number;
  '2xx': number;
  statusCodeStats: Record<string, { count: number }>;
  latency: AcLatency;
  requests: { average: number; total: number; sent: number };
  throughput: { average: number; total: number };
}
interface AcOpts {
  url: string;
  connections: number;
  pipelining: number;
  duration: number;
  method: string;
  body?: Buffer;
  headers?: Record<string, string>;
  timeout: number;
}
type Autocannon = (opts: AcOpts, cb: (err: Error | null, res: AcResult) => void) => unknown;

const require = createRequire(import.meta.url);
const autocannon = require('autocannon') as Autocannon;

function run(opts: AcOpts): Promise<AcResult> {
  return new Promise((resolve, reject) => {
    autocannon(opts, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

function say(msg: unknown): void {
  process.stdout.write(`${JSON.stringify(msg)}\n`);
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? '{}') as LoadSpec;
  const body = spec.bodyBytes > 0 ? (spec.json === true ? jsonBody(spec.bodyBytes) : Buffer.alloc(spec.bodyBytes, 'b')) : undefined;
  const base: AcOpts = {
    url: spec.url,
    connections: spec.connections,
    pipelining: spec.pipelining,
    duration: spec.duration,
    method: spec.method,
    timeout: 10,
    ...(body !== undefined ? { body, headers: { 'content-type': spec.json === true ? 'application/json' : 'application/octet-stream' } } : {}),
  };
  if (spec.warmup > 0) await run({ ...base, duration: spec.warmup });
  say({ phase: 'measure' });
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const r = await run(base);
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const ok = r['2xx'];
  const result: LoadResult = {
    durationS: r.duration,
    ok,
    reqPerSec: r.duration > 0 ? ok / r.duration : 0,
    acRequestsAvg: r.requests.average,
    sent: r.requests.sent,
    errors: r.errors,
    timeouts: r.timeouts,
    non2xx: r.non2xx,
    resets: r.resets,
    statusCodes: Object.fromEntries(Object.entries(r.statusCodeStats).map(([k, v]) => [k, v.count])),
    latencyMs: { p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, mean: r.latency.mean, max: r.latency.max },
    bytesPerSec: r.throughput.average,
    loadgenCpuS: (cpu.user + cpu.system) / 1e6,
    wallS: wall,
  };
  say({ phase: 'done', result });
}

main().catch((err: unknown) => {
  process.stderr.write(`loadgen: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});

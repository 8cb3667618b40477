// The setups under test. Each starts its own child process(es), pinned to the proxy CPU.
import path from 'node:path';
import { startNginx } from './nginx.ts';
import { spawnChild, waitReadyLine } from './proc.ts';
import type { Running, SetupContext, SetupDef } from './types.ts';
import { startWasmgate } from './wasmgate.ts';

export const BASELINE = 'undici-minimal';

/** Starts one of bench/servers/*.ts on the proxy CPU and waits for its ready line. */
async function startNodeServer(ctx: SetupContext, script: string, args: string[], info: Record<string, unknown>): Promise<Running> {
  const file = path.join(ctx.repoRoot, 'bench', 'servers', script);
  const child = spawnChild(ctx.node, [file, '--upstream', ctx.upstreamUrl, ...args], {
    cpu: ctx.settings.pinning.proxyCpu,
    cwd: ctx.repoRoot,
  });
  try {
    const port = await waitReadyLine(child, 15_000);
    return { url: `http://127.0.0.1:${port}`, cpuPid: child.pid, alive: child.alive, stderrTail: child.stderrTail, stop: () => child.stop(), info };
  } catch (err) {
    await child.stop(500);
    throw err;
  }
}

function undiciSetup(name: string, mode: string | null, opts: { emptyEnded?: boolean; heapGrowingPercent?: number } = {}): SetupDef {
  const args = [...(opts.emptyEnded === true ? ['--empty-ended'] : []), ...(opts.heapGrowingPercent === undefined ? [] : ['--heap-growing-percent', String(opts.heapGrowingPercent)])];
  return {
    name,
    description:
      `node:http + one undici Pool (keep-alive, 64 connections), ${mode ?? 'UNDICI_MODE'} shape` +
      (opts.emptyEnded === true ? ', optimizeEmptyRequests on' : '') +
      (opts.heapGrowingPercent === undefined ? '' : `, --heap-growing-percent=${opts.heapGrowingPercent}`),
    start: (ctx) => {
      const m = mode ?? ctx.settings.undiciMode;
      return startNodeServer(ctx, 'undici-minimal.ts', ['--mode', m, ...args], { mode: m, ...opts });
    },
  };
}

/** The gateway with `n` add-headers filters, each adding a request and a response header. */
function headerChain(name: string, n: number, cpu?: number, env?: Record<string, string>): SetupDef {
  return {
    name,
    description: `the gateway with a chain of ${n} add-headers filter${n === 1 ? '' : 's'} (each sets a request header and adds a response header)${cpu === 0 ? ', CPU metering off' : ''}${env !== undefined ? `, ${Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ')}` : ''}`,
    start: (ctx) =>
      startWasmgate(ctx, {
        accessLog: true,
        name,
        ...(env === undefined ? {} : { env }),
        filters: Array.from({ length: n }, (_, i) => ({
          name: `headers-${i + 1}`,
          wasm: 'filters/add-headers.wasm',
          config: { request: { set: { [`x-filter-${i + 1}`]: 'on' } }, response: { add: { [`x-filtered-by-${i + 1}`]: 'wasmgate' } } },
          ...(cpu === undefined ? {} : { limits: { cpu } }),
        })),
      }),
  };
}

export const SETUPS: readonly SetupDef[] = [
  {
    name: 'direct',
    description: 'the upstream itself, no proxy (load-side ceiling)',
    start: async (ctx) => ({
      url: ctx.upstreamUrl,
      cpuPid: -1,
      alive: () => true,
      stderrTail: () => '',
      stop: async () => {},
      info: {},
    }),
  },
  {
    name: 'http-proxy-3',
    description: 'bare http-proxy-3 createProxyServer with a keep-alive http.Agent (maxSockets 64)',
    start: (ctx) => startNodeServer(ctx, 'http-proxy-3.ts', [], {}),
  },
  undiciSetup(BASELINE, null),
  {
    name: 'nginx',
    description: 'nginx reverse proxy, 1 worker, upstream keepalive 64, access_log off',
    start: (ctx) => startNginx(ctx),
  },
  {
    name: 'wasmgate',
    description: 'the gateway: no filters, workers: 1, access log on (stdout to /dev/null)',
    start: (ctx) => startWasmgate(ctx, { accessLog: true, name: 'wasmgate' }),
  },
  // The cost of filters (compared with `wasmgate` in the filter-cost table): chains of the add-headers
  // example filter, and the JSON body transform.
  headerChain('wasmgate-f1', 1),
  headerChain('wasmgate-f3', 3),
  headerChain('wasmgate-f5', 5),
  // the chain of 5 without CPU metering: the difference to wasmgate-f5 is what metering costs
  headerChain('wasmgate-f5-nometer', 5, 0),
  // the chain of 5 without the per-filter cost accounting: the difference to wasmgate-f5 is what it costs
  headerChain('wasmgate-f5-nocost', 5, undefined, { WASMGATE_FILTER_COST: 'off' }),
  {
    name: 'wasmgate-json',
    description: 'the gateway with the json-transform filter (buffers and rewrites JSON request bodies)',
    start: (ctx) =>
      startWasmgate(ctx, {
        accessLog: true,
        name: 'wasmgate-json',
        filters: [{ name: 'json', wasm: 'filters/json-transform.wasm', config: { set: { '/source': 'wasmgate' }, remove: ['/password'] } }],
      }),
  },
  // The asynchronous parts: one outbound call per request (the auth filter asks the bench upstream's /2b,
  // which answers 200), and a rate limiter whose limit is never reached (one CAS on shared data per
  // request).
  {
    name: 'wasmgate-auth',
    description: 'the gateway with the auth filter: one proxy_http_call per request to the (local) upstream',
    start: (ctx) =>
      startWasmgate(ctx, { accessLog: true, name: 'wasmgate-auth', filters: [{ name: 'auth', wasm: 'filters/auth.wasm', config: { upstream: 'app', path: '/2b', timeout_ms: 2000 } }] }),
  },
  {
    name: 'wasmgate-ratelimit',
    description: 'the gateway with the rate-limit filter, limit never reached (shared data CAS per request)',
    start: (ctx) =>
      startWasmgate(ctx, {
        accessLog: true,
        name: 'wasmgate-ratelimit',
        filters: [{ name: 'rate-limit', wasm: 'filters/rate-limit.wasm', config: { requests_per_second: 1000000, burst: 1000000 } }],
      }),
  },
  // Not in the default set: the gateway with V8's own heap growing factor (see src/worker/supervisor.ts),
  // to see what the factor changes (the full-GC storms of 64 KiB responses).
  {
    name: 'wasmgate-v8heap',
    description: "the gateway: no filters, workers: 1, access log on, V8's default heap growing factor",
    start: (ctx) => startWasmgate(ctx, { accessLog: true, name: 'wasmgate-v8heap', env: { WASMGATE_HEAP_GROWING_PERCENT: '0' } }),
  },
  // Not in the default set: the gateway without its access log, to see what the log costs.
  {
    name: 'wasmgate-nolog',
    description: 'the gateway: no filters, workers: 1, access log off',
    start: (ctx) => startWasmgate(ctx, { accessLog: false, name: 'wasmgate-nolog' }),
  },
  // Not in the default set: the other shapes of the baseline, to re-check which one is fastest.
  undiciSetup('undici-request', 'request'),
  undiciSetup('undici-stream', 'stream'),
  undiciSetup('undici-dispatch', 'dispatch'),
  // Not in the default set: the baseline with Node's optimizeEmptyRequests, which the gateway turns on
  // (bodyless requests start as ended streams): how much of the difference to the baseline that option is
  undiciSetup('undici-ended', null, { emptyEnded: true }),
  // the baseline with the gateway's heap growing factor: how much of the 64 KiB difference that is
  undiciSetup('undici-heap', null, { heapGrowingPercent: 300 }),
];

/** Filter setups and how many filters each runs (the filter-cost table compares them with `wasmgate`). */
export const FILTER_SETUPS: Readonly<Record<string, number>> = {
  'wasmgate-f1': 1,
  'wasmgate-f3': 3,
  'wasmgate-f5': 5,
  'wasmgate-f5-nometer': 5,
  'wasmgate-f5-nocost': 5,
  'wasmgate-json': 1,
  'wasmgate-auth': 1,
  'wasmgate-ratelimit': 1,
};

export const DEFAULT_SETUPS = ['direct', 'http-proxy-3', BASELINE, 'nginx', 'wasmgate'];

// `npm run bench:chain`: what the filter chain itself costs per stream, without the network — a chain of
// N add-headers filters (each sets a request header and adds a response header; N from CHAIN, default
// "0,1,5") runs a request's headers, the response's headers and its 2-byte body through FilterRun with
// a stand-in exchange that only records what the chain asks of it. CPU time per stream, median of 7
// batches, each case in a fresh process: steadier than the autocannon bench (bench/run.ts), which swings
// by 10-30 % on this kind of machine, though still ±10-20 % from one process to the next. The difference between N and 0 filters is the chain's own cost; what the gateway adds
// around it (sockets, parsing, GC of per-request objects) only the full bench shows.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadFilterModule } from '../src/wasm/module.ts';
import { FilterChain, Plugin } from '../src/filters/plugin.ts';
import { FilterRun } from '../src/filters/http-filters.ts';
import { HeaderMap } from '../src/http/header-map.ts';
import { createRootLogger } from '../src/observability/logger.ts';
import { StandInExchange, benchFilter, cpuPerCall } from './lib/stand-in.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const wasm = path.join(repoRoot, 'filters', 'add-headers.wasm');
const N = Number(process.env['N'] ?? 100_000);
const CHAINS = (process.env['CHAIN'] ?? '0,1,5').split(',').map(Number);
const log = createRootLogger('silent');
const BODY = Buffer.from('ok');

const filter = (i: number, cpu: number) =>
  benchFilter(`headers-${i}`, wasm, { request: { set: { [`x-filter-${i}`]: 'on' } }, response: { add: { [`x-filtered-by-${i}`]: 'wasmgate' } } }, cpu);
/** The request as the proxy would hand it over. */
const requestHeaders = (): HeaderMap =>
  new HeaderMap(
    [':method', 'GET', ':scheme', 'http', ':authority', '127.0.0.1:8080', ':path', '/2b'],
    ['user-agent', 'autocannon', 'x-request-id', 'abc', 'x-forwarded-for', '127.0.0.1', 'x-forwarded-proto', 'http', 'x-forwarded-host', '127.0.0.1:8080'],
  );

async function measure(n: number, cpu: number): Promise<number> {
  const plugins: Plugin[] = [];
  for (let i = 1; i <= n; i++) {
    const f = filter(i, cpu);
    plugins.push(new Plugin(await loadFilterModule(wasm, { memoryLimitBytes: 64 * 1048576, cpu }), f, log));
  }
  const chain = new FilterChain(plugins);
  const one = (): void => {
    const ex = new StandInExchange(requestHeaders());
    const run = new FilterRun(ex, chain);
    ex.run = run;
    run.requestHeaders(true);
    ex.responseHeaders = new HeaderMap([':status', '200'], ['content-length', '2', 'x-request-id', 'abc']);
    run.responseHeaders(false);
    run.responseData(BODY, true);
  };
  const ns = cpuPerCall(N, one) * 1000;
  for (const p of plugins) p.close();
  return ns;
}

// each case in a process of its own: one process's JIT, shaped by the cases before, would bias the next
const only = process.env['CASE'];
if (only !== undefined) {
  const [n, cpu] = only.split(':').map(Number) as [number, number];
  console.log(String(await measure(n, cpu)));
} else {
  console.log(`filter chain per stream, ${N} streams × 7 batches each, one process per case (node ${process.version})\n`);
  console.log('| add-headers filters | metered | ns per stream (median) | ns per stream per filter, over none |');
  console.log('| --- | --- | --- | --- |');
  let none = 0;
  for (const n of CHAINS) {
    for (const cpu of n === 0 ? [200_000_000] : [200_000_000, 0]) {
      const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url)], { env: { ...process.env, CASE: `${n}:${cpu}` }, encoding: 'utf8' });
      const ns = Number(out.trim().split('\n').at(-1));
      if (n === 0) none = ns;
      console.log(`| ${n} | ${n === 0 ? '–' : cpu > 0 ? 'yes' : 'no'} | ${ns.toFixed(0)} | ${n === 0 ? '–' : ((ns - none) / n).toFixed(0)} |`);
    }
  }
}

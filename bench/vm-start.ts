// `npm run bench:vm`: how long a worker takes to get a filter ready — instantiate the compiled module,
// run its initializer, create the root context, proxy_on_vm_start and proxy_on_configure — for each
// example filter (and any .wasm given as arguments). Compilation, done once per module on the main
// thread, is shown apart. Prints the median and p90 over many starts, in milliseconds.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadFilterModule } from '../src/wasm/module.ts';
import { FilterVm } from '../src/wasm/vm.ts';
import { createRootLogger } from '../src/observability/logger.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const filtersDir = path.join(repoRoot, 'filters');
const CONFIGS: Record<string, unknown> = {
  'add-headers': { request: { set: { 'x-a': '1' } }, response: { add: { 'x-powered-by': 'wasmgate' } } },
  'ab-router': { experiment: 'checkout', variants: [{ name: 'a', weight: 50 }, { name: 'b', weight: 50 }] },
  'json-transform': { set: { '/source': 'wasmgate' }, remove: ['/password'] },
  auth: { upstream: 'auth' },
  'rate-limit': { requests_per_second: 10, burst: 20 },
};
const files = process.argv.length > 2 ? process.argv.slice(2).map((f) => path.resolve(f)) : readdirSync(filtersDir).filter((f) => f.endsWith('.wasm')).map((f) => path.join(filtersDir, f));
const RUNS = Number(process.env.RUNS ?? 200);
const log = createRootLogger('silent');
const quantile = (xs: number[], q: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;

console.log(`filter VM start-up, ${RUNS} starts each (node ${process.version})\n`);
console.log('| filter | size | compile (once) ms | start median ms | start p90 ms |');
console.log('| --- | --- | --- | --- | --- |');
for (const file of files) {
  const name = path.basename(file, '.wasm');
  const t0 = performance.now();
  const mod = await loadFilterModule(file, { memoryLimitBytes: 64 * 1048576, cpu: 200_000_000 }); // as the gateway loads it
  const compileMs = performance.now() - t0;
  const filter = { name, wasm: file, root_id: '', vm_id: '', config: JSON.stringify(CONFIGS[name] ?? {}), vm_config: '', fail_open: { load: false, start: false, trap: false, cpu: false, memory: false }, limits: { memory_mb: 64, cpu: 200000000, hard_timeout_ms: 5000, clock_resolution_us: 1000 }, quarantine: { failures: 5, window_ms: 10000, max_backoff_ms: 60000 } };
  const times: number[] = [];
  for (let i = 0; i < RUNS + 20; i++) {
    const s = performance.now();
    const vm = new FilterVm(mod, filter, log);
    vm.initialize();
    vm.startRootContext();
    const ms = performance.now() - s;
    vm.close();
    if (i >= 20) times.push(ms); // the first starts warm up the host's JS
  }
  console.log(`| ${name} | ${(mod.sizeBytes / 1024).toFixed(1)} KiB | ${compileMs.toFixed(2)} | ${quantile(times, 0.5).toFixed(3)} | ${quantile(times, 0.9).toFixed(3)} |`);
}

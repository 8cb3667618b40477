// `npm run bench:reload`: how fast a filter change serves, and what a reload does to concurrent traffic.
//  1. time from the last write of a filter file to the first response from the new version (file
//     watching, debounce, compile, start in the worker, swap): median and max over SWAPS changes;
//  2. p99 latency of steady load (autocannon, loopback) with and without a reload of a 2 MB module every
//     second, in the same run: the ratio is what a reload costs concurrent requests.
// Loopback only, bounded in time; every child process is stopped at the end.
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import wabtInit from 'wabt';
import { freePort, spawnChild, waitHttp } from './lib/proc.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SWAPS = Number(process.env.SWAPS ?? 20);
const DURATION = Number(process.env.DURATION ?? 8);
const require = createRequire(import.meta.url);
const autocannon = require('autocannon') as (o: Record<string, unknown>, cb: (err: Error | null, r: { latency: { p99: number; p50: number }; requests: { average: number }; non2xx: number; errors: number }) => void) => unknown;

/** A filter module adding `x-version: <v>`, padded with `padBytes` of data (to make a big module). */
async function buildFilter(version: string, padBytes: number): Promise<Buffer> {
  const wabt = await wabtInit();
  const pad = 'p'.repeat(padBytes);
  const wat = `(module
  (import "env" "proxy_add_header_map_value" (func $add (param i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") ${Math.ceil((padBytes + 0x2000) / 65536)})
  (data (i32.const 0x100) "x-version")
  (data (i32.const 0x110) "${version}")
  (data (i32.const 0x1000) "${pad}")
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "proxy_on_memory_allocate") (param i32) (result i32) (i32.const 0x400))
  (func (export "proxy_on_response_headers") (param i32 i32 i32) (result i32)
    (drop (call $add (i32.const 2) (i32.const 0x100) (i32.const 9) (i32.const 0x110) (i32.const ${version.length})))
    (i32.const 0)))`;
  const mod = wabt.parseWat('f.wat', wat);
  try {
    return Buffer.from(mod.toBinary({}).buffer);
  } finally {
    mod.destroy();
  }
}

function run(url: string, seconds: number): Promise<{ p50: number; p99: number; rps: number; failed: number }> {
  return new Promise((resolve, reject) => {
    autocannon({ url, connections: 20, duration: seconds }, (err, r) => {
      if (err) reject(err);
      else resolve({ p50: r.latency.p50, p99: r.latency.p99, rps: r.requests.average, failed: r.non2xx + r.errors });
    });
  });
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'wasmgate-bench-reload-'));
  const upstream = http.createServer((_req, res) => res.end('ok'));
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
  const upPort = (upstream.address() as AddressInfo).port;
  const [port, adminPort] = [await freePort(), await freePort()];
  const small = { a: await buildFilter('a', 0), b: await buildFilter('b', 0) };
  const big = { a: await buildFilter('a', 2 * 1024 * 1024), b: await buildFilter('b', 2 * 1024 * 1024) };
  const file = path.join(dir, 'filter.wasm');
  writeFileSync(file, small.a);
  writeFileSync(
    path.join(dir, 'gateway.yaml'),
    `listen: { host: 127.0.0.1, port: ${port} }\nadmin: { host: 127.0.0.1, port: ${adminPort} }\nworkers: 1\naccess_log: { enabled: false }\n` +
      `upstreams:\n  app: { url: "http://127.0.0.1:${upPort}" }\nroutes:\n  - name: d\n    match: { prefix: / }\n    upstream: app\n` +
      `filters:\n  - name: versioned\n    wasm: filter.wasm\n`,
  );
  const gw = spawnChild(process.execPath, [path.join(repoRoot, 'src/cli/main.ts'), 'run', '-c', path.join(dir, 'gateway.yaml')], { cwd: repoRoot, stdout: 'ignore' });
  try {
    await waitHttp(`http://127.0.0.1:${adminPort}/ready`, 20_000, gw.alive);
    const url = `http://127.0.0.1:${port}/x`;
    const versionNow = async (): Promise<string | null> => {
      const r = await fetch(url);
      await r.text();
      return r.headers.get('x-version');
    };

    // 1. last write → first response from the new version
    const times: number[] = [];
    let v: 'a' | 'b' = 'a';
    for (let i = 0; i < SWAPS; i++) {
      v = v === 'a' ? 'b' : 'a';
      writeFileSync(file, small[v]);
      const t0 = performance.now();
      while ((await versionNow()) !== v) {
        if (performance.now() - t0 > 10_000) throw new Error('the change did not serve within 10 s');
        await new Promise((r) => setTimeout(r, 5));
      }
      times.push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, 150));
    }

    // 2. p99 under load, without and with a 2 MB module reloaded every second
    writeFileSync(file, big.a);
    v = 'a';
    while ((await versionNow()) !== 'a') await new Promise((r) => setTimeout(r, 20));
    await run(url, 2); // warm-up
    const steady = await run(url, DURATION);
    let swapping = true;
    let swaps = 0;
    const swapper = (async () => {
      while (swapping) {
        v = v === 'a' ? 'b' : 'a';
        writeFileSync(file, big[v]);
        swaps++;
        await new Promise((r) => setTimeout(r, 1000));
      }
    })();
    const during = await run(url, DURATION);
    swapping = false;
    await swapper;

    console.log(`\nwasmgate reload bench — node ${process.version}, ${os.cpus().length} CPUs, workers: 1\n`);
    console.log(`filter change → serving (file watch, debounce, compile, start, swap), ${SWAPS} changes:`);
    console.log(`  median ${median(times).toFixed(0)} ms, max ${Math.max(...times).toFixed(0)} ms\n`);
    console.log(`steady load, 20 connections, ${DURATION} s each, 2 MB module:`);
    console.log('| run | req/s | p50 ms | p99 ms | failed |');
    console.log('| --- | --- | --- | --- | --- |');
    console.log(`| no reload | ${steady.rps.toFixed(0)} | ${steady.p50} | ${steady.p99} | ${steady.failed} |`);
    console.log(`| a reload every second (${swaps}) | ${during.rps.toFixed(0)} | ${during.p50} | ${during.p99} | ${during.failed} |`);
    console.log(`\np99 ratio (reloading / steady): ${(during.p99 / Math.max(1, steady.p99)).toFixed(2)}`);
  } finally {
    await gw.stop(5000);
    upstream.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench:reload: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);

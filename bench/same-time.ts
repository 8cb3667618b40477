// `npm run bench:same-time`: the setups of SETUPS loaded at the same time, each by its own autocannon,
// all proxies sharing the proxy CPU and all load generators the other one. Machines like these drift
// by 15-40 % from one minute to the next, which the interleaved rounds of `npm run bench` can only
// average out; here every setup meets the same drift in the same seconds, so the differences between
// them hold still. Each round prints req/s and gateway CPU per request of every setup; the summary is
// the median, over rounds, of each setup against the first one in SETUPS (the reference) in that round.
// Absolute figures are not those of a setup alone (the proxies take turns on one core, which adds
// context switches to every request): read the ratios and differences. Loopback only, bounded in time.
//   SETUPS=wasmgate,wasmgate-f1,wasmgate-ratelimit ROUNDS=7 DURATION=4 npm run bench:same-time
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runLoad, type CellEnv } from './lib/cell.ts';
import { spawnChild, treeCpuSeconds, waitReadyLine } from './lib/proc.ts';
import { readSettings } from './lib/settings.ts';
import { SETUPS } from './lib/setups.ts';
import { PAYLOADS, type Running, type SetupContext } from './lib/types.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const log = (s: string): void => void process.stderr.write(`${s}\n`);
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : s.length % 2 === 1 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

interface Sample {
  readonly round: number;
  readonly setup: string;
  readonly reqPerSec: number;
  readonly cpuUsPerReq: number;
  readonly p99: number;
  readonly bad: number;
}

async function main(): Promise<number> {
  const env0 = { ...process.env, SETUPS: process.env['SETUPS'] ?? 'wasmgate,wasmgate-f1' };
  const { settings } = readSettings(env0);
  // readSettings adds the baseline for `npm run bench`; here the reference is the first setup named
  const names = env0.SETUPS.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const payload = PAYLOADS.find((p) => p.name === (process.env['PAYLOAD'] ?? 'get-2b'));
  if (payload === undefined) throw new Error(`PAYLOAD: one of ${PAYLOADS.map((p) => p.name).join(', ')}`);
  const rounds = Number(process.env['ROUNDS'] ?? 7);
  const connections = Math.max(1, Math.round(settings.connections / names.length));
  log(`same-time: ${names.join(', ')} on ${payload.name}; ${rounds} rounds × ${settings.duration}s, ${connections} connections each`);

  const tmpDir = mkdtempSync(path.join(os.tmpdir(), 'wasmgate-same-time-'));
  const node = process.execPath;
  const running = new Map<string, Running>();
  const samples: Sample[] = [];
  const upstream = spawnChild(node, [path.join(repoRoot, 'bench', 'servers', 'upstream.ts'), '0'], { cpu: settings.pinning.loadCpu, cwd: repoRoot });
  try {
    const upstreamPort = await waitReadyLine(upstream, 15_000);
    const ctx: SetupContext = { settings, upstreamUrl: `http://127.0.0.1:${upstreamPort}`, upstreamPort, repoRoot, tmpDir, node };
    for (const name of names) {
      const def = SETUPS.find((s) => s.name === name);
      if (def === undefined) throw new Error(`unknown setup ${name}`);
      running.set(name, await def.start(ctx));
    }
    const env: CellEnv = { settings, repoRoot, node, upstreamPid: upstream.pid };
    // round 0 warms every process up (JIT, pools) and is not recorded
    for (let round = 0; round <= rounds; round++) {
      const results = await Promise.all(
        names.map(async (name) => {
          const r = running.get(name)!;
          let cpu0 = Number.NaN;
          const spec = { url: r.url + payload.path, method: payload.method, bodyBytes: payload.bodyBytes, json: payload.json === true, connections, pipelining: settings.pipelining, duration: settings.duration, warmup: settings.warmup };
          const load = await runLoad(env, spec, () => (cpu0 = treeCpuSeconds(r.cpuPid)));
          const cpuS = treeCpuSeconds(r.cpuPid) - cpu0;
          return { round, setup: name, reqPerSec: load.reqPerSec, cpuUsPerReq: load.ok > 0 ? (cpuS * 1e6) / load.ok : Number.NaN, p99: load.latencyMs.p99, bad: load.errors + load.timeouts + load.non2xx };
        }),
      );
      if (round === 0) continue;
      samples.push(...results);
      log(`r${round} ${results.map((s) => `${s.setup} ${Math.round(s.reqPerSec)}/s ${s.cpuUsPerReq.toFixed(0)}µs${s.bad > 0 ? ` (${s.bad} failed)` : ''}`).join('  ')}`);
    }
  } finally {
    await Promise.all([...running.values()].map((r) => r.stop()));
    await upstream.stop();
    rmSync(tmpDir, { recursive: true, force: true });
  }

  const ref = names[0]!;
  const rows = names.map((name) => {
    const ratio: number[] = [];
    const added: number[] = [];
    for (let round = 1; round <= rounds; round++) {
      const a = samples.find((s) => s.round === round && s.setup === name);
      const b = samples.find((s) => s.round === round && s.setup === ref);
      if (a === undefined || b === undefined) continue;
      ratio.push(a.reqPerSec / b.reqPerSec);
      added.push(a.cpuUsPerReq - b.cpuUsPerReq);
    }
    const mine = samples.filter((s) => s.setup === name);
    return { setup: name, reqPerSecRatio: median(ratio), addedCpuUs: median(added), cpuUsPerReq: median(mine.map((s) => s.cpuUsPerReq)), failed: mine.reduce((n, s) => n + s.bad, 0) };
  });
  console.log(`\n| setup | req/s vs ${ref} (median of rounds) | CPU µs/req (same-time) | added CPU µs/req vs ${ref} | failed |`);
  console.log('| --- | --- | --- | --- | --- |');
  for (const r of rows) console.log(`| ${r.setup} | ${r.reqPerSecRatio.toFixed(3)} | ${r.cpuUsPerReq.toFixed(1)} | ${r.setup === ref ? '–' : r.addedCpuUs.toFixed(1)} | ${r.failed} |`);
  const outDir = path.join(repoRoot, 'bench', 'results');
  mkdirSync(outDir, { recursive: true });
  const outFile = path.join(outDir, `same-time-${new Date().toISOString().replace(/:/g, '-')}.json`);
  writeFileSync(outFile, `${JSON.stringify({ payload: payload.name, rounds, duration: settings.duration, connections, reference: ref, rows, samples }, null, 2)}\n`);
  console.log(`\nraw results: ${path.relative(repoRoot, outFile)}`);
  return rows.some((r) => r.failed > 0) ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    log(`same-time: ${(err as Error).stack ?? String(err)}`);
    process.exit(1);
  },
);

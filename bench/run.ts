// `npm run bench`: proxies × payloads, interleaved rounds, medians of paired ratios against the
// hand-written undici baseline. See bench/README.md for the env vars and how to read the output.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { primeSetup, runCell, type CellEnv } from './lib/cell.ts';
import { spawnChild, waitReadyLine } from './lib/proc.ts';
import { NOISY, renderFilterCost, renderProblems, renderTable, summarize, type SetupStatus } from './lib/report.ts';
import { machineInfo, readSettings } from './lib/settings.ts';
import { BASELINE, FILTER_SETUPS, SETUPS } from './lib/setups.ts';
import { checkSetup } from './lib/smoke.ts';
import { PAYLOADS, type CellRun, type Running, type SetupContext } from './lib/types.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const log = (s: string): void => void process.stderr.write(`${s}\n`);

async function main(): Promise<number> {
  const { settings, notes } = readSettings(process.env);
  const machine = machineInfo(repoRoot);
  const payloads = PAYLOADS.filter((p) => settings.payloads.includes(p.name));
  const startedAt = new Date();
  const cells = settings.rounds * settings.setups.length * payloads.length;
  log(`bench: node ${process.version}, ${machine.cores} × ${String(machine.cpuModel)}, commit ${String(machine.commit ?? 'none')}`);
  log(`bench: rounds=${settings.rounds} duration=${settings.duration}s warmup=${settings.warmup}s connections=${settings.connections} pipelining=${settings.pipelining}` +
    ` pinning=${settings.pinning.enabled ? `proxy→CPU${settings.pinning.proxyCpu}, upstream+autocannon→CPU${settings.pinning.loadCpu}` : `off (${settings.pinning.reason})`}`);
  const primeS = (settings.setups.length + 1) * payloads.length * (settings.prime + 0.5);
  log(`bench: setups=${settings.setups.join(',')}; ~${Math.ceil((cells * (settings.duration + settings.warmup + 0.7) + primeS) / 60)} min`);
  for (const n of notes) log(`bench: note: ${n}`);

  const tmpDir = mkdtempSync(path.join(os.tmpdir(), 'wasmgate-bench-'));
  const node = process.execPath;
  const running = new Map<string, Running>();
  const statuses: SetupStatus[] = [];
  const runs: CellRun[] = [];
  const upstream = spawnChild(node, [path.join(repoRoot, 'bench', 'servers', 'upstream.ts'), '0'], { cpu: settings.pinning.loadCpu, cwd: repoRoot });
  try {
    const upstreamPort = await waitReadyLine(upstream, 15_000);
    const ctx: SetupContext = { settings, upstreamUrl: `http://127.0.0.1:${upstreamPort}`, upstreamPort, repoRoot, tmpDir, node };

    // Starts every setup still in the running (all of them at first); one that fails is skipped for good.
    const startAll = async (names: readonly string[]): Promise<void> => {
      for (const name of names) {
        const def = SETUPS.find((s) => s.name === name)!;
        let st = statuses.find((s) => s.name === name);
        if (st === undefined) {
          st = { name, description: def.description, status: 'skipped' };
          statuses.push(st);
        }
        let r: Running | undefined;
        try {
          r = await def.start(ctx);
          await checkSetup(r.url, payloads);
          running.set(name, r);
          st.status = 'ran';
          st.info = r.info;
          log(`bench: ${name} up at ${r.url}`);
        } catch (err) {
          st.status = 'skipped';
          st.reason = (err as Error).message.replace(/\s+/g, ' ').slice(0, 400);
          log(`bench: ${name} SKIPPED: ${st.reason}`);
          running.delete(name);
          await r?.stop();
        }
      }
    };
    await startAll(settings.setups);
    if (!running.has(BASELINE)) {
      log(`bench: the baseline ${BASELINE} did not start: nothing to compare against`);
      return 1;
    }

    const env: CellEnv = { settings, repoRoot, node, upstreamPid: upstream.pid };
    const order = [...running.keys()];
    const prime = async (): Promise<void> => {
      if (settings.prime === 0) return;
      log(`bench: priming each setup with ${settings.prime}s per payload (not recorded)`);
      await primeSetup(env, { url: ctx.upstreamUrl, cpuPid: -1, alive: () => upstream.alive(), stderrTail: () => '', stop: async () => {}, info: {} }, payloads);
      for (const name of order) if (running.has(name)) await primeSetup(env, running.get(name)!, payloads);
    };
    await prime();
    let n = 0;
    for (let round = 1; round <= settings.rounds; round++) {
      if (round > 1 && settings.restart) {
        // a process's JIT and memory layout can make it 10-15 % faster or slower than the next
        // instance of the same program: a fresh process per round keeps that luck out of the medians
        await Promise.all([...running.values()].map((r) => r.stop()));
        running.clear();
        await startAll(order);
        if (!running.has(BASELINE)) break;
        await prime();
      }
      // payload-major, so the cells a paired ratio compares run close together in time (this
      // machine's speed drifts by minutes); the setup order rotates each round so that no setup
      // always runs first or last.
      const shift = (round - 1) % order.length;
      const rotated = [...order.slice(shift), ...order.slice(0, shift)];
      for (const payload of payloads) {
        for (const name of rotated) {
          if (!running.has(name)) continue;
          const cell = await runCell(env, round, name, running.get(name)!, payload);
          runs.push(cell);
          n++;
          const l = cell.load;
          log(`[${n}/${running.size * payloads.length * settings.rounds}] r${round} ${name.padEnd(15)} ${payload.name.padEnd(8)} ` +
            (l ? `${Math.round(l.reqPerSec).toString().padStart(6)} req/s p50 ${l.latencyMs.p50} p99 ${l.latencyMs.p99} ms` : 'no result') +
            (cell.proxyCpuUsPerReq !== undefined ? ` cpu ${cell.proxyCpuUsPerReq.toFixed(0)}µs/req` : '') +
            (cell.loadCoreUtil !== undefined ? ` load-core ${Math.round(cell.loadCoreUtil * 100)}%` : '') +
            (cell.otherCpuUtil !== undefined ? ` other ${Math.round(cell.otherCpuUtil * 100)}%` : '') +
            (cell.ok ? '' : `  FLAGGED: ${cell.problem}`));
        }
      }
    }
  } finally {
    await Promise.all([...running.values()].map((r) => r.stop()));
    await upstream.stop();
    rmSync(tmpDir, { recursive: true, force: true });
  }

  const ran = statuses.filter((s) => s.status === 'ran').map((s) => s.name);
  const rows = summarize(runs, ran, payloads.map((p) => p.name), BASELINE);
  const finishedAt = new Date();
  const outDir = path.join(repoRoot, 'bench', 'results');
  mkdirSync(outDir, { recursive: true });
  const outFile = path.join(outDir, `${startedAt.toISOString().replace(/:/g, '-')}.json`);
  const record = {
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    baseline: BASELINE,
    settings,
    machine,
    notes,
    setups: statuses,
    summary: rows,
    runs,
  };
  writeFileSync(outFile, `${JSON.stringify(record, null, 2)}\n`);

  const pin = settings.pinning.enabled ? `pinned (proxy CPU ${settings.pinning.proxyCpu}; upstream + autocannon CPU ${settings.pinning.loadCpu})` : `NOT pinned (${settings.pinning.reason})`;
  console.log(`\nwasmgate bench — ${settings.rounds} round(s) × ${settings.duration}s (+${settings.warmup}s warm-up), ${settings.connections} connections, pipelining ${settings.pipelining}, ${pin}`);
  console.log(`node ${process.version}, ${String(machine.cpuModel)} × ${String(machine.cores)}, commit ${String(machine.commit ?? 'none')}${machine.dirty ? ' (dirty)' : ''}`);
  console.log(`ratio = median over rounds of req/s(setup) / req/s(${BASELINE}, ${settings.undiciMode} shape) in the same round; req/s counts 2xx only\n`);
  console.log(renderTable(rows, statuses, BASELINE));
  if (rows.some((r) => r.otherCpuUtil > NOISY)) {
    console.log(`\nNOISY: other processes used > ${NOISY * 100}% of a core during some cells (see 'other CPU'); rerun on a quiet machine.`);
  }
  const cost = renderFilterCost(runs, FILTER_SETUPS, 'wasmgate', payloads.map((p) => p.name));
  if (cost !== '') console.log(`\n${cost}`);
  const problems = renderProblems(rows);
  if (problems !== '') console.log(`\n${problems}`);
  console.log(`\nraw results: ${path.relative(process.cwd(), outFile)}`);

  const baselineBroken = rows.filter((r) => r.setup === BASELINE).some((r) => r.flagged || !(r.reqPerSec > 0));
  if (baselineBroken) log(`bench: the baseline ${BASELINE} had failed cells`);
  return baselineBroken ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    log(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  },
);

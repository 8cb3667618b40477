// Runs one setup×payload cell: a pinned autocannon child (warm-up, then the recorded run),
// with the proxy's and upstream's CPU sampled around the recorded run only.
import path from 'node:path';
import { spawnChild, systemBusySeconds, treeCpuSeconds } from './proc.ts';
import type { CellRun, LoadResult, LoadSpec, Payload, Running, Settings } from './types.ts';

export interface CellEnv {
  settings: Settings;
  repoRoot: string;
  node: string;
  upstreamPid: number;
}

interface Msg {
  phase: 'measure' | 'done';
  result?: LoadResult;
}

export function runLoad(env: CellEnv, spec: LoadSpec, onMeasure: () => void): Promise<LoadResult> {
  const script = path.join(env.repoRoot, 'bench', 'lib', 'loadgen.ts');
  const child = spawnChild(env.node, [script, JSON.stringify(spec)], { cpu: env.settings.pinning.loadCpu, cwd: env.repoRoot });
  const limitMs = (spec.warmup + spec.duration + 30) * 1000;
  return new Promise((resolve, reject) => {
    let buf = '';
    let result: LoadResult | undefined;
    const timer = setTimeout(() => {
      void child.stop(500);
      reject(new Error(`load generator still running after ${limitMs / 1000} s`));
    }, limitMs);
    child.proc.stdout!.setEncoding('utf8');
    child.proc.stdout!.on('data', (s: string) => {
      buf += s;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let msg: Msg;
        try {
          msg = JSON.parse(line) as Msg;
        } catch {
          continue;
        }
        if (msg.phase === 'measure') onMeasure();
        else if (msg.phase === 'done') result = msg.result;
      }
    });
    child.proc.once('exit', (code) => {
      clearTimeout(timer);
      if (result !== undefined) resolve(result);
      else reject(new Error(`load generator exited ${code}: ${child.stderrTail().slice(-500)}`));
    });
  });
}

function lastLines(s: string): string {
  const lines = s.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('at '));
  return lines.slice(-3).join(' | ').slice(0, 300) || '(no stderr)';
}

export async function runCell(env: CellEnv, round: number, setup: string, running: Running, payload: Payload): Promise<CellRun> {
  const base: CellRun = { round, setup, payload: payload.name, ok: false };
  if (!running.alive()) return { ...base, problem: `process under test is not running: ${lastLines(running.stderrTail())}` };
  const s = env.settings;
  const spec: LoadSpec = {
    url: running.url + payload.path,
    method: payload.method,
    bodyBytes: payload.bodyBytes,
    json: payload.json === true,
    connections: s.connections,
    pipelining: s.pipelining,
    duration: s.duration,
    warmup: s.warmup,
  };
  let p0 = Number.NaN;
  let u0 = Number.NaN;
  let s0 = Number.NaN;
  let load: LoadResult;
  try {
    load = await runLoad(env, spec, () => {
      p0 = running.cpuPid > 0 ? treeCpuSeconds(running.cpuPid) : Number.NaN;
      u0 = treeCpuSeconds(env.upstreamPid);
      s0 = systemBusySeconds();
    });
  } catch (err) {
    return { ...base, problem: (err as Error).message };
  }
  const sysS = systemBusySeconds() - s0;
  const proxyCpuS = running.cpuPid > 0 ? treeCpuSeconds(running.cpuPid) - p0 : undefined;
  const upstreamCpuS = treeCpuSeconds(env.upstreamPid) - u0;
  const otherCpuUtil = Math.max(0, (sysS - (proxyCpuS ?? 0) - upstreamCpuS - load.loadgenCpuS) / load.wallS);
  const bad = load.errors + load.timeouts + load.non2xx;
  const problems: string[] = [];
  if (bad > 0) {
    const codes = Object.entries(load.statusCodes).filter(([c]) => !c.startsWith('2')).map(([c, n]) => `${c}×${n}`);
    problems.push(`errors=${load.errors} timeouts=${load.timeouts} non2xx=${load.non2xx}${codes.length ? ` (${codes.join(' ')})` : ''}`);
  }
  if (load.ok === 0) problems.push('no 2xx responses');
  if (!running.alive()) problems.push(`process under test died during the run: ${lastLines(running.stderrTail())}`);
  return {
    ...base,
    ok: problems.length === 0,
    ...(problems.length > 0 ? { problem: problems.join('; ') } : {}),
    load,
    ...(proxyCpuS !== undefined && Number.isFinite(proxyCpuS) ? { proxyCpuS, proxyCpuUsPerReq: load.ok > 0 ? (proxyCpuS * 1e6) / load.ok : undefined } : {}),
    ...(Number.isFinite(upstreamCpuS) ? { upstreamCpuS, loadCoreUtil: (upstreamCpuS + load.loadgenCpuS) / load.wallS } : {}),
    ...(Number.isFinite(otherCpuUtil) ? { otherCpuUtil } : {}),
  };
}

/** Unrecorded load on every payload of a freshly started setup, so round 1 is not a JIT warm-up. */
export async function primeSetup(env: CellEnv, running: Running, payloads: readonly Payload[]): Promise<void> {
  const s = env.settings;
  if (s.prime <= 0) return;
  for (const p of payloads) {
    if (!running.alive()) return;
    const spec: LoadSpec = { url: running.url + p.path, method: p.method, bodyBytes: p.bodyBytes, json: p.json === true, connections: s.connections, pipelining: s.pipelining, duration: s.prime, warmup: 0 };
    await runLoad(env, spec, () => {}).catch(() => undefined);
  }
}

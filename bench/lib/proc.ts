// Child-process plumbing for the harness: spawning (optionally pinned with taskset), waiting for
// readiness, CPU accounting from /proc, and making sure nothing outlives the harness.
import { spawn, spawnSync, type ChildProcess, type StdioOptions } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';

export interface Pinning {
  enabled: boolean;
  reason: string;
  proxyCpu: string;
  loadCpu: string;
}

/** Pin when taskset exists, there are >= 2 CPUs and PIN is not 0. */
export function detectPinning(env: NodeJS.ProcessEnv): Pinning {
  const off = (reason: string): Pinning => ({ enabled: false, reason, proxyCpu: '', loadCpu: '' });
  if (env.PIN === '0') return off('disabled by PIN=0');
  if (os.availableParallelism() < 2) return off('fewer than 2 CPUs');
  const probe = spawnSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' });
  if (probe.error !== undefined || probe.status !== 0) return off('taskset not available');
  return { enabled: true, reason: 'taskset', proxyCpu: '0', loadCpu: '1' };
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const c of live) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      process.stderr.write(`\nbench: ${sig}, stopping children\n`);
      process.exit(130);
    });
  }
}

export interface Child {
  proc: ChildProcess;
  pid: number;
  /** Last few KiB of stderr, for failure reasons. */
  stderrTail(): string;
  alive(): boolean;
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

export interface SpawnOpts {
  cpu?: string; // taskset CPU list, '' / undefined = unpinned
  cwd?: string;
  stdout?: 'pipe' | 'ignore';
  env?: NodeJS.ProcessEnv;
}

export function spawnChild(cmd: string, args: string[], opts: SpawnOpts = {}): Child {
  installExitHook();
  const pinned = opts.cpu !== undefined && opts.cpu !== '';
  const file = pinned ? 'taskset' : cmd;
  const argv = pinned ? ['-c', opts.cpu!, cmd, ...args] : args;
  const stdio: StdioOptions = ['ignore', opts.stdout ?? 'pipe', 'pipe'];
  const proc = spawn(file, argv, { cwd: opts.cwd, stdio, env: opts.env ?? process.env });
  live.add(proc);
  let tail = '';
  proc.stderr?.setEncoding('utf8');
  proc.stderr?.on('data', (s: string) => {
    tail = (tail + s).slice(-4096);
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  proc.once('exit', () => live.delete(proc));
  proc.once('error', (err) => {
    tail += `\nspawn error: ${err.message}`;
  });
  const alive = (): boolean => proc.exitCode === null && proc.signalCode === null && proc.pid !== undefined;
  return {
    proc,
    pid: proc.pid ?? -1,
    stderrTail: () => tail.trim(),
    alive,
    async stop(graceMs = 3000) {
      if (!alive()) return;
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(t);
    },
  };
}

/** Waits for the child's `{"ready":true,"port":N}` stdout line; returns the port. */
export function waitReadyLine(child: Child, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const out = child.proc.stdout;
    if (out === null) return reject(new Error('child has no stdout pipe'));
    let buf = '';
    const done = (err: Error | null, port?: number): void => {
      clearTimeout(timer);
      out.off('data', onData);
      child.proc.off('exit', onExit);
      out.resume(); // keep draining so the child never blocks on a full pipe
      if (err !== null) reject(err);
      else resolve(port!);
    };
    const onData = (s: string): void => {
      buf += s;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      try {
        const msg = JSON.parse(buf.slice(0, nl)) as { ready?: boolean; port?: number };
        if (msg.ready === true && typeof msg.port === 'number') return done(null, msg.port);
      } catch {
        /* fall through */
      }
      done(new Error(`unexpected output: ${buf.slice(0, 200)}`));
    };
    const onExit = (): void => done(new Error(`exited early (${child.proc.exitCode ?? child.proc.signalCode}): ${child.stderrTail()}`));
    const timer = setTimeout(() => done(new Error(`not ready after ${timeoutMs} ms: ${child.stderrTail()}`)), timeoutMs);
    out.setEncoding('utf8');
    out.on('data', onData);
    child.proc.once('exit', onExit);
  });
}

/** Finds a free loopback TCP port (bind to 0, read, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `url` until it answers 200, the child dies, or the deadline passes. */
export async function waitHttp(url: string, deadlineMs: number, alive: () => boolean): Promise<void> {
  const end = Date.now() + deadlineMs;
  let last = '';
  while (Date.now() < end) {
    if (!alive()) throw new Error('exited during startup');
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await r.arrayBuffer();
      if (r.status === 200) return;
      last = `status ${r.status}`;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    await sleep(100);
  }
  throw new Error(`not answering after ${deadlineMs} ms (${last})`);
}

// ---- CPU accounting -------------------------------------------------------------------------

const CLK_TCK = (() => {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(r.stdout?.trim());
  return Number.isFinite(n) && n > 0 ? n : 100;
})();
const HAVE_PROC = existsSync('/proc/self/stat');

function readStat(pid: number): { ppid: number; ticks: number } | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' '); // fields from #3 (state) on
    return { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) }; // utime + stime
  } catch {
    return null;
  }
}

/**
 * CPU seconds (user + system) used so far by `pid` and all its live descendants
 * (nginx workers, a gateway's worker processes). Threads are included by /proc.
 * Returns NaN when /proc is unavailable.
 */
export function treeCpuSeconds(pid: number): number {
  if (!HAVE_PROC || pid <= 0) return Number.NaN;
  const children = new Map<number, number[]>();
  const ticks = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    const p = Number(name);
    if (!Number.isInteger(p)) continue;
    const st = readStat(p);
    if (st === null) continue;
    ticks.set(p, st.ticks);
    const list = children.get(st.ppid);
    if (list === undefined) children.set(st.ppid, [p]);
    else list.push(p);
  }
  let total = 0;
  const stack = [pid];
  while (stack.length > 0) {
    const p = stack.pop()!;
    total += ticks.get(p) ?? 0;
    for (const c of children.get(p) ?? []) stack.push(c);
  }
  return total / CLK_TCK;
}

/**
 * Time on CPU of all threads of `pid`, in seconds, from each thread's /proc schedstat (nanoseconds; the
 * stat files' 10 ms ticks are too coarse for short windows). Children are not included.
 */
export function threadsCpuSeconds(pid: number): number {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ', 1)[0]);
    } catch {
      // a thread that ended between the listing and the read
    }
  }
  return ns / 1e9;
}

/**
 * CPU seconds all CPUs have spent busy (user+nice+system+irq+softirq+steal) since boot, from
 * /proc/stat. Used to detect CPU use by processes that are not part of the benchmark.
 */
export function systemBusySeconds(): number {
  if (!HAVE_PROC) return Number.NaN;
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
    const f = line.trim().split(/\s+/).slice(1).map(Number); // user nice system idle iowait irq softirq steal
    return (f[0]! + f[1]! + f[2]! + f[5]! + f[6]! + (f[7] ?? 0)) / CLK_TCK;
  } catch {
    return Number.NaN;
  }
}

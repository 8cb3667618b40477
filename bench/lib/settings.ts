// Settings from the environment, and facts about the machine for the JSON record.
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { detectPinning } from './proc.ts';
import { BASELINE, DEFAULT_SETUPS, SETUPS } from './setups.ts';
import { PAYLOADS, type Settings } from './types.ts';

function intEnv(env: NodeJS.ProcessEnv, name: string, dflt: number, min: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name}=${raw}: expected an integer >= ${min}`);
  return n;
}

function listEnv(env: NodeJS.ProcessEnv, name: string, dflt: string[], known: string[]): string[] {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return dflt;
  const list = raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const unknown = list.filter((s) => !known.includes(s));
  if (unknown.length > 0) throw new Error(`${name}: unknown ${unknown.join(', ')} (known: ${known.join(', ')})`);
  return [...new Set(list)];
}

export function readSettings(env: NodeJS.ProcessEnv): { settings: Settings; notes: string[] } {
  const notes: string[] = [];
  const quick = env.QUICK === '1' || env.QUICK === 'true';
  const setups = listEnv(env, 'SETUPS', DEFAULT_SETUPS, SETUPS.map((s) => s.name));
  if (!setups.includes(BASELINE)) {
    setups.push(BASELINE);
    notes.push(`${BASELINE} added to SETUPS: every ratio is against it`);
  }
  const undiciMode = env.UNDICI_MODE ?? 'stream';
  if (!['request', 'stream', 'dispatch'].includes(undiciMode)) throw new Error(`UNDICI_MODE=${undiciMode}: request|stream|dispatch`);
  const settings: Settings = {
    rounds: intEnv(env, 'ROUNDS', quick ? 1 : 3, 1),
    duration: intEnv(env, 'DURATION', quick ? 2 : 5, 1),
    warmup: intEnv(env, 'WARMUP', 1, 0),
    connections: intEnv(env, 'CONNECTIONS', 50, 1),
    pipelining: intEnv(env, 'PIPELINING', 1, 1),
    // a freshly started proxy (any of them) needs ~5 s of load before its CPU per request settles
    prime: intEnv(env, 'PRIME', quick ? 2 : 4, 0),
    restart: (env.RESTART ?? '1') !== '0',
    quick,
    setups,
    payloads: listEnv(env, 'PAYLOADS', PAYLOADS.filter((p) => p.json !== true).map((p) => p.name), PAYLOADS.map((p) => p.name)),
    undiciMode,
    pinning: detectPinning(env),
  };
  if (!quick && settings.rounds < 3) notes.push(`ROUNDS=${settings.rounds}: fewer than 3 rounds, medians are weak`);
  if (!settings.pinning.enabled) notes.push(`not pinned (${settings.pinning.reason}): expect large run-to-run swings`);
  return { settings, notes };
}

function git(args: string[], cwd: string): string | null {
  const r = spawnSync('git', args, { cwd, encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

export function machineInfo(repoRoot: string): Record<string, unknown> {
  const cpus = os.cpus();
  const status = git(['status', '--porcelain'], repoRoot);
  return {
    node: process.version,
    v8: process.versions.v8,
    execPath: process.execPath,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    cpuModel: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    availableParallelism: os.availableParallelism(),
    totalMemGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    commit: git(['rev-parse', 'HEAD'], repoRoot),
    dirty: status === null ? null : status !== '',
  };
}

// Shared types of the benchmark harness.
import type { Pinning } from './proc.ts';

/** What the load-generator child is asked to do for one cell. */
export interface LoadSpec {
  url: string;
  method: string;
  bodyBytes: number;
  /** Send a JSON document of bodyBytes (content-type application/json) instead of bytes. */
  json?: boolean;
  connections: number;
  pipelining: number;
  duration: number;
  warmup: number;
}

/** What the load-generator child reports for the recorded run of one cell. */
export interface LoadResult {
  durationS: number;
  /** 2xx responses: the only ones counted as throughput. */
  ok: number;
  /** ok / durationS. */
  reqPerSec: number;
  /** autocannon's own requests.average (all completed responses per second sample), for reference. */
  acRequestsAvg: number;
  sent: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  resets: number;
  statusCodes: Record<string, number>;
  latencyMs: { p50: number; p90: number; p99: number; mean: number; max: number };
  bytesPerSec: number;
  loadgenCpuS: number;
  wallS: number;
}

export interface Payload {
  name: string;
  method: 'GET' | 'POST';
  path: string;
  bodyBytes: number;
  /** The body is a JSON document of about bodyBytes, sent as application/json. */
  json?: boolean;
}

/** A JSON document of exactly `bytes` bytes (bytes ≥ 64): an object with a user, a password and padding. */
export function jsonBody(bytes: number): Buffer {
  const head = '{"user_name":"bench","password":"secret","items":"';
  const tail = '"}';
  return Buffer.from(head + 'x'.repeat(Math.max(0, bytes - head.length - tail.length)) + tail);
}

export const PAYLOADS: readonly Payload[] = [
  { name: 'get-2b', method: 'GET', path: '/2b', bodyBytes: 0 },
  { name: 'get-64k', method: 'GET', path: '/64k', bodyBytes: 0 },
  { name: 'post-16k', method: 'POST', path: '/post', bodyBytes: 16 * 1024 },
  // not in the default set: for the body-transform filter
  { name: 'post-json-16k', method: 'POST', path: '/post', bodyBytes: 16 * 1024, json: true },
];

export interface Settings {
  rounds: number;
  duration: number;
  warmup: number;
  connections: number;
  pipelining: number;
  /** Seconds of unrecorded load per setup×payload before round 1 (JIT, pools, sockets). */
  prime: number;
  /** Start every setup anew before each round, so that each round measures another process. */
  restart: boolean;
  quick: boolean;
  setups: string[];
  payloads: string[];
  undiciMode: string;
  pinning: Pinning;
}

/** A running setup under test. */
export interface Running {
  /** Base URL clients hit, e.g. http://127.0.0.1:PORT */
  url: string;
  /** pid whose process tree is charged as "proxy CPU"; -1 for none (direct). */
  cpuPid: number;
  alive(): boolean;
  /** Recent stderr of the process under test (why it died). */
  stderrTail(): string;
  stop(): Promise<void>;
  /** Free-form facts recorded in the JSON (versions, modes, config paths). */
  info: Record<string, unknown>;
}

export interface SetupContext {
  settings: Settings;
  upstreamUrl: string;
  upstreamPort: number;
  repoRoot: string;
  tmpDir: string;
  node: string;
}

export interface SetupDef {
  name: string;
  description: string;
  start(ctx: SetupContext): Promise<Running>;
}

/** One measured cell of one round. */
export interface CellRun {
  round: number;
  setup: string;
  payload: string;
  ok: boolean;
  /** Why the cell failed or is flagged (errors, non-2xx, crash). */
  problem?: string;
  load?: LoadResult;
  /** CPU seconds of the proxy's process tree during the recorded run. */
  proxyCpuS?: number;
  upstreamCpuS?: number;
  /** µs of proxy CPU per 2xx response. */
  proxyCpuUsPerReq?: number;
  /** (upstream + loadgen CPU) / wall time: near 1.0 means the load core is saturated. */
  loadCoreUtil?: number;
  /**
   * CPU used by everything else on the machine during the recorded run, in cores
   * (system busy time − proxy − upstream − load generator) / wall. Above ~0.1 the cell is noisy.
   */
  otherCpuUtil?: number;
}

// Main thread: starts `workers` worker threads on one port (reusePort), replaces a worker that dies,
// gathers their stats, and drains them on shutdown. It never serves traffic itself.
import { setFlagsFromString } from 'node:v8';
import { Worker } from 'node:worker_threads';
import type { ResolvedConfig } from '../config/types.ts';
import type { Logger } from '../observability/logger.ts';
import { sumSnapshots, type StatsSnapshot } from '../observability/stats.ts';
import { ErrorCodes, GatewayError } from '../errors.ts';
import type { FromWorker, ToWorker, WorkerInit } from './messages.ts';
import type { FilterModule } from '../wasm/module.ts';
import { SharedStore } from '../wasm/shared/store.ts';
import { MetricsStore } from '../wasm/shared/metrics.ts';

/** Filter-defined metrics the process holds (each distinct filter, type and name takes one). */
export const MAX_METRICS = 8192;

const WORKER_URL = new URL('./worker.ts', import.meta.url);

interface Slot {
  readonly id: number;
  worker: Worker | undefined;
  listening: boolean;
  /** Consecutive deaths without serving; drives the restart backoff. */
  crashes: number;
  restartTimer: NodeJS.Timeout | undefined;
  /** The worker's watchdog cells: [calls started, calls ended, filter index, hard timeout ms]. */
  watch: Int32Array;
  /** The started-calls count seen stuck, and since when (ms). */
  stuckAt: number;
  stuckSince: number;
}

export class Supervisor {
  /** The configuration serving now (a reload replaces it). */
  config: ResolvedConfig;
  /** Its version: 1 at start, +1 per applied reload. */
  version = 1;
  private readonly log: Logger;
  private readonly slots: Slot[] = [];
  private nextStatsId = 1;
  private readonly statsWaiters = new Map<number, (s: StatsSnapshot | undefined) => void>();
  private stopping = false;
  /** Worker restarts since start. */
  restarts = 0;
  /** The port every worker listens on (resolved when the config says 0). */
  port = 0;

  private modules: ReadonlyArray<readonly [string, FilterModule]>;
  /** Answers to prepare/commit, keyed by slot id, message type and version. */
  private readonly replies = new Map<string, (m: { ok: boolean; message: string }) => void>();

  /** The shared data store and metric cells every worker maps. */
  readonly shared: { readonly store: SharedArrayBuffer; readonly metrics: SharedArrayBuffer };

  constructor(config: ResolvedConfig, log: Logger, modules: ReadonlyMap<string, FilterModule> = new Map()) {
    this.config = config;
    this.modules = [...modules];
    this.shared = {
      store: SharedStore.create({ maxEntries: config.shared_data.max_entries, maxBytes: config.shared_data.max_bytes }),
      metrics: MetricsStore.create(MAX_METRICS),
    };
    this.log = log.child({ component: 'supervisor' });
    for (let id = 0; id < config.workers; id++) {
      this.slots.push({ id, worker: undefined, listening: false, crashes: 0, restartTimer: undefined, watch: new Int32Array(0), stuckAt: -1, stuckSince: 0 });
    }
  }

  /** Workers terminated because they were stuck in a filter call past its hard timeout. */
  stuckTerminations = 0;
  private watchTimer: NodeJS.Timeout | undefined;

  /**
   * The last line of defence against a filter that never returns (metering should stop it first): a worker
   * whose call into a filter has not ended within the filter's limits.hard_timeout_ms is terminated, logged,
   * counted and replaced like a crashed one.
   */
  private watchWorkers(): void {
    const now = Date.now();
    for (const slot of this.slots) {
      const w = slot.watch;
      if (slot.worker === undefined || w.length === 0) continue;
      const started = w[0]!;
      if (started === w[1]) {
        slot.stuckAt = -1;
        continue;
      }
      if (slot.stuckAt !== started) {
        slot.stuckAt = started;
        slot.stuckSince = now;
        continue;
      }
      const limit = w[3]!;
      if (now - slot.stuckSince < limit) continue;
      const filter = this.config.filters[w[2]!]?.name ?? '?';
      this.stuckTerminations++;
      this.log.error(
        { worker: slot.id, filter, stuckMs: now - slot.stuckSince, code: ErrorCodes.GW_ERR_WORKER_EXITED },
        `worker stuck in a call into filter "${filter}" past its hard_timeout_ms: terminating and replacing it (its in-flight requests fail)`,
      );
      slot.stuckAt = -1;
      void slot.worker.terminate();
    }
  }

  /** Starts the first worker, learns the port, then starts the others on it. Rejects if listening fails. */
  async start(): Promise<void> {
    tuneHeap(this.log);
    this.watchTimer = setInterval(() => this.watchWorkers(), 100);
    this.watchTimer.unref();
    this.port = this.config.listen.port;
    this.port = await this.spawn(this.slots[0]!);
    await Promise.all(this.slots.slice(1).map((s) => this.spawn(s)));
  }

  /** True when every worker listens and no shutdown has begun. */
  get ready(): boolean {
    return !this.stopping && this.slots.every((s) => s.listening);
  }

  get workersListening(): number {
    return this.slots.filter((s) => s.listening).length;
  }

  private spawn(slot: Slot): Promise<number> {
    const watchdog = new SharedArrayBuffer(16);
    slot.watch = new Int32Array(watchdog);
    slot.stuckAt = -1;
    const init: WorkerInit = { workerId: slot.id, config: this.config, port: this.port, modules: this.modules, shared: this.shared, version: this.version, watchdog };
    const worker = new Worker(WORKER_URL, { workerData: init, stdout: false, stderr: false });
    slot.worker = worker;
    slot.listening = false;
    return new Promise((resolve, reject) => {
      let settled = false;
      /** The worker failed to start (listen or filters): it is not replaced, the start fails. */
      let startFailed = false;
      worker.on('message', (msg: FromWorker) => {
        switch (msg.type) {
          case 'listening':
            slot.listening = true;
            settled = true;
            resolve(msg.port);
            break;
          case 'listen_failed':
            settled = true;
            startFailed = true;
            reject(new GatewayError(ErrorCodes.GW_ERR_LISTEN_FAILED, `cannot listen on ${this.config.listen.host}:${this.port}: ${msg.message}`));
            void worker.terminate();
            break;
          case 'start_failed':
            if (!settled) {
              settled = true;
              startFailed = true;
              reject(new GatewayError(ErrorCodes.GW_ERR_WASM_START_FAILED, msg.message));
            } else {
              this.log.error({ worker: slot.id, err: msg.message }, 'worker could not start its filters');
            }
            break;
          case 'stats':
            this.statsWaiters.get(msg.id)?.(msg.stats);
            break;
          case 'drained':
            break;
          case 'prepared':
            this.replies.get(`${slot.id}:prepared:${msg.version}`)?.({ ok: msg.ok, message: msg.message });
            break;
          case 'committed':
            this.replies.get(`${slot.id}:committed:${msg.version}`)?.({ ok: true, message: '' });
            break;
          default:
            msg satisfies never;
        }
      });
      worker.on('error', (err) => {
        this.log.error({ err, worker: slot.id, code: ErrorCodes.GW_ERR_WORKER_EXITED }, 'worker failed');
      });
      worker.on('exit', (code) => {
        slot.listening = false;
        if (slot.worker !== worker) return;
        slot.worker = undefined;
        if (!settled) {
          settled = true;
          reject(new GatewayError(ErrorCodes.GW_ERR_WORKER_EXITED, `worker ${slot.id} exited with code ${code} before listening`));
          return;
        }
        if (this.stopping || startFailed) return;
        this.restarts++;
        slot.crashes++;
        const delayMs = Math.min(100 * 2 ** (slot.crashes - 1), 5000);
        this.log.error({ worker: slot.id, exitCode: code, restartInMs: delayMs, code: ErrorCodes.GW_ERR_WORKER_EXITED }, 'worker exited; replacing it');
        slot.restartTimer = setTimeout(() => {
          slot.restartTimer = undefined;
          this.spawn(slot).then(
            () => {
              slot.crashes = 0;
              this.log.info({ worker: slot.id }, 'worker replaced');
            },
            (err: unknown) => this.log.error({ err, worker: slot.id }, 'worker replacement failed'),
          );
        }, delayMs);
      });
    });
  }

  /**
   * Asks every live worker for its counters and sums them (a worker that does not answer within 1 s is
   * left out); `workers` has each worker's own request counts.
   */
  async collectStats(): Promise<{ total: StatsSnapshot; workers: Array<{ worker: number; requests: number; active: number }> }> {
    const live = this.slots.filter((s) => s.worker !== undefined);
    const snaps = await Promise.all(
      live.map(
        (s) =>
          new Promise<StatsSnapshot | undefined>((resolve) => {
            const id = this.nextStatsId++;
            const timer = setTimeout(() => done(undefined), 1000);
            const done = (snap: StatsSnapshot | undefined): void => {
              clearTimeout(timer);
              this.statsWaiters.delete(id);
              resolve(snap);
            };
            this.statsWaiters.set(id, done);
            s.worker!.postMessage({ type: 'stats', id } satisfies ToWorker);
          }),
      ),
    );
    const workers: Array<{ worker: number; requests: number; active: number }> = [];
    snaps.forEach((s, i) => {
      if (s !== undefined) workers.push({ worker: live[i]!.id, requests: s.requests, active: s.active });
    });
    return { total: sumSnapshots(snaps.filter((s): s is StatsSnapshot => s !== undefined)), workers };
  }

  /** Marks the gateway not ready, then drains every worker (in-flight requests get up to drainTimeoutMs). */
  async shutdown(drainTimeoutMs: number): Promise<{ forced: number }> {
    this.stopping = true;
    clearInterval(this.watchTimer);
    let forced = 0;
    await Promise.all(
      this.slots.map(async (slot) => {
        if (slot.restartTimer !== undefined) clearTimeout(slot.restartTimer);
        const w = slot.worker;
        if (w === undefined) return;
        await new Promise<void>((resolve) => {
          const hard = setTimeout(() => void w.terminate(), drainTimeoutMs + 2000);
          w.on('message', (m: FromWorker) => {
            if (m.type === 'drained') {
              forced += m.forced;
            }
          });
          w.once('exit', () => {
            clearTimeout(hard);
            resolve();
          });
          w.postMessage({ type: 'drain', timeoutMs: drainTimeoutMs } satisfies ToWorker);
        });
      }),
    );
    return { forced };
  }

  /**
   * Applies a new configuration in every worker, all or nothing: each builds the new plane next to the
   * serving one (VMs started); only when all succeed do they swap to it. A worker that fails or does not
   * answer leaves everything as it was.
   */
  async apply(config: ResolvedConfig, modules: ReadonlyMap<string, FilterModule>): Promise<{ ok: true } | { ok: false; message: string }> {
    const version = this.version + 1;
    const mods = [...modules];
    const live = this.slots.filter((s) => s.worker !== undefined && s.listening);
    const ask = (slot: Slot, msg: ToWorker, reply: string, timeoutMs: number): Promise<{ ok: boolean; message: string }> =>
      new Promise((resolve) => {
        const key = `${slot.id}:${reply}:${version}`;
        const timer = setTimeout(() => done({ ok: false, message: `worker ${slot.id} did not answer within ${timeoutMs} ms` }), timeoutMs);
        const done = (r: { ok: boolean; message: string }): void => {
          clearTimeout(timer);
          this.replies.delete(key);
          resolve(r);
        };
        this.replies.set(key, done);
        slot.worker!.postMessage(msg);
      });
    const prepared = await Promise.all(live.map((s) => ask(s, { type: 'prepare', version, config, modules: mods }, 'prepared', 30_000)));
    const failed = prepared.find((r) => !r.ok);
    if (failed !== undefined) {
      for (const s of live) s.worker?.postMessage({ type: 'abort', version } satisfies ToWorker);
      return { ok: false, message: failed.message };
    }
    // from here on, workers started (or restarted) get the new version
    this.config = config;
    this.modules = mods;
    this.version = version;
    await Promise.all(live.map((s) => ask(s, { type: 'commit', version }, 'committed', 10_000)));
    return { ok: true };
  }

  /** Kills one worker as a crash would, so tests can watch it being replaced. */
  terminateWorkerForTesting(id: number): Promise<number> {
    return this.slots[id]!.worker!.terminate();
  }
}

/**
 * V8's old generation may grow to 4x what a full GC leaves live (WASMGATE_HEAP_GROWING_PERCENT, default
 * 300; 0 keeps V8's own factor, 1.1-4 and near 1.1 for a small heap). A proxy's old generation is small
 * and steady (~15 MB) while its young generation grows to 32 MB under load. With V8's factor the room
 * left after a full GC soon falls below the young generation's size; V8 then starts the next incremental
 * marking at once and the worker runs full GCs back to back (every ~100 ms, 5-7 ms each: 10-20 µs per
 * 64 KiB response, measured with --trace-gc; a hand-written Node proxy does the same). The flag is
 * process-wide and read at each full GC; the JS heap may reach ~60 MB instead of ~35 (peak RSS, mostly
 * the allocator's freed read buffers, measured the same: ~300 MB after 64 KiB load at 50 connections).
 */
function tuneHeap(log: Logger): void {
  const value = process.env.WASMGATE_HEAP_GROWING_PERCENT ?? '300';
  const percent = Number(value);
  if (!/^\d+$/.test(value) || percent > 1000) {
    log.warn({ WASMGATE_HEAP_GROWING_PERCENT: value }, "WASMGATE_HEAP_GROWING_PERCENT is not a whole number from 0 to 1000: V8's own heap growing factor applies");
    return;
  }
  if (percent > 0) setFlagsFromString(`--heap-growing-percent=${percent}`);
}

// What one VM sees of the process-wide shared state: its shared data (namespaced by vm_id), shared
// queues, and metrics (ids numbered per VM as Envoy numbers them: the type in the low two bits).
import { WasmResult } from '../abi/constants.ts';
import type { MetricsStore } from './metrics.ts';
import { MetricKind } from './metrics.ts';
import type { QueueHub, QueueListener } from './queues.ts';
import type { SharedStore } from './store.ts';

/** The process-wide state a worker hands its VMs. */
export interface SharedState {
  readonly store: SharedStore;
  readonly queues: QueueHub;
  readonly metrics: MetricsStore;
}

export class VmShared {
  private readonly state: SharedState;
  private readonly vmId: string;
  private readonly filter: string;
  private readonly prefix: Buffer;
  private readonly listener: QueueListener;
  /** Metric id → slot; ids are 4·n + type. */
  private readonly metricSlots = new Map<number, number>();
  private nextMetric = 1;
  /** Called once when the store refuses a key for lack of room. */
  onFull: (() => void) | undefined;

  constructor(state: SharedState, vmId: string, filter: string, listener: QueueListener) {
    this.state = state;
    this.vmId = vmId;
    this.filter = filter;
    this.prefix = Buffer.from(`D${vmId}\0`, 'latin1');
    this.listener = listener;
  }

  /**
   * The value of a key (a view valid until the next shared-data call of this worker) and its CAS in
   * `lastCas`, or undefined. `key` may be a view of guest memory: nothing is copied but the value.
   */
  getData(key: Uint8Array): Uint8Array | undefined {
    const store = this.state.store;
    const n = store.read(this.prefix, key);
    if (n < 0) return undefined;
    return store.scratch.subarray(0, n);
  }

  /** The CAS of the value getData returned last. */
  get lastCas(): number {
    return this.state.store.lastCas;
  }

  setData(key: Uint8Array, value: Uint8Array, cas: number): WasmResult {
    const r = this.state.store.set(key, value, cas, this.prefix);
    if (r === 'ok') return WasmResult.Ok;
    if (r === 'full') this.onFull?.();
    // a full store answers CasMismatch: the one refusal every SDK handles (Rust's panics on others)
    return WasmResult.CasMismatch;
  }

  /** The VM is gone (failed or retired): nothing here may keep it alive. */
  release(): void {
    this.state.queues.unregister(this.listener);
  }

  registerQueue(name: string): number {
    return this.state.queues.register(this.vmId, name, this.listener);
  }

  resolveQueue(vmId: string, name: string): number | undefined {
    return this.state.queues.resolve(vmId === '' ? this.vmId : vmId, name);
  }

  enqueue(id: number, value: Uint8Array): WasmResult {
    const r = this.state.queues.enqueue(id, value);
    if (r === 'ok') return WasmResult.Ok;
    if (r === 'not_found') return WasmResult.NotFound;
    this.onFull?.();
    return WasmResult.InternalFailure;
  }

  dequeue(id: number): Buffer | WasmResult {
    const r = this.state.queues.dequeue(id);
    if (r === 'empty') return WasmResult.Empty;
    if (r === 'not_found') return WasmResult.NotFound;
    return r;
  }

  defineMetric(kind: number, name: string): { status: WasmResult; id: number } {
    if (kind > MetricKind.Histogram) return { status: WasmResult.BadArgument, id: 0 };
    const slot = this.state.metrics.define(this.filter, kind as MetricKind, name);
    if (slot === undefined) return { status: WasmResult.InternalFailure, id: 0 };
    const id = this.nextMetric++ * 4 + kind;
    this.metricSlots.set(id, slot);
    return { status: WasmResult.Ok, id };
  }

  incrementMetric(id: number, delta: bigint): WasmResult {
    const slot = this.metricSlots.get(id);
    if (slot === undefined) return WasmResult.NotFound;
    const kind = id & 3;
    if (kind === MetricKind.Histogram) return WasmResult.BadArgument;
    if (kind === MetricKind.Counter && delta <= 0n) return WasmResult.BadArgument;
    this.state.metrics.add(slot, delta);
    return WasmResult.Ok;
  }

  recordMetric(id: number, value: bigint): WasmResult {
    const slot = this.metricSlots.get(id);
    if (slot === undefined) return WasmResult.NotFound;
    const kind = id & 3;
    if (kind === MetricKind.Gauge) this.state.metrics.set(slot, value);
    else if (kind === MetricKind.Histogram) this.state.metrics.record(slot, value);
    else this.state.metrics.add(slot, value); // a counter adds, as Envoy does
    return WasmResult.Ok;
  }

  getMetric(id: number): bigint | WasmResult {
    const slot = this.metricSlots.get(id);
    if (slot === undefined) return WasmResult.NotFound;
    if ((id & 3) === MetricKind.Histogram) return WasmResult.BadArgument;
    return this.state.metrics.get(slot);
  }
}

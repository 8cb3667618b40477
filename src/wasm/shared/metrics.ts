// Filter-defined metrics (proxy_define_metric & co.), process-wide as Envoy's stats are: every worker's
// VMs update the same cells of one SharedArrayBuffer with Atomics, so a counter is exact across workers
// and the admin port reads it without asking the workers. A metric is identified by (filter, type,
// name); its slot is found or allocated under the shared store's lock.
import type { SharedStore } from './store.ts';

export const MetricKind = { Counter: 0, Gauge: 1, Histogram: 2 } as const;
export type MetricKind = (typeof MetricKind)[keyof typeof MetricKind];

/** Histogram bucket upper bounds (Envoy's defaults; filters usually record milliseconds). */
export const HISTOGRAM_BOUNDS: readonly number[] = [
  0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000,
];
const B = HISTOGRAM_BOUNDS.length;
/** Cells per metric: counters and gauges use the first; histograms: B buckets, +Inf, count, sum. */
const CELLS = B + 3;

export interface MetricSample {
  readonly filter: string;
  readonly kind: MetricKind;
  readonly name: string;
  /** Counter or gauge value. */
  readonly value: bigint;
  /** Histogram: non-cumulative counts per bound, then +Inf. */
  readonly buckets?: readonly bigint[];
  readonly count?: bigint;
  readonly sum?: bigint;
}

export class MetricsStore {
  readonly sab: SharedArrayBuffer;
  private readonly header: Int32Array;
  private readonly cells: BigInt64Array;
  private readonly max: number;
  private readonly store: SharedStore;

  static create(maxMetrics: number): SharedArrayBuffer {
    const sab = new SharedArrayBuffer(16 + maxMetrics * CELLS * 8);
    new Int32Array(sab, 0, 4)[1] = maxMetrics;
    return sab;
  }

  constructor(sab: SharedArrayBuffer, store: SharedStore) {
    this.sab = sab;
    this.store = store;
    this.header = new Int32Array(sab, 0, 4);
    this.max = this.header[1]!;
    this.cells = new BigInt64Array(sab, 16, this.max * CELLS);
  }

  /**
   * The slot of (filter, kind, name), allocated on first use; undefined when every slot is taken, or when
   * the filter holds its share already: one filter gets at most a quarter of the table, so a filter
   * defining metrics without end cannot leave the others none.
   */
  define(filter: string, kind: MetricKind, name: string): number | undefined {
    const nameKey = Buffer.from(`m${kind}${filter}\0${name}`, 'utf8');
    const countKey = Buffer.from(`mc${filter}`, 'utf8');
    return this.store.withLock(() => {
      const existing = this.store.getLocked(nameKey);
      if (existing !== undefined) return existing.readUInt32LE(0);
      const slot = Atomics.load(this.header, 0);
      if (slot >= this.max) return undefined;
      const held = this.store.getLocked(countKey)?.readUInt32LE(0) ?? 0;
      if (held >= Math.max(1, this.max >> 2)) return undefined;
      const v = Buffer.alloc(4);
      v.writeUInt32LE(slot);
      if (this.store.setLocked(nameKey, v, 0) !== 'ok') return undefined;
      this.store.setLocked(slotKey(slot), Buffer.from(`${kind}${filter}\0${name}`, 'utf8'), 0);
      const count = Buffer.alloc(4);
      count.writeUInt32LE(held + 1);
      this.store.setLocked(countKey, count, 0);
      Atomics.store(this.header, 0, slot + 1);
      return slot;
    });
  }

  add(slot: number, delta: bigint): void {
    Atomics.add(this.cells, slot * CELLS, delta);
  }

  set(slot: number, value: bigint): void {
    Atomics.store(this.cells, slot * CELLS, value);
  }

  get(slot: number): bigint {
    return Atomics.load(this.cells, slot * CELLS);
  }

  record(slot: number, value: bigint): void {
    const base = slot * CELLS;
    const v = Number(value);
    let i = 0;
    while (i < B && v > HISTOGRAM_BOUNDS[i]!) i++;
    Atomics.add(this.cells, base + i, 1n);
    Atomics.add(this.cells, base + B + 1, 1n);
    Atomics.add(this.cells, base + B + 2, value);
  }

  /** Every defined metric with its current value (for the admin port). */
  snapshot(): MetricSample[] {
    const n = Atomics.load(this.header, 0);
    const out: MetricSample[] = [];
    for (let slot = 0; slot < n; slot++) {
      const desc = this.store.withLock(() => this.store.getLocked(slotKey(slot)));
      if (desc === undefined) continue;
      const text = desc.toString('utf8');
      const kind = Number(text[0]) as MetricKind;
      const sep = text.indexOf('\0');
      const filter = text.slice(1, sep);
      const name = text.slice(sep + 1);
      const base = slot * CELLS;
      if (kind === MetricKind.Histogram) {
        const buckets: bigint[] = [];
        for (let i = 0; i <= B; i++) buckets.push(Atomics.load(this.cells, base + i));
        out.push({ filter, kind, name, value: 0n, buckets, count: Atomics.load(this.cells, base + B + 1), sum: Atomics.load(this.cells, base + B + 2) });
      } else {
        out.push({ filter, kind, name, value: Atomics.load(this.cells, base) });
      }
    }
    return out;
  }
}

function slotKey(slot: number): Buffer {
  const b = Buffer.alloc(5);
  b[0] = 0x6e; // n
  b.writeUInt32LE(slot, 1);
  return b;
}

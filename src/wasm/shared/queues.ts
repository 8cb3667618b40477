// Shared queues (proxy_register/resolve/enqueue/dequeue_shared_queue) across every worker: the items
// live in the SharedStore, and proxy_on_queue_ready goes to the root context that registered the queue
// last (Envoy's rule), in whichever worker that is — a BroadcastChannel carries the news between workers.
import { BroadcastChannel } from 'node:worker_threads';
import type { SharedStore } from './store.ts';

const CHANNEL = 'wasmgate:queue-ready';

/** Gets proxy_on_queue_ready to the VM that registered a queue last in this worker. */
export interface QueueListener {
  queueReady(queueId: number): void;
  /** False once the VM is closed or failed: it no longer receives anything. */
  readonly alive: boolean;
}

export type EnqueueResult = 'ok' | 'not_found' | 'full';

export class QueueHub {
  private readonly store: SharedStore;
  private readonly workerId: number;
  /** Queue id → the VM of this worker that registered it last. */
  private readonly local = new Map<number, QueueListener>();
  private readonly channel: BroadcastChannel;

  constructor(store: SharedStore, workerId: number) {
    this.store = store;
    this.workerId = workerId;
    this.channel = new BroadcastChannel(CHANNEL);
    this.channel.onmessage = (event) => {
      const { id, worker } = (event as { data: { id: number; worker: number } }).data;
      if (worker === this.workerId) this.deliver(id);
    };
    this.channel.unref();
  }

  register(vmId: string, name: string, listener: QueueListener): number {
    const id = this.store.withLock(() => {
      const nameKey = key('Q', vmId, name);
      const existing = this.store.getLocked(nameKey);
      const qid = existing === undefined ? this.store.nextId() : existing.readUInt32LE(0);
      if (existing === undefined) {
        const v = Buffer.alloc(4);
        v.writeUInt32LE(qid);
        if (this.store.setLocked(nameKey, v, 0) !== 'ok') return 0;
        this.store.setLocked(metaKey(qid), meta(0, 0, this.workerId), 0);
      } else {
        const m = this.store.getLocked(metaKey(qid))!;
        m.writeInt32LE(this.workerId, 8);
        this.store.setLocked(metaKey(qid), m, 0);
      }
      return qid;
    });
    if (id !== 0) this.local.set(id, listener);
    return id;
  }

  resolve(vmId: string, name: string): number | undefined {
    return this.store.withLock(() => this.store.getLocked(key('Q', vmId, name))?.readUInt32LE(0));
  }

  enqueue(id: number, value: Uint8Array): EnqueueResult {
    const registrant = this.store.withLock((): number | EnqueueResult => {
      const m = this.store.getLocked(metaKey(id));
      if (m === undefined) return 'not_found';
      const tail = m.readUInt32LE(4);
      if (this.store.setLocked(itemKey(id, tail), value, 0) !== 'ok') return 'full';
      m.writeUInt32LE((tail + 1) >>> 0, 4);
      this.store.setLocked(metaKey(id), m, 0);
      return m.readInt32LE(8);
    });
    if (typeof registrant !== 'number') return registrant;
    if (registrant === this.workerId) setImmediate(() => this.deliver(id));
    else this.channel.postMessage({ id, worker: registrant });
    return 'ok';
  }

  /** The front item, 'empty', or 'not_found'. */
  dequeue(id: number): Buffer | 'empty' | 'not_found' {
    return this.store.withLock(() => {
      const m = this.store.getLocked(metaKey(id));
      if (m === undefined) return 'not_found';
      const head = m.readUInt32LE(0);
      if (head === m.readUInt32LE(4)) return 'empty';
      const k = itemKey(id, head);
      const value = this.store.getLocked(k) ?? Buffer.alloc(0);
      this.store.deleteLocked(k);
      m.writeUInt32LE((head + 1) >>> 0, 0);
      this.store.setLocked(metaKey(id), m, 0);
      return value;
    });
  }

  private deliver(id: number): void {
    const l = this.local.get(id);
    if (l === undefined) return;
    if (!l.alive) {
      this.local.delete(id);
      return;
    }
    l.queueReady(id);
  }

  /** A VM that failed or was retired: the queues it registered stop holding it (and its memory). */
  unregister(listener: QueueListener): void {
    for (const [id, l] of this.local) if (l === listener) this.local.delete(id);
  }

  close(): void {
    this.channel.close();
  }
}

function key(tag: string, vmId: string, name: string): Buffer {
  return Buffer.from(`${tag}${vmId}\0${name}`, 'latin1');
}

function metaKey(id: number): Buffer {
  const b = Buffer.alloc(5);
  b[0] = 0x4d; // M
  b.writeUInt32LE(id, 1);
  return b;
}

function itemKey(id: number, seq: number): Buffer {
  const b = Buffer.alloc(9);
  b[0] = 0x49; // I
  b.writeUInt32LE(id, 1);
  b.writeUInt32LE(seq, 5);
  return b;
}

function meta(head: number, tail: number, worker: number): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt32LE(head, 0);
  b.writeUInt32LE(tail, 4);
  b.writeInt32LE(worker, 8);
  return b;
}

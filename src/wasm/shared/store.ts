// The shared key-value store behind proxy_get_shared_data / proxy_set_shared_data (and the shared
// queues), visible to every VM of every worker thread: one SharedArrayBuffer made by the main thread,
// guarded by one lock taken with Atomics. Operations are a few hundred nanoseconds, so a single lock is
// enough; contention shows up as a short spin, never as a blocked event loop.
//
// Layout (all little-endian through typed arrays):
//   header  Int32 × 8: lock, cas counter, live entries, arena bytes used, slot count, arena size,
//           max entries, deleted slots
//   slots   slotCount × 6 u32: state (0 empty, 1 used, 2 deleted), hash, offset, key length,
//           value length, cas
//   arena   key bytes then value bytes of each entry, appended; space of replaced values is reclaimed
//           by compacting when the arena is full
// Capacity is fixed at creation: a full store refuses new keys (and values that do not fit) instead of
// growing.
//
// A key is given in two parts, a namespace prefix and the key proper (stored one after the other), so
// that a VM's key can be looked up straight from its guest memory without building the whole key first;
// the lock is a three-state futex word (free, held, held with waiters), so an uncontended unlock is one
// atomic exchange without a notify.

const H_LOCK = 0;
const H_CAS = 1;
const H_LIVE = 2;
const H_USED = 3;
const H_SLOTS = 4;
const H_ARENA = 5;
const H_MAX_ENTRIES = 6;
const H_DELETED = 7;
const HEADER_INTS = 8;
const SLOT_INTS = 6;
const S_STATE = 0;
const S_HASH = 1;
const S_OFF = 2;
const S_KLEN = 3;
const S_VLEN = 4;
const S_CAS = 5;
const EMPTY = 0;
const USED = 1;
const DELETED = 2;
const NO_PREFIX = new Uint8Array(0);
/** Lock word states. */
const FREE = 0;
const HELD = 1;
const CONTENDED = 2;

export type SetResult = 'ok' | 'cas_mismatch' | 'full';

export interface StoreLimits {
  /** Most keys (shared data and queue items together). */
  readonly maxEntries: number;
  /** Bytes for keys and values. */
  readonly maxBytes: number;
}

export class SharedStore {
  readonly sab: SharedArrayBuffer;
  private readonly header: Int32Array;
  private readonly slots: Uint32Array;
  private readonly arena: Buffer;
  private readonly slotCount: number;
  private readonly maxEntries: number;

  static create(limits: StoreLimits): SharedArrayBuffer {
    let slotCount = 16;
    while (slotCount < limits.maxEntries * 2) slotCount *= 2;
    const sab = new SharedArrayBuffer(HEADER_INTS * 4 + slotCount * SLOT_INTS * 4 + limits.maxBytes);
    const h = new Int32Array(sab, 0, HEADER_INTS);
    h[H_SLOTS] = slotCount;
    h[H_ARENA] = limits.maxBytes;
    h[H_MAX_ENTRIES] = limits.maxEntries;
    return sab;
  }

  constructor(sab: SharedArrayBuffer) {
    this.sab = sab;
    this.header = new Int32Array(sab, 0, HEADER_INTS);
    this.slotCount = this.header[H_SLOTS]!;
    this.maxEntries = this.header[H_MAX_ENTRIES]!;
    this.slots = new Uint32Array(sab, HEADER_INTS * 4, this.slotCount * SLOT_INTS);
    this.arena = Buffer.from(sab, HEADER_INTS * 4 + this.slotCount * SLOT_INTS * 4, this.header[H_ARENA]!);
  }

  /** The value and CAS of a key, or undefined. */
  get(key: Uint8Array, prefix: Uint8Array = NO_PREFIX): { value: Buffer; cas: number } | undefined {
    const n = this.read(prefix, key);
    return n < 0 ? undefined : { value: Buffer.from(this.scratch.subarray(0, n)), cas: this.lastCas };
  }

  /** Where read() leaves a value (this store object's own buffer, grown as needed). */
  scratch: Buffer = Buffer.allocUnsafe(256);
  /** The CAS of the value read() found. */
  lastCas = 0;

  /**
   * Copies the value of prefix+key into `scratch` and its CAS into `lastCas`: returns its length, or -1
   * when the key does not exist. Allocates nothing unless the value is larger than any before; the
   * caller uses the bytes before its next call on this object.
   */
  read(prefix: Uint8Array, key: Uint8Array): number {
    this.lock();
    try {
      const s = this.find(prefix, key, hashOf(prefix, key));
      if (s < 0) return -1;
      const base = s * SLOT_INTS;
      const off = this.slots[base + S_OFF]! + this.slots[base + S_KLEN]!;
      const len = this.slots[base + S_VLEN]!;
      if (len > this.scratch.length) this.scratch = Buffer.allocUnsafe(Math.max(len, this.scratch.length * 2));
      this.arena.copy(this.scratch, 0, off, off + len);
      this.lastCas = this.slots[base + S_CAS]!;
      return len;
    } finally {
      this.unlock();
    }
  }

  /**
   * Stores a value. cas 0 sets unconditionally; a non-zero cas must match the key's current one (a
   * missing key is created whatever the cas, as Envoy does). Every successful set gets a new CAS.
   */
  set(key: Uint8Array, value: Uint8Array, cas: number, prefix: Uint8Array = NO_PREFIX): SetResult {
    this.lock();
    try {
      return this.setLocked(key, value, cas, prefix);
    } finally {
      this.unlock();
    }
  }

  /** Runs `fn` under the store's lock (for multi-key operations such as queues). */
  withLock<T>(fn: () => T): T {
    this.lock();
    try {
      return fn();
    } finally {
      this.unlock();
    }
  }

  /** Lock-held variants, for withLock. */
  getLocked(key: Uint8Array): Buffer | undefined {
    const s = this.find(NO_PREFIX, key, hashOf(NO_PREFIX, key));
    if (s < 0) return undefined;
    const base = s * SLOT_INTS;
    const off = this.slots[base + S_OFF]! + this.slots[base + S_KLEN]!;
    return Buffer.from(this.arena.subarray(off, off + this.slots[base + S_VLEN]!));
  }

  setLocked(key: Uint8Array, value: Uint8Array, cas: number, prefix: Uint8Array = NO_PREFIX): SetResult {
    const hash = hashOf(prefix, key);
    const s = this.find(prefix, key, hash);
    const slots = this.slots;
    if (s >= 0) {
      const base = s * SLOT_INTS;
      if (cas !== 0 && slots[base + S_CAS] !== cas) return 'cas_mismatch';
      const klen = slots[base + S_KLEN]!;
      const vlen = slots[base + S_VLEN]!;
      if (value.length <= vlen) {
        // fits where the old value was
        // fits where the old value was (the rest is reclaimed at the next compaction)
        this.arena.set(value, slots[base + S_OFF]! + klen);
      } else {
        const off = this.allocate(klen + value.length);
        if (off < 0) return 'full';
        this.arena.copyWithin(off, slots[base + S_OFF]!, slots[base + S_OFF]! + klen);
        this.arena.set(value, off + klen);
        slots[base + S_OFF] = off;
      }
      slots[base + S_VLEN] = value.length;
      slots[base + S_CAS] = this.nextCas();
      return 'ok';
    }
    if (this.header[H_LIVE]! >= this.maxEntries) return 'full';
    const klen = prefix.length + key.length;
    const off = this.allocate(klen + value.length);
    if (off < 0) return 'full';
    this.arena.set(prefix, off);
    this.arena.set(key, off + prefix.length);
    this.arena.set(value, off + klen);
    const slot = this.freeSlot(hash);
    const base = slot * SLOT_INTS;
    slots[base + S_STATE] = USED;
    slots[base + S_HASH] = hash;
    slots[base + S_OFF] = off;
    slots[base + S_KLEN] = klen;
    slots[base + S_VLEN] = value.length;
    slots[base + S_CAS] = this.nextCas();
    this.header[H_LIVE]!++;
    return 'ok';
  }

  /** Removes a key (queues use it; the ABI has no delete for shared data). */
  deleteLocked(key: Uint8Array): void {
    const s = this.find(NO_PREFIX, key, hashOf(NO_PREFIX, key));
    if (s < 0) return;
    this.slots[s * SLOT_INTS + S_STATE] = DELETED;
    this.header[H_LIVE]!--;
    // deleted slots lengthen every probe for a missing key: rebuild the table when they pile up
    if (++this.header[H_DELETED]! > this.slotCount >> 2) this.rehash();
  }

  /** Re-inserts every live entry into a clean table (no deleted slots left). */
  private rehash(): void {
    const slots = this.slots;
    const live: number[][] = [];
    for (let i = 0; i < this.slotCount; i++) {
      const base = i * SLOT_INTS;
      if (slots[base + S_STATE] === USED) live.push(Array.from(slots.subarray(base, base + SLOT_INTS)));
    }
    slots.fill(0);
    for (const e of live) slots.set(e, this.freeSlot(e[S_HASH]!) * SLOT_INTS);
    this.header[H_DELETED] = 0;
  }

  /** A fresh id from the CAS counter (never 0), for queue ids. */
  nextId(): number {
    return this.nextCas();
  }

  private nextCas(): number {
    let c = (this.header[H_CAS]! + 1) >>> 0;
    if (c === 0) c = 1;
    this.header[H_CAS] = c | 0;
    return c;
  }

  private find(prefix: Uint8Array, key: Uint8Array, hash: number): number {
    const mask = this.slotCount - 1;
    const slots = this.slots;
    const klen = prefix.length + key.length;
    for (let i = hash & mask, n = 0; n < this.slotCount; i = (i + 1) & mask, n++) {
      const base = i * SLOT_INTS;
      const state = slots[base + S_STATE];
      if (state === EMPTY) return -1;
      if (state === USED && slots[base + S_HASH] === hash && slots[base + S_KLEN] === klen && this.keyAt(slots[base + S_OFF]!, prefix, key)) return i;
    }
    return -1;
  }

  /** Whether the arena holds prefix+key at `off` (keys are short: a loop beats a native compare call). */
  private keyAt(off: number, prefix: Uint8Array, key: Uint8Array): boolean {
    const arena = this.arena;
    for (let j = 0; j < prefix.length; j++) if (arena[off + j] !== prefix[j]) return false;
    off += prefix.length;
    for (let j = 0; j < key.length; j++) if (arena[off + j] !== key[j]) return false;
    return true;
  }

  private freeSlot(hash: number): number {
    const mask = this.slotCount - 1;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const state = this.slots[i * SLOT_INTS + S_STATE];
      if (state === DELETED) this.header[H_DELETED]!--;
      if (state !== USED) return i;
    }
  }

  /** Arena space for `size` bytes (compacting when needed), or -1. */
  private allocate(size: number): number {
    const arenaSize = this.arena.length;
    if (this.header[H_USED]! + size <= arenaSize) {
      const off = this.header[H_USED]!;
      this.header[H_USED] = off + size;
      return off;
    }
    this.compact();
    if (this.header[H_USED]! + size > arenaSize) return -1;
    const off = this.header[H_USED]!;
    this.header[H_USED] = off + size;
    return off;
  }

  /** Moves every live entry to the front of the arena, dropping replaced and deleted bytes. */
  private compact(): void {
    const slots = this.slots;
    const live: number[] = [];
    for (let i = 0; i < this.slotCount; i++) if (slots[i * SLOT_INTS + S_STATE] === USED) live.push(i);
    live.sort((a, b) => slots[a * SLOT_INTS + S_OFF]! - slots[b * SLOT_INTS + S_OFF]!);
    let at = 0;
    for (const i of live) {
      const base = i * SLOT_INTS;
      const off = slots[base + S_OFF]!;
      const len = slots[base + S_KLEN]! + slots[base + S_VLEN]!;
      if (off !== at) this.arena.copyWithin(at, off, off + len);
      slots[base + S_OFF] = at;
      at += len;
    }
    this.header[H_USED] = at;
  }

  private lock(): void {
    const h = this.header;
    if (Atomics.compareExchange(h, H_LOCK, FREE, HELD) === FREE) return;
    // held by another thread for a few hundred nanoseconds at most: spin a little first
    for (let spins = 0; spins < 64; spins++) {
      if (Atomics.load(h, H_LOCK) === FREE && Atomics.compareExchange(h, H_LOCK, FREE, HELD) === FREE) return;
    }
    // then sleep, saying so in the lock word so that the holder's unlock wakes a waiter
    while (Atomics.exchange(h, H_LOCK, CONTENDED) !== FREE) Atomics.wait(h, H_LOCK, CONTENDED, 1);
  }

  private unlock(): void {
    if (Atomics.exchange(this.header, H_LOCK, FREE) === CONTENDED) Atomics.notify(this.header, H_LOCK, 1);
  }
}

/** FNV-1a, 32 bits, of prefix+key. */
function hashOf(prefix: Uint8Array, key: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < prefix.length; i++) h = Math.imul(h ^ prefix[i]!, 0x01000193);
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key[i]!, 0x01000193);
  return h >>> 0;
}

// Bounds-checked access to a guest's linear memory. Every pointer and length from the guest goes
// through here: a range outside the memory (or one whose end overflows) is reported as `undefined` /
// `false` so the host call can answer InvalidMemoryAccess; nothing ever throws into V8 or reads
// outside the guest's memory. Views are re-taken whenever the memory has grown (growing detaches the
// old ArrayBuffer), which can happen during any call into the guest, the allocator included.

const RECENT_SLOTS = 256;
const RECENT_MAX_LEN = 64;
/**
 * Transfers between the guest and the host of at least this many bytes are reported to onTransfer (the
 * CPU metering charges them: a host call's flat charge covers about this much copying).
 */
export const CHARGED_TRANSFER_BYTES = 4096;

export class GuestMemory {
  private memory: WebAssembly.Memory | undefined;
  private buffer: ArrayBuffer = new ArrayBuffer(0);
  private u8: Uint8Array = new Uint8Array(0);
  private buf: Buffer = Buffer.alloc(0);
  private view: DataView = new DataView(this.buffer);
  /**
   * Told the size of each transfer of CHARGED_TRANSFER_BYTES or more (read from the guest or written into
   * it) while a host call runs; the VM sets it when the module is metered.
   */
  onTransfer: ((bytes: number) => void) | undefined = undefined;
  /** Short strings decoded lately (see latin1), by a hash of their length and a few bytes. */
  private readonly recent: string[] = new Array<string>(RECENT_SLOTS).fill('');

  /** `memory` may be attached later: the import functions get this object before the instance exists. */
  constructor(memory?: WebAssembly.Memory) {
    if (memory !== undefined) this.attach(memory);
  }

  attach(memory: WebAssembly.Memory): void {
    this.memory = memory;
    this.refresh();
  }

  private refresh(): void {
    // growing the memory detaches the old ArrayBuffer, and a detached view's length reads 0: only then
    // is the (costly) Memory.buffer getter needed
    if (this.u8.byteLength === 0 && this.memory !== undefined && this.memory.buffer !== this.buffer) {
      this.buffer = this.memory.buffer;
      this.u8 = new Uint8Array(this.buffer);
      this.buf = Buffer.from(this.buffer);
      this.view = new DataView(this.buffer);
    }
  }

  get byteLength(): number {
    this.refresh();
    return this.u8.byteLength;
  }

  /** True when [ptr, ptr+len) lies inside the memory (ptr and len are taken as u32). */
  inBounds(ptr: number, len: number): boolean {
    this.refresh();
    return (ptr >>> 0) + (len >>> 0) <= this.u8.byteLength;
  }

  /**
   * A view of [ptr, ptr+len) without copying, or undefined when out of bounds. Valid only until the
   * next call into the guest: copy what must outlive it.
   */
  view8(ptr: number, len: number): Uint8Array | undefined {
    ptr >>>= 0;
    len >>>= 0;
    this.refresh();
    if (ptr + len > this.u8.byteLength) return undefined;
    this.transferred(len);
    return this.u8.subarray(ptr, ptr + len);
  }

  /** Reports a transfer of `len` bytes (the accessors report their own; callers of bytes() call this). */
  transferred(len: number): void {
    if (len >= CHARGED_TRANSFER_BYTES) this.onTransfer?.(len);
  }

  /**
   * The whole memory as a Buffer (no copy), for writing encoded data in place; callers check bounds
   * first. Valid only until the next call into the guest.
   */
  bytes(): Buffer {
    this.refresh();
    return this.buf;
  }

  /** A copy of [ptr, ptr+len), or undefined when out of bounds. */
  copy(ptr: number, len: number): Buffer | undefined {
    const v = this.view8(ptr, len);
    return v === undefined ? undefined : Buffer.from(v);
  }

  /** [ptr, ptr+len) as a latin1 string (one char per byte, so any bytes round-trip), or undefined. */
  latin1(ptr: number, len: number): string | undefined {
    ptr >>>= 0;
    len >>>= 0;
    this.refresh();
    if (ptr + len > this.buf.length) return undefined;
    if (len === 0) return '';
    if (len > RECENT_MAX_LEN) {
      this.transferred(len);
      return this.buf.toString('latin1', ptr, ptr + len);
    }
    // filters pass the same few names and values on every request (in fresh guest buffers): comparing
    // the bytes with a string decoded before costs less than decoding them again in C++
    const u8 = this.u8;
    const slot = (len * 31 + u8[ptr]! * 7 + u8[ptr + (len >> 1)]! * 13 + u8[ptr + len - 1]!) & (RECENT_SLOTS - 1);
    const seen = this.recent[slot]!;
    if (seen.length === len) {
      let i = 0;
      while (i < len && seen.charCodeAt(i) === u8[ptr + i]) i++;
      if (i === len) return seen;
    }
    const str = this.buf.toString('latin1', ptr, ptr + len);
    this.recent[slot] = str;
    return str;
  }

  /** [ptr, ptr+len) decoded as UTF-8 (for log messages and names), or undefined. */
  utf8(ptr: number, len: number): string | undefined {
    ptr >>>= 0;
    len >>>= 0;
    this.refresh();
    if (ptr + len > this.buf.length) return undefined;
    this.transferred(len);
    return len === 0 ? '' : this.buf.toString('utf8', ptr, ptr + len);
  }

  writeU32(ptr: number, value: number): boolean {
    ptr >>>= 0;
    this.refresh();
    if (ptr + 4 > this.u8.byteLength) return false;
    this.view.setUint32(ptr, value >>> 0, true);
    return true;
  }

  writeU64(ptr: number, value: bigint): boolean {
    ptr >>>= 0;
    this.refresh();
    if (ptr + 8 > this.u8.byteLength) return false;
    this.view.setBigUint64(ptr, BigInt.asUintN(64, value), true);
    return true;
  }

  readU32(ptr: number): number | undefined {
    ptr >>>= 0;
    this.refresh();
    if (ptr + 4 > this.u8.byteLength) return undefined;
    return this.view.getUint32(ptr, true);
  }

  /** Copies bytes to ptr; false when they do not fit. */
  write(ptr: number, bytes: Uint8Array): boolean {
    ptr >>>= 0;
    this.refresh();
    if (ptr + bytes.byteLength > this.u8.byteLength) return false;
    this.transferred(bytes.byteLength);
    this.u8.set(bytes, ptr);
    return true;
  }
}

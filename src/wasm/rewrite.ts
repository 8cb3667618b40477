// Binary rewrites applied to a filter module before it is compiled. Today: the memory limit — the
// module's memory gets a maximum of `limits.memory_mb`, so a filter that keeps growing its memory sees
// memory.grow fail (its allocator then traps, which fails the VM) instead of taking the gateway's memory.

const WASM_PAGE = 64 * 1024;
const SECTION_MEMORY = 5;

export interface MemoryLimitResult {
  readonly bytes: Buffer;
  /** The module's own initial memory, in pages. */
  readonly initialPages: number;
  /** The maximum now in the module, in pages. */
  readonly maximumPages: number;
}

/**
 * Returns the module with its (first, non-imported) memory's maximum set to at most `limitBytes`.
 * Throws when the module's initial memory is already above the limit, or the binary is malformed.
 */
export function limitMemory(bytes: Buffer, limitBytes: number): MemoryLimitResult | undefined {
  const limitPages = Math.floor(limitBytes / WASM_PAGE);
  let pos = 8;
  while (pos < bytes.length) {
    const id = bytes[pos]!;
    const [size, sizeLen] = readLeb(bytes, pos + 1);
    const bodyStart = pos + 1 + sizeLen;
    const bodyEnd = bodyStart + size;
    if (bodyEnd > bytes.length) throw new Error('malformed section header');
    if (id === SECTION_MEMORY) {
      let p = bodyStart;
      const [count, countLen] = readLeb(bytes, p);
      p += countLen;
      if (count === 0) return undefined;
      const flags = bytes[p]!;
      if (flags > 1) throw new Error(`memory flags ${flags} (shared or 64-bit memories are not supported)`);
      const [min, minLen] = readLeb(bytes, p + 1);
      let entryEnd = p + 1 + minLen;
      let max: number | undefined;
      if (flags === 1) {
        const [m, maxLen] = readLeb(bytes, entryEnd);
        max = m;
        entryEnd += maxLen;
      }
      if (min > limitPages) {
        throw new Error(`its memory starts at ${(min * WASM_PAGE) / 1048576} MiB, over the filter's limits.memory_mb of ${limitBytes / 1048576}`);
      }
      const newMax = max === undefined ? limitPages : Math.min(max, limitPages);
      if (max === newMax) return { bytes, initialPages: min, maximumPages: newMax };
      const entry = Buffer.concat([Buffer.from([1]), writeLeb(min), writeLeb(newMax)]);
      const body = Buffer.concat([bytes.subarray(bodyStart, p), entry, bytes.subarray(entryEnd, bodyEnd)]);
      const out = Buffer.concat([bytes.subarray(0, pos), Buffer.from([SECTION_MEMORY]), writeLeb(body.length), body, bytes.subarray(bodyEnd)]);
      return { bytes: out, initialPages: min, maximumPages: newMax };
    }
    pos = bodyEnd;
  }
  return undefined; // no memory section (the memory is imported, or there is none)
}

function readLeb(b: Buffer, pos: number): [number, number] {
  let result = 0;
  let shift = 0;
  let i = pos;
  for (;;) {
    if (i >= b.length || i - pos > 4) throw new Error('malformed LEB128');
    const byte = b[i++]!;
    result += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) break;
    shift += 7;
  }
  return [result, i - pos];
}

function writeLeb(n: number): Buffer {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n = Math.floor(n / 128);
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return Buffer.from(out);
}

// The proxy-wasm serialized key/value pairs format (header maps, trailers, local-reply and call headers):
//   u32 N, then N × { u32 key_len, u32 value_len }, then N × { key bytes, 0, value bytes, 0 }
// all little-endian. Strings are latin1 (one char per byte) so arbitrary bytes round-trip exactly.

/** Decoding limits, as Envoy enforces them: past either, the whole map is treated as malformed. */
export const PAIRS_LIMITS = { maxPairs: 1024, maxBytes: 1024 * 1024 } as const;

/** Serializes flat [name, value, name, value, ...] lists (concatenated in order) into the pairs format. */
export function encodePairs(...lists: ReadonlyArray<readonly string[]>): Buffer {
  const out = Buffer.allocUnsafe(pairsSize(lists));
  writePairs(out, 0, lists);
  return out;
}

/** Bytes the pairs format takes for these flat lists. */
export function pairsSize(lists: ReadonlyArray<readonly string[]>): number {
  let size = 4;
  for (const list of lists) {
    for (let i = 0; i < list.length; i++) size += list[i]!.length;
    size += list.length * 5; // per pair: two u32 lengths and two NULs
  }
  return size;
}

/** Writes the pairs format of the lists at `at` in `out` (which has pairsSize(lists) bytes there). */
export function writePairs(out: Buffer, at: number, lists: ReadonlyArray<readonly string[]>): void {
  let n = 0;
  for (const list of lists) n += list.length >> 1;
  out.writeUInt32LE(n, at);
  let lens = at + 4;
  let data = at + 4 + n * 8;
  for (const list of lists) {
    for (let i = 0; i < list.length; i += 2) {
      const k = list[i]!;
      const v = list[i + 1]!;
      out.writeUInt32LE(k.length, lens);
      out.writeUInt32LE(v.length, lens + 4);
      lens += 8;
      data += out.write(k, data, 'latin1');
      out[data++] = 0;
      data += out.write(v, data, 'latin1');
      out[data++] = 0;
    }
  }
}

/**
 * Parses the pairs format into a flat [name, value, ...] list, or undefined when the bytes are malformed
 * (truncated, missing NULs, trailing bytes, over the limits). An empty input is an empty map.
 */
export function decodePairs(bytes: Uint8Array): string[] | undefined {
  if (bytes.byteLength === 0) return [];
  if (bytes.byteLength < 4 || bytes.byteLength > PAIRS_LIMITS.maxBytes) return undefined;
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = b.readUInt32LE(0);
  if (n > PAIRS_LIMITS.maxPairs || 4 + n * 8 > b.length) return undefined;
  const out: string[] = [];
  let data = 4 + n * 8;
  for (let i = 0; i < n; i++) {
    const kl = b.readUInt32LE(4 + i * 8);
    const vl = b.readUInt32LE(8 + i * 8);
    if (data + kl + vl + 2 > b.length) return undefined;
    const k = b.toString('latin1', data, data + kl);
    data += kl;
    if (b[data++] !== 0) return undefined;
    const v = b.toString('latin1', data, data + vl);
    data += vl;
    if (b[data++] !== 0) return undefined;
    out.push(k, v);
  }
  return data === b.length ? out : undefined;
}

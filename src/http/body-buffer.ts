// Body bytes held for filters: the chunk a body callback is looking at, or everything a filter has
// buffered so far (StopIterationAndBuffer). Chunks are kept as received and joined only when someone
// needs them contiguous, so buffering n chunks costs one copy, not n.

const EMPTY = Buffer.alloc(0);

export class BodyBuffer {
  private chunks: Buffer[] = [];
  length = 0;

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  /** All bytes as one Buffer (joined once; the joined Buffer replaces the chunks). */
  flat(): Buffer {
    const c = this.chunks;
    if (c.length === 0) return EMPTY;
    if (c.length > 1) this.chunks = [Buffer.concat(c, this.length)];
    return this.chunks[0]!;
  }

  /** Hands out every byte and empties the buffer. */
  take(): Buffer {
    const all = this.flat();
    this.chunks = [];
    this.length = 0;
    return all;
  }

  /** Bytes [start, start+max) clamped to the buffer (empty when start is past the end). */
  slice(start: number, max: number): Buffer {
    if (start >= this.length) return EMPTY;
    return this.flat().subarray(start, Math.min(this.length, start + max));
  }

  /** Copies bytes [start, start + dst.length) (within the buffer) into dst, chunk by chunk: no join. */
  copyTo(dst: Uint8Array, start: number): void {
    let at = 0;
    for (const c of this.chunks) {
      if (at >= dst.length) return;
      if (start >= c.length) {
        start -= c.length;
        continue;
      }
      const n = Math.min(c.length - start, dst.length - at);
      dst.set(start === 0 && n === c.length ? c : c.subarray(start, start + n), at);
      at += n;
      start = 0;
    }
  }

  /**
   * proxy_set_buffer_bytes on a live body, as Envoy does it: start 0 drains `size` bytes then prepends
   * `bytes` (so start 0 with size ≥ length replaces everything); start ≥ length appends. Any other start
   * cannot be done on a stream: false. So is a write that would grow the body past `limit`.
   */
  set(start: number, size: number, bytes: Buffer, limit = Infinity): boolean {
    const after = start === 0 ? bytes.length + Math.max(0, this.length - size) : this.length + bytes.length;
    if (after > limit && after > this.length) return false;
    if (start === 0) {
      const rest = size >= this.length ? EMPTY : this.flat().subarray(size);
      this.chunks = [];
      this.length = 0;
      this.push(Buffer.from(bytes));
      this.push(rest);
      return true;
    }
    if (start >= this.length) {
      this.push(Buffer.from(bytes));
      return true;
    }
    return false;
  }
}

// Buffered line output for the access log. Lines are joined into writes of many lines each, so that one
// write() serves many requests. To a pipe or a socket a write is at most PIPE_BUF (4096) bytes, so that
// writes from several worker threads to one stdout pipe never tear a line; to a file or a device (whose
// writes are whole) it is up to 64 KiB, as a system call costs microseconds on a virtual machine. Lines
// go as bytes into reusable chunks (see reserve): a writer that keeps up allocates nothing per line.
//
// Writes are synchronous but never block: for a pipe or a terminal the writer opens its own file
// description of the output (/proc/self/fd/N) with O_NONBLOCK, which leaves fd N itself untouched; a
// regular file is written through fd N, sharing its offset with the other writers of that fd. When
// the reader of a pipe falls behind, a write fails with EAGAIN and the chunk stays queued; past
// `maxQueuedBytes` new lines are dropped and counted, so a stalled log reader can neither stall the
// worker nor grow its memory. Where /proc is not available it falls back to asynchronous fs.write
// (through libuv's thread pool, which costs ~20-30 µs a write).
import fs from 'node:fs';

const PIPE_BUF = 4096;
/** Chunk size when the output is not a pipe or a socket. */
const BIG_CHUNK = 64 * 1024;
const { O_WRONLY, O_NONBLOCK, O_APPEND } = fs.constants;

export class LineWriter {
  private readonly fd: number;
  /** Own non-blocking description of the output, or -1 to write asynchronously to `fd`. */
  private readonly syncFd: number;
  private readonly maxQueuedBytes: number;
  /** The chunk being filled: lines are written into `buf` at `pos` (see reserve). */
  buf: Buffer;
  pos = 0;
  /** Bytes of whole lines per write: PIPE_BUF to a pipe or socket, BIG_CHUNK else. */
  private readonly chunkSize: number;
  /** Full chunks waiting to be written (each at most chunkSize bytes of whole lines, but for one long line), with their lengths and the bytes of them already written. */
  private readonly chunks: Buffer[] = [];
  private readonly lengths: number[] = [];
  private done = 0;
  /** Written chunks, kept for reuse: a writer that keeps up allocates no buffer. */
  private readonly spare: Buffer[] = [];
  /** Bytes in `chunks`, not yet written. */
  private queued = 0;
  private writing = false;
  private retry: NodeJS.Timeout | undefined;
  /** Lines dropped because the queue was full (or a write failed). */
  dropped = 0;
  /** Called before each flush, to write lines held elsewhere (the access log's batch). */
  private readonly sources: Array<() => void> = [];

  constructor(fd: number, options: { flushIntervalMs?: number; maxQueuedBytes?: number } = {}) {
    this.fd = fd;
    this.maxQueuedBytes = options.maxQueuedBytes ?? 4 * 1024 * 1024;
    let syncFd = -1;
    let chunkSize = PIPE_BUF;
    try {
      const st = fs.fstatSync(fd);
      if (!st.isFIFO() && !st.isSocket()) chunkSize = BIG_CHUNK;
      // a regular file is written through fd itself: its own description would have an offset of its own,
      // and when the shell opened the file without O_APPEND (`> file`), the other writers of fd (the
      // gateway's event log) and this one would write over each other's lines. Writes to a file never
      // wait on a reader.
      syncFd = st.isFile() ? fd : fs.openSync(`/proc/self/fd/${fd}`, O_WRONLY | O_NONBLOCK | O_APPEND);
    } catch {
      // no /proc, or a socket: asynchronous writes
    }
    this.syncFd = syncFd;
    this.chunkSize = chunkSize;
    this.buf = Buffer.allocUnsafeSlow(chunkSize);
    setInterval(() => this.flush(), options.flushIntervalMs ?? 200).unref();
  }

  /**
   * Makes room for a line of at most `max` bytes in `buf` at `pos`: the caller writes it there and moves
   * `pos` to its end. False when the queue is full: the line is dropped (and counted).
   */
  reserve(max: number): boolean {
    if (this.queued + this.pos + max > this.maxQueuedBytes) {
      this.dropped++;
      return false;
    }
    if (this.pos + max > this.chunkSize) {
      if (this.pos > 0) {
        this.seal();
        this.drain();
      }
      // a line longer than a chunk gets a chunk of its own
      if (max > this.buf.length) this.buf = Buffer.allocUnsafeSlow(max);
    }
    return true;
  }

  /** Queues one line (which must end with "\n"). */
  write(line: string): void {
    if (this.reserve(Buffer.byteLength(line))) this.pos += this.buf.write(line, this.pos, 'utf8');
  }

  /** Registers a holder of lines that must be written before each flush. */
  beforeFlush(source: () => void): void {
    this.sources.push(source);
  }

  /** Writes whatever is queued, as far as the output takes it now. */
  flush(): void {
    for (const source of this.sources) source();
    if (this.pos > 0) this.seal();
    this.drain();
  }

  /** Queues the chunk being filled, and starts another. */
  private seal(): void {
    this.chunks.push(this.buf);
    this.lengths.push(this.pos);
    this.queued += this.pos;
    this.buf = this.spare.pop() ?? Buffer.allocUnsafeSlow(this.chunkSize);
    this.pos = 0;
  }

  /** Writes everything now, waiting for the output if it must (at exit). */
  flushSync(): void {
    this.flush();
    while (this.chunks.length > 0) {
      try {
        fs.writeSync(this.fd, this.chunks[0]!, this.done, this.lengths[0]! - this.done);
      } catch {
        this.dropped++;
      }
      this.written();
    }
  }

  /** The first chunk is written (or given up): its buffer is kept for reuse. */
  private written(): void {
    const chunk = this.chunks.shift()!;
    this.queued -= this.lengths.shift()!;
    this.done = 0;
    if (chunk.length === this.chunkSize && this.spare.length < 4) this.spare.push(chunk);
  }

  private drain(): void {
    if (this.syncFd === -1) return this.drainAsync();
    while (this.chunks.length > 0) {
      const length = this.lengths[0]!;
      let n: number;
      try {
        n = fs.writeSync(this.syncFd, this.chunks[0]!, this.done, length - this.done);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') {
          // the reader is behind: try again shortly
          this.retry ??= setTimeout(() => {
            this.retry = undefined;
            this.drain();
          }, 20).unref();
        } else {
          this.written();
          this.dropped++;
        }
        return;
      }
      // short only for a chunk over PIPE_BUF to a pipe (one very long line): the rest goes next
      this.done += n;
      if (this.done >= length) this.written();
    }
  }

  private drainAsync(): void {
    if (this.writing || this.chunks.length === 0) return;
    this.writing = true;
    fs.write(this.fd, this.chunks[0]!, 0, this.lengths[0]!, null, (err) => {
      this.writing = false;
      if (err !== null) this.dropped++;
      this.written();
      this.drainAsync();
    });
  }
}

// ---- writing a JSON line into a chunk (see LineWriter.reserve): each returns the position after it ----

/** Bytes a JSON string literal of `s` can take at most (every unit escaped as \u00XX, and the quotes). */
export const jsonStringMax = (s: string): number => 6 * s.length + 2;

/** Characters that are ASCII and need no escaping in a JSON string. */
const plain = (c: number): boolean => c >= 0x20 && c < 0x7f && c !== 0x22 && c !== 0x5c;

/** `s`, known to be printable ASCII (names the schema validated, HTTP methods, constants), as is. */
export function putAscii(b: Buffer, p: number, s: string): number {
  for (let i = 0; i < s.length; i++) b[p++] = s.charCodeAt(i);
  return p;
}

/** `s` as a JSON string literal: copied as is when it is plain ASCII (the common case), else escaped. */
export function putJsonString(b: Buffer, p: number, s: string): number {
  const start = p;
  b[p++] = 0x22;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!plain(c)) return start + b.write(JSON.stringify(s), start, 'utf8');
    b[p++] = c;
  }
  b[p++] = 0x22;
  return p;
}

/** A non-negative integer in decimal (bytes counts, statuses). */
export function putUint(b: Buffer, p: number, n: number): number {
  if (!(n >= 0 && n <= Number.MAX_SAFE_INTEGER)) return putAscii(b, p, String(Math.trunc(n) || 0));
  n = Math.floor(n);
  let digits = 1;
  for (let x = n; x >= 10; x = Math.floor(x / 10)) digits++;
  let q = p + digits;
  do {
    const d = n % 10;
    b[--q] = 48 + d;
    n = (n - d) / 10;
  } while (n > 0);
  return p + digits;
}

/** Milliseconds with three decimals ("12.034"), from integers: formatting a fraction is slow. */
export function putMillis(b: Buffer, p: number, ms: number): number {
  const us = Math.round(ms * 1000);
  if (!(us >= 0 && us < 1e15)) return putAscii(b, p, '0');
  const whole = Math.floor(us / 1000);
  const frac = us - whole * 1000;
  p = putUint(b, p, whole);
  b[p++] = 0x2e;
  b[p++] = 48 + Math.floor(frac / 100);
  b[p++] = 48 + (Math.floor(frac / 10) % 10);
  b[p++] = 48 + (frac % 10);
  return p;
}

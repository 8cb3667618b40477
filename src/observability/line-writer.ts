// Buffered line output for the access log. Lines are joined into writes of at most PIPE_BUF (4096)
// bytes, so that writes from several worker threads to one stdout pipe never tear a line, and so that
// one write() serves many requests.
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
const { O_WRONLY, O_NONBLOCK, O_APPEND } = fs.constants;

export class LineWriter {
  private readonly fd: number;
  /** Own non-blocking description of the output, or -1 to write asynchronously to `fd`. */
  private readonly syncFd: number;
  private readonly maxQueuedBytes: number;
  /** Chunks waiting to be written, each at most PIPE_BUF bytes of whole lines. */
  private readonly chunks: string[] = [];
  private current = '';
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
    try {
      // a regular file is written through fd itself: its own description would have an offset of its own,
      // and when the shell opened the file without O_APPEND (`> file`), the other writers of fd (the
      // gateway's event log) and this one would write over each other's lines. Writes to a file never
      // wait on a reader.
      syncFd = fs.fstatSync(fd).isFile() ? fd : fs.openSync(`/proc/self/fd/${fd}`, O_WRONLY | O_NONBLOCK | O_APPEND);
    } catch {
      // no /proc, or a socket: asynchronous writes
    }
    this.syncFd = syncFd;
    setInterval(() => this.flush(), options.flushIntervalMs ?? 200).unref();
  }

  /** Queues one line (which must end with "\n"). */
  write(line: string): void {
    if (this.queued + line.length > this.maxQueuedBytes) {
      this.dropped++;
      return;
    }
    if (this.current.length + line.length > PIPE_BUF && this.current !== '') {
      this.chunks.push(this.current);
      this.current = '';
      this.drain();
    }
    this.current += line;
    this.queued += line.length;
  }

  /** Registers a holder of lines that must be written before each flush. */
  beforeFlush(source: () => void): void {
    this.sources.push(source);
  }

  /** Writes whatever is queued, as far as the output takes it now. */
  flush(): void {
    for (const source of this.sources) source();
    if (this.current !== '') {
      this.chunks.push(this.current);
      this.current = '';
    }
    this.drain();
  }

  /** Writes everything now, waiting for the output if it must (at exit). */
  flushSync(): void {
    this.flush();
    for (const c of this.chunks.splice(0)) {
      try {
        fs.writeSync(this.fd, c);
      } catch {
        this.dropped++;
      }
    }
    this.queued = 0;
  }

  private drain(): void {
    if (this.syncFd === -1) return this.drainAsync();
    while (this.chunks.length > 0) {
      const chunk = this.chunks[0]!;
      let written: number;
      try {
        written = fs.writeSync(this.syncFd, chunk);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') {
          // the reader is behind: try again shortly
          this.retry ??= setTimeout(() => {
            this.retry = undefined;
            this.drain();
          }, 20).unref();
        } else {
          this.chunks.shift();
          this.queued -= chunk.length;
          this.dropped++;
        }
        return;
      }
      if (written < Buffer.byteLength(chunk)) {
        // only possible for a chunk over PIPE_BUF (one very long line): keep the rest
        this.chunks[0] = Buffer.from(chunk).subarray(written).toString();
        continue;
      }
      this.chunks.shift();
      this.queued -= chunk.length;
    }
  }

  private drainAsync(): void {
    if (this.writing) return;
    const chunk = this.chunks.shift();
    if (chunk === undefined) return;
    this.writing = true;
    fs.write(this.fd, chunk, (err) => {
      this.writing = false;
      this.queued -= chunk.length;
      if (err !== null) this.dropped++;
      this.drainAsync();
    });
  }
}

let lastMs = 0;
let lastIso = '';

/** A time (ms since the epoch) as an ISO string, formatted once per millisecond seen in a row. */
export function isoTime(ms: number): string {
  if (ms !== lastMs) {
    lastMs = ms;
    lastIso = new Date(ms).toISOString();
  }
  return lastIso;
}

const NEEDS_ESCAPE = /["\\\u0000-\u001f\u007f-\uffff]/;

/** A JSON string literal, quick for the common case of plain ASCII. */
export function jsonString(s: string): string {
  return NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : `"${s}"`;
}

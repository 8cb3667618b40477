// One JSON line per request, in the same shape as the gateway's pino lines (level, time, pid, worker,
// msg), built by hand and written through a LineWriter: pino's generic serializer and a write() per line
// cost more than the rest of a proxied request's bookkeeping.
//
// A request only records its fields (into arrays kept for the purpose, no object per request); the
// lines are formatted BATCH at a time, or when the writer flushes (every 200 ms, and at exit). Formatting
// many lines in a row runs hot code on warm caches, where formatting one line between two requests ran
// cold: measured on the proxy's no-filter path, the log costs about half what it did per line. Lines are
// written as bytes straight into the writer's chunk: building them as strings made the log the largest
// allocation of a request (~1.4 KB of string pieces per line), which the young-generation GC pays for.
import type { LineWriter } from './line-writer.ts';
import { jsonStringMax, putAscii, putJsonString, putMillis, putUint } from './line-writer.ts';

export interface AccessLogEntrySource {
  readonly requestId: string;
  readonly req: { readonly method?: string | undefined; readonly url?: string | undefined };
  readonly route: { readonly name: string } | undefined;
  readonly upstream: { readonly name: string } | undefined;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly failure: string;
}

/** Requests recorded before their lines are formatted. */
const BATCH = 64;

export class AccessLog {
  private readonly out: LineWriter;
  private readonly prefix: string;
  // the pending records, field by field
  private n = 0;
  private readonly time = new Float64Array(BATCH);
  private readonly status = new Int32Array(BATCH);
  private readonly bytesIn = new Float64Array(BATCH);
  private readonly bytesOut = new Float64Array(BATCH);
  private readonly duration = new Float64Array(BATCH);
  private readonly requestId: string[] = new Array<string>(BATCH).fill('');
  private readonly method: string[] = new Array<string>(BATCH).fill('');
  private readonly path: string[] = new Array<string>(BATCH).fill('');
  private readonly route: string[] = new Array<string>(BATCH).fill('');
  private readonly upstream: string[] = new Array<string>(BATCH).fill('');
  private readonly failure: string[] = new Array<string>(BATCH).fill('');

  constructor(out: LineWriter, workerId: number) {
    this.out = out;
    this.prefix = `,"pid":${process.pid},"worker":${workerId},"access":true,"reqId":`;
    this.afterMs = Buffer.from(`Z"${this.prefix}`, 'latin1');
    out.beforeFlush(() => this.format());
  }

  write(s: AccessLogEntrySource, status: number, durationMs: number): void {
    const i = this.n;
    this.time[i] = Date.now();
    this.status[i] = status;
    this.bytesIn[i] = s.bytesIn;
    this.bytesOut[i] = s.bytesOut;
    this.duration[i] = durationMs;
    this.requestId[i] = s.requestId;
    this.method[i] = s.req.method ?? '';
    this.path[i] = s.req.url ?? '';
    this.route[i] = s.route === undefined ? '' : s.route.name;
    this.upstream[i] = s.upstream === undefined ? '' : s.upstream.name;
    this.failure[i] = s.failure;
    if ((this.n = i + 1) === BATCH) this.format();
  }

  /** Formats the pending records into the writer, oldest first. */
  private format(): void {
    const out = this.out;
    const n = this.n;
    this.n = 0;
    for (let i = 0; i < n; i++) {
      const requestId = this.requestId[i]!;
      const path = this.path[i]!;
      const route = this.route[i]!;
      const upstream = this.upstream[i]!;
      const failure = this.failure[i]!;
      const method = this.method[i]!;
      // drop the references: a quiet gateway keeps no request's strings alive
      this.requestId[i] = this.path[i] = '';
      // the method is an HTTP token (Node's parser accepts nothing else), route and upstream names match
      // the schema's name pattern, failures are the gateway's own words: only the request id and the path
      // can need escaping
      const max = FIXED_MAX + this.prefix.length + jsonStringMax(requestId) + jsonStringMax(path) + method.length + route.length + upstream.length + failure.length;
      if (!out.reserve(max)) continue;
      const b = out.buf;
      // constant pieces are copied from bytes made once (a memcpy), not stored byte by byte
      let p = this.putTime(b, out.pos, this.time[i]!);
      p = putJsonString(b, p, requestId);
      b.set(METHOD, p);
      p = putAscii(b, p + METHOD.length, method);
      b.set(PATH, p);
      p = putJsonString(b, p + PATH.length, path);
      b.set(STATUS, p);
      p = putUint(b, p + STATUS.length, this.status[i]!);
      b.set(BYTES_IN, p);
      p = putUint(b, p + BYTES_IN.length, this.bytesIn[i]!);
      b.set(BYTES_OUT, p);
      p = putUint(b, p + BYTES_OUT.length, this.bytesOut[i]!);
      b.set(DURATION, p);
      p = putMillis(b, p + DURATION.length, this.duration[i]!);
      if (failure === '') {
        const tail = this.tail(route, upstream);
        b.set(tail, p);
        out.pos = p + tail.length;
        continue;
      }
      if (route !== '') p = putAscii(b, putAscii(b, putAscii(b, p, ',"route":"'), route), '"');
      if (upstream !== '') p = putAscii(b, putAscii(b, putAscii(b, p, ',"upstream":"'), upstream), '"');
      p = putAscii(b, putAscii(b, putAscii(b, p, ',"failure":"'), failure), '"');
      out.pos = putAscii(b, p, ',"msg":"access"}\n');
    }
  }

  // the start of a line up to the request id: `{"level":"info","time":"<ISO second>.` changes once a
  // second, the milliseconds are three digits, the rest (`Z"` and the prefix) never changes
  private second = -1;
  private head = Buffer.alloc(0);
  private readonly afterMs: Buffer;

  private putTime(b: Buffer, p: number, ms: number): number {
    const second = Math.floor(ms / 1000);
    if (second !== this.second) {
      this.second = second;
      const iso = new Date(second * 1000).toISOString(); // YYYY-MM-DDTHH:MM:SS.000Z
      this.head = Buffer.from(`{"level":"info","time":"${iso.slice(0, -4)}`, 'latin1');
    }
    b.set(this.head, p);
    p += this.head.length;
    const frac = ms - second * 1000;
    b[p++] = 48 + Math.floor(frac / 100);
    b[p++] = 48 + (Math.floor(frac / 10) % 10);
    b[p++] = 48 + (frac % 10);
    b.set(this.afterMs, p);
    return p + this.afterMs.length;
  }

  /** The end of a line without a failure, for a route and an upstream (`""`: none), made once. */
  private readonly tails = new Map<string, Map<string, Buffer>>();

  private tail(route: string, upstream: string): Buffer {
    let byUpstream = this.tails.get(route);
    if (byUpstream === undefined) {
      if (this.tails.size >= 1024) this.tails.clear(); // names of routes that reloads removed do not pile up
      this.tails.set(route, (byUpstream = new Map()));
    }
    let tail = byUpstream.get(upstream);
    if (tail === undefined) {
      const r = route === '' ? '' : `,"route":"${route}"`;
      const u = upstream === '' ? '' : `,"upstream":"${upstream}"`;
      byUpstream.set(upstream, (tail = Buffer.from(`${r}${u},"msg":"access"}\n`, 'latin1')));
    }
    return tail;
  }
}

const METHOD = Buffer.from(',"method":"', 'latin1');
const PATH = Buffer.from('","path":', 'latin1');
const STATUS = Buffer.from(',"status":', 'latin1');
const BYTES_IN = Buffer.from(',"bytesIn":', 'latin1');
const BYTES_OUT = Buffer.from(',"bytesOut":', 'latin1');
const DURATION = Buffer.from(',"durationMs":', 'latin1');

/** The bytes of a line besides the prefix and the variable strings: constants, time, numbers. */
const FIXED_MAX = 320;

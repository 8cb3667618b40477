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
import { isoTime, jsonStringMax, putAscii, putJsonString, putMillis, putUint } from './line-writer.ts';

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
      // drop the references: a quiet gateway keeps no request's strings alive
      this.requestId[i] = this.path[i] = '';
      // the method is an HTTP token (Node's parser accepts nothing else), route and upstream names match
      // the schema's name pattern, failures are the gateway's own words: only the request id and the path
      // can need escaping
      const max = FIXED_MAX + this.prefix.length + jsonStringMax(requestId) + jsonStringMax(path) + this.method[i]!.length + route.length + upstream.length + failure.length;
      if (!out.reserve(max)) continue;
      const b = out.buf;
      let p = putAscii(b, out.pos, '{"level":"info","time":"');
      p = putAscii(b, p, isoTime(this.time[i]!));
      b[p++] = 0x22;
      p = putAscii(b, p, this.prefix);
      p = putJsonString(b, p, requestId);
      p = putAscii(b, p, ',"method":"');
      p = putAscii(b, p, this.method[i]!);
      p = putAscii(b, p, '","path":');
      p = putJsonString(b, p, path);
      p = putUint(b, putAscii(b, p, ',"status":'), this.status[i]!);
      p = putUint(b, putAscii(b, p, ',"bytesIn":'), this.bytesIn[i]!);
      p = putUint(b, putAscii(b, p, ',"bytesOut":'), this.bytesOut[i]!);
      p = putMillis(b, putAscii(b, p, ',"durationMs":'), this.duration[i]!);
      if (route !== '') p = putAscii(b, putAscii(b, putAscii(b, p, ',"route":"'), route), '"');
      if (upstream !== '') p = putAscii(b, putAscii(b, putAscii(b, p, ',"upstream":"'), upstream), '"');
      if (failure !== '') p = putAscii(b, putAscii(b, putAscii(b, p, ',"failure":"'), failure), '"');
      out.pos = putAscii(b, p, ',"msg":"access"}\n');
    }
  }
}

/** The bytes of a line besides the prefix and the variable strings: constants, time, numbers. */
const FIXED_MAX = 320;

// One JSON line per request, in the same shape as the gateway's pino lines (level, time, pid, worker,
// msg), built by hand and written through a LineWriter: pino's generic serializer and a write() per line
// cost more than the rest of a proxied request's bookkeeping.
//
// A request only records its fields (into arrays kept for the purpose, no object per request); the
// lines are formatted BATCH at a time, or when the writer flushes (every 200 ms, and at exit). Formatting
// many lines in a row runs hot code on warm caches, where formatting one line between two requests ran
// cold: measured on the proxy's no-filter path, the log costs about half what it did per line.
import type { LineWriter } from './line-writer.ts';
import { isoTime, jsonString } from './line-writer.ts';

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
    const n = this.n;
    this.n = 0;
    for (let i = 0; i < n; i++) {
      // the method is an HTTP token (Node's parser accepts nothing else), route and upstream names match
      // the schema's name pattern: only the request id and the path can need escaping
      let line = `{"level":"info","time":"${isoTime(this.time[i]!)}"${this.prefix}${jsonString(this.requestId[i]!)},"method":"${this.method[i]}","path":${jsonString(this.path[i]!)},"status":${this.status[i]},"bytesIn":${this.bytesIn[i]},"bytesOut":${this.bytesOut[i]},"durationMs":${millis(this.duration[i]!)}`;
      if (this.route[i] !== '') line += `,"route":"${this.route[i]}"`;
      if (this.upstream[i] !== '') line += `,"upstream":"${this.upstream[i]}"`;
      if (this.failure[i] !== '') line += `,"failure":"${this.failure[i]}"`;
      this.out.write(`${line},"msg":"access"}\n`);
      // drop the references: a quiet gateway keeps no request's strings alive
      this.requestId[i] = this.path[i] = '';
    }
  }
}

/** Milliseconds with three decimals ("12.034"), from integers: formatting a fraction is slow. */
function millis(ms: number): string {
  const us = Math.round(ms * 1000);
  if (!(us >= 0 && us < 1e15)) return '0';
  const whole = Math.floor(us / 1000);
  const frac = us - whole * 1000;
  return `${whole}.${frac < 10 ? '00' : frac < 100 ? '0' : ''}${frac}`;
}

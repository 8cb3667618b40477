// One JSON line per request, in the same shape as the gateway's pino lines (level, time, pid, worker,
// msg), built by hand and written through a LineWriter: pino's generic serializer and a write() per line
// cost more than the rest of a proxied request's bookkeeping.
import type { LineWriter } from './line-writer.ts';
import { isoNow, jsonString } from './line-writer.ts';

export interface AccessLogEntrySource {
  readonly requestId: string;
  readonly req: { readonly method?: string | undefined; readonly url?: string | undefined };
  readonly route: { readonly name: string } | undefined;
  readonly upstream: { readonly name: string } | undefined;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly failure: string;
}

export class AccessLog {
  private readonly out: LineWriter;
  private readonly prefix: string;

  constructor(out: LineWriter, workerId: number) {
    this.out = out;
    this.prefix = `,"pid":${process.pid},"worker":${workerId},"access":true,"reqId":`;
  }

  write(s: AccessLogEntrySource, status: number, durationMs: number): void {
    let line = `{"level":"info","time":"${isoNow()}"${this.prefix}${jsonString(s.requestId)},"method":${jsonString(s.req.method ?? '')},"path":${jsonString(s.req.url ?? '')},"status":${status},"bytesIn":${s.bytesIn},"bytesOut":${s.bytesOut},"durationMs":${Math.round(durationMs * 1000) / 1000}`;
    if (s.route !== undefined) line += `,"route":${jsonString(s.route.name)}`;
    if (s.upstream !== undefined) line += `,"upstream":${jsonString(s.upstream.name)}`;
    if (s.failure !== '') line += `,"failure":"${s.failure}"`;
    this.out.write(`${line},"msg":"access"}\n`);
  }
}

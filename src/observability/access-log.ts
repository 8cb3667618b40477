// One JSON line per request, written through the worker's pino logger.
import type { Logger } from './logger.ts';

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
  private readonly log: Logger;

  /** `log` already carries the worker's id. */
  constructor(log: Logger) {
    this.log = log.child({ access: true });
  }

  write(s: AccessLogEntrySource, status: number, durationMs: number): void {
    this.log.info(
      {
        reqId: s.requestId,
        method: s.req.method,
        path: s.req.url,
        status,
        bytesIn: s.bytesIn,
        bytesOut: s.bytesOut,
        durationMs: Math.round(durationMs * 1000) / 1000,
        route: s.route?.name,
        upstream: s.upstream?.name,
        failure: s.failure === '' ? undefined : s.failure,
      },
      'access',
    );
  }
}

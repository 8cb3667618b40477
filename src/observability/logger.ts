// The one root pino logger per thread. Everything else gets a child of it, passed down as a parameter.
// (The per-request access log has its own writer: access-log.ts.)
import pino, { type Logger, type DestinationStream } from 'pino';

export type { Logger };

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["proxy-authorization"]',
  'res.headers["set-cookie"]',
];

export interface LoggerOptions {
  /** Where lines go; default: stdout (fd 1), one asynchronous write per line (atomic on a pipe). */
  readonly destination?: DestinationStream;
  readonly bindings?: Record<string, unknown>;
}

export function createRootLogger(level: string, options: LoggerOptions = {}): Logger {
  const opts = {
    level,
    base: { pid: process.pid, ...options.bindings },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: REDACT_PATHS,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  return pino(opts, options.destination ?? pino.destination({ dest: 1, sync: false }));
}

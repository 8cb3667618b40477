// The one root pino logger. Everything else gets a child of it, passed down as a parameter.
import pino, { type Logger, type DestinationStream } from 'pino';

export type { Logger };

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["proxy-authorization"]',
  'res.headers["set-cookie"]',
];

export function createRootLogger(level: string, destination?: DestinationStream, bindings?: Record<string, unknown>): Logger {
  const opts = {
    level,
    base: { pid: process.pid, ...bindings },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: REDACT_PATHS,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  return destination === undefined
    ? pino(opts, pino.destination({ dest: 1, sync: false }))
    : pino(opts, destination);
}

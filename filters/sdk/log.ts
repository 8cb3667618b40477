// Logging through proxy_log (the host prefixes and routes the lines), and the abort handler the build
// installs with `--use abort=filters/sdk/log/abort`: an AssemblyScript runtime error (index out of range,
// out of memory, a failed assert in debug builds) is logged at critical, then the module traps.
import { LogLevel } from "./constants";
import { proxy_get_log_level, proxy_log } from "./imports";
import { RET_DATA, ptrOf, utf8 } from "./memory";

export function logAt(level: LogLevel, message: string): void {
  const bytes = utf8(message);
  proxy_log(level, ptrOf(bytes), bytes.byteLength);
}

/** The host's current log level: skip building costly messages below it. */
export function getLogLevel(): LogLevel {
  store<u32>(RET_DATA, LogLevel.Trace);
  proxy_get_log_level(RET_DATA);
  return <LogLevel>load<u32>(RET_DATA);
}

/** `log.info("...")` and friends. */
export class Logger {
  trace(message: string): void { logAt(LogLevel.Trace, message); }
  debug(message: string): void { logAt(LogLevel.Debug, message); }
  info(message: string): void { logAt(LogLevel.Info, message); }
  warn(message: string): void { logAt(LogLevel.Warn, message); }
  error(message: string): void { logAt(LogLevel.Error, message); }
  critical(message: string): void { logAt(LogLevel.Critical, message); }
  /** True when a message at `level` would be written. */
  enabled(level: LogLevel): bool { return level >= getLogLevel(); }
}

export const log = new Logger();

let aborting = false;

/** Replaces AssemblyScript's `abort` (see the header). Never returns. */
export function abort(message: string | null, fileName: string | null, line: u32, column: u32): void {
  // a second abort while logging the first (e.g. out of memory again) traps at once
  if (!aborting) {
    aborting = true;
    const text = "abort: " + (message !== null ? message : "(no message)") + " at " +
      (fileName !== null ? fileName : "?") + ":" + line.toString() + ":" + column.toString();
    logAt(LogLevel.Critical, text);
  }
  unreachable();
}

// ConfigError: every problem found in a config file, each with its position and JSON path.
import path from 'node:path';
import { ErrorCodes, GatewayError } from '../errors.ts';

export interface ConfigProblem {
  /** Absolute path of the config file ("" when the config was built in memory). */
  readonly file: string;
  /** 1-based; absent when the position is unknown (e.g. resolveConfigObject). */
  readonly line?: number;
  readonly column?: number;
  /** JSON pointer into the config, e.g. /routes/1/match/prefix ("" = the whole document). */
  readonly path: string;
  readonly message: string;
}

export class ConfigError extends GatewayError {
  override readonly code: typeof ErrorCodes.GW_ERR_CONFIG_INVALID = ErrorCodes.GW_ERR_CONFIG_INVALID;
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[], options?: { cause?: unknown }) {
    super(ErrorCodes.GW_ERR_CONFIG_INVALID, problems.map(formatConfigProblem).join('\n'), options);
    this.name = 'ConfigError';
    this.problems = Object.freeze(problems.map((p) => Object.freeze({ ...p })));
  }
}

/** `FILE:LINE:COLUMN: /json/path: message` (FILE relative to the cwd when it is inside it). */
export function formatConfigProblem(p: ConfigProblem): string {
  let where = displayFile(p.file);
  if (p.line !== undefined) where += `:${p.line}` + (p.column !== undefined ? `:${p.column}` : '');
  return `${where}: ${p.path === '' ? '/' : p.path}: ${p.message}`;
}

function displayFile(file: string): string {
  if (file === '') return '<config>';
  const rel = path.relative(process.cwd(), file);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}

/** Orders problems by position (problems without one keep their relative order, after positioned ones). */
export function sortProblems(problems: ConfigProblem[]): ConfigProblem[] {
  const key = (p: ConfigProblem): number => (p.line === undefined ? Infinity : p.line * 1e6 + (p.column ?? 0));
  return problems
    .map((p, i) => ({ p, i }))
    .sort((a, b) => key(a.p) - key(b.p) || a.i - b.i)
    .map((x) => x.p);
}

/** JSON pointer from path segments (RFC 6901 escaping). */
export function toPointer(segments: readonly (string | number)[]): string {
  return segments.map((s) => '/' + String(s).replaceAll('~', '~0').replaceAll('/', '~1')).join('');
}

/** Path segments from a JSON pointer. */
export function fromPointer(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer.slice(1).split('/').map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'));
}

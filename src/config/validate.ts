// Schema validation with ajv, and translation of ajv's errors into one readable message per location.
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { fromPointer } from './config-error.ts';
import { allowedHint, closest } from './suggest.ts';

export const SCHEMA_URL = new URL('../../schemas/gateway.schema.json', import.meta.url);

/** One schema problem: where (path segments; with `key`, the problem is that key of the map at `segments`) and what. */
export interface SchemaIssue {
  readonly segments: readonly string[];
  readonly key?: string;
  readonly message: string;
}

/** Ajv set up the way the gateway schema is checked (exported for tests of other schemas). */
export function createAjv(): Ajv2020 {
  return new Ajv2020({ allErrors: true, useDefaults: true, strict: true, verbose: true });
}

let gatewayValidator: ValidateFunction | undefined;

/** Validates `data` against schemas/gateway.schema.json, filling defaults in place. */
export function validateGatewaySchema(data: unknown): SchemaIssue[] {
  gatewayValidator ??= createAjv().compile(JSON.parse(readFileSync(SCHEMA_URL, 'utf8')) as object);
  return runValidator(gatewayValidator, data);
}

export function runValidator(validate: ValidateFunction, data: unknown): SchemaIssue[] {
  if (validate(data)) return [];
  return explainErrors(validate.errors ?? [], data);
}

/** Turns ajv's errors into issues, collapsing oneOf/anyOf cascades and dropping duplicates. */
export function explainErrors(errors: readonly ErrorObject[], data: unknown): SchemaIssue[] {
  // Each outermost oneOf/anyOf error owns the errors of its branches at or below its location.
  const owner = new Map<ErrorObject, ErrorObject>();
  const combinators = errors
    .filter((e) => e.keyword === 'oneOf' || e.keyword === 'anyOf')
    .sort((a, b) => a.schemaPath.length - b.schemaPath.length);
  for (const c of combinators) {
    if (owner.has(c)) continue;
    owner.set(c, c);
    for (const e of errors) {
      const below = e.instancePath === c.instancePath || e.instancePath.startsWith(c.instancePath + '/');
      if (!owner.has(e) && below && e.schemaPath.startsWith(c.schemaPath + '/')) owner.set(e, c);
    }
  }
  const out: SchemaIssue[] = [];
  const done = new Set<ErrorObject>();
  for (const e of errors) {
    const c = owner.get(e);
    if (c === undefined) {
      out.push(...explainOne(e, data));
    } else if (!done.has(c)) {
      done.add(c);
      const inner = errors.filter((x) => x !== c && owner.get(x) === c);
      out.push(...explainCombinator(c, inner, data));
    }
  }
  const seen = new Set<string>();
  return out.filter((i) => {
    const key = `${i.segments.join('/')}\0${i.key ?? ''}\0${i.message}`;
    return seen.has(key) ? false : (seen.add(key), true);
  });
}

function explainCombinator(c: ErrorObject, inner: readonly ErrorObject[], data: unknown): SchemaIssue[] {
  const segments = fromPointer(c.instancePath);
  const value = valueAt(data, segments);
  const issue = (message: string): SchemaIssue[] => [{ segments, message }];
  const branches = new Map<string, ErrorObject[]>();
  for (const e of inner) {
    const branch = e.schemaPath.slice(c.schemaPath.length + 1).split('/')[0]!;
    branches.set(branch, [...(branches.get(branch) ?? []), e]);
  }
  if (inner.length === 0) {
    const passing = (c.params as { passingSchemas?: number[] | null }).passingSchemas;
    const keys = requiredOf(c.schema, passing ?? undefined);
    return issue(keys.length > 0 ? `must have only one of: ${keys.join(', ')}` : 'matches more than one allowed form');
  }
  const here = (e: ErrorObject): boolean => e.instancePath === c.instancePath;
  if (inner.every((e) => e.keyword === 'type' && here(e))) {
    const types = [...new Set(inner.map((e) => String((e.params as { type: string }).type)))];
    return issue(`must be ${types.join(' or ')} (got ${describe(value)})`);
  }
  if (inner.every((e) => e.keyword === 'required' && here(e))) {
    const keys = [...new Set(inner.map((e) => String((e.params as { missingProperty: string }).missingProperty)))];
    return issue(`must have one of: ${keys.join(', ')}`);
  }
  // Branches whose type fits the value: if exactly one, its errors are the useful ones.
  const viable = [...branches.values()].filter((errs) => !errs.some((e) => e.keyword === 'type' && here(e)));
  if (viable.length === 1) return explainErrors(viable[0]!, data);
  return issue(`does not match any allowed form (got ${describe(value)})`);
}

function explainOne(e: ErrorObject, data: unknown): SchemaIssue[] {
  const segments = fromPointer(e.instancePath);
  const value = valueAt(data, segments);
  const params = e.params as Record<string, unknown>;
  const issue = (message: string, segs: readonly string[] = segments): SchemaIssue[] => [{ segments: segs, message }];
  if (e.propertyName !== undefined) {
    // An error about a map key (propertyNames): point at the key itself.
    return [{ segments, key: e.propertyName, message: `invalid name "${e.propertyName}": ${messageFor(e, NO_VALUE)}` }];
  }
  switch (e.keyword) {
    case 'propertyNames':
      return []; // the wrapper of the errors above
    case 'additionalProperties': {
      const key = String(params['additionalProperty']);
      const allowed = Object.keys((e.parentSchema as { properties?: object } | undefined)?.properties ?? {});
      return [{ segments, key, message: `unknown key "${key}"${allowedHint(key, allowed)}` }];
    }
    case 'required':
      return issue(`missing required key "${String(params['missingProperty'])}"`);
    case 'uniqueItems': {
      const later = Math.max(Number(params['i']), Number(params['j']));
      const earlier = Math.min(Number(params['i']), Number(params['j']));
      return issue(`duplicate item (same as item ${earlier})`, [...segments, String(later)]);
    }
    default:
      return issue(messageFor(e, value));
  }
}

const PATTERN_TEXT: Record<string, string> = {
  '^/': 'must start with "/"',
  '^[A-Za-z0-9][A-Za-z0-9_.:-]*$': 'must start with a letter or digit and contain only letters, digits, "_", ".", ":" and "-"',
  "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$": 'must be an HTTP token (letters, digits and !#$%&\'*+.^_`|~-)',
  '^[^\\r\\n\\u0000]*$': 'must not contain CR, LF or NUL',
  '^[^\\s/]+$': 'must be a host name (with an optional port), without spaces or "/"',
};

/** Stands for "do not echo the value" (it is already in the message). */
const NO_VALUE = Symbol('no value');

function messageFor(e: ErrorObject, value: unknown): string {
  const params = e.params as Record<string, unknown>;
  const got = value === NO_VALUE ? '' : ` (got ${describe(value)})`;
  switch (e.keyword) {
    case 'type':
      return `must be ${String(params['type'])}${got}`;
    case 'enum': {
      const allowed = (params['allowedValues'] as unknown[]).map(String);
      const guess = typeof value === 'string' ? closest(value, allowed) : undefined;
      return `must be one of: ${allowed.join(', ')}${got}` + (guess !== undefined ? `; did you mean "${guess}"?` : '');
    }
    case 'const':
      return `must be ${JSON.stringify(params['allowedValue'])}${got}`;
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return `${e.message ?? 'out of range'}${got}`;
    case 'minLength':
      return params['limit'] === 1 ? 'must not be empty' : `${e.message ?? 'too short'}`;
    case 'minItems':
      return params['limit'] === 1 ? 'must not be empty' : `${e.message ?? 'too few items'}`;
    case 'pattern': {
      const pattern = String(params['pattern']);
      return `${PATTERN_TEXT[pattern] ?? `must match the pattern ${pattern}`}${got}`;
    }
    default:
      return e.message ?? `fails the "${e.keyword}" check`;
  }
}

function requiredOf(oneOf: unknown, indexes: number[] | undefined): string[] {
  if (!Array.isArray(oneOf)) return [];
  const picked = indexes ? indexes.map((i) => oneOf[i] as unknown) : oneOf;
  return picked.flatMap((s) => ((s as { required?: unknown }).required as string[] | undefined) ?? []);
}

/** `string "abc"`, `integer 5`, `null`, `object`… — a short description of a value for messages. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'string') return `string ${JSON.stringify(value.length > 60 ? value.slice(0, 57) + '...' : value)}`;
  if (typeof value === 'number') return `${Number.isInteger(value) ? 'integer' : 'number'} ${value}`;
  if (typeof value === 'boolean') return `boolean ${value}`;
  return typeof value;
}

export function valueAt(data: unknown, segments: readonly string[]): unknown {
  let v = data;
  for (const s of segments) {
    if (v === null || typeof v !== 'object' || !Object.hasOwn(v, s)) return undefined;
    v = (v as Record<string, unknown>)[s];
  }
  return v;
}

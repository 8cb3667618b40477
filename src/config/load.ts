// gateway.yaml → ResolvedConfig: YAML (keeping positions) → ajv (schema + defaults) → semantic checks → normalize.
// Every problem found is reported at once in a ConfigError, each as FILE:LINE:COLUMN: /json/path: message.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { LineCounter, parseDocument, visit, type Document, type YAMLError } from 'yaml';
import { ErrorCodes, GatewayError } from '../errors.ts';
import { ConfigError, sortProblems, toPointer, type ConfigProblem } from './config-error.ts';
import { normalizeConfig } from './normalize.ts';
import type { GatewayOptions } from './options.ts';
import { createLocator, locateNothing, pathAtOffset, type Locate } from './positions.ts';
import { checkSemantics } from './semantic.ts';
import type { ResolvedConfig } from './types.ts';
import { validateGatewaySchema } from './validate.ts';

export { ConfigError, type ConfigProblem } from './config-error.ts';

/** Reads and resolves a config file. Unreadable → GW_ERR_CONFIG_READ; invalid → ConfigError (GW_ERR_CONFIG_INVALID). */
export async function loadConfigFile(file: string): Promise<ResolvedConfig> {
  const source = path.resolve(file);
  let text: string;
  try {
    text = await readFile(source, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err instanceof Error ? err.message : String(err));
    throw new GatewayError(ErrorCodes.GW_ERR_CONFIG_READ, `cannot read config file ${source} (${reason})`, { cause: err });
  }
  return parseConfigText(text, source);
}

/** Resolves YAML text; `source` (absolute path) is used in messages and as the base of relative paths. */
export function parseConfigText(text: string, source: string): ResolvedConfig {
  const file = source === '' ? '' : path.resolve(source);
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const locate = createLocator(doc, lineCounter);
  const yamlProblems = [...doc.errors.map((e) => yamlProblem(e, doc, text, lineCounter, file)), ...aliasProblems(doc, lineCounter, file)];
  if (yamlProblems.length > 0) throw new ConfigError(sortProblems(yamlProblems), { cause: doc.errors.length > 0 ? doc.errors : undefined });
  if (doc.contents === null) {
    throw new ConfigError([{ file, line: 1, column: 1, path: '', message: 'the file is empty (expected a mapping with at least "listen" and "routes")' }]);
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 1000 });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new ConfigError([{ file, line: 1, column: 1, path: '', message: `cannot load YAML: ${message}` }], { cause: err });
  }
  return resolve(data, file, locate);
}

/** Resolves an already-parsed config object (positions unknown: problems carry no line/column). Does not modify `obj`. */
export function resolveConfigObject(obj: unknown, source: string): ResolvedConfig {
  return resolve(structuredClone(obj), source === '' ? '' : path.resolve(source), locateNothing);
}

function resolve(data: unknown, file: string, locate: Locate): ResolvedConfig {
  const problems: ConfigProblem[] = [];
  const add = (segments: readonly (string | number)[], message: string, key?: string): void => {
    const strings = segments.map(String);
    const pos = key === undefined ? locate(strings) : locate([...strings, key], true);
    problems.push({ file, ...(pos === undefined ? {} : { line: pos.line, column: pos.column }), path: toPointer(strings), message });
  };
  for (const issue of validateGatewaySchema(data)) add(issue.segments, issue.message, issue.key);
  if (problems.length === 0) checkSemantics(data as GatewayOptions, add);
  if (problems.length > 0) throw new ConfigError(sortProblems(problems));
  return normalizeConfig(data as GatewayOptions, file);
}

const YAML_MESSAGES: Partial<Record<YAMLError['code'], string>> = {
  MULTIPLE_DOCS: 'a config file must hold a single YAML document',
  TAB_AS_INDENT: 'tabs are not allowed as indentation',
};

function yamlProblem(e: YAMLError, doc: Document, text: string, lineCounter: LineCounter, file: string): ConfigProblem {
  const { line, col } = lineCounter.linePos(e.pos[0]);
  const { segments, onKey } = pathAtOffset(doc, e.pos[0]);
  let message = `YAML syntax error: ${YAML_MESSAGES[e.code] ?? e.message}`;
  if (e.code === 'DUPLICATE_KEY') {
    // Reported at the map holding the key, like unknown keys.
    const key = onKey ? segments.pop() : text.slice(e.pos[0], e.pos[1]);
    message = `duplicate key "${key}"`;
  }
  return { file, line, column: col, path: toPointer(segments), message };
}

function aliasProblems(doc: Document, lineCounter: LineCounter, file: string): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  visit(doc, {
    Alias(_key, node) {
      if (node.resolve(doc) !== undefined || !node.range) return;
      const { line, col } = lineCounter.linePos(node.range[0]);
      const at = toPointer(pathAtOffset(doc, node.range[0]).segments);
      problems.push({ file, line, column: col, path: at, message: `unknown YAML alias "*${node.source}"` });
    },
  });
  return problems;
}

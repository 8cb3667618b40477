import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { ConfigError, loadConfigFile, parseConfigText, resolveConfigObject, type ConfigProblem } from '../src/config/load.ts';
import { createAjv, runValidator, SCHEMA_URL } from '../src/config/validate.ts';
import { CONFIG_DOCS_PATH, renderConfigDocs } from '../scripts/gen-config-docs.ts';

const SOURCE = path.join(process.cwd(), 'gateway.yaml');

const EXAMPLE = `# yaml-language-server: $schema=./schemas/gateway.schema.json
listen: { host: 0.0.0.0, port: 8080 }
log: { level: debug }
upstreams:
  app: { url: "http://127.0.0.1:3000", connections: 16 }
routes:
  - name: hello
    match: { path: /hello }
    direct_response: { status: 200, body: "hello\\n", headers: { Content-Type: text/plain } }
  - name: api
    match:
      prefix: /api/
      methods: [get, POST]
      headers:
        - { name: X-Canary, exact: "1" }
    upstream: app
    prefix_rewrite: /v2/
    host_rewrite: api.internal
    timeout_ms: 5000
    filters: [add-headers]
  - match: { regex: "^/.*" }
    upstream: app
filters:
  - name: add-headers
    wasm: filters/add-headers.wasm
    config: { response: { add: { x-powered-by: wasmgate } } }
`;

/** The problems of an invalid config (fails the test when the config is valid or fails otherwise). */
function problemsOf(text: string): ConfigProblem[] {
  try {
    parseConfigText(text, SOURCE);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    assert.equal(err.code, 'GW_ERR_CONFIG_INVALID');
    return [...err.problems];
  }
  assert.fail('expected the config to be rejected');
}

function onlyProblem(text: string): ConfigProblem {
  const problems = problemsOf(text);
  assert.equal(problems.length, 1, problems.map((p) => p.message).join('\n'));
  return problems[0]!;
}

const MINIMAL = 'listen: { port: 8080 }\nupstreams:\n  app: { url: "http://127.0.0.1:3000" }\n';

test('the example loads and defaults are filled', () => {
  const c = parseConfigText(EXAMPLE, SOURCE);
  assert.equal(c.source, SOURCE);
  assert.deepEqual(c.listen, { host: '0.0.0.0', port: 8080 });
  assert.deepEqual(c.admin, { host: '127.0.0.1', port: 9901 });
  assert.equal(c.workers, os.availableParallelism());
  assert.equal(c.log.level, 'debug');
  assert.deepEqual(c.access_log, { enabled: true });
  assert.deepEqual(c.shared_data, { max_entries: 65536, max_bytes: 16777216 });
  assert.equal(c.watch, true);
  assert.deepEqual(c.server, {
    headers_timeout_ms: 10000,
    request_timeout_ms: 300000,
    keep_alive_timeout_ms: 5000,
    max_header_bytes: 16384,
    via: '',
    drain_timeout_ms: 15000,
    max_buffer_bytes: 1048576,
  });
  assert.deepEqual(c.upstreams['app'], {
    name: 'app',
    url: 'http://127.0.0.1:3000',
    connections: 16,
    connect_timeout_ms: 2000,
    headers_timeout_ms: 30000,
    body_timeout_ms: 30000,
    timeout_ms: 30000,
    keep_alive_timeout_ms: 4000,
  });
  assert.deepEqual(c.routes[0], {
    name: 'hello',
    match: { path: '/hello' },
    direct_response: { status: 200, body: 'hello\n', headers: { 'content-type': 'text/plain' } },
  });
  assert.deepEqual(c.routes[1], {
    name: 'api',
    match: { prefix: '/api/', methods: ['GET', 'POST'], headers: [{ name: 'x-canary', exact: '1' }] },
    upstream: 'app',
    prefix_rewrite: '/v2/',
    host_rewrite: 'api.internal',
    timeout_ms: 5000,
    filters: ['add-headers'],
  });
  assert.deepEqual(c.routes[2], { name: 'route-2', match: { regex: '^/.*' }, upstream: 'app' });
  assert.deepEqual(c.filters[0], {
    name: 'add-headers',
    wasm: path.join(process.cwd(), 'filters/add-headers.wasm'),
    root_id: '',
    vm_id: '',
    config: '{"response":{"add":{"x-powered-by":"wasmgate"}}}',
    vm_config: '',
    fail_open: { load: false, start: false, trap: false, cpu: false, memory: false },
    limits: { memory_mb: 64, cpu: 200000000, hard_timeout_ms: 5000, clock_resolution_us: 1000 },
    quarantine: { failures: 5, window_ms: 10000, max_backoff_ms: 60000 },
  });
});

test('direct_response defaults body "" and headers {}', () => {
  const c = parseConfigText('listen: { port: 0 }\nworkers: 3\nroutes:\n  - match: { prefix: / }\n    direct_response: { status: 404 }\n', SOURCE);
  assert.equal(c.workers, 3);
  assert.deepEqual(c.routes[0]!.direct_response, { status: 404, body: '', headers: {} });
  assert.deepEqual(c.upstreams, {});
  assert.deepEqual(c.filters, []);
});

test('unknown key: position of the key, JSON path of its map, allowed keys and a suggestion', () => {
  const p = onlyProblem(`${MINIMAL}routes:\n  - upstream: app\n    match:\n      prefx: /a\n`);
  assert.deepEqual({ line: p.line, column: p.column, path: p.path }, { line: 7, column: 7, path: '/routes/0/match' });
  assert.equal(p.message, 'unknown key "prefx" (allowed: prefix, path, regex, methods, headers); did you mean "prefix"?');
  assert.equal(p.file, SOURCE);
});

test('ConfigError message: FILE:LINE:COLUMN: /json/path: message, one line per problem', () => {
  const text = `listen: { port: 8080, hots: x }\nroutes:\n  - match: { path: /a }\n    direct_response: { status: 99 }\n`;
  assert.throws(
    () => parseConfigText(text, SOURCE),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.name, 'ConfigError');
      assert.equal(
        err.message,
        [
          'gateway.yaml:1:23: /listen: unknown key "hots" (allowed: host, port); did you mean "host"?',
          'gateway.yaml:4:32: /routes/0/direct_response/status: must be >= 200 (got integer 99)',
        ].join('\n'),
      );
      return true;
    },
  );
});

test('wrong type points at the value', () => {
  const p = onlyProblem(`listen:\n  port: "80a"\nroutes:\n  - { match: { path: /a }, direct_response: { status: 200 } }\n`);
  assert.deepEqual([p.line, p.column, p.path], [2, 9, '/listen/port']);
  assert.equal(p.message, 'must be integer (got string "80a")');
});

test('bad enum lists the allowed values', () => {
  const p = onlyProblem(`${MINIMAL}log:\n  level: warning\nroutes: [{ match: { path: /a }, upstream: app }]\n`);
  assert.deepEqual([p.line, p.column, p.path], [5, 10, '/log/level']);
  assert.equal(p.message, 'must be one of: trace, debug, info, warn, error, fatal, silent (got string "warning"); did you mean "warn"?');
});

test('unknown upstream', () => {
  const p = onlyProblem(`${MINIMAL}routes:\n  - match: { path: /a }\n    upstream: ap\n`);
  assert.deepEqual([p.line, p.column, p.path], [6, 15, '/routes/0/upstream']);
  assert.equal(p.message, 'unknown upstream "ap" (defined: app); did you mean "app"?');
});

test('unknown filter name in a route', () => {
  const p = onlyProblem(
    `${MINIMAL}routes:\n  - match: { path: /a }\n    upstream: app\n    filters: [add-headers, auth]\nfilters:\n  - { name: add-headers, wasm: a.wasm }\n`,
  );
  assert.deepEqual([p.line, p.column, p.path], [7, 28, '/routes/0/filters/1']);
  assert.equal(p.message, 'unknown filter "auth" (defined: add-headers)');
});

test('regexes must compile (route match and header matcher)', () => {
  const problems = problemsOf(
    `${MINIMAL}routes:\n  - match: { regex: "^/(a" }\n    upstream: app\n  - match:\n      path: /b\n      headers: [{ name: x, regex: "[" }]\n    upstream: app\n`,
  );
  assert.deepEqual(
    problems.map((p) => [p.line, p.column, p.path]),
    [
      [5, 21, '/routes/0/match/regex'],
      [9, 35, '/routes/1/match/headers/0/regex'],
    ],
  );
  assert.match(problems[0]!.message, /^invalid regular expression: .*Unterminated group/);
});

test('YAML syntax error has a position', () => {
  const [p] = problemsOf('listen: { port: 8080 }\nroutes:\n  - match: { path: "/a }\n');
  assert.deepEqual([p!.line, p!.column, p!.message], [4, 1, 'YAML syntax error: Missing closing "quote']);
  const tab = onlyProblem('listen:\n\tport: 1\n');
  assert.deepEqual([tab.line, tab.message], [2, 'YAML syntax error: tabs are not allowed as indentation']);
});

test('duplicate key', () => {
  const p = onlyProblem('listen: { port: 8080 }\nroutes: []\nlisten: { port: 8081 }\n');
  assert.deepEqual([p.line, p.column, p.path, p.message], [3, 1, '', 'duplicate key "listen"']);
  const nested = onlyProblem('listen:\n  port: 1\n  port: 2\nroutes: []\n');
  assert.deepEqual([nested.line, nested.column, nested.path, nested.message], [3, 3, '/listen', 'duplicate key "port"']);
});

test('missing required field', () => {
  const p = onlyProblem('listen: { port: 8080 }\nupstreams:\n  app:\n    connections: 4\nroutes: [{ match: { path: /a }, upstream: app }]\n');
  assert.deepEqual([p.line, p.column, p.path, p.message], [4, 5, '/upstreams/app', 'missing required key "url"']);
  const top = onlyProblem('routes: [{ match: { path: /a }, direct_response: { status: 200 } }]\n');
  assert.deepEqual([top.line, top.path, top.message], [1, '', 'missing required key "listen"']);
});

test('exclusive fields, rewrites without upstream, names, URLs and ports', () => {
  const problems = problemsOf(
    [
      'listen: { port: 8080 }',
      'upstreams:',
      '  a: { url: "ftp://x" }',
      '  b: { url: "http://h:1/p?q=1" }',
      '  c: { url: "not a url" }',
      'routes:',
      '  - { name: r, match: { prefix: /a, path: /a }, upstream: a, direct_response: { status: 200 } }',
      '  - { name: r, match: { path: /b }, direct_response: { status: 200 }, host_rewrite: x }',
      '  - { match: { path: /c, headers: [{ name: x }] }, upstream: b }',
      'filters:',
      '  - { name: f, wasm: a.wasm }',
      '  - { name: f, wasm: b.wasm }',
    ].join('\n'),
  );
  assert.deepEqual(
    problems.map((p) => `${p.line}:${p.column} ${p.path}: ${p.message}`),
    [
      '3:13 /upstreams/a/url: scheme must be http: or https: (got ftp:)',
      '4:13 /upstreams/b/url: must not contain a query or fragment',
      '5:13 /upstreams/c/url: invalid URL "not a url" (expected e.g. http://127.0.0.1:3000)',
      '7:5 /routes/0: must have exactly one of: upstream, direct_response (has both)',
      '7:23 /routes/0/match: must have exactly one of: prefix, path, regex (has prefix and path)',
      '8:13 /routes/1/name: duplicate route name "r" (also /routes/0)',
      '8:85 /routes/1/host_rewrite: only allowed on routes with "upstream"',
      '9:36 /routes/2/match/headers/0: must have exactly one of: exact, prefix, regex, present (has none)',
      '12:13 /filters/1/name: duplicate filter name "f" (also /filters/0)',
    ],
  );
  const port = onlyProblem('listen: { port: 65536 }\nroutes: [{ match: { path: /a }, direct_response: { status: 200 } }]\n');
  assert.deepEqual([port.path, port.message], ['/listen/port', 'must be <= 65535 (got integer 65536)']);
});

test('relative wasm paths resolve against the config file folder', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'wasmgate-config-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'gw.yaml');
  await writeFile(
    file,
    'listen: { port: 1 }\nroutes: [{ match: { path: /a }, direct_response: { status: 200 } }]\nfilters:\n' +
      '  - { name: a, wasm: filters/a.wasm }\n  - { name: b, wasm: ../b.wasm }\n  - { name: c, wasm: /opt/c.wasm }\n',
  );
  const c = await loadConfigFile(file);
  assert.equal(c.source, file);
  assert.deepEqual(
    c.filters.map((f) => f.wasm),
    [path.join(dir, 'filters/a.wasm'), path.join(path.dirname(dir), 'b.wasm'), '/opt/c.wasm'],
  );
});

test('unreadable file → GW_ERR_CONFIG_READ naming the file', async () => {
  const missing = path.join(os.tmpdir(), 'wasmgate-no-such-dir', 'gateway.yaml');
  await assert.rejects(loadConfigFile(missing), (err: unknown) => {
    assert.ok(err instanceof Error);
    assert.equal((err as { code?: unknown }).code, 'GW_ERR_CONFIG_READ');
    assert.ok(err.message.includes(missing));
    return true;
  });
});

test('plugin config: a string as written, anything else as JSON, null as ""', () => {
  const c = parseConfigText(
    'listen: { port: 1 }\nroutes: [{ match: { path: /a }, direct_response: { status: 200 } }]\nfilters:\n' +
      '  - { name: s, wasm: a.wasm, config: "{ not: json", vm_config: { a: [1, true] } }\n' +
      '  - { name: o, wasm: a.wasm, config: [1, "x"], vm_config: 42 }\n' +
      '  - { name: n, wasm: a.wasm, config: null, root_id: r, vm_id: v, fail_open: true, limits: { memory_mb: 128 } }\n',
    SOURCE,
  );
  assert.deepEqual(
    c.filters.map((f) => [f.config, f.vm_config]),
    [
      ['{ not: json', '{"a":[1,true]}'],
      ['[1,"x"]', '42'],
      ['', ''],
    ],
  );
  assert.deepEqual([c.filters[2]!.root_id, c.filters[2]!.vm_id, c.filters[2]!.fail_open, c.filters[2]!.limits.memory_mb], ['r', 'v', { load: true, start: true, trap: true, cpu: true, memory: true }, 128]);
});

test('the result is deep-frozen', () => {
  const c = parseConfigText(EXAMPLE, SOURCE);
  const frozen: unknown[] = [c, c.listen, c.server, c.upstreams, c.upstreams['app'], c.routes, c.routes[1]!.match, c.routes[1]!.match.methods, c.routes[1]!.match.headers![0]];
  frozen.push(c.routes[0]!.direct_response!.headers, c.filters, c.filters[0]!.limits);
  for (const o of frozen) assert.ok(Object.isFrozen(o));
  assert.throws(() => {
    (c.listen as { port: number }).port = 1;
  }, TypeError);
});

test('resolveConfigObject: no positions, input not modified', () => {
  const input = { listen: { port: 8080 }, routes: [{ match: { path: '/a', methods: ['get'] }, direct_response: { status: 200 } }] };
  const snapshot = structuredClone(input);
  const c = resolveConfigObject(input, '/etc/wasmgate/gateway.yaml');
  assert.deepEqual(input, snapshot);
  assert.deepEqual(c.routes[0]!.match.methods, ['GET']);
  assert.equal(c.source, '/etc/wasmgate/gateway.yaml');
  assert.throws(
    () => resolveConfigObject({ listen: { port: 8080 }, routes: [{ match: { path: '/a' }, upstream: 'x' }] }, '/etc/gw.yaml'),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.deepEqual(err.problems, [{ file: '/etc/gw.yaml', path: '/routes/0/upstream', message: 'unknown upstream "x" (no upstreams are defined)' }]);
      assert.equal(err.message, '/etc/gw.yaml: /routes/0/upstream: unknown upstream "x" (no upstreams are defined)');
      return true;
    },
  );
});

test('oneOf/anyOf cascades collapse into one message per location', () => {
  const validate = createAjv().compile({
    type: 'object',
    additionalProperties: false,
    properties: {
      a: { anyOf: [{ type: 'string' }, { type: 'integer' }] },
      b: { anyOf: [{ type: 'string' }, { type: 'object', additionalProperties: false, properties: { x: { type: 'string' } } }] },
      c: { $ref: '#/$defs/pq' },
      d: { $ref: '#/$defs/pq' },
    },
    $defs: {
      pq: {
        type: 'object',
        // (strictRequired wants each required key declared next to it)
        oneOf: [
          { properties: { p: { type: 'integer' } }, required: ['p'] },
          { properties: { q: { type: 'integer' } }, required: ['q'] },
        ],
      },
    },
  });
  const issues = runValidator(validate, { a: true, b: { y: 1 }, c: {}, d: { p: 1, q: 2 } });
  assert.deepEqual(issues, [
    { segments: ['a'], message: 'must be string or integer (got boolean true)' },
    { segments: ['b'], key: 'y', message: 'unknown key "y" (allowed: x)' },
    { segments: ['c'], message: 'must have one of: p, q' },
    { segments: ['d'], message: 'must have only one of: p, q' },
  ]);
});

test('schema: every property has a description and every object is closed', async () => {
  const schema = JSON.parse(await readFile(SCHEMA_URL, 'utf8')) as Record<string, unknown>;
  const missing: string[] = [];
  const walk = (node: unknown, at: string): void => {
    if (node === null || typeof node !== 'object') return;
    const n = node as Record<string, unknown>;
    if (n['properties'] !== undefined && n['additionalProperties'] !== false) missing.push(`${at}: additionalProperties must be false`);
    for (const [key, child] of Object.entries((n['properties'] ?? {}) as Record<string, unknown>)) {
      if (typeof (child as { description?: unknown }).description !== 'string') missing.push(`${at}/properties/${key}: no description`);
    }
    for (const [key, child] of Object.entries(n)) walk(child, `${at}/${key}`);
  };
  walk(schema, '#');
  assert.deepEqual(missing, []);
});

test('docs/config.md is what scripts/gen-config-docs.ts generates', async () => {
  assert.equal(await readFile(CONFIG_DOCS_PATH, 'utf8'), renderConfigDocs(), 'stale docs: run node scripts/gen-config-docs.ts');
});

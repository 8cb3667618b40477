// The CLI as users run it: a separate process, real signals, stdout log lines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { once } from 'node:events';
import { request } from 'undici';
import { startUpstream, closedPort } from './helpers/gateway.ts';

const BIN = new URL('../bin/wasmgate.js', import.meta.url).pathname;
const REPO = new URL('..', import.meta.url).pathname;

function writeConfig(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'wasmgate-cli-'));
  const file = join(dir, 'gateway.yaml');
  writeFileSync(file, text);
  return file;
}

interface Running {
  readonly child: ChildProcess;
  readonly lines: Array<Record<string, unknown>>;
  readonly port: number;
  readonly adminPort: number;
}

/** Starts `wasmgate run` and waits for its "wasmgate listening" line. */
async function run(file: string, extra: string[] = [], env: Record<string, string> = {}): Promise<Running> {
  const child = spawn(process.execPath, [BIN, 'run', '-c', file, ...extra], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  const lines: Array<Record<string, unknown>> = [];
  const rl = createInterface({ input: child.stdout! });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('gateway did not start')), 15000);
    child.once('exit', (code) => reject(new Error(`gateway exited with ${code}`)));
    rl.on('line', (l) => {
      const rec = JSON.parse(l) as Record<string, unknown>;
      lines.push(rec);
      if (rec.msg === 'wasmgate listening') {
        clearTimeout(timer);
        resolve({
          child,
          lines,
          port: Number(new URL(rec.listen as string).port),
          adminPort: Number(new URL(rec.admin as string).port),
        });
      }
    });
  });
}

test('validate: a good file passes, a bad one fails naming file, line, column and field', () => {
  const ok = spawnSync(process.execPath, [BIN, 'validate', '-c', join(REPO, 'gateway.yaml')], { encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /valid/);
  const bad = writeConfig('listen: { host: 127.0.0.1, port: 8080 }\nupstreams:\n  app: { url: "http://127.0.0.1:1" }\nroutes:\n  - name: r\n    match: { prefx: / }\n    upstream: app\n');
  const res = spawnSync(process.execPath, [BIN, 'validate', '-c', bad], { encoding: 'utf8' });
  assert.notEqual(res.status, 0);
  assert.match(res.stderr, /gateway\.yaml:6:14: \/routes\/0\/match/);
  assert.match(res.stderr, /prefix/);
  const missing = spawnSync(process.execPath, [BIN, 'validate', '-c', '/nonexistent/gateway.yaml'], { encoding: 'utf8' });
  assert.notEqual(missing.status, 0);
  assert.match(missing.stderr, /\/nonexistent\/gateway\.yaml/);
});

test('run: access log lines, then SIGTERM drains: /ready 503 at once, in-flight request completes, exit 0', async () => {
  const upstream = await startUpstream((req, res) => {
    if (req.url === '/slow') setTimeout(() => res.end('slow done'), 1200);
    else res.end('quick');
  });
  const file = writeConfig(
    `listen: { host: 127.0.0.1, port: 0 }\nadmin: { host: 127.0.0.1, port: 0 }\nworkers: 2\nserver: { drain_timeout_ms: 5000 }\n` +
      `upstreams:\n  app: { url: "${upstream.url}" }\nroutes:\n  - name: all\n    match: { prefix: / }\n    upstream: app\n`,
  );
  const gw = await run(file);
  try {
    const quick = await request(`http://127.0.0.1:${gw.port}/quick?x=1`, { headers: { 'x-request-id': 'cli-test-1' } });
    assert.equal(await quick.body.text(), 'quick');
    const odd = await request(`http://127.0.0.1:${gw.port}/odd`, { headers: { 'x-request-id': 'id "quoted" \\ back' } });
    await odd.body.text();
    assert.equal((await fetch(`http://127.0.0.1:${gw.adminPort}/ready`)).status, 200);

    const slow = request(`http://127.0.0.1:${gw.port}/slow`);
    await new Promise((r) => setTimeout(r, 300));
    const exited = once(gw.child, 'exit');
    gw.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal((await fetch(`http://127.0.0.1:${gw.adminPort}/ready`)).status, 503);
    const slowRes = await slow;
    assert.equal(slowRes.statusCode, 200);
    assert.equal(slowRes.headers.connection, 'close', 'a response finished during the drain closes its connection');
    assert.equal(await slowRes.body.text(), 'slow done');
    const [code] = (await exited) as [number | null];
    assert.equal(code, 0);
    await assert.rejects(request(`http://127.0.0.1:${gw.port}/after`), 'no longer accepting');

    const access = gw.lines.filter((l) => l.msg === 'access');
    const q = access.find((l) => l.reqId === 'cli-test-1');
    assert.ok(q, 'access log line for the quick request');
    assert.equal(q.method, 'GET');
    assert.equal(q.path, '/quick?x=1');
    assert.equal(q.status, 200);
    assert.equal(q.route, 'all');
    assert.equal(q.upstream, 'app');
    assert.equal(q.bytesOut, 5);
    assert.equal(typeof q.durationMs, 'number');
    assert.equal(typeof q.worker, 'number');
    assert.ok(access.some((l) => l.path === '/slow' && l.status === 200));
    assert.ok(access.some((l) => l.reqId === 'id "quoted" \\ back'), 'odd request ids are escaped, not breaking the line');
  } finally {
    gw.child.kill('SIGKILL');
    await upstream.close();
  }
});

test('run --demo-upstream: the README demo works with no other server', async () => {
  const demoPort = await closedPort();
  const file = writeConfig(
    `listen: { host: 127.0.0.1, port: 0 }\nadmin: { host: 127.0.0.1, port: 0 }\nworkers: 1\n` +
      `upstreams:\n  app: { url: "http://127.0.0.1:${demoPort}" }\nroutes:\n` +
      `  - name: hello\n    match: { path: /hello }\n    direct_response: { status: 200, body: "hello\\n" }\n` +
      `  - name: default\n    match: { prefix: / }\n    upstream: app\n`,
  );
  const gw = await run(file, ['--demo-upstream', `127.0.0.1:${demoPort}`]);
  try {
    const hello = await request(`http://127.0.0.1:${gw.port}/hello`);
    assert.equal(await hello.body.text(), 'hello\n');
    const echo = await request(`http://127.0.0.1:${gw.port}/anything?a=1`);
    const seen = (await echo.body.json()) as { path: string; headers: Record<string, string> };
    assert.equal(seen.path, '/anything?a=1');
    assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1');
  } finally {
    gw.child.kill('SIGTERM');
    await once(gw.child, 'exit');
  }
});

test('inspect: shows ABI, callbacks and imports; refuses a bad module with exit 65', () => {
  const fixture = (name: string) => join(REPO, 'test', 'fixtures', 'wasm', `${name}.wasm`);
  const ok = spawnSync(process.execPath, [BIN, 'inspect', fixture('minimal')], { encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /^abi: +proxy-wasm 0\.2\.1 \(proxy_abi_version_0_2_1\)$/m);
  assert.match(ok.stdout, /^callbacks: +proxy_on_context_create, proxy_on_request_headers, proxy_on_done$/m);
  assert.match(ok.stdout, /env\.my_custom_host_thing +UNKNOWN/);
  assert.match(ok.stdout, /env\.proxy_log +logging: supported$/m);
  assert.match(ok.stdout, /^verdict: +loads; 1 import\(s\) belong to no known ABI and trap if called \(env\.my_custom_host_thing\)$/m);
  const partial = spawnSync(process.execPath, [BIN, 'inspect', fixture('configure')], { encoding: 'utf8' });
  assert.match(partial.stdout, /env\.proxy_grpc_cancel +grpc: not supported yet \(answers Unimplemented\)$/m);
  assert.match(partial.stdout, /^verdict: +loads; 1 import\(s\) answer Unimplemented\/ENOSYS if called \(env\.proxy_grpc_cancel\)$/m);
  const bad = spawnSync(process.execPath, [BIN, 'inspect', fixture('no-abi')], { encoding: 'utf8' });
  assert.equal(bad.status, 65);
  assert.match(bad.stderr, /no-abi\.wasm: no proxy-wasm ABI version export/);
});

test('validate: a filter whose module is refused fails validation, naming the filter and the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wasmgate-cli-'));
  writeFileSync(join(dir, 'broken.wasm'), 'not wasm');
  const file = join(dir, 'gateway.yaml');
  writeFileSync(
    file,
    'listen: { port: 8080 }\nupstreams:\n  app: { url: "http://127.0.0.1:1" }\nroutes:\n  - name: r\n    match: { prefix: / }\n    upstream: app\n' +
      'filters:\n  - name: auth\n    wasm: broken.wasm\n',
  );
  const res = spawnSync(process.execPath, [BIN, 'validate', '-c', file], { encoding: 'utf8' });
  assert.equal(res.status, 78);
  assert.match(res.stderr, /filter "auth": .*broken\.wasm: not a WebAssembly module/);
});

test('validate: starts each filter; one that refuses its configuration fails with its own log lines', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wasmgate-cli-'));
  const wasm = join(REPO, 'test', 'fixtures', 'wasm', 'configure.wasm');
  const base =
    'listen: { port: 8080 }\nupstreams:\n  app: { url: "http://127.0.0.1:1" }\nroutes:\n  - name: r\n    match: { prefix: / }\n    upstream: app\n' +
    `filters:\n  - name: cfg\n    wasm: ${wasm}\n`;
  const good = join(dir, 'good.yaml');
  writeFileSync(good, `${base}    config: { answer: 42 }\n`);
  const ok = spawnSync(process.execPath, [BIN, 'validate', '-c', good], { encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /1 filters/);
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, base);
  const res = spawnSync(process.execPath, [BIN, 'validate', '-c', bad], { encoding: 'utf8' });
  assert.equal(res.status, 78);
  assert.match(res.stderr, /filter "cfg": proxy_on_configure returned false/);
  assert.match(res.stderr, /\[error\] no configuration/);
});

test('validate: a filter may use shared data, queues, metrics and http calls while it starts, as under run', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wasmgate-cli-'));
  const wasm = join(REPO, 'test', 'fixtures', 'wasm', 'start-services.wasm');
  const file = join(dir, 'gateway.yaml');
  writeFileSync(
    file,
    'listen: { port: 8080 }\nupstreams:\n  app: { url: "http://127.0.0.1:1" }\nroutes:\n  - name: r\n    match: { prefix: / }\n    upstream: app\n' +
      `filters:\n  - name: svc\n    wasm: ${wasm}\n`,
  );
  const res = spawnSync(process.execPath, [BIN, 'validate', '-c', file], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(res.status, 0, res.stderr);
  assert.match(res.stdout, /valid .*1 filters/);
});

test('run: a second signal during the drain exits at once', async () => {
  const upstream = await startUpstream((_req, res) => setTimeout(() => res.end('late'), 5000));
  const file = writeConfig(
    `listen: { host: 127.0.0.1, port: 0 }\nadmin: { host: 127.0.0.1, port: 0 }\nworkers: 1\nserver: { drain_timeout_ms: 20000 }\n` +
      `upstreams:\n  app: { url: "${upstream.url}" }\nroutes:\n  - name: all\n    match: { prefix: / }\n    upstream: app\n`,
  );
  const gw = await run(file);
  try {
    const pending = request(`http://127.0.0.1:${gw.port}/slow`).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 200));
    const exited = once(gw.child, 'exit');
    const started = Date.now();
    gw.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    gw.child.kill('SIGTERM');
    const [code] = (await exited) as [number | null];
    assert.equal(code, 1);
    assert.ok(Date.now() - started < 3000, 'did not wait for the 20 s drain');
    await pending;
  } finally {
    gw.child.kill('SIGKILL');
    await upstream.close();
  }
});

test('run: a WASMGATE_HEAP_GROWING_PERCENT that is not a whole number is named in a warning, and the gateway serves', async () => {
  const file = writeConfig(
    `listen: { host: 127.0.0.1, port: 0 }\nadmin: { host: 127.0.0.1, port: 0 }\nworkers: 1\n` +
      `routes:\n  - name: hello\n    match: { prefix: / }\n    direct_response: { status: 200, body: "hi" }\n`,
  );
  const gw = await run(file, [], { WASMGATE_HEAP_GROWING_PERCENT: 'lots' });
  try {
    const warning = gw.lines.find((l) => l.WASMGATE_HEAP_GROWING_PERCENT === 'lots');
    assert.ok(warning, 'a warning names the value');
    assert.equal(warning.level, 'warn');
    assert.match(String(warning.msg), /V8's own heap growing factor applies/);
    const res = await request(`http://127.0.0.1:${gw.port}/`);
    assert.equal(await res.body.text(), 'hi');
  } finally {
    gw.child.kill('SIGKILL');
  }
});

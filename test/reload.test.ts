// Hot reload under load: filters and gateway.yaml change while requests flow, and none is lost.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { Pool } from 'undici';
import { loadConfigFile } from '../src/config/load.ts';
import { createRootLogger } from '../src/observability/logger.ts';
import { startGateway, type RunningGateway } from '../src/gateway.ts';
import { fixture, LogSink, startUpstream } from './helpers/gateway.ts';


interface Env {
  dir: string;
  gw: RunningGateway;
  url: string;
  admin: string;
  logs: LogSink;
}

async function startFromDir(t: { after(fn: () => Promise<void> | void): void }, yaml: string, files: Record<string, string> = {}): Promise<Env> {
  const dir = mkdtempSync(join(tmpdir(), 'wasmgate-reload-'));
  for (const [name, from] of Object.entries(files)) copyFileSync(from, join(dir, name));
  writeFileSync(join(dir, 'gateway.yaml'), yaml);
  const logs = new LogSink();
  const config = await loadConfigFile(join(dir, 'gateway.yaml'));
  const gw = await startGateway(config, createRootLogger('info', { destination: logs }));
  t.after(async () => {
    await gw.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  return { dir, gw, url: `http://127.0.0.1:${gw.port}`, admin: `http://127.0.0.1:${gw.adminPort}`, logs };
}

const head = (upstreamUrl: string, extra = '', watch = false): string =>
  `listen: { host: 127.0.0.1, port: 0 }\nadmin: { host: 127.0.0.1, port: 0 }\nworkers: 2\naccess_log: { enabled: false }\nlog: { level: warn }\nwatch: ${watch}\n` +
  `upstreams:\n  app: { url: "${upstreamUrl}" }\n${extra}`;

/** Requests in a loop from `concurrency` clients until stopped; every answer is recorded. */
function load(url: string, concurrency: number): { stop(): Promise<Array<{ status: number; version: string | string[] | undefined; error?: string }>> } {
  const pool = new Pool(url, { connections: concurrency });
  const results: Array<{ status: number; version: string | string[] | undefined; error?: string }> = [];
  let running = true;
  const loops = Array.from({ length: concurrency }, async () => {
    while (running) {
      try {
        const r = await pool.request({ method: 'GET', path: '/x' });
        await r.body.text();
        results.push({ status: r.statusCode, version: r.headers['x-version'] });
      } catch (err) {
        results.push({ status: 0, version: undefined, error: (err as Error).message });
      }
    }
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      await pool.close();
      return results;
    },
  };
}

test('a filter swapped 50 times under load, with broken versions in between: nothing lost, never broken', async (t) => {
  const up = await startUpstream((_req, res) => res.end('ok'));
  t.after(() => up.close());
  const env = await startFromDir(
    t,
    head(up.url, 'routes:\n  - name: default\n    match: { prefix: / }\n    upstream: app\nfilters:\n  - name: versioned\n    wasm: filter.wasm\n'),
    { 'filter.wasm': fixture('version-a') },
  );
  const file = join(env.dir, 'filter.wasm');
  const a = readFileSync(fixture('version-a'));
  const b = readFileSync(fixture('version-b'));
  const broken = [Buffer.from('not wasm at all'), readFileSync(fixture('trap-in-start')), readFileSync(fixture('no-abi'))];
  const reload = async (): Promise<{ ok: boolean; error: string }> => (await (await fetch(`${env.admin}/reload`, { method: 'POST' })).json()) as { ok: boolean; error: string };
  const traffic = load(env.url, 8);
  let expect = 'a';
  for (let i = 0; i < 60; i++) {
    if (i % 6 === 5) {
      // a broken version: refused, the serving one stays
      writeFileSync(file, broken[i % broken.length]!);
      const r = await reload();
      assert.equal(r.ok, false);
      assert.match(r.error, /filter "versioned"/);
    } else {
      expect = expect === 'a' ? 'b' : 'a';
      // alternately written in place and renamed over, as editors and deploy tools do
      if (i % 2 === 0) writeFileSync(file, expect === 'a' ? a : b);
      else {
        writeFileSync(`${file}.tmp`, expect === 'a' ? a : b);
        renameSync(`${file}.tmp`, file);
      }
      const r = await reload();
      assert.equal(r.ok, true, r.error);
      // the switch is done when reload answers: the very next request has the new version
      const next = await fetch(`${env.url}/x`);
      await next.text();
      assert.equal(next.headers.get('x-version'), expect);
    }
  }
  const results = await traffic.stop();
  assert.ok(results.length > 200, `${results.length} requests`);
  const failed = results.filter((r) => r.status !== 200);
  assert.deepEqual(failed.slice(0, 3), [], `${failed.length} failed requests`);
  for (const r of results) assert.ok(r.version === 'a' || r.version === 'b', `one version per response: ${String(r.version)}`);
  const filters = (await (await fetch(`${env.admin}/filters`)).json()) as {
    version: number;
    reload_failures: number;
    filters: Array<{ name: string; sha256: string; reloads: number; reload_failures: number; last_error: string }>;
  };
  assert.equal(filters.reload_failures, 10);
  assert.equal(filters.filters[0]!.reloads, 50);
  assert.equal(filters.filters[0]!.reload_failures, 10);
  assert.match(filters.filters[0]!.last_error, /versioned/);
  assert.equal(filters.version, 51);
  const prom = await (await fetch(`${env.admin}/stats/prometheus`)).text();
  assert.match(prom, /^wasmgate_filter_reload_failures_total\{filter="versioned"\} 10$/m);
});

test('a config change moves a route to another upstream under load; a broken config changes nothing', async (t) => {
  const one = await startUpstream((_req, res) => {
    res.setHeader('x-version', 'one');
    res.end('1');
  });
  const two = await startUpstream((_req, res) => {
    res.setHeader('x-version', 'two');
    res.end('2');
  });
  t.after(async () => {
    await one.close();
    await two.close();
  });
  const yaml = (target: string): string =>
    head(one.url, `  other: { url: "${two.url}" }\nroutes:\n  - name: default\n    match: { prefix: / }\n    upstream: ${target}\n`);
  const env = await startFromDir(t, yaml('app'));
  const cfg = join(env.dir, 'gateway.yaml');
  const traffic = load(env.url, 8);
  for (let i = 0; i < 10; i++) {
    writeFileSync(cfg, yaml(i % 2 === 0 ? 'other' : 'app'));
    assert.equal((await env.gw.reload('test')).ok, true);
    const r = await fetch(`${env.url}/x`);
    await r.text();
    assert.equal(r.headers.get('x-version'), i % 2 === 0 ? 'two' : 'one');
  }
  // invalid YAML, then a schema error: refused with the position, the serving config stays
  writeFileSync(cfg, 'routes: [\n');
  const bad = await env.gw.reload('test');
  assert.equal(bad.ok, false);
  assert.match(bad.error, /gateway\.yaml:\d+:\d+/);
  writeFileSync(cfg, yaml('nowhere'));
  const bad2 = await env.gw.reload('test');
  assert.equal(bad2.ok, false);
  assert.match(bad2.error, /nowhere/);
  const after = await fetch(`${env.url}/x`);
  await after.text();
  assert.equal(after.headers.get('x-version'), 'one');
  const results = await traffic.stop();
  assert.deepEqual(results.filter((r) => r.status !== 200).slice(0, 3), []);
  for (const r of results) assert.ok(r.version === 'one' || r.version === 'two');
});

test('file watching: a ConfigMap-style symlink swap of the folder reloads config and filter; a broken swap never serves', async (t) => {
  const up = await startUpstream((_req, res) => res.end('ok'));
  t.after(() => up.close());
  // dir/gateway.yaml -> ..data/gateway.yaml, dir/filter.wasm -> ..data/filter.wasm, ..data -> ..<version>
  const dir = mkdtempSync(join(tmpdir(), 'wasmgate-configmap-'));
  const yaml = head(up.url, 'routes:\n  - name: default\n    match: { prefix: / }\n    upstream: app\nfilters:\n  - name: versioned\n    wasm: filter.wasm\n', true);
  let n = 0;
  const publish = (files: Record<string, Buffer | string>): void => {
    const version = `..2026_11_24_00_00_${String(n++).padStart(2, '0')}.000`;
    mkdirSync(join(dir, version));
    for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, version, name), content);
    symlinkSync(version, join(dir, '..data_tmp'));
    renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
  };
  publish({ 'gateway.yaml': yaml, 'filter.wasm': readFileSync(fixture('version-a')) });
  symlinkSync('..data/gateway.yaml', join(dir, 'gateway.yaml'));
  symlinkSync('..data/filter.wasm', join(dir, 'filter.wasm'));
  const logs = new LogSink();
  const gw = await startGateway(await loadConfigFile(join(dir, 'gateway.yaml')), createRootLogger('info', { destination: logs }));
  t.after(async () => {
    await gw.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const url = `http://127.0.0.1:${gw.port}/x`;
  const versionNow = async (): Promise<string | null> => {
    const r = await fetch(url);
    await r.text();
    return r.headers.get('x-version');
  };
  const waitFor = async (v: string): Promise<number> => {
    const t0 = performance.now();
    while ((await versionNow()) !== v) {
      assert.ok(performance.now() - t0 < 5000, `version ${v} within 5 s`);
      await new Promise((r) => setTimeout(r, 20));
    }
    return performance.now() - t0;
  };
  assert.equal(await versionNow(), 'a');
  const traffic = load(`http://127.0.0.1:${gw.port}`, 6);
  publish({ 'gateway.yaml': yaml, 'filter.wasm': readFileSync(fixture('version-b')) });
  assert.ok((await waitFor('b')) < 2000);
  // a broken module published the same way is refused: b keeps serving
  publish({ 'gateway.yaml': yaml, 'filter.wasm': Buffer.from('garbage') });
  const deadline = performance.now() + 3000;
  while (gw.reloader.failures === 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(gw.reloader.failures, 1);
  assert.equal(await versionNow(), 'b');
  // and the fixed one loads
  publish({ 'gateway.yaml': yaml, 'filter.wasm': readFileSync(fixture('version-a')) });
  await waitFor('a');
  const results = await traffic.stop();
  assert.deepEqual(results.filter((r) => r.status !== 200).slice(0, 3), [], 'no request failed during the swaps');
  for (const r of results) assert.ok(r.version === 'a' || r.version === 'b', `one version per response: ${String(r.version)}`);
  assert.ok(logs.lines.some((l) => typeof l.msg === 'string' && l.msg.startsWith('reload applied: versioned')));
});

test('two reloads in a row: a request still running on the oldest version keeps its filter VM and upstream pool', async (t) => {
  const slowHandler = (_req: unknown, res: import('node:http').ServerResponse): void => {
    setTimeout(() => res.end('slow done'), 800);
  };
  const one = await startUpstream(slowHandler);
  const two = await startUpstream(slowHandler);
  t.after(async () => {
    await one.close();
    await two.close();
  });
  const yaml = (url: string, config: string, extraRoute = ''): string =>
    head(url, `routes:\n${extraRoute}  - name: default\n    match: { prefix: / }\n    upstream: app\nfilters:\n  - { name: trace, wasm: ${fixture('http-trace')}, config: "${config}" }\n`);
  const env = await startFromDir(t, yaml(one.url, 'a'));
  const cfg = join(env.dir, 'gateway.yaml');
  const inFlight = fetch(`${env.url}/slow`).then(async (r) => ({ status: r.status, body: await r.text() }));
  await new Promise((r) => setTimeout(r, 150));
  // version 2 keeps the filter and the pool; version 3 replaces both while version 1 still runs a request
  writeFileSync(cfg, yaml(one.url, 'a', '  - name: extra\n    match: { path: /extra }\n    direct_response: { status: 204 }\n'));
  assert.equal((await env.gw.reload('test')).ok, true);
  writeFileSync(cfg, yaml(two.url, 'b'));
  assert.equal((await env.gw.reload('test')).ok, true);
  assert.deepEqual(await inFlight, { status: 200, body: 'slow done' });
});

test('file watching: a config refused for a filter file that does not exist yet loads once the file appears', async (t) => {
  const up = await startUpstream((_req, res) => res.end('ok'));
  t.after(() => up.close());
  const yaml = (file: string): string =>
    head(up.url, `routes:\n  - name: default\n    match: { prefix: / }\n    upstream: app\nfilters:\n  - name: versioned\n    wasm: ${file}\n`, true);
  const env = await startFromDir(t, yaml('a.wasm'), { 'a.wasm': fixture('version-a') });
  const versionNow = async (): Promise<string | null> => {
    const r = await fetch(`${env.url}/x`);
    await r.text();
    return r.headers.get('x-version');
  };
  assert.equal(await versionNow(), 'a');
  writeFileSync(join(env.dir, 'gateway.yaml'), yaml('b.wasm'));
  const deadline = performance.now() + 3000;
  while (env.gw.reloader.failures === 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(env.gw.reloader.failures, 1, 'refused: b.wasm is missing');
  assert.equal(await versionNow(), 'a');
  copyFileSync(fixture('version-b'), join(env.dir, 'b.wasm'));
  const t0 = performance.now();
  while ((await versionNow()) !== 'b') {
    assert.ok(performance.now() - t0 < 5000, 'version b within 5 s of its file appearing');
    await new Promise((r) => setTimeout(r, 20));
  }
});

test('replaced versions are let go: 40 reloads, each starting VMs that hold 8 MiB, leave the memory where it was', async (t) => {
  const up = await startUpstream((_req, res) => res.end('ok'));
  t.after(() => up.close());
  // each reload changes the configuration of one of two filters, in turn, which starts a new VM for it in
  // each of the two workers; the other filter keeps its VM (made by an older version)
  const yaml = (n: number): string =>
    head(
      up.url,
      'routes:\n  - name: default\n    match: { prefix: / }\n    upstream: app\nfilters:\n' +
        `  - name: a\n    wasm: mem.wasm\n    config: "a${n - (n % 2)}"\n  - name: b\n    wasm: mem.wasm\n    config: "b${n - ((n + 1) % 2)}"\n`,
    );
  const env = await startFromDir(t, yaml(0), { 'mem.wasm': fixture('vm-memory') });
  const reloadTo = async (n: number): Promise<void> => {
    writeFileSync(join(env.dir, 'gateway.yaml'), yaml(n));
    const r = await env.gw.reload('test');
    assert.equal(r.ok, true);
    assert.equal(r.changed.length, 1);
    const res = await fetch(`${env.url}/x`);
    assert.equal(res.status, 200);
    await res.text();
  };
  for (let n = 1; n <= 3; n++) await reloadTo(n);
  const before = process.memoryUsage().rss;
  for (let n = 4; n <= 43; n++) await reloadTo(n);
  await new Promise((r) => setTimeout(r, 200));
  const grownMb = (process.memoryUsage().rss - before) / 1048576;
  // kept, the replaced VMs would hold 40 × 2 × 8 MiB = 640 MiB
  assert.ok(grownMb < 200, `resident memory grew by ${grownMb.toFixed(0)} MiB over 40 reloads`);
});

test('a VM that refuses its configuration after arming a tick is stopped: refused reloads leave nothing running', async (t) => {
  const up = await startUpstream((_req, res) => res.end('ok'));
  t.after(() => up.close());
  const yaml = (file: string, n: number): string =>
    head(up.url, `routes:\n  - name: default\n    match: { prefix: / }\n    upstream: app\nfilters:\n  - name: f\n    wasm: ${file}\n    config: "c${n}"\n`);
  const env = await startFromDir(t, yaml('ok.wasm', 0), { 'ok.wasm': fixture('vm-memory'), 'refuse.wasm': fixture('tick-refuse') });
  for (let n = 1; n <= 5; n++) {
    writeFileSync(join(env.dir, 'gateway.yaml'), yaml('refuse.wasm', n));
    const r = await env.gw.reload('test');
    assert.equal(r.ok, false);
    assert.match(r.error, /configur/i);
  }
  // the refused VMs' ticks count in their metric: it must stand still
  const ticks = async (): Promise<number> => {
    const text = await (await fetch(`${env.admin}/stats/prometheus`)).text();
    return Number(/^wasmcustom_refused_ticks\{filter="f"\} (\d+)$/m.exec(text)?.[1] ?? '0');
  };
  const seen = await ticks();
  await new Promise((r) => setTimeout(r, 600));
  assert.equal((await ticks()) - seen, 0, 'a refused VM went on ticking');
  const res = await fetch(`${env.url}/x`);
  assert.equal(res.status, 200);
  await res.text();
});

test('an upstream a reload removed: the connections its requests with trailers used are closed', async (t) => {
  const handler: Parameters<typeof startUpstream>[0] = (req, res) => {
    req.resume();
    req.on('end', () => res.end('ok'));
  };
  const one = await startUpstream(handler);
  const two = await startUpstream(handler);
  t.after(() => one.close());
  t.after(() => two.close());
  one.server.keepAliveTimeout = 60_000; // only the gateway may close them
  let open = 0;
  one.server.on('connection', (s: import('node:net').Socket) => {
    open++;
    s.on('close', () => open--);
  });
  const yaml = (url: string): string => head(url, 'routes:\n  - name: default\n    match: { prefix: / }\n    upstream: app\n');
  const env = await startFromDir(t, yaml(one.url));
  // a chunked request that announces trailers takes the trailer path (its own keep-alive connections)
  assert.equal(await rawPost(env.gw.port), 200);
  assert.ok(open > 0, 'the request reached upstream one');
  writeFileSync(join(env.dir, 'gateway.yaml'), yaml(two.url));
  assert.equal((await env.gw.reload('test')).ok, true);
  assert.equal(await rawPost(env.gw.port), 200);
  const deadline = performance.now() + 3000;
  while (open > 0) {
    assert.ok(performance.now() < deadline, `${open} connection(s) to the removed upstream still open`);
    await new Promise((r) => setTimeout(r, 20));
  }
});

/** POSTs a chunked body with a trailer over a raw socket; resolves with the status. */
function rawPost(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.write('POST /t HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTrailer: x-sum\r\nConnection: close\r\n\r\n4\r\nping\r\n0\r\nx-sum: 1\r\n\r\n');
    });
    let data = '';
    s.on('data', (d) => (data += d.toString('latin1')));
    s.on('end', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0)));
    s.on('error', reject);
  });
}

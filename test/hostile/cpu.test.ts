// Hostile filters, part of test/hostile/: code that never returns, and code that recurses without end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { fixture, startTestGateway, startUpstream } from '../helpers/gateway.ts';


/** A request that may never be answered: resolves with the status, or 0 when the connection is cut. */
function attempt(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get(url, { headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', () => resolve(0));
    });
    req.on('error', () => resolve(0));
    req.setTimeout(10_000, () => req.destroy());
  });
}

test('deep recursion traps (stack overflow): that request fails, the others pass', async (t) => {
  const up = await startUpstream((_req, res) => res.end('ok'));
  const gw = await startTestGateway({
    upstreams: { app: { url: up.url } },
    routes: [{ name: 'default', match: { prefix: '/' }, upstream: 'app' }],
    filters: [{ name: 'hostile', wasm: fixture('hostile-loop') }],
    log: { level: 'fatal' },
  });
  t.after(async () => {
    await gw.stop();
    await up.close();
  });
  const statuses = await Promise.all([attempt(`${gw.url}/r`, { 'x-recurse': '1' }), ...Array.from({ length: 5 }, () => attempt(`${gw.url}/ok`, {}))]);
  assert.ok(statuses[0]! >= 500, `the recursing request failed: ${statuses[0]}`);
  assert.deepEqual(statuses.slice(1), [200, 200, 200, 200, 200]);
  const text = await (await fetch(`${gw.adminUrl}/stats/prometheus`)).text();
  assert.match(text, /^wasmgate_filter_failures_total\{filter="hostile",cause="stack_overflow"\} 1$/m);
});

test('an infinite loop is stopped by the CPU budget (limits.cpu): only its request fails, good traffic flows', async (t) => {
  const up = await startUpstream((_req, res) => res.end('ok'));
  const gw = await startTestGateway({
    upstreams: { app: { url: up.url } },
    routes: [{ name: 'default', match: { prefix: '/' }, upstream: 'app' }],
    filters: [{ name: 'hostile', wasm: fixture('hostile-loop'), limits: { cpu: 5_000_000 } }],
    log: { level: 'fatal' },
  });
  t.after(async () => {
    await gw.stop();
    await up.close();
  });
  const good = Array.from({ length: 20 }, () => attempt(`${gw.url}/ok`, {}));
  const looping = [attempt(`${gw.url}/loop`, { 'x-loop': '1' }), attempt(`${gw.url}/loop`, { 'x-loop': '1' })];
  const statuses = await Promise.all([...good, ...looping]);
  assert.deepEqual(statuses.slice(0, 20), Array(20).fill(200), 'every good request passed');
  for (const s of statuses.slice(20)) assert.ok(s >= 500, `a looping request failed: ${s}`);
  const text = await (await fetch(`${gw.adminUrl}/stats/prometheus`)).text();
  assert.match(text, /^wasmgate_filter_failures_total\{filter="hostile",cause="cpu_exhausted"\} 2$/m);
  assert.equal(gw.supervisor.stuckTerminations, 0, 'the watchdog had nothing to do');
});

test('a worker stuck in a filter call past limits.hard_timeout_ms is terminated and replaced; the gateway keeps serving', async (t) => {
  const up = await startUpstream((_req, res) => res.end('ok'));
  const gw = await startTestGateway({
    workers: 2,
    upstreams: { app: { url: up.url } },
    routes: [{ name: 'default', match: { prefix: '/' }, upstream: 'app' }],
    // metering off: the watchdog is what stops it
    filters: [{ name: 'hostile', wasm: fixture('hostile-loop'), limits: { hard_timeout_ms: 300, cpu: 0 } }],
    log: { level: 'fatal' },
  });
  t.after(async () => {
    await gw.stop();
    await up.close();
  });
  const stuck = attempt(`${gw.url}/loop`, { 'x-loop': '1' });
  // the other worker keeps answering meanwhile; the stuck one is replaced within about the timeout
  const t0 = Date.now();
  assert.equal(await stuck, 0, 'the stuck request is cut');
  assert.ok(Date.now() - t0 < 5000);
  const deadline = Date.now() + 10_000;
  let ok = 0;
  while (ok < 20 && Date.now() < deadline) ok += (await attempt(`${gw.url}/ok`, {})) === 200 ? 1 : 0;
  assert.equal(ok, 20);
  assert.equal(gw.supervisor.stuckTerminations, 1);
});

test('a filter that keeps failing is quarantined: its policy applies without calling it, it is probed back', async (t) => {
  const up = await startUpstream((_req, res) => res.end('ok'));
  const gw = await startTestGateway({
    upstreams: { app: { url: up.url } },
    routes: [{ name: 'default', match: { prefix: '/' }, upstream: 'app' }],
    filters: [{ name: 'hostile', wasm: fixture('hostile-loop'), quarantine: { failures: 3, window_ms: 10000, max_backoff_ms: 60000 } }],
    log: { level: 'fatal' },
  });
  t.after(async () => {
    await gw.stop();
    await up.close();
  });
  // three traps in the window quarantine the filter
  for (let i = 0; i < 3; i++) assert.equal(await attempt(`${gw.url}/r`, { 'x-recurse': '1' }), 503);
  const text = await (await fetch(`${gw.adminUrl}/stats/prometheus`)).text();
  assert.match(text, /^wasmgate_filter_quarantined\{filter="hostile"\} 1$/m);
  assert.match(text, /^wasmgate_filter_quarantines_total\{filter="hostile"\} 1$/m);
  // quarantined and fail closed: even a good request gets 503, without the filter being called
  const calls = (): number => Number(/^wasmgate_filter_calls_total\{filter="hostile",callback="on_request_headers"\} (\d+)$/m.exec(text)?.[1] ?? 0);
  const before = calls();
  assert.equal(await attempt(`${gw.url}/ok`, {}), 503);
  const after = await (await fetch(`${gw.adminUrl}/stats/prometheus`)).text();
  assert.equal(Number(/^wasmgate_filter_calls_total\{filter="hostile",callback="on_request_headers"\} (\d+)$/m.exec(after)?.[1] ?? 0), before);
  // after the first backoff (1 s) a fresh VM is probed and good requests pass again
  await new Promise((r) => setTimeout(r, 1100));
  assert.equal(await attempt(`${gw.url}/ok`, {}), 200);
  const filters = (await (await fetch(`${gw.adminUrl}/filters`)).json()) as { filters: Array<{ quarantines: number }> };
  assert.equal(filters.filters[0]!.quarantines, 1);
});

test('fail_open per class: open on a trap, closed on a spent CPU budget', async (t) => {
  const up = await startUpstream((_req, res) => res.end('ok'));
  const gw = await startTestGateway({
    upstreams: { app: { url: up.url } },
    routes: [{ name: 'default', match: { prefix: '/' }, upstream: 'app' }],
    filters: [{ name: 'hostile', wasm: fixture('hostile-loop'), fail_open: { trap: true, cpu: false }, limits: { cpu: 2_000_000 } }],
    log: { level: 'fatal' },
  });
  t.after(async () => {
    await gw.stop();
    await up.close();
  });
  assert.equal(await attempt(`${gw.url}/r`, { 'x-recurse': '1' }), 200, 'a trap fails open');
  assert.equal(await attempt(`${gw.url}/l`, { 'x-loop': '1' }), 503, 'a spent CPU budget fails closed');
  assert.equal(await attempt(`${gw.url}/ok`, {}), 200);
});

test('fail_open.load and fail_open.start: a broken module or a refused configuration does not keep the gateway from starting', async (t) => {
  const up = await startUpstream((_req, res) => res.end('ok'));
  const gw = await startTestGateway({
    upstreams: { app: { url: up.url } },
    routes: [{ name: 'default', match: { prefix: '/' }, upstream: 'app' }],
    filters: [
      { name: 'broken', wasm: fixture('no-abi'), fail_open: { load: true } },
      // configure.wasm refuses an empty configuration (proxy_on_configure returns false)
      { name: 'refusing', wasm: fixture('configure'), config: '', fail_open: { start: true } },
    ],
    log: { level: 'fatal' },
  });
  t.after(async () => {
    await gw.stop();
    await up.close();
  });
  assert.equal(await attempt(`${gw.url}/ok`, {}), 200);
  const filters = (await (await fetch(`${gw.adminUrl}/filters`)).json()) as { filters: Array<{ name: string; last_error: string; vms: number }> };
  assert.match(filters.filters.find((f) => f.name === 'broken')!.last_error, /could not be loaded/);
  assert.equal(filters.filters.find((f) => f.name === 'refusing')!.vms, 0);
  // without fail_open.start the same configuration refuses to start
  await assert.rejects(
    startTestGateway({
      upstreams: { app: { url: up.url } },
      routes: [{ name: 'default', match: { prefix: '/' }, upstream: 'app' }],
      filters: [{ name: 'refusing', wasm: fixture('configure'), config: '' }],
      log: { level: 'fatal' },
    }),
    /proxy_on_configure returned false/,
  );
});

test('a start section is metered too: one that does work loads and serves, one that never returns is refused', async (t) => {
  const up = await startUpstream((_req, res) => res.end('ok'));
  t.after(() => up.close());
  const gw = await startTestGateway({
    upstreams: { app: { url: up.url } },
    routes: [{ name: 'default', match: { prefix: '/' }, upstream: 'app' }],
    filters: [{ name: 'init', wasm: fixture('start-section') }],
    log: { level: 'fatal' },
  });
  t.after(() => gw.stop());
  const r = await fetch(`${gw.url}/`);
  assert.equal(await r.text(), 'ok');
  assert.equal(r.headers.get('x-init'), '1000');
  await assert.rejects(
    startTestGateway({
      upstreams: { app: { url: up.url } },
      routes: [{ name: 'default', match: { prefix: '/' }, upstream: 'app' }],
      filters: [{ name: 'forever', wasm: fixture('start-forever'), limits: { cpu: 1_000_000 } }],
      log: { level: 'fatal' },
    }),
    /forever[\s\S]*start function trapped; it may have spent its CPU budget/,
  );
});

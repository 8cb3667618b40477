// limits.memory_mb: the module's memory maximum is rewritten before compiling, so a filter that keeps
// growing fails (its VM is replaced) without taking the gateway's memory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixture, startTestGateway, startUpstream } from './helpers/gateway.ts';
import { loadFilterModule } from '../src/wasm/module.ts';


test('a filter that grows past limits.memory_mb fails its request (503), and a fresh VM serves the next', async (t) => {
  const seen: string[] = [];
  const up = await startUpstream((req, res) => {
    seen.push(String(req.headers['x-memory-pages']));
    res.end('ok');
  });
  const gw = await startTestGateway({
    upstreams: { app: { url: up.url } },
    routes: [{ name: 'default', match: { prefix: '/' }, upstream: 'app' }],
    filters: [{ name: 'hog', wasm: fixture('memory-hog'), limits: { memory_mb: 5 } }],
  });
  t.after(async () => {
    await gw.stop();
    await up.close();
  });
  const statuses: number[] = [];
  for (let i = 0; i < 4; i++) {
    const r = await fetch(`${gw.url}/`);
    await r.text();
    statuses.push(r.status);
  }
  // 1 page + 32 per request: 33, 65 pages fit in 5 MiB (80 pages); the third grow would reach 97 pages
  assert.deepEqual(statuses, [200, 200, 503, 200]);
  assert.deepEqual(seen, ['33', '65', '33'], 'the fourth request ran on a fresh VM');
});

test('a host call is charged for the bytes it copies: 100 copies of a 512 KiB body spend a budget that 100 small ones fit in', async (t) => {
  const bodies: number[] = [];
  const up = await startUpstream((req, res) => {
    let n = 0;
    req.on('data', (c: Buffer) => (n += c.length));
    req.on('end', () => {
      bodies.push(n);
      res.end('ok');
    });
  });
  const gw = await startTestGateway({
    upstreams: { app: { url: up.url } },
    routes: [{ name: 'copy', match: { prefix: '/' }, upstream: 'app', filters: ['copy'] }],
    // 1,000,000 units: 100 host calls at the flat 1,000 each fit; 100 × 512 KiB at 4 bytes a unit do not
    filters: [{ name: 'copy', wasm: fixture('host-copy-loop'), limits: { cpu: 1_000_000 } }],
  });
  t.after(async () => {
    await gw.stop();
    await up.close();
  });
  const small = await fetch(`${gw.url}/small`, { method: 'POST', body: Buffer.alloc(2048, 'a') });
  assert.equal(small.status, 200);
  await small.text();
  assert.deepEqual(bodies, [2048]);
  const big = await fetch(`${gw.url}/big`, { method: 'POST', body: Buffer.alloc(512 * 1024, 'a') });
  assert.equal(big.status, 503);
  assert.equal(await big.text(), 'filter failed\n');
  assert.deepEqual(bodies, [2048], 'the big request never reached the upstream');
  const text = await (await fetch(`${gw.adminUrl}/stats/prometheus`)).text();
  assert.match(text, /^wasmgate_filter_failures_total\{filter="copy",cause="cpu_exhausted"\} 1$/m);
});

test('a module whose initial memory is over limits.memory_mb is refused at load, naming the limit', async () => {
  await assert.rejects(loadFilterModule(fixture('big-memory'), { memoryLimitBytes: 8 * 1048576 }), /its memory starts at 16 MiB, over the filter's limits\.memory_mb of 8/);
  const ok = await loadFilterModule(fixture('big-memory'), { memoryLimitBytes: 64 * 1048576 });
  assert.equal(ok.memoryMaxBytes, 64 * 1048576);
});

test('a filter looping around a costly host call spends its CPU budget: 503 for its request, counted, the worker keeps serving', async (t) => {
  const up = await startUpstream((_req, res) => res.end('ok'));
  const gw = await startTestGateway({
    upstreams: { app: { url: up.url } },
    routes: [
      { name: 'loop', match: { prefix: '/loop' }, upstream: 'app', filters: ['loop'] },
      { name: 'default', match: { prefix: '/' }, upstream: 'app', filters: [] },
    ],
    filters: [{ name: 'loop', wasm: fixture('host-loop') }],
  });
  t.after(async () => {
    await gw.stop();
    await up.close();
  });
  const r = await fetch(`${gw.url}/loop`);
  assert.equal(r.status, 503);
  assert.equal(await r.text(), 'filter failed\n');
  const ok = await fetch(`${gw.url}/other`);
  assert.equal(ok.status, 200);
  await ok.text();
  const text = await (await fetch(`${gw.adminUrl}/stats/prometheus`)).text();
  assert.match(text, /^wasmgate_filter_failures_total\{filter="loop",cause="cpu_exhausted"\} 1$/m);
});

// Hostile filters, part of test/hostile/: hostile requests mixed into good traffic through the same
// gateway and the same filters. Each hostile request gets its defined status, every good one succeeds,
// each failure is counted once, and the process's memory stays bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Pool } from 'undici';
import { fixture, startTestGateway, startUpstream } from '../helpers/gateway.ts';


test('loops, recursion and memory bombs among good requests: zero good failures, each failure counted once', async (t) => {
  const up = await startUpstream((_req, res) => res.end('ok'));
  const quarantine = { failures: 1000 }; // this test counts failures; quarantine has its own test
  const gw = await startTestGateway({
    workers: 2,
    upstreams: { app: { url: up.url } },
    routes: [
      { name: 'bomb', match: { prefix: '/bomb' }, upstream: 'app', filters: ['hostile', 'hog'] },
      { name: 'default', match: { prefix: '/' }, upstream: 'app', filters: ['hostile'] },
    ],
    filters: [
      { name: 'hostile', wasm: fixture('hostile-loop'), limits: { cpu: 2_000_000 }, quarantine },
      { name: 'hog', wasm: fixture('memory-hog'), limits: { memory_mb: 3 }, quarantine },
    ],
    log: { level: 'fatal' },
  });
  const pool = new Pool(gw.url, { connections: 16 });
  t.after(async () => {
    await pool.close();
    await gw.stop();
    await up.close();
  });
  const rssBefore = process.memoryUsage().rss;
  const send = async (path: string, headers: Record<string, string> = {}): Promise<number> => {
    const r = await pool.request({ method: 'GET', path, headers });
    await r.body.text();
    return r.statusCode;
  };
  for (let round = 0; round < 3; round++) {
    const jobs: Array<Promise<{ kind: string; status: number }>> = [];
    for (let i = 0; i < 60; i++) jobs.push(send('/good').then((status) => ({ kind: 'good', status })));
    for (let i = 0; i < 4; i++) jobs.push(send('/loop', { 'x-loop': '1' }).then((status) => ({ kind: 'loop', status })));
    for (let i = 0; i < 4; i++) jobs.push(send('/recurse', { 'x-recurse': '1' }).then((status) => ({ kind: 'recurse', status })));
    for (let i = 0; i < 4; i++) jobs.push(send('/bomb').then((status) => ({ kind: 'bomb', status })));
    const results = await Promise.all(jobs);
    for (const r of results) {
      if (r.kind === 'good') assert.equal(r.status, 200, 'a good request failed');
      else if (r.kind === 'bomb') assert.ok(r.status === 200 || r.status === 503, `bomb: ${r.status}`);
      else assert.equal(r.status, 503, `${r.kind}: ${r.status}`);
    }
  }
  const stats = (await (await fetch(`${gw.adminUrl}/stats`)).json()) as {
    classes: Record<string, number>;
    filters: Record<string, { failures: Record<string, number>; failed_streams: number; vms: number }>;
  };
  const h = stats.filters['hostile']!;
  assert.equal(h.failures['cpu_exhausted'], 12, 'every loop counted once');
  assert.equal(h.failures['stack_overflow'], 12, 'every recursion counted once');
  // the memory bomb fails when memory.grow is refused at 3 MiB (its own `unreachable`), then a fresh VM
  // starts over: every failure is one failed request
  const hog = stats.filters['hog']!;
  const hogFailures = Object.values(hog.failures).reduce((a, b) => a + b, 0);
  assert.ok(hogFailures >= 1, JSON.stringify(hog.failures));
  assert.equal(hog.failed_streams, hogFailures);
  assert.equal(stats.classes['2xx']! + stats.classes['5xx']!, 3 * 72, 'every request answered');
  const growthMb = (process.memoryUsage().rss - rssBefore) / 1048576;
  assert.ok(growthMb < 256, `process memory grew ${growthMb.toFixed(0)} MiB`);
});

// Worker threads sharing one port, their supervision, and the admin endpoints.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request } from 'undici';
import { startUpstream, startTestGateway, type TestGateway, type TestUpstream } from './helpers/gateway.ts';

let upstream: TestUpstream;
let gw: TestGateway;

before(async () => {
  upstream = await startUpstream((_req, res) => res.end('ok'));
  gw = await startTestGateway({
    workers: 2,
    upstreams: { main: { url: upstream.url } },
    routes: [
      { name: 'hello', match: { path: '/hello' }, direct_response: { status: 200, body: 'hi' } },
      { name: 'fail', match: { path: '/fail' }, direct_response: { status: 503, body: 'down' } },
      { name: 'main', match: { prefix: '/' }, upstream: 'main' },
    ],
  });
});

after(async () => {
  await gw.stop();
  await upstream.close();
});

interface Stats {
  workers: number;
  worker_restarts: number;
  requests: number;
  classes: Record<string, number>;
  routes: Record<string, { requests: number; classes: Record<string, number> }>;
  upstreams: Record<string, { requests: number }>;
  per_worker: Array<{ worker: number; requests: number }>;
}
const stats = async (): Promise<Stats> => (await (await fetch(`${gw.adminUrl}/stats`)).json()) as Stats;

test('two workers both serve: new connections are spread over them by the kernel', async () => {
  for (let i = 0; i < 40; i++) {
    // a fresh connection each time (reusePort balances connections, not requests)
    const agent = new Agent({ connections: 1 });
    const res = await request(`${gw.url}/x${i}`, { dispatcher: agent });
    assert.equal(await res.body.text(), 'ok');
    await agent.close();
  }
  const s = await stats();
  assert.equal(s.workers, 2);
  assert.equal(s.per_worker.length, 2);
  for (const w of s.per_worker) assert.ok(w.requests > 0, `worker ${w.worker} served ${w.requests}`);
});

test('/stats counts requests by status class, per route and per upstream', async () => {
  const before = await stats();
  await (await request(`${gw.url}/hello`)).body.text();
  await (await request(`${gw.url}/fail`)).body.text();
  await (await request(`${gw.url}/up`)).body.text();
  const s = await stats();
  assert.equal(s.requests - before.requests, 3);
  assert.equal(s.classes['5xx']! - before.classes['5xx']!, 1);
  assert.equal(s.routes.hello!.requests - before.routes.hello!.requests, 1);
  assert.equal(s.routes.fail!.classes['5xx']! - before.routes.fail!.classes['5xx']!, 1);
  assert.equal(s.upstreams.main!.requests - before.upstreams.main!.requests, 1);
});

test('/stats/prometheus exposes the same counters in the text format', async () => {
  const res = await fetch(`${gw.adminUrl}/stats/prometheus`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type')!, /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  const s = await stats();
  const line = (re: RegExp) => Number(text.match(re)?.[1]);
  assert.equal(line(/^wasmgate_route_requests_total\{route="hello",class="2xx"\} (\d+)$/m), s.routes.hello!.classes['2xx']);
  assert.match(text, /^# TYPE wasmgate_requests_total counter$/m);
  assert.match(text, /^wasmgate_workers 2$/m);
  // every sample line is name{labels} value
  for (const l of text.split('\n')) if (l !== '' && !l.startsWith('#')) assert.match(l, /^[a-z_:][a-z0-9_:]*(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? -?\d+(\.\d+)?$/, l);
});

test('/config_dump shows the effective configuration with defaults filled', async () => {
  const cfg = (await (await fetch(`${gw.adminUrl}/config_dump`)).json()) as {
    workers: number;
    upstreams: Record<string, { connections: number; connect_timeout_ms: number }>;
    routes: Array<{ name: string }>;
  };
  assert.equal(cfg.workers, 2);
  assert.equal(cfg.upstreams.main!.connections, 64);
  assert.equal(cfg.upstreams.main!.connect_timeout_ms, 2000);
  assert.deepEqual(cfg.routes.map((r) => r.name), ['hello', 'fail', 'main']);
});

test('a worker that dies is replaced; /ready is 503 until it listens again', async () => {
  assert.equal((await fetch(`${gw.adminUrl}/ready`)).status, 200);
  await gw.supervisor.terminateWorkerForTesting(1);
  assert.equal((await fetch(`${gw.adminUrl}/ready`)).status, 503);
  let ready = 503;
  for (let i = 0; i < 100 && ready !== 200; i++) {
    await new Promise((r) => setTimeout(r, 50));
    ready = (await fetch(`${gw.adminUrl}/ready`)).status;
  }
  assert.equal(ready, 200);
  const s = await stats();
  assert.equal(s.worker_restarts, 1);
  assert.equal(s.workers, 2);
  assert.equal(await (await request(`${gw.url}/again`)).body.text(), 'ok');
});

test('unknown admin paths are 404 and writes are refused', async () => {
  assert.equal((await fetch(`${gw.adminUrl}/nope`)).status, 404);
  assert.equal((await fetch(`${gw.adminUrl}/stats`, { method: 'DELETE' })).status, 405);
});

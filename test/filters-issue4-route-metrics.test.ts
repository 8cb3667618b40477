// The route-metrics filter (filters/route-metrics) end to end: real requests through two workers, then
// the admin port's /stats/prometheus scraped and parsed. Skipped, with the reason, when this build
// answers the metric calls with Unimplemented (the filter then counts nothing).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { startTestGateway, startUpstream } from './helpers/gateway.ts';
import { loadFilterModule } from '../src/wasm/module.ts';
import { linkReportOf } from '../src/wasm/host/index.ts';

const wasm = (name: string): string => fileURLToPath(new URL(`../filters/${name}.wasm`, import.meta.url));

/** The probe: does this build implement the metric imports the filter links (or stub them)? */
async function metricsMissing(): Promise<string | false> {
  const link = linkReportOf(await loadFilterModule(wasm('route-metrics')));
  const stubbed = link.unimplemented.filter((i) => i.includes('metric'));
  return stubbed.length > 0 ? `this build answers ${stubbed.join(', ')} with Unimplemented: route-metrics counts nothing` : false;
}
const skip = await metricsMissing();

/** One request on its own connection, so the kernel spreads them over the workers. */
function get(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
  });
}

/** `name{labels} value` lines of a Prometheus text exposition, as {name, labels, value}. */
function parsePrometheus(text: string): Array<{ name: string; labels: Record<string, string>; value: number }> {
  const out = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m === null) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

test('route-metrics: responses by route and status class, latency, requests in flight — exact over 2 workers', { skip }, async (t) => {
  let release: (() => void) | undefined;
  const app = await startUpstream((req, res) => {
    const url = req.url ?? '';
    if (url.startsWith('/orders/fail')) res.statusCode = 500;
    else if (url.startsWith('/orders/missing')) res.statusCode = 404;
    else if (url.startsWith('/orders/moved')) {
      res.statusCode = 302;
      res.setHeader('location', '/orders');
    }
    if (url.startsWith('/slow')) {
      setTimeout(() => res.end('slow'), 300);
      return;
    }
    if (url.startsWith('/orders/held')) {
      release = () => res.end('held');
      return;
    }
    res.end('app');
  });
  const gw = await startTestGateway({
    workers: 2,
    upstreams: { app: { url: app.url } },
    routes: [
      { name: 'hello', match: { path: '/hello' }, direct_response: { status: 200, body: 'hello\n' } },
      { name: 'api.v1', match: { prefix: '/api' }, upstream: 'app' },
      { name: 'orders', match: { prefix: '/orders' }, upstream: 'app' },
      { name: 'slow', match: { prefix: '/slow' }, upstream: 'app' },
    ],
    filters: [{ name: 'route-metrics', wasm: wasm('route-metrics') }],
  });
  t.after(async () => {
    release?.();
    await gw.stop();
    await app.close();
  });
  const scrape = async () => parsePrometheus(await (await fetch(`${gw.adminUrl}/stats/prometheus`)).text());
  const value = (samples: Awaited<ReturnType<typeof scrape>>, name: string, labels: Record<string, string>): number | undefined =>
    samples.find((s) => s.name === name && Object.entries({ filter: 'route-metrics', ...labels }).every(([k, v]) => s.labels[k] === v))?.value;

  // 40 concurrent 2xx on one route, spread over both workers: the counter is exact
  const statuses = await Promise.all(Array.from({ length: 40 }, () => get(`${gw.url}/orders`)));
  assert.ok(statuses.every((s) => s === 200));
  const perWorker = ((await (await fetch(`${gw.adminUrl}/stats`)).json()) as { per_worker: Array<{ requests: number }> }).per_worker;
  assert.ok(perWorker.every((w) => w.requests > 0), `both workers served: ${JSON.stringify(perWorker.map((w) => w.requests))}`);

  // the other classes, a gateway answer (direct_response), no route (404), a route name with a dot
  assert.equal(await get(`${gw.url}/orders/fail`), 500);
  assert.equal(await get(`${gw.url}/orders/fail`), 500);
  assert.equal(await get(`${gw.url}/orders/missing`), 404);
  assert.equal(await get(`${gw.url}/orders/moved`), 302);
  assert.equal(await get(`${gw.url}/slow`), 200);
  assert.equal(await get(`${gw.url}/hello`), 200);
  assert.equal(await get(`${gw.url}/nowhere`), 404);
  assert.equal(await get(`${gw.url}/api/x`), 200);

  let s = await scrape();
  const responses = 'wasmcustom_route_responses_total';
  assert.equal(value(s, responses, { route: 'orders', class: '2xx' }), 40);
  assert.equal(value(s, responses, { route: 'orders', class: '3xx' }), 1);
  assert.equal(value(s, responses, { route: 'orders', class: '4xx' }), 1);
  assert.equal(value(s, responses, { route: 'orders', class: '5xx' }), 2);
  assert.equal(value(s, responses, { route: 'orders', class: '1xx' }), 0);
  assert.equal(value(s, responses, { route: 'hello', class: '2xx' }), 1);
  assert.equal(value(s, responses, { route: '_unmatched', class: '4xx' }), 1);
  assert.equal(value(s, responses, { route: 'api_v1', class: '2xx' }), 1, 'a dot in a route name becomes _ (label values cannot hold dots)');
  const types = (await (await fetch(`${gw.adminUrl}/stats/prometheus`)).text()).split('\n').filter((l) => l.startsWith('# TYPE wasmcustom_'));
  assert.deepEqual(types.sort(), [
    '# TYPE wasmcustom_route_requests_active gauge',
    '# TYPE wasmcustom_route_response_time_ms histogram',
    '# TYPE wasmcustom_route_responses_total counter',
  ]);

  // latency: one sample per response, in whole ms; the 300 ms one is above the 250 ms bucket
  const latency = 'wasmcustom_route_response_time_ms';
  assert.equal(value(s, `${latency}_count`, { route: 'orders' }), 44);
  assert.equal(value(s, `${latency}_bucket`, { route: 'orders', le: '+Inf' }), 44);
  assert.equal(value(s, `${latency}_count`, { route: 'slow' }), 1);
  assert.equal(value(s, `${latency}_bucket`, { route: 'slow', le: '250' }), 0);
  assert.equal(value(s, `${latency}_bucket`, { route: 'slow', le: '+Inf' }), 1);
  assert.ok(value(s, `${latency}_sum`, { route: 'slow' })! >= 300);
  assert.equal(value(s, `${latency}_count`, { route: 'hello' }), 1);

  // in flight: up while the upstream holds a response, back to 0 when it is done
  const active = 'wasmcustom_route_requests_active';
  assert.equal(value(s, active, { route: 'orders' }), 0);
  const held = get(`${gw.url}/orders/held`);
  for (let i = 0; i < 100 && release === undefined; i++) await new Promise((r) => setTimeout(r, 10));
  s = await scrape();
  assert.equal(value(s, active, { route: 'orders' }), 1);
  release!();
  assert.equal(await held, 200);
  s = await scrape();
  assert.equal(value(s, active, { route: 'orders' }), 0);
  assert.equal(value(s, responses, { route: 'orders', class: '2xx' }), 41);

  // a client that leaves before the response: counted as class "none", and no longer in flight
  release = undefined;
  const gone = http.get(`${gw.url}/orders/held`, { agent: false });
  gone.on('error', () => undefined);
  for (let i = 0; i < 100 && release === undefined; i++) await new Promise((r) => setTimeout(r, 10));
  gone.destroy();
  for (let i = 0; i < 100; i++) {
    s = await scrape();
    if (value(s, active, { route: 'orders' }) === 0) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.equal(value(s, active, { route: 'orders' }), 0);
  assert.equal(value(s, responses, { route: 'orders', class: 'none' }), 1);
});

test('route-metrics: any configuration other than none or {} is refused', async () => {
  await assert.rejects(
    startTestGateway({
      upstreams: { app: { url: 'http://127.0.0.1:1' } },
      routes: [{ name: 'default', match: { prefix: '/' }, upstream: 'app' }],
      filters: [{ name: 'route-metrics', wasm: wasm('route-metrics'), config: { prefix: 'x' } }],
    }),
    (err: Error) => err.message.includes('route-metrics: invalid configuration'),
  );
});

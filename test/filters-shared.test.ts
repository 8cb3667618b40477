// Shared data, shared queues and metrics across worker threads, through real requests: one filter
// (fixtures/wasm/shared.wat) answers each request locally with the result of what its path asks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Pool } from 'undici';
import { fixture, startTestGateway, startUpstream } from './helpers/gateway.ts';
import { SharedStore } from '../src/wasm/shared/store.ts';
import { metricName } from '../src/admin/filter-metrics.ts';


async function startShared(t: { after(fn: () => Promise<void>): void }, extra: Record<string, unknown> = {}) {
  const gw = await startTestGateway({
    workers: 2,
    upstreams: { app: { url: 'http://127.0.0.1:1' } },
    routes: [{ name: 'default', match: { prefix: '/' }, upstream: 'app' }],
    filters: [{ name: 'shared', wasm: fixture('shared') }],
    ...extra,
  });
  // many connections, so that both workers (reusePort) take some
  const pool = new Pool(gw.url, { connections: 32, pipelining: 1 });
  t.after(async () => {
    await pool.close();
    await gw.stop();
  });
  const get = async (path: string): Promise<string> => {
    const r = await pool.request({ method: 'GET', path });
    assert.equal(r.statusCode, 200);
    return r.body.text();
  };
  return { gw, get };
}

test('shared data: a CAS counter incremented by concurrent requests on two workers is exact', async (t) => {
  const { gw, get } = await startShared(t);
  assert.equal(await get('/g'), 'none');
  const N = 400;
  // the key is created first, alone: a set on a missing key succeeds whatever its cas (as in Envoy), so two
  // workers creating it at once would both win; from then on every increment is a CAS
  const answers = [await get('/i')];
  answers.push(...(await Promise.all(Array.from({ length: N - 1 }, () => get('/i')))));
  assert.equal(await get('/g'), String(N));
  // every increment saw a distinct value: none was lost or doubled
  assert.deepEqual(
    answers.map(Number).sort((a, b) => a - b),
    Array.from({ length: N }, (_, i) => i + 1),
  );
  const stats = (await (await fetch(`${gw.adminUrl}/stats`)).json()) as { per_worker: Array<{ requests: number }> };
  assert.equal(stats.per_worker.length, 2);
  assert.ok(stats.per_worker.every((w) => w.requests > 0), `both workers served: ${JSON.stringify(stats.per_worker)}`);
});

test('shared queues: items enqueued on any worker are dequeued on any, once; the registrant is told', async (t) => {
  const { get } = await startShared(t);
  const enqueued = await Promise.all(Array.from({ length: 20 }, () => get('/e')));
  assert.deepEqual(new Set(enqueued), new Set(['0']));
  const items = await Promise.all(Array.from({ length: 30 }, () => get('/d')));
  assert.equal(items.filter((i) => i === 'item').length, 20);
  assert.equal(items.filter((i) => i === 'empty').length, 10);
  // proxy_on_queue_ready went to the root that registered last, in whichever worker that is
  await new Promise((r) => setTimeout(r, 100));
  const ready = await Promise.all(Array.from({ length: 40 }, () => get('/r')));
  assert.ok(ready.map(Number).some((n) => n === 20), `one worker's root got 20 notifications: ${[...new Set(ready)].join(',')}`);
});

test('metrics: counters, gauges and histograms are process-wide and exported in Prometheus text', async (t) => {
  const { gw, get } = await startShared(t);
  const N = 50;
  await Promise.all(Array.from({ length: N }, () => get('/m')));
  assert.equal(await get('/m'), String(N + 1), 'proxy_get_metric reads the process-wide value');
  const text = await (await fetch(`${gw.adminUrl}/stats/prometheus`)).text();
  assert.match(text, /^# TYPE wasmcustom_hits_total counter$/m);
  assert.match(text, new RegExp(`^wasmcustom_hits_total\\{filter="shared",kind="test"\\} ${N + 1}$`, 'm'));
  assert.match(text, /^# TYPE wasmcustom_level gauge$/m);
  assert.match(text, /^wasmcustom_level\{filter="shared"\} 42$/m);
  assert.match(text, /^# TYPE wasmcustom_latency_ms histogram$/m);
  assert.match(text, /^wasmcustom_latency_ms_bucket\{filter="shared",le="5"\} 0$/m);
  assert.match(text, new RegExp(`^wasmcustom_latency_ms_bucket\\{filter="shared",le="10"\\} ${N + 1}$`, 'm'));
  assert.match(text, new RegExp(`^wasmcustom_latency_ms_bucket\\{filter="shared",le="\\+Inf"\\} ${N + 1}$`, 'm'));
  assert.match(text, new RegExp(`^wasmcustom_latency_ms_sum\\{filter="shared"\\} ${7 * (N + 1)}$`, 'm'));
  assert.match(text, new RegExp(`^wasmcustom_latency_ms_count\\{filter="shared"\\} ${N + 1}$`, 'm'));
  // every line is a comment or `name{labels} value` as the exposition format wants
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    assert.match(line, /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? -?[0-9.e+]+$/, line);
  }
});

test('ticks run in every worker’s VM, each on its own', async (t) => {
  const { get } = await startShared(t);
  await new Promise((r) => setTimeout(r, 300));
  const answers = await Promise.all(Array.from({ length: 60 }, () => get('/t')));
  const byVm = new Map<string, number>();
  for (const a of answers) {
    const [tag, ticks] = a.split(':');
    byVm.set(tag!, Math.max(byVm.get(tag!) ?? 0, Number(ticks)));
  }
  assert.equal(byVm.size, 2, `two VMs (one per worker) answered: ${answers.slice(0, 6).join(' ')}`);
  // 20 ms period, ≥ 300 ms: each VM ticked many times, but not in a busy loop
  for (const [tag, ticks] of byVm) assert.ok(ticks >= 5 && ticks <= 60, `${tag}: ${ticks} ticks`);
});

test('metric names: dotted key=value segments become labels, the rest the name', () => {
  assert.deepEqual(metricName('f', 'requests.route=api.class=2xx'), { name: 'wasmcustom_requests', labels: [['filter', 'f'], ['route', 'api'], ['class', '2xx']] });
  assert.deepEqual(metricName('f', 'a-b.c'), { name: 'wasmcustom_a_b_c', labels: [['filter', 'f']] });
  assert.deepEqual(metricName('f', 'x.filter=y.9k=v'), { name: 'wasmcustom_x', labels: [['filter', 'f'], ['tag_filter', 'y'], ['_9k', 'v']] });
});

test('the shared store: CAS rules, a bounded size, compaction of replaced values', () => {
  const store = new SharedStore(SharedStore.create({ maxEntries: 16, maxBytes: 4096 }));
  const k = Buffer.from('key');
  assert.equal(store.get(k), undefined);
  assert.equal(store.set(k, Buffer.from('v1'), 12345), 'ok', 'a missing key is created whatever the cas');
  const first = store.get(k)!;
  assert.equal(first.value.toString(), 'v1');
  assert.equal(store.set(k, Buffer.from('v2'), first.cas + 1), 'cas_mismatch');
  assert.equal(store.set(k, Buffer.from('v2'), first.cas), 'ok');
  assert.notEqual(store.get(k)!.cas, first.cas, 'every set gets a new cas');
  assert.equal(store.set(k, Buffer.from('v3'), 0), 'ok', 'cas 0 is unconditional');
  // growing values over and over: compaction reclaims the replaced bytes
  for (let i = 0; i < 200; i++) assert.equal(store.set(k, Buffer.alloc(100 + (i % 50), i), 0), 'ok');
  // the entry limit and the byte limit both refuse, never grow
  for (let i = 0; i < 15; i++) assert.equal(store.set(Buffer.from(`k${i}`), Buffer.from('x'), 0), 'ok');
  assert.equal(store.set(Buffer.from('one-too-many'), Buffer.from('x'), 0), 'full');
  assert.equal(store.set(Buffer.from('k0'), Buffer.alloc(5000), 0), 'full');
  assert.equal(store.get(Buffer.from('k0'))!.value.toString(), 'x', 'a refused set changes nothing');
  // a key given as prefix + key is the same key as its bytes joined (VMs look keys up in place this way)
  const store2 = new SharedStore(SharedStore.create({ maxEntries: 16, maxBytes: 4096 }));
  assert.equal(store2.set(Buffer.from('key'), Buffer.from('p1'), 0, Buffer.from('Dvm\0')), 'ok');
  assert.equal(store2.get(Buffer.from('Dvm\0key'))!.value.toString(), 'p1');
  assert.equal(store2.get(Buffer.from('key'), Buffer.from('Dvm\0'))!.value.toString(), 'p1');
  assert.equal(store2.get(Buffer.from('key'), Buffer.from('Dother\0')), undefined, 'another prefix is another key');
  assert.equal(store2.get(Buffer.from('ey'), Buffer.from('Dvm\0k'))!.value.toString(), 'p1', 'only the bytes count, not where they are split');
});

test('a filter that defines metrics without end gets a quarter of the table; the other filters still get theirs', async (t) => {
  const up = await startUpstream((_req, res) => res.end('ok'));
  const gw = await startTestGateway({
    upstreams: { app: { url: up.url } },
    routes: [{ name: 'default', match: { prefix: '/' }, upstream: 'app' }],
    filters: [
      { name: 'hog', wasm: fixture('metrics-hog') },
      { name: 'good', wasm: fixture('metric-counter') },
    ],
  });
  t.after(async () => {
    await gw.stop();
    await up.close();
  });
  const r = await fetch(`${gw.url}/x`);
  assert.equal(r.status, 200);
  await r.text();
  const text = await (await fetch(`${gw.adminUrl}/stats/prometheus`)).text();
  assert.match(text, /^wasmcustom_good_requests\{filter="good"\} 1$/m);
  const hog = text.split('\n').filter((l) => l.startsWith('wasmcustom_hog_') && !l.startsWith('#')).length;
  assert.ok(hog > 0 && hog <= 8192 / 4, `${hog} hog metrics`);
});

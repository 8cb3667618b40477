// The rate-limit filter (filters/rate-limit) end to end: token buckets in shared data, exact across
// worker threads. Skipped, with the reason, when this build answers shared data with Unimplemented (the
// filter then fails open and there is nothing to measure).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { startTestGateway, startUpstream } from './helpers/gateway.ts';
import { loadFilterModule } from '../src/wasm/module.ts';
import { linkReportOf } from '../src/wasm/host/index.ts';

const wasm = (name: string): string => fileURLToPath(new URL(`../filters/${name}.wasm`, import.meta.url));

/** The probe: does this build implement the shared-data imports the filter links (or stub them)? */
async function sharedDataMissing(): Promise<string | false> {
  const link = linkReportOf(await loadFilterModule(wasm('rate-limit')));
  const stubbed = link.unimplemented.filter((i) => i.includes('shared_data'));
  return stubbed.length > 0 ? `this build answers ${stubbed.join(', ')} with Unimplemented: rate-limit fails open` : false;
}
const skip = await sharedDataMissing();

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
}

/** One request on its own connection (no keep-alive), so the kernel spreads them over the workers. */
function get(url: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    });
    req.on('error', reject);
  });
}

async function gatewayWith(config: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  let served = 0;
  const app = await startUpstream((_req, res) => {
    served++;
    res.end('app');
  });
  const gw = await startTestGateway({
    upstreams: { app: { url: app.url } },
    routes: [{ name: 'default', match: { prefix: '/' }, upstream: 'app' }],
    filters: [{ name: 'rate-limit', wasm: wasm('rate-limit'), config }],
    ...extra,
  });
  return {
    gw,
    served: () => served,
    stop: async () => {
      await gw.stop();
      await app.close();
    },
  };
}

test('rate-limit: 30 concurrent requests over 2 workers, burst 10: exactly 10 pass', { skip }, async (t) => {
  // 0.1 token/s: no token comes back while the test runs, so the count is exact, not "about 10"
  const { gw, served, stop } = await gatewayWith({ key: 'header:x-api-key', requests_per_second: 0.1, burst: 10 }, { workers: 2 });
  t.after(stop);

  const answers = await Promise.all(Array.from({ length: 30 }, () => get(`${gw.url}/x`, { 'x-api-key': 'key-a' })));
  const passed = answers.filter((a) => a.status === 200);
  const limited = answers.filter((a) => a.status === 429);
  assert.equal(passed.length, 10, `passed: ${answers.map((a) => a.status).join(' ')}`);
  assert.equal(limited.length, 20);
  assert.equal(served(), 10, 'the upstream saw only the requests that passed');

  // every token was taken exactly once: the remaining counts are 9..0, each once
  assert.deepEqual(
    passed.map((a) => Number(a.headers['x-ratelimit-remaining'])).sort((a, b) => a - b),
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  );
  for (const a of passed) assert.equal(a.headers['x-ratelimit-limit'], '10');
  for (const a of limited) {
    assert.equal(a.headers['retry-after'], '10', 'one token every 10 s');
    assert.equal(a.headers['x-ratelimit-limit'], '10');
    assert.equal(a.headers['x-ratelimit-remaining'], '0');
    assert.equal(a.headers['x-ratelimit-reset'], '100', 'the whole bucket refills in 100 s');
  }

  // both workers served some of them (else the test would prove nothing about sharing)
  const stats = (await (await fetch(`${gw.adminUrl}/stats`)).json()) as { per_worker: Array<{ requests: number }> };
  assert.equal(stats.per_worker.length, 2);
  for (const w of stats.per_worker) assert.ok(w.requests > 0, `a worker served no request: ${JSON.stringify(stats.per_worker.map((x) => x.requests))}`);

  // another key has its own bucket
  assert.equal((await get(`${gw.url}/x`, { 'x-api-key': 'key-b' })).status, 200);
  assert.equal((await get(`${gw.url}/x`, { 'x-api-key': 'key-a' })).status, 429);
});

test('rate-limit: tokens come back at the configured rate', { skip }, async (t) => {
  const { gw, stop } = await gatewayWith({ key: 'header:x-api-key', requests_per_second: 2, burst: 2 });
  t.after(stop);
  const h = { 'x-api-key': 'refill' };
  assert.equal((await get(`${gw.url}/`, h)).status, 200);
  assert.equal((await get(`${gw.url}/`, h)).status, 200);
  const over = await get(`${gw.url}/`, h);
  assert.equal(over.status, 429);
  assert.equal(over.headers['retry-after'], '1', 'a token in at most 500 ms, rounded up to a second');
  await new Promise((r) => setTimeout(r, 600)); // one token (every 500 ms), not two
  const again = await get(`${gw.url}/`, h);
  assert.equal(again.status, 200);
  assert.equal(again.headers['x-ratelimit-remaining'], '0');
  assert.equal((await get(`${gw.url}/`, h)).status, 429);
});

test('rate-limit: keyed by client address (port stripped); a request without the key header falls back to it', { skip }, async (t) => {
  const { gw, stop } = await gatewayWith({ key: 'source.address', requests_per_second: 0.1, burst: 3 });
  t.after(stop);
  // every request comes from a new connection, so a new port: the port must not be part of the key
  const statuses = [];
  for (let i = 0; i < 5; i++) statuses.push((await get(`${gw.url}/`)).status);
  assert.deepEqual(statuses, [200, 200, 200, 429, 429]);

  const byHeader = await gatewayWith({ key: 'header:x-api-key', requests_per_second: 0.1, burst: 1 });
  t.after(byHeader.stop);
  assert.equal((await get(`${byHeader.gw.url}/`)).status, 200, 'no header: the address bucket');
  assert.equal((await get(`${byHeader.gw.url}/`)).status, 429, 'no header again: the same address bucket');
  assert.equal((await get(`${byHeader.gw.url}/`, { 'x-api-key': 'k' })).status, 200, 'a key has its own bucket');
  const long = 'k'.repeat(500); // hashed into the store key
  assert.equal((await get(`${byHeader.gw.url}/`, { 'x-api-key': long })).status, 200);
  assert.equal((await get(`${byHeader.gw.url}/`, { 'x-api-key': long })).status, 429);
});

test('rate-limit: a full shared-data store lets new keys through (fail open), known keys stay limited', { skip }, async (t) => {
  const { gw, stop } = await gatewayWith(
    { key: 'header:x-api-key', requests_per_second: 0.1, burst: 1 },
    { shared_data: { max_entries: 16, max_bytes: 4096 } },
  );
  t.after(stop);
  for (let i = 0; i < 16; i++) {
    const a = await get(`${gw.url}/`, { 'x-api-key': `k${i}` });
    assert.equal(a.status, 200);
    assert.equal(a.headers['x-ratelimit-remaining'], '0', `key ${i} is counted`);
  }
  const overflow = await get(`${gw.url}/`, { 'x-api-key': 'k16' });
  assert.equal(overflow.status, 200, 'fails open');
  assert.equal(overflow.headers['x-ratelimit-limit'], undefined, 'not counted: no rate-limit headers');
  assert.equal((await get(`${gw.url}/`, { 'x-api-key': 'k3' })).status, 429, 'a known key is still limited');
});

test('rate-limit: a configuration it refuses stops the gateway from starting, with the filter’s reason', async () => {
  for (const [config, reason] of [
    [{ burst: 5 }, 'requests_per_second: expected a number above 0'],
    [{ requests_per_second: 0 }, 'requests_per_second: expected a number above 0'],
    [{ requests_per_second: 1, burst: 1.5 }, 'burst: expected an integer from 1 to 1000000'],
    [{ requests_per_second: 1, key: 'cookie:uid' }, 'key: expected "source.address" or "header:<name>", got "cookie:uid"'],
    [{ requests_per_second: 1, key: 'header:' }, 'key: "header:": expected a header name after header:'],
    [{ requests_per_second: 1, limit: 3 }, 'limit: unknown field'],
  ] as const) {
    await assert.rejects(
      startTestGateway({
        upstreams: { app: { url: 'http://127.0.0.1:1' } },
        routes: [{ name: 'default', match: { prefix: '/' }, upstream: 'app' }],
        filters: [{ name: 'rate-limit', wasm: wasm('rate-limit'), config }],
      }),
      (err: Error) => err.message.includes(`rate-limit: invalid configuration: ${reason}`),
      reason,
    );
  }
});

// Hostile filters, part of test/hostile/: every way to fail (an endless loop, `unreachable`, endless
// recursion, an out-of-bounds read, a memory bomb) in every callback, one filter per callback
// (test/fixtures/wasm/hostile-matrix.wat), with good traffic through the same gateway at the same time.
// Each hostile request gets its defined outcome, every good request succeeds, each failure is counted
// once under its cause, and a failure at start refuses the filter (or, with fail_open.start, skips it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { fixture, rawRequest, startTestGateway, startUpstream } from '../helpers/gateway.ts';

const ACTIONS = {
  l: 'cpu_exhausted',
  t: 'unreachable',
  r: 'stack_overflow',
  o: 'memory_access',
  m: 'memory_exhausted',
} as const;

/** Stream callbacks and the status of the request that meets the failure there (fail closed). */
const STREAM = { cc: 503, rh: 503, rb: 503, rt: 503, sh: 503, sb: 503, st: 'reset', lg: 200, dn: 200, dl: 200 } as const;

function get(url: string, method = 'GET', body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = http.request(url, { method, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      res.on('error', () => resolve({ status: 0, body: text }));
    });
    req.on('error', () => resolve({ status: 0, body: '' }));
    req.setTimeout(10_000, () => req.destroy());
    req.end(body);
  });
}

const limits = { cpu: 2_000_000, memory_mb: 2 };
const quarantine = { failures: 1000 }; // each failure is counted here; quarantine has its own test

for (const [how, cause] of Object.entries(ACTIONS)) {
  test(`"${how}" (${cause}) in every callback: the request it ran for gets its defined outcome, good traffic flows, each failure counted once`, async (t) => {
    const up = await startUpstream((req, res) => {
      req.resume();
      req.on('end', () => {
        if (req.url === '/st') {
          res.writeHead(200, { trailer: 'x-up-trailer' });
          res.write('ok');
          res.addTrailers({ 'x-up-trailer': '1' });
          res.end();
        } else res.end('ok');
      });
    });
    const codes = [...Object.keys(STREAM), 'tk', 'vs', 'cf'];
    const gw = await startTestGateway({
      upstreams: { app: { url: up.url } },
      routes: [
        ...codes.map((code) => ({ name: code, match: { path: `/${code}` }, upstream: 'app', filters: [code] })),
        { name: 'good', match: { prefix: '/' }, upstream: 'app', filters: [] },
      ],
      filters: codes.map((code) => ({
        name: code,
        wasm: fixture('hostile-matrix'),
        ...(code === 'vs' ? { vm_config: `vs:${how}` } : { config: `${code}:${how}` }),
        limits,
        quarantine,
        ...(code === 'vs' || code === 'cf' ? { fail_open: { start: true } } : {}),
      })),
      log: { level: 'fatal' },
    });
    t.after(async () => {
      await gw.stop();
      await up.close();
    });

    let goodFailures = 0;
    let goodSent = 0;
    let stop = false;
    const good = (async () => {
      while (!stop) {
        goodSent++;
        const r = await get(`${gw.url}/good`);
        if (r.status !== 200 || r.body !== 'ok') goodFailures++;
      }
    })();

    t.after(async () => {
      stop = true;
      await good;
    });
    const outcomes: Record<string, number | string> = {};
    await Promise.all(
      Object.keys(STREAM).map(async (code) => {
        if (code === 'rt') {
          // a chunked request body with trailers, as bytes on the wire
          const raw = await rawRequest(
            gw.port,
            'POST /rt HTTP/1.1\r\nHost: gw\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nx-req-trailer: 1\r\n\r\n',
          );
          outcomes[code] = raw.status;
        } else if (code === 'st') {
          // the response head and body left before the trailers: a failure there can only reset the stream
          const raw = await rawRequest(gw.port, 'GET /st HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n');
          outcomes[code] = /\r\n0\r\n/.test(raw.raw) ? `${raw.status} complete` : 'reset';
        } else {
          const r = await get(`${gw.url}/${code}`, code === 'rb' ? 'POST' : 'GET', code === 'rb' ? 'hello' : undefined);
          outcomes[code] = r.status;
          if (r.status === 503) assert.equal(r.body, 'filter failed\n', code);
        }
      }),
    );
    assert.deepEqual(outcomes, STREAM);

    // a failing tick: the VM is replaced for the next request; a request never waits on a tick
    await new Promise((r) => setTimeout(r, 100));
    const tick = await get(`${gw.url}/tk`);
    assert.ok(tick.status === 200 || tick.status === 503, `tk: ${tick.status}`);
    await new Promise((r) => setTimeout(r, 100));
    // a VM that fails at start (on_vm_start, on_configure) is skipped with fail_open.start
    assert.equal((await get(`${gw.url}/vs`)).status, 200);
    assert.equal((await get(`${gw.url}/cf`)).status, 200);

    stop = true;
    await good;
    assert.ok(goodSent > 0);
    assert.equal(goodFailures, 0, `${goodFailures} of ${goodSent} good requests failed`);

    const stats = (await (await fetch(`${gw.adminUrl}/stats`)).json()) as {
      filters: Record<string, { failures: Record<string, number>; failed_streams: number }>;
    };
    for (const code of Object.keys(STREAM)) {
      assert.deepEqual(stats.filters[code]!.failures, { [cause]: 1 }, `${code}: counted once as ${cause}`);
    }
    assert.ok((stats.filters['tk']!.failures[cause] ?? 0) >= 1, `tk: ${JSON.stringify(stats.filters['tk']!.failures)}`);
    const filters = (await (await fetch(`${gw.adminUrl}/filters`)).json()) as { filters: Array<{ name: string; vms: number; last_failure: string }> };
    for (const code of ['vs', 'cf']) {
      const f = filters.filters.find((x) => x.name === code)!;
      assert.equal(f.vms, 0, `${code} never started`);
      assert.match(f.last_failure, /^start failed: .+/, `${code} says why`);
    }
  });
}

test('a loop in proxy_on_configure without fail_open.start: the gateway refuses to start and says the CPU budget was spent', async (t) => {
  const up = await startUpstream((_req, res) => res.end('ok'));
  t.after(() => up.close());
  await assert.rejects(
    startTestGateway({
      upstreams: { app: { url: up.url } },
      routes: [{ name: 'default', match: { prefix: '/' }, upstream: 'app' }],
      filters: [{ name: 'spin', wasm: fixture('hostile-matrix'), config: 'cf:l', limits: { cpu: 2_000_000 } }],
      log: { level: 'fatal' },
    }),
    /spin[\s\S]*CPU budget/,
  );
});

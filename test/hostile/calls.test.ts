// Hostile filters, part of test/hostile/: host calls used the wrong way (test/fixtures/wasm/hostile-calls.wat)
// — local replies with impossible statuses, injected or absurd header lists and out-of-memory bodies, a
// million headers, a body appended to without end, proxy_done from a stream, two local replies and a
// close in one callback, an outbound call flood and a call to an undeclared upstream. Each call gets its
// defined status, the gateway its defined answer, and nothing unbounded reaches the wire or the heap.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { fixture, rawRequest, startTestGateway, startUpstream, type TestGateway, type TestUpstream } from '../helpers/gateway.ts';

let up: TestUpstream;
let gw: TestGateway;
let upstreamRequests = 0;

before(async () => {
  up = await startUpstream((req, res) => {
    upstreamRequests++;
    req.resume();
    // what the filter reported in x-result, or ok
    req.on('end', () => res.end(req.headers['x-result'] ?? 'ok'));
  });
  gw = await startTestGateway({
    server: { max_buffer_bytes: 65536 },
    upstreams: { app: { url: up.url, connections: 16 } },
    routes: [{ name: 'default', match: { prefix: '/' }, upstream: 'app', filters: ['calls'] }],
    // a budget for a million host calls in one callback (each costs HOST_CALL_FUEL): what is checked here
    // is the bound each host call keeps, not the CPU budget
    filters: [{ name: 'calls', wasm: fixture('hostile-calls'), limits: { cpu: 5_000_000_000 } }],
    log: { level: 'info' },
  });
});

after(async () => {
  await gw.stop();
  await up.close();
});

function get(c: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${gw.url}/`, { headers: { 'x-case': c }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
  });
}

test('local replies with an impossible status, injected or absurd headers, or a body outside memory: refused, the request goes on', async () => {
  const r = await get('s');
  assert.equal(r.status, 200);
  // status 1000 and 99: BadArgument; CRLF in a header: BadArgument; 1,000,000 pairs in 12 bytes:
  // BadArgument; a body past the end of memory, a wrapping pointer: InvalidMemoryAccess
  assert.equal(r.body, 'ccccgg');
});

test('proxy_done from a stream context: NotFound, nothing else happens', async () => {
  const r = await get('d');
  assert.equal(r.status, 200);
  assert.equal(r.body, 'b');
});

test('two local replies, a continue and a close of an unknown stream type in one callback: the first reply is sent, once', async () => {
  const before = upstreamRequests;
  const r = await get('r');
  // the body of the first reply: continue_stream Ok, close_stream(99) BadArgument
  assert.equal(r.status, 403);
  assert.equal(r.body, 'ac');
  assert.equal(upstreamRequests, before, 'the upstream never saw it');
  assert.equal((await get('d')).status, 200, 'the VM is fine');
});

test('a million headers added to a response: the map stops at 60 KiB (BadArgument after), the response goes out with them', async () => {
  const raw = await rawRequest(gw.port, 'GET / HTTP/1.1\r\nHost: gw\r\nx-case: m\r\nConnection: close\r\n\r\n');
  assert.equal(raw.status, 200);
  const [count, last] = raw.body.split(':');
  const added = raw.raw.split('\r\n').filter((l) => l === 'x-h: v').length;
  assert.equal(added, Number(count), 'every header the filter was told it added is on the wire');
  assert.ok(added > 7000 && added < 7680, `${added} headers of 8 bytes fit in 60 KiB`);
  assert.equal(last, 'c', 'BadArgument once the map is full');
});

test('a body appended to 100,000 times: it stops at twice server.max_buffer_bytes (BadArgument after), the response is whole', async () => {
  const r = await get('b');
  assert.equal(r.status, 200);
  assert.equal(r.body.length, 2 + 127 * 1024, '2 bytes + 127 KiB fit in 128 KiB');
  assert.match(r.body, /^127:cz+$/, '127 appends Ok, then BadArgument');
});

test('2000 outbound calls from one callback: 1024 go (the rest InternalFailure at once), an undeclared upstream is refused', async () => {
  const before = upstreamRequests;
  const r = await get('c');
  assert.equal(r.status, 200);
  assert.equal(r.body, '1024:k:c', 'the 1025th call: InternalFailure; an undeclared upstream: BadArgument');
  // the calls are answered: the upstream sees all of them (and the request itself)
  const deadline = Date.now() + 10_000;
  while (upstreamRequests - before < 1025 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
  assert.equal(upstreamRequests - before, 1025);
  // once answered, calls can be made again
  const again = await get('c');
  assert.equal(again.status, 200);
});

test('clocks: a filter reads time no finer than limits.clock_resolution_us (1 ms by default, finer when granted)', async (t) => {
  const clockUp = await startUpstream((_req, res) => res.end('ok'));
  const clockGw = await startTestGateway({
    upstreams: { app: { url: clockUp.url } },
    routes: [
      { name: 'fine', match: { prefix: '/fine' }, upstream: 'app', filters: ['fine'] },
      { name: 'default', match: { prefix: '/' }, upstream: 'app', filters: ['coarse'] },
    ],
    filters: [
      { name: 'coarse', wasm: fixture('clock') },
      { name: 'fine', wasm: fixture('clock'), limits: { clock_resolution_us: 1 } },
    ],
  });
  t.after(async () => {
    await clockGw.stop();
    await clockUp.close();
  });
  const read = async (path: string) => {
    const r = await fetch(`${clockGw.url}${path}`);
    await r.text();
    return ['x-wall', 'x-realtime', 'x-monotonic', 'x-resolution'].map((h) => BigInt(r.headers.get(h)!));
  };
  const before = BigInt(Date.now() - 1) * 1_000_000n;
  const coarse = await read('/');
  const after = BigInt(Date.now() + 1) * 1_000_000n;
  for (const ns of coarse.slice(0, 3)) assert.equal(ns % 1_000_000n, 0n, `${ns} is whole milliseconds`);
  assert.equal(coarse[3], 1_000_000n, 'clock_res_get says 1 ms');
  assert.ok(coarse[0]! >= before && coarse[0]! <= after, 'the wall clock is right');
  // with 1 µs granted, readings are not all whole milliseconds
  let fine = false;
  for (let i = 0; i < 5 && !fine; i++) {
    const v = await read('/fine');
    assert.equal(v[3], 1000n);
    fine = v.slice(0, 3).some((ns) => ns % 1_000_000n !== 0n);
    for (const ns of v.slice(0, 3)) assert.equal(ns % 1000n, 0n, 'whole microseconds');
  }
  assert.ok(fine, 'microsecond readings with clock_resolution_us: 1');
});

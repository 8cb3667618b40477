// The example filters (filters/*, AssemblyScript against filters/sdk) end to end: real upstreams, the real
// gateway with its worker, real requests. `npm test` builds them first (npm run build:filters).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import type { IncomingHttpHeaders } from 'node:http';
import { startTestGateway, startUpstream, type TestUpstream } from './helpers/gateway.ts';

const wasm = (name: string): string => fileURLToPath(new URL(`../filters/${name}.wasm`, import.meta.url));

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** An upstream that records what it received and answers with a header the filters may remove. */
async function recordingUpstream(): Promise<{ up: TestUpstream; seen: Seen[] }> {
  const seen: Seen[] = [];
  const up = await startUpstream((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      res.setHeader('x-internal-debug', 'secret');
      res.setHeader('content-type', 'text/plain');
      res.end(`upstream saw ${req.url}\n`);
    });
  });
  return { up, seen };
}

test('add-headers: request headers set/added/removed before the upstream, response headers on every answer', async (t) => {
  const { up, seen } = await recordingUpstream();
  const gw = await startTestGateway({
    upstreams: { app: { url: up.url } },
    routes: [
      { name: 'hello', match: { path: '/hello' }, direct_response: { status: 200, body: 'hello\n' } },
      { name: 'default', match: { prefix: '/' }, upstream: 'app' },
    ],
    filters: [
      {
        name: 'add-headers',
        wasm: wasm('add-headers'),
        config: {
          request: { set: { 'x-gateway': 'wasmgate' }, add: { 'x-tag': 'two' }, remove: ['x-secret'] },
          response: { add: { 'x-powered-by': 'wasmgate' }, remove: ['x-internal-debug'] },
        },
      },
    ],
  });
  t.after(async () => {
    await gw.stop();
    await up.close();
  });

  const res = await fetch(`${gw.url}/orders?id=7`, { headers: { 'x-secret': 'do-not-forward', 'x-gateway': 'spoofed', 'x-tag': 'one' } });
  assert.equal(res.status, 200);
  assert.equal(await res.text(), 'upstream saw /orders?id=7\n');
  assert.equal(res.headers.get('x-powered-by'), 'wasmgate');
  assert.equal(res.headers.get('x-internal-debug'), null, 'removed from the response');
  const got = seen[0]!;
  assert.equal(got.headers['x-gateway'], 'wasmgate', 'set replaces what the client sent');
  assert.equal(got.headers['x-tag'], 'one, two', 'add appends');
  assert.equal(got.headers['x-secret'], undefined, 'removed before the upstream');

  // the gateway's own answers go through the response phase too
  const hello = await fetch(`${gw.url}/hello`);
  assert.equal(await hello.text(), 'hello\n');
  assert.equal(hello.headers.get('x-powered-by'), 'wasmgate');
  // and carry the request id, as they do without filters
  assert.equal(hello.headers.get('x-request-id')?.length, 36);
});

test('add-headers: a :path no HTTP/1.1 request line can carry is answered 503 at once, the upstream never asked', async (t) => {
  const { up, seen } = await recordingUpstream();
  const gw = await startTestGateway({
    upstreams: { app: { url: up.url } },
    routes: [{ name: 'default', match: { prefix: '/' }, upstream: 'app' }],
    filters: [{ name: 'add-headers', wasm: wasm('add-headers'), config: { request: { set: { ':path': '/a b' } } } }],
  });
  t.after(async () => {
    await gw.stop();
    await up.close();
  });
  // a bodyless GET and a POST: the refusal comes while the request is being handed to the upstream pool
  for (const init of [{}, { method: 'POST', body: 'x' }]) {
    const res = await fetch(`${gw.url}/x`, { ...init, signal: AbortSignal.timeout(5000) });
    assert.equal(res.status, 503);
    assert.equal(await res.text(), 'upstream unavailable\n');
    assert.equal(res.headers.get('x-request-id')?.length, 36);
  }
  assert.equal(seen.length, 0);
});

test('add-headers: a configuration it refuses stops the gateway from starting, with the filter’s reason', async () => {
  await assert.rejects(
    startTestGateway({
      upstreams: { app: { url: 'http://127.0.0.1:1' } },
      routes: [{ name: 'default', match: { prefix: '/' }, upstream: 'app' }],
      filters: [{ name: 'add-headers', wasm: wasm('add-headers'), config: '{"response": {"add": 42}}' }],
    }),
    (err: Error) => {
      assert.match(err.message, /filter "add-headers": proxy_on_configure returned false/);
      assert.match(err.message, /\[error\]/, 'the filter’s own log line comes with it');
      return true;
    },
  );
});

test('ab-router: a stable variant per user, routing on it, a cookie for new users', async (t) => {
  const { up, seen } = await recordingUpstream();
  const gw = await startTestGateway({
    upstreams: { app: { url: up.url } },
    routes: [
      { name: 'checkout-b', match: { prefix: '/checkout', headers: [{ name: 'x-variant', exact: 'b' }] }, upstream: 'app', prefix_rewrite: '/checkout-b' },
      { name: 'default', match: { prefix: '/' }, upstream: 'app' },
    ],
    filters: [
      {
        name: 'ab-router',
        wasm: wasm('ab-router'),
        config: { experiment: 'checkout', cookie: 'uid', header: 'x-variant', variants: [{ name: 'a', weight: 50 }, { name: 'b', weight: 50 }] },
      },
    ],
  });
  t.after(async () => {
    await gw.stop();
    await up.close();
  });

  // a new user gets an id cookie and a variant
  const first = await fetch(`${gw.url}/checkout/cart`);
  await first.text();
  const variant = first.headers.get('x-experiment-variant');
  assert.ok(variant === 'a' || variant === 'b', String(variant));
  const cookie = first.headers.get('set-cookie') ?? '';
  const m = /^uid=([^;]+);/.exec(cookie);
  assert.ok(m !== null, cookie);
  assert.match(cookie, /Path=\//);
  assert.equal(seen[0]!.url, variant === 'b' ? '/checkout-b/cart' : '/checkout/cart', 'routed on the variant header');
  assert.equal(seen[0]!.headers['x-variant'], variant);

  // the same user always gets the same variant, whatever x-variant the client sends, and no new cookie
  for (let i = 0; i < 10; i++) {
    const again = await fetch(`${gw.url}/checkout`, { headers: { cookie: `theme=dark; uid=${m![1]}`, 'x-variant': 'zzz' } });
    await again.text();
    assert.equal(again.headers.get('x-experiment-variant'), variant);
    assert.equal(again.headers.get('set-cookie'), null);
  }

  // users spread over both variants by weight
  const counts: Record<string, number> = { a: 0, b: 0 };
  for (let i = 0; i < 200; i++) {
    const r = await fetch(`${gw.url}/`, { headers: { cookie: `uid=user-${i}` } });
    await r.text();
    counts[r.headers.get('x-experiment-variant')!]!++;
  }
  assert.ok(counts.a! > 60 && counts.b! > 60, JSON.stringify(counts));
});

test('json-transform: a JSON body is buffered, rewritten and sent with its new length; bad JSON gets 400', async (t) => {
  const { up, seen } = await recordingUpstream();
  const gw = await startTestGateway({
    upstreams: { app: { url: up.url } },
    routes: [{ name: 'default', match: { prefix: '/' }, upstream: 'app' }],
    server: { max_buffer_bytes: 64 * 1024 },
    filters: [
      {
        name: 'json-transform',
        wasm: wasm('json-transform'),
        config: { rename: { '/user_name': '/username' }, remove: ['/password'], set: { '/source': 'wasmgate', '/meta/n': 1 } },
      },
    ],
  });
  t.after(async () => {
    await gw.stop();
    await up.close();
  });

  const body = JSON.stringify({ user_name: 'ada', password: 'hunter2', items: [1, 2, 3], note: 'é ✓' });
  const res = await fetch(`${gw.url}/signup`, { method: 'POST', headers: { 'content-type': 'application/json; charset=utf-8' }, body });
  assert.equal(res.status, 200);
  await res.text();
  const got = seen.at(-1)!;
  assert.deepEqual(JSON.parse(got.body), { username: 'ada', items: [1, 2, 3], note: 'é ✓', source: 'wasmgate', meta: { n: 1 } });
  assert.equal(got.headers['content-length'], String(Buffer.byteLength(got.body)), 'the rewritten body goes with its exact length');

  // a body in many chunks is buffered whole before the rewrite
  const big = JSON.stringify({ password: 'x', blob: 'y'.repeat(40_000) });
  const chunked = await fetch(`${gw.url}/big`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: new ReadableStream({
      start(c) {
        for (let i = 0; i < big.length; i += 4096) c.enqueue(new TextEncoder().encode(big.slice(i, i + 4096)));
        c.close();
      },
    }),
    duplex: 'half',
  } as RequestInit);
  assert.equal(chunked.status, 200);
  await chunked.text();
  assert.deepEqual(JSON.parse(seen.at(-1)!.body), { blob: 'y'.repeat(40_000), source: 'wasmgate', meta: { n: 1 } });

  // the output is compact with minimal escapes whether a part was edited or passed through untouched
  // (untouched parts already in that form are copied as they are; the others are re-written)
  const loose = String.raw`{ "user_name" : "ada", "password":"x", "a":{"b": [1, 2.50, {"c":"\/\u0041\n\u001f\u001F"}]}, "d":{"e":"q\"\\\té"}, "f":[ ], "g":{"h":"\ud83d\ude00 \udc00"}, "k":{"l":-1e5,"m":[true,false,null]} }`;
  const looseRes = await fetch(`${gw.url}/loose`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: loose });
  assert.equal(looseRes.status, 200);
  await looseRes.text();
  assert.equal(
    seen.at(-1)!.body,
    String.raw`{"a":{"b":[1,2.50,{"c":"/A\n\u001f\u001f"}]},"d":{"e":"q\"\\\té"},"f":[],"g":{"h":"😀 \udc00"},"k":{"l":-1e5,"m":[true,false,null]},"username":"ada","source":"wasmgate","meta":{"n":1}}`,
  );

  // invalid JSON never reaches the upstream
  const before = seen.length;
  const bad = await fetch(`${gw.url}/signup`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"user_name": ' });
  assert.equal(bad.status, 400);
  assert.equal(bad.headers.get('content-type'), 'application/json');
  assert.deepEqual(await bad.json(), { error: 'invalid JSON body' });
  assert.equal(seen.length, before);

  // other content types pass untouched
  const text = await fetch(`${gw.url}/raw`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{"password":"stays"}' });
  await text.text();
  assert.equal(seen.at(-1)!.body, '{"password":"stays"}');

  // a body over the gateway's buffer limit is refused with 413, not buffered without bound
  const huge = await fetch(`${gw.url}/huge`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ a: 'z'.repeat(200_000) }) });
  assert.equal(huge.status, 413);
  await huge.text();
  assert.equal(seen.at(-1)!.url, '/raw');
});

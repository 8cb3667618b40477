// Routing and proxy semantics through a real gateway to a real upstream.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import net from 'node:net';
import { request } from 'undici';
import { startUpstream, startTestGateway, rawRequest, type TestGateway, type TestUpstream } from './helpers/gateway.ts';

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  body: string;
  trailers: Record<string, string>;
}

let upstream: TestUpstream;
let other: TestUpstream;
let raw304: net.Server;
let gw: TestGateway;
const seen: Seen[] = [];

before(async () => {
  upstream = await startUpstream((req, res) => {
    let body = '';
    req.setEncoding('latin1');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, rawHeaders: req.rawHeaders, body, trailers: req.trailers as Record<string, string> });
      const url = req.url!;
      if (url.startsWith('/status/')) {
        res.writeHead(Number(url.slice(8)), { 'x-upstream': 'main', etag: '"abc"' });
        res.end(url.includes('204') || url.includes('304') ? undefined : 'should not be sent');
        return;
      }
      if (url === '/hop') {
        res.writeHead(200, { connection: 'x-secret, keep-alive', 'x-secret': 'hidden', 'keep-alive': 'timeout=5', 'proxy-authenticate': 'Basic', 'x-kept': 'yes' });
        res.end('hop');
        return;
      }
      if (url === '/trailers') {
        res.writeHead(200, { 'content-type': 'text/plain', trailer: 'x-checksum' });
        res.write('part1;');
        res.addTrailers({ 'x-checksum': 'abc123' });
        res.end('part2');
        return;
      }
      if (url === '/request-id') {
        res.writeHead(200, { 'x-request-id': 'from-upstream' });
        res.end('ok');
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain', 'x-upstream': 'main' });
      res.end(req.method === 'HEAD' ? undefined : `main ${url}`);
    });
  });
  other = await startUpstream((req, res) => {
    res.writeHead(200, { 'x-upstream': 'other' });
    res.end(`other ${req.url}`);
  });
  // a 304 with the content-length of the representation it stands for (RFC 9110 §8.6 allows it)
  raw304 = net.createServer((sock) => {
    sock.on('error', () => sock.destroy());
    sock.once('data', () => sock.write('HTTP/1.1 304 Not Modified\r\nETag: "x"\r\nContent-Length: 5\r\n\r\n'));
  });
  await new Promise<void>((r) => raw304.listen(0, '127.0.0.1', r));
  gw = await startTestGateway({
    server: { via: 'wasmgate' },
    upstreams: {
      raw304: { url: `http://127.0.0.1:${(raw304.address() as net.AddressInfo).port}` },
      main: { url: upstream.url },
      other: { url: other.url },
      based: { url: `${other.url}/base/` },
    },
    routes: [
      { name: 'hello', match: { path: '/hello' }, direct_response: { status: 200, body: 'hello\n', headers: { 'content-type': 'text/plain', 'x-direct': '1' } } },
      { name: 'teapot', match: { path: '/teapot', methods: ['POST'] }, direct_response: { status: 418, body: 'short and stout' } },
      { name: 'nocontent', match: { path: '/nocontent' }, direct_response: { status: 204, body: 'never sent' } },
      { name: 'canary', match: { prefix: '/app', headers: [{ name: 'X-Canary', exact: '1' }] }, upstream: 'other' },
      { name: 'not-beta', match: { prefix: '/beta', headers: [{ name: 'x-beta', present: true, invert: true }] }, direct_response: { status: 403, body: 'beta only' } },
      { name: 'secret', match: { path: '/secret' }, direct_response: { status: 403, body: 'no' } },
      { name: 'raw304', match: { path: '/raw304' }, upstream: 'raw304' },
      { name: 'regex', match: { regex: '/items/[0-9]+' }, upstream: 'other' },
      { name: 'rewrite', match: { prefix: '/api/' }, upstream: 'main', prefix_rewrite: '/v2/', host_rewrite: 'api.internal' },
      { name: 'based', match: { prefix: '/based/' }, upstream: 'based', prefix_rewrite: '/' },
      { name: 'app', match: { prefix: '/' }, upstream: 'main' },
    ],
  });
});

after(async () => {
  await gw.stop();
  await upstream.close();
  await other.close();
  raw304.close();
});

async function get(path: string, headers: Record<string, string> = {}, method = 'GET') {
  const res = await request(`${gw.url}${path}`, { method: method as 'GET', headers });
  const body = await res.body.text();
  return { status: res.statusCode, headers: res.headers, body, trailers: res.trailers };
}

test('direct_response answers locally with its status, headers, body and a request id', async () => {
  const r = await get('/hello');
  assert.equal(r.status, 200);
  assert.equal(r.body, 'hello\n');
  assert.equal(r.headers['content-type'], 'text/plain');
  assert.equal(r.headers['x-direct'], '1');
  assert.match(String(r.headers['x-request-id']), /^[0-9a-f-]{36}$/);
});

test('a direct_response 204 carries no body and no content-length', async () => {
  const r = await rawRequest(gw.port, 'GET /nocontent HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  assert.equal(r.status, 204);
  assert.equal(r.body, '');
  assert.equal(r.headers.get('content-length'), undefined);
  assert.ok(r.headers.get('x-request-id'));
});

test('routes match in order: exact path, methods, headers (with invert), regex, prefix', async () => {
  assert.equal((await get('/teapot', {}, 'POST')).status, 418);
  assert.equal((await get('/teapot')).body, 'main /teapot', 'GET does not match a POST-only route');
  assert.equal((await get('/app/x', { 'x-canary': '1' })).body, 'other /app/x');
  assert.equal((await get('/app/x', { 'x-canary': '0' })).body, 'main /app/x');
  assert.equal((await get('/beta/x')).status, 403);
  assert.equal((await get('/beta/x', { 'x-beta': 'yes' })).body, 'main /beta/x');
  assert.equal((await get('/items/42?x=1')).body, 'other /items/42?x=1', 'regex matches the path without the query');
  assert.equal((await get('/items/4x2')).body, 'main /items/4x2', 'regex is anchored');
});

test('no matching route gives 404 with a short body and a request id', async () => {
  const gw2 = await startTestGateway({ upstreams: {}, routes: [{ name: 'only', match: { path: '/only' }, direct_response: { status: 200 } }] });
  try {
    const res = await request(`${gw2.url}/elsewhere`);
    assert.equal(res.statusCode, 404);
    assert.equal(await res.body.text(), 'no route matched\n');
    assert.ok(res.headers['x-request-id']);
  } finally {
    await gw2.stop();
  }
});

test('prefix_rewrite and host_rewrite; the query string is kept byte for byte', async () => {
  seen.length = 0;
  const r = await get('/api/users?q=a%20b&x=%2F&&y=;z=1');
  assert.equal(r.body, 'main /v2/users?q=a%20b&x=%2F&&y=;z=1');
  assert.equal(seen[0]!.headers.host, 'api.internal');
});

test('Host is kept when the route does not rewrite it; an upstream url path is prepended', async () => {
  seen.length = 0;
  await get('/plain', { host: 'shop.example.com' });
  assert.equal(seen[0]!.headers.host, 'shop.example.com');
  assert.equal((await get('/based/x?y=1')).body, 'other /base/x?y=1');
});

test('hop-by-hop request headers are removed, the rest is forwarded in order', async () => {
  seen.length = 0;
  const res = await rawRequest(
    gw.port,
    'GET /hdrs HTTP/1.1\r\nHost: a.test\r\nConnection: close, X-Private\r\nX-Private: secret\r\nKeep-Alive: timeout=9\r\n' +
      'TE: trailers\r\nProxy-Authorization: Basic Zm9v\r\nUpgrade: h2c\r\nX-First: 1\r\nX-Second: 2\r\nX-First: 3\r\n\r\n',
  );
  assert.equal(res.status, 200);
  const h = seen[0]!.headers;
  for (const name of ['x-private', 'keep-alive', 'te', 'proxy-authorization', 'upgrade']) assert.equal(h[name], undefined, name);
  const names = seen[0]!.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
  assert.deepEqual(
    names.filter((n) => n === 'x-first' || n === 'x-second'),
    ['x-first', 'x-second', 'x-first'],
  );
  assert.equal(h['x-first'], '1, 3');
});

test('hop-by-hop response headers are removed, including the ones Connection names', async () => {
  const r = await get('/hop');
  assert.equal(r.headers['x-secret'], undefined);
  assert.equal(r.headers['proxy-authenticate'], undefined);
  assert.equal(r.headers['x-kept'], 'yes');
  assert.equal(r.body, 'hop');
});

test('x-forwarded-for/-proto/-host are appended; via is added both ways', async () => {
  seen.length = 0;
  const r = await get('/xff', { 'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'edge.example', host: 'inner.example', via: '1.0 edge' });
  const h = seen[0]!.headers;
  assert.equal(h['x-forwarded-for'], '203.0.113.7, 127.0.0.1');
  assert.equal(h['x-forwarded-proto'], 'https, http');
  assert.equal(h['x-forwarded-host'], 'edge.example, inner.example');
  assert.equal(h.via, '1.0 edge, 1.1 wasmgate');
  assert.equal(r.headers.via, '1.1 wasmgate');
  seen.length = 0;
  await rawRequest(gw.port, 'GET /xff2 HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 10.0.0.1\r\nX-Forwarded-For: 10.0.0.2\r\nConnection: close\r\n\r\n');
  assert.equal(seen[0]!.headers['x-forwarded-for'], '10.0.0.1, 10.0.0.2, 127.0.0.1', 'the client address goes last, after every hop');
});

test('x-request-id is generated when absent, propagated when present, and returned to the client', async () => {
  seen.length = 0;
  const a = await get('/rid');
  const generated = String(a.headers['x-request-id']);
  assert.match(generated, /^[0-9a-f-]{36}$/);
  assert.equal(seen[0]!.headers['x-request-id'], generated);
  const b = await get('/rid', { 'x-request-id': 'abc-123' });
  assert.equal(seen[1]!.headers['x-request-id'], 'abc-123');
  assert.equal(b.headers['x-request-id'], 'abc-123');
  const c = await get('/request-id', { 'x-request-id': 'mine' });
  assert.equal(c.headers['x-request-id'], 'from-upstream', 'an upstream-set id is not overwritten');
});

test('HEAD, 204 and 304 responses carry no body', async () => {
  const head = await rawRequest(gw.port, 'HEAD /thing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  assert.equal(head.status, 200);
  assert.equal(head.body, '');
  for (const code of [204, 304]) {
    const r = await rawRequest(gw.port, `GET /status/${code} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    assert.equal(r.status, code);
    assert.equal(r.body, '');
    assert.equal(r.headers.get('x-upstream'), 'main');
  }
});

test('response trailers are forwarded', async () => {
  const r = await get('/trailers');
  assert.equal(r.body, 'part1;part2');
  assert.equal(r.trailers['x-checksum'], 'abc123');
});

test('request trailers are forwarded', async () => {
  seen.length = 0;
  const res = await rawRequest(
    gw.port,
    'POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTrailer: x-digest\r\nConnection: close\r\n\r\n' +
      '5\r\nhello\r\n0\r\nx-digest: sha-256=xyz\r\n\r\n',
  );
  assert.equal(res.status, 200);
  assert.equal(seen[0]!.body, 'hello');
  assert.equal(seen[0]!.trailers['x-digest'], 'sha-256=xyz');
});

test('Expect: 100-continue gets a 100 and the body is forwarded', async () => {
  seen.length = 0;
  const res = await rawRequest(
    gw.port,
    'POST /continue HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\nConnection: close\r\n\r\nping',
  );
  assert.match(res.raw, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
  assert.equal(seen[0]!.body, 'ping');
  assert.equal(seen[0]!.headers.expect, undefined);
});

test('pipelined requests on one connection are answered in order', async () => {
  const res = await rawRequest(
    gw.port,
    'GET /one HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\nGET /three HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  );
  const bodies = res.raw.match(/main \/one|hello\n|main \/three/g);
  assert.deepEqual(bodies, ['main /one', 'hello\n', 'main /three']);
});

test('keep-alive: many requests reuse one downstream connection', async () => {
  const before = (await (await fetch(`${gw.adminUrl}/stats`)).json()) as { downstream: { connections_total: number } };
  const res = await rawRequest(
    gw.port,
    Array.from({ length: 5 }, (_, i) => `GET /k${i} HTTP/1.1\r\nHost: x\r\n${i === 4 ? 'Connection: close\r\n' : ''}\r\n`).join(''),
  );
  assert.equal(res.raw.match(/HTTP\/1\.1 200/g)?.length, 5);
  const after = (await (await fetch(`${gw.adminUrl}/stats`)).json()) as { downstream: { connections_total: number } };
  assert.equal(after.downstream.connections_total - before.downstream.connections_total, 1);
});

test('WebSocket upgrades are routed, then tunnelled both ways once the upstream answers 101; other upgrades get 403, h2c is served as HTTP/1.1', async () => {
  const net = await import('node:net');
  const up = await startUpstream((_req, res) => res.end('not upgraded'));
  const upgraded: Array<{ url: string; headers: IncomingHttpHeaders }> = [];
  up.server.on('upgrade', (req, socket) => {
    upgraded.push({ url: req.url!, headers: req.headers });
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    socket.on('data', (c: Buffer) => socket.write(c));
    socket.on('end', () => socket.end());
  });
  const gw2 = await startTestGateway({
    upstreams: { up: { url: up.url } },
    routes: [
      { name: 'ws', match: { prefix: '/ws/' }, upstream: 'up', prefix_rewrite: '/socket/' },
      { name: 'nope', match: { prefix: '/' }, direct_response: { status: 404, body: 'nothing here' } },
    ],
  });
  try {
    const sock = net.connect(gw2.port, '127.0.0.1');
    let got = '';
    sock.setEncoding('latin1');
    sock.on('data', (c: string) => {
      got += c;
      if (got.endsWith('\r\n\r\n') && got.startsWith('HTTP/1.1 101')) sock.write('ping through the tunnel');
      if (got.endsWith('ping through the tunnel')) sock.end();
    });
    sock.write('GET /ws/chat?room=1 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, X-Secret\r\nX-Secret: s\r\nProxy-Authorization: Basic eA==\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n');
    await new Promise((r) => sock.on('close', r));
    assert.match(got, /^HTTP\/1\.1 101 /);
    assert.ok(got.endsWith('ping through the tunnel'));
    assert.equal(upgraded[0]!.url, '/socket/chat?room=1');
    assert.equal(upgraded[0]!.headers.upgrade, 'websocket');
    assert.ok(upgraded[0]!.headers['x-request-id']);
    assert.equal(upgraded[0]!.headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(upgraded[0]!.headers.host, 'x');
    assert.equal(upgraded[0]!.headers['sec-websocket-key'], 'dGhlIHNhbXBsZSBub25jZQ==');
    assert.equal(upgraded[0]!.headers.connection, 'upgrade', 'hop-by-hop headers removed, as for any request');
    assert.equal(upgraded[0]!.headers['x-secret'], undefined);
    assert.equal(upgraded[0]!.headers['proxy-authorization'], undefined);
    const unrouted = await rawRequest(gw2.port, 'GET /other HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
    assert.equal(unrouted.status, 404);
    const other = await rawRequest(gw2.port, 'GET /ws/x HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: foo\r\n\r\n');
    assert.equal(other.status, 403);
    // an h2c upgrade is served as the HTTP/1.1 request it also is
    const h2c = await rawRequest(gw2.port, 'GET /ws/x HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\nConnection: close\r\n\r\n');
    assert.equal(h2c.status, 200);
    assert.equal(h2c.body, 'not upgraded');
  } finally {
    await gw2.stop();
    await up.close();
  }
});

test('a WebSocket tunnel whose upstream ignores the client closing it is cut after 10 s, both connections', async () => {
  const up = await startUpstream((_req, res) => res.end('not upgraded'));
  let upstreamClosed = false;
  up.server.on('upgrade', (_req, socket) => {
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    // it never closes its side, and goes on sending: a write to a connection the gateway reset fails
    const ping = setInterval(() => socket.write('.'), 200);
    socket.on('error', () => {});
    socket.on('close', () => {
      clearInterval(ping);
      upstreamClosed = true;
    });
  });
  const gw2 = await startTestGateway({ upstreams: { up: { url: up.url } }, routes: [{ name: 'ws', match: { prefix: '/' }, upstream: 'up' }] });
  try {
    const sock = net.connect(gw2.port, '127.0.0.1');
    sock.on('error', () => {});
    sock.setEncoding('latin1');
    let got = '';
    sock.on('data', (c: string) => {
      got += c;
      if (got.startsWith('HTTP/1.1 101') && got.endsWith('\r\n\r\n')) sock.end(); // upgraded: the client closes its side
    });
    sock.write('GET /chat HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n');
    const started = performance.now();
    await new Promise((r) => {
      sock.on('close', r);
      setTimeout(r, 15_000).unref();
    });
    const waited = performance.now() - started;
    sock.destroy();
    assert.match(got, /^HTTP\/1\.1 101 /);
    assert.ok(waited > 8000 && waited < 14_000, `closed after ${Math.round(waited)} ms`);
    for (let i = 0; i < 100 && !upstreamClosed; i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(upstreamClosed, 'the upstream connection was closed too');
  } finally {
    await gw2.stop();
    await up.close();
  }
});

test('absolute-form request targets are routed by their path, with their authority as Host', async () => {
  seen.length = 0;
  const res = await rawRequest(gw.port, 'GET http://shop.example:8080/api/cart?id=7 HTTP/1.1\r\nHost: ignored.example\r\nConnection: close\r\n\r\n');
  assert.equal(res.status, 200);
  assert.equal(seen[0]!.url, '/v2/cart?id=7');
  assert.equal(seen[0]!.headers['x-forwarded-host'], 'shop.example:8080');
});

test('Host: HTTP/1.1 without it or with two is a 400; HTTP/1.0 without it is served', async () => {
  const missing = await rawRequest(gw.port, 'GET /x HTTP/1.1\r\nConnection: close\r\n\r\n');
  assert.equal(missing.status, 400);
  assert.ok(missing.headers.get('x-request-id'));
  const twice = await rawRequest(gw.port, 'GET /x HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\nConnection: close\r\n\r\n');
  assert.equal(twice.status, 400);
  assert.ok(twice.headers.get('x-request-id'));
  const old = await rawRequest(gw.port, 'GET /old HTTP/1.0\r\n\r\n');
  assert.equal(old.status, 200);
  assert.equal(old.body, 'main /old');
});

test('upstream error statuses pass through untouched', async () => {
  for (const code of [404, 500, 503]) {
    const r = await get(`/status/${code}`);
    assert.equal(r.status, code);
    assert.equal(r.headers['x-upstream'], 'main', 'the upstream response, not a local reply');
  }
});

test('a content-length request that names trailers goes upstream with its content-length only (no smuggling)', async () => {
  seen.length = 0;
  // with both framings upstream, a server that reads the content-length would take the rest as a request
  const res = await rawRequest(gw.port, 'POST /cl HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTrailer: x-t\r\nConnection: close\r\n\r\nhello');
  assert.equal(res.status, 200);
  assert.equal(seen.length, 1);
  assert.equal(seen[0]!.headers['content-length'], '5');
  assert.equal(seen[0]!.headers['transfer-encoding'], undefined);
  assert.equal(seen[0]!.body, 'hello');
});

test('a transfer coding other than chunked is a 501; a fragment in the target is a 400', async () => {
  seen.length = 0;
  for (const te of ['gzip, chunked', 'gzip\r\nTransfer-Encoding: chunked']) {
    const r = await rawRequest(gw.port, `POST /te HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: ${te}\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n`);
    assert.equal(r.status, 501, te);
    assert.ok(r.headers.get('x-request-id'));
  }
  const frag = await rawRequest(gw.port, 'GET /secret#x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  assert.equal(frag.status, 400, 'not routed past the exact /secret route, not sent upstream');
  assert.equal(seen.length, 0);
});

test('an upstream 304 with a content-length reaches the client as a 304', async () => {
  const r = await rawRequest(gw.port, 'GET /raw304 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  assert.equal(r.status, 304);
  assert.equal(r.headers.get('etag'), '"x"');
  assert.equal(r.body, '');
});

test('after a request with Connection: close, what the client pipelined is not answered', async () => {
  const r = await rawRequest(gw.port, 'GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.equal(r.status, 200);
  assert.equal(r.raw.split('HTTP/1.1 ').length - 1, 1, 'one response, no 400 after it');
});

test('CONNECT is answered 405 with a request id', async () => {
  const r = await rawRequest(gw.port, 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
  assert.equal(r.status, 405);
  assert.ok(r.headers.get('x-request-id'));
});

test('a request_timeout_ms below headers_timeout_ms starts (it bounds the headers too)', async () => {
  const g = await startTestGateway({
    server: { request_timeout_ms: 3000 },
    routes: [{ name: 'hi', match: { prefix: '/' }, direct_response: { status: 200, body: 'hi\n' } }],
  });
  try {
    const r = await request(`${g.url}/`);
    assert.equal(r.statusCode, 200);
    assert.equal(await r.body.text(), 'hi\n');
  } finally {
    await g.stop();
  }
});

test('requests with trailers (their own upstream path) keep the timeouts: a stalled body is cut at body_timeout_ms, a slow upload is no 504', async () => {
  const up = await startUpstream((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.url === '/stall') {
        res.writeHead(200, { 'content-length': '100' });
        res.write('partial'); // and nothing more
        return;
      }
      res.end('done');
    });
  });
  const g = await startTestGateway({
    upstreams: { app: { url: up.url, timeout_ms: 600, body_timeout_ms: 400 } },
    routes: [{ name: 'all', match: { prefix: '/' }, upstream: 'app' }],
  });
  try {
    const t0 = performance.now();
    const stalled = await rawRequest(g.port, 'POST /stall HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTrailer: x-t\r\n\r\n3\r\nabc\r\n0\r\nx-t: 1\r\n\r\n');
    assert.equal(stalled.status, 200);
    assert.ok(performance.now() - t0 < 3000, 'the stalled response is cut, not left open');
    // an upload slower than timeout_ms: the headers timeout counts from the request sent whole
    const sock = net.connect(g.port, '127.0.0.1');
    let got = '';
    sock.setEncoding('latin1');
    sock.on('data', (c: string) => (got += c));
    sock.write('POST /slow HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTrailer: x-t\r\nConnection: close\r\n\r\n3\r\nabc\r\n');
    await new Promise((r) => setTimeout(r, 900));
    sock.write('0\r\nx-t: 1\r\n\r\n');
    await new Promise((r) => sock.on('close', r));
    assert.match(got, /^HTTP\/1\.1 200 /);
    assert.ok(got.endsWith('done'));
  } finally {
    await g.stop();
    await up.close();
  }
});

// Errors a user can trust: every failure gets the right status, a request id, and the gateway lives on.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { request } from 'undici';
import { startUpstream, startTestGateway, rawRequest, closedPort, type TestGateway, type TestUpstream } from './helpers/gateway.ts';

let upstream: TestUpstream;
let garbage: net.Server;
let gw: TestGateway;
let deadPort: number;
const upstreamEvents: string[] = [];

before(async () => {
  upstream = await startUpstream((req, res) => {
    if (req.url === '/slow') return; // never answers
    if (req.url === '/fast-route/slow') {
      setTimeout(() => res.end('late'), 1500);
      return;
    }
    if (req.url === '/hang') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('started');
      res.on('close', () => upstreamEvents.push(`closed ${res.writableFinished ? 'finished' : 'unfinished'}`));
      return;
    }
    if (req.url === '/reset-before-headers') {
      req.socket.destroy();
      return;
    }
    if (req.url === '/reset-mid-body') {
      res.writeHead(200, { 'content-length': '1000000' });
      res.write(Buffer.alloc(1000, 97));
      setTimeout(() => req.socket.destroy(), 20);
      return;
    }
    res.end('ok');
  });
  // an upstream that answers with something that is not HTTP
  garbage = net.createServer((sock) => {
    sock.once('data', (d: Buffer) => {
      // /broken/100: a 100 Continue nobody asked for, then the response
      if (d.toString('latin1').startsWith('GET /broken/100 ')) sock.end('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
      else sock.end('HTTP/1.1 abc nonsense\r\n\u0000\u0001\r\n\r\n');
    });
  });
  await new Promise<void>((r) => garbage.listen(0, '127.0.0.1', () => r()));
  deadPort = await closedPort();
  gw = await startTestGateway({
    server: { headers_timeout_ms: 400, max_header_bytes: 2048 },
    upstreams: {
      main: { url: upstream.url, timeout_ms: 300 },
      patient: { url: upstream.url, timeout_ms: 20000 },
      dead: { url: `http://127.0.0.1:${deadPort}`, connect_timeout_ms: 500 },
      broken: { url: `http://127.0.0.1:${(garbage.address() as AddressInfo).port}` },
    },
    routes: [
      { name: 'dead', match: { prefix: '/dead' }, upstream: 'dead' },
      { name: 'broken', match: { prefix: '/broken' }, upstream: 'broken' },
      { name: 'fast-route', match: { prefix: '/fast-route/' }, upstream: 'patient', timeout_ms: 200 },
      { name: 'main', match: { prefix: '/' }, upstream: 'main' },
    ],
  });
});

after(async () => {
  await gw.stop();
  await upstream.close();
  garbage.close();
});

async function expectLocal(path: string, status: number, body: RegExp): Promise<void> {
  const res = await request(`${gw.url}${path}`);
  assert.equal(res.statusCode, status, path);
  assert.match(await res.body.text(), body);
  assert.ok(res.headers['x-request-id'], 'carries x-request-id');
}

test('an upstream that refuses connections gives 503', async () => {
  await expectLocal('/dead', 503, /upstream unavailable/);
});

test('an upstream that resets the connection before any response gives 503, as Envoy answers it', async () => {
  await expectLocal('/reset-before-headers', 503, /upstream unavailable/);
});

test('an upstream that sends a broken response gives 502', async () => {
  await expectLocal('/broken', 502, /invalid response/);
});

test('an upstream that sends a 100 Continue the request did not ask for gives 502 (a response undici cannot take)', async () => {
  await expectLocal('/broken/100', 502, /invalid response/);
});

test('an upstream slower than its timeout gives 504', async () => {
  await expectLocal('/slow', 504, /timeout/);
});

test("a route's timeout_ms overrides its upstream's", async () => {
  const started = Date.now();
  await expectLocal('/fast-route/slow', 504, /timeout/);
  assert.ok(Date.now() - started < 1500, 'answered before the upstream would have');
});

test('a client that goes away aborts the upstream request', async () => {
  upstreamEvents.length = 0;
  const sock = net.connect(gw.port, '127.0.0.1');
  sock.write('GET /hang HTTP/1.1\r\nHost: x\r\n\r\n');
  await once(sock, 'data');
  sock.destroy();
  for (let i = 0; i < 50 && upstreamEvents.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(upstreamEvents, ['closed unfinished']);
});

test('an upstream that resets mid-body closes the downstream connection', async () => {
  const res = await rawRequest(gw.port, 'GET /reset-mid-body HTTP/1.1\r\nHost: x\r\n\r\n', 3000);
  assert.equal(res.status, 200);
  assert.ok(res.body.length < 1_000_000, 'the body is cut short');
  assert.ok(res.body.length >= 1000);
});

test('a malformed request gets 400 with a request id', async () => {
  const res = await rawRequest(gw.port, 'THIS IS NOT HTTP\r\n\r\n');
  assert.equal(res.status, 400);
  assert.ok(res.headers.get('x-request-id'));
  const bad = await rawRequest(gw.port, 'GET / HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n');
  assert.equal(bad.status, 400);
});

test('oversized request headers get 431', async () => {
  const res = await rawRequest(gw.port, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(4096)}\r\n\r\n`);
  assert.equal(res.status, 431);
  assert.ok(res.headers.get('x-request-id'));
});

test('a slowloris client is cut by headers_timeout_ms', async () => {
  const started = Date.now();
  const sock = net.connect(gw.port, '127.0.0.1');
  sock.write('GET / HTTP/1.1\r\nHost: x\r\n');
  const trickle = setInterval(() => sock.writable && sock.write('X-A: b\r\n'), 100);
  const chunks: Buffer[] = [];
  sock.on('data', (c: Buffer) => chunks.push(c));
  sock.on('error', () => {});
  await once(sock, 'close');
  clearInterval(trickle);
  const elapsed = Date.now() - started;
  assert.ok(elapsed < 5000, `cut after ${elapsed} ms`);
  assert.match(Buffer.concat(chunks).toString(), /^HTTP\/1\.1 408 /);
});

test('after all of that the gateway still serves', async () => {
  const res = await request(`${gw.url}/fine`);
  assert.equal(res.statusCode, 200);
  assert.equal(await res.body.text(), 'ok');
  const stats = (await (await fetch(`${gw.adminUrl}/stats`)).json()) as {
    upstreams: Record<string, { errors: Record<string, number> }>;
    downstream: { client_errors: number; client_aborts: number };
  };
  assert.ok((stats.upstreams.dead!.errors.connect_failed ?? 0) >= 1);
  assert.ok((stats.upstreams.broken!.errors.bad_response ?? 0) >= 1);
  assert.ok((stats.upstreams.main!.errors.timeout ?? 0) >= 1);
  assert.ok(stats.downstream.client_errors >= 3);
  assert.ok(stats.downstream.client_aborts >= 1);
});

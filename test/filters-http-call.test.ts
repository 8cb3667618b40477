// proxy_http_call end to end: a filter pauses a request, calls an upstream named in gateway.yaml, and
// continues the request from proxy_on_http_call_response with what the call answered.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import { fixture, closedPort, startTestGateway, startUpstream } from './helpers/gateway.ts';


type AuthMode = 'ok' | 'slow' | 'reset' | 'reset-mid';

test('proxy_http_call: responses, timeouts, refused and reset upstreams, undeclared names, huge timeouts, client aborts', async (t) => {
  let mode: AuthMode = 'ok';
  const authSeen: Array<{ method: string; url: string; headers: IncomingHttpHeaders }> = [];
  const auth = await startUpstream((req, res) => {
    authSeen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    if (mode === 'slow') {
      const timer = setTimeout(() => res.end('late'), 1500);
      res.on('close', () => clearTimeout(timer));
      return;
    }
    if (mode === 'reset') {
      req.socket.destroy();
      return;
    }
    if (mode === 'reset-mid') {
      res.writeHead(200, { 'content-length': '100' });
      res.write('partial');
      setTimeout(() => req.socket.destroy(), 20);
      return;
    }
    res.setHeader('content-type', 'text/plain');
    res.end('ok-body');
  });
  const appSeen: IncomingHttpHeaders[] = [];
  const app = await startUpstream((req, res) => {
    appSeen.push(req.headers);
    res.end('app');
  });
  const refused = await closedPort();
  const gw = await startTestGateway({
    upstreams: { app: { url: app.url }, auth: { url: auth.url }, down: { url: `http://127.0.0.1:${refused}` } },
    routes: [
      { name: 'to-down', match: { prefix: '/down' }, upstream: 'app', filters: ['call-down'] },
      { name: 'to-nope', match: { prefix: '/nope' }, upstream: 'app', filters: ['call-nope'] },
      { name: 'default', match: { prefix: '/' }, upstream: 'app', filters: ['call-auth'] },
    ],
    filters: [
      { name: 'call-auth', wasm: fixture('http-call'), config: 'auth' },
      { name: 'call-down', wasm: fixture('http-call'), config: 'down' },
      { name: 'call-nope', wasm: fixture('http-call'), config: 'not-declared' },
    ],
  });
  t.after(async () => {
    await gw.stop();
    await auth.close();
    await app.close();
  });
  const get = async (path: string): Promise<IncomingHttpHeaders> => {
    const r = await fetch(`${gw.url}${path}`);
    assert.equal(r.status, 200);
    assert.equal(await r.text(), 'app');
    return appSeen.at(-1)!;
  };

  // a response: read through map 6 and buffer 4; tokens numbered as Envoy does
  const first = await get('/a');
  assert.equal(first['x-call-status'], '200');
  assert.equal(first['x-call-body'], 'ok-body');
  assert.equal(first['x-call-token'], '4');
  assert.equal((await get('/b'))['x-call-token'], '8');
  assert.deepEqual(
    { method: authSeen[0]!.method, url: authSeen[0]!.url, host: authSeen[0]!.headers.host, from: authSeen[0]!.headers['x-from'] },
    { method: 'GET', url: '/check', host: 'auth.local', from: 'filter' },
  );

  // slower than the call's timeout: a 504 response, as Envoy's async client answers
  mode = 'slow';
  assert.equal((await get('/slow'))['x-call-status'], '504');

  // a reset before the response headers: a 503 response, as Envoy's router answers it
  mode = 'reset';
  const reset = await get('/reset');
  assert.equal(reset['x-call-status'], '503');
  assert.equal(reset['x-call-body'], 'upstream connect error or disconnect/reset before headers. reset reason: connection termination');

  // a reset in the middle of the answer: no headers, proxy_get_status says BrokenConnection (11)
  mode = 'reset-mid';
  const mid = await get('/reset-mid');
  assert.equal(mid['x-call-failed'], '11');
  assert.equal(mid['x-call-status'], undefined);

  // an upstream that refuses connections: a 503 response
  assert.equal((await get('/down'))['x-call-status'], '503');

  // a timeout past 2^31 - 1 ms (a u32 Envoy reads as a negative int): BadArgument at once, nothing is sent
  const sent = authSeen.length;
  const huge = await fetch(`${gw.url}/huge`, { headers: { 'x-huge-timeout': '1' } });
  assert.equal(huge.status, 200);
  await huge.text();
  assert.equal(appSeen.at(-1)!['x-call-result'], '2');
  assert.equal(authSeen.length, sent);

  // a name gateway.yaml does not declare: BadArgument at once, nothing is sent
  const before = authSeen.length;
  assert.equal((await get('/nope'))['x-call-result'], '2');
  assert.equal(authSeen.length, before);

  // the client leaves while the call is in flight: the late answer reaches the root, not the dead stream
  mode = 'slow';
  await new Promise<void>((resolve) => {
    const req = http.get(`${gw.url}/gone`, () => undefined);
    req.on('error', () => resolve());
    setTimeout(() => {
      req.destroy();
      resolve();
    }, 50);
  });
  await new Promise((r) => setTimeout(r, 300)); // the call times out after 200 ms and is delivered
  mode = 'ok';
  assert.equal((await get('/after'))['x-call-status'], '200', 'the filter still serves');
  const stats = (await (await fetch(`${gw.adminUrl}/stats`)).json()) as { active: number };
  assert.equal(stats.active, 0);
});

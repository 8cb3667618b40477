// The auth filter (filters/auth) end to end: a real auth service and a real app upstream on 127.0.0.1,
// the real gateway with its worker, real requests. The auth service's answer is chosen by the token the
// client sends, so every case is one request.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import type { IncomingHttpHeaders } from 'node:http';
import { closedPort, startTestGateway, startUpstream } from './helpers/gateway.ts';

const wasm = (name: string): string => fileURLToPath(new URL(`../filters/${name}.wasm`, import.meta.url));

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

test('auth: allow with identity, deny, and fail closed on errors, timeouts, resets and a service that is down', async (t) => {
  const authSeen: Seen[] = [];
  const auth = await startUpstream((req, res) => {
    authSeen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: '' });
    const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
    switch (token) {
      case 'alice':
        res.setHeader('x-user-id', 'alice');
        res.setHeader('x-internal', 'not-for-the-app');
        res.end('ok');
        return;
      case 'anonymous': // allowed, but no identity
        res.statusCode = 204;
        res.end();
        return;
      case 'forbidden':
        res.statusCode = 403;
        res.end('no');
        return;
      case 'broken':
        res.statusCode = 500;
        res.end('oops');
        return;
      case 'redirect':
        res.statusCode = 302;
        res.setHeader('location', '/login');
        res.end();
        return;
      case 'slow': {
        const timer = setTimeout(() => res.end('late'), 1500);
        res.on('close', () => clearTimeout(timer));
        return;
      }
      case 'reset':
        req.socket.destroy();
        return;
      default:
        res.statusCode = 401;
        res.setHeader('www-authenticate', 'Bearer realm="app"');
        res.end('who are you');
    }
  });
  const appSeen: Seen[] = [];
  const app = await startUpstream((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      appSeen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      res.end('app');
    });
  });
  const refused = await closedPort();
  const config = (upstream: string) => ({ upstream, path: '/check', timeout_ms: 200, forward_headers: ['authorization', 'cookie'], identity_header: 'x-user-id' });
  const gw = await startTestGateway({
    upstreams: { app: { url: app.url }, auth: { url: auth.url }, 'auth-down': { url: `http://127.0.0.1:${refused}` } },
    routes: [
      { name: 'down', match: { prefix: '/down' }, upstream: 'app', filters: ['auth-down'] },
      { name: 'undeclared', match: { prefix: '/undeclared' }, upstream: 'app', filters: ['auth-undeclared'] },
      { name: 'default', match: { prefix: '/' }, upstream: 'app', filters: ['auth'] },
    ],
    filters: [
      { name: 'auth', wasm: wasm('auth'), config: config('auth') },
      { name: 'auth-down', wasm: wasm('auth'), config: config('auth-down') },
      { name: 'auth-undeclared', wasm: wasm('auth'), config: config('not-in-gateway-yaml') },
    ],
  });
  t.after(async () => {
    await gw.stop();
    await auth.close();
    await app.close();
  });
  const call = async (path: string, token: string | undefined, init: RequestInit = {}) => {
    const headers: Record<string, string> = { 'x-user-id': 'mallory', cookie: 'session=abc', ...(init.headers as Record<string, string>) };
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    const before = appSeen.length;
    const r = await fetch(`${gw.url}${path}`, { ...init, headers, redirect: 'manual' });
    const body = await r.text();
    return { status: r.status, headers: r.headers, body, app: appSeen.length > before ? appSeen.at(-1) : undefined };
  };

  await t.test('200 with an identity: the app sees the identity the service returned, never the client’s', async () => {
    const r = await call('/orders?id=7', 'alice', { method: 'POST', body: 'payload', headers: { 'content-type': 'text/plain' } });
    assert.equal(r.status, 200);
    assert.equal(r.body, 'app');
    assert.equal(r.app?.headers['x-user-id'], 'alice');
    assert.equal(r.app?.headers['x-internal'], undefined, 'only the identity header is copied');
    assert.equal(r.app?.body, 'payload', 'the body held during the check reaches the app');
    assert.equal(r.app?.url, '/orders?id=7');
    // what the auth service was asked
    const asked = authSeen.at(-1)!;
    assert.equal(asked.method, 'GET');
    assert.equal(asked.url, '/check');
    assert.equal(asked.headers.host, 'auth');
    assert.equal(asked.headers.authorization, 'Bearer alice');
    assert.equal(asked.headers.cookie, 'session=abc');
    assert.equal(asked.headers['x-forwarded-method'], 'POST');
    assert.equal(asked.headers['x-forwarded-uri'], '/orders?id=7');
    assert.equal(asked.headers['x-forwarded-host'], new URL(gw.url).host);
    assert.equal(asked.headers['x-user-id'], undefined, 'the spoofed identity is not forwarded to the service either');
    assert.equal(asked.headers['content-type'], undefined, 'only the configured headers are forwarded');
  });

  await t.test('2xx without an identity: allowed, and the spoofed identity is still removed', async () => {
    const r = await call('/a', 'anonymous');
    assert.equal(r.status, 200);
    assert.equal(r.app?.headers['x-user-id'], undefined);
  });

  await t.test('401 and 403: the client gets the status (and the challenge), the app nothing', async () => {
    const unauthorized = await call('/a', 'nobody');
    assert.equal(unauthorized.status, 401);
    assert.equal(unauthorized.headers.get('www-authenticate'), 'Bearer realm="app"');
    assert.equal(unauthorized.body, 'unauthorized\n');
    assert.equal(unauthorized.app, undefined);
    const none = await call('/a', undefined);
    assert.equal(none.status, 401);
    assert.equal(none.app, undefined);
    const forbidden = await call('/a', 'forbidden');
    assert.equal(forbidden.status, 403);
    assert.equal(forbidden.headers.get('www-authenticate'), null);
    assert.equal(forbidden.body, 'forbidden\n');
    assert.equal(forbidden.app, undefined);
  });

  await t.test('fail closed: 5xx, other statuses, timeout, reset, refused, undeclared upstream → 503', async () => {
    for (const [path, token, what] of [
      ['/a', 'broken', 'the service answers 500'],
      ['/a', 'redirect', 'the service answers 302'],
      ['/a', 'slow', 'the service is slower than timeout_ms (the call answers 504)'],
      ['/a', 'reset', 'the service resets the connection (no response)'],
      ['/down', 'alice', 'nothing listens at the service’s address (the call answers 503)'],
      ['/undeclared', 'alice', 'the upstream is not in gateway.yaml (proxy_http_call refuses)'],
    ] as const) {
      const started = performance.now();
      const r = await call(path, token);
      assert.equal(r.status, 503, what);
      assert.equal(r.body, 'authorization service unavailable\n', what);
      assert.equal(r.app, undefined, what);
      assert.ok(performance.now() - started < 1000, `${what}: answered without waiting for the slow service`);
    }
  });

  await t.test('concurrent requests each get their own answer', async () => {
    const tokens = ['alice', 'nobody', 'forbidden', 'alice', 'broken', 'anonymous', 'alice', 'nobody'];
    const results = await Promise.all(tokens.map((tok, i) => call(`/c${i}`, tok)));
    assert.deepEqual(
      results.map((r) => r.status),
      [200, 401, 403, 200, 503, 200, 200, 401],
    );
    const allowedIds = appSeen.filter((s) => /^\/c\d$/.test(s.url)).map((s) => s.headers['x-user-id'] ?? '-');
    assert.deepEqual(allowedIds.sort(), ['-', 'alice', 'alice', 'alice']);
  });
});

test('auth: a configuration it refuses stops the gateway from starting, with the filter’s reason', async () => {
  for (const [config, reason] of [
    [{ path: '/check' }, 'upstream: expected the name of an upstream'],
    [{ upstream: 'auth', timeout_ms: 0 }, 'timeout_ms: expected an integer from 1 to 60000'],
    [{ upstream: 'auth', forward_headers: ['bad header'] }, 'forward_headers[0]: expected a header name'],
    [{ upstream: 'auth', identity: 'x' }, 'identity: unknown field'],
  ] as const) {
    await assert.rejects(
      startTestGateway({
        upstreams: { app: { url: 'http://127.0.0.1:1' }, auth: { url: 'http://127.0.0.1:1' } },
        routes: [{ name: 'default', match: { prefix: '/' }, upstream: 'app' }],
        filters: [{ name: 'auth', wasm: wasm('auth'), config }],
      }),
      (err: Error) => err.message.includes(`auth: invalid configuration: ${reason}`),
      reason,
    );
  }
});

// The header view filters will read and change: pseudo-headers first, lower-case pairs in order,
// duplicates kept; and each route's filter chain as the router resolves it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HeaderMap, headerName, pairsWireBytes, rawPairs } from '../src/http/header-map.ts';
import { Router } from '../src/http/router.ts';
import { resolveConfigObject } from '../src/config/load.ts';

test('get returns the first value; set replaces every duplicate; add and remove; pseudo-headers first', () => {
  const h = new HeaderMap([':method', 'GET', ':path', '/a'], ['x-a', '1', 'cookie', 'a=1', 'x-a', '2']);
  assert.equal(h.get('x-a'), '1');
  assert.equal(h.getJoined('x-a'), '1, 2');
  assert.equal(h.get(':path'), '/a');
  assert.equal(h.has('x-missing'), false);
  assert.equal(h.size, 5);
  h.set('x-a', '3');
  assert.deepEqual(h.list, ['x-a', '3', 'cookie', 'a=1']);
  h.add('cookie', 'b=2');
  h.append('x-forwarded-for', '10.0.0.1');
  h.append('x-forwarded-for', '127.0.0.1');
  h.set(':path', '/b');
  h.remove('x-a');
  assert.deepEqual(h.pairs(), [
    [':method', 'GET'],
    [':path', '/b'],
    ['cookie', 'a=1'],
    ['cookie', 'b=2'],
    ['x-forwarded-for', '10.0.0.1, 127.0.0.1'],
  ]);
  h.set('x-new', 'v');
  assert.equal(h.list.at(-2), 'x-new', 'set adds a missing header at the end');
});

test('the wire size a map keeps stays exact through every edit, and through changes made to its lists directly', () => {
  const h = new HeaderMap([':method', 'GET', ':path', '/a'], ['x-a', '1', 'cookie', 'a=1', 'x-a', '22']);
  const exact = () => pairsWireBytes(h.pseudo) + pairsWireBytes(h.list);
  h.measure();
  assert.equal(h.wireSize(), exact());
  // a fixed sequence of every kind of edit, checked after each one
  const names = ['x-a', 'cookie', 'x-b', ':path', ':authority', 'via'];
  let seed = 7;
  const next = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
  for (let i = 0; i < 400; i++) {
    const name = names[next(names.length)]!;
    const value = 'v'.repeat(next(12));
    switch (next(6)) {
      case 0: h.set(name, value); break;
      case 1: h.add(name, value); break;
      case 2: h.append(name, value); break;
      case 3: h.remove(name); break;
      case 4: if (!name.startsWith(':')) h.list.push(name, value); break; // outside the class: measured again
      default: if (next(20) === 0) h.clear();
    }
    assert.equal(h.wireSize(), exact(), `after step ${i}`);
  }
});

test("a route's filter chain: its own list, [] for none, the top-level chain when absent", () => {
  const config = resolveConfigObject(
    {
      listen: { port: 0 },
      upstreams: { app: { url: 'http://127.0.0.1:1' } },
      filters: [
        { name: 'auth', wasm: 'auth.wasm' },
        { name: 'headers', wasm: 'headers.wasm' },
      ],
      routes: [
        { name: 'own', match: { prefix: '/own' }, upstream: 'app', filters: ['headers'] },
        { name: 'none', match: { prefix: '/none' }, upstream: 'app', filters: [] },
        { name: 'default', match: { prefix: '/' }, upstream: 'app' },
      ],
    },
    '/virtual/gateway.yaml',
  );
  const chains = new Router(config).routes.map((r) => [r.name, r.filterNames]);
  assert.deepEqual(chains, [
    ['own', ['headers']],
    ['none', []],
    ['default', ['auth', 'headers']],
  ]);
});

test('raw header names come out in lower case, common ones and others, whatever their case', () => {
  const cases = ['Content-Type', 'CONTENT-LENGTH', 'date', 'Set-Cookie', 'X-Request-Id', 'Content-Typf', 'X-Custom-1', 'a', 'Strict-Transport-Security', "x-!#$%&'*+.^_`|~", 'Keep-Alivf'];
  for (const name of cases) {
    assert.equal(headerName(Buffer.from(name, 'latin1')), name.toLowerCase(), name);
    assert.equal(headerName(name), name.toLowerCase(), name);
  }
  assert.deepEqual(rawPairs([Buffer.from('ETag'), Buffer.from('"x"'), Buffer.from('X-Trailer'), Buffer.from('V')]), ['etag', '"x"', 'x-trailer', 'V']);
});

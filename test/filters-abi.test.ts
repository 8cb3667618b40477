// proxy-wasm host calls through a real gateway: header maps (statuses, pseudo-headers, routing on a
// rewritten :path, :status), properties, ABI 0.1.0 and 0.2.0 modules, foreign functions and WASI output.
// Fixtures: test/fixtures/wasm/{headers,props,abi-010,abi-020}.wat (each documents its behaviour at the top).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { request } from 'undici';
import { startUpstream, startTestGateway, type TestGateway, type TestUpstream } from './helpers/gateway.ts';

const wasm = (name: string): string => new URL(`./fixtures/wasm/${name}.wasm`, import.meta.url).pathname;

interface Seen {
  upstream: string;
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
}

const seen: Seen[] = [];
let main: TestUpstream;
let alt: TestUpstream;
let gw: TestGateway;

/** An upstream that records requests; `h=name:value` in the query adds a response header, `status=N` sets the status. */
function recordingUpstream(name: string): Promise<TestUpstream> {
  return startUpstream((req, res) => {
    req.resume();
    req.on('end', async () => {
      const delay = Number(new URL(req.url!, 'http://upstream').searchParams.get('delay') ?? 0);
      if (delay > 0) await new Promise((r) => setTimeout(r, delay));
      if (res.destroyed) return;
      seen.push({ upstream: name, method: req.method!, url: req.url!, headers: req.headers, rawHeaders: req.rawHeaders });
      const q = new URL(req.url!, 'http://upstream').searchParams;
      const headers: Record<string, string> = { 'content-type': 'text/plain' };
      for (const h of q.getAll('h')) headers[h.slice(0, h.indexOf(':'))] = h.slice(h.indexOf(':') + 1);
      res.writeHead(Number(q.get('status') ?? 200), headers);
      res.end(`${name} ${req.url}`);
    });
  });
}

before(async () => {
  main = await recordingUpstream('main');
  alt = await recordingUpstream('alt');
  gw = await startTestGateway({
    upstreams: { main: { url: main.url }, alt: { url: alt.url } },
    routes: [
      { name: 'props-route', match: { prefix: '/props' }, upstream: 'main', filters: ['props'] },
      { name: 'v010', match: { prefix: '/v010' }, upstream: 'main', filters: ['abi010'] },
      { name: 'v020', match: { prefix: '/v020' }, upstream: 'main', filters: ['abi020'] },
      { name: 'alt', match: { prefix: '/alt/' }, upstream: 'alt', filters: ['headers'] },
      { name: 'main', match: { prefix: '/' }, upstream: 'main', filters: ['headers'] },
    ],
    filters: [
      { name: 'headers', wasm: wasm('headers') },
      { name: 'props', wasm: wasm('props'), root_id: 'props-root' },
      { name: 'abi010', wasm: wasm('abi-010'), config: 'cfg-010' },
      { name: 'abi020', wasm: wasm('abi-020') },
    ],
  });
});

after(async () => {
  await gw.stop();
  await main.close();
  await alt.close();
});

async function send(path: string, options: Parameters<typeof request>[1] = {}) {
  const res = await request(`${gw.url}${path}`, options);
  const body = await res.body.text();
  return { status: res.statusCode, headers: res.headers, body };
}

/** The statuses a fixture reported as one char each ('0' + status), labelled for readable failures. */
function statuses(value: unknown, labels: readonly string[]): string[] {
  const s = String(value);
  assert.equal(s.length, labels.length, `one status per call: "${s}"`);
  return labels.map((l, i) => `${l}: ${s.charCodeAt(i) - 48}`);
}
const expect = (labels: readonly string[], codes: readonly number[]): string[] => labels.map((l, i) => `${l}: ${codes[i]}`);

// the calls headers.wat makes in on_request_headers, in order, and what Envoy answers
const REQUEST_CALLS: ReadonlyArray<[string, number]> = [
  ['get_header_map_pairs(request)', 0],
  ['set_header_map_pairs(request, same bytes)', 0],
  ['get x-in', 0],
  ['add x-in-copy', 0],
  ['get x-missing (absent)', 1],
  ['replace x-replace', 0],
  ['add x-multi', 0],
  ['remove x-remove', 0],
  ['remove x-absent (absent)', 0],
  ['get_header_map_size(request)', 0],
  ['replace in response headers during request headers', 2],
  ['get from response headers during request headers', 2],
  ['get_header_map_pairs(response headers) during request headers', 0],
  ['  its size', -1], // checked in its own test below
  ['get from map 9', 2],
  ['add to map 9', 2],
  ['get, key out of memory', 6],
  ['add, value out of memory', 6],
  ['get, return pointer out of memory', 6],
  ['get_header_map_size, size pointer out of memory', 6],
  ['set_header_map_pairs, pairs out of memory', 6],
  ['get_header_map_pairs, return pointer out of memory', 6],
  ['remove, key out of memory', 6],
  ['get x-empty (empty value)', 0],
  ['  its size', 0],
  ['get X-IN (upper-case key)', 0],
  ['add X-Upper-Added', 0],
];
const RESPONSE_CALLS: ReadonlyArray<[string, number]> = [
  ['replace a request header in on_response_headers (already sent)', 2],
  ['get x-resp-missing (absent)', 1],
  ['get request :path', 0],
  ['get request :method', 0],
  ['get request :authority', 0],
  ['add x-resp-added', 0],
];

test('header map host calls answer Envoy\'s statuses, and their changes reach the upstream', async () => {
  seen.length = 0;
  const r = await send('/h?q=1', {
    headers: { 'x-in': 'hello', 'x-replace': 'old', 'x-multi': '1', 'x-remove': 'bye', 'x-empty': '', 'x-keep': 'yes' },
  });
  assert.equal(r.status, 200);

  const reqLabels = REQUEST_CALLS.map(([l]) => l);
  const got = statuses(r.headers['x-req-status'], reqLabels);
  const want = expect(reqLabels, REQUEST_CALLS.map(([, c]) => c));
  const SIZE_AT = 13;
  got.splice(SIZE_AT, 1);
  want.splice(SIZE_AT, 1);
  assert.deepEqual(got, want);
  const respLabels = RESPONSE_CALLS.map(([l]) => l);
  assert.deepEqual(statuses(r.headers['x-resp-status'], respLabels), expect(respLabels, RESPONSE_CALLS.map(([, c]) => c)));

  assert.equal(seen.length, 1);
  const h = seen[0]!.headers;
  assert.equal(h['x-in-copy'], 'hello');
  assert.equal(h['x-replace'], 'new');
  assert.equal(h['x-multi'], '1, 2', 'add keeps the existing value');
  assert.equal(h['x-remove'], undefined);
  assert.equal(h['x-keep'], 'yes', 'the get/set pairs round trip kept every header');
  assert.equal(h['x-empty'], '');
  assert.equal(seen[0]!.url, '/h?q=1');
  assert.ok(seen[0]!.rawHeaders.includes('x-upper-added'), 'header names are stored lower-case');
  assert.ok(!seen[0]!.rawHeaders.includes('X-Upper-Added'));

  // the response phase reads the request pseudo-headers; the map size is Envoy's byte size
  assert.equal(r.headers['x-req-path'], '/h?q=1');
  assert.equal(r.headers['x-req-method'], 'GET');
  assert.equal(r.headers['x-req-authority'], `127.0.0.1:${gw.port}`);
  assert.equal(r.headers['x-resp-added'], 'yes');
  const size = Number(r.headers['x-map-size']);
  // at least the names and values the client sent, plus :method GET and :path /h?q=1
  const sent = ['x-in', 'hello', 'x-replace', 'old', 'x-multi', '1', 'x-remove', 'bye', 'x-empty', '', 'x-keep', 'yes', ':method', 'GET', ':path', '/h?q=1'];
  assert.ok(size >= sent.join('').length && size < 2000, `byte size of the request headers: ${size}`);
});

test(
  'get_header_map_pairs of a map not available in this phase answers Ok with an empty result (size 0)',
  async () => {
    const r = await send('/h-pairs');
    assert.equal(String(r.headers['x-req-status'])[13], '0');
  },
);

test('rewriting :path, :method and :authority in on_request_headers changes what the upstream gets and which route matches', async () => {
  seen.length = 0;
  const r = await send('/orig?a=1', { headers: { 'x-new-path': '/alt/moved?z=9', 'x-new-method': 'DELETE', 'x-new-authority': 'rewritten.example' } });
  assert.equal(r.status, 200);
  assert.equal(r.body, 'alt /alt/moved?z=9', 'routed by the new :path');
  assert.equal(seen.length, 1);
  assert.equal(seen[0]!.upstream, 'alt');
  assert.equal(seen[0]!.method, 'DELETE');
  assert.equal(seen[0]!.url, '/alt/moved?z=9');
  assert.equal(seen[0]!.headers.host, 'rewritten.example');
  assert.equal(r.headers['x-req-path'], '/alt/moved?z=9');
  assert.equal(r.headers['x-req-authority'], 'rewritten.example');
});

test('set_header_map_pairs replaces the whole request map, pseudo-headers included', async () => {
  seen.length = 0;
  const r = await send('/anything', { headers: { 'x-set-pairs': '1', 'x-keep': 'yes' } });
  assert.equal(r.status, 200);
  assert.equal(seen[0]!.upstream, 'main');
  assert.equal(seen[0]!.method, 'GET');
  assert.equal(seen[0]!.url, '/pairs');
  assert.equal(seen[0]!.headers.host, 'pairs.example');
  assert.equal(seen[0]!.headers['x-set'], 'pairs');
  assert.equal(seen[0]!.headers['x-keep'], undefined);
  assert.equal(seen[0]!.headers['x-set-pairs'], undefined);
});

test('setting :status in on_response_headers changes the status the client gets', async () => {
  const r = await send('/status?h=x-new-status:201');
  assert.equal(r.status, 201);
  assert.equal(r.body, 'main /status?h=x-new-status:201');
});

test('properties: request, source, plugin and route attributes; set then get; unknown is NotFound', async () => {
  seen.length = 0;
  const r = await send('/props/x?y=1', { headers: { 'x-prop': 'pv' } });
  assert.equal(r.status, 200);
  const h = seen[0]!.headers;
  assert.equal(h['x-p-path'], '/props/x?y=1');
  assert.equal(h['x-p-method'], 'GET');
  assert.equal(h['x-p-header'], 'pv');
  assert.match(String(h['x-p-source']), /^127\.0\.0\.1:\d+$/);
  assert.notEqual(h['x-p-source'], `127.0.0.1:${gw.port}`, 'the client, not the listener');
  assert.equal(h['x-p-plugin-name'], 'props');
  assert.equal(h['x-p-root-id'], 'props-root');
  assert.equal(h['x-p-route'], 'props-route');
  assert.equal(h['x-p-cluster'], 'main', "cluster_name in on_request_headers: the route's upstream, as Envoy");
  assert.match(String(h['x-p-first']), /^:(method|scheme|authority|path)$/, 'the request.headers map lists the pseudo-headers, as Envoy');
  assert.equal(h['x-p-unknown'], '!1', 'unknown property: NotFound');
  assert.equal(h['x-p-code'], '!1', 'response.code does not exist before the response');
  assert.equal(h['x-p-set'], '0', 'proxy_set_property in a stream: Ok');
  assert.equal(h['x-p-mine'], 'my-value', 'proxy_get_property reads back what proxy_set_property stored');
  // response phase
  assert.equal(r.headers['x-p-code'], '200');
  assert.equal(r.headers['x-p-mine'], 'my-value', 'the stored property lives as long as the stream');
  assert.equal(r.headers['x-p-cfg-set'], '1', 'proxy_set_property in the root context (on_configure): NotFound');
  // paths as the C++ SDK sends them, every segment NUL-terminated
  assert.equal(h['x-p-nul-name'], 'props', 'plugin_name\\0');
  assert.equal(h['x-p-nul-mine'], 'my-value', 'my\\0key\\0 reads what my\\0key stored');
  assert.equal(h['x-p-leaf-extra'], '!1', 'a path that goes on past a leaf: NotFound');
  assert.equal(h['x-p-duration'], '!1', 'request.duration: NotFound until the stream is complete, as in Envoy');
});

test('properties in on_log: response.code and a stored property of the finished stream', async () => {
  await send('/props/first?status=202');
  const r = await send('/props/second');
  assert.equal(r.headers['x-p-last-log'], '202/my-value/0', 'what on_log of the previous stream read');
});

test('on_log of a stream whose client left before the response: response headers are NotFound, as in Envoy', async () => {
  await assert.rejects(request(`${gw.url}/props/gone?delay=400`, { signal: AbortSignal.timeout(100) }));
  await new Promise((r) => setTimeout(r, 100));
  const r = await send('/props/after');
  // no response.code, the stored property, then NotFound (1) for the map: BadArgument (2) made SDKs abort
  assert.equal(r.headers['x-p-last-log'], '/my-value/1');
});

test('proxy_call_foreign_function with an unknown name is NotFound; WASI fd_write to stdout works in a stream callback', async () => {
  seen.length = 0;
  await send('/props/misc');
  assert.equal(seen[0]!.headers['x-foreign'], '1');
  assert.equal(seen[0]!.headers['x-fd-write'], '0,29', 'errno 0, all 29 bytes written');
});

test('an ABI 0.1.0 module: 2-param headers callbacks, proxy_get_configuration, pause and proxy_continue_request', async () => {
  seen.length = 0;
  const r = await send('/v010/x');
  assert.equal(r.status, 200);
  assert.equal(r.body, 'main /v010/x');
  assert.equal(seen[0]!.headers['x-abi'], '0.1.0', 'the request resumed by proxy_continue_request with the header added in on_tick');
  assert.equal(r.headers['x-abi-resp'], '0.1.0');
  assert.equal(r.headers['x-config'], 'cfg-010');
});

test(
  'an ABI 0.1.0 module reading an absent header gets Ok and an empty value',
  async () => {
    const r = await send('/v010/missing');
    assert.equal(r.headers['x-missing'], '0,0');
  },
);

test('an ABI 0.2.0 module (the Go SDKs\' marker): 3-param callbacks, pause and proxy_continue_stream', async () => {
  seen.length = 0;
  const r = await send('/v020/x');
  assert.equal(r.status, 200);
  assert.equal(seen[0]!.headers['x-abi'], '0.2.0');
  assert.equal(r.headers['x-abi-resp'], '0.2.0');
  assert.equal(r.headers['x-missing'], '1', 'absent header: NotFound from 0.2.0 on');
});

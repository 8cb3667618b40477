// Hostile filters, part of test/hostile/: header injection and log floods. What a filter writes must be
// carriable on the wire (no CR/LF/NUL, token names, pseudo-headers only where they mean something), and a
// filter that logs without end is cut and counted, never flooding the gateway's output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { fixture, startTestGateway, startUpstream } from '../helpers/gateway.ts';


test('CRLF injection, bad names, misplaced pseudo-headers are refused with BadArgument; a log flood is cut and counted', async (t) => {
  const seen: IncomingHttpHeaders[] = [];
  const up = await startUpstream((req, res) => {
    seen.push(req.headers);
    res.end('ok');
  });
  const gw = await startTestGateway({
    upstreams: { app: { url: up.url } },
    routes: [{ name: 'default', match: { prefix: '/' }, upstream: 'app' }],
    filters: [{ name: 'hostile', wasm: fixture('hostile-headers') }],
    log: { level: 'error' },
  });
  t.after(async () => {
    await gw.stop();
    await up.close();
  });
  const good = await fetch(`${gw.url}/good`);
  assert.equal(await good.text(), 'ok');
  assert.equal(seen[0]!['x-statuses'], '2220', 'injection, bad name, :status on a request refused; the good header added');
  assert.equal(seen[0]!['x-ok'], 'fine');
  assert.equal(seen[0]!['x-injected'], undefined);
  assert.equal(seen[0]!['x-a'], undefined);
  assert.equal(good.status, 200);
  assert.equal(good.headers.get('x-resp-statuses'), '22', 'a bad :status and a NUL in a value refused');
  const text = await (await fetch(`${gw.adminUrl}/stats/prometheus`)).text();
  const dropped = Number(/^wasmgate_filter_log_dropped_total\{filter="hostile"\} (\d+)$/m.exec(text)?.[1]);
  assert.ok(dropped >= 800 && dropped <= 1000, `${dropped} log lines dropped of 1000`);
});

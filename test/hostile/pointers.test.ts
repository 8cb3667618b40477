// Hostile filters, part of test/hostile/: pointers outside the guest's memory, for every host call that
// takes one. Each answers InvalidMemoryAccess (WASI: EFAULT), nothing is read or written outside the
// guest, and the request goes on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { fixture, startTestGateway, startUpstream } from '../helpers/gateway.ts';


test('every pointer-taking host call answers InvalidMemoryAccess for out-of-bounds and wrapping pointers', async (t) => {
  const seen: IncomingHttpHeaders[] = [];
  const up = await startUpstream((req, res) => {
    seen.push(req.headers);
    res.end('ok');
  });
  const gw = await startTestGateway({
    upstreams: { app: { url: up.url } },
    routes: [{ name: 'default', match: { prefix: '/' }, upstream: 'app' }],
    filters: [{ name: 'pointers', wasm: fixture('hostile-pointers') }],
  });
  t.after(async () => {
    await gw.stop();
    await up.close();
  });
  for (let i = 0; i < 3; i++) {
    const r = await fetch(`${gw.url}/p`);
    assert.equal(r.status, 200);
    assert.equal(await r.text(), 'ok');
  }
  // 27 env calls → 'G' (6, InvalidMemoryAccess); 3 WASI calls → 'V' (21, EFAULT)
  assert.equal(seen[0]!['x-statuses'], 'G'.repeat(27) + 'VVV');
  assert.equal(seen.length, 3);
});

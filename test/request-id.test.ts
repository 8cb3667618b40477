// Generated request ids: version-4 UUIDs, distinct, also across refills of the random pool.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newRequestId } from '../src/http/request-id.ts';

test('request ids are distinct version-4 UUIDs in lower-case hex', () => {
  const seen = new Set<string>();
  const nibbles = new Set<string>();
  for (let i = 0; i < 2000; i++) {
    const id = newRequestId();
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    seen.add(id);
    for (const c of id.replaceAll('-', '')) nibbles.add(c);
  }
  assert.equal(seen.size, 2000);
  assert.equal(nibbles.size, 16);
});

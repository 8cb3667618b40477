// The error catalog and docs/errors.md list the same codes, and every key equals its value.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ErrorCodes } from '../src/errors.ts';

test('every code is documented and every documented code exists', () => {
  const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
  const documented = new Set(doc.match(/GW_ERR_[A-Z_]+/g));
  const codes = Object.keys(ErrorCodes);
  for (const [k, v] of Object.entries(ErrorCodes)) assert.equal(k, v);
  assert.deepEqual([...documented].sort(), codes.sort());
});

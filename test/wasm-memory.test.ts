// Guest memory access and the pairs codec, against a real WebAssembly.Memory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GuestMemory } from '../src/wasm/memory/codec.ts';
import { decodePairs, encodePairs, PAIRS_LIMITS } from '../src/wasm/memory/pairs.ts';

const PAGE = 65536;

test('reads and writes inside the memory; anything outside is refused, never thrown', () => {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 4 });
  const g = new GuestMemory(memory);
  assert.equal(g.write(10, Buffer.from('hello')), true);
  assert.equal(g.latin1(10, 5), 'hello');
  assert.equal(g.latin1(PAGE - 5, 5)?.length, 5, 'the last bytes are readable');
  // out of bounds, end overflowing u32, negative numbers as the guest passes them (i32)
  assert.equal(g.view8(PAGE - 4, 5), undefined);
  assert.equal(g.view8(0xffffffff, 2), undefined);
  assert.equal(g.view8(-1, 1), undefined, '-1 is 0xffffffff as u32');
  assert.equal(g.view8(10, -1), undefined);
  assert.equal(g.copy(PAGE, 1), undefined);
  assert.deepEqual(g.view8(PAGE, 0)?.length, 0, 'an empty range at the end is fine');
  assert.equal(g.writeU32(PAGE - 3, 1), false);
  assert.equal(g.writeU64(PAGE - 7, 1n), false);
  assert.equal(g.write(PAGE - 1, Buffer.from('ab')), false);
  assert.equal(g.readU32(PAGE - 2), undefined);
  assert.equal(g.writeU64(8, -1n), true, 'u64 wraps like the guest sees it');
  assert.equal(new DataView(memory.buffer).getBigUint64(8, true), 0xffffffffffffffffn);
});

test('views follow the memory when it grows (the old buffer is detached)', () => {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 4 });
  const g = new GuestMemory(memory);
  assert.equal(g.view8(PAGE, 4), undefined);
  memory.grow(1);
  assert.equal(g.write(PAGE, Buffer.from('grow')), true);
  assert.equal(g.latin1(PAGE, 4), 'grow');
  assert.equal(g.byteLength, 2 * PAGE);
});

test('latin1: strings decoded before are reused only when every byte matches', () => {
  const memory = new WebAssembly.Memory({ initial: 1 });
  const g = new GuestMemory(memory);
  const at = (ptr: number, s: string): string | undefined => {
    g.write(ptr, Buffer.from(s, 'latin1'));
    return g.latin1(ptr, s.length);
  };
  // same length and the same first, middle and last bytes (the same cache slot): only the bytes decide
  assert.equal(at(100, 'x-abcde-1'), 'x-abcde-1');
  assert.equal(at(200, 'x-abXde-1'), 'x-abXde-1');
  assert.equal(at(300, 'x-abcde-1'), 'x-abcde-1');
  assert.equal(at(400, 'x-abcdX-1'), 'x-abcdX-1');
  // any byte round-trips, cached or not; long strings are decoded each time
  const bytes = '\xff\x80\x00\x7f\xe9';
  assert.equal(at(500, bytes), bytes);
  assert.equal(at(600, bytes), bytes);
  const long = 'v'.repeat(100) + '\xfe';
  assert.equal(at(1000, long), long);
  assert.equal(at(2000, long), long);
  // the bytes changed in place since the last read: the new content
  g.write(500, Buffer.from([0x41]));
  assert.equal(g.latin1(500, 5), 'A\x80\x00\x7f\xe9');
});

test('pairs: the spec example encodes to the exact bytes and decodes back', () => {
  const bytes = encodePairs(['a', '1', 'b', '22']);
  assert.equal(bytes.toString('hex'), '02000000' + '01000000' + '01000000' + '01000000' + '02000000' + '6100' + '3100' + '6200' + '323200');
  assert.deepEqual(decodePairs(bytes), ['a', '1', 'b', '22']);
  assert.deepEqual(decodePairs(encodePairs([':method', 'GET'], ['x-a', ''])), [':method', 'GET', 'x-a', '']);
  assert.deepEqual(decodePairs(new Uint8Array(0)), [], 'size 0 is an empty map');
  assert.deepEqual(decodePairs(Buffer.from('00000000', 'hex')), [], 'so is the 4-byte form');
});

test('pairs: any byte value round-trips', () => {
  const value = Buffer.from([0xff, 0x80, 0x01, 0x7f]).toString('latin1');
  assert.deepEqual(decodePairs(encodePairs(['x-bin', value])), ['x-bin', value]);
});

test('pairs: malformed input is refused as a whole', () => {
  const good = encodePairs(['a', '1']);
  assert.equal(decodePairs(good.subarray(0, good.length - 1)), undefined, 'truncated');
  assert.equal(decodePairs(Buffer.concat([good, Buffer.from([0])])), undefined, 'trailing bytes');
  const noNul = Buffer.from(good);
  noNul[noNul.length - 1] = 0x41;
  assert.equal(decodePairs(noNul), undefined, 'missing NUL');
  const huge = Buffer.alloc(12);
  huge.writeUInt32LE(1, 0);
  huge.writeUInt32LE(0xfffffff0, 4);
  assert.equal(decodePairs(huge), undefined, 'lengths beyond the input');
  const many = Buffer.alloc(4);
  many.writeUInt32LE(PAIRS_LIMITS.maxPairs + 1, 0);
  assert.equal(decodePairs(many), undefined, 'too many pairs');
  assert.equal(decodePairs(Buffer.from([1, 0])), undefined, 'shorter than the count');
});

test('pairs: random and mutated inputs never throw, and whatever decodes re-encodes to the same bytes', () => {
  // a small deterministic PRNG so a failure can be replayed
  let seed = 0x2545f491;
  const rand = (n: number) => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % n;
  };
  const valid = encodePairs([':path', '/a?b=c', 'x-long', 'v'.repeat(300), 'empty', '']);
  for (let i = 0; i < 5000; i++) {
    let input: Buffer;
    if (i % 2 === 0) {
      input = Buffer.from(valid);
      for (let k = 0, flips = 1 + rand(4); k < flips; k++) input[rand(input.length)] = rand(256);
      if (rand(4) === 0) input = input.subarray(0, rand(input.length));
    } else {
      input = Buffer.alloc(rand(64));
      for (let k = 0; k < input.length; k++) input[k] = rand(256);
    }
    const out = decodePairs(input);
    if (out !== undefined && input.length > 0) assert.deepEqual(encodePairs(out), input, `round trip of case ${i}`);
  }
});

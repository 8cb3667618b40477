// CPU metering injected into a module (src/wasm/meter.ts): real modules, rewritten, validated and run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { HOST_CALL_FUEL, injectMetering, type MeteredModule } from '../src/wasm/meter.ts';
import { CALLBACK_NAMES } from '../src/filters/filter-cost.ts';

const fixturesDir = new URL('./fixtures/wasm/', import.meta.url).pathname;
const filtersDir = new URL('../filters/', import.meta.url).pathname;
const fixture = (name: string) => readFileSync(`${fixturesDir}${name}.wasm`);

type Fn = (...args: number[]) => number | bigint;
/** src/types/webassembly.d.ts declares WebAssembly.Global without its constructor. */
const I32Global = WebAssembly.Global as unknown as new (d: { value: 'i32'; mutable: boolean }, v: number) => WebAssembly.Global;

interface Loaded {
  readonly exports: Record<string, Fn>;
  readonly fuel: WebAssembly.Global;
  readonly instance: WebAssembly.Instance;
}

function load(m: MeteredModule, imports: WebAssembly.Imports = {}): Loaded {
  const instance = new WebAssembly.Instance(new WebAssembly.Module(m.bytes), imports);
  return { instance, exports: instance.exports as unknown as Record<string, Fn>, fuel: instance.exports[m.fuelExport] as WebAssembly.Global };
}

function loadPlain(bytes: Uint8Array, imports: WebAssembly.Imports = {}): Record<string, Fn> {
  return new WebAssembly.Instance(new WebAssembly.Module(bytes), imports).exports as unknown as Record<string, Fn>;
}

/** Runs `fn`, expecting the metering trap; returns the fuel left (negative). */
function outOfFuel(l: Loaded, fn: () => unknown): bigint {
  assert.throws(fn, (err: unknown) => err instanceof WebAssembly.RuntimeError && /unreachable/.test((err as Error).message));
  const left = l.fuel.value as bigint;
  assert.ok(left < 0n, `fuel ${left} is below zero after the trap`);
  return left;
}

test('an infinite loop traps once its fuel is spent, and the fuel global is then below zero', () => {
  const m = injectMetering(fixture('meter-loops'));
  assert.equal(m.fuelExport, '__wasmgate_fuel');
  assert.ok(WebAssembly.validate(m.bytes));
  const l = load(m);
  assert.equal(l.fuel.value, 0n, 'the fuel starts at 0');
  l.fuel.value = 1_000_000n;
  assert.equal(outOfFuel(l, () => l.exports.spin!()), -1n);
  // refilled, the same instance runs again
  l.fuel.value = 10n;
  assert.equal(l.exports.count!(3), 3);
  assert.equal(l.fuel.value, 6n);
});

test('a loop of exactly N iterations costs N + 1 (loop headers + function entry), to the unit', () => {
  const l = load(injectMetering(fixture('meter-loops')));
  for (const n of [1, 2, 100, 12_345]) {
    l.fuel.value = BigInt(n + 1);
    assert.equal(l.exports.count!(n), n);
    assert.equal(l.fuel.value, 0n, `count(${n}) spends all of ${n + 1}`);
    l.fuel.value = BigInt(n);
    outOfFuel(l, () => l.exports.count!(n));
    l.fuel.value = 1_000_000n + BigInt(n);
    assert.equal(l.exports.count!(n), n);
    assert.equal(l.fuel.value, 1_000_000n - 1n);
  }
});

test('function entries are charged: recursion costs one unit per call and unbounded recursion traps on fuel', () => {
  const l = load(injectMetering(fixture('meter-loops')));
  l.fuel.value = 101n;
  assert.equal(l.exports.down!(100), 100); // 101 calls, no loop
  assert.equal(l.fuel.value, 0n);
  l.fuel.value = 100n;
  outOfFuel(l, () => l.exports.down!(100));
  // a small budget stops unbounded recursion before the stack overflows …
  l.fuel.value = 5_000n;
  assert.equal(outOfFuel(l, () => l.exports.forever!(0)), -1n);
  // … while without metering (or with a budget too large) it is the stack that gives out
  assert.throws(() => loadPlain(fixture('meter-loops')).forever!(0), RangeError);
});

test('imported globals come first: existing global indices keep working; a taken export name is avoided', () => {
  const original = fixture('meter-globals');
  const m = injectMetering(original);
  assert.equal(m.fuelExport, '__wasmgate_fuel_2', 'the module already exports __wasmgate_fuel and __wasmgate_fuel_1');
  assert.ok(WebAssembly.validate(m.bytes));
  const run = (exports: Record<string, Fn>, counter: WebAssembly.Global, logged: number[]) => {
    const results = [exports.bump!(3), exports.bump!(0), exports.bump!(5)];
    return { results, counter: counter.value as number, logged, k: exports.k!(), f: exports.f!(), clash: [exports.__wasmgate_fuel!(), exports.__wasmgate_fuel_1!()] };
  };
  const env = () => {
    const logged: number[] = [];
    const counter = new I32Global({ value: 'i32', mutable: true }, 40);
    return { logged, counter, imports: { env: { base: 10, counter, log: (v: number) => logged.push(v) } } };
  };
  const plain = env();
  const expected = run(loadPlain(original, plain.imports), plain.counter, plain.logged);
  assert.deepEqual(expected.results, [37, 37, 87]);
  const metered = env();
  const l = load(m, metered.imports);
  l.fuel.value = 1_000_000n;
  assert.deepEqual(run(l.exports, metered.counter, metered.logged), expected);
  const hostCalls = BigInt(metered.logged.length * HOST_CALL_FUEL);
  assert.equal(l.fuel.value, 1_000_000n - (1n + 4n) - (1n + 1n) - (1n + 6n) - 4n - hostCalls, 'bump: 1 + (n + 1) each; k, f and the two clashing exports: 1 each; each call of the host function log: HOST_CALL_FUEL');
  assert.equal((l.instance.exports.own as WebAssembly.Global).value, 87);
});

test('a module with no global and no export section gets both, before its start section', () => {
  const original = fixture('meter-bare');
  assert.equal(WebAssembly.Module.exports(new WebAssembly.Module(original)).length, 0);
  const reported: number[] = [];
  const imports = { env: { report: (v: number) => reported.push(v) } };
  // the start function runs at instantiation, before the host can set the fuel: it traps with 0 …
  const m = injectMetering(original);
  assert.ok(WebAssembly.validate(m.bytes));
  assert.deepEqual(WebAssembly.Module.exports(new WebAssembly.Module(m.bytes)), [
    { name: '__wasmgate_fuel', kind: 'global' },
    { name: '__wasmgate_grow', kind: 'global' },
  ]);
  assert.throws(() => load(m, imports), WebAssembly.RuntimeError);
  assert.deepEqual(reported, []);
  // … and runs with an initial fuel
  const H = BigInt(HOST_CALL_FUEL);
  const l = load(injectMetering(original, { initialFuel: 100n + 5n * H }), imports);
  assert.deepEqual(reported, [...'hello'].map((c) => c.charCodeAt(0)));
  assert.equal(l.fuel.value, 100n - 1n - 5n, 'one function entry, five loop iterations, five host calls');
  // an initial fuel too small for it traps it, after a part of its work: each host call is charged first
  reported.length = 0;
  assert.throws(() => load(injectMetering(original, { initialFuel: 3n + 2n * H }), imports), /unreachable/);
  assert.deepEqual(reported, [104, 101]);
});

test('entry points set their own budget on entry; the module calling them inside does not renew it', () => {
  const m = injectMetering(fixture('meter-loops'), { initialFuel: 1_000n, entryPoints: ['count', 'spin', 'down', 'missing'] });
  assert.ok(WebAssembly.validate(m.bytes));
  assert.deepEqual([...m.refueling].sort(), ['count', 'down', 'spin']);
  const exportsOf = (bytes: Uint8Array) => WebAssembly.Module.exports(new WebAssembly.Module(bytes));
  assert.deepEqual(exportsOf(m.bytes), [...exportsOf(fixture('meter-loops')), { name: '__wasmgate_fuel', kind: 'global' }, { name: '__wasmgate_grow', kind: 'global' }]);
  const l = load(m);
  // whatever the host leaves in the global, an entry point starts with its budget
  l.fuel.value = 0n;
  assert.equal(l.exports.count!(10), 10);
  assert.equal(l.fuel.value, 1_000n - 11n);
  l.fuel.value = -5n;
  assert.equal(l.exports.count!(998), 998);
  assert.equal(l.fuel.value, 1n);
  assert.equal(outOfFuel(l, () => l.exports.spin!()), -1n, 'spin runs on exactly one budget');
  // down's recursion calls itself inside the module: one budget for all of it
  assert.equal(l.exports.down!(998), 998);
  assert.equal(l.fuel.value, 1n);
  outOfFuel(l, () => l.exports.down!(1_000));
  // an export that is no entry point runs on what the global holds
  l.fuel.value = 0n;
  outOfFuel(l, () => l.exports.sum!(3));
  // parameters and results pass through unchanged
  const g = injectMetering(fixture('meter-globals'), { initialFuel: 1_000_000n, entryPoints: ['bump', 'k'] });
  assert.deepEqual([...g.refueling].sort(), ['bump', 'k']);
  const logged: number[] = [];
  const counter = new I32Global({ value: 'i32', mutable: true }, 40);
  const lg = load(g, { env: { base: 10, counter, log: (v: number) => logged.push(v) } });
  lg.fuel.value = 0n;
  assert.deepEqual([lg.exports.bump!(3), lg.exports.bump!(0), lg.exports.bump!(5)], [37, 37, 87]);
  assert.equal(lg.exports.k!(), loadPlain(fixture('meter-globals'), { env: { base: 10, counter: new I32Global({ value: 'i32', mutable: true }, 40), log: () => 0 } }).k!());
});

test('every memory.grow leaves its result in the grow global: -1 once the memory is refused', () => {
  const m = injectMetering(fixture('meter-grow'));
  assert.equal(m.growExport, '__wasmgate_grow');
  const l = load(m);
  l.fuel.value = 1000n;
  const grow = l.instance.exports[m.growExport] as WebAssembly.Global;
  assert.equal(grow.value, 0);
  assert.equal(l.exports['grow']!(1), 1, 'the result still reaches the code');
  assert.equal(grow.value, 1);
  l.exports['grow_dropped']!(5);
  assert.equal(grow.value, -1, 'refused past the maximum');
  assert.equal(l.exports['grow']!(1), 2);
  assert.equal(grow.value, 2);
  assert.equal(l.exports['grow']!(1), -1);
  assert.equal(grow.value, -1);
});

test('nested loops, br_table, type-index block types, SIMD, bulk memory, negative constants: same results', () => {
  const original = fixture('meter-features');
  const m = injectMetering(original);
  assert.ok(WebAssembly.validate(m.bytes));
  const plain = loadPlain(original);
  const l = load(m);
  const calls: [string, ...number[]][] = [
    ['nested', 0], ['nested', 1], ['nested', 37],
    ['dispatch', 1], ['dispatch', 23],
    ['typed', 1], ['typed', 10],
    ['simd', 1], ['simd', 9],
    ['bulk', 1], ['bulk', 40],
    ['consts'],
    ['indirect', 1], ['indirect', 12],
  ];
  for (const [name, ...args] of calls) {
    l.fuel.value = 1_000_000n;
    assert.equal(l.exports[name]!(...args), plain[name]!(...args), `${name}(${args.join()})`);
    assert.ok((l.fuel.value as bigint) < 1_000_000n, `${name} was charged`);
  }
  l.fuel.value = 1_000_000n;
  assert.equal(l.exports.nested!(37), 37 * 36 / 2 * (37 * 36 / 2));
  // nested(37): 1 entry + 38 outer headers + 37 × 38 inner headers
  assert.equal(l.fuel.value, 1_000_000n - (1n + 38n + 37n * 38n));
  l.fuel.value = 20n;
  outOfFuel(l, () => l.exports.nested!(37));
});

test('every fixture and every built filter is rewritten into a module that validates, with its callbacks as entry points', () => {
  const files = [
    ...readdirSync(fixturesDir).filter((f) => f.endsWith('.wasm')).map((f) => `${fixturesDir}${f}`),
    ...readdirSync(filtersDir).filter((f) => f.endsWith('.wasm')).map((f) => `${filtersDir}${f}`),
  ];
  for (const name of ['add-headers', 'ab-router', 'json-transform']) assert.ok(files.includes(`${filtersDir}${name}.wasm`), `${name}.wasm is built`);
  let rewritten = 0;
  for (const file of files) {
    const bytes = readFileSync(file);
    if (!WebAssembly.validate(bytes)) continue; // a deliberately invalid fixture
    const m = injectMetering(bytes, { entryPoints: CALLBACK_NAMES.map((n) => `proxy_${n}`) });
    assert.ok(WebAssembly.validate(m.bytes), `${file} validates once metered`);
    const mod = new WebAssembly.Module(m.bytes);
    const exports = WebAssembly.Module.exports(mod);
    assert.ok(exports.some((e) => e.name === m.fuelExport && e.kind === 'global'));
    // the same exports as before, by name and kind, and each entry point it has wrapped
    assert.deepEqual(exports.slice(0, -2), WebAssembly.Module.exports(new WebAssembly.Module(bytes)));
    for (const name of m.refueling) assert.ok(exports.some((e) => e.name === name && e.kind === 'function'), `${file}: ${name}`);
    if (file.startsWith(filtersDir)) assert.ok(m.refueling.includes('proxy_on_request_headers'), `${file}: its callbacks set their own budget`);
    rewritten++;
  }
  assert.ok(rewritten >= files.length - 2, `${rewritten} of ${files.length} rewritten`);
});

test('an AssemblyScript filter initializes the same metered, and is charged for it', () => {
  for (const name of ['add-headers', 'ab-router', 'json-transform']) {
    const bytes = readFileSync(`${filtersDir}${name}.wasm`);
    const stubs = (mod: WebAssembly.Module) => {
      const env: Record<string, Record<string, unknown>> = {};
      for (const i of WebAssembly.Module.imports(mod)) {
        assert.equal(i.kind, 'function', `${name} imports ${i.module}.${i.name}`);
        (env[i.module] ??= {})[i.name] = () => 0;
      }
      return env as WebAssembly.Imports;
    };
    const plainMod = new WebAssembly.Module(bytes);
    const plain = new WebAssembly.Instance(plainMod, stubs(plainMod)).exports as Record<string, unknown>;
    const m = injectMetering(bytes);
    const meteredMod = new WebAssembly.Module(m.bytes);
    const metered = new WebAssembly.Instance(meteredMod, stubs(meteredMod)).exports as Record<string, unknown>;
    const fuel = metered[m.fuelExport] as WebAssembly.Global;
    fuel.value = 10_000_000n;
    (plain._initialize as () => void)();
    (metered._initialize as () => void)();
    const spent = 10_000_000n - (fuel.value as bigint);
    assert.ok(spent > 0n, `${name}: _initialize was charged`);
    const ctx = (e: Record<string, unknown>) => (e.proxy_on_context_create as (a: number, b: number) => void)(1, 0);
    ctx(plain);
    ctx(metered);
    assert.deepEqual(Buffer.from((metered.memory as WebAssembly.Memory).buffer), Buffer.from((plain.memory as WebAssembly.Memory).buffer), `${name}: same memory`);
    // too little fuel for _initialize: it traps on the fuel
    const again = new WebAssembly.Instance(meteredMod, stubs(meteredMod)).exports as Record<string, unknown>;
    (again[m.fuelExport] as WebAssembly.Global).value = spent - 1n;
    assert.throws(() => (again._initialize as () => void)(), /unreachable/);
  }
});

test('malformed input and unsupported features are refused with a clear message', () => {
  const header = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  const section = (id: number, content: number[]) => [id, content.length, ...content];
  /** A module with one `(func)` whose body (after an empty local vector) is `code`. */
  const withBody = (code: number[]) =>
    Uint8Array.from([...header, ...section(1, [1, 0x60, 0, 0]), ...section(3, [1, 0]), ...section(10, [1, code.length + 1, 0, ...code])]);
  const refuses = (bytes: Uint8Array, message: RegExp) => assert.throws(() => injectMetering(bytes), message);
  refuses(Buffer.from('not wasm at all'), /not a WebAssembly module/);
  refuses(Uint8Array.from([0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00]), /unsupported binary version/);
  refuses(Uint8Array.from([...header, 1, 10, 1, 0x60]), /section 1 runs past the end/);
  refuses(Uint8Array.from([...header, 14, 0]), /unknown section id 14/);
  refuses(Uint8Array.from([...header, ...section(3, [0]), ...section(1, [0])]), /section 1 is duplicated or out of order/);
  refuses(withBody([0x27, 0x0b]), /unknown opcode 0x27 \(at byte \d+\) in function 0/);
  refuses(withBody([0xfb, 0x00, 0x0b]), /GC instructions \(0xfb prefix\) are not supported/);
  refuses(withBody([0xfd, 0xe2, 0x01, 0x0b]), /unknown opcode 0xfd 226/);
  refuses(withBody([0xfc, 0x12, 0x0b]), /unknown opcode 0xfc 18/);
  refuses(withBody([0x01]), /unexpected end/);
  refuses(withBody([0x0b, 0x01]), /does not end at its final `end`/);
  refuses(withBody([0x41, 0x80, 0x80, 0x0b]), /unexpected end/);
  // and what is well-formed passes
  assert.ok(WebAssembly.validate(injectMetering(withBody([0x03, 0x40, 0x0b, 0x0b])).bytes));
});

test('multi-memory, tail calls and exception handling are stepped over', async () => {
  const wabt = await (await import('wabt')).default();
  const cases: [string, Record<string, boolean>][] = [
    [`(module (memory $a 1) (memory $b 1)
       (func (export "f") (result i32)
         (i32.store $b offset=8 (i32.const 0) (i32.const 42))
         (memory.copy $a $b (i32.const 0) (i32.const 0) (i32.const 16))
         (loop $l (br_if $l (i32.eqz (i32.const 1))))
         (i32.add (i32.load $a offset=8 (i32.const 0)) (i32.load8_u $b (i32.const 8)))))`, { multi_memory: true }],
    [`(module
       (func $f (export "f") (param i32) (result i32)
         (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 7)) (else (return_call $f (i32.sub (local.get 0) (i32.const 1)))))))`, { tail_call: true }],
    [`(module (tag $e (param i32))
       (func (export "f") (param i32) (result i32)
         (try (result i32)
           (do (loop $l (br_if $l (i32.eqz (local.get 0)))) (throw $e (i32.add (local.get 0) (i32.const 5))))
           (catch $e)
           (catch_all (i32.const 0)))))`, { exceptions: true }],
  ];
  for (const [wat, features] of cases) {
    const mod = wabt.parseWat('meter.wat', wat, features);
    let bytes: Uint8Array;
    try {
      bytes = mod.toBinary({}).buffer;
    } finally {
      mod.destroy();
    }
    const m = injectMetering(bytes);
    assert.ok(WebAssembly.validate(m.bytes), wat);
    const l = load(m);
    l.fuel.value = 1_000n;
    assert.equal(l.exports.f!(3), loadPlain(bytes).f!(3), wat);
    assert.ok((l.fuel.value as bigint) < 1_000n);
  }
});

/** A valid module of about `size` bytes: functions whose bodies mix loops, blocks, memory access and constants. */
function bigModule(size: number): Uint8Array {
  const leb = (v: number) => {
    const out: number[] = [];
    do {
      const b = v & 0x7f;
      v = Math.floor(v / 128);
      out.push(v === 0 ? b : b | 0x80);
    } while (v !== 0);
    return out;
  };
  const chunk = [
    0x20, 0x00, 0x41, 0xe8, 0x07, 0x6a, 0x21, 0x00, // local.set 0 (local.get 0 + 1000)
    0x03, 0x40, //                                      loop
    0x20, 0x00, 0x28, 0x02, 0x10, 0x1a, //                i32.load offset=16, drop
    0x20, 0x00, 0x41, 0x7d, 0x71, 0x21, 0x00, //          local.set 0 (local.get 0 & -3)
    0x42, 0xeb, 0xe5, 0x90, 0x45, 0x1a, //                i64.const -123456789, drop
    0x44, 0, 0, 0, 0, 0, 0, 0xf8, 0x3f, 0x1a, //         f64.const 1.5, drop
    0x02, 0x40, 0x20, 0x00, 0x0d, 0x00, 0x0b, //          block (br_if 0 (local.get 0)) end
    0x0b, //                                            end
  ];
  const body = [0x00];
  for (let i = 0; i < 50; i++) body.push(...chunk);
  body.push(0x20, 0x00, 0x0b);
  const entry = [...leb(body.length), ...body];
  const count = Math.ceil(size / entry.length);
  const code = new Uint8Array(leb(count).length + count * entry.length);
  code.set(leb(count));
  for (let i = 0, at = leb(count).length; i < count; i++, at += entry.length) code.set(entry, at);
  const section = (id: number, content: ArrayLike<number>) => [id, ...leb(content.length), ...Array.from(content)];
  const funcs = [...leb(count), ...new Array<number>(count).fill(0)];
  const head = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, ...section(1, [1, 0x60, 1, 0x7f, 1, 0x7f]), ...section(3, funcs), ...section(5, [1, 0, 1])];
  return Uint8Array.from([...head, 10, ...leb(code.length), ...code]);
}

function best(runs: number, fn: () => void): number {
  let min = Infinity;
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    fn();
    min = Math.min(min, performance.now() - t);
  }
  return min;
}

test('measured: rewrite time for a ~2 MB module, run-time overhead on a compute-heavy loop', () => {
  const big = bigModule(2 * 1024 * 1024);
  assert.ok(WebAssembly.validate(big));
  let out: MeteredModule | undefined;
  const rewriteMs = best(5, () => {
    out = injectMetering(big);
  });
  assert.ok(WebAssembly.validate(out!.bytes));
  process.stdout.write(`# rewrite of a ${(big.length / 1048576).toFixed(2)} MB module: ${rewriteMs.toFixed(1)} ms (best of 5), ${big.length} -> ${out!.bytes.length} bytes\n`);

  const N = 10_000_000;
  const plain = loadPlain(fixture('meter-loops'));
  const l = load(injectMetering(fixture('meter-loops')));
  l.fuel.value = 1n << 62n;
  const expected = BigInt(N) * BigInt(N - 1) / 2n;
  assert.equal(plain.sum!(N), expected);
  assert.equal(l.exports.sum!(N), expected);
  const plainMs = best(5, () => plain.sum!(N));
  const meteredMs = best(5, () => l.exports.sum!(N));
  process.stdout.write(
    `# sum of 10^7 i64 in a loop: ${plainMs.toFixed(1)} ms plain, ${meteredMs.toFixed(1)} ms metered (${(meteredMs / plainMs).toFixed(2)}x, ` +
      `${(((meteredMs - plainMs) * 1e6) / N).toFixed(2)} ns per loop iteration)\n`,
  );
});

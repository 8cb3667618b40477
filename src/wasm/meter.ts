// CPU metering injected into a filter module before it is compiled, so that a callback that loops (or
// recurses) forever traps deterministically instead of blocking its worker thread.
//
// Design. The module gets one new global, `(global $fuel (mut i64) (i64.const 0))`, appended after its
// own globals (imported globals come first in the index space, so every existing global index stays
// valid), and one new export of that global (`__wasmgate_fuel`, suffixed `_1`, `_2`… if the name is
// taken). The global is set to the budget before each callback: by the host, or, for the exports named
// as entry points, by a small function the export now points at (`global.set` of the budget, then a call
// of the original with the same arguments). At every function entry (after the
// local declarations) and at every loop header (right after `loop`'s block type, so it runs on entry and
// on every back edge `br` to the loop), this self-contained check is inserted:
//
//     global.get $fuel  i64.const 1  i64.sub  global.set $fuel
//     global.get $fuel  i64.const 0  i64.lt_s  if  unreachable  end
//
// It leaves the operand stack as it found it, and its `if … end` adds no label around existing code, so
// branch depths are unchanged. After every `memory.grow` of memory 0, `global.set $grow  global.get $grow`
// keeps the last result in a second global (i32, or i64 for a 64-bit memory) exported as `__wasmgate_grow`:
// when a trap follows a refused grow (-1), the host knows the module ran out of memory, whatever its
// allocator does then (Rust and C abort with `unreachable`, AssemblyScript calls `abort`). A trap with the global below zero means "CPU budget spent": a callback
// given a budget of B completes iff it executes at most B function entries + loop headers, plus
// HOST_CALL_FUEL for every call of a host function (the same check, charging that much, right before each
// `call` of an imported function: host functions run outside the meter; a host that moves many bytes in
// one call charges them too, see TRANSFER_BYTES_PER_FUEL). Cost: 16 bytes of code per function and per loop (19 with a 2-byte global
// index); per loop iteration a global load, subtract, store, compare and never-taken branch. Measured on
// the test machine (test/wasm-meter.test.ts): a tight loop summing 10^7 i64s runs 1.3–1.7× slower
// (+0.1–0.2 ns per iteration); code doing real work per iteration pays proportionally less.
//
// The rewrite reads the binary once and writes it once (a 2 MB module in 20–45 ms): sections are copied
// through as they are except the global, export and code sections (created in their place in the section
// order when absent), whose vector counts and sizes are re-encoded. Each function body is walked
// instruction by instruction only to find the loops, so every opcode's immediates must be known: MVP, sign
// extension, saturating truncation, multi-value, reference types, bulk memory, multi-memory, memory64, SIMD
// and relaxed SIMD, threads, tail calls, typed function references and exception handling (legacy and
// try_table). GC instructions (0xFB) and anything unknown are refused with an error rather than risk a
// corrupt module. Custom sections are kept as they are, so debug info (DWARF, source maps, code metadata)
// that points at code offsets is stale in the rewritten module; the "name" section stays right.

export interface MeteredModule {
  /** The rewritten module. */
  readonly bytes: Buffer;
  /** Name of the exported mutable i64 global holding the remaining fuel. */
  readonly fuelExport: string;
  /** Name of the exported global holding the result of the last `memory.grow` (-1: refused). */
  readonly growExport: string;
  /** The entry points (of MeteringOptions.entryPoints) that reset the fuel themselves on entry. */
  readonly refueling: readonly string[];
}

export interface MeteringOptions {
  /**
   * The fuel global's initial value (default 0). A module with a start section runs its start function
   * during instantiation, before the host can set the fuel: with 0 it traps at once.
   */
  readonly initialFuel?: bigint;
  /**
   * Exported functions that start a metered call: each export is pointed at a new function that sets the
   * fuel to `initialFuel` and calls the original with its arguments, so the host need not set the global
   * from JavaScript before each call (the global's setter is a call into the engine's C++ API, the
   * costliest part of a call into a small callback). A function only other code of the module calls is
   * not affected; an export of an imported function, or a module whose types use the GC proposal's
   * forms, keeps the host's own reset. Only for functions the host never calls from inside another
   * metered call (whose budget it would renew).
   */
  readonly entryPoints?: readonly string[];
}

const FUEL_EXPORT = '__wasmgate_fuel';
const GROW_EXPORT = '__wasmgate_grow';
const SEC_FUNCTION = 3;
const SEC_GLOBAL = 6;
const SEC_EXPORT = 7;
const SEC_CODE = 10;
/** Position of each section id (0–13) in the required section order; custom sections (0) go anywhere. */
const RANK = [0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 12, 13, 11, 6];

// Immediates of the one-byte opcodes (0: unknown opcode).
const NONE = 1, BLOCK = 2, LOOP = 3, END = 4, IDX = 5, IDX2 = 6, BR_TABLE = 7, MEMARG = 8;
const BYTES4 = 9, BYTES8 = 10, SELECT_T = 11, TRY_TABLE = 12, DELEGATE = 13, PREFIX = 14;
const OPS = new Uint8Array(256);
const set = (kind: number, ...ranges: [number, number][]) => {
  for (const [from, to] of ranges) OPS.fill(kind, from, to + 1);
};
set(NONE, [0x00, 0x01], [0x05, 0x05], [0x0a, 0x0a], [0x0f, 0x0f], [0x19, 0x1b], [0x45, 0xc4], [0xd1, 0xd1], [0xd3, 0xd3], [0xd5, 0xd5]);
set(BLOCK, [0x02, 0x02], [0x04, 0x04], [0x06, 0x06]); // block, if, try
set(LOOP, [0x03, 0x03]);
set(END, [0x0b, 0x0b]);
// catch/throw/rethrow, br/br_if, call/return_call/call_ref/return_call_ref, local/global/table get/set,
// memory.size/grow, ref.null (heap type), ref.func, br_on_null/br_on_non_null
set(IDX, [0x07, 0x09], [0x0c, 0x0d], [0x10, 0x10], [0x12, 0x12], [0x14, 0x15], [0x20, 0x26], [0x3f, 0x40], [0xd0, 0xd0], [0xd2, 0xd2], [0xd4, 0xd4], [0xd6, 0xd6]);
set(IDX2, [0x11, 0x11], [0x13, 0x13]); // call_indirect, return_call_indirect: type, table
set(BR_TABLE, [0x0e, 0x0e]);
set(MEMARG, [0x28, 0x3e]);
set(IDX, [0x41, 0x42]); // i32.const, i64.const: a LEB to skip
set(BYTES4, [0x43, 0x43]);
set(BYTES8, [0x44, 0x44]);
set(SELECT_T, [0x1c, 0x1c]);
set(TRY_TABLE, [0x1f, 0x1f]);
set(DELEGATE, [0x18, 0x18]);
set(PREFIX, [0xfb, 0xfe]);
/** Unassigned opcodes in the SIMD range 0xFD 0x00–0xFF (relaxed SIMD continues at 0x100–0x113). */
const SIMD_GAPS = new Set([0x9a, 0xa2, 0xa5, 0xa6, 0xaf, 0xb0, 0xb2, 0xb3, 0xb4, 0xbb, 0xc2, 0xc5, 0xc6, 0xcf, 0xd0, 0xd2, 0xd3, 0xd4, 0xe2, 0xee]);

function fail(message: string, at?: number): never {
  throw new Error(`wasm metering: ${message}${at === undefined ? '' : ` (at byte ${at})`}`);
}

class Reader {
  readonly buf: Uint8Array;
  pos: number;
  end: number;
  constructor(buf: Uint8Array, pos: number, end: number) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
  }
  byte(): number {
    if (this.pos >= this.end) fail('unexpected end of section or body', this.pos);
    return this.buf[this.pos++]!;
  }
  u32(): number {
    let result = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const b = this.byte();
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result > 0xffffffff ? fail('integer too large', this.pos) : result;
    }
    return fail('integer representation too long', this.pos);
  }
  /** Skips a LEB128 number of any width (u32, s33, s64, u64). */
  leb(): void {
    for (let i = 0; i < 10; i++) if ((this.byte() & 0x80) === 0) return;
    fail('integer representation too long', this.pos);
  }
  skip(n: number): void {
    if (this.pos + n > this.end) fail('unexpected end of section or body', this.pos);
    this.pos += n;
  }
  /** A value type: one byte, or ref/ref null (0x64/0x63) with a heap type. */
  valType(): void {
    const b = this.byte();
    if (b === 0x63 || b === 0x64) this.leb();
    else if (b & 0x80) fail(`malformed value type 0x${b.toString(16)}`, this.pos - 1);
  }
  /** A block type: 0x40, a value type or an s33 type index. */
  blockType(): void {
    const b = this.byte();
    if (b === 0x63 || b === 0x64) this.leb();
    else if (b & 0x80) {
      this.pos--;
      this.leb();
    }
  }
  memarg(): void {
    const align = this.u32();
    if (align & 0x40) this.leb(); // multi-memory: a memory index follows
    this.leb(); // offset (u64 with memory64)
  }
}

class Writer {
  buf: Uint8Array;
  len = 0;
  constructor(capacity: number) {
    this.buf = Buffer.allocUnsafeSlow(Math.max(Math.ceil(capacity), 64)); // not pooled; only [0, len) is read
  }
  reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = Buffer.allocUnsafeSlow(Math.max(this.buf.length * 2, this.len + n));
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }
  byte(b: number): void {
    this.reserve(1);
    this.buf[this.len++] = b;
  }
  u32(v: number): void {
    do {
      const b = v & 0x7f;
      v = Math.floor(v / 128);
      this.byte(v === 0 ? b : b | 0x80);
    } while (v !== 0);
  }
  s64(v: bigint): void {
    for (;;) {
      const b = Number(v & 0x7fn);
      v >>= 7n;
      const done = (v === 0n && (b & 0x40) === 0) || (v === -1n && (b & 0x40) !== 0);
      this.byte(done ? b : b | 0x80);
      if (done) return;
    }
  }
  bytes(src: Uint8Array, from = 0, to = src.length): void {
    const n = to - from;
    this.reserve(n);
    if (n > 32) this.buf.set(src.subarray(from, to), this.len);
    else for (let i = 0; i < n; i++) this.buf[this.len + i] = src[from + i]!; // cheaper than a view
    this.len += n;
  }
  section(id: number, content: Writer): void {
    this.byte(id);
    this.u32(content.len);
    this.bytes(content.buf, 0, content.len);
  }
}

interface Section {
  readonly id: number;
  readonly start: number;
  readonly body: number;
  readonly end: number;
}

/** Injects metering; throws an Error with a clear message on malformed input or unsupported features. */
export function injectMetering(bytes: Uint8Array, options: MeteringOptions = {}): MeteredModule {
  if (bytes.length < 8 || bytes[0] !== 0 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) fail('not a WebAssembly module (bad magic number)');
  if (bytes[4] !== 1 || bytes[5] !== 0 || bytes[6] !== 0 || bytes[7] !== 0) fail('unsupported binary version (components are not supported)');

  const sections: Section[] = [];
  const top = new Reader(bytes, 8, bytes.length);
  let lastRank = 0;
  while (top.pos < bytes.length) {
    const start = top.pos;
    const id = top.byte();
    const size = top.u32();
    const body = top.pos;
    if (body + size > bytes.length) fail(`section ${id} runs past the end of the module`, start);
    if (id > 13) fail(`unknown section id ${id}`, start);
    if (id !== 0) {
      if (RANK[id]! <= lastRank) fail(`section ${id} is duplicated or out of order`, start);
      lastRank = RANK[id]!;
    }
    sections.push({ id, start, body, end: body + size });
    top.pos = body + size;
  }

  let importedFuncs = 0;
  let memories = 0;
  let memory64 = false;
  let importedGlobals = 0;
  let ownGlobals = 0;
  let exportCount = 0;
  const exportNames = new Set<string>();
  /** Parameter count of each type (left empty when the type section has other forms than plain function types). */
  const typeParams: number[] = [];
  /** Type index of each function the module defines. */
  const funcTypes: number[] = [];
  /** Entry-point exports of a function the module defines: name → function index. */
  const entries = new Map<string, number>();
  const wanted = new Set(options.entryPoints ?? []);
  for (const s of sections) {
    const r = new Reader(bytes, s.body, s.end);
    if (s.id === 1) {
      for (let n = r.u32(); n > 0; n--) {
        if (r.byte() !== 0x60) {
          typeParams.length = 0; // rec groups, sub, struct, array: no wrappers (none is needed to meter)
          break;
        }
        const params = r.u32();
        for (let k = 0; k < params; k++) r.valType();
        for (let k = r.u32(); k > 0; k--) r.valType();
        typeParams.push(params);
      }
    } else if (s.id === 3) {
      for (let n = r.u32(); n > 0; n--) funcTypes.push(r.u32());
    } else if (s.id === 2) {
      for (let n = r.u32(); n > 0; n--) {
        r.skip(r.u32()); // module name
        r.skip(r.u32()); // field name
        const kind = r.byte();
        if (kind === 0) {
          r.leb();
          importedFuncs++;
        } else if (kind === 1 || kind === 2) {
          if (kind === 1) r.valType();
          const flags = r.u32();
          if (kind === 2 && memories++ === 0) memory64 = (flags & 4) !== 0;
          r.leb();
          if (flags & 1) r.leb();
          if (flags & 8) r.leb(); // custom page size
        } else if (kind === 3) {
          r.valType();
          r.byte();
          importedGlobals++;
        } else if (kind === 4) {
          r.byte();
          r.leb();
        } else fail(`unknown import kind ${kind}`, r.pos - 1);
      }
    } else if (s.id === 5) {
      if (memories === 0 && r.u32() > 0) memory64 = (r.u32() & 4) !== 0;
    } else if (s.id === SEC_GLOBAL) {
      ownGlobals = r.u32();
    } else if (s.id === SEC_EXPORT) {
      exportCount = r.u32();
      for (let n = exportCount; n > 0; n--) {
        const len = r.u32();
        r.skip(len);
        const name = Buffer.from(bytes.buffer, bytes.byteOffset + r.pos - len, len).toString('utf8');
        exportNames.add(name);
        const kind = r.byte();
        const index = r.u32();
        if (kind === 0 && wanted.has(name)) entries.set(name, index);
      }
    }
  }
  const fuelIndex = importedGlobals + ownGlobals;
  const growIndex = fuelIndex + 1;
  const unique = (base: string) => {
    let n = base;
    for (let i = 1; exportNames.has(n); i++) n = `${base}_${i}`;
    return n;
  };
  const fuelExport = unique(FUEL_EXPORT);
  const growExport = unique(GROW_EXPORT);

  const fuelGlobal = new Writer(16);
  fuelGlobal.bytes(Uint8Array.of(0x7e, 0x01, 0x42)); // mut i64 = i64.const …
  fuelGlobal.s64(options.initialFuel ?? 0n);
  fuelGlobal.byte(0x0b);
  // the grow global: mut i32 (i64 for a 64-bit memory) = 0
  fuelGlobal.bytes(memory64 ? Uint8Array.of(0x7e, 0x01, 0x42, 0x00, 0x0b) : Uint8Array.of(0x7f, 0x01, 0x41, 0x00, 0x0b));
  const fuelExportEntry = new Writer(64);
  for (const [exportName, index] of [[fuelExport, fuelIndex], [growExport, growIndex]] as const) {
    const name = Buffer.from(exportName, 'utf8');
    fuelExportEntry.u32(name.length);
    fuelExportEntry.bytes(name);
    fuelExportEntry.byte(0x03);
    fuelExportEntry.u32(index);
  }

  // the entry-point wrappers, appended after the module's own functions
  const wrappers: Array<{ name: string; target: number; type: number }> = [];
  for (const [name, target] of entries) {
    const type = funcTypes[target - importedFuncs];
    if (target < importedFuncs || type === undefined || typeParams[type] === undefined) continue;
    wrappers.push({ name, target, type });
  }
  const firstWrapper = importedFuncs + funcTypes.length;
  const wrapperOf = new Map(wrappers.map((w, k) => [w.name, firstWrapper + k]));
  const wrapperTypes = new Writer(16);
  const wrapperBodies: Writer[] = [];
  for (const w of wrappers) {
    wrapperTypes.u32(w.type);
    const body = new Writer(32);
    body.byte(0x00); // no locals
    body.byte(0x42); // i64.const budget
    body.s64(options.initialFuel ?? 0n);
    body.byte(0x24); // global.set $fuel
    body.u32(fuelIndex);
    for (let p = 0; p < typeParams[w.type]!; p++) {
      body.byte(0x20); // local.get p
      body.u32(p);
    }
    body.byte(0x10); // call the original
    body.u32(w.target);
    body.byte(0x0b);
    wrapperBodies.push(body);
  }

  const codeSection = sections.find((s) => s.id === SEC_CODE);
  const code = codeSection && planCode(bytes, codeSection, importedFuncs);
  // by insertion point kind: P_CHECK, P_GROW, P_HOST
  const seqs = [checkSequence(fuelIndex), growSequence(growIndex), checkSequence(fuelIndex, HOST_CALL_FUEL)];
  const out = new Writer(bytes.length + (code ? code.points.length * Math.max(...seqs.map((q) => q.length)) + code.count * 2 : 0) + 256);
  out.bytes(bytes, 0, 8);
  const has = (id: number) => sections.some((s) => s.id === id);
  let globalPending = !has(SEC_GLOBAL);
  let exportPending = !has(SEC_EXPORT);
  /** Emits the sections the module lacks once the next section belongs after them. */
  const emitMissing = (rank: number) => {
    if (globalPending && rank > RANK[SEC_GLOBAL]!) {
      out.section(SEC_GLOBAL, withEntries(undefined, 0, 2, fuelGlobal));
      globalPending = false;
    }
    if (exportPending && rank > RANK[SEC_EXPORT]!) {
      out.section(SEC_EXPORT, withEntries(undefined, 0, 2, fuelExportEntry));
      exportPending = false;
    }
  };
  /** A vector section (count + entries) with `added` more entries at the end. */
  const withEntries = (s: Section | undefined, count: number, added: number, entry: Writer) => {
    const w = new Writer((s ? s.end - s.body : 0) + entry.len + 8);
    w.u32(count + added);
    if (s) {
      const r = new Reader(bytes, s.body, s.end);
      r.u32();
      w.bytes(bytes, r.pos, s.end);
    }
    w.bytes(entry.buf, 0, entry.len);
    return w;
  };

  for (const s of sections) {
    if (s.id !== 0) emitMissing(RANK[s.id]!);
    if (s.id === SEC_GLOBAL) out.section(s.id, withEntries(s, ownGlobals, 2, fuelGlobal));
    else if (s.id === SEC_EXPORT) out.section(s.id, wrappers.length === 0 ? withEntries(s, exportCount, 2, fuelExportEntry) : exportsTo(bytes, s, wrapperOf, fuelExportEntry));
    else if (s.id === SEC_FUNCTION && wrappers.length > 0) out.section(s.id, withEntries(s, funcTypes.length, wrappers.length, wrapperTypes));
    else if (s.id === SEC_CODE) writeCode(out, bytes, code!, seqs, wrapperBodies);
    else out.bytes(bytes, s.start, s.end);
  }
  emitMissing(Infinity);
  return { bytes: Buffer.from(out.buf.buffer, out.buf.byteOffset, out.len), fuelExport, growExport, refueling: wrappers.map((w) => w.name) };
}

/** The export section with the wrapped entry points pointing at their wrappers, and `added` (2 entries) at the end. */
function exportsTo(bytes: Uint8Array, s: Section, wrapperOf: ReadonlyMap<string, number>, added: Writer): Writer {
  const r = new Reader(bytes, s.body, s.end);
  const count = r.u32();
  const w = new Writer(s.end - s.body + added.len + 16);
  w.u32(count + 2);
  for (let n = count; n > 0; n--) {
    const start = r.pos;
    const len = r.u32();
    r.skip(len);
    const name = Buffer.from(bytes.buffer, bytes.byteOffset + r.pos - len, len).toString('utf8');
    const kind = r.byte();
    const at = r.pos;
    r.u32();
    const wrapper = kind === 0 ? wrapperOf.get(name) : undefined;
    if (wrapper === undefined) {
      w.bytes(bytes, start, r.pos);
    } else {
      w.bytes(bytes, start, at);
      w.u32(wrapper);
    }
  }
  w.bytes(added.buf, 0, added.len);
  return w;
}

/** After `memory.grow`: keeps its result in global `growIndex`, leaving it on the stack. */
function growSequence(growIndex: number): Uint8Array {
  const idx = new Writer(8);
  idx.u32(growIndex);
  const i = Array.from(idx.buf.subarray(0, idx.len));
  return Uint8Array.from([0x24, ...i, 0x23, ...i]);
}

/** The metering check, charging `units` of fuel (< 2^20) from global `fuelIndex` (see the header comment). */
function checkSequence(fuelIndex: number, units = 1): Uint8Array {
  const idx = new Writer(8);
  idx.u32(fuelIndex);
  const i = Array.from(idx.buf.subarray(0, idx.len));
  const k: number[] = [];
  // signed LEB128 of a small positive number: 7 bits a byte, and a last byte whose bit 6 is clear
  for (let v = units; ; v >>= 7) {
    if (v < 0x40) {
      k.push(v);
      break;
    }
    k.push((v & 0x7f) | 0x80);
  }
  return Uint8Array.from([0x23, ...i, 0x42, ...k, 0x7d, 0x24, ...i, 0x23, ...i, 0x42, 0x00, 0x53, 0x04, 0x40, 0x00, 0x0b]);
}

/** What goes at an insertion point (its low two bits; the offset in the input is the rest). */
const P_CHECK = 0;
const P_GROW = 1;
const P_HOST = 2;

/**
 * Fuel a call to a host function costs: host functions run outside the meter, and some cost
 * microseconds (copying a body, a header map), so a loop around them would otherwise run for minutes
 * on a budget meant for milliseconds. 1,000 units caps a callback at the default budget to 200,000
 * host calls; real filters make tens.
 */
export const HOST_CALL_FUEL = 1_000;

/**
 * A host call that moves CHARGED_TRANSFER_BYTES (4 KiB) or more between the guest's memory and the host
 * (a body, a header map, a log line) is charged a unit per this many bytes on top, as the host charges it
 * (src/wasm/vm.ts): a loop around one then spends the budget in about the time a loop of the guest's own
 * code would, whatever the size it moves.
 */
export const TRANSFER_BYTES_PER_FUEL = 4;

interface CodePlan {
  readonly count: number;
  /** Per function body: its start, its size and the end of its insertion points in `points`. */
  readonly bodies: number[];
  /** Insertion points in the input, in order: offset · 4 + what goes there (P_*). */
  readonly points: number[];
}

/** Walks every function body of the code section, finding where the checks go. */
function planCode(bytes: Uint8Array, s: Section, importedFuncs: number): CodePlan {
  const r = new Reader(bytes, s.body, s.end);
  const count = r.u32();
  const bodies: number[] = [];
  const points: number[] = [];
  for (let i = 0; i < count; i++) {
    const size = r.u32();
    const start = r.pos;
    if (start + size > s.end) fail(`body of function ${importedFuncs + i} runs past the code section`, start);
    r.end = start + size;
    try {
      walkBody(r, points, importedFuncs);
    } catch (err) {
      throw new Error(`${(err as Error).message} in function ${importedFuncs + i}`);
    }
    r.end = s.end;
    bodies.push(start, size, points.length);
  }
  if (r.pos !== s.end) fail('code section has bytes after its last body', r.pos);
  return { count, bodies, points };
}

const lebLength = (v: number) => (v < 2 ** 7 ? 1 : v < 2 ** 14 ? 2 : v < 2 ** 21 ? 3 : v < 2 ** 28 ? 4 : 5);

/** Writes the code section with the checks inserted, each body's size and the section's size re-encoded. */
function writeCode(out: Writer, bytes: Uint8Array, plan: CodePlan, seqs: readonly Uint8Array[], extra: readonly Writer[]): void {
  const { bodies, points } = plan;
  const sizes: number[] = [];
  const count = plan.count + extra.length;
  let total = lebLength(count);
  for (const e of extra) total += lebLength(e.len) + e.len;
  for (let b = 0, p = 0; b < bodies.length; b += 3) {
    let size = bodies[b + 1]!;
    for (const last = bodies[b + 2]!; p < last; p++) size += seqs[points[p]! & 3]!.length;
    sizes.push(size);
    total += lebLength(size) + size;
  }
  out.byte(SEC_CODE);
  out.u32(total);
  const end = out.len + total;
  out.u32(count);
  for (let b = 0, p = 0; b < bodies.length; b += 3) {
    const start = bodies[b]!;
    const last = bodies[b + 2]!;
    out.u32(sizes[b / 3]!);
    let from = start;
    for (; p < last; p++) {
      const at = Math.floor(points[p]! / 4);
      out.bytes(bytes, from, at);
      out.bytes(seqs[points[p]! & 3]!);
      from = at;
    }
    out.bytes(bytes, from, start + bodies[b + 1]!);
  }
  for (const e of extra) {
    out.u32(e.len);
    out.bytes(e.buf, 0, e.len);
  }
  if (out.len !== end) fail('internal error: code section size mismatch');
}

/** Walks one function body (reader bounded to it), collecting the offsets where a check goes. */
function walkBody(r: Reader, points: number[], importedFuncs: number): void {
  for (let n = r.u32(); n > 0; n--) {
    r.u32();
    r.valType();
  }
  points.push(r.pos * 4 + P_CHECK);
  let depth = 0;
  while (depth >= 0) {
    const at = r.pos;
    const op = r.byte();
    switch (OPS[op]) {
      case NONE: break;
      case BLOCK: r.blockType(); depth++; break;
      case LOOP: r.blockType(); depth++; points.push(r.pos * 4 + P_CHECK); break;
      case END: depth--; break;
      case IDX:
        if (op === 0x40) {
          if (r.u32() === 0) points.push(r.pos * 4 + P_GROW); // memory.grow of memory 0
        } else if (op === 0x10 || op === 0x12) {
          // call / return_call of an imported (host) function: charged before the call
          if (r.u32() < importedFuncs) points.push(at * 4 + P_HOST);
        } else r.leb();
        break;
      case IDX2: r.leb(); r.leb(); break;
      case BR_TABLE: for (let n = r.u32(); n >= 0; n--) r.leb(); break;
      case MEMARG: r.memarg(); break;
      case BYTES4: r.skip(4); break;
      case BYTES8: r.skip(8); break;
      case SELECT_T: for (let n = r.u32(); n > 0; n--) r.valType(); break;
      case DELEGATE: r.leb(); depth--; break;
      case TRY_TABLE:
        r.blockType();
        depth++;
        for (let n = r.u32(); n > 0; n--) {
          const kind = r.byte();
          if (kind > 3) fail(`unknown try_table catch kind ${kind}`, r.pos - 1);
          if (kind < 2) r.leb(); // tag
          r.leb(); // label
        }
        break;
      case PREFIX: prefixed(r, op, at); break;
      default: fail(`unknown opcode 0x${op.toString(16)}`, at);
    }
  }
  if (r.pos !== r.end) fail('function body does not end at its final `end`', r.pos);
}

function prefixed(r: Reader, prefix: number, at: number): void {
  const sub = r.u32();
  const bad = () => fail(`unknown opcode 0x${prefix.toString(16)} ${sub}`, at);
  if (prefix === 0xfc) {
    // 0–7 saturating truncation; memory.init, data.drop, memory.copy, memory.fill, table.init, elem.drop,
    // table.copy, table.grow, table.size, table.fill
    if (sub <= 7) return;
    if (sub > 17) bad();
    r.leb();
    if (sub === 8 || sub === 10 || sub === 12 || sub === 14) r.leb();
  } else if (prefix === 0xfd) {
    if (sub <= 0x0b || sub === 0x5c || sub === 0x5d) r.memarg(); // loads, stores, load*_zero
    else if (sub === 0x0c || sub === 0x0d) r.skip(16); // v128.const, i8x16.shuffle
    else if (sub >= 0x15 && sub <= 0x22) r.skip(1); // extract/replace_lane
    else if (sub >= 0x54 && sub <= 0x5b) {
      r.memarg(); // load*_lane, store*_lane
      r.skip(1);
    } else if (sub > 0x113 || SIMD_GAPS.has(sub)) bad();
  } else if (prefix === 0xfe) {
    if (sub === 0x03) r.skip(1); // atomic.fence
    else if (sub <= 0x02 || (sub >= 0x10 && sub <= 0x4e)) r.memarg();
    else bad();
  } else {
    fail('GC instructions (0xfb prefix) are not supported', at);
  }
}

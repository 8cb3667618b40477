// A filter's .wasm file, compiled once on the main thread and checked before anything runs it: that it
// is WebAssembly, which proxy-wasm ABI version it was built for, that it exports memory and an
// allocator, and what it imports (every import must link: unknown ones are listed so the operator
// sees them at load, not when a request calls them).
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { AbiVersions, type AbiVersion } from './abi/constants.ts';
import { ALLOCATORS, CALLBACKS } from './abi/callbacks.ts';
import { importArea, type ImportArea } from './abi/imports.ts';
import { ErrorCodes, GatewayError } from '../errors.ts';
import { limitMemory } from './rewrite.ts';
import { injectMetering } from './meter.ts';
import { CALLBACK_NAMES } from '../filters/filter-cost.ts';

export interface LoadOptions {
  /** Cap the module's memory at this many bytes (its maximum is rewritten before compiling). */
  readonly memoryLimitBytes?: number;
  /**
   * Inject CPU metering (a fuel counter charged at every function entry and loop iteration) with this
   * budget per callback (limits.cpu); 0 or absent: unmetered.
   */
  readonly cpu?: number;
}

export interface ModuleImport {
  readonly module: string;
  readonly name: string;
  readonly kind: WebAssembly.ImportExportKind;
  /** The ABI area, or undefined for an import no known ABI defines (linked to a stub that traps). */
  readonly area: ImportArea | undefined;
}

export interface FilterModule {
  readonly file: string;
  readonly sha256: string;
  readonly sizeBytes: number;
  readonly module: WebAssembly.Module;
  readonly abi: AbiVersion;
  /** The ABI marker export that told the version. */
  readonly abiMarker: string;
  readonly allocator: (typeof ALLOCATORS)[number];
  /** Known callbacks the module exports, in the ABI's order. */
  readonly callbacks: readonly string[];
  readonly imports: readonly ModuleImport[];
  /** Imports that belong to no known ABI. */
  readonly unknownImports: readonly ModuleImport[];
  /** The memory maximum the module runs with, in bytes (undefined: no limit applied). */
  readonly memoryMaxBytes: number | undefined;
  /** The exported i64 global holding the CPU fuel of the running callback, when metering was injected. */
  readonly fuelExport: string | undefined;
  /** The exported global holding the last memory.grow result (with metering). */
  readonly growExport: string | undefined;
  /** Callbacks that set their CPU budget themselves on entry (with metering), and that budget. */
  readonly refueling: ReadonlySet<string>;
  readonly entryFuel: bigint;
}

export class FilterModuleError extends GatewayError {
  readonly file: string;
  constructor(file: string, reason: string, cause?: unknown) {
    super(ErrorCodes.GW_ERR_WASM_INVALID, `${file}: ${reason}`, cause === undefined ? undefined : { cause });
    this.name = 'FilterModuleError';
    this.file = file;
  }
}

const WASM_MAGIC = Buffer.from([0x00, 0x61, 0x73, 0x6d]);

/** Reads, compiles and checks a filter module. Throws FilterModuleError saying what is wrong. */
export async function loadFilterModule(file: string, options: LoadOptions = {}): Promise<FilterModule> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    throw new FilterModuleError(file, `cannot read the file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, err);
  }
  return checkFilterModule(file, bytes, options);
}

/** Compiles and checks module bytes (`file` names them in messages). */
export async function checkFilterModule(file: string, bytes: Buffer, options: LoadOptions = {}): Promise<FilterModule> {
  if (bytes.length < 8 || !bytes.subarray(0, 4).equals(WASM_MAGIC)) {
    throw new FilterModuleError(file, 'not a WebAssembly module (the file does not start with the \\0asm header)');
  }
  const version = bytes.readUInt32LE(4);
  if (version !== 1) throw new FilterModuleError(file, `unsupported WebAssembly binary version ${version} (expected 1)`);
  // the identity of the file as written (the rewrites below change the bytes that get compiled)
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const sizeBytes = bytes.length;
  let memoryMaxBytes: number | undefined;
  if (options.memoryLimitBytes !== undefined) {
    try {
      const limited = limitMemory(bytes, options.memoryLimitBytes);
      if (limited !== undefined) {
        bytes = limited.bytes;
        memoryMaxBytes = limited.maximumPages * 65536;
      }
    } catch (err) {
      throw new FilterModuleError(file, `cannot apply the memory limit: ${(err as Error).message}`, err);
    }
  }
  let fuelExport: string | undefined;
  let growExport: string | undefined;
  let refueling: ReadonlySet<string> = new Set();
  if (options.cpu !== undefined && options.cpu > 0 && WebAssembly.validate(bytes)) {
    try {
      // a start section runs during instantiation, before the host sets the fuel: it gets one budget
      // the callbacks the host calls each start with the budget, set by the module itself
      const metered = injectMetering(bytes, { initialFuel: BigInt(options.cpu), entryPoints: CALLBACK_NAMES.map((n) => `proxy_${n}`) });
      bytes = metered.bytes;
      fuelExport = metered.fuelExport;
      growExport = metered.growExport;
      refueling = new Set(metered.refueling);
    } catch (err) {
      throw new FilterModuleError(file, `cannot inject CPU metering: ${(err as Error).message} (set limits.cpu: 0 to run it unmetered)`, err);
    }
  }
  let module: WebAssembly.Module;
  try {
    module = await WebAssembly.compile(bytes);
  } catch (err) {
    throw new FilterModuleError(file, `invalid WebAssembly: ${(err as Error).message.replace(/^WebAssembly\.compile\(\): /, '')}`, err);
  }

  const exports = WebAssembly.Module.exports(module);
  const exported = new Map(exports.map((e) => [e.name, e.kind]));
  const markers = Object.keys(AbiVersions) as Array<keyof typeof AbiVersions>;
  const abiMarker = markers.find((m) => exported.get(m) === 'function');
  if (abiMarker === undefined) {
    const found = exports.map((e) => e.name).filter((n) => n.startsWith('proxy_abi_version_'));
    throw new FilterModuleError(
      file,
      found.length > 0
        ? `unknown proxy-wasm ABI version export ${found.join(', ')} (supported: ${markers.join(', ')})`
        : `no proxy-wasm ABI version export (one of ${markers.join(', ')}); is this a proxy-wasm filter?`,
    );
  }

  const imports: ModuleImport[] = WebAssembly.Module.imports(module).map((i) => ({
    module: i.module,
    name: i.name,
    kind: i.kind,
    area: i.kind === 'function' ? importArea(i.module, i.name) : undefined,
  }));
  const nonFunction = imports.find((i) => i.kind !== 'function');
  if (nonFunction !== undefined) {
    throw new FilterModuleError(file, `imports a ${nonFunction.kind} (${nonFunction.module}.${nonFunction.name}); the host provides functions only`);
  }
  if (exported.get('memory') !== 'memory') throw new FilterModuleError(file, 'exports no memory named "memory"');
  const allocator = ALLOCATORS.find((a) => exported.get(a) === 'function');
  if (allocator === undefined) throw new FilterModuleError(file, `exports no allocator (${ALLOCATORS.join(' or ')})`);

  return {
    file,
    sha256,
    sizeBytes,
    module,
    abi: AbiVersions[abiMarker],
    abiMarker,
    allocator,
    callbacks: CALLBACKS.filter((c) => exported.get(c) === 'function'),
    imports,
    unknownImports: imports.filter((i) => i.area === undefined),
    memoryMaxBytes,
    fuelExport,
    growExport,
    refueling,
    entryFuel: BigInt(options.cpu ?? 0),
  };
}

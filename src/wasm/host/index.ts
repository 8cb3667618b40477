// Builds a module's import object from one table. Every import links, because SDKs import host calls
// they never use: an ABI function wasmgate implements gets the real function; one it does not yet
// implement returns Unimplemented (env) or ENOSYS (WASI); an import outside every known ABI gets a stub
// that traps with its name if it is ever called.
import { WasiErrno, WasmResult } from '../abi/constants.ts';
import { WASI_MODULES } from '../abi/imports.ts';
import type { FilterModule } from '../module.ts';
import { generalImports } from './general.ts';
import { httpImports } from './http.ts';
import { sharedImports } from './shared.ts';
import { runtimeImports } from './runtime.ts';
import { GuestExit, type VmHost } from './types.ts';
import { wasiImports } from './wasi.ts';

type HostFn = (...args: never[]) => number | void;

export interface LinkReport {
  /** ABI imports the module uses that this build answers with Unimplemented/ENOSYS. */
  readonly unimplemented: readonly string[];
  /** Imports no ABI defines (they trap if called). */
  readonly unknown: readonly string[];
}

export function buildImports(mod: FilterModule, host: VmHost): { imports: WebAssembly.Imports; report: LinkReport } {
  const env: Record<string, HostFn> = { ...generalImports(host), ...httpImports(host), ...sharedImports(host), ...runtimeImports(host) };
  const wasi: Record<string, HostFn> = wasiImports(host);
  const imports: WebAssembly.Imports = {};
  const unimplemented: string[] = [];
  const unknown: string[] = [];
  for (const imp of mod.imports) {
    const table = imp.module === 'env' ? env : WASI_MODULES.has(imp.module) ? wasi : undefined;
    const full = `${imp.module}.${imp.name}`;
    let fn: HostFn | undefined = table?.[imp.name];
    if (fn === undefined) {
      if (imp.area === undefined) {
        unknown.push(full);
        fn = () => {
          throw new GuestExit(`called ${full}, which no ABI defines`, -1);
        };
      } else {
        unimplemented.push(full);
        const status = imp.module === 'env' ? WasmResult.Unimplemented : WasiErrno.Nosys;
        fn = () => status;
      }
    }
    (imports[imp.module] ??= {})[imp.name] = fn as WebAssembly.ImportValue;
  }
  return { imports, report: { unimplemented, unknown } };
}

/** Which imports of a module this build implements, stubs, or does not know (no VM needed). */
export function linkReportOf(mod: FilterModule): LinkReport & { readonly implemented: ReadonlySet<string> } {
  const tables = implementedTables();
  const implemented = new Set<string>();
  const unimplemented: string[] = [];
  const unknown: string[] = [];
  for (const imp of mod.imports) {
    const full = `${imp.module}.${imp.name}`;
    const table = imp.module === 'env' ? tables.env : WASI_MODULES.has(imp.module) ? tables.wasi : undefined;
    if (table?.has(imp.name) === true) implemented.add(full);
    else if (imp.area === undefined) unknown.push(full);
    else unimplemented.push(full);
  }
  return { implemented, unimplemented, unknown };
}

let tablesCache: { env: ReadonlySet<string>; wasi: ReadonlySet<string> } | undefined;
function implementedTables(): { env: ReadonlySet<string>; wasi: ReadonlySet<string> } {
  if (tablesCache === undefined) {
    // the tables only close over the host; building them with a placeholder calls nothing
    const host = { memory: undefined, abi: '0.2.1' } as unknown as VmHost;
    tablesCache = {
      env: new Set(Object.keys({ ...generalImports(host), ...httpImports(host), ...sharedImports(host), ...runtimeImports(host) })),
      wasi: new Set(Object.keys(wasiImports(host))),
    };
  }
  return tablesCache;
}

// One instance of a filter module (one VM, in proxy-wasm terms) and its start-up: instantiate with the
// import table, run the module's initializer, create the root context, then proxy_on_vm_start and
// proxy_on_configure with the VM and plugin configuration readable as buffers 6 and 7. A trap or a
// `false` refuses the filter with an error that carries the filter's own last log lines.
import type { ResolvedFilter } from '../config/types.ts';
import type { Logger } from '../observability/logger.ts';
import { BufferType, type LogLevel } from './abi/constants.ts';
import { GuestMemory } from './memory/codec.ts';
import { buildImports, type LinkReport } from './host/index.ts';
import { GuestExit, type VmHost } from './host/types.ts';
import type { FilterModule } from './module.ts';
import { ErrorCodes, GatewayError } from '../errors.ts';

type Export = (...args: number[]) => number | undefined;

const PINO_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
const RECENT_LINES = 20;

export class FilterStartError extends GatewayError {
  readonly filter: string;
  /** The filter's own last log lines before it failed. */
  readonly filterLog: readonly string[];
  constructor(filter: string, reason: string, filterLog: readonly string[], cause?: unknown) {
    const tail = filterLog.length === 0 ? '' : `\n  filter log:\n${filterLog.map((l) => `    ${l}`).join('\n')}`;
    super(ErrorCodes.GW_ERR_WASM_START_FAILED, `filter "${filter}": ${reason}${tail}`, cause === undefined ? undefined : { cause });
    this.name = 'FilterStartError';
    this.filter = filter;
    this.filterLog = filterLog;
  }
}

export class FilterVm {
  readonly filter: ResolvedFilter;
  readonly module: FilterModule;
  readonly link: LinkReport;
  readonly memory: GuestMemory;
  private readonly exports: Record<string, Export>;
  private readonly log: Logger;
  private readonly recent: string[] = [];
  private readonly vmConfig: Buffer;
  private readonly pluginConfig: Buffer;
  /** Buffers readable in the callback now running (configuration during start-up). */
  private readable: ReadonlyMap<number, Buffer> = new Map();
  private nextContextId = 1;
  rootContextId = 0;

  constructor(mod: FilterModule, filter: ResolvedFilter, log: Logger) {
    this.filter = filter;
    this.module = mod;
    this.log = log.child({ filter: filter.name, rootId: filter.root_id, vmId: filter.vm_id }, { msgPrefix: 'wasm: ' });
    this.vmConfig = Buffer.from(filter.vm_config, 'utf8');
    this.pluginConfig = Buffer.from(filter.config, 'utf8');
    // the import functions get the memory object now; it is attached once the instance exists
    const memory = new GuestMemory();
    this.memory = memory;
    const host: VmHost = {
      memory,
      alloc: (size) => this.alloc(size),
      log: (level, message) => this.guestLog(level, message),
      logLevel: () => this.logLevel(),
      buffer: (type) => this.readable.get(type),
      property: (path) => this.property(path),
    };
    const { imports, report } = buildImports(mod, host);
    this.link = report;
    let instance: WebAssembly.Instance;
    try {
      instance = new WebAssembly.Instance(mod.module, imports);
    } catch (err) {
      throw new FilterStartError(filter.name, `cannot instantiate ${mod.file}: ${(err as Error).message}`, [], err);
    }
    this.exports = instance.exports as Record<string, Export>;
    memory.attach(instance.exports.memory as WebAssembly.Memory);
  }

  /** Allocates in the guest through its allocator export; 0 when it fails. */
  private alloc(size: number): number {
    const p = this.exports[this.module.allocator]!(size >>> 0);
    return typeof p === 'number' ? p >>> 0 : 0;
  }

  /** Runs the module's initializer: `_initialize` (then `main` if exported) for reactors, `_start` otherwise. */
  initialize(): void {
    if (this.exports._initialize !== undefined) {
      this.call('_initialize');
      if (this.exports.main !== undefined) this.call('main', 0, 0);
    } else if (this.exports._start !== undefined) {
      this.call('_start');
    }
  }

  /** Creates the root context and runs proxy_on_vm_start and proxy_on_configure. */
  startRootContext(): number {
    const root = this.nextContextId++;
    this.rootContextId = root;
    this.call('proxy_on_context_create', root, 0);
    this.readable = new Map([[BufferType.VmConfiguration, this.vmConfig]]);
    try {
      if (this.call('proxy_on_vm_start', root, this.vmConfig.length) === 0) this.refuse('proxy_on_vm_start returned false');
      this.readable = new Map([
        [BufferType.VmConfiguration, this.vmConfig],
        [BufferType.PluginConfiguration, this.pluginConfig],
      ]);
      if (this.call('proxy_on_configure', root, this.pluginConfig.length) === 0) this.refuse('proxy_on_configure returned false (the filter refused its configuration)');
    } finally {
      this.readable = new Map();
    }
    return root;
  }

  /** Calls an export if the module has it; a missing callback answers `undefined`. Traps become FilterStartError. */
  private call(name: string, ...args: number[]): number | undefined {
    const fn = this.exports[name];
    if (fn === undefined) return undefined;
    try {
      return fn(...args);
    } catch (err) {
      if (err instanceof GuestExit && err.exitCode === 0 && name === '_start') return undefined; // a command that finished
      const what = err instanceof GuestExit ? err.message : `trapped: ${(err as Error).message}`;
      this.refuse(`${name} ${what}`, err);
    }
  }

  private refuse(reason: string, cause?: unknown): never {
    throw new FilterStartError(this.filter.name, reason, [...this.recent], cause);
  }

  private guestLog(level: LogLevel, message: string): void {
    if (this.recent.length === RECENT_LINES) this.recent.shift();
    this.recent.push(`[${PINO_LEVELS[level]}] ${message}`);
    this.log[PINO_LEVELS[level]](message);
  }

  private logLevel(): number {
    const i = PINO_LEVELS.indexOf(this.log.level as (typeof PINO_LEVELS)[number]);
    return i === -1 ? 6 : i; // "silent" is above critical
  }

  private property(path: readonly string[]): Buffer | undefined {
    if (path.length !== 1) return undefined;
    switch (path[0]) {
      case 'plugin_name':
        return Buffer.from(this.filter.name);
      case 'plugin_root_id':
        return Buffer.from(this.filter.root_id);
      case 'plugin_vm_id':
        return Buffer.from(this.filter.vm_id);
      default:
        return undefined;
    }
  }
}

// A configured filter in one worker: its module, its current VM (root context started), and what the
// module exports, known once at load so streams skip what a filter does not implement. A VM that fails
// is never called again; the next stream gets a fresh instance (Envoy's reload-on-failure), retried at
// most once a second while instances keep failing to start.
import type { ResolvedFilter } from '../config/types.ts';
import type { Logger } from '../observability/logger.ts';
import type { FilterModule } from '../wasm/module.ts';
import { FilterVm, type VmServices } from '../wasm/vm.ts';
import { FilterCost, type FilterCostSnapshot } from './filter-cost.ts';

const RESTART_BACKOFF_MS = 1000;

export class Plugin {
  readonly filter: ResolvedFilter;
  readonly module: FilterModule;
  readonly name: string;
  private readonly log: Logger;
  private readonly services: VmServices | undefined;
  private vm: FilterVm;
  private retryAt = 0;
  /** Calls, time, outbound calls and failures of this filter in this worker (all its VMs, all versions). */
  readonly cost: FilterCost;
  /** Exports that make the chain read bodies or trailers of each direction. */
  readonly requestBody: boolean;
  readonly requestTrailers: boolean;
  readonly responseBody: boolean;
  readonly responseTrailers: boolean;

  /** Starts the first VM; throws FilterStartError when the filter refuses to start. */
  constructor(module: FilterModule, filter: ResolvedFilter, log: Logger, services?: VmServices, cost?: FilterCost) {
    this.filter = filter;
    this.services = services;
    this.cost = cost ?? new FilterCost();
    this.module = module;
    this.name = filter.name;
    this.log = log;
    const has = new Set(module.callbacks);
    this.requestBody = has.has('proxy_on_request_body');
    this.requestTrailers = has.has('proxy_on_request_trailers');
    this.responseBody = has.has('proxy_on_response_body');
    this.responseTrailers = has.has('proxy_on_response_trailers');
    this.vm = this.startVm();
  }

  private startVm(): FilterVm {
    const vm = new FilterVm(this.module, this.filter, this.log, this.services, this.cost);
    vm.initialize();
    vm.startRootContext();
    return vm;
  }

  /** The VM a new stream uses: the current one, a fresh one if it failed, or undefined while none starts. */
  acquire(): FilterVm | undefined {
    if (!this.vm.failed) return this.vm;
    const now = Date.now();
    if (now < this.retryAt) return undefined;
    try {
      this.vm = this.startVm();
      this.cost.vmRestarts++;
      this.log.warn({ filter: this.name }, 'filter VM replaced after a failure');
      return this.vm;
    } catch (err) {
      this.retryAt = now + RESTART_BACKOFF_MS;
      this.cost.failure('restart_failed');
      this.log.error({ filter: this.name, err: (err as Error).message }, 'filter VM could not be restarted');
      return undefined;
    }
  }

  /** This worker's counts for the admin port: live VMs and their memory as they are now. */
  costSnapshot(): FilterCostSnapshot {
    const live = !this.vm.failed;
    return this.cost.snapshot(live ? 1 : 0, live ? this.vm.memory.byteLength : 0);
  }

  /** The VM now serving (for inspection and tests). */
  get current(): FilterVm {
    return this.vm;
  }

  close(): void {
    this.vm.close();
  }

  /** Replaced by a new version: the root context gets proxy_on_done and proxy_on_delete, then the VM stops. */
  retire(): void {
    this.vm.shutdownRoot();
    this.vm.close();
  }
}

/** The filters one route runs, in order, and what they make the stream do. */
export class FilterChain {
  readonly plugins: readonly Plugin[];
  /** Some filter reads request bodies or trailers: the request body goes through the chain. */
  readonly requestBody: boolean;
  /** Some filter reads response bodies or trailers. */
  readonly responseBody: boolean;

  constructor(plugins: readonly Plugin[]) {
    this.plugins = plugins;
    this.requestBody = plugins.some((p) => p.requestBody || p.requestTrailers);
    this.responseBody = plugins.some((p) => p.responseBody || p.responseTrailers);
  }
}

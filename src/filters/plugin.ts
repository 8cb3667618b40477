// A configured filter in one worker: its module, its current VM (root context started), and what the
// module exports, known once at load so streams skip what a filter does not implement. A VM that fails
// is never called again; the next stream gets a fresh instance (Envoy's reload-on-failure), retried at
// most once a second while instances keep failing to start.
import type { FailureClass, ResolvedFilter } from '../config/types.ts';
import type { Logger } from '../observability/logger.ts';
import type { FilterModule } from '../wasm/module.ts';
import { FilterVm, type VmServices } from '../wasm/vm.ts';
import { FilterCost, type FilterCostSnapshot } from './filter-cost.ts';

const RESTART_BACKOFF_MS = 1000;

export class Plugin {
  readonly filter: ResolvedFilter;
  /** Undefined when the module could not be loaded and fail_open.load let the gateway start without it. */
  readonly module: FilterModule | undefined;
  readonly name: string;
  private readonly log: Logger;
  private readonly services: VmServices | undefined;
  private vm: FilterVm | undefined;
  private retryAt = 0;
  /** Calls, time, outbound calls and failures of this filter in this worker (all its VMs, all versions). */
  readonly cost: FilterCost;
  /** Exports that make the chain read bodies or trailers of each direction. */
  readonly requestBody: boolean;
  readonly requestTrailers: boolean;
  readonly responseBody: boolean;
  readonly responseTrailers: boolean;

  /** Starts the first VM; throws FilterStartError when the filter refuses to start. */
  constructor(module: FilterModule | undefined, filter: ResolvedFilter, log: Logger, services?: VmServices, cost?: FilterCost) {
    this.filter = filter;
    this.services = services;
    this.cost = cost ?? new FilterCost();
    this.module = module;
    this.name = filter.name;
    this.log = log;
    const has = new Set(module?.callbacks ?? []);
    this.requestBody = has.has('proxy_on_request_body');
    this.requestTrailers = has.has('proxy_on_request_trailers');
    this.responseBody = has.has('proxy_on_response_body');
    this.responseTrailers = has.has('proxy_on_response_trailers');
    if (module === undefined) {
      this.lastFailureClass = 'load';
      return;
    }
    try {
      this.vm = this.startVm();
    } catch (err) {
      // fail_open.start: the gateway starts without the filter and keeps trying it (with backoff)
      if (!filter.fail_open.start) throw err;
      this.lastFailureClass = 'start';
      this.retryAt = Date.now() + RESTART_BACKOFF_MS;
      this.cost.failure('start_failed');
      this.noteFailure(`start failed: ${(err as Error).message.split('\n')[0]}`);
      log.error({ filter: filter.name, err: (err as Error).message }, 'filter did not start; running without it (fail_open.start)');
    }
  }

  private startVm(): FilterVm {
    const vm = new FilterVm(this.module!, this.filter, this.log, this.services, this.cost);
    try {
      vm.initialize();
      vm.startRootContext();
    } catch (err) {
      // a VM that refused to start may already have armed a tick or registered a queue: stop it, or its
      // timer keeps it (its memory, and the plane that made it) running for good
      vm.close();
      throw err;
    }
    vm.onFailure = (failed) => {
      this.lastFailureClass = failed.failureClass;
      this.failed(failed.failure);
    };
    return vm;
  }

  /** The VM a new stream uses: the current one, a fresh one if it failed, or undefined (quarantined, or none starts). */
  acquire(): FilterVm | undefined {
    if (this.vm !== undefined && !this.vm.failed) return this.vm;
    if (this.module === undefined) return undefined;
    const now = Date.now();
    if (now < this.retryAt) return undefined;
    if (now < this.quarantinedUntil) return undefined;
    try {
      this.vm = this.startVm();
      this.cost.vmRestarts++;
      this.log.warn({ filter: this.name, probe: this.backoffMs > 0 }, this.backoffMs > 0 ? 'quarantined filter probed with a fresh VM' : 'filter VM replaced after a failure');
      return this.vm;
    } catch (err) {
      this.retryAt = now + RESTART_BACKOFF_MS;
      this.cost.failure('restart_failed');
      this.lastFailureClass = 'start';
      this.log.error({ filter: this.name, err: (err as Error).message }, 'filter VM could not be restarted');
      this.failed(`restart failed: ${(err as Error).message.split('\n')[0]}`);
      return undefined;
    }
  }

  /** The class of the last failure (what a quarantined or restarting filter's fail policy follows). */
  lastFailureClass: FailureClass = 'trap';

  /** Which fail policy applies to a stream: its VM's failure, or (no VM to run) the plugin's last failure. */
  failureClass(vm: FilterVm | undefined): FailureClass {
    return vm !== undefined && vm.failed ? vm.failureClass : this.lastFailureClass;
  }

  /** Until when the filter is quarantined (ms epoch; 0 = not), and why. */
  quarantinedUntil = 0;
  quarantineReason = '';
  private backoffMs = 0;
  private readonly failureTimes: number[] = [];

  /** The last failure, for the admin port. */
  private lastFailure = '';
  private lastFailureAt = 0;

  private noteFailure(reason: string): void {
    this.lastFailure = reason;
    this.lastFailureAt = Date.now();
  }

  /** A failure of the filter (after start): enough of them in the window quarantine it. */
  private failed(reason: string): void {
    this.noteFailure(reason);
    const q = this.filter.quarantine;
    const now = Date.now();
    this.failureTimes.push(now);
    while (this.failureTimes.length > 0 && now - this.failureTimes[0]! > q.window_ms) this.failureTimes.shift();
    // a probe that lasted a whole window without failing ends the backoff series
    if (this.backoffMs > 0 && this.failureTimes.length === 1 && now - this.quarantinedUntil > q.window_ms) this.backoffMs = 0;
    if (this.failureTimes.length < q.failures && this.backoffMs === 0) return;
    this.backoffMs = this.backoffMs === 0 ? 1000 : Math.min(this.backoffMs * 2, q.max_backoff_ms);
    this.quarantinedUntil = now + this.backoffMs;
    this.quarantineReason = reason;
    this.cost.quarantines++;
    this.failureTimes.length = 0;
    this.log.error(
      { filter: this.name, backoffMs: this.backoffMs, reason },
      `filter quarantined for ${this.backoffMs} ms: its fail policy for ${this.lastFailureClass} failures applies without calling it (${this.filter.fail_open[this.lastFailureClass] ? 'fail open' : 'fail closed'})`,
    );
  }

  get quarantined(): boolean {
    return Date.now() < this.quarantinedUntil;
  }

  /** This worker's counts for the admin port: live VMs and their memory as they are now. */
  costSnapshot(): FilterCostSnapshot {
    const vm = this.vm;
    const live = vm !== undefined && !vm.failed;
    const s = this.cost.snapshot(live ? 1 : 0, live ? vm.memory.byteLength : 0);
    s.quarantined = this.quarantined ? 1 : 0;
    s.quarantine_reason = this.quarantined ? this.quarantineReason : '';
    s.last_failure = this.lastFailure;
    s.last_failure_at = this.lastFailureAt === 0 ? '' : new Date(this.lastFailureAt).toISOString();
    return s;
  }

  /** The VM now serving (for inspection and tests). */
  get current(): FilterVm | undefined {
    return this.vm;
  }

  close(): void {
    this.vm?.close();
  }

  /** Replaced by a new version: the root context gets proxy_on_done and proxy_on_delete, then the VM stops. */
  retire(): void {
    this.vm?.shutdownRoot();
    this.vm?.close();
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

// Everything one worker needs to serve requests for one configuration version: routes, upstream pools,
// filters (one started VM per filter), and the worker's stats and access log. A reload builds the next
// plane next to the serving one, reusing the upstream pools and filter VMs whose configuration did not
// change, and swaps the pointer only when the whole plane is ready. Requests keep the plane they started
// on; a replaced plane retires when its last request ends: pools and VMs the new plane does not use are
// then drained and released.
import type { ResolvedConfig, ResolvedFilter, ResolvedUpstream } from '../config/types.ts';
import type { Logger } from '../observability/logger.ts';
import type { AccessLog } from '../observability/access-log.ts';
import { WorkerStats } from '../observability/stats.ts';
import { Router } from './router.ts';
import { createUpstream, type Upstream } from './upstream.ts';
import { closeTrailerPath } from './trailer-forwarder.ts';
import type { CompiledRoute } from './router.ts';
import type { FilterModule } from '../wasm/module.ts';
import { FilterChain, Plugin } from '../filters/plugin.ts';
import { sendCall } from '../filters/http-call.ts';
import type { FilterCostSnapshot } from '../filters/filter-cost.ts';
import type { VmServices } from '../wasm/vm.ts';
import type { SharedState } from '../wasm/shared/vm-shared.ts';
import { hostname } from 'node:os';

/** State of a worker that every plane version shares. */
export interface WorkerContext {
  readonly log: Logger;
  readonly accessLog: AccessLog | undefined;
  readonly stats: WorkerStats;
  readonly shared: SharedState | undefined;
  /** Set when the server drains: responses then carry `connection: close`. */
  draining: boolean;
  /** Watchdog cells the main thread reads (see VmServices.watchdog). */
  readonly watchdog?: Int32Array;
  /** The plane serving new requests (filters reach upstreams through it, whatever plane they came from). */
  current(): DataPlane | undefined;
}

const NODE_ID = `wasmgate~${hostname()}~${process.pid}`;

export class DataPlane {
  readonly config: ResolvedConfig;
  /** Configuration version (1 at start, +1 per applied reload). */
  readonly version: number;
  readonly router: Router;
  readonly upstreams: Map<string, Upstream>;
  /** The upstream of each route (by route index), undefined for direct_response routes. */
  readonly routeUpstreams: ReadonlyArray<Upstream | undefined>;
  /** The stats index of each route (by route index). */
  readonly routeStat: readonly number[];
  readonly stats: WorkerStats;
  readonly log: Logger;
  readonly accessLog: AccessLog | undefined;
  /** Value appended to Via ("1.1 <name>"), or "" for none. */
  readonly via: string;
  /** direct_response headers per route index, as flat pairs. */
  readonly directHeaders: ReadonlyArray<readonly string[] | undefined>;
  readonly plugins: ReadonlyMap<string, Plugin>;
  /** The filter chain of each route (by route index), undefined for none. */
  private readonly routeChains: ReadonlyArray<FilterChain | undefined>;
  /** The chain of requests that match no route. */
  private readonly defaultChain: FilterChain | undefined;
  /** node.id of the filters' properties. */
  readonly nodeId = NODE_ID;
  private readonly worker: WorkerContext;
  /** Requests (and tunnels) running on this plane. */
  active = 0;
  /** Replaced by a newer plane: released when `active` reaches 0. */
  private retired = false;
  private released = false;

  /**
   * Builds a plane, starting every filter VM it does not take over from `previous`: throws
   * FilterStartError when one refuses to start (nothing of the new plane is left running then).
   */
  constructor(
    config: ResolvedConfig,
    worker: WorkerContext,
    modules: ReadonlyMap<string, FilterModule> = new Map(),
    version = 1,
    previous?: DataPlane,
  ) {
    this.config = config;
    this.version = version;
    this.worker = worker;
    this.log = worker.log;
    this.stats = worker.stats;
    this.accessLog = config.access_log.enabled ? worker.accessLog : undefined;
    this.router = new Router(config);
    const upstreams = new Map<string, Upstream>();
    for (const [name, u] of Object.entries(config.upstreams)) {
      const prev = previous?.upstreams.get(name);
      upstreams.set(name, prev !== undefined && sameUpstream(prev.config, u) ? prev : createUpstream(u, this.stats.upstreamIndexOf(name)));
    }
    this.upstreams = upstreams;
    this.routeUpstreams = config.routes.map((r) => (r.upstream === undefined ? undefined : this.upstreams.get(r.upstream)));
    this.routeStat = config.routes.map((r) => this.stats.routeIndexOf(r.name));
    this.via = config.server.via === '' ? '' : `1.1 ${config.server.via}`;
    this.directHeaders = config.routes.map((r) =>
      r.direct_response === undefined ? undefined : Object.entries(r.direct_response.headers).flat(),
    );
    const services = vmServices(worker, upstreams, config);
    const plugins = new Map<string, Plugin>();
    const started: Plugin[] = [];
    try {
      for (const f of config.filters) {
        const mod = modules.get(f.name);
        if (mod === undefined && !f.fail_open.load) throw new Error(`filter "${f.name}" has no compiled module`);
        const prev = previous?.plugins.get(f.name);
        if (prev !== undefined && mod !== undefined && prev.module?.sha256 === mod.sha256 && sameFilter(prev.filter, f)) {
          plugins.set(f.name, prev); // unchanged: the same VM keeps serving
        } else {
          const p = new Plugin(mod, f, this.log, services, prev?.cost);
          started.push(p);
          plugins.set(f.name, p);
        }
      }
    } catch (err) {
      for (const p of started) p.close();
      // pools made for this plane (not taken over from the serving one) go with it
      for (const [name, u] of upstreams) if (previous?.upstreams.get(name) !== u) void closeUpstream(u, false);
      throw err;
    }
    this.plugins = plugins;
    for (const u of upstreams.values()) hold(u);
    for (const p of plugins.values()) hold(p);
    const chainOf = (names: readonly string[]): FilterChain | undefined =>
      names.length === 0 ? undefined : new FilterChain(names.map((n) => plugins.get(n)!));
    this.defaultChain = chainOf(config.filters.map((f) => f.name));
    this.routeChains = this.router.routes.map((r) => chainOf(r.filterNames));
  }

  get draining(): boolean {
    return this.worker.draining;
  }

  set draining(v: boolean) {
    this.worker.draining = v;
  }

  /** Each filter's cost counters in this worker. */
  filterCosts(): Record<string, FilterCostSnapshot> {
    const out: Record<string, FilterCostSnapshot> = {};
    for (const [name, p] of this.plugins) out[name] = p.costSnapshot();
    return out;
  }

  /** The chain a request runs: its route's, or the top-level one when it matched no route. */
  chainFor(route: CompiledRoute | undefined): FilterChain | undefined {
    return route === undefined ? this.defaultChain : this.routeChains[route.index];
  }

  /** A request (or tunnel) on this plane ended. */
  release(): void {
    if (--this.active === 0 && this.retired) this.releaseResources();
  }

  /** Called once the plane is released (its last request ended after retire, or discard). */
  private onReleased: (() => void) | undefined = undefined;

  /**
   * Another plane now serves new requests: this one goes once its requests are done, and then calls
   * `onReleased` (the worker forgets it there: nothing else may keep a retired plane, its VMs and pools).
   */
  retire(onReleased?: () => void): void {
    this.retired = true;
    this.onReleased = onReleased;
    if (this.active === 0) this.releaseResources();
  }

  /** A plane that was built but never served (a reload that failed elsewhere): drop what it started. */
  discard(): void {
    this.retired = true;
    this.releaseResources();
  }

  /**
   * Closes the pools and VMs no other plane holds: not the replacing plane's, nor those of an older plane
   * still finishing its requests (two reloads in a row must not close what the oldest one runs on).
   * Pools drain their requests first.
   */
  private releaseResources(): void {
    if (this.released) return;
    this.released = true;
    for (const u of this.upstreams.values()) if (drop(u)) void closeUpstream(u, true);
    for (const p of this.plugins.values()) if (drop(p)) p.retire();
    const done = this.onReleased;
    this.onReleased = undefined;
    done?.();
  }

  /** Cuts every upstream connection and stops every VM now (worker shutdown). */
  async destroy(): Promise<void> {
    for (const p of this.plugins.values()) p.close();
    await Promise.all([...this.upstreams.values()].map((u) => closeUpstream(u, false)));
  }
}

/**
 * Closes an upstream no plane holds: its pool (its requests drained first, or cut at once) and the
 * trailer path's connections to it.
 */
function closeUpstream(u: Upstream, drain: boolean): Promise<void> {
  closeTrailerPath(u);
  return (drain ? u.pool.close() : u.pool.destroy()).catch(() => undefined);
}

/**
 * What the VMs of a plane's new plugins reach the gateway through. A function of its own so that it
 * keeps only what it names: closures made in the DataPlane constructor would share its scope, and a
 * plugin that a reload keeps would then keep the plane that made it, that plane's plugins and so on,
 * back to the first version.
 */
function vmServices(worker: WorkerContext, upstreams: ReadonlyMap<string, Upstream>, config: ResolvedConfig): VmServices {
  const filterNames = config.filters.map((f) => f.name);
  const maxBuffer = config.server.max_buffer_bytes;
  return {
    ...(worker.shared === undefined ? {} : { shared: worker.shared }),
    // through the serving plane: a VM kept across reloads calls the upstreams of the current config
    upstream: (name) => (worker.current()?.upstreams ?? upstreams).get(name),
    sendCall,
    ...(worker.watchdog === undefined ? {} : { watchdog: worker.watchdog }),
    filterIndex: (name) => filterNames.indexOf(name),
    get maxCallBodyBytes() {
      return worker.current()?.config.server.max_buffer_bytes ?? maxBuffer;
    },
  };
}

/** How many planes hold each pool and plugin: one is closed when the last plane holding it is released. */
const holders = new WeakMap<object, number>();

function hold(resource: object): void {
  holders.set(resource, (holders.get(resource) ?? 0) + 1);
}

/** One plane less holds `resource`: true when it was the last. */
function drop(resource: object): boolean {
  const n = (holders.get(resource) ?? 1) - 1;
  holders.set(resource, n);
  return n <= 0;
}

function sameUpstream(a: ResolvedUpstream, b: ResolvedUpstream): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function sameFilter(a: ResolvedFilter, b: ResolvedFilter): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

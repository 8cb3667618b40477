// Everything one worker needs to serve requests for one configuration: routes, upstream pools, filters
// (one started VM per filter), stats and the access log. Built once per worker (and, with hot reload, once per configuration version).
import type { ResolvedConfig } from '../config/types.ts';
import type { Logger } from '../observability/logger.ts';
import type { AccessLog } from '../observability/access-log.ts';
import { WorkerStats } from '../observability/stats.ts';
import { Router } from './router.ts';
import { createUpstreams, type Upstream } from './upstream.ts';
import type { CompiledRoute } from './router.ts';
import type { FilterModule } from '../wasm/module.ts';
import { FilterChain, Plugin } from '../filters/plugin.ts';
import { sendCall } from '../filters/http-call.ts';
import type { FilterCostSnapshot } from '../filters/filter-cost.ts';
import type { VmServices } from '../wasm/vm.ts';
import type { SharedState } from '../wasm/shared/vm-shared.ts';
import { hostname } from 'node:os';

export class DataPlane {
  readonly config: ResolvedConfig;
  readonly router: Router;
  readonly upstreams: Map<string, Upstream>;
  /** The upstream of each route (by route index), undefined for direct_response routes. */
  readonly routeUpstreams: ReadonlyArray<Upstream | undefined>;
  readonly stats: WorkerStats;
  readonly log: Logger;
  readonly accessLog: AccessLog | undefined;
  /** Value appended to Via ("1.1 <name>"), or "" for none. */
  readonly via: string;
  /** Set when the server drains: responses then carry `connection: close`. */
  draining = false;
  /** direct_response headers per route index, as flat pairs. */
  readonly directHeaders: ReadonlyArray<readonly string[] | undefined>;
  readonly plugins: ReadonlyMap<string, Plugin>;
  /** The filter chain of each route (by route index), undefined for none. */
  private readonly routeChains: ReadonlyArray<FilterChain | undefined>;
  /** The chain of requests that match no route. */
  private readonly defaultChain: FilterChain | undefined;
  /** node.id of the filters' properties. */
  readonly nodeId = `wasmgate~${hostname()}~${process.pid}`;

  /** Starts every filter's VM: throws FilterStartError when one refuses to start. */
  constructor(
    config: ResolvedConfig,
    log: Logger,
    accessLog: AccessLog | undefined,
    modules: ReadonlyMap<string, FilterModule> = new Map(),
    shared?: SharedState,
  ) {
    this.config = config;
    this.log = log;
    this.router = new Router(config);
    this.upstreams = createUpstreams(config.upstreams);
    this.routeUpstreams = config.routes.map((r) => (r.upstream === undefined ? undefined : this.upstreams.get(r.upstream)));
    this.stats = new WorkerStats(
      config.routes.map((r) => r.name),
      [...this.upstreams.keys()],
    );
    this.accessLog = accessLog;
    this.via = config.server.via === '' ? '' : `1.1 ${config.server.via}`;
    this.directHeaders = config.routes.map((r) =>
      r.direct_response === undefined ? undefined : Object.entries(r.direct_response.headers).flat(),
    );
    const plugins = new Map<string, Plugin>();
    const services: VmServices = {
      ...(shared === undefined ? {} : { shared }),
      upstream: (name) => this.upstreams.get(name),
      sendCall,
      maxCallBodyBytes: config.server.max_buffer_bytes,
    };
    try {
      for (const f of config.filters) {
        const mod = modules.get(f.name);
        if (mod === undefined) throw new Error(`filter "${f.name}" has no compiled module`);
        plugins.set(f.name, new Plugin(mod, f, log, services));
      }
    } catch (err) {
      for (const p of plugins.values()) p.close();
      throw err;
    }
    this.plugins = plugins;
    const chainOf = (names: readonly string[]): FilterChain | undefined =>
      names.length === 0 ? undefined : new FilterChain(names.map((n) => plugins.get(n)!));
    this.defaultChain = chainOf(config.filters.map((f) => f.name));
    this.routeChains = this.router.routes.map((r) => chainOf(r.filterNames));
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

  /** Cuts every upstream connection now. */
  async destroy(): Promise<void> {
    for (const p of this.plugins.values()) p.close();
    await Promise.all([...this.upstreams.values()].map((u) => u.pool.destroy()));
  }
}

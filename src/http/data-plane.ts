// Everything one worker needs to serve requests for one configuration: routes, upstream pools, stats and
// the access log. Built once per worker (and, with hot reload, once per configuration version).
import type { ResolvedConfig } from '../config/types.ts';
import type { Logger } from '../observability/logger.ts';
import type { AccessLog } from '../observability/access-log.ts';
import { WorkerStats } from '../observability/stats.ts';
import { Router } from './router.ts';
import { createUpstreams, type Upstream } from './upstream.ts';

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

  constructor(config: ResolvedConfig, log: Logger, accessLog: AccessLog | undefined) {
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
  }

  /** Cuts every upstream connection now. */
  async destroy(): Promise<void> {
    await Promise.all([...this.upstreams.values()].map((u) => u.pool.destroy()));
  }
}

// The admin port (loopback by default): readiness, stats in JSON and Prometheus format, the effective config.
import http from 'node:http';
import type { Supervisor } from '../worker/supervisor.ts';
import type { Logger } from '../observability/logger.ts';
import { toPrometheus, toJsonStats } from './prometheus.ts';
import { filterMetricsToPrometheus } from './filter-metrics.ts';
import { SharedStore } from '../wasm/shared/store.ts';
import { MetricsStore } from '../wasm/shared/metrics.ts';
import type { Reloader, ReloadResult } from '../reload/reloader.ts';

/** Reload counters (main-thread state) in Prometheus text. */
function reloadFamilies(sup: Supervisor, reloader: Reloader | undefined): string {
  const lines = [
    '# HELP wasmgate_config_version Configuration version serving (1 at start, +1 per applied reload).',
    '# TYPE wasmgate_config_version gauge',
    `wasmgate_config_version ${sup.version}`,
    '# HELP wasmgate_reloads_total Reloads applied.',
    '# TYPE wasmgate_reloads_total counter',
    `wasmgate_reloads_total ${reloader?.reloads ?? 0}`,
    '# HELP wasmgate_reload_failures_total Reloads refused (the serving version stayed).',
    '# TYPE wasmgate_reload_failures_total counter',
    `wasmgate_reload_failures_total ${reloader?.failures ?? 0}`,
  ];
  const filters = reloader?.filters() ?? [];
  if (filters.length > 0) {
    lines.push('# HELP wasmgate_filter_reload_failures_total Reloads refused because of this filter.', '# TYPE wasmgate_filter_reload_failures_total counter');
    for (const f of filters) lines.push(`wasmgate_filter_reload_failures_total{filter="${f.name.replace(/["\\\n]/g, '_')}"} ${f.reload_failures}`);
  }
  return `${lines.join('\n')}\n`;
}

export function createAdminServer(
  sup: Supervisor,
  log: Logger,
  reloader?: Reloader,
  reload: (trigger: 'admin') => Promise<ReloadResult> = (t) => reloader!.reload(t),
): http.Server {
  const alog = log.child({ component: 'admin' });
  // filter-defined metrics live in shared memory: read here, without asking the workers
  const metrics = new MetricsStore(sup.shared.metrics, new SharedStore(sup.shared.store));
  return http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const send = (status: number, type: string, body: string): void => {
      res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    const json = (status: number, value: unknown): void => send(status, 'application/json', `${JSON.stringify(value, null, 2)}\n`);
    if (path === '/reload') {
      if (req.method !== 'POST') {
        send(405, 'text/plain', 'POST /reload\n');
        return;
      }
      if (reloader === undefined) {
        send(404, 'text/plain', 'reload is not available\n');
        return;
      }
      req.resume();
      reload('admin').then(
        (r) => json(r.ok ? 200 : 422, r),
        (err: unknown) => send(500, 'text/plain', `${(err as Error).message}\n`),
      );
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(405, 'text/plain', 'method not allowed\n');
      return;
    }
    switch (path) {
      case '/ready':
        if (sup.ready) send(200, 'text/plain', 'ready\n');
        else send(503, 'text/plain', 'not ready\n');
        return;
      case '/stats':
        sup.collectStats().then(
          ({ total, workers }) => json(200, { workers: sup.workersListening, worker_restarts: sup.restarts, ...toJsonStats(total), per_worker: workers }),
          (err: unknown) => {
            alog.error({ err }, 'stats collection failed');
            send(500, 'text/plain', 'stats unavailable\n');
          },
        );
        return;
      case '/stats/prometheus':
        sup.collectStats().then(
          ({ total }) =>
            send(
              200,
              'text/plain; version=0.0.4; charset=utf-8',
              toPrometheus(total, { workers: sup.workersListening, workerRestarts: sup.restarts }) +
                reloadFamilies(sup, reloader) +
                filterMetricsToPrometheus(metrics.snapshot()),
            ),
          (err: unknown) => {
            alog.error({ err }, 'stats collection failed');
            send(500, 'text/plain', 'stats unavailable\n');
          },
        );
        return;
      case '/filters':
        sup.collectStats().then(
          ({ total }) =>
            json(200, {
              version: sup.version,
              reloads: reloader?.reloads ?? 0,
              reload_failures: reloader?.failures ?? 0,
              last_error: reloader?.lastError ?? '',
              old_version_streams: total.old_version_streams,
              filters: (reloader?.filters() ?? []).map((f) => {
                const c = total.filters[f.name];
                return {
                  ...f,
                  ...(c === undefined
                    ? {}
                    : { vms: c.vms, memory_bytes: c.memory_bytes, quarantined_workers: c.quarantined, quarantine_reason: c.quarantine_reason, quarantines: c.quarantines, last_failure: c.last_failure, last_failure_at: c.last_failure_at }),
                };
              }),
            }),
          (err: unknown) => {
            alog.error({ err }, 'stats collection failed');
            send(500, 'text/plain', 'stats unavailable\n');
          },
        );
        return;
      case '/config_dump':
        json(200, sup.config);
        return;
      case '/':
        send(200, 'text/plain', 'wasmgate admin: /ready /stats /stats/prometheus /filters /config_dump, POST /reload\n');
        return;
      default:
        send(404, 'text/plain', 'not found\n');
    }
  });
}

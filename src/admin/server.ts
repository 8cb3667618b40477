// The admin port (loopback by default): readiness, stats in JSON and Prometheus format, the effective config.
import http from 'node:http';
import type { Supervisor } from '../worker/supervisor.ts';
import type { Logger } from '../observability/logger.ts';
import { toPrometheus, toJsonStats } from './prometheus.ts';
import { filterMetricsToPrometheus } from './filter-metrics.ts';
import { SharedStore } from '../wasm/shared/store.ts';
import { MetricsStore } from '../wasm/shared/metrics.ts';

export function createAdminServer(sup: Supervisor, log: Logger): http.Server {
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
              toPrometheus(total, { workers: sup.workersListening, workerRestarts: sup.restarts }) + filterMetricsToPrometheus(metrics.snapshot()),
            ),
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
        send(200, 'text/plain', 'wasmgate admin: /ready /stats /stats/prometheus /config_dump\n');
        return;
      default:
        send(404, 'text/plain', 'not found\n');
    }
  });
}

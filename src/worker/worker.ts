// Worker thread entry: one data plane and one HTTP server listening with reusePort on the shared port.
import { parentPort, workerData } from 'node:worker_threads';
import { createRootLogger } from '../observability/logger.ts';
import { DataPlane } from '../http/data-plane.ts';
import { AccessLog } from '../observability/access-log.ts';
import { LineWriter } from '../observability/line-writer.ts';
import { createGatewayServer } from '../http/server.ts';
import type { FromWorker, ToWorker, WorkerInit } from './messages.ts';
import { SharedStore } from '../wasm/shared/store.ts';
import { MetricsStore } from '../wasm/shared/metrics.ts';
import { QueueHub } from '../wasm/shared/queues.ts';
import type { SharedState } from '../wasm/shared/vm-shared.ts';

const init = workerData as WorkerInit;
const port = parentPort!;
const post = (m: FromWorker): void => port.postMessage(m);

const log = createRootLogger(init.config.log.level, { bindings: { worker: init.workerId } });
const lines = new LineWriter(1);
const accessLog = init.config.access_log.enabled ? new AccessLog(lines, init.workerId) : undefined;
const store = new SharedStore(init.shared.store);
const shared: SharedState = { store, queues: new QueueHub(store, init.workerId), metrics: new MetricsStore(init.shared.metrics, store) };
let plane: DataPlane;
try {
  plane = new DataPlane(init.config, log, accessLog, new Map(init.modules), shared);
} catch (err) {
  // a filter refused to start in this worker: report it and end the thread
  post({ type: 'start_failed', message: (err as Error).message });
  port.close();
  throw err;
}
const gw = createGatewayServer(init.config.server, () => plane, log);

gw.server.once('error', (err: NodeJS.ErrnoException) => {
  post({ type: 'listen_failed', message: err.message, code: err.code });
});
gw.server.listen({ host: init.config.listen.host, port: init.port, reusePort: true }, () => {
  const addr = gw.server.address();
  post({ type: 'listening', port: typeof addr === 'object' && addr !== null ? addr.port : init.port });
});

port.on('message', (msg: ToWorker) => {
  switch (msg.type) {
    case 'stats':
      post({ type: 'stats', id: msg.id, stats: plane.stats.snapshot(lines.dropped, plane.filterCosts()) });
      break;
    case 'drain':
      void gw.drain(msg.timeoutMs).then(async ({ forced }) => {
        await plane.destroy();
        shared.queues.close();
        lines.flushSync();
        log.flush(() => {
          post({ type: 'drained', forced });
          port.close(); // nothing left to keep the thread alive: it exits
        });
      });
      break;
    default:
      msg satisfies never;
  }
});

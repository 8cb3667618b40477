// Worker thread entry: the serving data plane and one HTTP server listening with reusePort on the shared
// port. A reload arrives in two steps: `prepare` builds the next plane next to the serving one (VMs
// started, pools ready) and says whether it could; `commit` swaps the pointer for new requests (the old
// plane retires after its last request), `abort` drops the prepared plane.
import { parentPort, workerData } from 'node:worker_threads';
import { createRootLogger } from '../observability/logger.ts';
import { DataPlane, type WorkerContext } from '../http/data-plane.ts';
import { AccessLog } from '../observability/access-log.ts';
import { LineWriter } from '../observability/line-writer.ts';
import { WorkerStats } from '../observability/stats.ts';
import { createGatewayServer, headersTimeoutOf } from '../http/server.ts';
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
const store = new SharedStore(init.shared.store);
const shared: SharedState = { store, queues: new QueueHub(store, init.workerId), metrics: new MetricsStore(init.shared.metrics, store) };
let plane: DataPlane | undefined;
const worker: WorkerContext = {
  log,
  accessLog: new AccessLog(lines, init.workerId),
  stats: new WorkerStats(),
  shared,
  watchdog: new Int32Array(init.watchdog),
  draining: false,
  current: () => plane,
};
/** Planes replaced by a reload that still have requests in flight. */
const retiring = new Set<DataPlane>();
const prepared = new Map<number, DataPlane>();
try {
  plane = new DataPlane(init.config, worker, new Map(init.modules), init.version);
} catch (err) {
  // a filter refused to start in this worker: report it and end the thread
  post({ type: 'start_failed', message: (err as Error).message });
  port.close();
  throw err;
}
const gw = createGatewayServer(init.config.server, () => plane!, log);

gw.server.once('error', (err: NodeJS.ErrnoException) => {
  post({ type: 'listen_failed', message: err.message, code: err.code });
});
gw.server.listen({ host: init.config.listen.host, port: init.port, reusePort: true }, () => {
  const addr = gw.server.address();
  post({ type: 'listening', port: typeof addr === 'object' && addr !== null ? addr.port : init.port });
});

port.on('message', (msg: ToWorker) => {
  switch (msg.type) {
    case 'stats': {
      let old = 0;
      for (const p of retiring) old += p.active;
      post({ type: 'stats', id: msg.id, stats: { ...worker.stats.snapshot(lines.dropped, plane!.filterCosts()), old_version_streams: old } });
      break;
    }
    case 'prepare':
      try {
        prepared.set(msg.version, new DataPlane(msg.config, worker, new Map(msg.modules), msg.version, plane));
        post({ type: 'prepared', version: msg.version, ok: true, message: '' });
      } catch (err) {
        post({ type: 'prepared', version: msg.version, ok: false, message: (err as Error).message });
      }
      break;
    case 'commit': {
      const next = prepared.get(msg.version);
      prepared.delete(msg.version);
      if (next !== undefined && plane !== undefined) {
        const old = plane;
        plane = next;
        // server settings that can change without a restart
        const s = next.config.server;
        gw.server.headersTimeout = headersTimeoutOf(s);
        gw.server.requestTimeout = s.request_timeout_ms;
        gw.server.keepAliveTimeout = s.keep_alive_timeout_ms;
        retiring.add(old);
        old.retire(() => retiring.delete(old));
      }
      post({ type: 'committed', version: msg.version });
      break;
    }
    case 'abort': {
      const next = prepared.get(msg.version);
      prepared.delete(msg.version);
      if (next !== undefined && plane !== undefined) next.discard();
      break;
    }
    case 'drain':
      void gw.drain(msg.timeoutMs).then(async ({ forced }) => {
        await plane!.destroy();
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

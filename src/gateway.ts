// Starts and stops one gateway: the worker supervisor (data plane) and the admin server (control plane).
// Used by the CLI and by the tests, so both run exactly the same thing.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ResolvedConfig } from './config/types.ts';
import type { Logger } from './observability/logger.ts';
import { Supervisor } from './worker/supervisor.ts';
import { createAdminServer } from './admin/server.ts';
import { loadFilterModule, type FilterModule } from './wasm/module.ts';
import { linkReportOf } from './wasm/host/index.ts';
import { Reloader, type ReloadResult, type ReloadTrigger } from './reload/reloader.ts';
import { FileWatcher } from './reload/watcher.ts';
import { existsSync } from 'node:fs';

export interface RunningGateway {
  readonly config: ResolvedConfig;
  readonly supervisor: Supervisor;
  /** The port the workers listen on (the configured one, or the one picked when it is 0). */
  readonly port: number;
  readonly adminPort: number;
  readonly reloader: Reloader;
  /** Reloads gateway.yaml and the filter files (what a file change, SIGHUP and POST /reload do). */
  reload(trigger: ReloadTrigger): Promise<ReloadResult>;
  /** Graceful stop: /ready turns 503 at once, then in-flight requests get up to drain_timeout_ms. */
  stop(): Promise<{ forced: number }>;
}

export async function startGateway(config: ResolvedConfig, log: Logger): Promise<RunningGateway> {
  // each filter is compiled once here; workers instantiate their own VMs from the compiled modules
  const modules = new Map<string, FilterModule>();
  for (const f of config.filters) {
    let mod: FilterModule;
    try {
      mod = await loadFilterModule(f.wasm, { memoryLimitBytes: f.limits.memory_mb * 1048576, cpu: f.limits.cpu });
    } catch (err) {
      // fail_open.load: a broken module does not keep the gateway from starting; requests pass without it
      if (!f.fail_open.load) throw err;
      log.error({ filter: f.name, err: (err as Error).message }, 'filter module refused; running without it (fail_open.load)');
      continue;
    }
    const link = linkReportOf(mod);
    if (link.unimplemented.length > 0 || link.unknown.length > 0) {
      log.warn(
        { filter: f.name, unimplemented: link.unimplemented, unknown: link.unknown },
        'filter imports host functions wasmgate does not provide: unimplemented ones answer Unimplemented/ENOSYS, unknown ones trap if called',
      );
    }
    modules.set(f.name, mod);
  }
  const supervisor = new Supervisor(config, log, modules);
  try {
    await supervisor.start();
  } catch (err) {
    await supervisor.shutdown(0); // workers that did start are stopped too
    throw err;
  }
  const reloader = new Reloader(config.source, supervisor, log, modules);
  // file watching: a change of gateway.yaml or of a filter file reloads (the watched set follows the config)
  let watcher: FileWatcher | undefined;
  const reload = async (trigger: ReloadTrigger): Promise<ReloadResult> => {
    // a SIGHUP or POST /reload takes the file changes the watcher would report next (no second reload)
    if (trigger !== 'watch') await watcher?.checkNow();
    const r = await reloader.reload(trigger);
    watcher?.setPaths(reloader.watchedFiles());
    return r;
  };
  if (config.watch && config.source !== '' && existsSync(config.source)) {
    watcher = new FileWatcher(reloader.watchedFiles(), {
      onChange: (paths) => {
        log.info({ component: 'reload', files: paths }, 'files changed: reloading');
        void reload('watch');
      },
      onError: (err) => log.warn({ component: 'reload', err: err.message }, 'file watching'),
    });
  }
  let admin: Server;
  try {
    admin = createAdminServer(supervisor, log, reloader, reload);
    await new Promise<void>((resolve, reject) => {
      admin.once('error', reject);
      admin.listen(config.admin.port, config.admin.host, () => resolve());
    });
  } catch (err) {
    watcher?.close();
    await supervisor.shutdown(0);
    throw err;
  }
  let stopping: Promise<{ forced: number }> | undefined;
  return {
    config,
    supervisor,
    reloader,
    reload,
    port: supervisor.port,
    adminPort: (admin.address() as AddressInfo).port,
    stop() {
      stopping ??= (async () => {
        watcher?.close();
        const result = await supervisor.shutdown(config.server.drain_timeout_ms);
        admin.close();
        admin.closeAllConnections();
        return result;
      })();
      return stopping;
    },
  };
}

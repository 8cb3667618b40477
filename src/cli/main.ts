// wasmgate CLI: `run -c FILE` starts the gateway, `validate -c FILE` checks a configuration.
// The only place that wires the process-wide pieces together.
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { readFileSync } from 'node:fs';
import { loadConfigFile } from '../config/load.ts';
import type { ResolvedConfig } from '../config/types.ts';
import { createRootLogger } from '../observability/logger.ts';
import { startGateway, type RunningGateway } from '../gateway.ts';
import { startDemoUpstream } from './demo-upstream.ts';
import { ExitCodes } from './exit-codes.ts';
import { formatInspection } from './inspect.ts';
import { loadFilterModule } from '../wasm/module.ts';
import { FilterVm, type VmServices } from '../wasm/vm.ts';
import { SharedStore } from '../wasm/shared/store.ts';
import { MetricsStore } from '../wasm/shared/metrics.ts';
import { QueueHub } from '../wasm/shared/queues.ts';
import { createUpstreams } from '../http/upstream.ts';
import { MAX_METRICS } from '../worker/supervisor.ts';

const USAGE = `usage: wasmgate <command> [options]

commands:
  run -c FILE        start the gateway with the configuration FILE (default ./gateway.yaml)
  validate -c FILE   check FILE, load and start the filters it names, print every problem
  inspect FILE.wasm  show a filter module's ABI version, callbacks and imports
  version            print the version

options for run:
  --demo-upstream HOST:PORT   also start a small echo server there (used by "npm start")
`;

async function loadOrExit(file: string): Promise<ResolvedConfig> {
  try {
    return await loadConfigFile(file);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit((err as { code?: string }).code === 'GW_ERR_CONFIG_READ' ? ExitCodes.NO_INPUT : ExitCodes.CONFIG_INVALID);
  }
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

async function run(file: string, demoUpstream: string | undefined): Promise<void> {
  const config = await loadOrExit(file);
  const log = createRootLogger(config.log.level);
  if (demoUpstream !== undefined) {
    const at = demoUpstream.lastIndexOf(':');
    const host = demoUpstream.slice(0, at);
    const port = Number(demoUpstream.slice(at + 1));
    await startDemoUpstream(host, port);
    log.info({ address: `http://${demoUpstream}` }, 'demo upstream listening');
  }
  let gw: RunningGateway;
  try {
    gw = await startGateway(config, log);
  } catch (err) {
    log.fatal({ err: (err as Error).message, code: (err as { code?: string }).code }, 'gateway failed to start');
    log.flush(() => process.exit(ExitCodes.START_FAILED));
    return;
  }
  log.info(
    {
      listen: `http://${config.listen.host}:${gw.port}`,
      admin: `http://${config.admin.host}:${gw.adminPort}`,
      workers: config.workers,
      config: config.source,
    },
    'wasmgate listening',
  );

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) {
      // a second signal while draining: the operator wants out now
      log.warn({ signal }, 'second signal during the drain: exiting without waiting');
      log.flush(() => process.exit(ExitCodes.START_FAILED));
      return;
    }
    stopping = true;
    log.info({ signal, drainTimeoutMs: config.server.drain_timeout_ms }, 'draining');
    void gw.stop().then(({ forced }) => {
      log.info({ forced }, 'stopped');
      log.flush(() => process.exit(ExitCodes.OK));
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // SIGHUP: reload gateway.yaml and the filters (the same path as a file change and POST /reload)
  process.on('SIGHUP', () => {
    if (!stopping) void gw.reload('sighup');
  });
}

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c', default: 'gateway.yaml' },
      'demo-upstream': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const command = positionals[0];
  if (values.help === true || command === undefined || command === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  const file = resolve(values.config);
  switch (command) {
    case 'run':
      await run(file, values['demo-upstream']);
      return;
    case 'validate': {
      const config = await loadOrExit(file);
      const problems: string[] = [];
      const quiet = createRootLogger('silent');
      const services = validationServices(config);
      for (const f of config.filters) {
        try {
          // load and check the module, then start it as a worker would: initializer, on_vm_start, on_configure
          const vm = new FilterVm(await loadFilterModule(f.wasm, { memoryLimitBytes: f.limits.memory_mb * 1048576, cpu: f.limits.cpu }), f, quiet, services);
          vm.initialize();
          vm.startRootContext();
        } catch (err) {
          problems.push((err as Error).name === 'FilterStartError' ? (err as Error).message : `filter "${f.name}": ${(err as Error).message}`);
        }
      }
      services.shared?.queues.close();
      if (problems.length > 0) {
        process.stderr.write(`${problems.join('\n')}\n`);
        process.exitCode = ExitCodes.CONFIG_INVALID;
        return;
      }
      process.stdout.write(
        `${file}: valid (${Object.keys(config.upstreams).length} upstreams, ${config.routes.length} routes, ${config.filters.length} filters)\n`,
      );
      return;
    }
    case 'inspect': {
      const target = positionals[1];
      if (target === undefined) {
        process.stderr.write(`inspect needs a .wasm file\n\n${USAGE}`);
        process.exitCode = ExitCodes.USAGE;
        return;
      }
      try {
        process.stdout.write(formatInspection(await loadFilterModule(resolve(target))));
      } catch (err) {
        process.stderr.write(`refused: ${(err as Error).message}\n`);
        process.exitCode = ExitCodes.DATA_INVALID;
      }
      return;
    }
    case 'version':
      process.stdout.write(`wasmgate ${version()}\n`);
      return;
    default:
      process.stderr.write(`unknown command "${command}"\n\n${USAGE}`);
      process.exitCode = ExitCodes.USAGE;
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(ExitCodes.USAGE);
});

/**
 * What a filter reaches while `validate` starts it, as under `run`: shared data, queues and metrics (a
 * store of its own, thrown away after), and the configured upstreams for proxy_http_call, whose calls are
 * accepted but never sent (validating a file must not touch the network).
 */
function validationServices(config: ResolvedConfig): VmServices {
  const store = new SharedStore(SharedStore.create({ maxEntries: config.shared_data.max_entries, maxBytes: config.shared_data.max_bytes }));
  const upstreams = createUpstreams(config.upstreams);
  return {
    shared: { store, queues: new QueueHub(store, 0), metrics: new MetricsStore(MetricsStore.create(MAX_METRICS), store) },
    upstream: (name) => upstreams.get(name),
    sendCall: () => {},
    maxCallBodyBytes: config.server.max_buffer_bytes,
  };
}

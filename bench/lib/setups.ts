// The setups under test. Each starts its own child process(es), pinned to the proxy CPU.
import path from 'node:path';
import { startNginx } from './nginx.ts';
import { spawnChild, waitReadyLine } from './proc.ts';
import type { Running, SetupContext, SetupDef } from './types.ts';
import { startWasmgate } from './wasmgate.ts';

export const BASELINE = 'undici-minimal';

/** Starts one of bench/servers/*.ts on the proxy CPU and waits for its ready line. */
async function startNodeServer(ctx: SetupContext, script: string, args: string[], info: Record<string, unknown>): Promise<Running> {
  const file = path.join(ctx.repoRoot, 'bench', 'servers', script);
  const child = spawnChild(ctx.node, [file, '--upstream', ctx.upstreamUrl, ...args], {
    cpu: ctx.settings.pinning.proxyCpu,
    cwd: ctx.repoRoot,
  });
  try {
    const port = await waitReadyLine(child, 15_000);
    return { url: `http://127.0.0.1:${port}`, cpuPid: child.pid, alive: child.alive, stderrTail: child.stderrTail, stop: () => child.stop(), info };
  } catch (err) {
    await child.stop(500);
    throw err;
  }
}

function undiciSetup(name: string, mode: string | null): SetupDef {
  return {
    name,
    description: `node:http + one undici Pool (keep-alive, 64 connections), ${mode ?? 'UNDICI_MODE'} shape`,
    start: (ctx) => {
      const m = mode ?? ctx.settings.undiciMode;
      return startNodeServer(ctx, 'undici-minimal.ts', ['--mode', m], { mode: m });
    },
  };
}

export const SETUPS: readonly SetupDef[] = [
  {
    name: 'direct',
    description: 'the upstream itself, no proxy (load-side ceiling)',
    start: async (ctx) => ({
      url: ctx.upstreamUrl,
      cpuPid: -1,
      alive: () => true,
      stderrTail: () => '',
      stop: async () => {},
      info: {},
    }),
  },
  {
    name: 'http-proxy-3',
    description: 'bare http-proxy-3 createProxyServer with a keep-alive http.Agent (maxSockets 64)',
    start: (ctx) => startNodeServer(ctx, 'http-proxy-3.ts', [], {}),
  },
  undiciSetup(BASELINE, null),
  {
    name: 'nginx',
    description: 'nginx reverse proxy, 1 worker, upstream keepalive 64, access_log off',
    start: (ctx) => startNginx(ctx),
  },
  {
    name: 'wasmgate',
    description: 'the gateway: no filters, workers: 1, access log on (stdout to /dev/null)',
    start: (ctx) => startWasmgate(ctx, { accessLog: true }),
  },
  // Not in the default set: the gateway without its access log, to see what the log costs.
  {
    name: 'wasmgate-nolog',
    description: 'the gateway: no filters, workers: 1, access log off',
    start: (ctx) => startWasmgate(ctx, { accessLog: false }),
  },
  // Not in the default set: the other shapes of the baseline, to re-check which one is fastest.
  undiciSetup('undici-request', 'request'),
  undiciSetup('undici-stream', 'stream'),
  undiciSetup('undici-dispatch', 'dispatch'),
];

export const DEFAULT_SETUPS = ['direct', 'http-proxy-3', BASELINE, 'nginx', 'wasmgate'];

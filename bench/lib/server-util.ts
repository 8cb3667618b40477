// Small helpers shared by the benchmark's own server processes (bench/servers/*).
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Parses a port argument; absent or invalid means 0 (ephemeral). */
export function listenPort(arg: string | undefined): number {
  const n = Number(arg ?? '0');
  return Number.isInteger(n) && n >= 0 && n < 65536 ? n : 0;
}

/** Reads a required `--name value` style argument. */
export function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** Tells the harness (which reads our stdout) that we listen, and on which port. */
export function announceReady(server: Server): void {
  const addr = server.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ ready: true, port: addr.port })}\n`);
}

/** Server settings every benchmark server uses: long keep-alive, no per-socket request limit. */
export function tuneServer(server: Server): void {
  server.keepAliveTimeout = 120_000;
  server.headersTimeout = 121_000;
  server.requestTimeout = 0;
  server.maxRequestsPerSocket = 0;
}

/** Closes the server on SIGTERM/SIGINT and exits. */
export function exitOnSignal(server: Server, cleanup?: () => Promise<unknown> | void): void {
  const stop = (): void => {
    server.closeAllConnections();
    server.close();
    Promise.resolve(cleanup?.()).finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

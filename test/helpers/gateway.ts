// Real servers for tests: upstreams on 127.0.0.1 with random ports, a gateway started exactly as the CLI
// starts it, and a raw-socket client for the cases a normal client refuses to send.
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { resolveConfigObject } from '../../src/config/load.ts';
import { createRootLogger } from '../../src/observability/logger.ts';
import { startGateway, type RunningGateway } from '../../src/gateway.ts';

/** The path of a built WAT fixture, test/fixtures/wasm/<name>.wasm. */
export const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/wasm/${name}.wasm`, import.meta.url));

export interface TestUpstream {
  readonly server: http.Server;
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

export async function startUpstream(handler: http.RequestListener): Promise<TestUpstream> {
  const server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** Collected log lines of a gateway started by startTestGateway. */
export class LogSink extends Writable {
  readonly lines: Array<Record<string, unknown>> = [];
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    for (const line of chunk.toString('utf8').split('\n')) if (line !== '') this.lines.push(JSON.parse(line) as Record<string, unknown>);
    cb();
  }
}

export interface TestGateway extends RunningGateway {
  readonly url: string;
  readonly adminUrl: string;
  readonly logs: LogSink;
}

/**
 * Starts a gateway from a config object (as it would be written in gateway.yaml). listen/admin default to
 * 127.0.0.1:0, workers to 1, the access log to off and the log level to warn unless the test says otherwise.
 */
export async function startTestGateway(config: Record<string, unknown>): Promise<TestGateway> {
  const full = {
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    workers: 1,
    log: { level: 'warn' },
    access_log: { enabled: false },
    ...config,
  };
  const resolved = resolveConfigObject(full, '/virtual/gateway.yaml');
  const logs = new LogSink();
  const gw = await startGateway(resolved, createRootLogger(resolved.log.level, { destination: logs }));
  return { ...gw, url: `http://127.0.0.1:${gw.port}`, adminUrl: `http://127.0.0.1:${gw.adminPort}`, logs, stop: gw.stop };
}

export interface RawResponse {
  readonly raw: string;
  readonly status: number;
  readonly headers: Map<string, string>;
  readonly body: string;
}

/** Sends bytes as they are on a fresh connection and reads until the server closes it (or timeoutMs). */
export function rawRequest(port: number, data: string | Buffer, timeoutMs = 5000): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => sock.destroy(), timeoutMs);
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.on('error', reject);
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(parseRaw(Buffer.concat(chunks).toString('latin1')));
    });
    sock.write(data);
  });
}

export function parseRaw(raw: string): RawResponse {
  const end = raw.indexOf('\r\n\r\n');
  const head = end === -1 ? raw : raw.slice(0, end);
  const lines = head.split('\r\n');
  const status = Number(lines[0]?.split(' ')[1] ?? 0);
  const headers = new Map<string, string>();
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    if (i > 0) headers.set(l.slice(0, i).toLowerCase(), l.slice(i + 1).trim());
  }
  return { raw, status, headers, body: end === -1 ? '' : raw.slice(end + 4) };
}

/** An address where nothing listens (a port just closed). */
export async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

// The downstream HTTP/1.1 server of a worker: keep-alive, slowloris guards, malformed-request answers,
// and a graceful drain for shutdown.
import http, { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { ResolvedServer } from '../config/types.ts';
import type { Logger } from '../observability/logger.ts';
import type { DataPlane } from './data-plane.ts';
import { ErrorCodes, type ErrorCode } from '../errors.ts';
import { ProxyStream } from './proxy-stream.ts';
import { sendRawReply } from './local-reply.ts';
import { createUpgradeHandler } from './upgrade.ts';
import { newRequestId } from './request-id.ts';

export interface GatewayServer {
  readonly server: http.Server;
  /** Stops accepting, closes idle keep-alive connections, waits for in-flight requests up to timeoutMs. */
  drain(timeoutMs: number): Promise<{ forced: number }>;
}

const CLIENT_ERRORS: Record<string, readonly [number, ErrorCode]> = {
  HPE_HEADER_OVERFLOW: [431, ErrorCodes.GW_ERR_HEADERS_TOO_LARGE],
  ERR_HTTP_REQUEST_TIMEOUT: [408, ErrorCodes.GW_ERR_REQUEST_TIMEOUT],
};
const BAD_REQUEST = [400, ErrorCodes.GW_ERR_BAD_REQUEST] as const;

export function createGatewayServer(opts: ResolvedServer, getPlane: () => DataPlane, log: Logger): GatewayServer {
  const server = http.createServer(
    {
      keepAliveTimeout: opts.keep_alive_timeout_ms,
      headersTimeout: opts.headers_timeout_ms,
      requestTimeout: opts.request_timeout_ms,
      maxHeaderSize: opts.max_header_bytes,
      connectionsCheckingInterval: Math.min(1000, Math.max(100, opts.headers_timeout_ms >> 2)),
      noDelay: true,
      requireHostHeader: true, // HTTP/1.1 without Host is a 400 (RFC 9112 §3.2)
    },
    (req, res) => new ProxyStream(getPlane(), req, res).start(),
  );

  const upgrades = createUpgradeHandler(getPlane, log);
  server.on('upgrade', upgrades.handle);

  server.on('connection', (socket: Socket) => {
    const stats = getPlane().stats;
    stats.connectionsTotal++;
    stats.connectionsActive++;
    socket.once('close', () => getPlane().stats.connectionsActive--);
  });

  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    // the client reset the connection, or closed its side in the middle of a request (a client that went
    // away, not a malformed request): nothing to answer, nothing to count as a client error
    if (!socket.writable || err.code === 'ECONNRESET' || err.code === 'HPE_INVALID_EOF_STATE') {
      socket.destroy();
      return;
    }
    const [status, code] = CLIENT_ERRORS[err.code ?? ''] ?? BAD_REQUEST;
    const requestId = newRequestId();
    getPlane().stats.clientErrors++;
    log.info({ reqId: requestId, status, code, reason: err.code }, 'rejected request');
    sendRawReply(socket, status, `${STATUS_CODES[status]!.toLowerCase()}\n`, requestId);
  });

  let draining: Promise<{ forced: number }> | undefined;
  function drain(timeoutMs: number): Promise<{ forced: number }> {
    draining ??= new Promise((resolve) => {
      getPlane().draining = true;
      server.close(() => {
        clearTimeout(timer);
        resolve({ forced: 0 });
      });
      // keep-alive connections between requests are closed now; responses still to come carry
      // `connection: close` (see ProxyStream), and connections that go idle are closed as they do
      server.closeIdleConnections();
      const poll = setInterval(() => server.closeIdleConnections(), 50);
      const timer = setTimeout(() => {
        const forced = getPlane().stats.active;
        server.closeAllConnections();
        for (const tunnel of upgrades.tunnels) tunnel.destroy();
        resolve({ forced });
      }, timeoutMs);
      server.once('close', () => clearInterval(poll));
      timer.unref();
    });
    return draining;
  }

  return { server, drain };
}

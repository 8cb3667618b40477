// The downstream HTTP/1.1 server of a worker: keep-alive, slowloris guards, malformed-request answers,
// and a graceful drain for shutdown.
import http, { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { ResolvedServer } from '../config/types.ts';
import type { Logger } from '../observability/logger.ts';
import type { DataPlane } from './data-plane.ts';
import { ErrorCodes, type ErrorCode } from '../errors.ts';
import { ProxyStream } from './proxy-stream.ts';
import { LocalReplyBodies, sendRawReply } from './local-reply.ts';
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

/**
 * The headers timeout the server runs with: the headers are part of the request, so a request_timeout_ms
 * below headers_timeout_ms bounds them too (Node refuses headersTimeout > requestTimeout).
 */
export function headersTimeoutOf(s: ResolvedServer): number {
  return s.request_timeout_ms > 0 ? Math.min(s.headers_timeout_ms, s.request_timeout_ms) : s.headers_timeout_ms;
}

export function createGatewayServer(opts: ResolvedServer, getPlane: () => DataPlane, log: Logger): GatewayServer {
  const server = http.createServer(
    {
      keepAliveTimeout: opts.keep_alive_timeout_ms,
      headersTimeout: headersTimeoutOf(opts),
      requestTimeout: opts.request_timeout_ms,
      maxHeaderSize: opts.max_header_bytes,
      connectionsCheckingInterval: Math.min(1000, Math.max(100, opts.headers_timeout_ms >> 2)),
      noDelay: true,
      // a request without Content-Length or Transfer-Encoding has no body: Node (>= 24.12) then starts it
      // as an already-ended stream instead of running a Readable's end-of-stream life cycle (resume,
      // 'end', 'close', each a tick) once the response finishes: 2-4 µs of CPU per GET on this kind of
      // machine. Nothing here reads such a request's body stream.
      optimizeEmptyRequests: true,
      requireHostHeader: false, // checked by readRequestHead: its 400 carries x-request-id and is logged
      // an h2c upgrade (what `curl --http2` and Java's client send on plain HTTP) is served as the HTTP/1.1
      // request it also is, its upgrade headers dropped as hop-by-hop, as Envoy and nginx do
      shouldUpgradeCallback: (req: http.IncomingMessage) => req.headers.upgrade !== undefined && req.headers.upgrade.toLowerCase() !== 'h2c',
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

  // CONNECT (a tunnel to host:port) is not something this gateway offers: 405, logged and counted as the
  // other refused requests are, instead of a connection closed without a word
  server.on('connect', (req: http.IncomingMessage, socket: Socket) => {
    const requestId = newRequestId();
    getPlane().stats.clientErrors++;
    log.info({ reqId: requestId, status: 405, method: req.method, target: req.url }, 'rejected request');
    socket.on('error', () => socket.destroy());
    sendRawReply(socket, 405, LocalReplyBodies[405], requestId);
  });

  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    // the client reset the connection, or closed its side in the middle of a request (a client that went
    // away, not a malformed request): nothing to answer, nothing to count as a client error
    // a client that sent more after a request with `Connection: close`: that request is answered, then the
    // connection closes (as nginx and Envoy do); nothing is read or answered past it
    if (err.code === 'HPE_CLOSED_CONNECTION') return;
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

// Upgrade requests: routed like any request; WebSocket upgrades are then tunnelled to the upstream with
// http-proxy-3 once the upstream answers 101. Other upgrade protocols get 403, as in Envoy by default.
import type { ClientRequest, IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { createProxyServer } from 'http-proxy-3';
import type { Logger } from '../observability/logger.ts';
import type { DataPlane } from './data-plane.ts';
import { HeaderMap } from './header-map.ts';
import { readRequestHead } from './request-head.ts';
import { LocalReplyBodies, destroyWithin, sendRawReply } from './local-reply.ts';
import { classifyUpstreamError } from './upstream.ts';
import { upstreamPath } from './router.ts';

/** How long a tunnel one side of which has closed waits for the other side to close. */
const TUNNEL_HALF_CLOSE_MS = 10_000;

export interface UpgradeHandler {
  handle(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Open tunnels: they are not HTTP connections any more, so a forced drain closes them here. */
  readonly tunnels: Set<Socket>;
}

export function createUpgradeHandler(getPlane: () => DataPlane, log: Logger): UpgradeHandler {
  // the headers go as readRequestHead left them (X-Forwarded-*, Via, the request id added; hop-by-hop
  // ones removed): http-proxy-3 adds nothing of its own
  const proxy = createProxyServer({ ws: true, xfwd: false, prependPath: false });
  const tunnels = new Set<Socket>();
  // when the client's connection closes, http-proxy-3 only ends the upstream one, which then waits for
  // the upstream to close its side: it is reset instead (a no-op when the upstream already closed), so
  // that an upstream that ignores the end cannot keep it open
  proxy.on('proxyReqWs', (proxyReq: ClientRequest, _req: IncomingMessage, client: Duplex) => {
    proxyReq.once('upgrade', (_res: IncomingMessage, upstream: Socket) => client.once('close', () => upstream.destroyed || upstream.resetAndDestroy()));
  });

  const handle = (req: IncomingMessage, duplex: Duplex, head: Buffer): void => {
    const socket = duplex as Socket;
    const plane = getPlane();
    const startedAt = performance.now();
    const headers = new HeaderMap();
    const h = readRequestHead(req, headers, plane.via);
    socket.on('error', () => socket.destroy());
    if (h.reject !== 0) {
      sendRawReply(socket, h.reject, LocalReplyBodies[h.reject], h.requestId);
      return;
    }
    const route = plane.router.match(h.method, h.path, headers);
    if (route === undefined || route.route.upstream === undefined) {
      // direct_response routes answer upgrade requests the way they answer others, minus the upgrade
      const d = route?.route.direct_response;
      sendRawReply(socket, d?.status ?? 404, d?.body ?? LocalReplyBodies[404], h.requestId);
      return;
    }
    if (h.method !== 'GET' || req.headers.upgrade?.toLowerCase() !== 'websocket') {
      // as Envoy without an upgrade_config for it: only WebSocket upgrades are tunnelled
      sendRawReply(socket, 403, 'upgrade not supported\n', h.requestId);
      return;
    }
    const upstream = plane.routeUpstreams[route.index]!;
    const logged = { method: h.method, url: req.url }; // the access log shows what the client asked for
    req.url = upstreamPath(route, upstream.basePath, h.path);
    req.headers = upgradeHeaders(headers, req.headers.upgrade!, route.route.host_rewrite ?? (h.authority === '' ? upstream.host : h.authority));
    plane.stats.active++;
    plane.active++;
    tunnels.add(socket);
    let status = 101;
    let failure = '';
    // a side that closed its half (the client, or the upstream through http-proxy-3's end of our side):
    // the tunnel ends when the other side closes too, or after TUNNEL_HALF_CLOSE_MS; an upstream that
    // ignores the client's close cannot keep the tunnel (and its two connections) for good
    let halfClosed = false;
    const onHalfClose = (): void => {
      if (halfClosed) return;
      halfClosed = true;
      destroyWithin(socket, TUNNEL_HALF_CLOSE_MS);
    };
    socket.once('end', onHalfClose);
    socket.once('finish', onHalfClose);
    socket.once('close', () => {
      tunnels.delete(socket);
      plane.stats.active--;
      plane.stats.record(status, plane.routeStat[route.index]!, upstream.index, 0, 0);
      plane.accessLog?.write(
        { requestId: h.requestId, req: logged, route, upstream, bytesIn: socket.bytesRead, bytesOut: socket.bytesWritten, failure },
        status,
        performance.now() - startedAt,
      );
      plane.release();
    });
    proxy.ws(req, socket, head, { target: upstream.origin }, (err: Error) => {
      const f = classifyUpstreamError(err);
      plane.stats.upstreamError(upstream.index, f.reason);
      status = f.status;
      failure = f.reason;
      log.debug({ reqId: h.requestId, err, code: f.code }, 'upgrade tunnel failed');
      // before the upstream's 101 the client still expects an HTTP answer; after it, only a close makes sense
      if (socket.bytesWritten === 0) sendRawReply(socket, f.status, LocalReplyBodies[f.status], h.requestId);
      else socket.destroy();
    });
  };
  return { handle, tunnels };
}

/** The upstream request's headers: the cleaned list, Host, and the one hop-by-hop pair an upgrade needs. */
function upgradeHeaders(headers: HeaderMap, upgrade: string, host: string): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = { host };
  const list = headers.list;
  for (let i = 0; i < list.length; i += 2) {
    const name = list[i]!;
    const prev = out[name];
    out[name] = prev === undefined ? list[i + 1]! : Array.isArray(prev) ? [...prev, list[i + 1]!] : [prev, list[i + 1]!];
  }
  out.connection = 'upgrade';
  out.upgrade = upgrade;
  return out;
}

// Envoy attributes of an HTTP stream, as proxy_get_property returns them: strings as raw bytes,
// integers as 8-byte little-endian, booleans as one byte, maps in the header-pairs format, timestamps and
// durations as int64 nanoseconds. Unknown or not-yet-known attributes are undefined (NotFound).
import type { IncomingMessage } from 'node:http';
import { encodePairs } from '../wasm/memory/pairs.ts';
import type { HeaderMap } from '../http/header-map.ts';

/** What a stream knows about itself, for its properties. */
export interface PropertySource {
  readonly req: IncomingMessage;
  readonly requestHeaders: HeaderMap;
  readonly responseHeaders: HeaderMap | undefined;
  readonly responseTrailers: HeaderMap | undefined;
  readonly requestId: string;
  readonly status: number;
  readonly responseDetails: string;
  readonly route: { readonly route: { readonly name: string; readonly upstream?: string } } | undefined;
  readonly upstream: { readonly name: string; readonly origin: string } | undefined;
  readonly bytesIn: number;
  readonly bytesOut: number;
  /** Wall-clock ms when the request arrived. */
  readonly receivedAt: number;
  /** Monotonic ms when the request arrived. */
  readonly startedAt: number;
  /** Monotonic ms when the stream ended (0 until then). */
  readonly endedAt: number;
  readonly connectionId: number;
  readonly nodeId: string;
}

const str = (s: string): Buffer => Buffer.from(s, 'latin1');
function int64(n: number | bigint): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeBigInt64LE(BigInt(n));
  return b;
}
const bool = (v: boolean): Buffer => Buffer.from([v ? 1 : 0]);

/**
 * The map of a header map as Envoy's attribute has it: the pseudo-headers first (Envoy's header maps
 * list :authority, :path, :method, :scheme, :status among their entries), then the regular headers,
 * repeated values comma-joined.
 */
function headerMapValue(map: HeaderMap): Buffer {
  const joined = new Map<string, string>();
  for (let i = 0; i < map.pseudo.length; i += 2) joined.set(map.pseudo[i]!, map.pseudo[i + 1]!);
  for (let i = 0; i < map.list.length; i += 2) {
    const k = map.list[i]!;
    const prev = joined.get(k);
    joined.set(k, prev === undefined ? map.list[i + 1]! : `${prev},${map.list[i + 1]}`);
  }
  return encodePairs([...joined].flat());
}

/** One header as Envoy's attribute has it: repeated values joined with ",". */
const joinedHeader = (map: HeaderMap, name: string): string | undefined => map.getJoined(name, ',');

/** The client's address property, kept on its socket (a value handed out is only ever copied). */
const SOURCE_ADDRESS = Symbol('wasmgate.sourceAddress');

function splitHostPort(addr: string | undefined, port: number | undefined): [string, number] | undefined {
  if (addr === undefined) return undefined;
  return [addr.startsWith('::ffff:') ? addr.slice(7) : addr, port ?? 0];
}

/** How many segments a path starting so may have: every attribute is a leaf but the header maps. */
function maxDepth(top: string | undefined, key: string | undefined): number {
  if (top === 'route_name' || top === 'cluster_name' || top === 'connection_id') return 1;
  if ((top === 'request' && key === 'headers') || (top === 'response' && (key === 'headers' || key === 'trailers'))) return 3;
  return 2;
}

export function streamProperty(s: PropertySource, path: readonly string[]): Buffer | undefined {
  const [top, key, sub] = path;
  // a path that goes on past a leaf names nothing (Envoy: NotFound)
  if (path.length > maxDepth(top, key)) return undefined;
  const h = s.requestHeaders;
  switch (top) {
    case 'request': {
      const fullPath = h.get(':path') ?? '';
      const q = fullPath.indexOf('?');
      switch (key) {
        case 'path':
          return str(fullPath);
        case 'url_path':
          return str(q === -1 ? fullPath : fullPath.slice(0, q));
        case 'query':
          return str(q === -1 ? '' : fullPath.slice(q + 1));
        case 'host':
          return str(h.get(':authority') ?? '');
        case 'scheme':
          return str(h.get(':scheme') ?? 'http');
        case 'method':
          return str(h.get(':method') ?? '');
        case 'headers':
          if (sub !== undefined) {
            const v = joinedHeader(h, sub.toLowerCase());
            return v === undefined ? undefined : str(v);
          }
          return headerMapValue(h);
        case 'referer': {
          const v = h.get('referer');
          return v === undefined ? undefined : str(v);
        }
        case 'useragent': {
          const v = h.get('user-agent');
          return v === undefined ? undefined : str(v);
        }
        case 'id':
          return str(s.requestId);
        case 'protocol':
          return str(`HTTP/${s.req.httpVersion}`);
        case 'time':
          return int64(BigInt(Math.round(s.receivedAt)) * 1_000_000n);
        case 'duration':
          // as Envoy: known once the stream is complete (in on_log)
          return s.endedAt === 0 ? undefined : int64(BigInt(Math.round((s.endedAt - s.startedAt) * 1e6)));
        case 'size': {
          const cl = h.get('content-length');
          return int64(cl !== undefined && /^\d+$/.test(cl) ? Number(cl) : s.bytesIn);
        }
        case 'total_size':
          return int64(s.bytesIn + headerBytes(h));
        default:
          return undefined;
      }
    }
    case 'response': {
      const rh = s.responseHeaders;
      switch (key) {
        case 'code':
          return rh === undefined && s.status === 0 ? undefined : int64(Number(rh?.get(':status') ?? s.status));
        case 'code_details':
          return s.responseDetails === '' ? undefined : str(s.responseDetails);
        case 'headers':
          if (rh === undefined) return undefined;
          if (sub !== undefined) {
            const v = joinedHeader(rh, sub.toLowerCase());
            return v === undefined ? undefined : str(v);
          }
          return headerMapValue(rh);
        case 'trailers': {
          const t = s.responseTrailers;
          if (t === undefined) return undefined;
          if (sub !== undefined) {
            const v = joinedHeader(t, sub.toLowerCase());
            return v === undefined ? undefined : str(v);
          }
          return headerMapValue(t);
        }
        case 'size':
          return int64(s.bytesOut);
        case 'total_size':
          return int64(s.bytesOut + (rh === undefined ? 0 : headerBytes(rh)));
        case 'flags':
          return int64(0);
        case 'grpc_status':
          return undefined;
        default:
          return undefined;
      }
    }
    case 'source': {
      const socket = s.req.socket as typeof s.req.socket & { [SOURCE_ADDRESS]?: Buffer };
      // read on every request by filters keyed by client (rate limiters): made once per connection
      if (key === 'address' && socket[SOURCE_ADDRESS] !== undefined) return socket[SOURCE_ADDRESS];
      const a = splitHostPort(socket.remoteAddress, socket.remotePort);
      if (a === undefined) return undefined;
      if (key === 'address') return (socket[SOURCE_ADDRESS] = str(`${a[0]}:${a[1]}`));
      if (key === 'port') return int64(a[1]);
      return undefined;
    }
    case 'destination': {
      const a = splitHostPort(s.req.socket.localAddress, s.req.socket.localPort);
      if (a === undefined) return undefined;
      if (key === 'address') return str(`${a[0]}:${a[1]}`);
      if (key === 'port') return int64(a[1]);
      return undefined;
    }
    case 'connection':
      switch (key) {
        case 'id':
          return int64(s.connectionId);
        case 'mtls':
          return bool(false);
        case 'requested_server_name':
        case 'tls_version':
          return str('');
        default:
          return undefined;
      }
    case 'connection_id':
      return int64(s.connectionId);
    case 'upstream': {
      const u = s.upstream;
      if (u === undefined) return undefined;
      const url = new URL(u.origin);
      if (key === 'address') return str(url.host);
      if (key === 'port') return int64(Number(url.port === '' ? 80 : url.port));
      return undefined;
    }
    case 'route_name':
      return s.route === undefined ? undefined : str(s.route.route.name);
    case 'cluster_name':
      return clusterName(s);
    case 'xds':
      if (key === 'route_name') return s.route === undefined ? undefined : str(s.route.route.name);
      if (key === 'cluster_name') return clusterName(s);
      return undefined;
    case 'node':
      if (key === 'id') return str(s.nodeId);
      if (key === 'cluster') return str('wasmgate');
      return undefined;
    default:
      return undefined;
  }
}

/**
 * The upstream the stream goes to: once forwarded, the one it went to; before (the request-headers phase),
 * the one of the route it matched, as Envoy answers from the route entry.
 */
function clusterName(s: PropertySource): Buffer | undefined {
  const name = s.upstream?.name ?? s.route?.route.upstream;
  return name === undefined ? undefined : str(name);
}

function headerBytes(map: HeaderMap): number {
  let n = 0;
  for (const v of map.list) n += v.length;
  return n + map.list.length; // ": " and CRLF, roughly
}

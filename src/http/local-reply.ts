// Responses the gateway answers itself: no route, upstream failures, direct_response routes, client errors.
// Bodies are short fixed texts; nothing from the request is echoed back.
import { STATUS_CODES, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

export const LocalReplyBodies = {
  400: 'bad request\n',
  404: 'no route matched\n',
  405: 'method not allowed\n',
  501: 'transfer coding not implemented\n',
  502: 'upstream returned an invalid response\n',
  503: 'upstream unavailable\n',
  504: 'upstream request timeout\n',
} as const;

/**
 * The headers of a reply the gateway makes (flat pairs): its length (none for 204/304), the request id,
 * the extra headers given (pseudo-headers, content-length and x-request-id among them ignored), and a
 * text content-type when there is a body and no type was given. Used with and without filters alike.
 */
export function localReplyHeaders(status: number, bodyLength: number, requestId: string, extra: readonly string[] = []): string[] {
  const headers: string[] = status === 204 || status === 304 ? ['x-request-id', requestId] : ['content-length', String(bodyLength), 'x-request-id', requestId];
  let hasType = false;
  for (let i = 0; i < extra.length; i += 2) {
    const name = extra[i]!;
    if (name === 'content-length' || name === 'x-request-id' || name.charCodeAt(0) === 58 /* : */) continue;
    if (name === 'content-type') hasType = true;
    headers.push(name, extra[i + 1]!);
  }
  if (!hasType && bodyLength > 0) headers.push('content-type', 'text/plain');
  return headers;
}

/** Writes a complete local response. Returns the number of body bytes written. */
export function sendLocalReply(
  res: ServerResponse,
  status: number,
  body: string | Buffer,
  requestId: string,
  extraHeaders?: readonly string[],
): number {
  if (status === 204 || status === 304) body = ''; // these never carry a body, nor a length for one
  const len = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
  res.writeHead(status, localReplyHeaders(status, len, requestId, extraHeaders));
  res.end(body);
  return len;
}

/**
 * How long a connection the gateway answered and closed on its side (an early reply, or sendRawReply's)
 * stays open for the client to read the answer and close its side, before it is destroyed.
 */
export const LINGER_MS = 2000;

/**
 * Writes a complete response straight onto a socket and closes it: for requests the HTTP server could not
 * hand over as a request (malformed ones, timed out ones, upgrades). Our side is closed at once; the socket
 * is destroyed when the client closes its side, or after LINGER_MS: a client that never does (or that
 * left while its unread body kept the socket from seeing it) cannot keep the connection, nor a request
 * still held on it, for good.
 */
export function sendRawReply(socket: Duplex, status: number, body: string, requestId: string): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\ncontent-type: text/plain; charset=utf-8\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\nx-request-id: ${requestId}\r\nconnection: close\r\n\r\n${body}`,
  );
  destroyWithin(socket, LINGER_MS);
}

/** Destroys `socket` after `ms` unless it closes before. */
export function destroyWithin(socket: Duplex, ms: number): void {
  const timer = setTimeout(() => socket.destroy(), ms);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}

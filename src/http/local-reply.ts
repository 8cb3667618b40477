// Responses the gateway answers itself: no route, upstream failures, direct_response routes, client errors.
// Bodies are short fixed texts; nothing from the request is echoed back.
import { STATUS_CODES, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

export const LocalReplyBodies = {
  400: 'bad request\n',
  404: 'no route matched\n',
  502: 'upstream returned an invalid response\n',
  503: 'upstream unavailable\n',
  504: 'upstream request timeout\n',
} as const;

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
  const headers: string[] = status === 204 ? ['x-request-id', requestId] : ['content-length', String(len), 'x-request-id', requestId];
  let hasType = false;
  if (extraHeaders !== undefined) {
    for (let i = 0; i < extraHeaders.length; i += 2) {
      const name = extraHeaders[i]!;
      if (name === 'content-length' || name === 'x-request-id') continue;
      if (name === 'content-type') hasType = true;
      headers.push(name, extraHeaders[i + 1]!);
    }
  }
  if (!hasType) headers.push('content-type', 'text/plain; charset=utf-8');
  res.writeHead(status, headers);
  res.end(body);
  return len;
}

/**
 * Writes a complete response straight onto a socket and closes it: for requests the HTTP server could not
 * hand over as a request (malformed ones, upgrades).
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
}

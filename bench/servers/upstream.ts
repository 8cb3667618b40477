// The benchmark's upstream: a plain keep-alive node:http server answering by path.
//   GET  /2b   -> 2-byte body "ok"
//   GET  /64k  -> 65,536-byte body (preallocated)
//   POST /post -> reads the whole request body, answers "ok"
// Usage: node bench/servers/upstream.ts [port]   (port 0 / absent = ephemeral)
// Prints one JSON line {"ready":true,"port":N} on stdout once listening.
import http from 'node:http';
import { announceReady, exitOnSignal, listenPort, tuneServer } from '../lib/server-util.ts';

const OK = Buffer.from('ok');
const BIG = Buffer.alloc(64 * 1024, 'x');
const OK_HEADERS = { 'content-type': 'text/plain', 'content-length': String(OK.length) };
const BIG_HEADERS = { 'content-type': 'application/octet-stream', 'content-length': String(BIG.length) };

const server = http.createServer((req, res) => {
  const url = req.url ?? '/';
  if (url === '/2b' || url.startsWith('/2b?')) {
    res.writeHead(200, OK_HEADERS);
    res.end(OK);
    return;
  }
  if (url === '/64k' || url.startsWith('/64k?')) {
    res.writeHead(200, BIG_HEADERS);
    res.end(BIG);
    return;
  }
  if (url === '/post' || url.startsWith('/post?')) {
    let received = 0;
    req.on('data', (chunk: Buffer) => {
      received += chunk.length;
    });
    req.on('end', () => {
      res.writeHead(200, { ...OK_HEADERS, 'x-received-bytes': String(received) });
      res.end(OK);
    });
    return;
  }
  req.resume();
  res.writeHead(404, { 'content-type': 'text/plain', 'content-length': '9' });
  res.end('not found');
});

tuneServer(server);
server.listen(listenPort(process.argv[2]), '127.0.0.1', () => announceReady(server));
exitOnSignal(server);

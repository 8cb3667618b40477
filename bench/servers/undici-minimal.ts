// The BASELINE: the best a hand-written Node proxy does.
// A minimal node:http server + one undici Pool (keep-alive), forwarding method, path and headers
// (minus hop-by-hop) and streaming bodies both ways. Three shapes of the same proxy:
//   --mode request   pool.request() then pipeline(body, res)
//   --mode stream    pool.stream() with a factory returning `res` as the sink
//   --mode dispatch  pool.dispatch() with a raw handler writing straight into `res`
// --empty-ended turns on Node's optimizeEmptyRequests (bodyless requests start as ended streams), which
// the gateway uses: the `undici-ended` setup, to see how much of the difference that option is.
// --heap-growing-percent N sets V8's heap growing factor as the gateway does (src/worker/supervisor.ts):
// the `undici-heap` setup.
// Usage: node bench/servers/undici-minimal.ts --upstream http://127.0.0.1:U [--mode M] [--port P] [--empty-ended] [--heap-growing-percent N]
import http from 'node:http';
import { setFlagsFromString } from 'node:v8';
import { pipeline } from 'node:stream';
import { Pool, type Dispatcher } from 'undici';
import { hasBody, requestHeaders, responseHeaders } from '../lib/hop.ts';
import { announceReady, argValue, exitOnSignal, listenPort, tuneServer } from '../lib/server-util.ts';

const upstream = argValue('upstream');
if (upstream === undefined) {
  process.stderr.write('undici-minimal: --upstream URL is required\n');
  process.exit(2);
}
const mode = argValue('mode') ?? 'stream';
const heapGrowingPercent = argValue('heap-growing-percent');
if (heapGrowingPercent !== undefined) setFlagsFromString(`--heap-growing-percent=${Number(heapGrowingPercent)}`);
const pool = new Pool(upstream, {
  connections: Number(argValue('connections') ?? '64'),
  pipelining: 1,
  keepAliveTimeout: 60_000,
});

function badGateway(res: http.ServerResponse, err: Error): void {
  if (res.destroyed) return;
  if (!res.headersSent) {
    res.writeHead(502, { 'content-type': 'text/plain' });
    res.end(`bad gateway: ${err.message}\n`);
  } else {
    res.destroy(err);
  }
}

function options(req: http.IncomingMessage): Dispatcher.RequestOptions {
  return {
    method: req.method as Dispatcher.HttpMethod,
    path: req.url ?? '/',
    headers: requestHeaders(req.rawHeaders, req.headers.connection),
    body: hasBody(req.headers) ? req : undefined,
  };
}

function viaRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
  pool.request(options(req)).then(
    (up) => {
      if (res.destroyed) {
        up.body.dump().catch(() => {}); // the client went away while we waited for the upstream
        return;
      }
      res.writeHead(up.statusCode, responseHeaders(up.headers));
      pipeline(up.body, res, () => {});
    },
    (err: Error) => badGateway(res, err),
  );
}

function viaStream(req: http.IncomingMessage, res: http.ServerResponse): void {
  pool.stream(
    options(req),
    ({ statusCode, headers }) => {
      res.writeHead(statusCode, responseHeaders(headers));
      return res;
    },
    (err) => {
      if (err) badGateway(res, err);
    },
  );
}

function viaDispatch(req: http.IncomingMessage, res: http.ServerResponse): void {
  let ctl: Dispatcher.DispatchController | null = null;
  res.on('drain', () => ctl?.resume());
  res.on('close', () => {
    if (!res.writableFinished) ctl?.abort(new Error('downstream closed'));
  });
  pool.dispatch(options(req), {
    onRequestStart(controller) {
      ctl = controller;
      if (res.destroyed) controller.abort(new Error('downstream closed'));
    },
    onResponseStart(_c, statusCode, headers) {
      res.writeHead(statusCode, responseHeaders(headers));
    },
    onResponseData(controller, chunk) {
      if (!res.write(chunk)) controller.pause();
    },
    onResponseEnd() {
      res.end();
    },
    onResponseError(_c, err) {
      badGateway(res, err);
    },
  });
}

const handlers: Record<string, (req: http.IncomingMessage, res: http.ServerResponse) => void> = {
  request: viaRequest,
  stream: viaStream,
  dispatch: viaDispatch,
};
const handler = handlers[mode];
if (handler === undefined) {
  process.stderr.write(`undici-minimal: unknown --mode ${mode}\n`);
  process.exit(2);
}

const server = http.createServer({ optimizeEmptyRequests: process.argv.includes('--empty-ended') }, handler);
tuneServer(server);
server.listen(listenPort(argValue('port')), '127.0.0.1', () => announceReady(server));
exitOnSignal(server, () => pool.close());

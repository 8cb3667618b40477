// A bare http-proxy-3 proxy with a keep-alive http.Agent: what a Node user writes instead of a gateway.
// Usage: node bench/servers/http-proxy-3.ts --upstream http://127.0.0.1:U [--port P]
import http from 'node:http';
import { createProxyServer } from 'http-proxy-3';
import { announceReady, argValue, exitOnSignal, listenPort, tuneServer } from '../lib/server-util.ts';

const upstream = argValue('upstream');
if (upstream === undefined) {
  process.stderr.write('http-proxy-3: --upstream URL is required\n');
  process.exit(2);
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64, keepAliveMsecs: 60_000 });
const proxy = createProxyServer({ target: upstream, agent });

const server = http.createServer((req, res) => {
  proxy.web(req, res, {}, (err: Error) => {
    if (!res.headersSent) {
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`bad gateway: ${err.message}\n`);
    } else {
      res.destroy(err);
    }
  });
});
tuneServer(server);
server.listen(listenPort(argValue('port')), '127.0.0.1', () => announceReady(server));
exitOnSignal(server, () => agent.destroy());

// A tiny upstream for the out-of-the-box demo: it answers every request with what it received (method,
// path, headers, body size) as JSON, so a newcomer sees what the gateway forwards.
import http from 'node:http';

export function startDemoUpstream(host: string, port: number): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    let size = 0;
    req.on('data', (c: Buffer) => (size += c.length));
    req.on('end', () => {
      const body = `${JSON.stringify({ upstream: 'demo', method: req.method, path: req.url, headers: req.headers, body_bytes: size }, null, 2)}\n`;
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}

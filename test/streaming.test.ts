// Bodies stream both ways with backpressure: with a reader that stalls, the gateway holds back the writer
// instead of buffering, so what is in flight stays a few socket buffers whatever the body size.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { Readable } from 'node:stream';
import { startUpstream, startTestGateway, type TestGateway, type TestUpstream } from './helpers/gateway.ts';

const SIZE = 64 * 1024 * 1024;
const CHUNK = Buffer.alloc(64 * 1024, 120);
/** Bytes allowed in flight between writer and a stalled reader: kernel socket buffers on two loopback hops (several MiB each) and stream highWaterMarks. */
const IN_FLIGHT_LIMIT = 24 * 1024 * 1024;

/** A body generator that counts what it has produced. */
function generate(total: number, counter: { produced: number }): Readable {
  return new Readable({
    read() {
      if (counter.produced >= total) return void this.push(null);
      counter.produced += CHUNK.length;
      this.push(CHUNK);
    },
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let upstream: TestUpstream;
let gw: TestGateway;
const download = { produced: 0 };
const upload = { consumed: 0, stall: false };

before(async () => {
  upstream = await startUpstream((req, res) => {
    if (req.method === 'POST') {
      req.on('data', (c: Buffer) => {
        upload.consumed += c.length;
        if (upload.stall && upload.consumed >= 1024 * 1024) {
          upload.stall = false;
          req.pause();
          setTimeout(() => req.resume(), 1000);
        }
      });
      req.on('end', () => res.end(String(upload.consumed)));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    generate(SIZE, download).pipe(res);
  });
  gw = await startTestGateway({ upstreams: { main: { url: upstream.url } }, routes: [{ name: 'all', match: { prefix: '/' }, upstream: 'main' }] });
});

after(async () => {
  await gw.stop();
  await upstream.close();
});

test('a 64 MiB download: a stalled client holds the upstream back, then everything arrives', async () => {
  let received = 0;
  let inFlightWhileStalled = -1;
  await new Promise<void>((resolve, reject) => {
    http
      .get(`${gw.url}/big`, (res) => {
        res.on('data', (c: Buffer) => {
          received += c.length;
          if (inFlightWhileStalled === -1 && received >= 1024 * 1024) {
            inFlightWhileStalled = 0;
            res.pause();
            void sleep(1000).then(() => {
              inFlightWhileStalled = download.produced - received;
              res.resume();
            });
          }
        });
        res.on('end', resolve);
        res.on('error', reject);
      })
      .on('error', reject);
  });
  assert.equal(received, SIZE);
  assert.ok(inFlightWhileStalled < IN_FLIGHT_LIMIT, `${(inFlightWhileStalled / 1048576).toFixed(1)} MiB produced beyond what the client read`);
});

test('a 64 MiB upload: a stalled upstream holds the client back, then everything arrives', async () => {
  upload.consumed = 0;
  upload.stall = true;
  const sent = { produced: 0 };
  let inFlightWhileStalled = -1;
  const answer = await new Promise<string>((resolve, reject) => {
    const req = http.request(`${gw.url}/upload`, { method: 'POST' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    generate(SIZE, sent).pipe(req);
    void sleep(700).then(() => (inFlightWhileStalled = sent.produced - upload.consumed));
  });
  assert.equal(answer, String(SIZE));
  assert.ok(inFlightWhileStalled >= 0 && inFlightWhileStalled < IN_FLIGHT_LIMIT, `${(inFlightWhileStalled / 1048576).toFixed(1)} MiB sent beyond what the upstream read`);
  const stats = (await (await fetch(`${gw.adminUrl}/stats`)).json()) as { bytes_in: number; bytes_out: number };
  assert.equal(stats.bytes_in, SIZE);
  assert.ok(stats.bytes_out >= SIZE);
});

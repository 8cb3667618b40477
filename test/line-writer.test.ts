// The access log's writer: whole lines, in order, in writes no larger than PIPE_BUF; bounded when stalled.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LineWriter, jsonStringMax, putJsonString, putMillis, putUint } from '../src/observability/line-writer.ts';
import { AccessLog } from '../src/observability/access-log.ts';

test('every line arrives whole and in order', async () => {
  const file = join(fs.mkdtempSync(join(tmpdir(), 'wasmgate-lw-')), 'out.log');
  const fd = fs.openSync(file, 'w');
  const w = new LineWriter(fd);
  for (let i = 0; i < 20000; i++) {
    w.write(`{"n":${i},"pad":"${'x'.repeat(i % 300)}"}\n`);
    if (i % 500 === 0) await new Promise((r) => setImmediate(r));
  }
  w.flushSync();
  fs.closeSync(fd);
  const lines = fs.readFileSync(file, 'utf8').trimEnd().split('\n');
  assert.equal(lines.length, 20000);
  lines.forEach((l, i) => assert.equal((JSON.parse(l) as { n: number }).n, i));
});

test('a file opened without O_APPEND (`> file`): lines from another writer of the same fd are not overwritten', () => {
  const file = join(fs.mkdtempSync(join(tmpdir(), 'wasmgate-lw-')), 'out.log');
  const fd = fs.openSync(file, 'w'); // as the shell's `>`: one offset, no O_APPEND
  const w = new LineWriter(fd);
  for (let i = 0; i < 50; i++) {
    w.write(`access ${i}\n`);
    w.flush();
    fs.writeSync(fd, `event ${i}\n`); // the event log writes to the same fd
  }
  w.flushSync();
  fs.closeSync(fd);
  const lines = fs.readFileSync(file, 'utf8').trimEnd().split('\n');
  assert.deepEqual(lines, Array.from({ length: 50 }, (_, i) => [`access ${i}`, `event ${i}`]).flat());
});

test('a stalled pipe never blocks the writer: lines queue up to the limit, then are dropped', (t) => {
  const dir = fs.mkdtempSync(join(tmpdir(), 'wasmgate-lw-'));
  const fifo = join(dir, 'pipe');
  execFileSync('mkfifo', [fifo]);
  const rfd = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  const wfd = fs.openSync(fifo, fs.constants.O_WRONLY);
  t.after(() => {
    fs.closeSync(rfd);
    fs.closeSync(wfd);
  });
  const w = new LineWriter(wfd, { maxQueuedBytes: 100_000 });
  const line = (i: number) => `{"n":${i},"pad":"${'z'.repeat(80)}"}\n`;
  // nobody reads: the pipe (64 KiB) fills, then the queue (100 kB), then lines are dropped
  for (let i = 0; i < 3000; i++) w.write(line(i));
  w.flush();
  assert.ok(w.dropped > 0, 'lines beyond the limit are dropped');
  // what did reach the pipe is whole lines, in order
  const got = Buffer.alloc(1 << 20);
  const n = fs.readSync(rfd, got);
  const lines = got.subarray(0, n).toString().trimEnd().split('\n');
  assert.ok(lines.length > 100);
  lines.forEach((l, i) => assert.equal((JSON.parse(l) as { n: number }).n, i));
});

test('JSON pieces written as bytes: strings escaped as JSON needs (within their bound), numbers as JSON has them', () => {
  const b = Buffer.alloc(1024);
  for (const s of ['plain', 'quo"te', 'back\\slash', 'new\nline', 'ünïcode', '\u0000', '', '\u007f', 'pair \ud83d\ude00', 'lone \ud800']) {
    const end = putJsonString(b, 3, s);
    assert.ok(end - 3 <= jsonStringMax(s), s);
    assert.equal(JSON.parse(b.toString('utf8', 3, end)), s);
  }
  for (const n of [0, 7, 10, 99, 200, 65536, 1e10 + 3, Number.MAX_SAFE_INTEGER]) assert.equal(b.toString('latin1', 0, putUint(b, 0, n)), String(n));
  for (const [ms, text] of [[0, '0.000'], [0.0004, '0.000'], [0.0005, '0.001'], [12.3456, '12.346'], [1.05, '1.050'], [999.9999, '1000.000']] as const) {
    assert.equal(b.toString('latin1', 0, putMillis(b, 0, ms)), text);
  }
});

test('access log: lines come out whole and in order across batches, the last ones within a flush interval', async () => {
  const file = join(fs.mkdtempSync(join(tmpdir(), 'wasmgate-al-')), 'access.log');
  const fd = fs.openSync(file, 'w');
  const log = new AccessLog(new LineWriter(fd, { flushIntervalMs: 50 }), 3);
  const entry = (i: number) => ({
    requestId: i === 7 ? 'odd "id"' : `id-${i}`,
    req: { method: 'GET', url: i === 11 ? `/long/${'y'.repeat(6000)}` : `/p?i=${i}&x=ü` },
    route: i % 2 === 0 ? { name: 'default' } : undefined,
    upstream: i % 2 === 0 ? { name: 'app' } : undefined,
    bytesIn: i,
    bytesOut: 1e10 + i, // past 32 bits
    failure: i === 5 ? 'upstream_reset' : '',
  });
  for (let i = 0; i < 150; i++) log.write(entry(i), 200 + (i % 3), i === 9 ? 0.0004 : 12.3456 + i);
  // 150 is not a multiple of the batch: the rest waits for the writer's next flush
  await new Promise((r) => setTimeout(r, 300));
  fs.closeSync(fd);
  const lines = fs.readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(lines.length, 150);
  lines.forEach((l, i) => {
    assert.equal(l.reqId, i === 7 ? 'odd "id"' : `id-${i}`);
    assert.equal(l.path, i === 11 ? `/long/${'y'.repeat(6000)}` : `/p?i=${i}&x=ü`);
    assert.equal(l.status, 200 + (i % 3));
    assert.equal(l.bytesIn, i);
    assert.equal(l.bytesOut, 1e10 + i);
    assert.equal(l.durationMs, i === 9 ? 0 : Math.round((12.3456 + i) * 1000) / 1000);
    assert.equal(l.route, i % 2 === 0 ? 'default' : undefined);
    assert.equal(l.upstream, i % 2 === 0 ? 'app' : undefined);
    assert.equal(l.failure, i === 5 ? 'upstream_reset' : undefined);
    assert.equal(l.worker, 3);
    assert.equal(l.msg, 'access');
    assert.ok(!Number.isNaN(Date.parse(String(l.time))));
  });
});

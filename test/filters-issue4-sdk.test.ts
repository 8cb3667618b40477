// The SDK's shared data, shared queue and metric helpers (filters/sdk/shared-data.ts, queues.ts,
// metrics.ts), through a small AssemblyScript filter compiled here from the source below against the SDK
// and run by the real gateway with two workers. Each request path runs one helper and answers locally
// with what it returned. Skipped, with the reason, when this build stubs those host calls.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import asc from 'assemblyscript/asc';
import { startTestGateway } from './helpers/gateway.ts';
import { loadFilterModule } from '../src/wasm/module.ts';
import { linkReportOf } from '../src/wasm/host/index.ts';

const sdk = fileURLToPath(new URL('../filters/sdk', import.meta.url));

const SOURCE = (sdkPath: string) => `
export * from "${sdkPath}/exports";
import {
  CAS_ABSENT, Counter, FilterHeadersStatus, Gauge, Histogram, HttpContext, RootContext, WasmResult,
  dequeueSharedQueue, enqueueSharedQueue, getSharedData, log, registerRootContext, registerSharedQueue,
  requestHeaders, resolveSharedQueue, sendLocalResponse, setSharedData,
} from "${sdkPath}";

const received = new Counter("sdk_queue_received_total");
const hits = new Counter("sdk_hits_total");
const level = new Gauge("sdk_level");
const sizes = new Histogram("sdk_sizes");

class Root extends RootContext {
  onConfigure(size: u32): bool {
    const q = registerSharedQueue("events");
    if (q.status != WasmResult.Ok || q.id == 0) { log.error("register: " + q.status.toString()); return false; }
    return true;
  }
  onQueueReady(queueId: u32): void {
    // every item that is there: items are taken once, whichever worker's root is told
    for (let item = dequeueSharedQueue(queueId); item.value !== null; item = dequeueSharedQueue(queueId)) {
      received.increment(<u64>item.value!.byteLength);
    }
  }
  createHttpContext(id: u32): HttpContext | null { return new Stream(id, this); }
}

function s(n: i64): string { return n.toString(); }

class Stream extends HttpContext {
  onRequestHeaders(n: u32, eos: bool): FilterHeadersStatus {
    const path = requestHeaders.get(":path")!;
    const key = requestHeaders.get("x-key");
    let out = "?";
    if (path == "/get") {
      const d = getSharedData(key!);
      const text = d.text;
      out = s(d.status) + " " + (text !== null ? text : "null") + " " + (d.cas == CAS_ABSENT ? "absent" : d.cas == 0 ? "0" : "cas");
    } else if (path == "/create") {
      // create only if absent: the CAS a missing key reads with
      out = s(setSharedData(key!, String.UTF8.encode(requestHeaders.get("x-value")!), CAS_ABSENT));
    } else if (path == "/stale") {
      // a write with the CAS read before someone else's write
      const before = getSharedData(key!);
      setSharedData(key!, String.UTF8.encode("other"), 0);
      out = s(setSharedData(key!, String.UTF8.encode("mine"), before.cas));
    } else if (path == "/enqueue") {
      const q = resolveSharedQueue("", "events");
      out = s(q.status) + " " + s(enqueueSharedQueue(q.id, String.UTF8.encode(requestHeaders.get("x-value")!)));
    } else if (path == "/resolve-missing") {
      const q = resolveSharedQueue("", "nope");
      out = s(q.status) + " " + s(q.id) + " " + s(enqueueSharedQueue(12345, new ArrayBuffer(1)));
    } else if (path == "/dequeue") {
      const q = resolveSharedQueue("", "events");
      const item = dequeueSharedQueue(q.id);
      out = s(item.status) + " " + (item.value === null ? "null" : String.UTF8.decode(item.value!));
    } else if (path == "/metrics") {
      out = s(hits.increment(3)) + " " + s(hits.get()) + " " + s(hits.increment(0)) + " " + s(hits.status);
      out += " | " + s(level.set(5)) + " " + s(level.add(2)) + " " + s(level.sub(4)) + " " + s(level.get());
      out += " | " + s(sizes.record(42)) + " " + s(sizes.status) + " " + s(received.get());
    }
    sendLocalResponse(200, "sdk_test", out);
    return FilterHeadersStatus.StopIteration;
  }
}

registerRootContext((id: u32): RootContext => new Root(id));
`;

async function compile(): Promise<{ file: string; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'wasmgate-sdk-test-'));
  const entry = join(dir, 'index.ts');
  writeFileSync(entry, SOURCE(relative(dir, sdk)));
  const file = join(dir, 'sdk-test.wasm');
  const stderr = asc.createMemoryStream();
  const { error } = await asc.main(
    [relative('/', entry), '--outFile', relative('/', file), '--baseDir', '/', '--runtime', 'incremental', '--optimizeLevel', '1', '--exportStart', '_initialize', '--noColors'],
    { stderr, stdout: asc.createMemoryStream() },
  );
  if (error !== null) throw new Error(`compiling the SDK test filter failed:\n${stderr.toString()}`);
  return { file, dir };
}

const built = await compile();
process.on('exit', () => rmSync(built.dir, { recursive: true, force: true }));
const stubbed = linkReportOf(await loadFilterModule(built.file)).unimplemented;
const skip = stubbed.length > 0 ? `this build answers ${stubbed.join(', ')} with Unimplemented` : false;

test('SDK: shared data, queues and metrics helpers against the real host, over two workers', { skip }, async (t) => {
  const gw = await startTestGateway({
    workers: 2,
    upstreams: { app: { url: 'http://127.0.0.1:1' } },
    routes: [{ name: 'default', match: { prefix: '/' }, upstream: 'app' }],
    filters: [{ name: 'sdk-test', wasm: built.file }],
  });
  const pool = new Pool(gw.url, { connections: 16, pipelining: 1 });
  t.after(async () => {
    await pool.close();
    await gw.stop();
  });
  const get = async (path: string, headers: Record<string, string> = {}): Promise<string> => {
    const r = await pool.request({ method: 'GET', path, headers });
    assert.equal(r.statusCode, 200);
    return r.body.text();
  };

  // shared data: a missing key reads NotFound (1) with CAS_ABSENT; creating with it works once
  assert.equal(await get('/get', { 'x-key': 'k' }), '1 null absent');
  const creates = await Promise.all(Array.from({ length: 20 }, (_, i) => get('/create', { 'x-key': 'k', 'x-value': `v${i}` })));
  assert.equal(creates.filter((c) => c === '0').length, 1, `exactly one creation wins: ${creates.join(' ')}`);
  assert.equal(creates.filter((c) => c === '8').length, 19, 'the others get CasMismatch (8)');
  assert.match(await get('/get', { 'x-key': 'k' }), /^0 v\d+ cas$/);
  assert.equal(await get('/stale', { 'x-key': 'k' }), '8', 'a stale CAS mismatches');
  assert.equal(await get('/get', { 'x-key': 'k' }), '0 other cas');

  // queues: resolve, enqueue (any worker), the registrant's onQueueReady drains them
  assert.equal(await get('/resolve-missing'), '1 0 1', 'NotFound, id 0; enqueue to an unknown id: NotFound');
  const enq = await Promise.all(Array.from({ length: 10 }, (_, i) => get('/enqueue', { 'x-value': `item${i}` })));
  assert.deepEqual(new Set(enq), new Set(['0 0']));
  let metricsCalls = 0;
  const metrics = async (): Promise<string[]> => {
    metricsCalls++;
    return (await get('/metrics')).split(' | ');
  };
  // 10 items of 5 bytes ("item0".."item9"), counted by the root's onQueueReady (asynchronous)
  let m = await metrics();
  for (let i = 0; i < 100 && !m[2]!.endsWith(' 50'); i++) {
    await new Promise((r) => setTimeout(r, 10));
    m = await metrics();
  }
  assert.equal(m[2]!.split(' ')[2], '50', m.join(' | '));
  assert.equal(await get('/dequeue'), '7 null', 'drained: Empty (7)');

  // metrics: counter increment/get, increment by 0 refused (BadArgument 2), defined (status Ok);
  // gauge set 5, add 2, sub 4 → 3; histogram record, defined
  const [inc, value, zero, status] = m[0]!.split(' ');
  assert.deepEqual([inc, zero, status], ['0', '2', '0']);
  assert.equal(Number(value), 3 * metricsCalls, 'the counter is process-wide: every call on either worker counted');
  assert.equal(m[1], '0 0 0 3');
  assert.equal(m[2]!.split(' ').slice(0, 2).join(' '), '0 0');
  const prom = await (await fetch(`${gw.adminUrl}/stats/prometheus`)).text();
  assert.match(prom, new RegExp(`^wasmcustom_sdk_hits_total\\{filter="sdk-test"\\} ${3 * metricsCalls}$`, 'm'));
  assert.match(prom, new RegExp(`^wasmcustom_sdk_sizes_count\\{filter="sdk-test"\\} ${metricsCalls}$`, 'm'));
  assert.match(prom, /^wasmcustom_sdk_sizes_sum\{filter="sdk-test"\} (\d+)$/m);
  assert.match(prom, /^wasmcustom_sdk_level\{filter="sdk-test"\} 3$/m);
  assert.match(prom, /^wasmcustom_sdk_queue_received_total\{filter="sdk-test"\} 50$/m);
});

// Micro-benchmark of the json-transform filter through the real host, no network: a POST with a JSON body
// (BODY=bench: the bench's 16 KiB post-json-16k document, one long string; BODY=mixed: ~16 KiB of many small
// members) runs request headers + body (in CHUNKS pieces) through FilterRun. CPU µs per request, median of 7.
//   node bench/json-transform.ts            (NOFILTER=1: the same without the filter, the baseline)
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadFilterModule } from '../src/wasm/module.ts';
import { FilterChain, Plugin } from '../src/filters/plugin.ts';
import { FilterRun } from '../src/filters/http-filters.ts';
import { HeaderMap } from '../src/http/header-map.ts';
import { createRootLogger } from '../src/observability/logger.ts';
import { jsonBody } from './lib/types.ts';
import { StandInExchange, benchFilter, cpuPerCall } from './lib/stand-in.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const wasm = process.env['WASM'] ?? path.join(repoRoot, 'filters', 'json-transform.wasm');
const N = Number(process.env['N'] ?? 5000);
const CHUNKS = Number(process.env['CHUNKS'] ?? 2);
const log = createRootLogger('silent');

function mixedBody(bytes: number): Buffer {
  const items: unknown[] = [];
  let i = 0;
  while (JSON.stringify(items).length < bytes - 200) {
    items.push({ id: i, name: `item ${i} \u00e9\u4e2d`, price: 12.5 + i, tags: ['a', 'b\n', 'c'], ok: i % 2 === 0, note: null });
    i++;
  }
  return Buffer.from(JSON.stringify({ user_name: 'bench', password: 'secret', items }));
}
const BODY = process.env['BODY'] === 'mixed' ? mixedBody(16 * 1024) : jsonBody(16 * 1024);
const pieces: Buffer[] = [];
for (let k = 0; k < CHUNKS; k++) pieces.push(BODY.subarray(Math.floor((k * BODY.length) / CHUNKS), Math.floor(((k + 1) * BODY.length) / CHUNKS)));

const filter = benchFilter('json', wasm, { set: { '/source': 'wasmgate' }, remove: ['/password'] });
const requestHeaders = (): HeaderMap =>
  new HeaderMap(
    [':method', 'POST', ':scheme', 'http', ':authority', '127.0.0.1:8080', ':path', '/post'],
    ['content-type', 'application/json', 'content-length', String(BODY.length), 'user-agent', 'autocannon'],
  );
let sent = 0;
let lastOut: Buffer[] = [];
const record = (chunk: Buffer): void => {
  sent += chunk.length;
  lastOut.push(chunk);
};

const plugins = process.env['NOFILTER'] === '1' ? [] : [new Plugin(await loadFilterModule(wasm, { memoryLimitBytes: 64 * 1048576, cpu: 200_000_000 }), filter, log)];
const chain = new FilterChain(plugins);
const one = (): void => {
  lastOut = [];
  const ex = new StandInExchange(requestHeaders(), record);
  const run = new FilterRun(ex, chain);
  ex.run = run;
  run.requestHeaders(false);
  for (let k = 0; k < pieces.length; k++) run.requestData(Buffer.from(pieces[k]!), k === pieces.length - 1);
  run.finish();
};
one();
const out = Buffer.concat(lastOut).toString();
const expect = JSON.parse(BODY.toString());
delete expect.password;
expect.source = 'wasmgate';
if (plugins.length > 0 && out !== JSON.stringify(expect)) throw new Error('unexpected output: ' + out.slice(0, 200));
const perRequest = cpuPerCall(N, one);
console.log(`${process.env['BODY'] ?? 'bench'} body ${BODY.length} B in ${CHUNKS} chunks, ${plugins.length ? 'json-transform' : 'no filter'}: ${perRequest.toFixed(1)} µs/request (median of 7×${N}; ${sent > 0 ? 'ok' : ''})`);

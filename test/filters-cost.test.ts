// Cost accounting per filter, built in: calls per callback, time per phase, outbound calls and their
// latency, failures by cause, live VMs and their memory — in /stats and /stats/prometheus, with no
// help from the filters.
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { fixture, startTestGateway, startUpstream } from './helpers/gateway.ts';


test('every filter’s calls, time, outbound calls, failures, VMs and memory are exported', async (t) => {
  const up = await startUpstream((_req, res) => res.end('ok'));
  const gw = await startTestGateway({
    upstreams: { app: { url: up.url }, auth: { url: up.url } },
    routes: [{ name: 'default', match: { prefix: '/' }, upstream: 'app' }],
    filters: [
      { name: 'trace', wasm: fixture('http-trace') },
      { name: 'trap', wasm: fixture('trap'), fail_open: true },
      { name: 'caller', wasm: fixture('http-call'), config: 'auth' },
      // four calls per stream (create, request headers, response headers, delete): a period that divides
      // the sampling rate
      { name: 'headers', wasm: fileURLToPath(new URL('../filters/add-headers.wasm', import.meta.url)), config: { response: { add: { 'x-a': '1' } } } },
    ],
  });
  t.after(async () => {
    await gw.stop();
    await up.close();
  });
  const N = 40;
  for (let i = 0; i < N; i++) {
    const r = await fetch(`${gw.url}/x`, { headers: i === 5 ? { 'x-trap': '1' } : {} });
    assert.equal(r.status, 200);
    await r.text();
  }
  const text = await (await fetch(`${gw.adminUrl}/stats/prometheus`)).text();
  const value = (re: RegExp): number => {
    const m = re.exec(text);
    assert.ok(m !== null, `${re} in:\n${text.split('\n').filter((l) => l.startsWith('wasmgate_filter')).join('\n')}`);
    return Number(m[1]);
  };
  assert.equal(value(/^wasmgate_filter_calls_total\{filter="trace",callback="on_request_headers"\} (\d+)$/m), N);
  assert.equal(value(/^wasmgate_filter_calls_total\{filter="trace",callback="on_log"\} (\d+)$/m), N);
  assert.equal(value(/^wasmgate_filter_calls_total\{filter="caller",callback="on_http_call_response"\} (\d+)$/m), N);
  assert.equal(value(/^wasmgate_filter_http_calls_total\{filter="caller"\} (\d+)$/m), N);
  assert.equal(value(/^wasmgate_filter_http_call_seconds_count\{filter="caller"\} (\d+)$/m), N);
  assert.ok(value(/^wasmgate_filter_http_call_seconds_sum\{filter="caller"\} ([\d.e-]+)$/m) > 0);
  // a sampled histogram: counts come in multiples of the sampling rate, and time was spent
  assert.ok(value(/^wasmgate_filter_phase_seconds_count\{filter="trace",phase="request"\} (\d+)$/m) > 0);
  assert.ok(value(/^wasmgate_filter_phase_seconds_sum\{filter="trace",phase="request"\} ([\d.e-]+)$/m) > 0);
  // each callback is sampled one in 16 of its own calls: every phase is timed, whatever the pattern
  // of calls per stream (a stream's calls always come in the same order)
  for (const filter of ['trace', 'headers']) {
    for (const phase of ['request', 'response', 'log']) {
      assert.ok(value(new RegExp(`^wasmgate_filter_phase_seconds_count\\{filter="${filter}",phase="${phase}"\\} (\\d+)$`, 'm')) >= 32, `${filter} ${phase}`);
    }
  }
  assert.equal(value(/^wasmgate_filter_failures_total\{filter="trap",cause="unreachable"\} (\d+)$/m), 1);
  assert.equal(value(/^wasmgate_filter_failed_streams_total\{filter="trap"\} (\d+)$/m), 1);
  assert.equal(value(/^wasmgate_filter_vm_restarts_total\{filter="trap"\} (\d+)$/m), 1);
  assert.equal(value(/^wasmgate_filter_vms\{filter="trace"\} (\d+)$/m), 1);
  assert.ok(value(/^wasmgate_filter_memory_bytes\{filter="trace"\} (\d+)$/m) >= 65536);
  const json = (await (await fetch(`${gw.adminUrl}/stats`)).json()) as { filters: Record<string, { calls: Record<string, number> }> };
  assert.equal(json.filters['trace']!.calls['on_response_headers'], N);
});

// Starting a filter VM: initializer, root context, on_vm_start, on_configure — with real modules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ResolvedFilter } from '../src/config/types.ts';
import { createRootLogger } from '../src/observability/logger.ts';
import { loadFilterModule } from '../src/wasm/module.ts';
import { FilterVm, FilterStartError } from '../src/wasm/vm.ts';
import { LogSink } from './helpers/gateway.ts';

const fixture = (name: string) => new URL(`./fixtures/wasm/${name}.wasm`, import.meta.url).pathname;

function filter(name: string, config = '', extra: Partial<ResolvedFilter> = {}): ResolvedFilter {
  return { name, wasm: fixture(name), root_id: 'my-root', vm_id: '', config, vm_config: '', fail_open: { load: false, start: false, trap: false, cpu: false, memory: false }, limits: { memory_mb: 64, cpu: 200000000, hard_timeout_ms: 5000, clock_resolution_us: 1000 }, quarantine: { failures: 5, window_ms: 10000, max_backoff_ms: 60000 }, ...extra };
}

async function start(f: ResolvedFilter): Promise<{ vm: FilterVm; logs: LogSink }> {
  const logs = new LogSink();
  const vm = new FilterVm(await loadFilterModule(f.wasm), f, createRootLogger('trace', { destination: logs }));
  vm.initialize();
  vm.startRootContext();
  return { vm, logs };
}

async function startFailure(f: ResolvedFilter): Promise<FilterStartError> {
  try {
    await start(f);
  } catch (err) {
    assert.ok(err instanceof FilterStartError, String(err));
    assert.equal(err.code, 'GW_ERR_WASM_START_FAILED');
    return err;
  }
  assert.fail('the filter started');
}

test('a filter starts: stdout goes to its log, it reads plugin_root_id and its configuration', async () => {
  const { vm, logs } = await start(filter('configure', '{"response":{"add":{"x-powered-by":"wasmgate"}}}'));
  assert.equal(vm.rootContextId, 1);
  const lines = logs.lines.map((l) => [l.level, l.msg, l.filter]);
  assert.deepEqual(lines, [
    ['info', 'wasm: hello from _start', 'configure'],
    ['info', 'wasm: my-root', 'configure'],
    ['info', 'wasm: {"response":{"add":{"x-powered-by":"wasmgate"}}}', 'configure'],
  ]);
  assert.deepEqual(vm.link.unimplemented, ['env.proxy_grpc_cancel'], 'unused ABI imports still link');
});

test('proxy_on_configure returning false refuses the filter, showing its own log lines', async () => {
  const err = await startFailure(filter('configure', ''));
  assert.match(err.message, /^filter "configure": proxy_on_configure returned false/);
  assert.match(err.message, /\[error\] no configuration/);
});

test('proxy_on_vm_start returning false refuses the filter', async () => {
  const err = await startFailure(filter('vm-start-false'));
  assert.match(err.message, /proxy_on_vm_start returned false/);
  assert.deepEqual(err.filterLog, ['[error] license check failed']);
});

test('a trap in the initializer refuses the filter with the trap', async () => {
  const err = await startFailure(filter('trap-in-start'));
  assert.match(err.message, /_start trapped: unreachable/);
});

test('calling an import no ABI defines traps with its name', async () => {
  const err = await startFailure(filter('calls-unknown'));
  assert.match(err.message, /proxy_on_configure called env\.my_custom_host_thing, which no ABI defines/);
});

test('hostile pointers and arguments get statuses, never exceptions', async () => {
  // the module returns true from on_configure only if every bad call answered 6 or 2
  const { vm } = await start(filter('bad-pointers', 'x'));
  assert.equal(vm.rootContextId, 1);
});

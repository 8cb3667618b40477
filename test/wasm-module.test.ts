// Loading a filter module: what is accepted, what is refused, and the reason given.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadFilterModule, type FilterModule } from '../src/wasm/module.ts';

const fixture = (name: string) => new URL(`./fixtures/wasm/${name}.wasm`, import.meta.url).pathname;

async function refusal(file: string): Promise<string> {
  try {
    await loadFilterModule(file);
  } catch (err) {
    assert.equal((err as { code?: string }).code, 'GW_ERR_WASM_INVALID');
    assert.ok((err as Error).message.startsWith(`${file}: `), 'the message starts with the file');
    return (err as Error).message;
  }
  assert.fail(`${file} was accepted`);
}

test('a proxy-wasm 0.2.1 module: ABI, allocator, callbacks and imports are read', async () => {
  const m: FilterModule = await loadFilterModule(fixture('minimal'));
  assert.equal(m.abi, '0.2.1');
  assert.equal(m.allocator, 'malloc');
  assert.deepEqual(m.callbacks, ['malloc', 'proxy_on_context_create', 'proxy_on_request_headers', 'proxy_on_done']);
  assert.deepEqual(
    m.imports.map((i) => [`${i.module}.${i.name}`, i.area]),
    [
      ['env.proxy_log', 'logging'],
      ['env.proxy_get_header_map_value', 'headers'],
      ['wasi_snapshot_preview1.fd_write', 'wasi'],
      ['env.my_custom_host_thing', undefined],
    ],
  );
  assert.deepEqual(m.unknownImports.map((i) => i.name), ['my_custom_host_thing']);
  assert.match(m.sha256, /^[0-9a-f]{64}$/);
});

test('Go SDK modules (0.2.0 marker, proxy_on_memory_allocate) are accepted', async () => {
  const m = await loadFilterModule(fixture('go-sdk-0_2_0'));
  assert.equal(m.abi, '0.2.0');
  assert.equal(m.allocator, 'proxy_on_memory_allocate');
});

test('bad modules are refused with the reason', async () => {
  assert.match(await refusal(fixture('no-abi')), /no proxy-wasm ABI version export/);
  assert.match(await refusal(fixture('unknown-abi')), /unknown proxy-wasm ABI version export proxy_abi_version_9_9_9/);
  assert.match(await refusal(fixture('no-allocator')), /exports no allocator/);
  assert.match(await refusal(fixture('imports-memory')), /imports a memory \(env\.memory\)/);
  const dir = mkdtempSync(join(tmpdir(), 'wasmgate-mod-'));
  const text = join(dir, 'filter.wasm');
  writeFileSync(text, 'this is not wasm at all');
  assert.match(await refusal(text), /not a WebAssembly module/);
  const truncated = join(dir, 'truncated.wasm');
  writeFileSync(truncated, Buffer.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x05]));
  assert.match(await refusal(truncated), /invalid WebAssembly/);
  assert.match(await refusal(join(dir, 'missing.wasm')), /cannot read the file \(ENOENT\)/);
});

// `wasmgate inspect FILE.wasm`: what a filter module is and what it needs from the host.
import type { FilterModule } from '../wasm/module.ts';

export function formatInspection(m: FilterModule): string {
  const lines: string[] = [];
  lines.push(`file:       ${m.file}`);
  lines.push(`size:       ${m.sizeBytes} bytes, sha256 ${m.sha256}`);
  lines.push(`abi:        proxy-wasm ${m.abi} (${m.abiMarker})`);
  lines.push(`allocator:  ${m.allocator}`);
  lines.push(`callbacks:  ${m.callbacks.filter((c) => c !== m.allocator).join(', ') || '(none)'}`);
  lines.push(`imports:    ${m.imports.length}`);
  const width = Math.max(0, ...m.imports.map((i) => i.module.length + i.name.length + 1));
  for (const i of m.imports) {
    const what = i.area === undefined ? 'UNKNOWN: not part of the proxy-wasm ABI or WASI' : i.area;
    lines.push(`  ${`${i.module}.${i.name}`.padEnd(width)}  ${what}`);
  }
  lines.push(
    m.unknownImports.length === 0
      ? 'verdict:    passes the load checks; every import belongs to the proxy-wasm ABI or WASI'
      : `verdict:    passes the load checks, with ${m.unknownImports.length} import(s) no host provides`,
  );
  return `${lines.join('\n')}\n`;
}

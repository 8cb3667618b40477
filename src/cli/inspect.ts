// `wasmgate inspect FILE.wasm`: what a filter module is and what it needs from the host.
import type { FilterModule } from '../wasm/module.ts';
import { linkReportOf } from '../wasm/host/index.ts';

export function formatInspection(m: FilterModule): string {
  const lines: string[] = [];
  lines.push(`file:       ${m.file}`);
  lines.push(`size:       ${m.sizeBytes} bytes, sha256 ${m.sha256}`);
  lines.push(`abi:        proxy-wasm ${m.abi} (${m.abiMarker})`);
  lines.push(`allocator:  ${m.allocator}`);
  lines.push(`callbacks:  ${m.callbacks.filter((c) => c !== m.allocator).join(', ') || '(none)'}`);
  lines.push(`imports:    ${m.imports.length}`);
  const width = Math.max(0, ...m.imports.map((i) => i.module.length + i.name.length + 1));
  const link = linkReportOf(m);
  for (const i of m.imports) {
    const full = `${i.module}.${i.name}`;
    const what =
      i.area === undefined
        ? 'UNKNOWN: not part of the proxy-wasm ABI or WASI (traps if called)'
        : link.implemented.has(full)
          ? `${i.area}: supported`
          : `${i.area}: not supported yet (answers ${i.module === 'env' ? 'Unimplemented' : 'ENOSYS'})`;
    lines.push(`  ${full.padEnd(width)}  ${what}`);
  }
  const missing = link.unimplemented.length + link.unknown.length;
  lines.push(
    missing === 0
      ? 'verdict:    supported: every import is implemented by wasmgate'
      : link.unknown.length === 0
        ? `verdict:    loads; ${link.unimplemented.length} import(s) answer Unimplemented/ENOSYS if called (${link.unimplemented.join(', ')})`
        : `verdict:    loads; ${link.unknown.length} import(s) belong to no known ABI and trap if called (${link.unknown.join(', ')})` +
          (link.unimplemented.length > 0 ? `; ${link.unimplemented.length} answer Unimplemented/ENOSYS` : ''),
  );
  return `${lines.join('\n')}\n`;
}

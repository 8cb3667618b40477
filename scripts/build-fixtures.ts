// Compiles the WAT filters under test/fixtures/wasm/ to .wasm next to them (built, never committed).
import { readdirSync, readFileSync, writeFileSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import wabtInit from 'wabt';

const dir = new URL('../test/fixtures/wasm/', import.meta.url).pathname;
const wabt = await wabtInit();
let built = 0;
for (const name of readdirSync(dir).filter((f) => f.endsWith('.wat'))) {
  const src = join(dir, name);
  const out = src.replace(/\.wat$/, '.wasm');
  if (existsSync(out) && statSync(out).mtimeMs >= statSync(src).mtimeMs) continue;
  const mod = wabt.parseWat(name, readFileSync(src, 'utf8'));
  try {
    mod.validate();
    writeFileSync(out, mod.toBinary({}).buffer);
    built++;
  } finally {
    mod.destroy();
  }
}
process.stdout.write(`fixtures: ${built} built\n`);

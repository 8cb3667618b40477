#!/usr/bin/env node
// wasmgate runs on Node >= 24 (TypeScript type stripping). When started by an older Node, re-run the CLI
// with the Node 24 that the package pins as a dependency (node_modules/node).
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const main = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const major = Number(process.versions.node.split('.')[0]);

if (major >= 24) {
  await import(main);
} else {
  let nodeBin;
  try {
    nodeBin = join(dirname(createRequire(import.meta.url).resolve('node/package.json')), 'bin', 'node');
  } catch {
    process.stderr.write(`wasmgate needs Node >= 24 (this is ${process.version}); run "npm ci" to install the pinned one\n`);
    process.exit(64);
  }
  const child = spawn(nodeBin, [main, ...process.argv.slice(2)], { stdio: 'inherit' });
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => process.exit(code ?? (signal === null ? 1 : 128)));
}

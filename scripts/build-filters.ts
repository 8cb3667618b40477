// Compiles every AssemblyScript filter under filters/<name>/ (entry index.ts or assembly/index.ts) to
// filters/<name>.wasm (built, never committed). A filter is rebuilt only when one of its sources, the
// SDK (filters/sdk), this script or the compiler is newer than its .wasm. Filters compile in parallel,
// one worker thread per core (binaryen's optimizer is most of the time).
//   node scripts/build-filters.ts [--force] [name...]
import { existsSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, relative } from 'node:path';
import { Worker, isMainThread, parentPort } from 'node:worker_threads';
import asc from 'assemblyscript/asc';

const root = new URL('..', import.meta.url).pathname;
const filtersDir = join(root, 'filters');
const sdkDir = join(filtersDir, 'sdk');

/** Compiler flags shared by every filter (filters/README.md explains them). */
const FLAGS = [
  '--runtime', 'incremental', // TLSF allocator + incremental GC; host data lives in heap.alloc blocks
  '--optimizeLevel', '3',
  '--shrinkLevel', '0',
  '--noAssert',
  '--exportStart', '_initialize', // top-level code (registerRootContext) runs when the host calls _initialize
  '--use', 'abort=filters/sdk/log/abort', // runtime errors are logged through proxy_log, then trap
];

interface Job {
  readonly name: string;
  /** Entry file, relative to the repository root. */
  readonly entry: string;
}

interface Result {
  readonly name: string;
  readonly binary: Uint8Array | undefined;
  /** Compiler diagnostics (errors, or warnings of a successful build). */
  readonly messages: string;
}

async function compile(job: Job, colors: boolean): Promise<Result> {
  let binary: Uint8Array | undefined;
  const stderr = asc.createMemoryStream();
  const argv = [job.entry, '--outFile', `filters/${job.name}.wasm`, '--baseDir', root, ...FLAGS, ...(colors ? [] : ['--noColors'])];
  const { error } = await asc.main(argv, {
    stdout: asc.createMemoryStream(),
    stderr,
    // keep the binary: the main thread writes it atomically, so a reload watcher never sees half a file
    writeFile: (filename, contents) => {
      if (filename.endsWith('.wasm') && typeof contents !== 'string') binary = contents;
    },
  });
  let messages = stderr.toString().trim();
  if (error !== null && messages === '') messages = error.message;
  return { name: job.name, binary: error === null ? binary : undefined, messages };
}

if (!isMainThread) {
  // a worker: compile each job the main thread posts
  parentPort!.on('message', (msg: { job: Job; colors: boolean }) => {
    compile(msg.job, msg.colors).then(
      (result) => parentPort!.postMessage(result),
      (err: unknown) => parentPort!.postMessage({ name: msg.job.name, binary: undefined, messages: String(err) } satisfies Result),
    );
  });
} else {
  await main();
}

/** Newest modification time of the .ts files under `dir`. */
function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

function entryOf(dir: string): string | undefined {
  return [join(dir, 'index.ts'), join(dir, 'assembly', 'index.ts')].find((f) => existsSync(f));
}

/** Runs the jobs on up to `threads` workers; results in completion order. */
async function compileAll(jobs: readonly Job[], threads: number, colors: boolean): Promise<Result[]> {
  if (jobs.length === 1) return [await compile(jobs[0]!, colors)];
  const queue = [...jobs];
  const results: Result[] = [];
  const runWorker = () =>
    new Promise<void>((resolve, reject) => {
      const worker = new Worker(new URL(import.meta.url));
      const next = () => {
        const job = queue.shift();
        if (job === undefined) {
          void worker.terminate().then(() => resolve());
          return;
        }
        worker.postMessage({ job, colors });
      };
      worker.on('message', (result: Result) => {
        results.push(result);
        next();
      });
      worker.on('error', reject);
      next();
    });
  await Promise.all(Array.from({ length: Math.min(threads, jobs.length) }, runWorker));
  return results;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const force = args.includes('--force');
  const only = args.filter((a) => !a.startsWith('--'));
  const filters = readdirSync(filtersDir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && e.name !== 'sdk' && entryOf(join(filtersDir, e.name)) !== undefined)
    .map((e) => e.name)
    .sort();
  const unknown = only.filter((name) => !filters.includes(name));
  if (unknown.length > 0) {
    process.stderr.write(`build-filters: no filter named ${unknown.join(', ')} (have: ${filters.join(', ')})\n`);
    process.exit(2);
  }

  const shared = Math.max(
    newestSource(sdkDir),
    statSync(new URL(import.meta.url).pathname).mtimeMs,
    statSync(join(root, 'node_modules', 'assemblyscript', 'package.json')).mtimeMs,
  );
  const started = performance.now();
  const jobs: Job[] = [];
  for (const name of filters) {
    if (only.length > 0 && !only.includes(name)) continue;
    const dir = join(filtersDir, name);
    const out = join(filtersDir, `${name}.wasm`);
    if (!force && existsSync(out) && statSync(out).mtimeMs > Math.max(shared, newestSource(dir))) continue;
    jobs.push({ name, entry: relative(root, entryOf(dir)!) });
  }
  const selected = only.length > 0 ? only.length : filters.length;
  const results = jobs.length === 0 ? [] : await compileAll(jobs, availableParallelism(), process.stderr.isTTY);

  const failed = results.filter((r) => r.binary === undefined);
  for (const r of results) {
    if (r.binary === undefined) {
      process.stderr.write(`build-filters: ${r.name} failed to compile\n${r.messages}\n`);
      continue;
    }
    if (r.messages !== '') process.stderr.write(`${r.name}: ${r.messages}\n`); // warnings
    const out = join(filtersDir, `${r.name}.wasm`);
    const tmp = `${out}.tmp-${process.pid}`;
    writeFileSync(tmp, r.binary);
    renameSync(tmp, out);
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  process.stdout.write(`filters: ${results.length - failed.length} built, ${selected - jobs.length} up to date (${seconds}s)\n`);
  if (failed.length > 0) process.exit(1);
}

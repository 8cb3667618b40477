import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { mkdir, mkdtemp, open, rename, rm, symlink, unlink, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { FileWatcher, type WatcherOptions } from '../src/reload/watcher.ts';

const FAST = { debounceMs: 30, settleMs: 50 };

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function tmpDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'wasmgate-watch-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A watcher whose reports are recorded; closed after the test. */
function watch(t: TestContext, paths: string[], opts: Partial<WatcherOptions> = {}) {
  const calls: string[][] = [];
  const errors: Error[] = [];
  const w = new FileWatcher(paths, {
    ...FAST,
    onChange: (p) => calls.push(p),
    onError: (e) => errors.push(e),
    ...opts,
  });
  t.after(() => w.close());
  return { w, calls, errors };
}

/** Polls until `cond` holds; fails after `ms`. Returns the time waited. */
async function waitFor(cond: () => boolean, what: string, ms = 2000): Promise<number> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > ms) assert.fail(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(5);
  }
  return Date.now() - start;
}

/** Long enough for a debounce + settle + margin: no report arriving by then means none is coming. */
const QUIET_MS = 300;

test('an in-place write is reported once; identical rewrites and touches are not', { timeout: 5000 }, async (t) => {
  const dir = await tmpDir(t);
  const f = path.join(dir, 'gateway.yaml');
  await writeFile(f, 'listen: { port: 1 }\n');
  const { calls, errors } = watch(t, [f]);

  await writeFile(f, 'listen: { port: 2 }\n');
  const took = await waitFor(() => calls.length === 1, 'the report');
  t.diagnostic(`in-place write reported after ${took} ms`);
  assert.deepEqual(calls, [[f]]);

  await writeFile(f, 'listen: { port: 2 }\n'); // same content
  const now = new Date();
  await utimes(f, now, now);
  await sleep(QUIET_MS);
  assert.deepEqual(calls, [[f]]);
  assert.deepEqual(errors, []);
});

test('a slow multi-step write is reported once, whole', { timeout: 5000 }, async (t) => {
  const dir = await tmpDir(t);
  const f = path.join(dir, 'gateway.yaml');
  await writeFile(f, 'old\n');
  const seen: string[] = [];
  // A short debounce makes the first check run mid-write.
  const { calls } = watch(t, [f], {
    debounceMs: 10,
    settleMs: 100,
    onChange: (p) => {
      calls.push(p);
      seen.push(fs.readFileSync(f, 'utf8'));
    },
  });

  // Eight writes 30 ms apart: the write lasts longer than several settle intervals.
  const parts = [...Array.from({ length: 7 }, (_, i) => `part${i} `.repeat(200)), 'end\n'];
  const fh = await open(f, 'w'); // truncates
  for (const [i, part] of parts.entries()) {
    if (i > 0) await sleep(30);
    await fh.write(part);
  }
  await fh.close();
  const took = await waitFor(() => calls.length === 1, 'the report');
  t.diagnostic(`reported ${took} ms after the last write`);
  await sleep(QUIET_MS);
  assert.deepEqual(calls, [[f]]);
  assert.deepEqual(seen, [parts.join('')]);
});

test('a rename over the file is reported', { timeout: 5000 }, async (t) => {
  const dir = await tmpDir(t);
  const f = path.join(dir, 'auth.wasm');
  await writeFile(f, 'v1');
  const { calls } = watch(t, [f]);

  await writeFile(`${f}.tmp`, 'v2');
  await rename(`${f}.tmp`, f);
  await waitFor(() => calls.length === 1, 'the first report');
  // The watch survives the rename (it is on the folder): a second one is seen too.
  await writeFile(`${f}.tmp`, 'v3');
  await rename(`${f}.tmp`, f);
  await waitFor(() => calls.length === 2, 'the second report');
  await sleep(QUIET_MS);
  assert.deepEqual(calls, [[f], [f]]);
});

test('a Kubernetes ConfigMap symlink swap is reported; a swap to identical content is not', { timeout: 5000 }, async (t) => {
  const dir = await tmpDir(t);
  let n = 0;
  /** Writes a new timestamped folder and swaps `..data` to it atomically, as the kubelet does. */
  async function publish(content: string): Promise<string> {
    const old = fs.existsSync(path.join(dir, '..data')) ? fs.readlinkSync(path.join(dir, '..data')) : undefined;
    const ts = `..2026_11_24_01_02_0${n++}.123456789`;
    await mkdir(path.join(dir, ts));
    await writeFile(path.join(dir, ts, 'gateway.yaml'), content);
    await symlink(ts, path.join(dir, '..data_tmp'));
    await rename(path.join(dir, '..data_tmp'), path.join(dir, '..data'));
    if (old) await rm(path.join(dir, old), { recursive: true });
    return ts;
  }
  await publish('v1\n');
  const f = path.join(dir, 'gateway.yaml');
  await symlink('..data/gateway.yaml', f);
  assert.equal(fs.readFileSync(f, 'utf8'), 'v1\n');
  const seen: string[] = [];
  const { calls, errors } = watch(t, [f], {
    onChange: (p) => {
      calls.push(p);
      seen.push(fs.readFileSync(f, 'utf8'));
    },
  });

  await publish('v2\n');
  const took = await waitFor(() => calls.length === 1, 'the swap report');
  t.diagnostic(`swap reported after ${took} ms`);
  assert.deepEqual(calls, [[f]]);

  await publish('v2\n'); // new folder, same content
  await sleep(QUIET_MS);
  assert.equal(calls.length, 1);

  const ts = await publish('v3\n');
  await waitFor(() => calls.length === 2, 'the second swap report');
  // The folder the target lives in now is watched too: a write into it is seen.
  await writeFile(path.join(dir, ts, 'gateway.yaml'), 'v4\n');
  await waitFor(() => calls.length === 3, 'the in-target write report');
  await sleep(QUIET_MS);
  assert.deepEqual(calls, [[f], [f], [f]]);
  assert.deepEqual(seen, ['v2\n', 'v3\n', 'v4\n']);
  assert.deepEqual(errors, []);
});

test('a deleted file is reported when it comes back changed, not when deleted', { timeout: 5000 }, async (t) => {
  const dir = await tmpDir(t);
  const f = path.join(dir, 'gateway.yaml');
  await writeFile(f, 'v1');
  const { calls, errors } = watch(t, [f]);

  await unlink(f);
  await sleep(QUIET_MS);
  assert.deepEqual(calls, []);
  await writeFile(f, 'v1'); // back with the same content: no change
  await sleep(QUIET_MS);
  assert.deepEqual(calls, []);
  await unlink(f);
  await sleep(50);
  await writeFile(f, 'v2');
  await waitFor(() => calls.length === 1, 'the report');
  await sleep(QUIET_MS);
  assert.deepEqual(calls, [[f]]);
  assert.deepEqual(errors, []);
});

test('a file missing at start, or whose folder is deleted and recreated, is reported when it appears', { timeout: 5000 }, async (t) => {
  const dir = await tmpDir(t);
  const sub = path.join(dir, 'filters');
  const f = path.join(sub, 'auth.wasm');
  const { calls } = watch(t, [f]);

  await mkdir(sub);
  await writeFile(f, 'v1');
  await waitFor(() => calls.length === 1, 'the first report');
  await rm(sub, { recursive: true });
  await sleep(QUIET_MS);
  await mkdir(sub);
  await writeFile(f, 'v2');
  await waitFor(() => calls.length === 2, 'the report after the folder came back');
  await writeFile(f, 'v3'); // and the new folder is watched
  await waitFor(() => calls.length === 3, 'the report of a write in the new folder');
  assert.deepEqual(calls, [[f], [f], [f]]);
});

test('files changed together are reported in one call', { timeout: 5000 }, async (t) => {
  const dir = await tmpDir(t);
  await mkdir(path.join(dir, 'filters'));
  const a = path.join(dir, 'gateway.yaml');
  const b = path.join(dir, 'filters', 'auth.wasm');
  const c = path.join(dir, 'filters', 'other.wasm');
  await writeFile(a, 'a1');
  await writeFile(b, 'b1');
  await writeFile(c, 'c1');
  const { calls } = watch(t, [a, b, c]);

  await writeFile(b, 'b2');
  await writeFile(a, 'a2');
  await waitFor(() => calls.length === 1, 'the report');
  await sleep(QUIET_MS);
  assert.deepEqual(calls, [[a, b]]); // in the order given
});

test('setPaths adds and removes files', { timeout: 5000 }, async (t) => {
  const dir = await tmpDir(t);
  await mkdir(path.join(dir, 'filters'));
  const a = path.join(dir, 'gateway.yaml');
  const b = path.join(dir, 'filters', 'auth.wasm');
  await writeFile(a, 'a1');
  await writeFile(b, 'b1');
  const { w, calls } = watch(t, [a]);

  w.setPaths([a, b]);
  assert.deepEqual(w.paths, [a, b]);
  await writeFile(b, 'b2');
  await waitFor(() => calls.length === 1, 'the added file report');
  assert.deepEqual(calls, [[b]]);

  w.setPaths([b]);
  await writeFile(a, 'a2');
  await sleep(QUIET_MS);
  assert.equal(calls.length, 1);
  await writeFile(b, 'b3');
  await waitFor(() => calls.length === 2, 'the kept file report');
  assert.deepEqual(calls, [[b], [b]]);
});

test('checkNow reports changes before any event is handled, and consumes them', { timeout: 5000 }, async (t) => {
  const dir = await tmpDir(t);
  const f = path.join(dir, 'gateway.yaml');
  await writeFile(f, 'v1');
  const { w, calls } = watch(t, [f], { debounceMs: 200 });

  assert.deepEqual(await w.checkNow(), []);
  await writeFile(f, 'v2');
  assert.deepEqual(await w.checkNow(), [f]);
  await sleep(QUIET_MS + 200);
  assert.deepEqual(calls, []); // already returned by checkNow
  assert.deepEqual(await w.checkNow(), []);
});

test('close() stops everything', { timeout: 5000 }, async (t) => {
  const dir = await tmpDir(t);
  const f = path.join(dir, 'gateway.yaml');
  await writeFile(f, 'v1');
  const { w, calls } = watch(t, [f]);

  await writeFile(f, 'v2');
  await sleep(10); // the event is in, the check is pending
  w.close();
  await writeFile(f, 'v3');
  await sleep(QUIET_MS);
  assert.deepEqual(calls, []);
  assert.deepEqual(await w.checkNow(), []);
  w.setPaths([f]); // no effect once closed
  await writeFile(f, 'v4');
  await sleep(QUIET_MS);
  assert.deepEqual(calls, []);
});

test('a watcher never keeps the process alive, closed or not', { timeout: 20_000 }, async (t) => {
  const dir = await tmpDir(t);
  const f = path.join(dir, 'gateway.yaml');
  await writeFile(f, 'v1');
  const url = new URL('../src/reload/watcher.ts', import.meta.url).href;
  const script = (close: boolean): string => `
    import { writeFileSync } from 'node:fs';
    import { FileWatcher } from ${JSON.stringify(url)};
    const f = ${JSON.stringify(f)};
    const w = new FileWatcher([f], { debounceMs: 20, settleMs: 20, onChange: (p) => {
      console.log('changed', p.length);
      ${close ? 'w.close();' : ''}
    } });
    // Keep the process alive 300 ms (long enough for the report), then change the file again and let it go:
    // the pending check must not hold the process.
    const keep = setInterval(() => {}, 1000);
    writeFileSync(f, String(Date.now()));
    setTimeout(() => { clearInterval(keep); writeFileSync(f, 'again ' + Date.now()); }, 300);
  `;
  // Both at once; each killed at a deadline, so a watcher that holds its process fails the test instead of
  // hanging the run. Without anything holding it, a child exits right after its own interval is cleared (300 ms).
  await Promise.all(
    [true, false].map(async (close) => {
      const start = Date.now();
      const child = spawn(process.execPath, ['--input-type=module', '-e', script(close)], {
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 12_000, // generous: a loaded machine starts node slowly; a held process never exits
        killSignal: 'SIGKILL',
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d));
      child.stderr.on('data', (d: Buffer) => (err += d));
      const [code, signal] = await new Promise<[number | null, string | null]>((r) => child.on('exit', (c, sig) => r([c, sig])));
      t.diagnostic(`child (close=${close}) exited after ${Date.now() - start} ms`);
      assert.equal(signal, null, `child (close=${close}) did not exit by itself`);
      assert.equal(code, 0, err);
      assert.match(out, /changed 1/);
    }),
  );
});

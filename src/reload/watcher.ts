// File watching behind hot reload: notices when the config file or a filter .wasm file changes, however the
// change is made (written in place, renamed over, or swapped behind symlinks as Kubernetes does for a mounted
// ConfigMap), and reports each change once, only after the file has stopped changing.
//
// Folders, not inodes: an fs.watch on a file dies with the first rename over it, so the watcher never watches a
// file. It watches the real folder each watched path's entry lives in, and for symlinks (of the path itself or of
// any folder along it) also the folders along the resolved chain: for `dir/gateway.yaml -> ..data/gateway.yaml`
// with `..data -> ..2026_11_24_01_02_03.123`, it watches `dir` (where `..data` is swapped) and the timestamped
// folder (where the final file lives). The folder set is recomputed on every check, so watches follow the chain.
//
// Any event in a watched folder schedules a check (debounced). A check resolves and stats every watched path;
// a path whose stat changed is read and hashed (sha256), and one whose content differs from the last accepted
// content is a candidate. A candidate is reported only once stable: two reads `settleMs` apart giving the same
// target, inode, size, mtime and hash. A file that keeps changing keeps being re-read every `settleMs` (until it
// settles or the watcher is closed). A file that is missing (deleted, or a dangling symlink mid-swap) is never
// reported; its last content is remembered, so it is reported when it comes back with a different content.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';

export interface WatcherOptions {
  /** Quiet time after the last folder event before a check runs. Default 100 ms. */
  debounceMs?: number;
  /** Interval between the two reads that must agree before a changed file is reported. Default 100 ms. */
  settleMs?: number;
  /**
   * Called once per settled batch with the changed paths, as given to the watcher and in that order (several
   * files changed together: one call). Only paths whose content actually changed are reported.
   */
  onChange(paths: string[]): void;
  /** Problems that do not stop watching (a folder that cannot be watched, an unreadable file, a throwing onChange). */
  onError?(err: Error): void;
}

/** One read of a watched file. */
interface Sample {
  /** The resolved path (`fs.realpath`) the content was read from. */
  readonly target: string;
  /** Target, device, inode, size, mtime and ctime: equal keys mean the file was not touched. */
  readonly key: string;
  /** sha256 of the content. */
  readonly hash: string;
  /**
   * The file was modified shortly before it was read: a later write could leave the same stat key (coarse
   * timestamps), so the next check must read it again instead of trusting the key.
   */
  readonly racy: boolean;
}

interface Entry {
  /** The watched path made absolute (once, when added). */
  readonly abs: string;
  /** Hash of the last accepted content; undefined when the file has never been seen. */
  hash: string | undefined;
  /** Stat key of the last read, if the file was present and unchanged since; lets a check skip the read. */
  key: string | undefined;
  racy: boolean;
}

interface DirWatch {
  readonly watcher: fs.FSWatcher;
  /** Identity of the folder when the watch was made: a folder deleted and recreated needs a new watch. */
  readonly dev: number;
  readonly ino: number;
  dead: boolean;
}

const DEFAULT_DEBOUNCE_MS = 100;
const DEFAULT_SETTLE_MS = 100;
/** A file modified less than this before it was read is read again on the next check (see Sample.racy). */
const RACY_MS = 2000;
/** Symlink hops followed per path before giving up (the kernel's own limit is 40). */
const MAX_HOPS = 40;

/**
 * Watches a set of files and calls `onChange` when their content changes. Baselines are read (synchronously) at
 * construction and when `setPaths` adds a path, so the first report is a real change: create the watcher before
 * reading the files it guards, so that a change made while they are loaded is reported rather than missed.
 * Watches and timers never keep the process alive.
 */
export class FileWatcher {
  private readonly debounceMs: number;
  private readonly settleMs: number;
  private readonly onChange: (paths: string[]) => void;
  private readonly onError: (err: Error) => void;

  /** Watched paths in the order given, each with its state. */
  private entries = new Map<string, Entry>();
  private readonly dirs = new Map<string, DirWatch>();

  private closed = false;
  /** A folder event arrived since the current (or last) check scanned. */
  private dirty = false;
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  private firstEventAt = 0;
  /** Checks run one at a time, in order. */
  private queue: Promise<unknown> = Promise.resolve();
  /** Wakers of pending settle waits, so close() ends them at once. */
  private readonly sleepers = new Set<() => void>();

  constructor(paths: string[], opts: WatcherOptions) {
    this.debounceMs = Math.max(0, opts.debounceMs ?? DEFAULT_DEBOUNCE_MS);
    this.settleMs = Math.max(1, opts.settleMs ?? DEFAULT_SETTLE_MS);
    this.onChange = opts.onChange;
    this.onError = opts.onError ?? (() => {});
    this.setPaths(paths);
  }

  /** The watched paths, as given. */
  get paths(): string[] {
    return [...this.entries.keys()];
  }

  /**
   * Replaces the watched set. Paths kept keep their state (a pending change is still reported); new paths get a
   * baseline read now; folders no longer needed stop being watched.
   */
  setPaths(paths: string[]): void {
    if (this.closed) return;
    const next = new Map<string, Entry>();
    for (const p of paths) {
      if (next.has(p)) continue;
      next.set(p, this.entries.get(p) ?? baseline(path.resolve(p)));
    }
    this.entries = next;
    this.refreshWatches();
  }

  /**
   * Checks every watched file now (reading each one, whatever its stat says), waiting for changed ones to settle,
   * and resolves with the changed paths. Changes returned here are consumed: they are not passed to onChange.
   * Meant for explicit triggers (SIGHUP). Resolves with [] once the watcher is closed.
   */
  checkNow(): Promise<string[]> {
    return this.enqueue(true);
  }

  /** Stops watching: closes every folder watch, cancels timers and any check in progress. No callback follows. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (const d of this.dirs.values()) d.watcher.close();
    this.dirs.clear();
    for (const wake of this.sleepers) wake();
    this.sleepers.clear();
  }

  // --- scheduling ---

  private onEvent(): void {
    if (this.closed) return;
    this.dirty = true;
    this.arm();
  }

  /** Debounces checks: runs one `debounceMs` after the last event, or at most 10 × debounceMs after the first. */
  private arm(): void {
    const now = Date.now();
    if (this.timer) {
      const maxWait = this.debounceMs * 10;
      if (now - this.firstEventAt >= maxWait) return;
      clearTimeout(this.timer);
      this.timer = this.startTimer(Math.min(this.debounceMs, this.firstEventAt + maxWait - now));
    } else {
      this.firstEventAt = now;
      this.timer = this.startTimer(this.debounceMs);
    }
  }

  private startTimer(ms: number): NodeJS.Timeout {
    const t = setTimeout(() => {
      this.timer = undefined;
      // A running check picks the events up itself, or re-arms when it ends.
      if (this.running || this.closed) return;
      this.enqueue(false).then(
        (changed) => {
          if (changed.length > 0 && !this.closed) this.report(changed);
        },
        (err: unknown) => this.onError(toError(err)),
      );
    }, ms);
    t.unref();
    return t;
  }

  private report(changed: string[]): void {
    try {
      this.onChange(changed);
    } catch (err) {
      this.onError(toError(err));
    }
  }

  private enqueue(force: boolean): Promise<string[]> {
    const run = this.queue.then(() => this.runCheck(force));
    this.queue = run.catch(() => {});
    return run;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(t);
        this.sleepers.delete(wake);
        resolve();
      };
      const t = setTimeout(wake, ms);
      t.unref();
      this.sleepers.add(wake);
    });
  }

  // --- checking ---

  private async runCheck(force: boolean): Promise<string[]> {
    if (this.closed) return [];
    this.running = true;
    this.dirty = false;
    try {
      this.refreshWatches();
      const pending = new Map<string, { entry: Entry; sample: Sample }>();
      const changed = new Map<string, Entry>();
      await this.scan([...this.entries.keys()], pending, force);
      while (pending.size > 0) {
        await this.sleep(this.settleMs);
        if (this.closed) return [];
        if (this.dirty) {
          // More events while settling: other files may have changed too; they join this batch.
          this.dirty = false;
          this.refreshWatches();
          await this.scan([...this.entries.keys()].filter((p) => !pending.has(p)), pending, false);
        }
        await Promise.all(
          [...pending].map(async ([p, { entry, sample: prev }]) => {
            const cur = await this.read(p, entry, undefined);
            if (cur === 'gone') {
              // Deleted (or dangling) mid-change: reported when it comes back, through a new event.
              pending.delete(p);
            } else if (cur !== 'same' && cur.key === prev.key && cur.hash === prev.hash) {
              pending.delete(p);
              entry.key = cur.key;
              entry.racy = cur.racy;
              if (cur.hash !== entry.hash) {
                entry.hash = cur.hash;
                changed.set(p, entry);
              }
            } else if (cur !== 'same') {
              pending.set(p, { entry, sample: cur });
            }
          }),
        );
        if (this.closed) return [];
      }
      if (this.closed) return [];
      // Paths removed by setPaths meanwhile are not reported.
      return [...this.entries].filter(([p, e]) => changed.get(p) === e).map(([p]) => p);
    } finally {
      this.running = false;
      if (this.dirty && !this.closed) this.arm();
    }
  }

  /** Reads the given paths; those whose content differs from the accepted one become pending. */
  private async scan(paths: string[], pending: Map<string, { entry: Entry; sample: Sample }>, force: boolean): Promise<void> {
    await Promise.all(
      paths.map(async (p) => {
        const entry = this.entries.get(p);
        if (!entry) return;
        const cur = await this.read(p, entry, force ? undefined : entry);
        if (cur === 'gone' || cur === 'same') return;
        if (cur.hash === entry.hash) {
          // Touched or rewritten with the same content: nothing to report.
          entry.key = cur.key;
          entry.racy = cur.racy;
        } else {
          pending.set(p, { entry, sample: cur });
        }
      }),
    );
  }

  /**
   * Reads one watched file. 'same' when `skipIf` is given and the stat key shows the file untouched since;
   * 'gone' when it is missing or unreadable (its stat key is forgotten so it is read again next time).
   */
  private async read(p: string, entry: Entry, skipIf: Entry | undefined): Promise<Sample | 'same' | 'gone'> {
    try {
      const target = await fsp.realpath(entry.abs);
      if (skipIf && skipIf.key !== undefined && !skipIf.racy) {
        const st = await fsp.stat(target, { bigint: true });
        if (statKey(target, st) === skipIf.key) return 'same';
      }
      const fh = await fsp.open(target, 'r');
      try {
        const st = await fh.stat({ bigint: true });
        if (!st.isFile()) throw Object.assign(new Error(`${p}: not a regular file`), { code: 'EISDIR' });
        const content = await fh.readFile();
        return { target, key: statKey(target, st), hash: sha256(content), racy: isRacy(st) };
      } finally {
        await fh.close();
      }
    } catch (err) {
      entry.key = undefined;
      if (!isMissing(err)) this.onError(new Error(`watching ${p}: ${toError(err).message}`, { cause: err }));
      return 'gone';
    }
  }

  // --- folder watches ---

  /** Watches exactly the folders the current paths need; replaces watches of folders deleted and recreated. */
  private refreshWatches(): void {
    if (this.closed) return;
    const want = new Set<string>();
    for (const e of this.entries.values()) collectDirs(e.abs, want, 0);
    for (const [dir, d] of this.dirs) {
      if (!want.has(dir)) {
        d.watcher.close();
        this.dirs.delete(dir);
      }
    }
    for (const dir of want) {
      const existing = this.dirs.get(dir);
      let st: fs.Stats;
      try {
        // Stat before watching: if the folder is replaced in between, the identities differ next time.
        st = fs.statSync(dir);
      } catch {
        if (existing) existing.watcher.close();
        this.dirs.delete(dir);
        continue;
      }
      if (existing && !existing.dead && existing.dev === st.dev && existing.ino === st.ino) continue;
      if (existing) existing.watcher.close();
      this.dirs.delete(dir);
      try {
        const watcher = fs.watch(dir, { persistent: false }, () => this.onEvent());
        const d: DirWatch = { watcher, dev: st.dev, ino: st.ino, dead: false };
        watcher.on('error', () => {
          // The folder went away (or the watch broke): the next check watches it again if it exists.
          d.dead = true;
          this.onEvent();
        });
        this.dirs.set(dir, d);
      } catch (err) {
        if (!isMissing(err)) this.onError(new Error(`cannot watch ${dir}: ${toError(err).message}`, { cause: err }));
      }
    }
  }
}

/**
 * Adds to `want` the folders whose events can change what `abs` resolves to or contains: the real folder its entry
 * lives in (or, when that folder is missing, the nearest existing ancestor, to see it come back), the same for
 * every symlinked folder along the path (their swaps happen in their own parents), and, when `abs` is a symlink,
 * the same for its target.
 */
function collectDirs(abs: string, want: Set<string>, hops: number): void {
  if (hops > MAX_HOPS) return;
  const parent = path.dirname(abs);
  if (parent === abs) return;
  const realParent = tryRealpath(parent);
  if (realParent !== undefined) want.add(realParent);
  else {
    const ancestor = nearestExisting(parent);
    if (ancestor !== undefined) want.add(ancestor);
  }
  // Symlinked folders along the path (lstat follows every component but the last).
  for (let q = parent, up = path.dirname(q); q !== up; q = up, up = path.dirname(q)) {
    if (isSymlink(q)) collectDirs(q, want, hops + 1);
  }
  if (isSymlink(abs)) {
    let link: string;
    try {
      link = fs.readlinkSync(abs);
    } catch {
      return;
    }
    collectDirs(path.resolve(realParent ?? parent, link), want, hops + 1);
  }
}

function nearestExisting(dir: string): string | undefined {
  for (let d = dir; ; ) {
    const real = tryRealpath(d);
    if (real !== undefined) return real;
    const up = path.dirname(d);
    if (up === d) return undefined;
    d = up;
  }
}

function tryRealpath(p: string): string | undefined {
  try {
    return fs.realpathSync(p);
  } catch {
    return undefined;
  }
}

function isSymlink(p: string): boolean {
  try {
    return fs.lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

/** The state of a path when it starts being watched. */
function baseline(abs: string): Entry {
  try {
    const target = fs.realpathSync(abs);
    const fd = fs.openSync(target, 'r');
    try {
      const st = fs.fstatSync(fd, { bigint: true });
      if (!st.isFile()) return { abs, hash: undefined, key: undefined, racy: false };
      const content = fs.readFileSync(fd);
      return { abs, hash: sha256(content), key: statKey(target, st), racy: isRacy(st) };
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return { abs, hash: undefined, key: undefined, racy: false };
  }
}

function statKey(target: string, st: fs.BigIntStats): string {
  return `${target}\0${st.dev}\0${st.ino}\0${st.size}\0${st.mtimeNs}\0${st.ctimeNs}`;
}

function isRacy(st: fs.BigIntStats): boolean {
  const changedAt = Number((st.mtimeNs > st.ctimeNs ? st.mtimeNs : st.ctimeNs) / 1_000_000n);
  return Date.now() - changedAt < RACY_MS;
}

function sha256(content: Buffer): string {
  return createHash('sha256').update(content).digest('hex');
}

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP';
}

function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

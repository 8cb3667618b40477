// The one reload path (file watcher, SIGHUP and POST /reload all call it): load and validate
// gateway.yaml, compile and check the filter modules that changed, have every worker build and start the
// new version next to the serving one, and swap only when all of that succeeded. Anything that fails
// changes nothing but one log line, the failure counters and the status shown by GET /filters.
import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import type { ResolvedConfig } from '../config/types.ts';
import { loadConfigFile } from '../config/load.ts';
import type { Logger } from '../observability/logger.ts';
import { checkFilterModule, type FilterModule } from '../wasm/module.ts';
import type { Supervisor } from '../worker/supervisor.ts';

export type ReloadTrigger = 'watch' | 'sighup' | 'admin' | 'test';

export interface FilterStatus {
  name: string;
  file: string;
  sha256: string;
  abi: string;
  /** When the serving version of this filter was loaded (ISO time). */
  loaded_at: string;
  /** Configuration version that loaded it. */
  version: number;
  /** Times a reload replaced this filter's module or configuration. */
  reloads: number;
  /** Reloads refused because of this filter. */
  reload_failures: number;
  last_error: string;
  last_error_at: string;
}

export interface ReloadResult {
  readonly ok: boolean;
  readonly version: number;
  /** Why it was refused (empty when ok). */
  readonly error: string;
  /** Filters whose module or configuration changed. */
  readonly changed: readonly string[];
  readonly durationMs: number;
}

export class Reloader {
  private readonly file: string;
  private readonly supervisor: Supervisor;
  private readonly log: Logger;
  private modules: Map<string, FilterModule>;
  private readonly status = new Map<string, FilterStatus>();
  reloads = 0;
  failures = 0;
  lastError = '';
  private running: Promise<ReloadResult> | undefined;
  private again = false;

  constructor(file: string, supervisor: Supervisor, log: Logger, modules: Map<string, FilterModule>) {
    this.file = file;
    this.supervisor = supervisor;
    this.log = log.child({ component: 'reload' });
    this.modules = modules;
    const now = new Date().toISOString();
    for (const f of supervisor.config.filters) {
      const m = modules.get(f.name);
      this.status.set(f.name, {
        name: f.name,
        file: f.wasm,
        sha256: m?.sha256 ?? '',
        abi: m?.abi ?? '',
        loaded_at: now,
        version: 1,
        reloads: 0,
        reload_failures: 0,
        last_error: m === undefined ? 'the module could not be loaded (running without it: fail_open.load)' : '',
        last_error_at: m === undefined ? now : '',
      });
    }
  }

  /**
   * The files a change of which triggers a reload: gateway.yaml and every filter module, of the serving
   * config and of the last one read (a config refused for a filter file that is missing or broken
   * reloads once that file is fixed).
   */
  watchedFiles(): string[] {
    const files = [...this.supervisor.config.filters, ...(this.lastRead?.filters ?? [])].map((f) => f.wasm);
    return [this.file, ...new Set(files)];
  }

  /** The config last read from the file (served or refused after parsing). */
  private lastRead: ResolvedConfig | undefined = undefined;

  filters(): FilterStatus[] {
    return [...this.status.values()];
  }

  /** Reloads now; a reload asked for while one runs runs once more right after it. */
  reload(trigger: ReloadTrigger): Promise<ReloadResult> {
    if (this.running !== undefined) {
      this.again = true;
      return this.running;
    }
    const run = async (): Promise<ReloadResult> => {
      let r: ReloadResult;
      do {
        this.again = false;
        r = await this.once(trigger);
      } while (this.again);
      return r;
    };
    this.running = run().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async once(trigger: ReloadTrigger): Promise<ReloadResult> {
    const t0 = performance.now();
    const old = this.supervisor.config;
    const fail = (error: string, filter?: string): ReloadResult => {
      this.failures++;
      this.lastError = error;
      if (filter !== undefined) {
        const s = this.status.get(filter);
        if (s !== undefined) {
          s.reload_failures++;
          s.last_error = error;
          s.last_error_at = new Date().toISOString();
        }
      }
      const durationMs = Math.round(performance.now() - t0);
      this.log.error({ trigger, filter, durationMs, error }, 'reload refused; the serving version stays');
      return { ok: false, version: this.supervisor.version, error, changed: [], durationMs };
    };

    let loaded: ResolvedConfig;
    try {
      loaded = await loadConfigFile(this.file);
    } catch (err) {
      return fail((err as Error).message);
    }
    this.lastRead = loaded;
    const config = this.keepRestartOnly(old, loaded);

    // compile what changed; an unchanged module (same file, same bytes, same limit) is reused as is
    const modules = new Map<string, FilterModule>();
    const changed: string[] = [];
    for (const f of config.filters) {
      let bytes: Buffer;
      try {
        bytes = await readFile(f.wasm);
      } catch (err) {
        return fail(`filter "${f.name}": cannot read ${f.wasm} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, f.name);
      }
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      const prev = this.modules.get(f.name);
      const prevFilter = old.filters.find((x) => x.name === f.name);
      const limit = f.limits.memory_mb * 1048576;
      if (prev !== undefined && prev.sha256 === sha256 && prev.file === f.wasm && JSON.stringify(prevFilter?.limits) === JSON.stringify(f.limits)) {
        modules.set(f.name, prev);
      } else {
        try {
          modules.set(f.name, await checkFilterModule(f.wasm, bytes, { memoryLimitBytes: limit, cpu: f.limits.cpu }));
        } catch (err) {
          return fail(`filter "${f.name}": ${(err as Error).message}`, f.name);
        }
      }
      if (prev === undefined || modules.get(f.name) !== prev || JSON.stringify(prevFilter) !== JSON.stringify(f)) changed.push(f.name);
    }

    const applied = await this.supervisor.apply(config, modules);
    if (!applied.ok) {
      const m = /^filter "([^"]+)"/.exec(applied.message);
      return fail(applied.message, m?.[1]);
    }
    const version = this.supervisor.version;
    const now = new Date().toISOString();
    const oldSha: Record<string, string> = {};
    for (const name of changed) {
      const m = modules.get(name)!;
      const prev = this.status.get(name);
      if (prev !== undefined) oldSha[name] = prev.sha256;
      const f = config.filters.find((x) => x.name === name)!;
      this.status.set(name, {
        name,
        file: f.wasm,
        sha256: m.sha256,
        abi: m.abi,
        loaded_at: now,
        version,
        reloads: (prev?.reloads ?? -1) + 1,
        reload_failures: prev?.reload_failures ?? 0,
        last_error: prev?.last_error ?? '',
        last_error_at: prev?.last_error_at ?? '',
      });
    }
    for (const name of [...this.status.keys()]) if (!modules.has(name)) this.status.delete(name);
    this.modules = modules;
    this.reloads++;
    const durationMs = Math.round(performance.now() - t0);
    this.log.info(
      {
        trigger,
        version,
        durationMs,
        filters: changed.map((n) => ({ name: n, from: oldSha[n] ?? null, to: modules.get(n)!.sha256 })),
      },
      changed.length === 0 ? 'reload applied (routes and upstreams)' : `reload applied: ${changed.join(', ')}`,
    );
    return { ok: true, version, error: '', changed, durationMs };
  }

  /** Settings only a restart can change keep their running values; saying so once per reload. */
  private keepRestartOnly(old: ResolvedConfig, next: ResolvedConfig): ResolvedConfig {
    const kept: string[] = [];
    const differs = (a: unknown, b: unknown): boolean => JSON.stringify(a) !== JSON.stringify(b);
    if (differs(old.listen, next.listen)) kept.push('listen');
    if (differs(old.admin, next.admin)) kept.push('admin');
    if (old.workers !== next.workers) kept.push('workers');
    if (old.log.level !== next.log.level) kept.push('log.level');
    if (old.server.max_header_bytes !== next.server.max_header_bytes) kept.push('server.max_header_bytes');
    if (differs(old.shared_data, next.shared_data)) kept.push('shared_data');
    if (kept.length === 0) return next;
    this.log.warn({ settings: kept }, `changed settings need a restart to take effect (${kept.join(', ')}); the rest of the change applies now`);
    return {
      ...next,
      listen: old.listen,
      admin: old.admin,
      workers: old.workers,
      log: old.log,
      server: { ...next.server, max_header_bytes: old.server.max_header_bytes },
      shared_data: old.shared_data,
    };
  }
}

// Messages between the main thread and the workers: discriminated unions, checked exhaustively.
import type { ResolvedConfig } from '../config/types.ts';
import type { StatsSnapshot } from '../observability/stats.ts';
import type { FilterModule } from '../wasm/module.ts';

export interface WorkerInit {
  readonly workerId: number;
  readonly config: ResolvedConfig;
  /** Port to listen on: the configured one, or the one the first worker got when the configured port is 0. */
  readonly port: number;
  /** Configuration version the worker starts with. */
  readonly version: number;
  /** Cells the worker updates around every call into a filter (see VmServices.watchdog). */
  readonly watchdog: SharedArrayBuffer;
  /** Each filter's module, compiled once on the main thread (WebAssembly.Module crosses threads). */
  readonly modules: ReadonlyArray<readonly [string, FilterModule]>;
  /** The process-wide shared data store and metric cells (SharedArrayBuffers, the same in every worker). */
  readonly shared: { readonly store: SharedArrayBuffer; readonly metrics: SharedArrayBuffer };
}

export type ToWorker =
  | { readonly type: 'stats'; readonly id: number }
  | { readonly type: 'prepare'; readonly version: number; readonly config: ResolvedConfig; readonly modules: ReadonlyArray<readonly [string, FilterModule]> }
  | { readonly type: 'commit'; readonly version: number }
  | { readonly type: 'abort'; readonly version: number }
  | { readonly type: 'drain'; readonly timeoutMs: number };

export type FromWorker =
  | { readonly type: 'listening'; readonly port: number }
  | { readonly type: 'listen_failed'; readonly message: string; readonly code: string | undefined }
  | { readonly type: 'start_failed'; readonly message: string }
  | { readonly type: 'stats'; readonly id: number; readonly stats: StatsSnapshot }
  | { readonly type: 'prepared'; readonly version: number; readonly ok: boolean; readonly message: string }
  | { readonly type: 'committed'; readonly version: number }
  | { readonly type: 'drained'; readonly forced: number };

// Summaries (medians, paired ratios) and the printed table.
import type { CellRun } from './types.ts';

export function median(xs: number[]): number {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  const m = v.length >> 1;
  return v.length % 2 === 1 ? v[m]! : (v[m - 1]! + v[m]!) / 2;
}

export interface SetupStatus {
  name: string;
  description: string;
  status: 'ran' | 'skipped';
  reason?: string;
  info?: Record<string, unknown>;
}

export interface SummaryRow {
  setup: string;
  payload: string;
  rounds: number;
  measured: number;
  reqPerSec: number;
  /** (max - min) / median of req/s over the rounds. */
  spread: number;
  p50Ms: number;
  p99Ms: number;
  /** Median over rounds of req/s(setup) / req/s(baseline) in the same round and payload. */
  ratio: number;
  /**
   * Median over rounds of µs/req(baseline) / µs/req(setup): CPU efficiency against the baseline,
   * > 1 = cheaper per request. Unaffected by a saturated load core or by other processes.
   */
  cpuRatio: number;
  proxyCpuUsPerReq: number;
  loadCoreUtil: number;
  /** Max over rounds of CPU used by unrelated processes, in cores. */
  otherCpuUtil: number;
  /** errors + timeouts + non-2xx, summed over rounds. */
  errors: number;
  flagged: boolean;
  problems: string[];
}

export function summarize(runs: CellRun[], setups: string[], payloads: string[], baseline: string): SummaryRow[] {
  const rows: SummaryRow[] = [];
  const key = (r: CellRun): string => `${r.setup}\u0000${r.payload}\u0000${r.round}`;
  const byKey = new Map(runs.map((r) => [key(r), r]));
  for (const setup of setups) {
    for (const payload of payloads) {
      const cells = runs.filter((r) => r.setup === setup && r.payload === payload);
      if (cells.length === 0) continue;
      const measured = cells.filter((c) => c.load !== undefined);
      const rps = measured.map((c) => c.load!.reqPerSec);
      const med = median(rps);
      const ratios: number[] = [];
      const cpuRatios: number[] = [];
      for (const c of measured) {
        const b = byKey.get(key({ ...c, setup: baseline }));
        if (b?.load !== undefined && b.load.reqPerSec > 0) ratios.push(c.load!.reqPerSec / b.load.reqPerSec);
        if (b?.proxyCpuUsPerReq !== undefined && c.proxyCpuUsPerReq !== undefined && c.proxyCpuUsPerReq > 0) {
          cpuRatios.push(b.proxyCpuUsPerReq / c.proxyCpuUsPerReq);
        }
      }
      rows.push({
        setup,
        payload,
        rounds: cells.length,
        measured: measured.length,
        reqPerSec: med,
        spread: rps.length > 1 ? (Math.max(...rps) - Math.min(...rps)) / med : Number.NaN,
        p50Ms: median(measured.map((c) => c.load!.latencyMs.p50)),
        p99Ms: median(measured.map((c) => c.load!.latencyMs.p99)),
        ratio: median(ratios),
        cpuRatio: median(cpuRatios),
        proxyCpuUsPerReq: median(measured.map((c) => c.proxyCpuUsPerReq ?? Number.NaN)),
        loadCoreUtil: median(measured.map((c) => c.loadCoreUtil ?? Number.NaN)),
        otherCpuUtil: Math.max(...measured.map((c) => c.otherCpuUtil ?? 0)),
        errors: measured.reduce((n, c) => n + c.load!.errors + c.load!.timeouts + c.load!.non2xx, 0),
        flagged: cells.some((c) => !c.ok),
        problems: [...new Set(cells.filter((c) => c.problem !== undefined).map((c) => `r${c.round}: ${c.problem}`))],
      });
    }
  }
  return rows;
}

/** Unrelated CPU use (in cores) above which a cell is marked NOISY. */
export const NOISY = 0.1;

const fmt = (x: number, digits: number): string => (Number.isFinite(x) ? x.toFixed(digits) : '-');
const fmtInt = (x: number): string => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '-');

export function renderTable(rows: SummaryRow[], statuses: SetupStatus[], baseline: string): string {
  const header = ['setup', 'payload', 'req/s', '±', 'p50 ms', 'p99 ms', 'ratio', 'proxy µs/req', 'cpu ratio', 'load core', 'other CPU', 'errors', 'rounds'];
  const body: string[][] = [];
  for (const st of statuses) {
    if (st.status === 'skipped') {
      body.push([st.name, '(skipped)', st.reason ?? '', ...header.slice(3).map(() => '')]);
      continue;
    }
    for (const r of rows.filter((x) => x.setup === st.name)) {
      body.push([
        r.setup,
        r.payload,
        fmtInt(r.reqPerSec),
        Number.isFinite(r.spread) ? `${Math.round((r.spread * 100) / 2)}%` : '-',
        fmt(r.p50Ms, 1),
        fmt(r.p99Ms, 1),
        r.setup === baseline ? '1.00' : fmt(r.ratio, 2),
        fmt(r.proxyCpuUsPerReq, 0),
        r.setup === baseline ? '1.00' : fmt(r.cpuRatio, 2),
        Number.isFinite(r.loadCoreUtil) ? `${Math.round(r.loadCoreUtil * 100)}%` : '-',
        Number.isFinite(r.otherCpuUtil) ? `${Math.round(r.otherCpuUtil * 100)}%${r.otherCpuUtil > NOISY ? ' NOISY' : ''}` : '-',
        r.flagged ? `${r.errors} FLAGGED` : String(r.errors),
        `${r.measured}/${r.rounds}`,
      ]);
    }
  }
  // a skip reason may be long: let it overflow its column instead of widening the whole table
  const widths = header.map((h, i) => Math.max(h.length, ...body.filter((b) => b[1] !== '(skipped)' || i !== 2).map((b) => b[i]!.length)));
  const line = (cells: string[]): string =>
    cells[1] === '(skipped)'
      ? `| ${cells[0]!.padEnd(widths[0]!)} | ${cells[1]!.padEnd(widths[1]!)} | ${cells[2]}`
      : `| ${cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  const sep = `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`;
  return [line(header), sep, ...body.map(line)].join('\n');
}

export function renderProblems(rows: SummaryRow[]): string {
  const out: string[] = [];
  for (const r of rows) for (const p of r.problems) out.push(`  ${r.setup} ${r.payload} ${p}`);
  return out.length === 0 ? '' : `Flagged cells (their failed requests are not counted as throughput):\n${out.join('\n')}`;
}

/**
 * What filters cost: each filter setup against `wasmgate` (no filters) in the same round and payload —
 * the req/s it keeps, and the gateway CPU per request it adds (in total and per filter).
 */
export function renderFilterCost(runs: CellRun[], filterSetups: Readonly<Record<string, number>>, reference: string, payloads: string[]): string {
  const header = ['setup', 'filters', 'payload', 'req/s vs no filters', 'cost', '+µs/req', '+µs/req per filter', 'rounds'];
  const body: string[][] = [];
  for (const [setup, n] of Object.entries(filterSetups)) {
    for (const payload of payloads) {
      const ratios: number[] = [];
      const deltas: number[] = [];
      for (const c of runs.filter((r) => r.setup === setup && r.payload === payload && r.load !== undefined)) {
        const ref = runs.find((r) => r.setup === reference && r.payload === payload && r.round === c.round && r.load !== undefined);
        if (ref === undefined) continue;
        if (ref.load!.reqPerSec > 0) ratios.push(c.load!.reqPerSec / ref.load!.reqPerSec);
        if (c.proxyCpuUsPerReq !== undefined && ref.proxyCpuUsPerReq !== undefined) deltas.push(c.proxyCpuUsPerReq - ref.proxyCpuUsPerReq);
      }
      if (ratios.length === 0) continue;
      const ratio = median(ratios);
      const delta = median(deltas);
      body.push([setup, String(n), payload, fmt(ratio, 2), `${fmt((1 - ratio) * 100, 0)}%`, fmt(delta, 1), fmt(delta / n, 1), String(ratios.length)]);
    }
  }
  if (body.length === 0) return '';
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => (i < 1 || i === 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  const sep = `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`;
  return [`Filter cost against ${reference} (no filters), paired by round:`, line(header), sep, ...body.map(line)].join('\n');
}

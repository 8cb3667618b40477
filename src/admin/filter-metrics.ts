// Metrics the filters define (proxy_define_metric) in Prometheus text. A metric name is split on dots;
// a segment `key=value` becomes a label, the others make the name — so a filter that names its counter
// `route_responses_total.route=checkout.class=2xx` is exported as
//   wasmcustom_route_responses_total{filter="route-metrics",route="checkout",class="2xx"}
// (Envoy prefixes custom stats with `wasmcustom.` and extracts tags from names in the same spirit).
// Every sample carries the defining filter's name as the `filter` label.
import { HISTOGRAM_BOUNDS, MetricKind, type MetricSample } from '../wasm/shared/metrics.ts';

const TYPES = ['counter', 'gauge', 'histogram'] as const;

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

const sanitize = (s: string): string => s.replace(/[^a-zA-Z0-9_:]/g, '_');
const sanitizeLabel = (s: string): string => {
  const k = s.replace(/[^a-zA-Z0-9_]/g, '_');
  return /^[a-zA-Z_]/.test(k) ? k : `_${k}`;
};

/** A filter metric's Prometheus name and labels. */
export function metricName(filter: string, name: string): { name: string; labels: Array<[string, string]> } {
  const parts: string[] = [];
  const labels: Array<[string, string]> = [['filter', filter]];
  for (const seg of name.split('.')) {
    const eq = seg.indexOf('=');
    if (eq > 0) {
      let key = sanitizeLabel(seg.slice(0, eq));
      if (key === 'filter' || key === 'le' || key.startsWith('__')) key = `tag_${key}`;
      labels.push([key, seg.slice(eq + 1)]);
    } else if (seg !== '') {
      parts.push(seg);
    }
  }
  const base = sanitize(parts.join('_'));
  return { name: `wasmcustom_${base === '' ? 'unnamed' : base}`, labels };
}

const labelText = (labels: ReadonlyArray<readonly [string, string]>): string =>
  labels.length === 0 ? '' : `{${labels.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}`;

export function filterMetricsToPrometheus(samples: readonly MetricSample[]): string {
  // one family per name and type; a name used with two types gets the type as a suffix on the second
  const families = new Map<string, { kind: MetricKind; lines: string[] }>();
  for (const s of samples) {
    let { name, labels } = metricName(s.filter, s.name);
    const existing = families.get(name);
    if (existing !== undefined && existing.kind !== s.kind) name = `${name}_${TYPES[s.kind]}`;
    const fam = families.get(name) ?? { kind: s.kind, lines: [] };
    families.set(name, fam);
    if (s.kind === MetricKind.Histogram) {
      let cumulative = 0n;
      HISTOGRAM_BOUNDS.forEach((bound, i) => {
        cumulative += s.buckets![i]!;
        fam.lines.push(`${name}_bucket${labelText([...labels, ['le', String(bound)]])} ${cumulative}`);
      });
      fam.lines.push(`${name}_bucket${labelText([...labels, ['le', '+Inf']])} ${s.count}`);
      fam.lines.push(`${name}_sum${labelText(labels)} ${s.sum}`);
      fam.lines.push(`${name}_count${labelText(labels)} ${s.count}`);
    } else {
      fam.lines.push(`${name}${labelText(labels)} ${s.value}`);
    }
  }
  const out: string[] = [];
  for (const [name, fam] of families) {
    out.push(`# HELP ${name} Defined by a filter (proxy_define_metric).`, `# TYPE ${name} ${TYPES[fam.kind]}`, ...fam.lines);
  }
  return out.length === 0 ? '' : `${out.join('\n')}\n`;
}

// Checks the schema cannot express: references between sections, uniqueness, exclusive fields, regexes, URLs.
// Runs on schema-valid input (defaults filled), so shapes can be trusted.
import type { GatewayOptions, RouteOptions } from './options.ts';
import { allowedHint } from './suggest.ts';

/** Reports a problem at `segments` (or, with `key`, at that key of the map at `segments`). */
export type Report = (segments: readonly (string | number)[], message: string, key?: string) => void;

export function checkSemantics(config: GatewayOptions, report: Report): void {
  checkUpstreams(config, report);
  checkFilters(config, report);
  const upstreamNames = Object.keys(config.upstreams);
  const filterNames = [...new Set(config.filters.map((f) => f.name))];
  const routeNames = new Map<string, number>();
  config.routes.forEach((route, i) => {
    const name = route.name ?? `route-${i}`;
    const first = routeNames.get(name);
    if (first !== undefined) {
      report(['routes', i, ...(route.name === undefined ? [] : ['name'])], `duplicate route name "${name}" (also /routes/${first})`);
    } else {
      routeNames.set(name, i);
    }
    checkRoute(route, ['routes', i], upstreamNames, filterNames, report);
  });
}

function checkUpstreams(config: GatewayOptions, report: Report): void {
  for (const [name, upstream] of Object.entries(config.upstreams)) {
    const at = ['upstreams', name, 'url'];
    let url: URL;
    try {
      url = new URL(upstream.url);
    } catch {
      report(at, `invalid URL ${JSON.stringify(upstream.url)} (expected e.g. http://127.0.0.1:3000)`);
      continue;
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      report(at, `scheme must be http: or https: (got ${url.protocol})`);
    } else if (url.hostname === '') {
      report(at, 'must have a host');
    } else if (url.username !== '' || url.password !== '') {
      report(at, 'must not contain credentials (user:password@)');
    } else if (url.search !== '' || url.hash !== '' || upstream.url.includes('?') || upstream.url.includes('#')) {
      report(at, 'must not contain a query or fragment');
    }
  }
}

function checkFilters(config: GatewayOptions, report: Report): void {
  const seen = new Map<string, number>();
  config.filters.forEach((filter, i) => {
    const first = seen.get(filter.name);
    if (first !== undefined) report(['filters', i, 'name'], `duplicate filter name "${filter.name}" (also /filters/${first})`);
    else seen.set(filter.name, i);
  });
}

function checkRoute(
  route: RouteOptions,
  at: readonly (string | number)[],
  upstreamNames: readonly string[],
  filterNames: readonly string[],
  report: Report,
): void {
  const { match } = route;
  const kinds = (['prefix', 'path', 'regex'] as const).filter((k) => match[k] !== undefined);
  if (kinds.length !== 1) {
    report([...at, 'match'], `must have exactly one of: prefix, path, regex (${kinds.length === 0 ? 'has none' : `has ${kinds.join(' and ')}`})`);
  }
  if (match.regex !== undefined) checkRegex(match.regex, [...at, 'match', 'regex'], report);
  match.headers?.forEach((h, j) => {
    const hat = [...at, 'match', 'headers', j];
    const which = (['exact', 'prefix', 'regex', 'present'] as const).filter((k) => h[k] !== undefined);
    if (which.length !== 1) {
      report(hat, `must have exactly one of: exact, prefix, regex, present (${which.length === 0 ? 'has none' : `has ${which.join(' and ')}`})`);
    }
    if (h.regex !== undefined) checkRegex(h.regex, [...hat, 'regex'], report);
  });

  const hasUpstream = route.upstream !== undefined;
  if (hasUpstream === (route.direct_response !== undefined)) {
    report(at, `must have exactly one of: upstream, direct_response (${hasUpstream ? 'has both' : 'has neither'})`);
  }
  if (route.upstream !== undefined && !upstreamNames.includes(route.upstream)) {
    const defined = upstreamNames.length === 0 ? ' (no upstreams are defined)' : allowedHint(route.upstream, upstreamNames, 'defined');
    report([...at, 'upstream'], `unknown upstream "${route.upstream}"${defined}`);
  }
  if (!hasUpstream) {
    for (const key of ['prefix_rewrite', 'host_rewrite', 'timeout_ms'] as const) {
      if (route[key] !== undefined) report([...at, key], 'only allowed on routes with "upstream"');
    }
  }
  route.filters?.forEach((name, j) => {
    if (!filterNames.includes(name)) {
      const defined = filterNames.length === 0 ? ' (no filters are defined)' : allowedHint(name, filterNames, 'defined');
      report([...at, 'filters', j], `unknown filter "${name}"${defined}`);
    }
  });
  if (route.direct_response !== undefined) {
    const seen = new Set<string>();
    for (const name of Object.keys(route.direct_response.headers)) {
      const lower = name.toLowerCase();
      if (seen.has(lower)) report([...at, 'direct_response', 'headers'], `duplicate header "${lower}" (names are case-insensitive)`, name);
      seen.add(lower);
    }
  }
}

function checkRegex(source: string, at: readonly (string | number)[], report: Report): void {
  try {
    new RegExp(source);
  } catch (err) {
    const detail = err instanceof Error ? err.message.replace(/^Invalid regular expression: /, '') : String(err);
    report(at, `invalid regular expression: ${detail}`);
  }
}

// Ordered route table, first match wins (as Envoy's virtual host routes). Matching happens after the
// request-headers phase of the filter chain, on the headers as the filters left them.
import type { HeaderMatcher, ResolvedConfig, ResolvedRoute } from '../config/types.ts';
import type { HeaderMap } from './header-map.ts';

interface CompiledHeaderMatcher {
  readonly name: string;
  readonly test: (value: string | undefined) => boolean;
  readonly invert: boolean;
}

export interface CompiledRoute {
  readonly index: number;
  readonly route: ResolvedRoute;
  readonly name: string;
  readonly kind: 'prefix' | 'path' | 'regex';
  readonly prefix: string;
  readonly path: string;
  readonly regex: RegExp | undefined;
  readonly methods: readonly string[] | undefined;
  readonly headers: readonly CompiledHeaderMatcher[] | undefined;
  /** Filter names that run for this route (the route's own chain or the top-level one). */
  readonly filterNames: readonly string[];
}

function compileHeaderMatcher(m: HeaderMatcher): CompiledHeaderMatcher {
  let test: (value: string | undefined) => boolean;
  if (m.exact !== undefined) {
    const exact = m.exact;
    test = (v) => v === exact;
  } else if (m.prefix !== undefined) {
    const prefix = m.prefix;
    test = (v) => v !== undefined && v.startsWith(prefix);
  } else if (m.regex !== undefined) {
    const re = new RegExp(`^(?:${m.regex})$`);
    test = (v) => v !== undefined && re.test(v);
  } else {
    const present = m.present ?? true;
    test = (v) => (v !== undefined) === present;
  }
  return { name: m.name.toLowerCase(), test, invert: m.invert === true };
}

export class Router {
  readonly routes: readonly CompiledRoute[];
  /** Some route matches on headers (else only :method and :path decide). */
  readonly matchesHeaders: boolean;

  constructor(config: ResolvedConfig) {
    const topLevel = config.filters.map((f) => f.name);
    this.routes = config.routes.map((route, index) => {
      const m = route.match;
      const kind = m.path !== undefined ? 'path' : m.regex !== undefined ? 'regex' : 'prefix';
      return {
        index,
        route,
        name: route.name,
        kind,
        prefix: m.prefix ?? '',
        path: m.path ?? '',
        regex: m.regex === undefined ? undefined : new RegExp(`^(?:${m.regex})$`),
        methods: m.methods,
        headers: m.headers?.map(compileHeaderMatcher),
        filterNames: route.filters ?? topLevel,
      } satisfies CompiledRoute;
    });
    this.matchesHeaders = this.routes.some((r) => r.headers !== undefined && r.headers.length > 0);
  }

  /**
   * First route matching `:method`, `:path` and headers. Prefix matches the whole `:path` (query
   * included); exact path and regex match the path with the query string removed, as Envoy does.
   */
  match(method: string, fullPath: string, headers: HeaderMap): CompiledRoute | undefined {
    const q = fullPath.indexOf('?');
    const path = q === -1 ? fullPath : fullPath.slice(0, q);
    for (const r of this.routes) {
      if (r.kind === 'prefix') {
        if (!fullPath.startsWith(r.prefix)) continue;
      } else if (r.kind === 'path') {
        if (path !== r.path) continue;
      } else if (!r.regex!.test(path)) continue;
      if (r.methods !== undefined && !r.methods.includes(method)) continue;
      if (r.headers !== undefined && !matchHeaders(r.headers, headers)) continue;
      return r;
    }
    return undefined;
  }
}

/**
 * The path sent upstream: the route's prefix_rewrite applied to a prefix match, then the upstream url's
 * own path in front. The query string, part of `path`, is carried unchanged.
 */
export function upstreamPath(route: CompiledRoute, basePath: string, path: string): string {
  const rewrite = route.route.prefix_rewrite;
  if (rewrite !== undefined && route.kind === 'prefix') path = rewrite + path.slice(route.prefix.length);
  return basePath === '' ? path : basePath + path;
}

function matchHeaders(matchers: readonly CompiledHeaderMatcher[], headers: HeaderMap): boolean {
  for (const m of matchers) {
    if (m.test(headers.getJoined(m.name)) === m.invert) return false;
  }
  return true;
}

// auth: external authorization. Every request is held while an auth service (an upstream named in
// gateway.yaml) checks its credentials; the service's answer lets it through with the caller's
// identity in a request header, or answers the client itself. Fails closed. See README.md.
export * from "../sdk/exports";

import {
  ConfigObject, Context, FilterHeadersStatus, HeaderPair, HttpCallResponse, HttpContext, LogLevel, RootContext, WasmResult,
  continueRequest, getStatus, isHeaderName, log, registerRootContext, requestHeaders, sendLocalResponse,
} from "../sdk";

const DEFAULT_PATH = "/check";
const DEFAULT_TIMEOUT_MS: u32 = 500;
const DEFAULT_IDENTITY_HEADER = "x-user-id";
const MAX_TIMEOUT_MS: f64 = 60000;

class AuthRoot extends RootContext {
  upstream: string = "";
  path: string = DEFAULT_PATH;
  timeoutMs: u32 = DEFAULT_TIMEOUT_MS;
  forwardHeaders: string[] = ["authorization", "cookie"];
  identityHeader: string = DEFAULT_IDENTITY_HEADER;
  /** Calls the host refused at once (e.g. an upstream gateway.yaml does not declare) are logged once. */
  private callErrorLogged: bool = false;

  onConfigure(configurationSize: u32): bool {
    const error = this.read(this.getPluginConfiguration());
    if (error !== null) {
      log.error("auth: invalid configuration: " + error);
      return false;
    }
    return true;
  }

  /** Reads the configuration into this root; the error, or null when it is valid. */
  private read(text: string): string | null {
    const config = ConfigObject.parse(text, ["upstream", "path", "timeout_ms", "forward_headers", "identity_header"]);
    if (config.error !== null) return config.error;
    const obj = config.object!;

    const upstream = obj.get("upstream");
    const u = upstream !== null ? upstream.asString() : null;
    if (u === null || u.value.length == 0) return "upstream: expected the name of an upstream in gateway.yaml";

    let path = DEFAULT_PATH;
    const pathValue = obj.get("path");
    if (pathValue !== null) {
      const p = pathValue.asString();
      if (p === null || !p.value.startsWith("/") || !isPathText(p.value)) return "path: expected a path starting with /";
      path = p.value;
    }

    let timeoutMs = DEFAULT_TIMEOUT_MS;
    const timeoutValue = obj.get("timeout_ms");
    if (timeoutValue !== null) {
      const t = timeoutValue.asNumber();
      if (t === null || !t.isInteger || t.value < 1 || t.value > MAX_TIMEOUT_MS) return "timeout_ms: expected an integer from 1 to 60000";
      timeoutMs = <u32>t.value;
    }

    let forward = this.forwardHeaders;
    const forwardValue = obj.get("forward_headers");
    if (forwardValue !== null) {
      const list = forwardValue.asArray();
      if (list === null) return "forward_headers: expected a list of header names";
      forward = new Array<string>();
      for (let i = 0; i < list.items.length; i++) {
        const name = list.items[i].asString();
        if (name === null || !isHeaderName(name.value)) return "forward_headers[" + i.toString() + "]: expected a header name";
        forward.push(name.value.toLowerCase());
      }
    }

    let identity = DEFAULT_IDENTITY_HEADER;
    const identityValue = obj.get("identity_header");
    if (identityValue !== null) {
      const h = identityValue.asString();
      if (h === null || !isHeaderName(h.value)) return "identity_header: expected a header name";
      identity = h.value.toLowerCase();
    }

    this.upstream = u.value;
    this.path = path;
    this.timeoutMs = timeoutMs;
    this.forwardHeaders = forward;
    this.identityHeader = identity;
    return null;
  }

  /** Logs a refused call the first time only (it would repeat on every request). */
  callRefused(status: WasmResult): void {
    if (this.callErrorLogged) return;
    this.callErrorLogged = true;
    const why = status == WasmResult.BadArgument ? " (is it declared under upstreams: in gateway.yaml?)" : "";
    log.error("auth: cannot call upstream \"" + this.upstream + "\": status " + (<i32>status).toString() + why + "; requests get 503");
  }

  createHttpContext(id: u32): HttpContext | null {
    return new Auth(id, this);
  }
}

class Auth extends HttpContext {
  constructor(id: u32, private readonly config: AuthRoot) {
    super(id, config);
  }

  onRequestHeaders(numHeaders: u32, endOfStream: bool): FilterHeadersStatus {
    const config = this.config;
    // always, whatever the auth service says later: clients must not choose their own identity
    requestHeaders.remove(config.identityHeader);

    const headers = new Array<HeaderPair>();
    headers.push(new HeaderPair(":method", "GET"));
    headers.push(new HeaderPair(":path", config.path));
    headers.push(new HeaderPair(":authority", config.upstream));
    for (let i = 0; i < config.forwardHeaders.length; i++) {
      const name = config.forwardHeaders[i];
      const values = requestHeaders.getValues(name);
      for (let j = 0; j < values.length; j++) headers.push(new HeaderPair(name, values[j]));
    }
    addIfPresent(headers, "x-forwarded-method", requestHeaders.get(":method"));
    addIfPresent(headers, "x-forwarded-uri", requestHeaders.get(":path"));
    addIfPresent(headers, "x-forwarded-host", requestHeaders.get(":authority"));

    const status = this.httpCall(config.upstream, headers, null, [], config.timeoutMs, onAuthResponse);
    if (status != WasmResult.Ok) {
      config.callRefused(status);
      unavailable();
    }
    return FilterHeadersStatus.StopIteration;
  }

  /** The auth service answered (or failed): let the request through, or answer the client. */
  decide(response: HttpCallResponse): void {
    if (response.failed) {
      if (log.enabled(LogLevel.Debug)) log.debug("auth: no answer from \"" + this.config.upstream + "\" (" + getStatus().message + "); 503");
      unavailable();
      return;
    }
    const status = response.status;
    if (status >= 200 && status < 300) {
      const identity = this.config.identityHeader;
      const values = response.headers();
      for (let i = 0; i < values.length; i++) {
        if (values[i].name == identity) requestHeaders.add(identity, values[i].value);
      }
      continueRequest();
      return;
    }
    if (status == 401 || status == 403) {
      const headers = new Array<HeaderPair>();
      const challenge = response.header("www-authenticate");
      if (challenge !== null) headers.push(new HeaderPair("www-authenticate", challenge));
      sendLocalResponse(status, status == 401 ? "auth_unauthorized" : "auth_forbidden", status == 401 ? "unauthorized\n" : "forbidden\n", headers);
      return;
    }
    if (log.enabled(LogLevel.Debug)) log.debug("auth: \"" + this.config.upstream + "\" answered " + status.toString() + "; 503");
    unavailable();
  }
}

/** The httpCall callback (AssemblyScript has no closures: the stream comes back as `origin`). */
function onAuthResponse(origin: Context, response: HttpCallResponse): void {
  if (origin instanceof Auth) (<Auth>origin).decide(response);
}

/** Fail closed: the auth service could not say yes. */
function unavailable(): void {
  sendLocalResponse(503, "auth_unavailable", "authorization service unavailable\n");
}

function addIfPresent(headers: HeaderPair[], name: string, value: string | null): void {
  if (value !== null) headers.push(new HeaderPair(name, value));
}

/** Printable ASCII without spaces: what may go in a request target. */
function isPathText(s: string): bool {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

registerRootContext((id: u32): RootContext => new AuthRoot(id));

// add-headers: adds, sets and removes request and response headers, as its configuration says.
// See README.md for the configuration.
export * from "../sdk/exports";

import {
  EncodedHeader, FilterHeadersStatus, HeaderMap, HeaderPair, HttpContext, JsonObject, JsonParser, JsonValue, RootContext,
  isHeaderName, isHeaderValue, log, registerRootContext, requestHeaders, responseHeaders,
} from "../sdk";

/** The edits for one direction, applied in this order: remove, set, add. */
class HeaderEdits {
  remove: string[] = [];
  set: HeaderPair[] = [];
  add: HeaderPair[] = [];

  get empty(): bool {
    return this.remove.length == 0 && this.set.length == 0 && this.add.length == 0;
  }

  // the same names and values on every request: encoded once (encode()), not per call
  private removeBytes: EncodedHeader[] = [];
  private setBytes: EncodedHeader[] = [];
  private addBytes: EncodedHeader[] = [];

  /** Encodes the edits once the configuration is read. */
  encode(): void {
    for (let i = 0; i < this.remove.length; i++) this.removeBytes.push(new EncodedHeader(this.remove[i]));
    for (let i = 0; i < this.set.length; i++) this.setBytes.push(new EncodedHeader(this.set[i].name, this.set[i].value));
    for (let i = 0; i < this.add.length; i++) this.addBytes.push(new EncodedHeader(this.add[i].name, this.add[i].value));
  }

  apply(map: HeaderMap): void {
    for (let i = 0; i < this.removeBytes.length; i++) map.removeEncoded(this.removeBytes[i]);
    for (let i = 0; i < this.setBytes.length; i++) map.setEncoded(this.setBytes[i]);
    for (let i = 0; i < this.addBytes.length; i++) map.addEncoded(this.addBytes[i]);
  }
}

/** Reads a configuration; `error` says what is wrong when read() returns false. */
class ConfigReader {
  error: string = "";
  request: HeaderEdits = new HeaderEdits();
  response: HeaderEdits = new HeaderEdits();

  read(text: string): bool {
    if (text.trim().length == 0) return true; // no configuration: nothing to do
    const parser = JsonParser.ofText(text);
    const root = parser.parse();
    if (root === null) return this.fail("", "not valid JSON (" + parser.error + ")");
    const obj = root.asObject();
    if (obj === null) return this.fail("", "expected an object with \"request\" and/or \"response\"");
    const unknown = obj.unknownKey(["request", "response"]);
    if (unknown !== null) return this.fail(unknown, "unknown field (expected \"request\" or \"response\")");
    return this.direction(obj, "request", this.request) && this.direction(obj, "response", this.response);
  }

  private fail(where: string, what: string): bool {
    this.error = where.length > 0 ? where + ": " + what : what;
    return false;
  }

  private direction(parent: JsonObject, key: string, edits: HeaderEdits): bool {
    const v = parent.get(key);
    if (v === null) return true;
    const obj = v.asObject();
    if (obj === null) return this.fail(key, "expected an object with \"add\", \"set\" and/or \"remove\"");
    const unknown = obj.unknownKey(["add", "set", "remove"]);
    if (unknown !== null) return this.fail(key + "." + unknown, "unknown field (expected \"add\", \"set\" or \"remove\")");
    return this.pairs(obj.get("add"), key + ".add", edits.add, true) &&
      this.pairs(obj.get("set"), key + ".set", edits.set, false) &&
      this.names(obj.get("remove"), key + ".remove", edits.remove);
  }

  /** {"name": "value"}; for `add` a value may also be a list of values. */
  private pairs(v: JsonValue | null, where: string, out: HeaderPair[], allowList: bool): bool {
    if (v === null) return true;
    const obj = v.asObject();
    if (obj === null) return this.fail(where, "expected an object of header names to values");
    const keys = obj.keys();
    for (let i = 0; i < keys.length; i++) {
      const name = keys[i].toLowerCase();
      const at = where + "." + keys[i];
      // pseudo-headers (":path", ":authority", ":status") can be set, not added
      const pseudo = !allowList && name.startsWith(":") && isHeaderName(name.substring(1));
      if (!pseudo && !isHeaderName(name)) return this.fail(at, "not a valid header name");
      const value = obj.getOr(keys[i]);
      const s = value.asString();
      if (s !== null) {
        if (!this.value(s.value, at)) return false;
        out.push(new HeaderPair(name, s.value));
        continue;
      }
      const list = allowList ? value.asArray() : null;
      if (list === null) return this.fail(at, allowList ? "expected a string or a list of strings" : "expected a string");
      for (let j = 0; j < list.items.length; j++) {
        const item = list.items[j].asString();
        if (item === null) return this.fail(at, "expected a string or a list of strings");
        if (!this.value(item.value, at)) return false;
        out.push(new HeaderPair(name, item.value));
      }
    }
    return true;
  }

  private value(s: string, at: string): bool {
    return isHeaderValue(s) ? true : this.fail(at, "header value contains CR, LF or NUL");
  }

  /** ["name", ...] */
  private names(v: JsonValue | null, where: string, out: string[]): bool {
    if (v === null) return true;
    const list = v.asArray();
    if (list === null) return this.fail(where, "expected a list of header names");
    for (let i = 0; i < list.items.length; i++) {
      const s = list.items[i].asString();
      if (s === null || !isHeaderName(s.value)) return this.fail(where + "[" + i.toString() + "]", "expected a header name");
      out.push(s.value.toLowerCase());
    }
    return true;
  }
}

class AddHeadersRoot extends RootContext {
  request: HeaderEdits = new HeaderEdits();
  response: HeaderEdits = new HeaderEdits();

  onConfigure(configurationSize: u32): bool {
    const reader = new ConfigReader();
    if (!reader.read(this.getPluginConfiguration())) {
      log.error("add-headers: invalid configuration: " + reader.error);
      return false;
    }
    this.request = reader.request;
    this.response = reader.response;
    this.request.encode();
    this.response.encode();
    if (this.request.empty && this.response.empty) log.warn("add-headers: the configuration changes no header");
    return true;
  }

  createHttpContext(id: u32): HttpContext | null {
    // nothing to do: let streams pass without calling into the filter
    if (this.request.empty && this.response.empty) return null;
    return new AddHeaders(id, this);
  }
}

class AddHeaders extends HttpContext {
  constructor(id: u32, private readonly config: AddHeadersRoot) {
    super(id, config);
  }

  onRequestHeaders(numHeaders: u32, endOfStream: bool): FilterHeadersStatus {
    this.config.request.apply(requestHeaders);
    return FilterHeadersStatus.Continue;
  }

  onResponseHeaders(numHeaders: u32, endOfStream: bool): FilterHeadersStatus {
    this.config.response.apply(responseHeaders);
    return FilterHeadersStatus.Continue;
  }
}

registerRootContext((id: u32): RootContext => new AddHeadersRoot(id));

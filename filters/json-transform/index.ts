// json-transform: rewrites JSON request bodies (rename, remove, set members by JSON Pointer).
// See README.md for the configuration and the exact behaviour.
export * from "../sdk/exports";
export { proxy_on_request_body } from "../sdk/runtime";

import {
  FilterDataStatus, FilterHeadersStatus, HeaderPair, HttpContext, JsonParser, JsonValue, LogLevel, RootContext,
  getRequestBody, log, registerRootContext, replaceRequestBody, requestHeaders, sendLocalResponse, stringifyJsonBytes,
} from "../sdk";
import { overlaps, parsePointer, removeAt, getAt, setAt } from "./pointer";

const INVALID_BODY = "{\"error\":\"invalid JSON body\"}";

class Rename {
  constructor(public readonly from: string[], public readonly to: string[]) {}
}

class SetOp {
  constructor(public readonly path: string[], public readonly value: JsonValue) {}
}

class JsonTransformRoot extends RootContext {
  renames: Rename[] = [];
  removes: string[][] = [];
  sets: SetOp[] = [];

  get empty(): bool {
    return this.renames.length == 0 && this.removes.length == 0 && this.sets.length == 0;
  }

  onConfigure(configurationSize: u32): bool {
    const error = this.read(this.getPluginConfiguration());
    if (error !== null) {
      log.error("json-transform: invalid configuration: " + error);
      return false;
    }
    if (this.empty) log.warn("json-transform: the configuration changes nothing");
    return true;
  }

  /** Reads the configuration into this root; the error, or null when it is valid. */
  private read(text: string): string | null {
    if (text.trim().length == 0) return null;
    const parser = JsonParser.ofText(text);
    const root = parser.parse();
    if (root === null) return "not valid JSON (" + parser.error + ")";
    const obj = root.asObject();
    if (obj === null) return "expected an object with \"set\", \"remove\" and/or \"rename\"";
    const unknown = obj.unknownKey(["set", "remove", "rename"]);
    if (unknown !== null) return unknown + ": unknown field (expected set, remove, rename)";

    const renames = new Array<Rename>();
    const rename = obj.get("rename");
    if (rename !== null) {
      const r = rename.asObject();
      if (r === null) return "rename: expected an object of JSON pointers to JSON pointers";
      const keys = r.keys();
      for (let i = 0; i < keys.length; i++) {
        const from = parsePointer(keys[i]);
        if (from === null) return "rename: \"" + keys[i] + "\" is not a JSON pointer (\"/a/b\")";
        const target = r.getOr(keys[i]).asString();
        const to = target !== null ? parsePointer(target.value) : null;
        if (to === null) return "rename." + keys[i] + ": expected a JSON pointer string (\"/a/b\")";
        if (overlaps(from, to)) return "rename." + keys[i] + ": the target is, contains or is inside the source";
        renames.push(new Rename(from, to));
      }
    }

    const removes = new Array<string[]>();
    const remove = obj.get("remove");
    if (remove !== null) {
      const list = remove.asArray();
      if (list === null) return "remove: expected a list of JSON pointers";
      for (let i = 0; i < list.items.length; i++) {
        const s = list.items[i].asString();
        const path = s !== null ? parsePointer(s.value) : null;
        if (path === null) return "remove[" + i.toString() + "]: expected a JSON pointer string (\"/a/b\")";
        removes.push(path);
      }
    }

    const sets = new Array<SetOp>();
    const set = obj.get("set");
    if (set !== null) {
      const s = set.asObject();
      if (s === null) return "set: expected an object of JSON pointers to JSON values";
      const keys = s.keys();
      for (let i = 0; i < keys.length; i++) {
        const path = parsePointer(keys[i]);
        if (path === null) return "set: \"" + keys[i] + "\" is not a JSON pointer (\"/a/b\")";
        sets.push(new SetOp(path, s.getOr(keys[i])));
      }
    }
    this.renames = renames;
    this.removes = removes;
    this.sets = sets;
    return null;
  }

  /** Applies the edits: renames, then removes, then sets. True when anything changed. */
  transform(doc: JsonValue): bool {
    let changed = false;
    for (let i = 0; i < this.renames.length; i++) {
      const r = this.renames[i];
      const v = getAt(doc, r.from);
      if (v !== null && setAt(doc, r.to, v)) {
        removeAt(doc, r.from);
        changed = true;
      }
    }
    for (let i = 0; i < this.removes.length; i++) {
      if (removeAt(doc, this.removes[i]) !== null) changed = true;
    }
    for (let i = 0; i < this.sets.length; i++) {
      const s = this.sets[i];
      // a copy: later edits of this request must not change the configured value
      if (setAt(doc, s.path, s.value.clone())) changed = true;
    }
    return changed;
  }

  createHttpContext(id: u32): HttpContext | null {
    if (this.empty) return null; // nothing to do: bodies pass without being buffered
    return new JsonTransform(id, this);
  }
}

class JsonTransform extends HttpContext {
  /** The request has a JSON body this filter is buffering. */
  private active: bool = false;

  constructor(id: u32, private readonly config: JsonTransformRoot) {
    super(id, config);
  }

  onRequestHeaders(numHeaders: u32, endOfStream: bool): FilterHeadersStatus {
    if (endOfStream || !isJsonContentType(requestHeaders.get("content-type"))) return FilterHeadersStatus.Continue;
    const encoding = requestHeaders.get("content-encoding");
    if (encoding !== null && encoding.trim().toLowerCase() != "identity") return FilterHeadersStatus.Continue; // compressed: not ours to parse
    this.active = true;
    // the body's length will change: the host re-frames the request (chunked) without it
    requestHeaders.remove("content-length");
    return FilterHeadersStatus.Continue;
  }

  onRequestBody(bodySize: u32, endOfStream: bool): FilterDataStatus {
    if (!this.active) return FilterDataStatus.Continue;
    if (!endOfStream) return FilterDataStatus.StopIterationAndBuffer; // bodySize grows until the end
    this.active = false;
    if (bodySize == 0) return FilterDataStatus.Continue; // no body: nothing to rewrite
    const body = getRequestBody(bodySize);
    if (body === null) {
      log.warn("json-transform: the request body is not readable; passing it on unchanged");
      return FilterDataStatus.Continue;
    }
    const parser = new JsonParser(body); // checks UTF-8 too (RFC 8259 §8.1)
    const doc = parser.parse();
    if (doc === null) {
      if (log.enabled(LogLevel.Debug)) log.debug("json-transform: rejecting the request body: " + parser.error);
      sendLocalResponse(400, "json_transform_invalid_body", INVALID_BODY, [new HeaderPair("content-type", "application/json")]);
      return FilterDataStatus.StopIterationNoBuffer;
    }
    if (this.config.transform(doc)) replaceRequestBody(stringifyJsonBytes(doc));
    return FilterDataStatus.Continue;
  }
}

/** application/json or application/<anything>+json, any case, parameters ignored. */
function isJsonContentType(value: string | null): bool {
  if (value === null) return false;
  const semicolon = value.indexOf(";");
  const media = (semicolon >= 0 ? value.substring(0, semicolon) : value).trim().toLowerCase();
  return media == "application/json" || (media.startsWith("application/") && media.endsWith("+json"));
}

registerRootContext((id: u32): RootContext => new JsonTransformRoot(id));

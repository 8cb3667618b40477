// A plugin configuration read as a JSON object with a fixed set of fields — the first step of every
// filter's onConfigure — or the reason it is not one, worded the same in every filter.
import { JsonParser } from "./json-parse";
import { JsonObject } from "./json-value";

export class ConfigObject {
  /** The object, when the text is one with only the allowed fields. */
  object: JsonObject | null = null;
  /** Why not, e.g. `timeout: unknown field (expected upstream, path)`; null when it is. */
  error: string | null = null;

  static parse(text: string, fields: string[]): ConfigObject {
    const c = new ConfigObject();
    const parser = JsonParser.ofText(text);
    const root = parser.parse();
    if (root === null) {
      c.error = "not valid JSON (" + parser.error + ")";
      return c;
    }
    const obj = root.asObject();
    if (obj === null) {
      c.error = "expected an object";
      return c;
    }
    const unknown = obj.unknownKey(fields);
    if (unknown !== null) {
      c.error = unknown + ": unknown field (expected " + fields.join(", ") + ")";
      return c;
    }
    c.object = obj;
    return c;
  }
}

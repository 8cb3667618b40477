// A small, strict JSON (RFC 8259) parser and serializer working on UTF-8 bytes (what bodies and
// configurations are). Errors never trap: parse() returns null and JsonParser.error says what and
// where. Numbers keep their source text, so a parse → serialize round trip never changes them (no
// float rounding of big integers); objects keep their members in order.
//
//   const p = JsonParser.ofText(text);     // or new JsonParser(bodyBytes)
//   const v = p.parse();
//   if (v === null) log.warn("bad JSON: " + p.error);
//   const o = v.asObject();                // null unless it is an object
//   stringifyJson(v);                      // or stringifyJsonBytes(v) for a body
export * from "./json-value";
export * from "./json-parse";
export * from "./json-write";

// JSON Pointers (RFC 6901): "/a/b" addresses member "b" of member "a"; "~1" stands for "/" and "~0"
// for "~" inside a name; a decimal segment indexes an array, and "-" (for set only) appends to one.
import { JsonObject, JsonValue } from "../sdk/json";

/** The segments of a pointer, or null when it is not one (it must start with "/"). */
export function parsePointer(pointer: string): string[] | null {
  if (!pointer.startsWith("/")) return null;
  const raw = pointer.substring(1).split("/");
  for (let i = 0; i < raw.length; i++) {
    const s = raw[i];
    if (s.indexOf("~") < 0) continue;
    // every ~ must be ~0 or ~1
    for (let j = 0; j < s.length; j++) {
      if (s.charCodeAt(j) != 0x7e) continue;
      const next = s.charCodeAt(j + 1);
      if (next != 0x30 && next != 0x31) return null;
      j++;
    }
    raw[i] = s.replaceAll("~1", "/").replaceAll("~0", "~");
  }
  return raw;
}

/** The array index a segment names, or -1 ("0", "17"; not "01", "-1", "x"). */
function arrayIndex(segment: string): i32 {
  const n = segment.length;
  if (n == 0 || n > 9 || (n > 1 && segment.charCodeAt(0) == 0x30)) return -1;
  let v = 0;
  for (let i = 0; i < n; i++) {
    const c = segment.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return -1;
    v = v * 10 + (c - 0x30);
  }
  return v;
}

/** The member/element `segment` of a container, or null. */
function child(container: JsonValue, segment: string): JsonValue | null {
  const obj = container.asObject();
  if (obj !== null) return obj.get(segment);
  const arr = container.asArray();
  if (arr !== null) {
    const i = arrayIndex(segment);
    return i >= 0 && i < arr.items.length ? arr.items[i] : null;
  }
  return null;
}

/** The value at `path`, or null when there is none. */
export function getAt(root: JsonValue, path: string[]): JsonValue | null {
  let cur = root;
  for (let i = 0; i < path.length; i++) {
    const next = child(cur, path[i]);
    if (next === null) return null;
    cur = next;
  }
  return cur;
}

/**
 * Sets the value at `path`. Missing objects on the way are created; a scalar or a missing array
 * element on the way is never replaced (false). The last segment adds or replaces an object member,
 * replaces an array element, or appends to an array ("-" or the index just past the end).
 */
export function setAt(root: JsonValue, path: string[], value: JsonValue): bool {
  if (path.length == 0) return false;
  let cur = root;
  for (let i = 0; i < path.length - 1; i++) {
    let next = child(cur, path[i]);
    if (next === null) {
      const obj = cur.asObject();
      if (obj === null) return false;
      next = new JsonObject();
      obj.set(path[i], next);
    }
    cur = next;
  }
  const last = path[path.length - 1];
  const obj = cur.asObject();
  if (obj !== null) {
    obj.set(last, value);
    return true;
  }
  const arr = cur.asArray();
  if (arr === null) return false;
  const i = last == "-" ? arr.items.length : arrayIndex(last);
  if (i < 0 || i > arr.items.length) return false;
  if (i == arr.items.length) arr.items.push(value);
  else arr.items[i] = value;
  return true;
}

/** Removes the value at `path` and returns it, or null when there was none. */
export function removeAt(root: JsonValue, path: string[]): JsonValue | null {
  if (path.length == 0) return null;
  const parent = getAt(root, path.slice(0, path.length - 1));
  if (parent === null) return null;
  const last = path[path.length - 1];
  const obj = parent.asObject();
  if (obj !== null) {
    const v = obj.get(last);
    if (v !== null) obj.remove(last);
    return v;
  }
  const arr = parent.asArray();
  if (arr === null) return null;
  const i = arrayIndex(last);
  if (i < 0 || i >= arr.items.length) return null;
  const v = arr.items[i];
  arr.items.splice(i, 1);
  return v;
}

/** True when pointer `a` is `b` or addresses something inside it (or the other way round). */
export function overlaps(a: string[], b: string[]): bool {
  const n = min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] != b[i]) return false;
  return true;
}

// Headers as proxy-wasm filters see them: ordered [name, value] pairs with lower-case names, and the
// pseudo-headers (:method, :scheme, :authority, :path on requests, :status on responses) in front.
// Pseudo-headers and regular headers are kept in two flat arrays ([n0, v0, n1, v1, ...]) so the regular
// part can be handed to undici and to `res.writeHead` as is, without a copy.

export class HeaderMap {
  /** Pseudo-header pairs, flat. */
  readonly pseudo: string[];
  /** Regular header pairs, flat, names lower-case. */
  readonly list: string[];
  /**
   * Wire size (name, value and 4 bytes of `: ` and CRLF per pair) as last measured, and the pair count it
   * was measured at (-1: never). This class's own edits keep it current; an edit made to the lists
   * directly shows as a different pair count, and wireSize() measures again (an outside edit that keeps
   * the count, e.g. removing a pair then pushing another, must call measure()). See
   * MAX_FILTER_HEADER_BYTES in src/wasm/host/http.ts, the one reader.
   */
  private wireBytes = -1;
  private wirePairs = -1;

  constructor(pseudo: string[] = [], list: string[] = []) {
    this.pseudo = pseudo;
    this.list = list;
  }

  get(name: string): string | undefined {
    const arr = name.charCodeAt(0) === 58 /* : */ ? this.pseudo : this.list;
    for (let i = 0; i < arr.length; i += 2) if (arr[i] === name) return arr[i + 1];
    return undefined;
  }

  /** All values of a header joined as one string (", " unless told), or undefined. */
  getJoined(name: string, separator = ', '): string | undefined {
    let out: string | undefined;
    const arr = name.charCodeAt(0) === 58 ? this.pseudo : this.list;
    for (let i = 0; i < arr.length; i += 2) {
      if (arr[i] === name) out = out === undefined ? arr[i + 1] : `${out}${separator}${arr[i + 1]}`;
    }
    return out;
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  /** Replaces every value of `name` by one value (added at the end when absent). */
  set(name: string, value: string): void {
    const arr = name.charCodeAt(0) === 58 ? this.pseudo : this.list;
    const tracked = this.tracked();
    let delta = 0;
    let found = false;
    for (let i = 0; i < arr.length; ) {
      if (arr[i] === name) {
        if (!found) {
          delta += value.length - arr[i + 1]!.length;
          arr[i + 1] = value;
          found = true;
          i += 2;
        } else {
          delta -= name.length + arr[i + 1]!.length + 4;
          arr.splice(i, 2);
        }
      } else {
        i += 2;
      }
    }
    if (!found) {
      arr.push(name, value);
      delta += name.length + value.length + 4;
    }
    if (tracked) this.track(delta);
  }

  add(name: string, value: string): void {
    const tracked = this.tracked();
    (name.charCodeAt(0) === 58 ? this.pseudo : this.list).push(name, value);
    if (tracked) this.track(name.length + value.length + 4);
  }

  /** Appends to an existing comma-separated value, or adds the header. */
  append(name: string, value: string): void {
    const tracked = this.tracked();
    const added = appendFlat(name.charCodeAt(0) === 58 ? this.pseudo : this.list, name, value);
    if (tracked) this.track(added);
  }

  remove(name: string): void {
    const tracked = this.tracked();
    const removed = removeFlat(name.charCodeAt(0) === 58 ? this.pseudo : this.list, [name]);
    if (tracked) this.track(-removed);
  }

  /** Removes every pair. */
  clear(): void {
    this.pseudo.length = 0;
    this.list.length = 0;
    this.wireBytes = 0;
    this.wirePairs = 0;
  }

  /**
   * The wire size, measured again only when the lists changed other than through this class. Measuring
   * right after building a map (measure()) finds its strings in the cache; later it may not.
   */
  wireSize(): number {
    if (!this.tracked()) this.measure();
    return this.wireBytes;
  }

  /** Measures the wire size now. */
  measure(): void {
    this.wireBytes = pairsWireBytes(this.pseudo) + pairsWireBytes(this.list);
    this.wirePairs = this.pseudo.length + this.list.length;
  }

  private tracked(): boolean {
    return this.wirePairs === this.pseudo.length + this.list.length;
  }

  private track(delta: number): void {
    this.wireBytes += delta;
    this.wirePairs = this.pseudo.length + this.list.length;
  }

  /** Number of pairs, pseudo-headers included. */
  get size(): number {
    return (this.pseudo.length + this.list.length) >> 1;
  }

  /** All pairs in order, pseudo-headers first (the view a filter gets). */
  pairs(): Array<[string, string]> {
    const out: Array<[string, string]> = [];
    for (let i = 0; i < this.pseudo.length; i += 2) out.push([this.pseudo[i]!, this.pseudo[i + 1]!]);
    for (let i = 0; i < this.list.length; i += 2) out.push([this.list[i]!, this.list[i + 1]!]);
    return out;
  }
}

/** Wire size of flat pairs: name, value and 4 bytes of `: ` and CRLF per pair. */
export function pairsWireBytes(pairs: readonly string[]): number {
  let bytes = 0;
  for (let i = 0; i < pairs.length; i += 2) bytes += pairs[i]!.length + pairs[i + 1]!.length + 4;
  return bytes;
}

/** A raw header name or value as undici and Node hand it over (bytes as latin1). */
export const latin1 = (v: Buffer | string): string => (typeof v === 'string' ? v : v.toString('latin1'));

// Header names a response (or trailers) commonly has, by length: a raw name that is one of them, in any
// case, gets the one lower-case string kept here instead of two new ones (decoded, then lower-cased).
const COMMON_NAMES = [
  'age', 'via', 'date', 'etag', 'vary', 'server', 'expires', 'location', 'set-cookie', 'keep-alive', 'connection',
  'content-type', 'x-request-id', 'x-powered-by', 'grpc-status', 'grpc-message', 'cache-control', 'last-modified',
  'accept-ranges', 'content-length', 'content-encoding', 'transfer-encoding', 'x-frame-options', 'content-disposition',
  'x-content-type-options', 'strict-transport-security', 'access-control-allow-origin',
];
const NAMES_BY_LENGTH: string[][] = [];
for (const n of COMMON_NAMES) (NAMES_BY_LENGTH[n.length] ??= []).push(n);

/**
 * A raw header name (bytes as latin1) in lower case. Header names are tokens (the parsers accept nothing
 * else), for which `byte | 0x20` lower-cases letters and leaves '-' and digits alone.
 */
export function headerName(raw: Buffer | string): string {
  if (typeof raw === 'string') return raw.toLowerCase();
  const candidates = NAMES_BY_LENGTH[raw.length];
  if (candidates !== undefined) {
    next: for (let k = 0; k < candidates.length; k++) {
      const name = candidates[k]!;
      for (let i = 0; i < name.length; i++) if ((raw[i]! | 0x20) !== name.charCodeAt(i)) continue next;
      return name;
    }
  }
  return raw.toString('latin1').toLowerCase();
}

/** Raw [name, value, ...] as received, as flat pairs with lower-case names. */
export function rawPairs(raw: ReadonlyArray<Buffer | string>, out: string[] = []): string[] {
  for (let i = 0; i < raw.length; i += 2) out.push(headerName(raw[i]!), latin1(raw[i + 1]!));
  return out;
}

/** Appends `value` to the last `name` pair of a flat list (", "-joined), or adds the pair; returns the wire bytes added. */
export function appendFlat(list: string[], name: string, value: string): number {
  for (let i = list.length - 2; i >= 0; i -= 2) {
    if (list[i] === name) {
      list[i + 1] = `${list[i + 1]}, ${value}`;
      return value.length + 2;
    }
  }
  list.push(name, value);
  return name.length + value.length + 4;
}

/** Removes every pair whose name is in `names` from a flat list; returns the wire bytes removed. */
export function removeFlat(list: string[], names: readonly string[]): number {
  let removed = 0;
  if (names.length === 0) return removed;
  for (let i = 0; i < list.length; ) {
    if (names.includes(list[i]!)) {
      removed += list[i]!.length + list[i + 1]!.length + 4;
      list.splice(i, 2);
    } else {
      i += 2;
    }
  }
  return removed;
}

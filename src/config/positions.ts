// Maps JSON paths of the parsed config back to line/column in the YAML source, and YAML offsets to JSON paths.
import { isAlias, isMap, isPair, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml';

export interface Position {
  readonly line: number;
  readonly column: number;
}

/**
 * Finds where a JSON path is in the source. `segments` are path segments; with `atKey`, the position is
 * that of the last segment's key (e.g. an unknown key) instead of its value. A path that leaves the
 * document (e.g. a value filled in by a default) resolves to the deepest existing node on it.
 */
export type Locate = (segments: readonly string[], atKey?: boolean) => Position | undefined;

export const locateNothing: Locate = () => undefined;

export function createLocator(doc: Document, lineCounter: LineCounter): Locate {
  const at = (offset: number): Position => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };
  return (segments, atKey = false) => {
    let node: unknown = doc.contents;
    let best: number | undefined = startOf(node);
    for (let i = 0; i < segments.length; i++) {
      node = deref(doc, node);
      const seg = segments[i]!;
      const last = i === segments.length - 1;
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && keyText(p.key) === seg);
        if (pair === undefined) break;
        const keyStart = startOf(pair.key);
        if (last && atKey) return keyStart === undefined ? undefined : at(keyStart);
        const valueStart = isEmptyScalar(pair.value) ? undefined : startOf(pair.value);
        best = valueStart ?? keyStart ?? best;
        if (valueStart === undefined) break;
        node = pair.value;
      } else if (isSeq(node)) {
        const item: unknown = node.items[Number(seg)];
        const start = startOf(item);
        if (!/^\d+$/.test(seg) || start === undefined) break;
        best = start;
        node = item;
      } else {
        break;
      }
    }
    return best === undefined ? undefined : at(best);
  };
}

/**
 * The JSON path segments of the deepest node containing `offset` (used to place YAML errors);
 * `onKey` when the offset is inside a map key (the last segment).
 */
export function pathAtOffset(doc: Document, offset: number): { segments: string[]; onKey: boolean } {
  const path: string[] = [];
  let node: unknown = doc.contents;
  for (let depth = 0; depth < 1000; depth++) {
    node = deref(doc, node);
    let next: unknown;
    if (isMap(node)) {
      for (const pair of node.items) {
        if (contains(pair.key, offset)) {
          path.push(keyText(pair.key));
          return { segments: path, onKey: true };
        }
        if (contains(pair.value, offset)) {
          path.push(keyText(pair.key));
          next = pair.value;
          break;
        }
      }
    } else if (isSeq(node)) {
      const index = node.items.findIndex((item) => contains(item, offset));
      if (index >= 0) {
        path.push(String(index));
        next = node.items[index];
      }
    }
    if (next === undefined) break;
    node = next;
  }
  return { segments: path, onKey: false };
}

export function keyText(key: unknown): string {
  if (isScalar(key)) return String(key.value);
  return String(key);
}

function deref(doc: Document, node: unknown): unknown {
  return isAlias(node) ? node.resolve(doc) : node;
}

function startOf(node: unknown): number | undefined {
  const range = (node as Node | null | undefined)?.range;
  return range ? range[0] : undefined;
}

function contains(node: unknown, offset: number): boolean {
  const range = (node as Node | null | undefined)?.range;
  return range !== undefined && range !== null && offset >= range[0] && offset < Math.max(range[2], range[0] + 1);
}

function isEmptyScalar(node: unknown): boolean {
  return isScalar(node) && node.value === null && node.range !== undefined && node.range !== null && node.range[0] === node.range[1];
}

/** Maps a dotted path in a YAML document to file positions. */
import { isMap, isPair, isScalar, isSeq, LineCounter, type Document, type Node } from 'yaml';
import type { PathSegment, Position } from './diagnostic.js';

export interface SourceMap {
  /** Position of the value at `path`, or of its nearest existing parent. */
  valueAt(path: PathSegment[]): Position | undefined;
  /** Position of the key `key` inside the map at `path` (for unknown keys). */
  keyAt(path: PathSegment[], key: string): Position | undefined;
}

export function sourceMap(doc: Document, lines: LineCounter): SourceMap {
  const pos = (offset: number): Position => lines.linePos(offset);
  // Map keys are indexed once per map, so a lookup costs the path's depth (policies with 10,000 entries).
  const keyIndex = new WeakMap<object, Map<string, Node>>();
  const child = (node: unknown, seg: PathSegment): unknown => {
    if (isSeq(node)) return typeof seg === 'number' ? node.items[seg] : undefined;
    if (!isMap(node)) return undefined;
    let index = keyIndex.get(node);
    if (!index) {
      index = new Map();
      for (const item of node.items) if (isPair(item) && isScalar(item.key)) index.set(String(item.key.value), item.value as Node);
      keyIndex.set(node, index);
    }
    return index.get(String(seg));
  };
  const nodeAt = (path: PathSegment[]): Node | undefined => {
    let best: Node | undefined = doc.contents && (doc.contents as Node).range ? (doc.contents as Node) : undefined;
    let node: unknown = doc.contents;
    for (const seg of path) {
      node = child(node, seg);
      if (!node || typeof node !== 'object') break;
      if ((node as Node).range) best = node as Node;
    }
    return best;
  };
  return {
    valueAt(path) {
      const node = nodeAt(path);
      return node?.range ? pos(node.range[0]) : undefined;
    },
    keyAt(path, key) {
      const map = path.length === 0 ? doc.contents : doc.getIn(path, true);
      if (isMap(map)) {
        for (const item of map.items) {
          if (isPair(item) && isScalar(item.key) && String(item.key.value) === key && item.key.range) {
            return pos(item.key.range[0]);
          }
        }
      }
      return this.valueAt(path);
    },
  };
}

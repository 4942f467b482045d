/** Maps a dotted path in a YAML document to file positions. */
import { isMap, isPair, isScalar, LineCounter, type Document, type Node } from 'yaml';
import type { PathSegment, Position } from './diagnostic.js';

export interface SourceMap {
  /** Position of the value at `path`, or of its nearest existing parent. */
  valueAt(path: PathSegment[]): Position | undefined;
  /** Position of the key `key` inside the map at `path` (for unknown keys). */
  keyAt(path: PathSegment[], key: string): Position | undefined;
}

export function sourceMap(doc: Document, lines: LineCounter): SourceMap {
  const pos = (offset: number): Position => lines.linePos(offset);
  const nodeAt = (path: PathSegment[]): Node | undefined => {
    for (let n = path.length; n >= 0; n--) {
      const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
      if (node && typeof node === 'object' && 'range' in node && (node as Node).range) return node as Node;
    }
    return undefined;
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

/**
 * When only set members change (container addresses, bridge names, exceptions), the daemon updates
 * the sets in one small nft transaction instead of replacing the table: counters and the log
 * rate-limit state survive, and there is never a window without rules.
 */
import { NFT_TABLE } from './render.js';

interface SetBlock {
  name: string;
  elements: string[];
}

/** Our own rendering's set blocks (the format is ours, so a line parser is exact). */
export function setBlocks(text: string): SetBlock[] {
  const out: SetBlock[] = [];
  let current: SetBlock | null = null;
  let inElements = false;
  for (const line of text.split('\n')) {
    const head = /^\tset (\S+) \{$/.exec(line);
    if (head) {
      current = { name: head[1], elements: [] };
      out.push(current);
    } else if (current && line === '\t\telements = {') inElements = true;
    else if (current && inElements && line === '\t\t}') inElements = false;
    else if (current && inElements) current.elements.push(line.trim().replace(/,$/, ''));
    else if (current && line === '\t}') current = null;
  }
  return out;
}

/** The rendering without set members: when equal, a set update can replace a full apply. */
export function skeleton(text: string): string {
  const lines: string[] = [];
  let inElements = false;
  for (const line of text.split('\n')) {
    if (line === '\t\telements = {') inElements = true;
    else if (inElements && line === '\t\t}') inElements = false;
    else if (!inElements) lines.push(line);
  }
  return lines.join('\n');
}

/** An nft script that turns `previous` into `next` by set updates only, or null when the structure differs. */
export function setDelta(previous: string, next: string): string | null {
  if (skeleton(previous) !== skeleton(next)) return null;
  const before = new Map(setBlocks(previous).map((s) => [s.name, s.elements.join('\n')]));
  const lines: string[] = [];
  for (const s of setBlocks(next)) {
    if (before.get(s.name) === s.elements.join('\n')) continue;
    lines.push(`flush set inet ${NFT_TABLE} ${s.name}`);
    if (s.elements.length) lines.push(`add element inet ${NFT_TABLE} ${s.name} { ${s.elements.join(', ')} }`);
  }
  return lines.join('\n') + (lines.length ? '\n' : '');
}

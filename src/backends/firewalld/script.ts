/**
 * Reads a rendered firewall-cmd script back into direct entries (pure), so that check (and later
 * apply/remove) work from the text a reviewer saw, not from a second rendering.
 */
import type { DirectEntry, IpFamily } from './render.js';

/** Splits one line of POSIX sh into words: quotes ('…', "…") and backslashes; no expansions. Null when unterminated. */
export function shellWords(line: string): string[] | null {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end === -1) return null;
      cur += line.slice(i + 1, end);
      i = end;
      inWord = true;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < line.length && line[j] !== '"'; j++) {
        if (line[j] === '\\' && j + 1 < line.length && '"\\$`'.includes(line[j + 1])) j++;
        cur += line[j];
      }
      if (j >= line.length) return null;
      i = j;
      inWord = true;
    } else if (c === '\\') {
      if (i + 1 >= line.length) return null;
      cur += line[++i];
      inWord = true;
    } else if (c === ' ' || c === '\t') {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (inWord) words.push(cur);
  return words;
}

export interface ParsedScript {
  entries: DirectEntry[];
  /** `line N: problem` for every line that is not a direct add-chain/add-rule, a comment, `set -eu` or the reload. */
  errors: string[];
}

const isIpv = (s: string | undefined): s is IpFamily => s === 'ipv4' || s === 'ipv6';

export function parseFirewalldScript(text: string): ParsedScript {
  const entries: DirectEntry[] = [];
  const errors: string[] = [];
  text.split('\n').forEach((raw, n) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line === 'set -eu' || line === 'firewall-cmd --reload') return;
    const w = shellWords(line);
    const at = `line ${n + 1}`;
    if (!w) return void errors.push(`${at}: unterminated quote`);
    const [cmd, permanent, direct, op, ipv, table, chain, priority, ...args] = w;
    if (cmd !== 'firewall-cmd' || permanent !== '--permanent' || direct !== '--direct')
      return void errors.push(`${at}: not a firewall-cmd --permanent --direct command`);
    if (!isIpv(ipv)) return void errors.push(`${at}: expected ipv4 or ipv6, got "${ipv ?? ''}"`);
    if (table !== 'filter') return void errors.push(`${at}: only the filter table is used, got "${table ?? ''}"`);
    if (!chain) return void errors.push(`${at}: no chain`);
    if (op === '--add-chain') {
      if (w.length !== 7) return void errors.push(`${at}: --add-chain takes ipv, table and chain only`);
      entries.push({ kind: 'chain', ipv, table, chain });
    } else if (op === '--add-rule') {
      if (priority === undefined || !/^-?\d+$/.test(priority)) return void errors.push(`${at}: priority must be an integer`);
      entries.push({ kind: 'rule', ipv, table, chain, priority: Number(priority), args });
    } else errors.push(`${at}: expected --add-chain or --add-rule, got "${op ?? ''}"`);
  });
  return { entries, errors };
}

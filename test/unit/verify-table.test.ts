/** verify's cells and table: what a probe shows, whether it matches, and how the truth table reads. */
import { describe, expect, it } from 'vitest';
import { cellMatches, cellText, isCounted, observe } from '../../src/verify/compare.js';
import { formatReport, notProbed, renderTable } from '../../src/verify/table.js';
import type { VerifyCell, VerifyColumn, VerifyReport } from '../../src/verify/types.js';

describe('observe: the counter and the connection attempt', () => {
  it('enforce: the counter rose → drop; it did not → pass; a connection that succeeded was not dropped', () => {
    expect(observe('enforce', 'drop', true, 'cancelled')).toBe('drop');
    expect(observe('enforce', 'drop', true, 'refused')).toBe('drop'); // action reject: a TCP reset
    expect(observe('enforce', 'drop', false, 'cancelled')).toBe('pass');
    expect(observe('enforce', 'drop', false, 'refused')).toBe('pass'); // the destination itself answered
    expect(observe('enforce', 'pass', true, 'open')).toBe('pass'); // another container's drop at the same moment
    expect(observe('enforce', 'pass', false, 'timeout')).toBe('pass');
  });

  it('audit: the counter rose → log (the packet passed)', () => {
    expect(observe('audit', 'log', true, 'open')).toBe('log');
    expect(observe('audit', 'log', false, 'open')).toBe('pass');
  });

  it('--internet: the connection must succeed, and not be counted', () => {
    expect(observe('enforce', 'open', false, 'open')).toBe('open');
    expect(observe('enforce', 'open', false, 'timeout')).toBe('closed');
    expect(observe('enforce', 'open', true, 'cancelled')).toBe('drop');
  });

  it('matches and the cells probed one at a time', () => {
    expect(cellMatches('drop', 'drop')).toBe(true);
    expect(cellMatches('drop', 'pass')).toBe(false);
    expect(cellMatches('open', 'closed')).toBe(false);
    expect(['drop', 'log', 'pass', 'open'].map((e) => isCounted(e as 'drop'))).toEqual([true, true, false, false]);
  });
});

const seen = (observed: 'drop' | 'pass' | 'open' | 'closed', counted: boolean) => ({ observed, counted, outcome: counted ? ('cancelled' as const) : ('timeout' as const), detail: 'x', ms: 5 });

const COLUMNS: VerifyColumn[] = [
  { key: 'range:10.0.0.0/8', label: '10/8', kind: 'range', what: '10.0.0.0/8 (private (RFC 1918))', address: '10.0.0.123', family: 4, proto: 'tcp', port: 9 },
  { key: 'range:127.0.0.0/8', label: '127/8', kind: 'range', what: '127.0.0.0/8 (loopback)', family: 4, proto: 'tcp', port: 9, skip: 'loopback: never leaves' },
  { key: 'range:fc00::/7', label: 'fc00::/7', kind: 'range', what: 'fc00::/7 (ULA)', address: 'fc00::7b', family: 6, proto: 'tcp', port: 9 },
  { key: 'gateway4', label: 'gateway', kind: 'gateway', what: 'the gateway', family: 4, proto: 'tcp', port: 9 },
  { key: 'allow:1', label: 'allow #1', kind: 'exception', what: 'allow #1: every container → 10.57.17.5 5432/tcp', address: '10.57.17.5', family: 4, proto: 'tcp', port: 5432 },
];

const CELLS: VerifyCell[] = [
  { row: 'web', column: 'range:10.0.0.0/8', target: { address: '10.0.0.123', port: 9, proto: 'tcp', from: '172.17.0.2' }, expected: 'drop', verdict: 'dropped', reason: '10.0.0.0/8 (private, RFC 1918)', seen: seen('pass', false), match: false },
  { row: 'web', column: 'range:127.0.0.0/8', skip: 'loopback: never leaves' },
  { row: 'web', column: 'range:fc00::/7', skip: 'no IPv6 address' },
  { row: 'web', column: 'gateway4', target: { address: '172.17.0.1', port: 9, proto: 'tcp' }, expected: 'drop', verdict: 'dropped', reason: 'host', seen: seen('drop', true), match: true },
  { row: 'web', column: 'allow:1', target: { address: '10.57.17.5', port: 5432, proto: 'tcp' }, expected: 'pass', verdict: 'allowed', reason: 'allow #1', seen: seen('pass', false), match: true },
  { row: 'billing', column: 'range:10.0.0.0/8', target: { address: '10.0.0.123', port: 9, proto: 'tcp' }, expected: 'drop', verdict: 'dropped', reason: '10.0.0.0/8', seen: seen('drop', true), match: true },
  { row: 'billing', column: 'range:127.0.0.0/8', skip: 'loopback: never leaves' },
  { row: 'billing', column: 'range:fc00::/7', target: { address: 'fc00::7b', port: 9, proto: 'tcp' }, expected: 'drop', verdict: 'dropped', reason: 'fc00::/7', seen: seen('drop', true), match: true },
  { row: 'billing', column: 'gateway4', target: { address: '172.20.0.1', port: 9, proto: 'tcp' }, expected: 'drop', verdict: 'dropped', reason: 'host', seen: seen('drop', true), match: true },
  { row: 'billing', column: 'allow:1', target: { address: '10.57.17.5', port: 5432, proto: 'tcp' }, expected: 'pass', verdict: 'allowed', reason: 'allow #1', seen: seen('drop', true), match: false },
];

describe('cellText', () => {
  it('expected/observed, ✗ on a mismatch, - when not probed', () => {
    expect(CELLS.map(cellText)).toEqual(['drop/pass ✗', '-', '-', 'drop/drop', 'pass/pass', 'drop/drop', '-', 'drop/drop', 'drop/drop', 'pass/drop ✗']);
  });
});

describe('renderTable', () => {
  it('rows are sources, columns destinations, cells expected/observed', () => {
    expect(renderTable(['web', 'billing'], COLUMNS, CELLS)).toEqual([
      '         10/8         127/8  fc00::/7   gateway    allow #1',
      'web      drop/pass ✗  -      -          drop/drop  pass/pass',
      'billing  drop/drop    -      drop/drop  drop/drop  pass/drop ✗',
    ]);
  });

  it('splits too many columns into blocks that fit the width, each repeating the rows', () => {
    const lines = renderTable(['web', 'billing'], COLUMNS, CELLS, 40);
    expect(lines).toEqual([
      '         10/8         127/8  fc00::/7',
      'web      drop/pass ✗  -      -',
      'billing  drop/drop    -      drop/drop',
      '',
      '         gateway    allow #1',
      'web      drop/drop  pass/pass',
      'billing  drop/drop  pass/drop ✗',
    ]);
    for (const l of lines) expect([...l].length).toBeLessThanOrEqual(40);
  });

  it('a column wider than the width still gets a block of its own', () => {
    expect(renderTable(['web'], COLUMNS.slice(0, 1), CELLS, 10)).toEqual(['        10/8', 'web     drop/pass ✗']);
  });
});

describe('formatReport', () => {
  const report: VerifyReport = {
    ok: false,
    backend: 'nftables',
    mode: 'enforce',
    policy: { file: '/etc/lanfence/policy.yaml', hash: '0123456789abcdef', appliedAt: '2026-11-29T01:47:50.353Z' },
    live: { matches: false, differences: ['set blocked4 lacks 10.0.0.0/8 comment "private (RFC 1918)"'] },
    inventory: 'docker',
    sources: [
      { name: 'web', kind: 'container', from: 'container:web', networks: ['bridge'], netns: '/proc/1/ns/net', pid: 1, addresses: { 4: '172.17.0.2' }, gateways: { 4: '172.17.0.1' } },
      { name: 'billing', kind: 'container', from: 'container:billing', networks: ['backend'], netns: '/proc/2/ns/net', pid: 2, addresses: { 4: '172.20.0.5', 6: 'fd00:20::5' }, gateways: { 4: '172.20.0.1' } },
    ],
    notVerified: [{ name: 'netdata', why: 'host network' }],
    columns: COLUMNS,
    cells: CELLS,
    mismatches: CELLS.filter((c) => c.match === false),
    counts: { cells: 10, probed: 7, matched: 5, mismatched: 2, notProbed: 3 },
    counter: { before: 10, after: 15, background: 0, backgroundMs: 300 },
    notes: [],
    seconds: 1.2,
  };
  const text = formatReport(report).join('\n');

  it('a header with the verdict, the table, the legend of destinations', () => {
    expect(text).toMatch(/^lanfence verify: backend nftables, mode enforce, policy \/etc\/lanfence\/policy\.yaml \(0123456789abcdef\), applied 2026-11-29T01:47:50\.353Z\n2 source\(s\) × 5 destination\(s\): 7 probes in 1\.2 s, 2 cell\(s\) DIFFER from the policy\n/);
    expect(text).toContain('the live rules differ from what was applied (lanfence status): set blocked4 lacks 10.0.0.0/8');
    expect(text).toContain('web      drop/pass ✗  -      -          drop/drop  pass/pass');
    expect(text).toContain('  10/8      tcp 10.0.0.123:9: 10.0.0.0/8 (private (RFC 1918))');
    expect(text).toContain('  127/8     not probed: 127.0.0.0/8 (loopback) — loopback: never leaves');
    expect(text).toContain('  gateway   tcp port 9: the gateway');
    expect(text).toContain('not verified:\n  netdata: host network');
  });

  it('cells not probed are grouped by source and reason (columns not probed at all are in the legend)', () => {
    expect(notProbed(report)).toEqual([{ row: 'web', why: 'no IPv6 address', columns: ['fc00::/7'] }]);
    expect(text).toContain('cells not probed (-):\n  web: no IPv6 address: fc00::/7');
  });

  it('the mismatches by name (container × destination), with what was sent, expected and observed', () => {
    expect(text).toContain(
      [
        'MISMATCHES (2): container × destination',
        '  web × 10/8: tcp 10.0.0.123:9 from 172.17.0.2',
        '    expected drop (explain: dropped, 10.0.0.0/8 (private, RFC 1918))',
        '    observed pass: the blocked-packet counter did not rise (lanfence let it through); the connection attempt: timeout (x, 5 ms)',
        '  billing × allow #1: tcp 10.57.17.5:5432',
      ].join('\n'),
    );
  });

  it('every cell matching says so', () => {
    const good = { ...report, ok: true, live: { matches: true, differences: [] }, mismatches: [], cells: CELLS.map((c) => (c.seen ? { ...c, match: true } : c)), counts: { ...report.counts, matched: 7, mismatched: 0 } };
    const t = formatReport(good).join('\n');
    expect(t).toMatch(/7 probes in 1\.2 s, every cell matches/);
    expect(t).not.toMatch(/MISMATCHES|live rules differ/);
  });
});

/** Normalisation: canonical CIDRs, merged duplicates, warnings for exceptions that change nothing. */
import { describe, expect, it } from 'vitest';
import { formatDiagnostic } from '../../src/policy/diagnostic.js';
import { parsePolicy } from '../../src/policy/load.js';
import { mergePortRanges, parsePortSpec } from '../../src/policy/ports.js';
import { DEFAULT_BLOCKED } from '../../src/ruleset/default-blocklist.js';
import { parseCidr } from '../../src/ruleset/cidr.js';

const warnings = (yaml: string) => parsePolicy(yaml, 'p.yaml').diagnostics.filter((d) => d.severity === 'warning').map(formatDiagnostic);

describe('normalize', () => {
  it('the empty policy is the documented default', () => {
    const { ruleset } = parsePolicy('', 'p.yaml');
    expect(ruleset).toMatchObject({ mode: 'enforce', action: 'drop', backend: 'auto', protectHost: true, exceptions: [], log: { prefix: 'DOCKER_NET_DROP: ', periodSeconds: 10 } });
    expect(ruleset!.interfaces).toEqual({ auto: true, patterns: ['docker0', 'br-*', 'docker_gwbridge'] });
    expect(ruleset!.blocked.map((b) => b.cidr.text)).toEqual(DEFAULT_BLOCKED.map((b) => parseCidr(b.cidr)!.cidr.text));
    expect(ruleset!.blocked.every((b) => b.name.length > 0)).toBe(true);
  });

  it('the default list has the 11 IPv4 and 9 IPv6 ranges of the issue', () => {
    expect(DEFAULT_BLOCKED.filter((b) => !b.cidr.includes(':'))).toHaveLength(11);
    expect(DEFAULT_BLOCKED.filter((b) => b.cidr.includes(':'))).toHaveLength(9);
    expect(DEFAULT_BLOCKED.map((b) => b.cidr)).toContain('100.64.0.0/10');
  });

  it('clears host bits with a warning and canonicalises IPv6', () => {
    const r = parsePolicy('protect:\n  networks: [10.1.2.3/8, "FD00:0::1/8"]\n', 'p.yaml');
    expect(r.ruleset!.blocked.map((b) => b.cidr.text)).toEqual(['10.0.0.0/8', 'fd00::/8']);
    expect(r.diagnostics.map(formatDiagnostic).join('\n')).toMatch(/p.yaml:2:14: warning: protect.networks.0: "10.1.2.3\/8" has host bits set; using 10.0.0.0\/8/);
  });

  it('merges blocked ranges covered by others', () => {
    const r = parsePolicy('protect:\n  extra: [10.20.0.0/16, 203.0.113.0/24, 203.0.113.0/24]\n', 'p.yaml');
    const texts = r.ruleset!.blocked.map((b) => b.cidr.text);
    expect(texts.filter((t) => t === '203.0.113.0/24')).toHaveLength(1);
    expect(texts).not.toContain('10.20.0.0/16');
    expect(r.ruleset!.blocked.find((b) => b.cidr.text === '203.0.113.0/24')!.name).toBe('protect.extra');
  });

  it('merges port ranges', () => {
    expect(mergePortRanges([
      { proto: 'tcp', from: 8000, to: 8100 },
      { proto: 'tcp', from: 8101, to: 8200 },
      { proto: 'udp', from: 53, to: 53 },
      { proto: 'tcp', from: 22, to: 22 },
      { proto: 'tcp', from: 8050, to: 8060 },
    ])).toEqual([
      { proto: 'tcp', from: 22, to: 22 },
      { proto: 'tcp', from: 8000, to: 8200 },
      { proto: 'udp', from: 53, to: 53 },
    ]);
    expect(parsePortSpec('53/UDP')).toEqual({ ok: true, range: { proto: 'udp', from: 53, to: 53 } });
  });

  it('warns about exceptions that change nothing, duplicates and shadowed entries', () => {
    const w = warnings(`allow:
  - to: 8.8.8.8
  - to: 10.0.0.0/8
  - to: 10.1.0.0/16
    ports: [22/tcp]
  - to: 10.0.0.0/8
  - to: 192.168.1.5
    from: { network: a }
    ports: [22/tcp]
  - to: 192.168.1.5
    from: { network: a }
    ports: [22/tcp]
`);
    expect(w.join('\n')).toMatch(/p.yaml:2:9: warning: allow.0.to: 8.8.8.8 is outside every blocked range/);
    expect(w.join('\n')).toMatch(/p.yaml:4:5: warning: allow.2: shadowed by allow #2/);
    expect(w.join('\n')).toMatch(/p.yaml:6:5: warning: allow.3: duplicate of allow #2; merged/);
    expect(w.join('\n')).toMatch(/p.yaml:10:5: warning: allow.5: duplicate of allow #5; merged/);
    const r = parsePolicy('allow:\n  - to: 10.0.0.0/8\n  - to: 10.0.0.0/8\n', 'p.yaml');
    expect(r.ruleset!.exceptions).toHaveLength(1);
  });

  it('keeps the exception\'s origin (file:line) for explain', () => {
    const r = parsePolicy('mode: audit\nallow:\n  - to: 10.57.17.5\n    comment: db\n', 'p.yaml');
    expect(r.ruleset!.exceptions[0]).toMatchObject({ index: 1, comment: 'db', origin: { file: 'p.yaml', path: 'allow.0', pos: { line: 3, col: 5 } } });
  });

  it('to: host and scopes', () => {
    const r = parsePolicy('allow:\n  - to: host\n    from: { label: "a=b=c" }\n  - to: 10.0.0.1\n    from: { container: /web }\n', 'p.yaml');
    expect(r.ruleset!.exceptions[0]).toMatchObject({ to: { kind: 'host' }, from: { kind: 'label', key: 'a', value: 'b=c' } });
    expect(r.ruleset!.exceptions[1].from).toEqual({ kind: 'container', container: 'web' });
  });

  it('merges interface names and patterns another pattern covers (nftables refuses overlapping intervals)', () => {
    const r = parsePolicy('containers: {interfaces: [virbr7, "virbr*", "br-*", "br-a*"]}', 'p.yaml');
    expect(r.ruleset!.interfaces.patterns).toEqual(['virbr*', 'br-*']);
    expect(r.diagnostics.map((d) => d.message)).toEqual(['"virbr7" is already covered by "virbr*"; merged', '"br-a*" is already covered by "br-*"; merged']);
  });

  it('reads ::a.b.c.d as written, not as an IPv4-mapped address', () => {
    expect(parseCidr('::10.0.0.0/104')!.cidr.text).toBe('::a00:0/104');
    expect(parseCidr('::ffff:1.2.3.4')!.cidr.text).toBe('::ffff:102:304/128');
    expect(parseCidr('fe80::1.2.3.999')).toBeNull();
  });

  it('parses rates', () => {
    expect(parsePolicy('log: { rate: 1/1m }', 'p.yaml').ruleset!.log.periodSeconds).toBe(60);
    expect(parsePolicy('log: { rate: 1/2h }', 'p.yaml').ruleset!.log.periodSeconds).toBe(7200);
  });

  it('parses the global log ceiling; the default is 50/s with bursts of 500', () => {
    expect(parsePolicy('mode: audit', 'p.yaml').ruleset!.log.ceiling).toEqual({ rate: 50, per: 'second', burst: 500 });
    expect(parsePolicy('log: { ceiling: 30/m, burst: 20 }', 'p.yaml').ruleset!.log.ceiling).toEqual({ rate: 30, per: 'minute', burst: 20 });
    expect(parsePolicy('log: { ceiling: 10000/s }', 'p.yaml').ruleset!.log.ceiling.rate).toBe(10000);
  });
});

/**
 * `audit suggest` from the audit fixture (a week of kern.log in audit mode): the suggested entries
 * validate, and the evaluator proves that, merged into the policy, they allow exactly the services
 * seen — not the scans, not other ports, not other containers. `--write` keeps the file's comments
 * and layout (golden before/after: UPDATE_GOLDEN=1 regenerates policy-after.yaml).
 */
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PolicyError } from '../../src/errors.js';
import { parseInventory } from '../../src/inventory/file.js';
import { Aggregator } from '../../src/logs/aggregate.js';
import { Attributor, CurrentStateHistory } from '../../src/logs/attribute.js';
import { LogParser } from '../../src/logs/parse.js';
import { mergeIntoPolicy, packetOf, suggest, writeFileAtomic, type Suggestion } from '../../src/logs/suggest.js';
import { DEFAULT_POLICY_YAML } from '../../src/policy/default-policy.js';
import { parsePolicy } from '../../src/policy/load.js';
import { evaluate, type Packet } from '../../src/ruleset/evaluate.js';
import { resolve } from '../../src/ruleset/resolve.js';

const dir = new URL('../fixtures/logs/', import.meta.url);
const read = (name: string) => readFileSync(new URL(name, dir), 'utf8');
const inventory = () => parseInventory(read('inventory.json'), 'inventory.json');
const POLICY = read('policy.yaml');
const NOW = new Date('2026-11-28T12:00:00Z');

function rulesetOf(text: string) {
  const { ruleset, diagnostics } = parsePolicy(text, 'policy.yaml');
  if (!ruleset) throw new Error(JSON.stringify(diagnostics));
  return ruleset;
}

function aggregateFixture(policyText = POLICY): Aggregator {
  const parser = new LogParser();
  const attributor = new Attributor({ history: new CurrentStateHistory(inventory()), ruleset: rulesetOf(policyText), inventory: inventory() });
  const agg = new Aggregator();
  for (const l of read('audit-syslog.txt').split('\n')) {
    const rec = parser.parseLine(l);
    if (rec) agg.add(attributor.attribute(rec));
  }
  return agg;
}

const summary = (s: Suggestion[]) => s.map((x) => ({ from: x.from, to: x.to, ports: x.ports.map((p) => `${p.from}/${p.proto}`), count: x.count }));

describe('suggest', () => {
  const agg = aggregateFixture();
  const flows = agg.flowViews();
  const result = suggest(flows, { ruleset: rulesetOf(POLICY), inventory: inventory() });

  it('scopes to the container, or to the network when several of its containers need the same; exact destination and ports', () => {
    expect(summary(result.suggestions)).toEqual([
      { from: { container: 'billing' }, to: '10.57.17.5', ports: ['5432/tcp'], count: 4 },
      { from: { container: 'billing' }, to: 'fd12:3456:789a:1::10', ports: ['443/tcp'], count: 2 },
      { from: { container: 'web' }, to: '172.17.0.1', ports: ['2375/tcp'], count: 2 },
      { from: { container: 'worker' }, to: '10.20.30.40', ports: ['8080/tcp'], count: 1 },
      { from: { network: 'backend' }, to: '192.168.1.53', ports: ['53/udp'], count: 6 },
    ]);
    expect(result.suggestions[4].containers).toEqual(['billing', 'billing-worker']);
    expect(result.suggestions[0]).toMatchObject({ first: Date.parse('2026-11-20T09:15:02.488Z'), entry: { kind: 'blocked', cidr: '10.0.0.0/8' } });
  });

  it('says why the other flows are not suggested', () => {
    const reasons = new Map<string, number>();
    for (const s of result.skipped) {
      const key = `${s.flow.container}: ${s.reason.replace(/^\S+ (echo-request)?:? ?/, '')}`;
      reasons.set(key, (reasons.get(key) ?? 0) + 1);
    }
    expect(result.skipped.filter((s) => s.reason === 'part of a scan')).toHaveLength(40);
    expect(result.skipped.find((s) => s.flow.container === 'worker')?.reason).toBe('already allowed by allow #1');
    expect(result.skipped.find((s) => s.flow.container === '(172.17.0.99)')?.reason).toBe('source 172.17.0.99 is not attributed to a container');
    expect(result.skipped.find((s) => s.flow.proto === 'icmp')?.reason).toMatch(/^icmp echo-request: exceptions are per TCP\/UDP port/);
    expect(result.skipped).toHaveLength(43);
  });

  it('--min-count 2 leaves out what was seen once', () => {
    const two = suggest(flows, { ruleset: rulesetOf(POLICY), inventory: inventory(), minCount: 2 });
    expect(two.suggestions.map((s) => s.to)).not.toContain('10.20.30.40');
    expect(two.skipped.find((s) => s.flow.dst === '10.20.30.40')?.reason).toMatch(/seen 1 time\(s\) outside scans, below --min-count 2/);
  });

  it('merged into the policy, the entries validate and allow exactly the services seen (the evaluator is the judge)', () => {
    const merged = mergeIntoPolicy(POLICY, 'policy.yaml', result.suggestions, NOW);
    const { ruleset, diagnostics } = parsePolicy(merged.text, 'policy.yaml');
    expect(ruleset, JSON.stringify(diagnostics)).toBeDefined();
    expect(diagnostics.filter((d) => d.severity === 'warning')).toEqual([]);
    // enforce mode: nothing passes but what is allowed
    const enforce = resolve({ ...ruleset!, mode: 'enforce' }, inventory());
    const before = resolve({ ...rulesetOf(POLICY), mode: 'enforce' }, inventory());
    const suggested = new Set(result.suggestions.flatMap((s) => s.flows));
    for (const f of flows) {
      const now = evaluate(enforce, packetOf(f)).verdict;
      const was = evaluate(before, packetOf(f)).verdict;
      if (suggested.has(f)) expect(now, `${f.container} → ${f.dst} ${f.dport}/${f.proto}`).toBe('pass');
      else expect(now, `${f.container} → ${f.dst} ${f.dport ?? f.icmpType}/${f.proto}`).toBe(was); // unchanged: scans, ICMP, unknown sources
    }
    // ... and nothing next to them
    const web = { iif: 'docker0', oif: 'eth0', src: '172.17.0.2', path: 'forward' } as const;
    const billing = { iif: 'br-0123456789ab', oif: 'eth0', src: '172.20.0.5', path: 'forward' } as const;
    const billingWorker = { ...billing, src: '172.20.0.6' };
    const worker = { iif: 'apps0', oif: 'eth0', src: '172.21.0.7', path: 'forward' } as const;
    const blocked: Packet[] = [
      { ...billing, dst: '10.57.17.5', proto: 'tcp', dport: 5433 }, // another port
      { ...billing, dst: '10.57.17.5', proto: 'udp', dport: 5432 }, // another protocol
      { ...billing, dst: '10.57.17.4', proto: 'tcp', dport: 5432 }, // another host
      { ...billingWorker, dst: '10.57.17.5', proto: 'tcp', dport: 5432 }, // another container of the network
      { ...web, dst: '10.57.17.5', proto: 'tcp', dport: 5432 },
      { ...worker, dst: '192.168.1.53', proto: 'udp', dport: 53 }, // another network
      { ...billing, dst: '192.168.1.53', proto: 'tcp', dport: 53 },
      { ...web, dst: '172.17.0.1', proto: 'tcp', dport: 2376, path: 'input', oif: undefined },
      { ...web, src: '172.17.0.9', dst: '172.17.0.1', proto: 'tcp', dport: 2375, path: 'input', oif: undefined }, // the scanner, same bridge
      { ...billing, src: 'fd00:20::5', dst: 'fd12:3456:789a:1::11', proto: 'tcp', dport: 443 },
    ];
    for (const p of blocked) expect(evaluate(enforce, p).verdict, JSON.stringify(p)).toBe('drop');
    for (const p of [
      { ...billingWorker, dst: '192.168.1.53', proto: 'udp', dport: 53 },
      { ...billing, src: 'fd00:20::5', dst: 'fd12:3456:789a:1::10', proto: 'tcp', dport: 443 },
    ] as Packet[])
      expect(evaluate(enforce, p).verdict, JSON.stringify(p)).toBe('pass');
  });

  it('a second run over the merged policy suggests nothing (already allowed)', () => {
    const merged = mergeIntoPolicy(POLICY, 'policy.yaml', result.suggestions, NOW);
    const again = suggest(aggregateFixture(merged.text).flowViews(), { ruleset: rulesetOf(merged.text), inventory: inventory() });
    expect(again.suggestions).toEqual([]);
    expect(again.skipped.filter((s) => s.reason.startsWith('already allowed'))).toHaveLength(7); // 6 suggested flows + the worker's redis
  });
});

describe('--write: merge into the policy file', () => {
  const result = suggest(aggregateFixture().flowViews(), { ruleset: rulesetOf(POLICY), inventory: inventory() });

  it('keeps every comment and the layout: the new entries are inserted, nothing else changes (golden)', () => {
    const merged = mergeIntoPolicy(POLICY, 'policy.yaml', result.suggestions, NOW);
    expect(merged.method).toBe('splice');
    const goldenUrl = new URL('policy-after.yaml', dir);
    if (process.env.UPDATE_GOLDEN) writeFileSync(goldenUrl, merged.text);
    expect(merged.text).toBe(readFileSync(goldenUrl, 'utf8'));
    expectInsertionOnly(POLICY, merged.text);
    expect(merged.text).toContain('  # audit log: 4 line(s), 2026-11-20T09:15:02Z → 2026-11-26T18:15:02Z, billing → 10.57.17.5 (10.0.0.0/8 private (RFC 1918))');
  });

  it('into the default policy (`allow: []`): the list opens, the commented example stays', () => {
    const merged = mergeIntoPolicy(DEFAULT_POLICY_YAML, 'p.yaml', result.suggestions.slice(0, 1), NOW);
    expect(merged.method).toBe('splice');
    expect(merged.text).toContain('allow:\n  # audit log: 4 line(s)');
    expect(merged.text).toContain('    from: {container: billing}\n    comment: suggested from the audit log (2026-11-28)\n#  - to: 10.57.17.5');
    expect(merged.text.replace(/\nallow:\n(?: {2}.*\n)+/, '\nallow: []\n')).toBe(DEFAULT_POLICY_YAML);
    expect(parsePolicy(merged.text, 'p.yaml').ruleset?.exceptions).toHaveLength(1);
  });

  it('into a policy without allow, with a comment after `allow: []`, with a zero-indented list', () => {
    for (const [text, expectIn] of [
      ['mode: audit   # audit first\n', 'mode: audit   # audit first\n\nallow:\n  # audit log'],
      ['allow: []   # none yet\nmode: audit\n', 'allow:   # none yet\n  # audit log'],
      ['mode: audit\nallow:\n- to: 10.9.9.9\n  ports: [22/tcp]\n', '  ports: [22/tcp]\n# audit log'],
    ]) {
      const merged = mergeIntoPolicy(text, 'p.yaml', result.suggestions, NOW);
      expect(merged.method, text).toBe('splice');
      expect(merged.text).toContain(expectIn);
      if (!text.includes('allow: []')) expectInsertionOnly(text, merged.text);
      expect(parsePolicy(merged.text, 'p.yaml').ruleset!.exceptions.length).toBe(text.includes('10.9.9.9') ? 6 : 5);
    }
  });

  it('a layout it cannot splice (flow-style allow) is re-serialised, comments kept', () => {
    const text = '# top comment\nmode: audit\nallow: [{ to: 10.9.9.9, ports: [22/tcp] }]\n';
    const merged = mergeIntoPolicy(text, 'p.yaml', result.suggestions.slice(0, 1), NOW);
    expect(merged.method).toBe('reformat');
    expect(merged.text).toContain('# top comment');
    expect(parsePolicy(merged.text, 'p.yaml').ruleset!.exceptions.map((e) => e.index)).toEqual([1, 2]);
  });

  it('refuses an invalid policy, and a result that would not validate', () => {
    expect(() => mergeIntoPolicy('mode: sometimes\n', 'p.yaml', result.suggestions, NOW)).toThrow(PolicyError);
    const bad = { ...result.suggestions[0], to: 'not-an-address' };
    expect(() => mergeIntoPolicy(POLICY, 'p.yaml', [bad], NOW)).toThrow(/would not be valid/);
  });

  it('nothing to add: unchanged', () => {
    expect(mergeIntoPolicy(POLICY, 'p.yaml', [], NOW)).toEqual({ text: POLICY, added: 0, method: 'unchanged' });
  });

  it('writes atomically and keeps the file mode', () => {
    const d = mkdtempSync(join(tmpdir(), 'lanfence-write-'));
    const f = join(d, 'policy.yaml');
    writeFileSync(f, POLICY);
    chmodSync(f, 0o640);
    writeFileAtomic(f, 'mode: audit\n');
    expect(readFileSync(f, 'utf8')).toBe('mode: audit\n');
    expect(statSync(f).mode & 0o777).toBe(0o640);
    expect(readdirSync(d)).toEqual(['policy.yaml']);
  });
});

/** Every line of `before` is in `after`, in order: the merge only inserted lines. */
function expectInsertionOnly(before: string, after: string): void {
  const a = after.split('\n');
  let i = 0;
  for (const line of before.split('\n')) {
    while (i < a.length && a[i] !== line) i++;
    expect(i < a.length, `line kept: ${JSON.stringify(line)}`).toBe(true);
    i++;
  }
}

/** The firewalld backend's pure parts: which direct entries are lanfence's, merging, listings, direct.xml, FORWARD order. */
import { describe, expect, it } from 'vitest';
import { firewalldDirectRules } from '../../src/backends/firewalld/render.js';
import {
  directXml,
  diffSettings,
  entriesAsSettings,
  isLanfenceRule,
  lanfenceOf,
  mergeSettings,
  parseChainListing,
  parseRuleListing,
  ruleKey,
  runtimeDelta,
  sameSettings,
  withoutLanfence,
  type AnyRule,
  type DirectSettings,
} from '../../src/backends/firewalld/direct.js';
import { dockerForwardRules, forwardOrderProblems, kernelDifferences, parseSave } from '../../src/backends/firewalld/kernel.js';
import { resolvedOf } from '../support/fixtures.js';

const rule = (chain: string, priority: number, args: string[], ipv = 'ipv4'): AnyRule => ({ ipv, table: 'filter', chain, priority, args });

const OTHERS: DirectSettings = {
  chains: [{ ipv: 'ipv4', table: 'filter', chain: 'MINE' }],
  rules: [
    rule('INPUT', 0, ['-s', '198.51.100.7', '-j', 'ACCEPT']),
    rule('MINE', 0, ['-j', 'LOG']),
    rule('DOCKER-USER', 10, ['-s', '10.1.1.1', '-j', 'RETURN']),
    rule('OUTPUT', 0, ['-o', 'eth0', '-j', 'RETURN']),
  ],
  passthroughs: [{ ipv: 'ipv4', args: ['-t', 'nat', '-A', 'POSTROUTING', '-j', 'RETURN'] }],
};

describe('which direct entries are lanfence\'s', () => {
  const entries = firewalldDirectRules(resolvedOf('allow:\n  - to: 10.57.17.5\n    ports: [443/tcp]\n  - to: host\n    ports: [53/udp]\nmode: audit'));

  it('every rule lanfence renders is recognised as its own', () => {
    for (const e of entries) if (e.kind === 'rule') expect(isLanfenceRule(e), ruleKey(e)).toBe(true);
  });

  it('operators\' rules in the shared chains are not', () => {
    for (const r of OTHERS.rules) expect(isLanfenceRule(r), ruleKey(r)).toBe(false);
    expect(isLanfenceRule(rule('FORWARD', 0, ['-j', 'DOCKER-USER']))).toBe(false); // ipv4: Docker's business
    expect(isLanfenceRule(rule('DOCKER-USER', 0, ['-m', 'comment', '--comment', 'allow db', '-j', 'RETURN']))).toBe(false);
    expect(isLanfenceRule({ ...rule('DOCKER-USER-DROP', 0, ['-j', 'DROP']), table: 'nat' })).toBe(false);
  });

  it('merge keeps others\' entries in order and adds lanfence\'s; withoutLanfence gives the others back', () => {
    const merged = mergeSettings(OTHERS, entries);
    expect(merged.rules.slice(0, OTHERS.rules.length)).toEqual(OTHERS.rules);
    expect(merged.passthroughs).toEqual(OTHERS.passthroughs);
    // DOCKER-USER stays declared: an operator's rule lives in it.
    const back = withoutLanfence(merged);
    expect(back.rules).toEqual(OTHERS.rules);
    expect(back.chains.map((c) => c.chain)).toEqual(['MINE', 'DOCKER-USER']);
    // ...and is lanfence's when no one else uses it.
    const alone = withoutLanfence(mergeSettings({ chains: [], rules: [], passthroughs: [] }, entries));
    expect(alone).toEqual({ chains: [], rules: [], passthroughs: [] });
  });

  it('merging twice changes nothing', () => {
    const once = mergeSettings(withoutLanfence(OTHERS), entries);
    const twice = mergeSettings(withoutLanfence(once), entries);
    expect(sameSettings(once, twice)).toBe(true);
    expect(twice).toEqual(once);
  });

  it('diffs are multisets of firewall-cmd lines', () => {
    const ours = lanfenceOf(mergeSettings(OTHERS, entries));
    const fewer = { chains: ours.chains, rules: ours.rules.slice(1) };
    const d = diffSettings(ours, fewer);
    expect(d.missing).toEqual([`rule ${ruleKey(ours.rules[0])}`]);
    expect(d.extra).toEqual([]);
  });
});

describe('firewall-cmd listings', () => {
  it('reads rules with quoted arguments back', () => {
    const text = "ipv4 filter DOCKER-USER-DENY-INTERNAL 0 -d 10.0.0.0/8 -m comment --comment 'RFC 1918 private' -j DOCKER-USER-DROP\nipv6 filter FORWARD 0 -j DOCKER-USER\n";
    expect(parseRuleListing(text)).toEqual([
      rule('DOCKER-USER-DENY-INTERNAL', 0, ['-d', '10.0.0.0/8', '-m', 'comment', '--comment', 'RFC 1918 private', '-j', 'DOCKER-USER-DROP']),
      rule('FORWARD', 0, ['-j', 'DOCKER-USER'], 'ipv6'),
    ]);
    expect(parseChainListing('ipv4 filter DOCKER-USER\n\n')).toEqual([{ ipv: 'ipv4', table: 'filter', chain: 'DOCKER-USER' }]);
    expect(parseRuleListing('ipv4 filter X notanumber -j DROP')).toBeNull();
  });

  it('direct.xml escapes markup and quotes arguments for shlex', () => {
    const xml = directXml({ chains: [], rules: [rule('X', 0, ['-m', 'comment', '--comment', `it's <a> & "b"`, '-j', 'DROP'])], passthroughs: [] });
    expect(xml).toContain(`<rule ipv="ipv4" table="filter" chain="X" priority="0">-m comment --comment &#39;it&#39;&#34;&#39;&#34;&#39;s &#60;a&#62; &#38; &#34;b&#34;&#39; -j DROP</rule>`);
  });
});

describe('FORWARD order', () => {
  const save = (lines: string[], chains = [':DOCKER-USER - [0:0]']) =>
    parseSave(['*filter', ':FORWARD ACCEPT [0:0]', ':FORWARD_direct - [0:0]', ...chains, ...lines, 'COMMIT'].join('\n'));

  it('jump on top: fine', () => {
    const s = save(['[0:0] -A FORWARD -j DOCKER-USER', '[0:0] -A FORWARD -j DOCKER-ISOLATION-STAGE-1', '[0:0] -A FORWARD -o br-1 -j ACCEPT']);
    expect(forwardOrderProblems('ipv4', s)).toEqual([]);
    expect(dockerForwardRules(s)).toBe(2);
  });

  it('Docker\'s ACCEPT above the jump: reported', () => {
    const s = save(['[0:0] -A FORWARD -i br-1 ! -o br-1 -j ACCEPT', '[0:0] -A FORWARD -j DOCKER-USER']);
    expect(forwardOrderProblems('ipv4', s)[0]).toMatch(/1 rule\(s\) before the jump to DOCKER-USER \(first: -A FORWARD -i br-1 ! -o br-1 -j ACCEPT\)/);
  });

  it('firewalld\'s iptables backend: the jump inside FORWARD_direct, after established ACCEPT, counts as first', () => {
    const s = save([
      '[0:0] -A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED,DNAT -j ACCEPT',
      '[0:0] -A FORWARD -i lo -j ACCEPT',
      '[0:0] -A FORWARD -j FORWARD_direct',
      '[0:0] -A FORWARD -o br-1 -j ACCEPT',
      '[0:0] -A FORWARD_direct -j DOCKER-USER',
    ]);
    expect(forwardOrderProblems('ipv6', s)).toEqual([]);
  });

  it('Docker\'s rules without any jump: reported', () => {
    expect(forwardOrderProblems('ipv4', save(['[0:0] -A FORWARD -o docker0 -j DOCKER'])).join()).toMatch(/no jump/);
    expect(forwardOrderProblems('ipv4', save([]))).toEqual([]);
    // No DOCKER-USER at all (Docker 20.10's IPv6 after remove): nothing to jump to, nothing to report.
    expect(forwardOrderProblems('ipv6', save(['[0:0] -A FORWARD -o docker0 -j DOCKER'], []))).toEqual([]);
  });
});

describe('kernel comparison', () => {
  it('missing rules, absent chains, extra rules in lanfence\'s chains; INPUT_direct for firewalld\'s iptables backend', () => {
    const expected = parseSave(['*filter', ':DOCKER-USER-DROP - [0:0]', '-A INPUT -i br-+ -j DOCKER-USER-DROP', '-A DOCKER-USER-DROP -j DROP', 'COMMIT'].join('\n'));
    const live = parseSave(
      ['*filter', ':INPUT ACCEPT [0:0]', ':INPUT_direct - [0:0]', ':DOCKER-USER-DROP - [0:0]', '[3:180] -A INPUT_direct -i br-+ -j DOCKER-USER-DROP', '[1:60] -A DOCKER-USER-DROP -j RETURN', 'COMMIT'].join('\n'),
    );
    expect(kernelDifferences('ipv4', expected, live, ['DOCKER-USER-DROP', 'DOCKER-USER'])).toEqual([
      'kernel (ipv4): chain DOCKER-USER is absent',
      'kernel (ipv4): missing -A DOCKER-USER-DROP -j DROP',
      'kernel (ipv4): unexpected -A DOCKER-USER-DROP -j RETURN',
    ]);
  });
});

describe('runtime changes', () => {
  const entries = firewalldDirectRules(resolvedOf(''));
  const want = entriesAsSettings(entries);
  const none = { chains: [], rules: [] };

  it('from nothing: chains first (but not those the kernel has: Docker\'s DOCKER-USER), then rules', () => {
    const ops = runtimeDelta(want, none, (ipv) => (ipv === 'ipv4' ? ['DOCKER-USER'] : []));
    expect(ops.filter((o) => o.op === 'addChain').map((o) => `${o.ipv} ${o.chain}`)).not.toContain('ipv4 DOCKER-USER');
    expect(ops.filter((o) => o.op === 'addChain').map((o) => `${o.ipv} ${o.chain}`)).toContain('ipv6 DOCKER-USER');
    const firstRule = ops.findIndex((o) => o.op === 'addRule');
    expect(ops.slice(firstRule).every((o) => o.op === 'addRule')).toBe(true);
    expect(ops.length).toBe(entries.length - 1);
  });

  it('nothing to do when the runtime matches; the delta when it does not; remove: rules, then chains, DOCKER-USER optional', () => {
    expect(runtimeDelta(want, want, () => [])).toEqual([]);
    const audit = entriesAsSettings(firewalldDirectRules(resolvedOf('mode: audit')));
    expect(runtimeDelta(audit, want, () => []).map((o) => `${o.op} ${o.ipv} ${o.chain} ${o.priority} ${o.args?.join(' ')}`)).toEqual([
      'addRule ipv4 DOCKER-USER-DROP 127 -j RETURN',
      'addRule ipv6 DOCKER-USER-DROP 127 -j RETURN',
    ]);
    const remove = runtimeDelta(none, want, () => []);
    expect(remove.map((o) => o.op)).toEqual([...Array(want.rules.length).fill('removeRule'), ...Array(want.chains.length).fill('removeChain')]);
    expect(remove.filter((o) => o.optional).map((o) => o.chain)).toEqual(['DOCKER-USER', 'DOCKER-USER']);
  });
});

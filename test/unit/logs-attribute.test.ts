/** Attribution: source address (at the line's time) → container; destination → blocked entry or host. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseInventory } from '../../src/inventory/file.js';
import { Attributor, CurrentStateHistory, historyFromLookup, historyFromSnapshot, IntervalHistory } from '../../src/logs/attribute.js';
import { LogParser, type DropRecord } from '../../src/logs/parse.js';
import { rulesetOf } from '../support/fixtures.js';

const inventory = () => parseInventory(readFileSync(new URL('../fixtures/logs/inventory.json', import.meta.url), 'utf8'), 'inventory.json');
const T = (iso: string) => new Date(iso);

function record(over: Partial<DropRecord>): DropRecord {
  return { framing: 'bare', in: 'docker0', out: 'eth0', family: 4, src: '172.17.0.2', dst: '10.57.17.5', proto: 'tcp', dpt: 5432, path: 'forward', ...over };
}

describe('IntervalHistory (address reuse)', () => {
  it('names the container that held the address at the time of the line', () => {
    const h = new IntervalHistory();
    h.begin('172.17.0.5', { container: 'old-app', id: 'aaa', network: 'bridge' }, T('2026-11-20T10:00:00Z'));
    h.end('172.17.0.5', T('2026-11-20T12:00:00Z'));
    h.begin('172.17.0.5', { container: 'new-app', id: 'bbb', network: 'bridge', composeProject: 'p' }, T('2026-11-20T12:05:00Z'));
    expect(h.lookup('172.17.0.5', T('2026-11-20T11:00:00Z'))?.container).toBe('old-app');
    expect(h.lookup('172.17.0.5', T('2026-11-20T12:02:00Z'))).toBeNull(); // nobody held it
    expect(h.lookup('172.17.0.5', T('2026-11-21T00:00:00Z'))).toEqual({ container: 'new-app', id: 'bbb', network: 'bridge', composeProject: 'p' });
    expect(h.lookup('172.17.0.5', T('2026-11-19T00:00:00Z'))).toBeNull(); // before anyone
    expect(h.attributionSource).toBe('history');
  });

  it('a new holder without an explicit end closes the previous interval; IPv6 keys are canonical', () => {
    const h = new IntervalHistory();
    h.begin('fd00:0020:0000:0000:0000:0000:0000:0005', { container: 'a' }, T('2026-11-20T10:00:00Z'));
    h.begin('fd00:20::5', { container: 'b' }, T('2026-11-20T11:00:00Z'));
    expect(h.lookup('fd00:20::5', T('2026-11-20T10:30:00Z'))?.container).toBe('a');
    expect(h.lookup('fd00:20::5', T('2026-11-20T11:30:00Z'))?.container).toBe('b');
  });

  it('is bounded per address and forgets what ended before a time', () => {
    const h = new IntervalHistory(3);
    for (let i = 0; i < 10; i++) h.begin('10.1.1.1', { container: `c${i}` }, new Date(Date.UTC(2026, 0, 1, i)));
    expect(h.lookup('10.1.1.1', new Date(Date.UTC(2026, 0, 1, 2, 30)))).toBeNull(); // evicted
    expect(h.lookup('10.1.1.1', new Date(Date.UTC(2026, 0, 1, 8, 30)))?.container).toBe('c8');
    h.prune(new Date(Date.UTC(2026, 0, 1, 9, 30)));
    expect(h.lookup('10.1.1.1', new Date(Date.UTC(2026, 0, 1, 8, 30)))).toBeNull();
    expect(h.lookup('10.1.1.1', new Date(Date.UTC(2026, 0, 2)))?.container).toBe('c9');
  });

  it('the attributor asks the history with the line\'s time', () => {
    const h = new IntervalHistory();
    h.begin('172.17.0.2', { container: 'before' }, T('2026-11-20T00:00:00Z'));
    h.begin('172.17.0.2', { container: 'after' }, T('2026-11-22T00:00:00Z'));
    const a = new Attributor({ history: h, ruleset: rulesetOf('{}') });
    expect(a.attribute(record({ time: Date.parse('2026-11-21T00:00:00Z') })).holder?.container).toBe('before');
    expect(a.attribute(record({ time: Date.parse('2026-11-23T00:00:00Z') })).holder?.container).toBe('after');
  });

  it('adapts a daemon-style (address, ms) lookup', () => {
    const seen: [string, number][] = [];
    const h = historyFromLookup((address, at) => (seen.push([address, at]), { container: 'x', network: 'n' }));
    expect(h.lookup('10.0.0.1', new Date(5))?.container).toBe('x');
    expect(seen).toEqual([['10.0.0.1', 5]]);
  });
});

describe('the daemon\'s history snapshot, then Docker\'s state', () => {
  const snapshot = {
    '172.17.0.2': [
      { container: 'old-web', id: 'aaa', network: 'bridge', from: Date.parse('2026-11-20T00:00:00Z'), to: Date.parse('2026-11-22T00:00:00Z') },
      { container: 'web', id: 'bbb', network: 'bridge', from: Date.parse('2026-11-22T00:01:00Z') },
    ],
  };

  it('reads GET /v1/history; refuses another shape', () => {
    const h = historyFromSnapshot(snapshot)!;
    expect(h.lookup('172.17.0.2', T('2026-11-21T00:00:00Z'))).toEqual({ container: 'old-web', id: 'aaa', network: 'bridge' });
    expect(h.lookup('172.17.0.2', T('2026-11-23T00:00:00Z'))?.container).toBe('web');
    expect(historyFromSnapshot([])).toBeNull();
    expect(historyFromSnapshot({ '1.2.3.4': [{ name: 'x' }] })).toBeNull();
    expect(historyFromSnapshot({ ok: false, error: 'not found' })).toBeNull();
  });

  it('the attributor asks the histories in order and says which one answered', () => {
    const a = new Attributor({ history: [historyFromSnapshot(snapshot)!, new CurrentStateHistory({ ...inventory(), source: 'docker' })], ruleset: rulesetOf('{}') });
    const old = a.attribute(record({ time: Date.parse('2026-11-21T00:00:00Z') }));
    expect([old.holder?.container, old.attribution]).toEqual(['old-web', 'history']);
    const gap = a.attribute(record({ time: Date.parse('2026-11-22T00:00:30Z') })); // nobody per the history: Docker now answers
    expect([gap.holder?.container, gap.attribution]).toEqual(['web', 'docker-now']);
    const billing = a.attribute(record({ src: '172.20.0.5' }));
    expect([billing.holder?.container, billing.attribution]).toEqual(['billing', 'docker-now']);
    const nobody = a.attribute(record({ src: '172.17.0.250' }));
    expect([nobody.holder, nobody.attribution]).toEqual([null, 'none']);
    expect(a.attributionSource).toBe('history');
  });
});

describe('CurrentStateHistory (Docker now)', () => {
  it('says it is current-state-only and ignores the time', () => {
    const inv = inventory();
    const h = new CurrentStateHistory({ ...inv, source: 'docker' });
    expect(h.attributionSource).toBe('docker-now');
    expect(h.lookup('172.20.0.5', T('2000-01-01T00:00:00Z'))).toEqual({ container: 'billing', id: inv.containers[2].id, network: 'backend', composeProject: 'shop' });
    expect(h.lookup('fd00:20::5', new Date())?.container).toBe('billing');
    expect(h.lookup('172.17.0.200', new Date())).toBeNull();
    expect(new CurrentStateHistory(inv).attributionSource).toBe('snapshot');
    expect(new CurrentStateHistory({ networks: [], containers: [], source: 'none' }).attributionSource).toBe('none');
  });

  it('uses the input interface when one address is on two networks', () => {
    const h = new CurrentStateHistory({
      source: 'docker',
      networks: [
        { name: 'n1', driver: 'bridge', bridge: 'br-1', subnets: [], gateways: [], ipv6: false, internal: false },
        { name: 'n2', driver: 'bridge', bridge: 'br-2', subnets: [], gateways: [], ipv6: false, internal: false },
      ],
      containers: [
        { name: 'a', networkMode: 'n1', labels: {}, networks: [{ network: 'n1', ipv4: '10.9.0.2' }] },
        { name: 'b', networkMode: 'n2', labels: {}, networks: [{ network: 'n2', ipv4: '10.9.0.2' }] },
      ],
    });
    expect(h.lookup('10.9.0.2', new Date(), 'br-2')?.container).toBe('b');
    expect(h.lookup('10.9.0.2', new Date(), 'br-1')?.container).toBe('a');
  });
});

describe('destination → entry', () => {
  const a = new Attributor({ history: new CurrentStateHistory(inventory()), ruleset: rulesetOf('protect: { extra: [10.57.0.0/16] }'), inventory: inventory() });

  it('names the blocked entry that matched (longest prefix first)', () => {
    expect(a.entryFor('10.57.17.5', 'forward')).toEqual({ kind: 'blocked', name: 'private (RFC 1918)', cidr: '10.0.0.0/8' }); // extra 10.57/16 is merged into 10/8
    expect(a.entryFor('100.100.1.1', 'forward')).toMatchObject({ name: 'CGNAT / shared address space (RFC 6598, e.g. Tailscale)' });
    expect(a.entryFor('fd57:17::5', 'forward')).toMatchObject({ cidr: 'fc00::/7' });
    expect(a.entryFor('8.8.8.8', 'forward')).toBeNull();
    const narrow = new Attributor({ history: new CurrentStateHistory(inventory()), ruleset: rulesetOf('protect: { networks: [10.0.0.0/8], extra: [203.0.113.0/24, 203.0.113.128/25] }') });
    expect(narrow.entryFor('203.0.113.200', 'forward')).toMatchObject({ cidr: '203.0.113.0/24' });
  });

  it('the input path (OUT= empty) is the host, whatever the address', () => {
    const p = new LogParser();
    const line = readFileSync(new URL('../fixtures/logs/kmsg.txt', import.meta.url), 'utf8').split('\n')[1];
    const rec = p.parseLine(line)!;
    expect(rec.path).toBe('input');
    expect(a.attribute(rec).entry).toEqual({ kind: 'host' });
  });

  it('attributes a line: container, network of the bridge', () => {
    const r = a.attribute(record({ in: 'br-0123456789ab', src: '172.20.0.6', dst: '192.168.1.53', proto: 'udp', dpt: 53 }));
    expect(r.holder).toMatchObject({ container: 'billing-worker', network: 'backend', composeProject: 'shop' });
    expect(r.ifaceNetwork).toBe('backend');
    expect(r.entry).toMatchObject({ cidr: '192.168.0.0/16' });
    const unknown = a.attribute(record({ src: '172.17.0.99' }));
    expect(unknown.holder).toBeNull();
    expect(unknown.ifaceNetwork).toBe('bridge');
  });
});

/** Aggregation per container and flow; services told apart from scans; bounded memory. */
import { describe, expect, it } from 'vitest';
import { Aggregator } from '../../src/logs/aggregate.js';
import type { Attributed, Holder } from '../../src/logs/attribute.js';
import type { DropRecord } from '../../src/logs/parse.js';

const T0 = Date.parse('2026-11-25T03:00:00Z');

function line(container: string | null, dst: string, dpt: number | undefined, t: number, over: Partial<DropRecord> = {}): Attributed {
  const holder: Holder | null = container ? { container, network: 'bridge' } : null;
  return {
    record: { framing: 'bare', in: 'docker0', out: 'eth0', family: 4, src: container ? `172.17.0.${container.length}` : '172.17.0.99', dst, proto: 'tcp', ...(dpt !== undefined ? { dpt } : {}), path: 'forward', time: t, ...over },
    holder,
    attribution: container ? 'history' : 'none',
    entry: { kind: 'blocked', name: 'private (RFC 1918)', cidr: '10.0.0.0/8' },
  };
}

describe('Aggregator', () => {
  it('counts per container and flow, with first and last seen', () => {
    const agg = new Aggregator();
    agg.add(line('billing', '10.57.17.5', 5432, T0));
    agg.add(line('billing', '10.57.17.5', 5432, T0 + 86_400_000));
    const third = agg.add(line('billing', '10.57.17.5', 5432, T0 + 3600_000));
    expect(third?.count).toBe(3);
    agg.add(line('billing', '10.57.17.5', 53, T0, { proto: 'udp' }));
    agg.add(line('web', '10.57.17.5', 5432, T0));
    const r = agg.report();
    expect(r.lines).toBe(5);
    expect(r.first).toBe(T0);
    expect(r.last).toBe(T0 + 86_400_000);
    expect(r.containers.map((c) => [c.container, c.lines])).toEqual([
      ['billing', 4],
      ['web', 1],
    ]);
    const billing = r.containers[0].flows;
    expect(billing[0]).toMatchObject({ dst: '10.57.17.5', dport: 5432, proto: 'tcp', count: 3, first: T0, last: T0 + 86_400_000, class: 'service' });
    expect(billing[1]).toMatchObject({ dport: 53, proto: 'udp', count: 1, class: 'once' });
  });

  it('keys unattributed sources by address; ICMP flows by type', () => {
    const agg = new Aggregator();
    agg.add(line(null, '10.0.0.1', 22, T0));
    agg.add(line('web', '192.168.1.1', undefined, T0, { proto: 'icmp', icmpType: 8, icmpCode: 0 }));
    const r = agg.report();
    expect(r.containers.map((c) => c.container).sort()).toEqual(['(172.17.0.99)', 'web']);
    expect(r.containers.find((c) => c.container === 'web')!.flows[0]).toMatchObject({ proto: 'icmp', icmpType: 8 });
  });

  it('a port scan (≥ 16 ports of one host within 60 s) is a scan; the services of the same container are not', () => {
    const agg = new Aggregator();
    for (let i = 0; i < 5; i++) agg.add(line('app', '10.57.17.5', 5432, T0 - 3600_000 * (i + 1)));
    for (let p = 1; p <= 40; p++) agg.add(line('app', '192.168.1.10', p, T0 + p * 1000));
    agg.add(line('app', '10.57.17.5', 5432, T0 + 20_000)); // during the scan
    const r = agg.report();
    const app = r.containers[0];
    expect(app.scans).toEqual([{ container: 'app', kind: 'ports', target: '192.168.1.10', start: T0 + 1000, end: T0 + 40_000, lines: 40, distinct: 40 }]);
    const scanFlows = app.flows.filter((f) => f.class === 'scan');
    expect(scanFlows).toHaveLength(40);
    expect(app.flows.find((f) => f.dport === 5432)).toMatchObject({ class: 'service', count: 6 });
  });

  it('15 ports within a minute is not a scan; 16 is', () => {
    for (const [n, scan] of [
      [15, false],
      [16, true],
    ] as const) {
      const agg = new Aggregator();
      for (let p = 1; p <= n; p++) agg.add(line('app', '192.168.1.10', 1000 + p, T0 + p * 3000));
      expect(agg.report().containers[0].scans.length > 0, String(n)).toBe(scan);
    }
  });

  it('ports spread over more than the window are not a scan', () => {
    const agg = new Aggregator();
    for (let p = 1; p <= 40; p++) agg.add(line('app', '192.168.1.10', p, T0 + p * 10_000)); // one every 10 s: 6 per minute
    const app = agg.report().containers[0];
    expect(app.scans).toEqual([]);
    expect(app.flows.every((f) => f.class === 'once')).toBe(true);
  });

  it('a sweep (≥ 16 hosts within 60 s) is a scan', () => {
    const agg = new Aggregator();
    for (let h = 1; h <= 30; h++) agg.add(line('app', `192.168.1.${h}`, 22, T0 + h * 500));
    const app = agg.report().containers[0];
    expect(app.scans).toHaveLength(1);
    expect(app.scans[0]).toMatchObject({ kind: 'hosts', lines: 30, distinct: 30 });
    expect(app.flows.every((f) => f.class === 'scan')).toBe(true);
  });

  it('two scans far apart are two episodes', () => {
    const agg = new Aggregator();
    for (let p = 1; p <= 20; p++) agg.add(line('app', '192.168.1.10', p, T0 + p * 1000));
    for (let p = 1; p <= 20; p++) agg.add(line('app', '192.168.1.10', 100 + p, T0 + 3600_000 + p * 1000));
    expect(agg.report().containers[0].scans.map((s) => s.lines)).toEqual([20, 20]);
  });

  it('memory is bounded: distinct flows and containers are capped and the rest is counted', () => {
    const agg = new Aggregator({ maxFlows: 100, maxContainers: 3, windowEvents: 64 });
    for (let p = 1; p <= 5000; p++) agg.add(line('app', '192.168.1.10', p, T0 + p));
    for (let c = 0; c < 10; c++) agg.add(line(`c${c}`, '10.0.0.1', 22, T0));
    const counters = agg.counters();
    expect(counters.flows).toBe(100);
    expect(counters.containers).toBe(3);
    expect(counters.lines).toBe(5010);
    expect(counters.overflowFlows).toBe(4900 + 2); // c0 and c1 fit as containers, not as flows
    expect(counters.overflowContainers).toBe(8);
    const app = agg.report().containers.find((c) => c.container === 'app')!;
    expect(app.lines).toBe(5000);
    expect(app.scans).toHaveLength(1);
    expect(app.scans[0].lines).toBe(5000); // every line of the scan is counted, kept as a flow or not
  });

  it('a flood of one container stays fast (the window is not rescanned per line)', () => {
    const agg = new Aggregator();
    const start = performance.now();
    for (let i = 0; i < 200_000; i++) agg.add(line('flood', `192.168.${(i >> 8) & 255}.${i & 255}`, 1 + (i % 1000), T0 + i));
    expect(performance.now() - start).toBeLessThan(20_000);
    expect(agg.counters().flows).toBeLessThanOrEqual(20_000);
  });

  it('prune forgets flows last seen before a time', () => {
    const agg = new Aggregator();
    agg.add(line('a', '10.0.0.1', 22, T0));
    agg.add(line('a', '10.0.0.2', 22, T0 + 10_000));
    agg.prune(T0 + 5_000);
    expect(agg.flowViews().map((f) => f.dst)).toEqual(['10.0.0.2']);
  });
});

/** The daemon's drop log: kernel lines → attributed drops in the feed, metrics and suggestions. */
import { readFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Daemon } from '../../src/daemon/daemon.js';
import { DropLog } from '../../src/daemon/drop-log.js';
import { DropFeed } from '../../src/daemon/drops.js';
import { AddressHistory } from '../../src/daemon/history.js';
import { Metrics } from '../../src/daemon/metrics.js';
import type { Inventory } from '../../src/inventory/types.js';
import type { LogSource } from '../../src/logs/index.js';
import { policyHash, StateStore, type AppliedState } from '../../src/state/store.js';
import { resolvedOf } from '../support/fixtures.js';

const KMSG = readFileSync(new URL('../fixtures/logs/kmsg.txt', import.meta.url), 'utf8').split('\n').filter(Boolean);

const inventory: Inventory = {
  source: 'docker',
  networks: [{ name: 'bridge', driver: 'bridge', bridge: 'docker0', subnets: ['172.17.0.0/16'], gateways: ['172.17.0.1'], ipv6: false, internal: false }],
  containers: [{ id: 'abc', name: 'c-default', networkMode: 'default', labels: {}, networks: [{ network: 'bridge', ipv4: '172.17.0.2' }] }],
};

function fixture() {
  const history = new AddressHistory();
  history.observe(inventory, 0);
  const daemon = { history, inventorySnapshot: () => inventory, onApplied: () => () => undefined } as unknown as Daemon;
  const feed = new DropFeed();
  const metrics = new Metrics();
  const source: LogSource = {
    name: 'kmsg',
    description: 'fixture',
    async *records(parser) {
      for (const line of KMSG) {
        const r = parser.parseKmsg(line);
        if (r) yield r;
      }
    },
  };
  const log = new DropLog({ daemon, store: new StateStore(mkdtempSync(join(tmpdir(), 'lf-state-'))), feed, metrics, log: () => undefined, source });
  return { log, feed, metrics };
}

describe('daemon drop log', () => {
  it('attributes kernel lines to containers and feeds the dashboard and the metrics', async () => {
    const { log, feed, metrics } = fixture();
    await log.run();
    const drops = feed.recent({ limit: 10_000 });
    expect(drops.length).toBeGreaterThan(0);
    const db = drops.find((d) => d.dst === '10.57.17.5' && d.dport === 22)!;
    expect(db).toMatchObject({ container: 'c-default', containerId: 'abc', network: 'bridge', proto: 'tcp', entry: '10.0.0.0/8 private (RFC 1918)', path: 'forward', mode: 'enforce' });
    expect(drops.find((d) => d.dst === '192.168.57.2' && d.dport === 2375)).toMatchObject({ container: 'c-default', entry: 'host', path: 'input' });
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/lanfence_drops_total\{container="c-default",entry="10\.0\.0\.0\/8 private \(RFC 1918\)",proto="tcp",mode="enforce"\} \d+/);
  });

  it('suggests exceptions from what it saw', async () => {
    const { log } = fixture();
    await log.run();
    const s = log.suggestions(resolvedOf('', inventory));
    const yaml = s.map((x) => x.yaml).join('\n');
    expect(yaml).toMatch(/to: 10\.57\.17\.5/);
    expect(yaml).toMatch(/container: c-default/);
    expect(s.find((x) => x.kind === 'service' && x.yaml.includes('10.57.17.5'))?.target).toMatch(/^10\.57\.17\.5 \d+\/tcp/);
  });

  it('follows a new log prefix at once after the daemon applies it, before the next kernel line is read', async () => {
    const history = new AddressHistory();
    history.observe(inventory, 0);
    let notify: ((a: AppliedState) => void) | null = null;
    const daemon = { history, inventorySnapshot: () => inventory, onApplied: (l: (a: AppliedState) => void) => ((notify = l), () => (notify = null)) } as unknown as Daemon;
    const store = new StateStore(mkdtempSync(join(tmpdir(), 'lf-state-')));
    const policyText = 'log:\n  prefix: "NEW PREFIX: "\n';
    const applied: AppliedState = {
      backend: 'nftables', mode: 'audit', appliedAt: new Date().toISOString(), policyFile: 'p.yaml', policyText, policyHash: policyHash(policyText),
      rendered: { backend: 'nftables', text: '', parts: [] }, interfaces: ['docker0'], version: 'test',
    };
    const line = KMSG[0].replace('DOCKER_NET_DROP: ', 'NEW PREFIX: ');
    const source: LogSource = {
      name: 'kmsg',
      description: 'fixture',
      async *records(parser) {
        // The daemon applies a policy with a new prefix; then the kernel logs with it.
        store.recordApplied(applied);
        notify!(applied);
        const r = parser.parseKmsg(line);
        if (r) yield r;
      },
    };
    const feed = new DropFeed();
    const log = new DropLog({ daemon, store, feed, metrics: new Metrics(), log: () => undefined, source });
    await log.run();
    expect(feed.recent({ limit: 10 }).map((d) => [d.container, d.dst, d.dport, d.mode])).toEqual([['c-default', '10.57.17.5', 22, 'audit']]);
    log.stop();
    expect(notify).toBeNull();
  });
});

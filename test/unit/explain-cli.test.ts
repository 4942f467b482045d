/** `lanfence explain` as a user runs it: text, --json, exit codes, and a suggestion pasted into a policy file. */
import { appendFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hostAddressesFor } from '../../src/cli/commands/explain.js';
import { localAddresses } from '../../src/inventory/host-addresses.js';
import { run } from '../../src/cli/main.js';

const INV = 'test/golden/inventory.json';

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run(['node', 'lanfence', ...args], { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const policyFile = (text: string): string => {
  const file = join(mkdtempSync(join(tmpdir(), 'lanfence-explain-')), 'policy.yaml');
  writeFileSync(file, text);
  return file;
};

describe('lanfence explain (text)', () => {
  it('a drop: the verdict, the deciding range, the packet and a suggestion to paste; exit 0', async () => {
    const r = await cli('explain', '--from', 'web', '--to', '10.0.0.5:5432', '-i', INV);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^lanfence explain: web → 10\.0\.0\.5:5432 \(policy \(embedded default\), inventory file:test\/golden\/inventory\.json\)/);
    expect(r.out).toMatch(/\nverdict: +DROPPED \(mode enforce, action drop\)/);
    expect(r.out).toMatch(/\ndecided: +10\.0\.0\.0\/8 \(private, RFC 1918\), from the built-in list/);
    expect(r.out).toMatch(/\nfrom: +container web, network bridge, 172\.17\.0\.2, enters through docker0/);
    expect(r.out).toMatch(/\npacket: +new tcp 172\.17\.0\.2 → 10\.0\.0\.5:5432, in docker0, forward path/);
    expect(r.out).toContain(['to allow it, add under allow: in your policy:', '  - to: 10.0.0.5', '    ports: [5432/tcp]', '    from: { container: web }', '    comment: "web → 10.0.0.5:5432/tcp"'].join('\n'));
  });

  it('an exception: its text, comment and file:line', async () => {
    const file = policyFile('mode: enforce\nallow:\n  - to: 10.57.17.5\n    ports: [5432/tcp, 8000-8100/tcp]\n    from: { network: backend }\n    comment: billing database\n');
    const r = await cli('explain', '--from', 'billing', '--to', '10.57.17.5:8080', '--policy', file, '--inventory', INV);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/verdict: +ALLOWED by an exception/);
    expect(r.out).toContain('decided:  allow #1: network backend → 10.57.17.5 5432/tcp, 8000-8100/tcp (billing database)');
    expect(r.out).toContain(`at ${file}:3 (allow.0), matched 8000-8100/tcp`);
    expect(r.out).not.toMatch(/to allow it/);
  });

  it('not judged: says why, exit 0', async () => {
    const host = await cli('explain', '--from', 'netdata', '--to', '192.168.1.1:80', '-i', INV);
    expect(host.code).toBe(0);
    expect(host.out).toMatch(/verdict: +NOT JUDGED/);
    expect(host.out).toMatch(/why: +host network/);
    const macvlan = await cli('explain', '--from', 'pihole', '--to', '10.0.0.1', '-i', INV);
    expect(macvlan.out).toMatch(/why: +macvlan network lan/);
    const peer = await cli('explain', '--from', 'web', '--to', '172.17.0.3:80', '-i', INV);
    expect(peer.out).toMatch(/why: +same network as the destination \(network bridge\): container to container/);
    const established = await cli('explain', '--from', 'web', '--to', '10.0.0.1:22', '--state', 'established', '-i', INV);
    expect(established.out).toMatch(/why: +established connection: only new connections are judged/);
  });

  it('IPv6 with brackets, audit mode, the host', async () => {
    const v6 = await cli('explain', '--from', 'billing', '--to', '[fd12::1]:22/tcp', '-i', INV);
    expect(v6.out).toMatch(/decided: +fc00::\/7 \(unique local, ULA, RFC 4193\)/);
    expect(v6.out).toMatch(/packet: +new tcp fd00:20::5 → \[fd12::1\]:22/);
    const audit = await cli('explain', '--from', 'worker', '--to', 'host:53/udp', '-i', INV, '-p', policyFile('mode: audit\n'));
    expect(audit.out).toMatch(/verdict: +LOGGED and passed \(mode audit; enforce mode would drop it\)/);
    expect(audit.out).toMatch(/decided: +host: every address of the host itself/);
    expect(audit.out).toMatch(/asked as 172\.21\.0\.1, the gateway of network apps/);
    expect(audit.out).toContain('  - to: host\n    ports: [53/udp]\n    from: { container: worker }\n');
  });
});

describe('lanfence explain --json', () => {
  it('the structured verdict', async () => {
    const r = await cli('explain', '--from', 'web', '--to', '192.168.1.10:445', '-i', INV, '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j).toMatchObject({
      verdict: 'dropped',
      mode: 'enforce',
      action: 'drop',
      entry: { kind: 'range', cidr: '192.168.0.0/16', name: 'private (RFC 1918)', source: 'default', text: '192.168.0.0/16 (private, RFC 1918)' },
      exception: null,
      from: { kind: 'container', container: 'web', network: 'bridge', bridge: 'docker0', address: '172.17.0.2' },
      to: { kind: 'address', address: '192.168.1.10', port: 445, proto: 'tcp' },
      packet: { iif: 'docker0', src: '172.17.0.2', dst: '192.168.1.10', proto: 'tcp', dport: 445, path: 'forward', state: 'new' },
      policy: '(embedded default)',
      inventory: `file:${INV}`,
    });
    expect(j.suggestion).toBe('- to: 192.168.1.10\n  ports: [445/tcp]\n  from: { container: web }\n  comment: "web → 192.168.1.10:445/tcp"');
  });

  it('an exception with its origin', async () => {
    const file = policyFile('allow:\n  - to: fd12::/16\n    ports: [22/tcp]\n    comment: ULA ssh\n');
    const j = JSON.parse((await cli('explain', '-f', 'billing', '-t', '[fd12::9]:22', '-i', INV, '-p', file, '--json')).out);
    expect(j).toMatchObject({
      verdict: 'allowed',
      action: null,
      entry: null,
      suggestion: null,
      exception: { index: 1, comment: 'ULA ssh', to: 'fd12::/16', ports: ['22/tcp'], matchedPorts: '22/tcp', from: { kind: 'any' }, origin: { file, line: 2, col: 5, path: 'allow.0' } },
    });
  });

  it('pasting the suggestion into the policy file turns the drop into allowed', async () => {
    const file = policyFile('action: reject\nallow:\n  - to: 10.57.17.5\n    ports: [5432/tcp]\n');
    for (const [from, to] of [['worker', '10.57.17.5:5433'], ['backend', '[fd00:99::7]:443/tcp'], ['billing', 'host:9100'], ['apps', '100.64.0.9']]) {
      const before = JSON.parse((await cli('explain', '--from', from, '--to', to, '-i', INV, '-p', file, '--json')).out);
      expect(before.verdict, `${from} → ${to}`).toBe('rejected');
      appendFileSync(file, `${before.suggestion.replace(/^/gm, '  ')}\n`);
      const after = JSON.parse((await cli('explain', '--from', from, '--to', to, '-i', INV, '-p', file, '--json')).out);
      expect(after.verdict, `${from} → ${to} after pasting`).toBe('allowed');
      expect(after.exception.origin.file).toBe(file);
      expect(after.exception.comment).toMatch(new RegExp(`→ ${to.replace(/[[\]]/g, '\\$&').replace(/\./g, '\\.')}`));
      const check = await cli('check', '--policy', file);
      expect(check.code, check.err).toBe(0);
    }
  });

  it('a usage error is JSON too', async () => {
    const r = await cli('explain', '--from', 'wbe', '--to', '10.0.0.1', '-i', INV, '--json');
    expect(r.code).toBe(64);
    expect(JSON.parse(r.out)).toMatchObject({ ok: false, error: 'UsageError', message: expect.stringMatching(/did you mean web\?/) });
  });
});

describe("lanfence explain: the host's own addresses", () => {
  it('--host-address makes a LAN address the host (input path); without it, an inventory file knows only the gateways', async () => {
    const lan = await cli('explain', '--from', 'web', '--to', '192.168.7.77:22', '-i', INV, '--json');
    expect(JSON.parse(lan.out).packet.path).toBe('forward');
    const host = await cli('explain', '--from', 'web', '--to', '192.168.7.77:22', '-i', INV, '--host-address', '192.168.7.77,10.9.9.9', '--json');
    expect(host.code).toBe(0);
    const x = JSON.parse(host.out);
    expect(x.packet.path).toBe('input');
    expect(x.to.description).toBe('the host itself (one of its own addresses)');
    const bad = await cli('explain', '--from', 'web', '--to', '10.0.0.1', '-i', INV, '--host-address', 'nas');
    expect(bad.code).toBe(64);
    expect(bad.err).toMatch(/--host-address "nas" is not an IPv4 or IPv6 address/);
  });
  it("with Docker's inventory (explain runs on the host), this machine's addresses are the host's", () => {
    expect(hostAddressesFor([], 'docker', () => ['192.168.7.77'])).toEqual(['192.168.7.77']);
    expect(hostAddressesFor([], 'none', () => ['192.168.7.77'])).toEqual(['192.168.7.77']);
    expect(hostAddressesFor([], 'file:inv.json', () => ['192.168.7.77'])).toEqual([]);
    expect(hostAddressesFor(['10.1.1.1'], 'docker', () => ['192.168.7.77'])).toEqual(['10.1.1.1']);
    expect(localAddresses()).toContain('127.0.0.1');
  });
});

describe('lanfence explain: usage errors (64)', () => {
  it('unknown container or network, with close names', async () => {
    const r = await cli('explain', '--from', 'billng', '--to', '10.0.0.1', '-i', INV);
    expect(r.code).toBe(64);
    expect(r.err).toMatch(/lanfence: --from "billng": no container, network or address "billng" in the inventory \(file:test\/golden\/inventory\.json\); did you mean billing\?/);
    const n = await cli('explain', '--from', 'network:apss', '--to', '10.0.0.1', '-i', INV);
    expect(n.code).toBe(64);
    expect(n.err).toMatch(/no network "apss".*did you mean apps\?/);
  });
  it('malformed --to, port out of range, missing options', async () => {
    expect((await cli('explain', '--from', 'web', '--to', '10.0.0.1:99999', '-i', INV)).err).toMatch(/port 99999 is out of range \(1-65535\)/);
    const bad = await cli('explain', '--from', 'web', '--to', 'nas:445', '-i', INV);
    expect(bad.code).toBe(64);
    expect(bad.err).toMatch(/--to "nas:445": "nas" is not an IPv4 or IPv6 address, or "host"; expected ADDRESS\[:PORT\]\[\/PROTO\]/);
    expect((await cli('explain', '--from', 'web', '-i', INV)).code).toBe(64);
    expect((await cli('explain', '--to', '10.0.0.1', '-i', INV)).code).toBe(64);
    expect((await cli('explain', '--from', 'web', '--to', '10.0.0.1', '--state', 'closed', '-i', INV)).code).toBe(64);
  });
  it('--help documents the syntax and the exit code', async () => {
    const r = await cli('explain', '--help');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/Usage: lanfence explain/);
    expect(r.out).toMatch(/\[fd12::1\]:22\/tcp/);
    expect(r.out).toMatch(/Exit code 0 whenever a verdict was given/);
  });
});

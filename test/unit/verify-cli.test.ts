/** `lanfence verify` before any probe: --help, refusals and their exit codes, --internet, the progress indicator. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { describe, expect, it } from 'vitest';
import { verifyProgress } from '../../src/cli/commands/verify.js';
import { run } from '../../src/cli/main.js';
import { EXIT, LanfenceError, UsageError } from '../../src/errors.js';
import type { Runner } from '../../src/exec.js';
import { StateStore, policyHash } from '../../src/state/store.js';
import { NeedsRootError, NotAppliedError, parseInternet, verify } from '../../src/verify/index.js';

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run(['node', 'lanfence', ...args], { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** Any command verify would run before it refuses is a test failure. */
const noRun: Runner = async (cmd, args) => {
  throw new Error(`unexpected command: ${cmd} ${args.join(' ')}`);
};
const noDocker = {} as Docker;
const store = () => new StateStore(mkdtempSync(join(tmpdir(), 'lanfence-verify-')));

async function failure(p: Promise<unknown>): Promise<LanfenceError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(LanfenceError);
    return e as LanfenceError;
  }
  throw new Error('verify did not fail');
}

describe('lanfence verify --help', () => {
  it('lists the selections, the options and the exit codes', async () => {
    const r = await cli('verify', '--help');
    expect(r.code).toBe(0);
    for (const o of ['--container <name>', '--network <name>', '--all', '--internet <addr>', '--force', '--json']) expect(r.out).toContain(o);
    expect(r.out).toMatch(/Needs root\. Exit 0 when every cell matches; 6 when a cell differs/);
  });

  it('is listed in the command overview', async () => {
    expect((await cli('--help')).out).toMatch(/\n {2}verify \[options\] +prove the applied policy/);
  });
});

describe('verify refuses before probing', () => {
  it('without root: says so', async () => {
    const e = await failure(verify({ run: noRun, store: store(), docker: noDocker, isRoot: false }));
    expect(e).toBeInstanceOf(NeedsRootError);
    expect(e.exitCode).toBe(EXIT.failure);
    expect(e.message).toMatch(/^lanfence verify needs root: .*run it with sudo$/);
  });

  it('nothing applied: exit 5', async () => {
    const e = await failure(verify({ run: noRun, store: store(), docker: noDocker, isRoot: true }));
    expect(e).toBeInstanceOf(NotAppliedError);
    expect(e.exitCode).toBe(EXIT.absent);
    expect(e.message).toMatch(/has not applied a policy/);
  });

  it('audit mode without --force: a usage error (64), nothing run', async () => {
    const s = store();
    const policyText = 'mode: audit\n';
    s.recordApplied({
      backend: 'nftables',
      mode: 'audit',
      appliedAt: new Date(0).toISOString(),
      policyFile: '/etc/lanfence/policy.yaml',
      policyText,
      policyHash: policyHash(policyText),
      rendered: { backend: 'nftables', text: '', parts: [] },
      interfaces: ['docker0'],
      version: '0.0.0',
    });
    const e = await failure(verify({ run: noRun, store: s, docker: noDocker, isRoot: true }));
    expect(e).toBeInstanceOf(UsageError);
    expect(e.exitCode).toBe(EXIT.usage);
    expect(e.message).toMatch(/audit mode: it drops nothing.*add --force/);
  });
});

describe('--internet', () => {
  it('ADDR (port 443), ADDR:PORT, [IPv6]:PORT', () => {
    expect(parseInternet('1.1.1.1')).toMatchObject({ address: '1.1.1.1', family: 4 });
    expect(parseInternet('1.1.1.1').port).toBeUndefined();
    expect(parseInternet('1.1.1.1:80')).toMatchObject({ address: '1.1.1.1', port: 80, proto: 'tcp' });
    expect(parseInternet('[2606:4700::1111]:443')).toMatchObject({ address: '2606:4700::1111', port: 443, family: 6 });
  });

  it('rejects the host, UDP and names', () => {
    expect(() => parseInternet('host:443')).toThrow(/not the host/);
    expect(() => parseInternet('1.1.1.1:53/udp')).toThrow(/TCP connection/);
    expect(() => parseInternet('example.com')).toThrow(/^--internet example\.com: "example\.com" is not an IPv4 or IPv6 address/);
  });
});

describe('the progress indicator (stderr)', () => {
  it('not on a terminal: phase lines and a line per quarter of the probes', () => {
    const err: string[] = [];
    const p = verifyProgress({ out: () => undefined, err: (t) => err.push(t) }, true, false, () => {
      throw new Error('no raw writes off a terminal');
    });
    p.step('probing 8 cell(s)');
    for (let i = 1; i <= 8; i++) p.tick(i, 8, `c${i}`);
    p.end();
    expect(err.map((l) => l.replace(/ \([\d.]+s\)$/, ''))).toEqual(['… probing 8 cell(s)', '… 2/8 probes', '… 4/8 probes', '… 6/8 probes', '… 8/8 probes']);
  });

  it('on a terminal: one line rewritten per probe, cleared before the next phase and at the end', () => {
    const raw: string[] = [];
    const err: string[] = [];
    const p = verifyProgress({ out: () => undefined, err: (t) => err.push(t) }, true, true, (s) => raw.push(s));
    p.tick(1, 2, 'web → 10/8');
    p.step('next');
    p.tick(2, 2, 'web → gateway');
    p.end();
    expect(raw).toEqual(['\r\x1b[K… 1/2 probes: web → 10/8', '\r\x1b[K', '\r\x1b[K… 2/2 probes: web → gateway', '\r\x1b[K']);
    expect(err).toHaveLength(1);
  });

  it('quiet when disabled (--json off a terminal)', () => {
    const err: string[] = [];
    const p = verifyProgress({ out: () => undefined, err: (t) => err.push(t) }, false, false, () => undefined);
    p.step('x');
    p.tick(1, 1, 'y');
    expect(err).toEqual([]);
  });
});

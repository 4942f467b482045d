/** `lanfence demo` end to end, and its requirement check. */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { missingRequirements } from '../../src/lab/demo.js';
import { rootNamespaceTraces } from '../../src/lab/inspect.js';
import { kernelTestsEnabled } from '../support/root.js';

describe('demo requirements', () => {
  it('says what is missing and how to install it', () => {
    const m = missingRequirements((cmd) => !['dockerd', 'docker', 'conntrack'].includes(cmd), false, false);
    expect(m[0]).toMatch(/run it as root/);
    expect(m[1]).toBe('missing: docker.io, conntrack, busybox-static — install with: apt-get install docker.io conntrack busybox-static');
    expect(missingRequirements(() => true, true, true)).toEqual([]);
  });
});

describe.runIf(kernelTestsEnabled('lanfence demo (builds a sandbox of namespaces and a Docker engine)'))('lanfence demo', () => {
  it('shows the matrix without and with lanfence, audit logs, and leaves nothing behind', async () => {
    const r = spawnSync('node', ['bin/lanfence', 'demo'], { encoding: 'utf8', timeout: 300_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/before and after, side by side:/);
    expect(r.stdout).toMatch(/c-default +no rules +oooo/);
    expect(r.stdout).toMatch(/\n +lanfence +\.\.\.\. /);
    expect(r.stdout).toMatch(/(\d+) connections that were open are now blocked/);
    expect(r.stdout).toMatch(/every cell is what `lanfence explain` predicts/);
    expect(r.stdout).toMatch(/kernel log lines with the prefix "DOCKER_NET_DROP: ", attributed to containers/);
    expect(r.stdout).toMatch(/c-\w+ +→ 10\.57\.17\.5 .*private \(RFC 1918\)/);
    expect(r.stderr).toMatch(/tearing the sandbox down/);
    const id = /sandbox (\S+) ready/.exec(r.stdout)![1];
    expect(spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout).not.toContain(id);
    expect(await rootNamespaceTraces()).toEqual([]);
  }, 320_000);
});
